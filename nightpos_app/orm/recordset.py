"""Recordsets: the Odoo-style record API over SQLAlchemy.

A :class:`RecordSet` is an ordered set of record ids of one model, bound to an
:class:`~nightpos_app.orm.environment.Environment`. ``browse`` makes one
without a query; reading a field loads the records in one batch. Writes are
validated first (:mod:`nightpos_app.orm.values`) and flushed inside a
savepoint, so a database error leaves the surrounding transaction usable and
nothing of the failed write behind.

Everything public on this class is the record API that admin-written code
may use; the environment's session and the mapped objects stay private.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from nightpos_app.exceptions import MissingError, UserError, ValidationError
from nightpos_app.orm.domain import compile_domain, compile_order
from nightpos_app.orm.values import convert_values

if TYPE_CHECKING:
    from nightpos_app.orm.environment import Environment
    from nightpos_app.orm.registry import ModelEntry


def _as_ids(ids: Any) -> tuple[int, ...]:
    if ids is None or ids is False:
        return ()
    if isinstance(ids, RecordSet):
        return tuple(ids.ids)
    if isinstance(ids, (bool, str, bytes, float)):
        raise ValidationError(f"record ids must be integers, got {ids!r}")
    if isinstance(ids, int):
        return (ids,)
    if isinstance(ids, Iterable):
        result = []
        for value in ids:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"record ids must be integers, got {value!r}")
            result.append(value)
        return tuple(result)
    raise ValidationError(f"record ids must be integers, got {ids!r}")


class RecordSet:
    """An ordered set of records of one model (possibly empty)."""

    __slots__ = ("_env", "_entry", "_ids", "_prefetch")

    def __init__(
        self,
        env: Environment,
        entry: ModelEntry,
        ids: tuple[int, ...] = (),
        prefetch: tuple[int, ...] | None = None,
    ) -> None:
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "_entry", entry)
        object.__setattr__(self, "_ids", ids)
        # Ids loaded together with these when one field is read (batching).
        object.__setattr__(self, "_prefetch", prefetch if prefetch is not None else ids)

    # ------------------------------------------------------------------ basics
    @property
    def env(self) -> Environment:
        """The environment: ``records.env['res.partner']`` gives another model."""
        return self._env

    @property
    def model_name(self) -> str:
        """The technical name of the model, e.g. ``'sale.order'``."""
        return self._entry.name

    @property
    def ids(self) -> list[int]:
        return list(self._ids)

    @property
    def id(self) -> int | bool:
        """The id of a single record; ``False`` for an empty recordset."""
        if not self._ids:
            return False
        return self.ensure_one()._ids[0]

    @property
    def display_name(self) -> str:
        return str(self.ensure_one()._load()[0])

    def _with_ids(self, ids: Iterable[int], prefetch: tuple[int, ...] | None = None) -> RecordSet:
        unique = tuple(dict.fromkeys(ids))
        return RecordSet(
            self._env, self._entry, unique, prefetch if prefetch is not None else unique
        )

    def browse(self, ids: Any = ()) -> RecordSet:
        """Records with the given id(s); no query is made until they are used."""
        return self._with_ids(_as_ids(ids))

    def ensure_one(self) -> RecordSet:
        if len(self._ids) != 1:
            raise UserError(f"Expected a single {self._entry.name} record, got {len(self._ids)}")
        return self

    def exists(self) -> RecordSet:
        """The subset of these records that are still in the database."""
        if not self._ids:
            return self
        cls = self._entry.model_class
        found = set(self._env._session.scalars(sa.select(cls.id).where(cls.id.in_(self._ids))))
        return self._with_ids(i for i in self._ids if i in found)

    # ----------------------------------------------------------------- search
    def _select(self, domain: Sequence[Any]) -> sa.Select[Any]:
        cls = self._entry.model_class
        where = compile_domain(self._env._registry, self._entry, domain)
        return sa.select(cls.id).where(where)

    def search(
        self,
        domain: Sequence[Any] = (),
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
    ) -> RecordSet:
        """Records matching ``domain``, ordered by ``order`` (default: the model's)."""
        query = self._select(domain).order_by(*compile_order(self._entry, order))
        if offset:
            query = query.offset(int(offset))
        if limit is not None:
            query = query.limit(int(limit))
        return self._with_ids(self._env._session.scalars(query))

    def search_count(self, domain: Sequence[Any] = ()) -> int:
        query = sa.select(sa.func.count()).select_from(self._select(domain).subquery())
        return int(self._env._session.scalar(query) or 0)

    # ----------------------------------------------------------------- writes
    @contextmanager
    def _savepoint(self, action: str) -> Iterator[None]:
        """Run a change in a savepoint; a constraint error undoes it and says why."""
        try:
            with self._env._session.begin_nested():
                yield  # leaving the block flushes, then releases the savepoint
        except IntegrityError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else "a constraint was violated"
            raise ValidationError(
                f"{self._entry.name}: cannot {action}: the database refused it ({reason})"
            ) from None

    def create(self, vals_list: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> RecordSet:
        """Create one record from a dict, or several from a list of dicts."""
        many = not isinstance(vals_list, Mapping)
        batch = list(vals_list) if many else [vals_list]
        converted = [convert_values(self._env, self._entry, vals, creating=True) for vals in batch]
        instances = [self._entry.model_class(**values) for values in converted]
        with self._savepoint("create"):
            self._env._session.add_all(instances)
        return self._with_ids(instance.id for instance in instances)

    def write(self, vals: Mapping[str, Any]) -> bool:
        """Set ``vals`` on every record; validated first, all or nothing."""
        values = convert_values(self._env, self._entry, vals, creating=False)
        if not self._ids:
            return True
        instances = self._load()
        with self._savepoint("write"):
            for instance in instances:
                for name, value in values.items():
                    setattr(instance, name, value)
        return True

    def unlink(self) -> bool:
        """Delete these records."""
        if not self._ids:
            return True
        instances = self._load()
        with self._savepoint("delete"):
            for instance in instances:
                self._env._session.delete(instance)
        return True

    # ------------------------------------------------------------------ reads
    def _load(self) -> list[Any]:
        """The mapped objects of these records, in order; one query for the batch."""
        session = self._env._session
        cls = self._entry.model_class
        wanted = set(self._ids) | set(self._prefetch)
        cached = {}
        for record_id in wanted:
            obj = session.identity_map.get(identity_key(cls, record_id))
            if obj is not None:
                cached[record_id] = obj
        missing = [i for i in wanted if i not in cached]
        if missing:
            for obj in session.scalars(sa.select(cls).where(cls.id.in_(missing))):
                cached[obj.id] = obj
        gone = [i for i in self._ids if i not in cached]
        if gone:
            raise MissingError(
                f"Record does not exist or has been deleted: {self._entry.name}{tuple(gone)!r}"
            )
        return [cached[i] for i in self._ids]

    def _read_field(self, name: str) -> Any:
        entry = self._entry
        if name in entry.computed:
            return getattr(self.ensure_one()._load()[0], name)
        fld = entry.fields.get(name)
        if fld is None:
            raise AttributeError(f"{entry.name} has no field {name!r}")
        if not self._ids:
            return self._env[fld.comodel] if fld.type == "many2one" else False
        instance = self.ensure_one()._load()[0]
        value = getattr(instance, name)
        if fld.type == "many2one":
            return self._env[fld.comodel].browse(value)
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._read_field(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._entry.fields:
            self.write({name: value})
            return
        raise AttributeError(f"{self._entry.name} has no writable field {name!r}")

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            return self._read_field(key)
        if isinstance(key, slice):
            return self._with_ids(self._ids[key])
        return RecordSet(self._env, self._entry, (self._ids[key],), self._prefetch)

    def read(self, fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Field values as dicts; a many-to-one reads as ``(id, display name)`` or ``False``."""
        names = list(fields) if fields is not None else list(self._entry.fields)
        for name in names:
            if name not in self._entry.fields and name not in self._entry.computed:
                raise ValidationError(f"{self._entry.name}: unknown field {name!r}")
        rows = []
        for record in self:
            row: dict[str, Any] = {"id": record.id}
            for name in names:
                value = record._read_field(name)
                if isinstance(value, RecordSet):
                    value = (value.id, value.display_name) if value else False
                row[name] = value
            rows.append(row)
        return rows

    def mapped(self, func: str | Callable[[RecordSet], Any]) -> Any:
        """Apply ``func`` (a callable or a dotted field path) to every record.

        Relational results are merged into one recordset; other values come
        back as a list.
        """
        if isinstance(func, str):
            result: Any = self
            for name in func.split("."):
                result = result._mapped_field(name)
            return result
        values = [func(record) for record in self]
        if values and all(isinstance(v, RecordSet) for v in values):
            return _union(values)
        return values

    def _mapped_field(self, name: str) -> Any:
        fld = self._entry.fields.get(name)
        values = [record._read_field(name) for record in self]
        if fld is not None and fld.type == "many2one":
            return _union(values) if values else self._env[fld.comodel]
        return values

    def filtered(self, func: str | Callable[[RecordSet], Any]) -> RecordSet:
        """The records for which ``func`` (a callable or a field path) is true."""
        if isinstance(func, str):
            path = func
            return self._with_ids(
                r.id for r in self if any(_truthy(v) for v in _as_list(r.mapped(path)))
            )
        return self._with_ids(r.id for r in self if func(r))

    # -------------------------------------------------------- set behaviour
    def __iter__(self) -> Iterator[RecordSet]:
        for record_id in self._ids:
            yield RecordSet(self._env, self._entry, (record_id,), self._prefetch)

    def __len__(self) -> int:
        return len(self._ids)

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, RecordSet):
            if item.model_name != self.model_name:
                return False
            return set(item._ids) <= set(self._ids)
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordSet):
            return NotImplemented
        return self.model_name == other.model_name and set(self._ids) == set(other._ids)

    def __hash__(self) -> int:
        return hash((self.model_name, frozenset(self._ids)))

    def __or__(self, other: RecordSet) -> RecordSet:
        return _union([self, other])

    __add__ = __or__

    def __and__(self, other: RecordSet) -> RecordSet:
        _check_same_model(self, other)
        keep = set(other._ids)
        return self._with_ids(i for i in self._ids if i in keep)

    def __sub__(self, other: RecordSet) -> RecordSet:
        _check_same_model(self, other)
        drop = set(other._ids)
        return self._with_ids(i for i in self._ids if i not in drop)

    def __repr__(self) -> str:
        return f"{self._entry.name}{self._ids!r}"

    __str__ = __repr__


def _check_same_model(a: RecordSet, b: object) -> None:
    if not isinstance(b, RecordSet) or a.model_name != b.model_name:
        raise UserError(f"cannot combine {a.model_name} records with {b!r}")


def _union(recordsets: Sequence[RecordSet]) -> RecordSet:
    first = recordsets[0]
    for other in recordsets[1:]:
        _check_same_model(first, other)
    return first._with_ids(i for rs in recordsets for i in rs._ids)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, RecordSet):
        return [value] if value else []
    return value if isinstance(value, list) else [value]


def _truthy(value: Any) -> bool:
    return bool(value)
