"""Domains — Odoo-style search filters — compiled to SQLAlchemy expressions.

A domain is a list of terms ``(field, operator, value)`` and the prefix
operators ``'&'``, ``'|'`` (binary) and ``'!'`` (unary); terms side by side
are joined with AND. A field may be a dotted path through many-to-one fields
(``'partner_id.email'``), compiled to an ``EXISTS`` subquery so the outer
query keeps one row per record.

The semantics are Odoo's and the same on SQLite and PostgreSQL:

* ``False``/``None`` means "no value": ``('email', '=', False)`` is IS NULL;
* negative operators (``!=``, ``not in``, ``not like``, ``not ilike``) also
  match records where the field is empty, as "is not X" reads;
* ``like`` is case-sensitive and ``ilike`` is not, on both databases;
* values are checked against the field's type first (so PostgreSQL never
  aborts the transaction over ``customer_rank = 'abc'``).

For automation code (``for_code``), a secret field cannot be searched or sorted by, at any
depth of a dotted path, and a path cannot lead into a model closed to code: whether a record
matches ``('webhook_secret', 'like', 'a%')``, or where it sorts, would tell the secret a
character at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from nightpos_app.exceptions import DomainError
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.values import BadValue, coerce_value, means_empty

if TYPE_CHECKING:
    from nightpos_app.orm.registry import ModelEntry, ModelRegistry

__all__ = ["OPERATORS", "DomainError", "compile_domain", "compile_order"]

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
PATTERNS = ("like", "ilike", "not like", "not ilike", "=like", "=ilike")
#: The longest pattern a ``like`` term may have.
MAX_PATTERN_CHARS = 1000
OPERATORS = (*COMPARISONS, "in", "not in", *PATTERNS)
_LOGICAL = ("&", "|", "!")
_TEXT_TYPES = ("char", "text", "selection")
_COLLECTIONS = (list, tuple, set, frozenset)
#: What a pattern must be: text the databases can take.
_PATTERN = FieldInfo(name="pattern", label="Pattern", type="text")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_to_glob(pattern: str) -> str:
    r"""Translate a LIKE pattern (escape ``\``) to SQLite's case-sensitive GLOB."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "\\")
        elif ch in "%_":
            out.append("*" if ch == "%" else "?")
            continue
        out.append(f"[{ch}]" if ch in "*?[" else ch)
    return "".join(out)


class _Compiler:
    """Compiles the terms of one domain; knows the registry and the SQL dialect."""

    def __init__(self, registry: ModelRegistry, dialect: str, for_code: bool = False) -> None:
        self.registry = registry
        self.dialect = dialect
        self.for_code = for_code

    def leaf(self, entry: ModelEntry, path: str, op: str, value: Any) -> ColumnElement[bool]:
        head, _, rest = path.partition(".")
        fld = entry.fields.get(head)
        if fld is None:
            problem = "is computed and cannot be searched" if head in entry.computed else ""
            raise DomainError(f"domain on {entry.name}: unknown field {head!r} {problem}".strip())
        if self.for_code and fld.secret:
            raise DomainError(f"{entry.name}.{head} cannot be searched by automation code")
        if fld.type == "many2one" and (rest or op in PATTERNS):
            assert fld.comodel is not None and fld.relationship is not None
            comodel = self.registry[fld.comodel]
            if self.for_code and not comodel.code_may_read:
                raise DomainError(
                    f"domain on {entry.name}: {comodel.name} records are not available to "
                    "automation code"
                )
            if not rest:
                # ('partner_id', 'ilike', 'siam') matches the related record's name, as in Odoo.
                if "name" not in comodel.fields:
                    raise DomainError(f"domain on {entry.name}: {head!r} cannot be matched as text")
                rest = "name"
            related = getattr(entry.model_class, fld.relationship)
            return related.has(self.leaf(comodel, rest, op, value))
        if rest:
            raise DomainError(
                f"domain on {entry.name}: {head!r} is not a many-to-one field, "
                f"cannot follow {path!r}"
            )
        column = getattr(entry.model_class, head)
        if fld.type == "json" and not (op in ("=", "!=") and means_empty(fld, value)):
            raise DomainError(f"domain on {entry.name}: {head!r} can only be compared to False")
        if op in ("in", "not in"):
            return self.membership(entry, fld, column, op, value)
        if op in PATTERNS:
            return self.pattern(entry, fld, column, op, value)
        return self.comparison(entry, fld, column, op, value)

    def comparison(
        self, entry: ModelEntry, fld: FieldInfo, column: Any, op: str, value: Any
    ) -> ColumnElement[bool]:
        if means_empty(fld, value):
            if op in ("=", "!="):
                return column.is_(None) if op == "=" else column.is_not(None)
            raise DomainError(f"domain on {entry.name}: cannot compare {fld.name!r} {op} empty")
        value = _coerce(entry, fld, value)
        if op == "=":
            clause = column == value
            # A nullable boolean left empty reads as False.
            if value is False and _nullable(fld):
                return sa.or_(clause, column.is_(None))
            return clause
        if op == "!=":
            return sa.or_(column != value, column.is_(None)) if _nullable(fld) else column != value
        return {"<": column.__lt__, "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__}[
            op
        ](value)

    def membership(
        self, entry: ModelEntry, fld: FieldInfo, column: Any, op: str, value: Any
    ) -> ColumnElement[bool]:
        from nightpos_app.orm.recordset import RecordSet

        if not isinstance(value, (*_COLLECTIONS, RecordSet)):
            raise DomainError(f"domain on {entry.name}: {op!r} needs a list, got {value!r}")
        items = list(value)  # a recordset gives its records one by one
        with_empty = any(means_empty(fld, v) for v in items)
        values = [_coerce(entry, fld, v) for v in items if not means_empty(fld, v)]
        if op == "in":
            clause = column.in_(values)  # an empty list matches nothing
            return sa.or_(clause, column.is_(None)) if with_empty else clause
        clause = column.not_in(values)  # an empty list matches everything
        if with_empty:
            return sa.and_(clause, column.is_not(None))
        return sa.or_(clause, column.is_(None)) if _nullable(fld) else clause

    def pattern(
        self, entry: ModelEntry, fld: FieldInfo, column: Any, op: str, value: Any
    ) -> ColumnElement[bool]:
        if fld.type not in _TEXT_TYPES:
            raise DomainError(
                f"domain on {entry.name}: {op!r} needs a text field, not {fld.name!r}"
            )
        try:
            text = coerce_value(_PATTERN, value)
        except BadValue as exc:
            raise DomainError(
                f"domain on {entry.name}: {fld.name}: {op!r} needs text: {exc}"
            ) from None
        if len(text) > MAX_PATTERN_CHARS:
            # SQLite refuses long patterns ("LIKE or GLOB pattern too complex", at 50,000),
            # and one long pattern scanned over many rows is the costliest search there is.
            raise DomainError(
                f"domain on {entry.name}: {fld.name}: a {op!r} pattern has at most "
                f"{MAX_PATTERN_CHARS:,} characters"
            )
        if op.startswith("="):
            # PostgreSQL refuses a pattern that ends with a lone escape character.
            if (len(text) - len(text.rstrip("\\"))) % 2:
                raise DomainError(f"domain on {entry.name}: pattern {text!r} ends with '\\'")
            pattern = text
        else:
            pattern = f"%{_escape_like(text)}%"
        if "ilike" in op:
            clause = column.ilike(pattern, escape="\\")
        elif self.dialect == "sqlite":  # SQLite's LIKE ignores case; GLOB does not
            clause = column.op("GLOB", is_comparison=True)(_like_to_glob(pattern))
        else:
            clause = column.like(pattern, escape="\\")
        if not op.startswith("not "):
            return clause
        return sa.or_(sa.not_(clause), column.is_(None)) if _nullable(fld) else sa.not_(clause)


def _nullable(fld: FieldInfo) -> bool:
    return not fld.required and fld.name != "id"


def _coerce(entry: ModelEntry, fld: FieldInfo, value: Any) -> Any:
    from nightpos_app.orm.recordset import RecordSet

    # ('id', 'in', records): records of the model itself stand for their ids.
    if isinstance(value, RecordSet) and fld.name == "id" and value.model_name == entry.name:
        value = value.id if len(value) == 1 else value
    try:
        return coerce_value(fld, value, storing=False)
    except BadValue as exc:
        raise DomainError(f"domain on {entry.name}: {fld.name}: {exc}") from None


def compile_domain(
    registry: ModelRegistry,
    entry: ModelEntry,
    domain: Sequence[Any],
    dialect: str = "",
    *,
    for_code: bool = False,
) -> ColumnElement[bool]:
    """Compile ``domain`` on ``entry`` to a boolean SQL expression for ``dialect``;
    ``for_code``: refuse what automation code may not search (secret fields)."""
    if isinstance(domain, (str, bytes)) or not isinstance(domain, (list, tuple)):
        raise DomainError(f"a domain is a list of terms, got {type(domain).__name__}")
    compiler = _Compiler(registry, dialect, for_code)
    stack: list[ColumnElement[bool]] = []
    # Prefix notation evaluated right to left: operands are pushed, operators pop.
    for item in reversed(domain):
        if isinstance(item, str) and item in _LOGICAL:
            arity = 1 if item == "!" else 2
            if len(stack) < arity:
                raise DomainError(f"domain operator {item!r} is missing an operand")
            if item == "!":
                # NOT of an unknown (a comparison with an empty field) is still
                # unknown in SQL; "not X" must match it, as Odoo's '!' does.
                stack.append(sa.not_(sa.func.coalesce(stack.pop(), sa.false(), type_=sa.Boolean)))
            else:
                left, right = stack.pop(), stack.pop()
                stack.append(sa.and_(left, right) if item == "&" else sa.or_(left, right))
            continue
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise DomainError(f"domain term must be (field, operator, value), got {item!r}")
        path, op, value = item
        if not isinstance(path, str) or not path:
            raise DomainError(f"domain term field must be a name, got {path!r}")
        normalized = op.lower() if isinstance(op, str) else op
        if normalized not in OPERATORS:
            raise DomainError(f"domain on {entry.name}: unknown operator {op!r}")
        stack.append(compiler.leaf(entry, path, normalized, value))
    if not stack:
        return sa.true()
    # Whatever remains is joined with an implicit AND.
    return sa.and_(*reversed(stack)) if len(stack) > 1 else stack[0]


def compile_order(entry: ModelEntry, order: str | None, *, for_code: bool = False) -> list[Any]:
    """Compile ``"name desc, id"`` to ORDER BY clauses; unknown fields are refused, and so
    are secret fields when ``for_code`` (automation code's searches).

    Empty values sort last ascending and first descending on both databases
    (PostgreSQL's rule; SQLite's is the opposite), and ``id`` ends every order
    so pages read with ``limit``/``offset`` never overlap or skip records.
    """
    spec = order if order is not None else entry.order
    if not isinstance(spec, str):
        raise DomainError(f"order must be text like 'name desc, id', got {spec!r}")
    clauses: list[Any] = []
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise DomainError(f"order on {entry.name}: cannot read {part!r}")
        name = words[0]
        if name not in entry.fields:
            problem = "is computed and cannot be sorted" if name in entry.computed else ""
            raise DomainError(f"order on {entry.name}: unknown field {name!r} {problem}".strip())
        if for_code and entry.fields[name].secret:
            raise DomainError(f"{entry.name}.{name} cannot be sorted by automation code")
        if name in seen:
            continue
        seen.add(name)
        column = getattr(entry.model_class, name)
        clauses.append(
            column.desc().nulls_first() if direction == "desc" else column.asc().nulls_last()
        )
    if "id" not in seen:
        clauses.append(entry.model_class.id.asc())
    return clauses
