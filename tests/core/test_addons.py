"""The addon loader: discovery, dependency order, phases, and how start-up fails.

Each situation is a small fixture addon under ``tests/fixtures/addons``; each
failure must stop start-up with a ``StartupError`` that names the addon at
fault. Start-up does not touch the database, so most apps here point at a
SQLite file that is never created.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask

from nightpos_app import create_app
from nightpos_app.addons import (
    Addon,
    Manifest,
    call_phase,
    discover,
    make_plugin_manager,
    resolve,
)
from nightpos_app.bootstrap import migrate_database, sync_permissions
from nightpos_app.exceptions import StartupError
from nightpos_app.extensions import db
from nightpos_app.hooks import hookimpl
from nightpos_app.state import get_state
from tests.fixtures import addons as fixture_addons
from tests.fixtures.addons import recorder

BUILTIN_MODELS = ["res.currency", "res.partner", "sale.order"]


def app_config(
    tmp_path: Path, enabled: list[str], modules: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A config for one app of one test; every fixture addon is installed, none enabled."""
    return {
        "TESTING": True,
        "SECRET_KEY": "loader-tests-secret-key-of-32-bytes-or-more",
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'loader.db'}",
        "NIGHTPOS_ADDONS": enabled,
        "NIGHTPOS_ADDON_MODULES": dict(fixture_addons.MODULES if modules is None else modules),
    }


def start(tmp_path: Path, *enabled: str) -> Flask:
    return create_app(app_config(tmp_path, list(enabled)))


def loaded(app: Flask) -> list[str]:
    return [addon.name for addon in get_state(app).addons]


@pytest.fixture
def calls() -> Iterator[list[tuple[str, str, Any]]]:
    """The phase hooks the ordering fixtures ran, in order, for this test only."""
    recorder.CALLS.clear()
    yield recorder.CALLS
    recorder.CALLS.clear()


# --- What loads, and in which order ------------------------------------------


def test_builtin_addons_load_dependencies_first(tmp_path: Path) -> None:
    # contacts is enabled only as a dependency of sales. Every broken fixture
    # addon is installed too: not enabled, so never imported.
    app = start(tmp_path, "sales")

    assert loaded(app) == ["contacts", "sales"]
    state = get_state(app)
    assert {entry.name: entry.addon for entry in state.registry} == {
        "res.partner": "contacts",
        "res.currency": "sales",
        "sale.order": "sales",
    }
    assert sorted(state.views.apis) == BUILTIN_MODELS


def test_phase_hooks_run_in_dependency_order(
    tmp_path: Path, calls: list[tuple[str, str, Any]]
) -> None:
    # fx_a_top -> fx_b_middle -> (fx_c_base, sales -> contacts): the reverse of
    # alphabetical order, so only a real dependency sort passes.
    app = start(tmp_path, "fx_a_top")

    assert loaded(app) == ["contacts", "fx_c_base", "sales", "fx_b_middle", "fx_a_top"]
    # Each phase completes for every addon before the next phase starts. In
    # the views phase each addon sees the screens of the addons before it:
    # fx_c_base runs before sales, fx_b_middle (which depends on sales) after.
    assert calls == [
        ("fx_c_base", "models", None),
        ("fx_b_middle", "models", None),
        ("fx_a_top", "models", None),
        ("fx_c_base", "views", ["res.partner"]),
        ("fx_b_middle", "views", BUILTIN_MODELS),
        ("fx_a_top", "views", BUILTIN_MODELS),
        ("fx_c_base", "ready", None),
        ("fx_b_middle", "ready", None),
        ("fx_a_top", "ready", None),
    ]


def test_enabled_addons_may_be_a_comma_separated_string() -> None:
    available = discover(fixture_addons.MODULES)

    addons = resolve(" fx_c_base, sales ,", available)

    assert [addon.name for addon in addons] == ["contacts", "fx_c_base", "sales"]


# --- Third-party addons ---------------------------------------------------------


def test_third_party_model_is_registered_with_generic_screens_and_api(tmp_path: Path) -> None:
    app = start(tmp_path, "fx_widgets")

    state = get_state(app)
    assert loaded(app) == ["contacts", "fx_widgets"]
    entry = state.registry["fx.widget"]
    assert (entry.addon, entry.table_name, entry.resource_name) == (
        "fx_widgets",
        "fx_widget",
        "fx_widget",
    )
    assert entry.field("owner_id").comodel == "res.partner"
    assert "fx.widget" in state.views.views
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/api/v1/fx_widget/" in rules
    assert "/api/v1/fx_widget/<pk:pk>" in rules


def test_third_party_rest_resource_serves_records(tmp_path: Path) -> None:
    """End to end over a real database: log in through the API, create, list."""
    from addons.contacts.models import Partner
    from tests.fixtures.addons.fx_widgets.models import FxWidget, widget_follower

    app = start(tmp_path, "fx_widgets")
    with app.app_context():
        migrate_database()
        # The shipped migrations know only the built-in addons' tables; a
        # third-party addon brings its own schema.
        db.metadata.create_all(db.engine, tables=[FxWidget.__table__, widget_follower])
        sync_permissions(app)
        sm = app.appbuilder.sm
        sm.add_user("api-admin", "API", "Admin", "api@test.local", sm.find_role("Admin"), "pw-1")
        owner = Partner(name="Ada Lovelace")
        db.session.add(owner)
        db.session.commit()
        owner_id = owner.id
    client = app.test_client()
    try:
        assert client.get("/api/v1/fx_widget/").status_code == 401

        login = client.post(
            "/api/v1/security/login",
            json={"username": "api-admin", "password": "pw-1", "provider": "db"},
        )
        assert login.status_code == 200, login.get_data(as_text=True)
        auth = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        created = client.post(
            "/api/v1/fx_widget/", json={"name": "Sprocket", "owner_id": owner_id}, headers=auth
        )
        assert created.status_code == 201, created.get_data(as_text=True)
        listing = client.get("/api/v1/fx_widget/", headers=auth)

        assert listing.status_code == 200
        assert [(row["name"], row["owner_id"]) for row in listing.get_json()["result"]] == [
            ("Sprocket", owner_id)
        ]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def install_distribution(path: Path, name: str, entry_points: Mapping[str, str]) -> None:
    """Write an installed distribution's metadata with ``nightpos.addons`` entry points."""
    dist_info = path / f"{name}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[nightpos.addons]\n{lines}")


def test_third_party_addon_is_found_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    install_distribution(
        site, "nightpos_fx_widgets", {"fx_widgets": fixture_addons.MODULES["fx_widgets"]}
    )
    monkeypatch.syspath_prepend(str(site))

    assert discover()["fx_widgets"] == "tests.fixtures.addons.fx_widgets"
    # No NIGHTPOS_ADDON_MODULES: the built-in addons and this one all come
    # from entry points.
    app = create_app(app_config(tmp_path, ["sales", "fx_widgets"], modules={}))

    assert loaded(app) == ["contacts", "fx_widgets", "sales"]
    assert get_state(app).registry["fx.widget"].addon == "fx_widgets"


def test_two_distributions_claiming_one_addon_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    install_distribution(
        site, "nightpos_fx_impostor", {"contacts": "tests.fixtures.addons.fx_widgets"}
    )
    monkeypatch.syspath_prepend(str(site))

    with pytest.raises(StartupError, match="addon 'contacts' is installed twice") as failure:
        create_app(app_config(tmp_path, ["contacts"], modules={}))
    assert "'addons.contacts'" in str(failure.value)
    assert "'tests.fixtures.addons.fx_widgets'" in str(failure.value)


# --- Start-up failures, each naming the addon ---------------------------------

FAILURES = [
    pytest.param(
        ["contacts", "fx_nowhere"],
        r"^addon 'fx_nowhere' is enabled but not installed$",
        id="enabled-not-installed",
    ),
    pytest.param(
        ["fx_needs_missing"],
        r"^addon 'fx_needs_missing' depends on 'fx_nowhere', which is not installed$",
        id="missing-dependency",
    ),
    pytest.param(
        ["fx_cycle_a"],
        r"^addon 'fx_cycle_a' is in a dependency cycle: fx_cycle_a -> fx_cycle_b -> fx_cycle_a$",
        id="dependency-cycle",
    ),
    pytest.param(
        ["fx_import_error"],
        r"^addon 'fx_import_error': cannot import 'tests\.fixtures\.addons\.fx_import_error': "
        r"ModuleNotFoundError: No module named 'nightpos_fixture_library_that_is_not_installed'$",
        id="import-error",
    ),
    pytest.param(
        ["fx_duplicate_model"],
        r"^addon 'fx_duplicate_model': model 'res\.partner' \(OtherPartner\) is already "
        r"registered by addon 'contacts' \(Partner\)$",
        id="duplicate-model-name",
    ),
    pytest.param(
        ["fx_misnamed"],
        r"^addon 'fx_misnamed': its manifest is named 'fx_other_name'; the names must match$",
        id="manifest-name-mismatch",
    ),
    pytest.param(
        ["fx_no_manifest"],
        r"^addon 'fx_no_manifest': tests\.fixtures\.addons\.fx_no_manifest defines no "
        r"`manifest = Manifest\(\.\.\.\)`$",
        id="no-manifest",
    ),
    pytest.param(
        ["fx_bad_signature"],
        r"^addon 'fx_bad_signature': invalid hook implementation: .*'nightpos_views'.*"
        r"Argument\(s\) \{'request'\} are declared in the hookimpl but can not be found "
        r"in the hookspec$",
        id="hook-wrong-signature",
    ),
    pytest.param(
        ["fx_unknown_hook"],
        r"^addon 'fx_unknown_hook': unknown hook 'nightpos_modles' in plugin ",
        id="unknown-hook",
    ),
    pytest.param(
        ["fx_failing_hook"],
        r"^addon 'fx_failing_hook' failed in nightpos_views: \w+: .*"
        r"unknown model 'fx\.not_registered'",
        id="exception-in-phase-hook",
    ),
    pytest.param(
        ["fx_wrapper_hook"],
        r"^addon 'fx_wrapper_hook': nightpos_models cannot be a hook wrapper$",
        id="phase-hook-wrapper",
    ),
]


@pytest.mark.parametrize(("enabled", "message"), FAILURES)
def test_startup_fails_naming_the_addon(tmp_path: Path, enabled: list[str], message: str) -> None:
    with pytest.raises(StartupError) as failure:
        start(tmp_path, *enabled)

    assert re.search(message, str(failure.value), re.DOTALL), str(failure.value)


def test_startup_error_keeps_the_original_exception(tmp_path: Path) -> None:
    # The traceback of what went wrong inside the addon is not lost.
    with pytest.raises(StartupError) as import_failure:
        start(tmp_path, "fx_import_error")
    with pytest.raises(StartupError) as hook_failure:
        start(tmp_path, "fx_failing_hook")

    assert isinstance(import_failure.value.__cause__, ModuleNotFoundError)
    assert isinstance(hook_failure.value.__cause__, KeyError)


def test_installed_but_disabled_broken_addons_do_not_matter(tmp_path: Path) -> None:
    # The same set of installed fixture addons as the failures above; only
    # the enabled list differs, and start-up succeeds.
    assert loaded(start(tmp_path, "contacts")) == ["contacts"]


# --- Manifests and the phase caller ---------------------------------------------


def test_manifest_depends_is_a_tuple_of_addon_names() -> None:
    manifest = Manifest(name="fx_x", version="1", summary="x", depends=["contacts", "sales"])

    assert manifest.depends == ("contacts", "sales")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Fx-Shop"}, r"addon name 'Fx-Shop' must be lowercase"),
        ({"depends": "sales"}, r"addon 'fx_x': depends must be a tuple of addon names"),
        ({"depends": ("Sales",)}, r"addon 'fx_x': dependency 'Sales' must be lowercase"),
    ],
)
def test_manifest_rejects_bad_names(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(StartupError, match=message):
        Manifest(**{"name": "fx_x", "version": "1", "summary": "x", **kwargs})


def test_call_phase_without_an_argument_the_hook_needs_is_a_host_bug() -> None:
    addons = resolve(["fx_c_base"], fixture_addons.MODULES)
    plugins = make_plugin_manager(addons)

    # The addon is not blamed (no StartupError): the caller forgot `views`.
    with pytest.raises(TypeError, match=r"missing the arguments \['views'\]"):
        call_phase(plugins, addons, "nightpos_views", appbuilder=None)


def test_startup_error_from_a_nested_phase_passes_through_unchanged() -> None:
    # A hook may run a phase of its own (webhooks collects the action types
    # of every addon): the inner error names the addon really at fault.
    inner = StartupError("addon 'fx_other': duplicate action type key 'x'")

    @hookimpl
    def nightpos_ready() -> None:
        raise inner

    module = ModuleType("fx_inline")
    module.nightpos_ready = nightpos_ready  # type: ignore[attr-defined]
    addon = Addon(Manifest(name="fx_inline", version="1", summary="inline"), module)

    with pytest.raises(StartupError) as failure:
        call_phase(make_plugin_manager([addon]), [addon], "nightpos_ready", app=None)
    assert failure.value is inner
