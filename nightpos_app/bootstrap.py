"""Bring a database to a working state: schema, permissions, demo data, admin.

Used by ``run.py`` (``make run``) and ``flask nightpos init``. Every step is
idempotent: running it again keeps all data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from nightpos_app.addons import call_phase
from nightpos_app.extensions import db
from nightpos_app.instance import ADMIN_PASSWORD_FILE, read_or_create_secret
from nightpos_app.models import InstalledAddon
from nightpos_app.schema import upgrade
from nightpos_app.state import get_env, get_state

#: The environment variable that sets the first admin password.
PASSWORD_ENV_VAR = "NIGHTPOS_ADMIN_PASSWORD"  # noqa: S105  (a variable name, not a password)


@dataclass(frozen=True)
class AdminLogin:
    """How to log in as the admin, for printing; the password only when just created."""

    username: str
    password: str | None
    password_source: str
    created: bool


def migrate_database() -> None:
    """Bring the schema to the latest migration: NightPOS's, then each enabled addon's own
    (dependency order, one transaction; a failure is a ``MigrationError`` naming the addon and
    the revision, and changes nothing). An addon enabled since the last run is migrated now;
    a disabled addon's tables and data stay as they are."""
    upgrade(current_app._get_current_object())


def sync_permissions(app: Flask) -> None:
    """Create the built-in roles and every view's permissions; the Admin role gets them all."""
    appbuilder = app.appbuilder
    # FAB's create_db() would also create tables (FAB_CREATE_DB is off: the
    # migrations own the schema), so only its role step is done here.
    appbuilder.sm.add_role(appbuilder.sm.auth_role_admin)
    appbuilder.sm.add_role(appbuilder.sm.auth_role_public)
    appbuilder.add_permissions(update_perms=True)
    sync_addon_roles(app)
    db.session.commit()


def sync_addon_roles(app: Flask) -> None:
    """Create the roles addons declare (``nightpos_roles``) and grant their permissions.

    Only grants: what an admin added to such a role by hand stays. Runs after FAB's
    ``add_permissions``, so every view's permissions exist and an unknown one is a mistake.
    """
    state = get_state(app)
    sm = app.appbuilder.sm
    for addon, roles in call_phase(
        state.plugins, state.addons, "nightpos_roles", appbuilder=app.appbuilder
    ):
        for role_name, pairs in (roles or {}).items():
            role = sm.add_role(role_name)  # the existing role, if there is one
            if role is None:  # pragma: no cover - FAB logged why
                raise RuntimeError(f"addon {addon.name!r}: could not create role {role_name!r}")
            for permission, view_menu in pairs:
                pv = sm.find_permission_view_menu(permission, view_menu)
                if pv is None:
                    raise RuntimeError(
                        f"addon {addon.name!r}: role {role_name!r} asks for "
                        f"{permission} on {view_menu}, which does not exist"
                    )
                if pv not in role.permissions:
                    sm.add_permission_role(role, pv)


def load_demo_data() -> list[str]:
    """Load each addon's demo data once per database; return the addons loaded now."""
    state = get_state()
    env = get_env(trusted=True)  # addons' own code, not automation code
    loaded = []
    for addon in state.addons:
        row = db.session.get(InstalledAddon, addon.name)
        if row is None:
            row = InstalledAddon(name=addon.name, version=addon.manifest.version)
            db.session.add(row)
        row.version = addon.manifest.version
        if row.demo_loaded:
            continue
        call_phase(state.plugins, [addon], "nightpos_demo_data", env=env)
        row.demo_loaded = True
        loaded.append(addon.name)
    db.session.commit()
    return loaded


def ensure_admin(app: Flask) -> AdminLogin:
    """Create the admin user once; its password never has a fixed default."""
    sm = app.appbuilder.sm
    username = app.config["NIGHTPOS_ADMIN_USERNAME"]
    password_file = Path(app.instance_path) / ADMIN_PASSWORD_FILE
    from_env = os.environ.get(PASSWORD_ENV_VAR)
    source = PASSWORD_ENV_VAR if from_env else str(password_file)
    if sm.find_user(username=username) is not None:
        return AdminLogin(username, None, source, created=False)
    password = from_env or read_or_create_secret(password_file, nbytes=18)[0]
    user = sm.add_user(
        username=username,
        first_name="NightPOS",
        last_name="Admin",
        email=app.config["NIGHTPOS_ADMIN_EMAIL"],
        role=sm.find_role(sm.auth_role_admin),
        password=password,
    )
    if not user:
        raise RuntimeError(f"could not create the admin user {username!r}")
    return AdminLogin(username, password, source, created=True)


def initialise(app: Flask, *, demo: bool) -> AdminLogin:
    """All set-up steps, in order, for ``app``'s database."""
    with app.app_context():
        migrate_database()
        sync_permissions(app)
        if demo:
            load_demo_data()
        return ensure_admin(app)


def describe_login(login: AdminLogin) -> str:
    """One line telling how to log in; a password is printed only when it was generated now."""
    if login.password_source == PASSWORD_ENV_VAR:
        return f"Admin login: {login.username}, password as set in {PASSWORD_ENV_VAR}"
    if login.created:
        return (
            f"Admin login: {login.username} / {login.password}  (kept in {login.password_source})"
        )
    return f"Admin login: {login.username}, password in {login.password_source}"
