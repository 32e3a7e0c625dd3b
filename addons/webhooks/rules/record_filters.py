"""A record rule's filters as admins write them: the Apply On and Before Update domains and
the Trigger Fields, parsed (literals only, nothing evaluated) and checked before a rule is saved.
"""

from __future__ import annotations

import ast
from typing import Any

from nightpos_app.exceptions import UserError
from nightpos_app.orm import Environment
from nightpos_app.orm.registry import ModelEntry


def parse_domain(text: str | None) -> list[Any]:
    """A domain as admins write it (``[('state', '=', 'sale')]``); empty text is ``[]``.

    Read with :func:`ast.literal_eval`: literals only, nothing is evaluated.
    """
    if not text or not text.strip():
        return []
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(
            "A domain is a list of conditions, e.g. [('state', '=', 'sale')]."
        ) from None
    if not isinstance(value, (list, tuple)):
        raise ValueError("A domain is a list of conditions, e.g. [('state', '=', 'sale')].")
    return list(value)


def parse_fields(text: str | None) -> frozenset[str]:
    """Trigger Fields as saved: names separated by commas or spaces; empty means any field."""
    if not text:
        return frozenset()
    return frozenset(name for name in text.replace(",", " ").split() if name)


def filter_problems(
    entry: ModelEntry,
    env: Environment,
    trigger: str,
    filter_domain: str | None,
    filter_pre_domain: str | None,
    trigger_fields: str | None,
) -> dict[str, str]:
    """Why a rule's record filters cannot be saved, by column name; empty when they can."""
    problems: dict[str, str] = {}
    for column, text in (
        ("filter_domain", filter_domain),
        ("filter_pre_domain", filter_pre_domain),
    ):
        try:
            env[entry.name].search_count(parse_domain(text) + [("id", "=", 0)])
        except (ValueError, TypeError, UserError) as exc:
            problems[column] = str(exc)
    unknown = sorted(
        name for name in parse_fields(trigger_fields) if name not in entry.fields or name == "id"
    )
    if unknown:
        problems["trigger_fields"] = f"{entry.name} has no field {', '.join(unknown)}."
    if trigger not in ("on_write", "on_create_or_write"):
        for column in ("filter_pre_domain", "trigger_fields"):
            if (filter_pre_domain if column == "filter_pre_domain" else trigger_fields) and (
                column not in problems
            ):
                problems[column] = "Only rules triggered on update use this."
    return problems
