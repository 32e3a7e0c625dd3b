"""NightPOS host: the application factory.

``create_app()`` builds one Flask-AppBuilder application: it loads the config,
binds the extensions, then loads the enabled addons in phases (models, views,
ready). ``gunicorn 'nightpos_app:create_app()'`` serves it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_appbuilder import AppBuilder

from nightpos_app import addons as addon_loader
from nightpos_app.crud import ModelViews
from nightpos_app.devmode import init_developer_mode
from nightpos_app.exceptions import StartupError
from nightpos_app.extensions import csrf, db, migrate
from nightpos_app.health import install as install_health
from nightpos_app.i18n import TRANSLATIONS_DIR, init_i18n
from nightpos_app.instance import (
    SECRET_KEY_FILE,
    read_or_create_secret,
    secure_instance_folder,
    secure_sqlite_database,
)
from nightpos_app.jsonlog import install as install_json_logs
from nightpos_app.metrics import install as install_metrics
from nightpos_app.models import InstalledAddon  # noqa: F401  (the host's table, for migrations)
from nightpos_app.orm import ModelRegistry
from nightpos_app.redaction import install as install_log_redaction
from nightpos_app.rest import install_api, install_routing
from nightpos_app.sandbox.native import warn_if_not_built as warn_if_sandbox_guards_not_built
from nightpos_app.sqlite import configure as configure_sqlite
from nightpos_app.state import EXTENSION_KEY, NightPOS
from nightpos_app.views import LoginRequiredIndexView

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "config.py"
MIGRATIONS_DIR = PROJECT_DIR / "migrations"


def _load_config(app: Flask, config: Mapping[str, Any] | object | None) -> None:
    app.config.from_pyfile(os.environ.get("NIGHTPOS_CONFIG", str(DEFAULT_CONFIG)))
    if isinstance(config, Mapping):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        # A database file cannot drop a connection: a ping before every checkout (one more
        # statement per request) would find nothing to replace.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["pool_pre_ping"] = False
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    app.instance_path = str(app.config.get("INSTANCE_DIR", app.instance_path))
    # Owner-only (0700), its secrets 0600; an existing install's looser modes are tightened.
    secure_instance_folder(Path(app.instance_path))
    if not app.config.get("SECRET_KEY"):
        secret, _created = read_or_create_secret(Path(app.instance_path) / SECRET_KEY_FILE)
        app.config["SECRET_KEY"] = secret
    _add_translation_directory(app)


def _add_translation_directory(app: Flask) -> None:
    """Read NightPOS's catalogs too, after any folders the configuration names.

    FAB's ``BabelManager`` then puts its own folder first (Flask-Babel merges the catalogs of
    every folder, the later ones winning), so FAB keeps its translations and NightPOS's
    catalog adds to them, and may fill in FAB's texts for languages FAB does not ship.
    """
    ours = str(TRANSLATIONS_DIR)
    configured = str(app.config.get("BABEL_TRANSLATION_DIRECTORIES") or "")
    folders = [folder for folder in configured.split(";") if folder]
    if ours not in folders:
        folders.append(ours)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(folders)


def _add_addon_translations(app: Flask, addons: list[addon_loader.Addon]) -> None:
    """Read each enabled addon's own catalogs (a ``translations/`` folder in its package).

    A third-party addon cannot add to NightPOS's catalog. Flask-Babel merges the folders' catalogs,
    the later ones winning, so the addons' folders go before NightPOS's: an addon translates its
    own texts and cannot change NightPOS's. Done before FAB's ``BabelManager`` reads the setting
    (views phase), which puts FAB's folder first.
    """
    folders = [f for f in str(app.config["BABEL_TRANSLATION_DIRECTORIES"]).split(";") if f]
    ours = folders.index(str(TRANSLATIONS_DIR))
    for addon in addons:
        module_file = getattr(addon.module, "__file__", None)
        folder = Path(module_file).resolve().parent / "translations" if module_file else None
        if folder is not None and folder.is_dir() and str(folder) not in folders:
            folders.insert(ours, str(folder))
            ours += 1
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(folders)


def create_app(config: Mapping[str, Any] | object | None = None) -> Flask:
    """Build a NightPOS application.

    ``config`` (a mapping or an object with upper-case attributes) overrides
    ``config.py`` for this app only. Start-up fails with
    :class:`~nightpos_app.exceptions.StartupError` naming the addon at fault.
    """
    app = Flask(__name__, instance_path=str(PROJECT_DIR / "instance"))
    _load_config(app, config)
    # Query strings are masked in every access log, whatever the addons register.
    install_log_redaction()
    # NIGHTPOS_LOG_FORMAT=json: every log line of the process as a JSON object.
    install_json_logs(app.config)
    warn_if_sandbox_guards_not_built(logging.getLogger("nightpos_app"))

    db.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    # /healthz and /readyz (load balancers), /metrics (Prometheus; off without a token).
    install_health(app)
    install_metrics(app)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # Before anything connects: SQLite would create the file readable by everyone.
            database = db.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                secure_sqlite_database(Path(database))
            busy_timeout_ms = int(app.config.get("NIGHTPOS_SQLITE_BUSY_TIMEOUT_MS", 30_000))
            configure_sqlite(db.engine, busy_timeout_ms)
        _load_addons(app)

    from nightpos_app.cli import nightpos_cli

    app.cli.add_command(nightpos_cli)
    return app


def _load_addons(app: Flask) -> None:
    available = addon_loader.discover(app.config.get("NIGHTPOS_ADDON_MODULES"))
    addons = addon_loader.resolve(app.config["NIGHTPOS_ADDONS"], available)
    _add_addon_translations(app, addons)
    plugins = addon_loader.make_plugin_manager(addons)
    registry = ModelRegistry()
    state = NightPOS(addons=addons, registry=registry, plugins=plugins)
    app.extensions[EXTENSION_KEY] = state

    # Phase 1: models.
    for addon, model_classes in addon_loader.call_phase(plugins, addons, "nightpos_models"):
        if model_classes is not None and not isinstance(model_classes, (list, tuple)):
            raise StartupError(
                f"addon {addon.name!r}: nightpos_models must return a list of model classes"
            )
        for model_class in model_classes or ():
            registry.register(model_class, addon.name)
    registry.finalize()

    # Phase 2: views, menus, APIs, blueprints.
    appbuilder = AppBuilder(indexview=LoginRequiredIndexView, update_perms=False)
    # The REST API's contract (nightpos_app/rest.py): JSON errors, 401s, the spec.
    install_routing(app)
    appbuilder.init_app(app, db.session)
    install_api(app, appbuilder)
    init_i18n(app)
    init_developer_mode(app, appbuilder)
    state.views = ModelViews(appbuilder, registry)
    addon_loader.call_phase(
        plugins, addons, "nightpos_views", appbuilder=appbuilder, views=state.views
    )
    state.views.add_missing()

    # Phase 3: ready.
    addon_loader.call_phase(plugins, addons, "nightpos_ready", app=app)
