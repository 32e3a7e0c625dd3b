"""Target Records that need no runner: the default expression and ``model.browse(<ids>)``.

Every webhook call evaluates its Target Record, and most rules keep one of two shapes: the
default, ``model.env[payload.get('_model')].browse(int(payload.get('_id')))``, or fixed ids,
``model.browse([2])`` (the specification's second use case). Both are recognised here by their
syntax tree — exactly these shapes, the constants literal — and evaluated with the record API
directly, which is safe because no admin code runs: the expression's only inputs are the
payload's ``_model`` (looked up among the registered models) and ``_id`` (a JSON integer, or a
string of at most 18 ASCII digits, turned into an int here). Any other payload — a list, a
missing key, an id the sandbox's ``int()`` would read differently or refuse — goes to a runner
like any expression, so its answer and message are the sandbox's own.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from addons.webhooks.models import DEFAULT_TARGET_RECORD
from nightpos_app.orm import RecordSet
from nightpos_app.sandbox.compiler import compile_source

#: A shortcut's answer: the records, or None when the expression must go to a runner.
Shortcut = Callable[[RecordSet, Any], RecordSet | None]

_DIGITS = re.compile(r"[0-9]{1,18}")
_MAX_FIXED_IDS = 100
#: The default expression with room for spaces, or a hundred fixed ids.
_MAX_SHAPE_CHARS = 1500


def _shape(source: str) -> str:
    return ast.dump(ast.parse(source.strip(), mode="eval"))


_DEFAULT_SHAPE = _shape(DEFAULT_TARGET_RECORD)


def _default(model: RecordSet, payload: Any) -> RecordSet | None:
    if type(payload) is not dict:
        return None
    model_name, raw_id = payload.get("_model"), payload.get("_id")
    if type(model_name) is not str or model_name not in model.env:
        return None
    if type(raw_id) is int:
        record_id = raw_id
    elif type(raw_id) is str and _DIGITS.fullmatch(raw_id):
        record_id = int(raw_id)
    else:
        return None
    return model.env[model_name].browse(record_id)


def _fixed_ids(tree: ast.expr) -> tuple[int, ...] | None:
    """The ids of ``model.browse(<int>)`` or ``model.browse([<int>, ...])``, else None."""
    if not (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Attribute)
        and tree.func.attr == "browse"
        and isinstance(tree.func.value, ast.Name)
        and tree.func.value.id == "model"
        and len(tree.args) == 1
        and not tree.keywords
    ):
        return None
    arg = tree.args[0]
    items = arg.elts if isinstance(arg, ast.List) else [arg]
    if len(items) > _MAX_FIXED_IDS:
        return None
    ids = []
    for item in items:
        if not (isinstance(item, ast.Constant) and type(item.value) is int):
            return None
        ids.append(item.value)
    return tuple(ids)


def shortcut(source: str) -> Shortcut | None:
    """How to evaluate ``source`` without a runner, or None when it needs one."""
    if len(source) > _MAX_SHAPE_CHARS:
        return None  # longer than any shape recognised: neither parsed here nor kept
    return _shortcut(source)


@lru_cache(maxsize=1024)
def _shortcut(source: str) -> Shortcut | None:
    if compile_source("eval", source, "<target record>").code is None:
        return None  # the runner gives the compiler's message
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if ast.dump(tree) == _DEFAULT_SHAPE:
        return _default
    ids = _fixed_ids(tree.body)
    if ids is None:
        return None
    return lambda model, _payload: model.browse(list(ids))
