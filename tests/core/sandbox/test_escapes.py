"""The escape corpus: every attempt ends as a SandboxError with a message, leaking nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from nightpos_app.orm import Environment
from nightpos_app.sandbox import (
    Sandbox,
    SandboxError,
    access,
    helpers,
    safe_builtins,
    standard_helpers,
)
from tests.core.sandbox.conftest import webhook_names
from tests.core.sandbox.escape_corpus import ESCAPES, RUNAWAYS

#: Planted where only an escape could reach it: the app's config and this module.
CANARY = {"untouched": True}

PASSWD = Path("/etc/passwd")


def _snapshot() -> dict[str, Any]:
    """What every call shares and no call may change."""
    return {
        "builtins": dict(safe_builtins.SAFE_BUILTINS),
        "hooks": dict(safe_builtins.HOOKS),
        "rules": {
            t: (names, dict(wrapped)) for t, (names, wrapped) in access.ATTRIBUTE_RULES.items()
        },
        "proxies": {t: dict(vars(t)) for t in helpers.PROXY_TYPES},
        "datetime": dict(vars(dt.date)),
        "json": json.dumps,
    }


def test_corpus_is_large_and_well_formed() -> None:
    assert len(ESCAPES) >= 40
    for corpus in (ESCAPES, RUNAWAYS):
        names = [name for name, _mode, _source in corpus]
        assert len(names) == len(set(names)), "corpus names are unique"
        for name, mode, source in corpus:
            assert mode in ("eval", "exec"), name
            assert isinstance(source, str) and source, name


@pytest.mark.parametrize(("name", "mode", "source"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escape_attempt_fails_cleanly(
    app: Flask, env: Environment, name: str, mode: str, source: str
) -> None:
    app.config["SANDBOX_CANARY"] = CANARY
    before = _snapshot()
    orders = env["sale.order"].search([])
    payload = {"_model": "sale.order", "_id": str(orders[0].id), "canary": dict(CANARY)}
    names = {**webhook_names(env, "sale.order", payload), "records": orders, "record": orders[0]}
    sandbox = Sandbox(cpu_seconds=1.0)
    run = sandbox.evaluate if mode == "eval" else sandbox.execute

    with pytest.raises(SandboxError) as caught:
        run(source, names)

    error = caught.value
    assert error.kind in ("syntax", "forbidden", "error"), (name, error.kind, error.message)
    assert error.message and "Traceback" not in error.message
    assert app.config["SECRET_KEY"] not in error.message
    if PASSWD.exists():
        assert PASSWD.read_text().splitlines()[0] not in error.message
    assert CANARY == {"untouched": True}
    assert app.config["SANDBOX_CANARY"] is CANARY
    assert _snapshot() == before
    # The same call with harmless code still works afterwards.
    assert sandbox.evaluate("len(records)", names) == len(orders)


@pytest.mark.parametrize(("name", "mode", "source"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_escape_attempt_is_reported_by_check_or_at_run_time(
    name: str, mode: str, source: str
) -> None:
    """``check`` (form validation) never crashes and gives a message or None."""
    problem = Sandbox().check(source, mode)  # type: ignore[arg-type]
    assert problem is None or (isinstance(problem, str) and problem)


def test_forbidden_access_caught_by_bare_except_still_fails(env: Environment) -> None:
    code = "try:\n    x = json.codecs\nexcept:\n    x = None\nresult = 1\n"
    with pytest.raises(SandboxError) as caught:
        Sandbox().execute(code, webhook_names(env, "res.partner", {}))
    assert caught.value.kind == "forbidden"
    assert "codecs" in caught.value.message


def test_helpers_are_fresh_each_time_and_share_nothing_writable() -> None:
    first, second = standard_helpers(), standard_helpers()
    assert first["log"] is not second["log"]
    with pytest.raises(SandboxError, match="may not change"):
        Sandbox().execute("datetime.date = None", first)
    assert first["datetime"].date is dt.date
