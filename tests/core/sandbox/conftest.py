"""Fixtures of the sandbox tests: the names a webhook gives admin code."""

from __future__ import annotations

from typing import Any

import pytest

from nightpos_app.orm import Environment
from nightpos_app.sandbox import Sandbox, standard_helpers


def webhook_names(
    env: Environment, model_name: str, payload: Any, logs: list[str] | None = None
) -> dict[str, Any]:
    """What the webhooks addon hands admin code: records, payload and helpers."""
    model = env[model_name]
    helpers = standard_helpers(log=logs.append if logs is not None else None)
    return {
        **helpers,
        "env": env,
        "model": model,
        "record": model,
        "records": model,
        "payload": payload,
    }


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def logs() -> list[str]:
    return []
