"""Domains — Odoo-style search filters — compiled to SQLAlchemy expressions.

A domain is a list of terms ``(field, operator, value)`` and the prefix
operators ``'&'``, ``'|'`` (binary) and ``'!'`` (unary); terms side by side
are joined with AND. A field may be a dotted path through many-to-one fields
(``'partner_id.email'``), compiled to an ``EXISTS`` subquery so the outer
query keeps one row per record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from nightpos_app.exceptions import UserError

if TYPE_CHECKING:
    from nightpos_app.orm.registry import ModelEntry, ModelRegistry

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
PATTERNS = ("like", "ilike", "not like", "not ilike", "=like", "=ilike")
OPERATORS = (*COMPARISONS, "in", "not in", *PATTERNS)
_LOGICAL = ("&", "|", "!")


class DomainError(UserError, ValueError):
    """A domain is malformed, or names an unknown field or operator."""


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _plain_value(value: Any) -> Any:
    """Records in a domain stand for their ids."""
    from nightpos_app.orm.recordset import RecordSet

    if isinstance(value, RecordSet):
        return value.ids if len(value) != 1 else value.id
    return value


def _leaf(
    registry: ModelRegistry, entry: ModelEntry, path: str, op: str, value: Any
) -> ColumnElement[bool]:
    head, _, rest = path.partition(".")
    if head not in entry.fields:
        raise DomainError(f"domain on {entry.name}: unknown field {head!r}")
    fld = entry.fields[head]
    if rest:
        if fld.type != "many2one":
            raise DomainError(
                f"domain on {entry.name}: {head!r} is not a many-to-one field, "
                f"cannot follow {path!r}"
            )
        relationship = getattr(entry.model_class, fld.relationship)
        return relationship.has(_leaf(registry, registry[fld.comodel], rest, op, value))

    column = getattr(entry.model_class, head)
    value = _plain_value(value)
    if op in ("in", "not in"):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
            raise DomainError(f"domain on {entry.name}: {op!r} needs a list, got {value!r}")
        values = [_plain_value(v) for v in value]
        clause = column.in_(values)
        return sa.not_(clause) if op == "not in" else clause
    if op in PATTERNS:
        if not isinstance(value, str):
            raise DomainError(f"domain on {entry.name}: {op!r} needs text, got {value!r}")
        insensitive = "ilike" in op
        negated = op.startswith("not ")
        pattern = value if op.startswith("=") else f"%{_escape_like(value)}%"
        method = column.ilike if insensitive else column.like
        clause = method(pattern, escape="\\") if not op.startswith("=") else method(pattern)
        return sa.not_(clause) if negated else clause
    if value is None or value is False and fld.type != "boolean":
        if op == "=":
            return column.is_(None)
        if op == "!=":
            return column.is_not(None)
        raise DomainError(f"domain on {entry.name}: cannot compare {head!r} {op} empty")
    return {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[op](value)


def compile_domain(
    registry: ModelRegistry, entry: ModelEntry, domain: Sequence[Any]
) -> ColumnElement[bool]:
    """Compile ``domain`` on ``entry`` to a boolean SQL expression."""
    if isinstance(domain, (str, bytes)) or not isinstance(domain, (list, tuple)):
        raise DomainError(f"a domain is a list of terms, got {type(domain).__name__}")
    items = list(domain)
    if not items:
        return sa.true()
    stack: list[ColumnElement[bool]] = []
    # Prefix notation evaluated right to left: operands are pushed, operators pop.
    for item in reversed(items):
        if isinstance(item, str) and item in _LOGICAL:
            arity = 1 if item == "!" else 2
            if len(stack) < arity:
                raise DomainError(f"domain operator {item!r} is missing an operand")
            if item == "!":
                stack.append(sa.not_(stack.pop()))
            else:
                left, right = stack.pop(), stack.pop()
                stack.append(sa.and_(left, right) if item == "&" else sa.or_(left, right))
            continue
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise DomainError(f"domain term must be (field, operator, value), got {item!r}")
        path, op, value = item
        if not isinstance(path, str) or not path:
            raise DomainError(f"domain term field must be a name, got {path!r}")
        if op not in OPERATORS:
            raise DomainError(f"domain on {entry.name}: unknown operator {op!r}")
        stack.append(_leaf(registry, entry, path, op, value))
    # Whatever remains is joined with an implicit AND.
    return sa.and_(*reversed(stack)) if len(stack) > 1 else stack[0]


def compile_order(entry: ModelEntry, order: str | None) -> list[Any]:
    """Compile ``"name desc, id"`` to ORDER BY clauses; unknown fields are refused."""
    spec = order if order is not None else entry.order
    if not isinstance(spec, str):
        raise DomainError(f"order must be text like 'name desc, id', got {spec!r}")
    clauses: list[Any] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise DomainError(f"order on {entry.name}: cannot read {part!r}")
        if words[0] not in entry.fields:
            raise DomainError(f"order on {entry.name}: unknown field {words[0]!r}")
        column = getattr(entry.model_class, words[0])
        clauses.append(column.desc() if direction == "desc" else column.asc())
    return clauses
