"""Recordsets: the Odoo-style record API over SQLAlchemy.

A :class:`RecordSet` is an ordered set of record ids of one model, bound to an
:class:`~nightpos_app.orm.environment.Environment`. ``browse`` makes one
without a query; reading a field loads the records of the whole "prefetch
group" (the recordset it came from) in one query, so a loop over a search
result costs one query, not one per record. Writes are validated first
(:mod:`nightpos_app.orm.values`) and flushed inside a savepoint, so a
database error leaves nothing of the failed write behind and the surrounding
transaction usable.

Everything public on this class is the record API that admin-written code may
use; the environment's session and the mapped objects stay private. A field
whose name is also an API name (``model_name``, ``ids``...) is read with
``record['field']`` or ``read()``.

Through an environment made for automation code (any that is not trusted, see
:class:`~nightpos_app.orm.environment.Environment`) the models' declarations hold: a secret
field reads as no field (an ``UnknownFieldError``, so ``hasattr`` is false), cannot be searched
or sorted by, and is left out of ``read()``; a model read-only to code refuses ``create``,
``write`` and ``unlink``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nightpos_app.exceptions import (
    DomainError,
    MissingError,
    UnknownFieldError,
    ValidationError,
)
from nightpos_app.orm import store
from nightpos_app.orm.base import Prefetch, RecordSetBase
from nightpos_app.orm.domain import compile_domain, compile_order
from nightpos_app.orm.values import check_code_may_write, check_related, convert_values

if TYPE_CHECKING:
    from nightpos_app.orm.environment import Environment
    from nightpos_app.orm.registry import ModelEntry

#: The largest limit and offset: PostgreSQL binds them as 32-bit integers.
_MAX_COUNT = 2**31 - 1


def _count(name: str, value: Any) -> int:
    """A limit or offset; ``None``/``False``/0 mean none, as in Odoo."""
    if value is None or value is False:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise DomainError(f"{name} must be an integer from 0 to {_MAX_COUNT}, got {value!r}")
    return value


class RecordSet(RecordSetBase):
    """An ordered set of records of one model (possibly empty)."""

    __slots__ = ("_entry", "_env", "_ids", "_prefetch")

    def __init__(
        self,
        env: Environment,
        entry: ModelEntry,
        ids: tuple[int, ...] = (),
        prefetch: Prefetch | None = None,
    ) -> None:
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "_entry", entry)
        object.__setattr__(self, "_ids", ids)
        object.__setattr__(self, "_prefetch", ids if prefetch is None else prefetch)

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
    def display_name(self) -> str | bool:
        """How the record is shown to people (``S00007``); ``False`` for no record."""
        return str(self._record()) if self._ids else False

    def exists(self) -> RecordSet:
        """The subset of these records that are (still) in the database, in order."""
        found = store.existing_ids(self._env, self._entry, self._ids)
        return self._with_ids((i for i in self._ids if i in found), self._prefetch)

    def _with_ids(self, ids: Iterable[int], prefetch: Prefetch | None = None) -> RecordSet:
        return RecordSet(self._env, self._entry, tuple(dict.fromkeys(ids)), prefetch)

    def _one(self, record_id: int) -> RecordSet:
        return RecordSet(self._env, self._entry, (record_id,), self._prefetch)

    def _empty(self, model_name: str) -> RecordSet:
        return self._env[model_name]

    def _default_fields(self) -> list[str]:
        return readable_fields(self._env, self._entry)

    # ----------------------------------------------------------------- search
    def search(
        self,
        domain: Sequence[Any] = (),
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
    ) -> RecordSet:
        """Records matching ``domain``, ordered by ``order`` (default: the model's)."""
        cls = self._entry.model_class
        query = sa.select(cls.id).where(self._where(domain))
        query = query.order_by(*compile_order(self._entry, order, for_code=self._for_code))
        if offset := _count("offset", offset):
            query = query.offset(offset)
        if limit := _count("limit", limit):
            query = query.limit(limit)
        return self._with_ids(self._env._session.scalars(query))

    def search_count(self, domain: Sequence[Any] = ()) -> int:
        """How many records match ``domain``."""
        query = sa.select(sa.func.count()).select_from(self._entry.model_class)
        return int(self._env._session.scalar(query.where(self._where(domain))) or 0)

    def _where(self, domain: Sequence[Any]) -> sa.ColumnElement[bool]:
        return compile_domain(
            self._env._registry, self._entry, domain, self._env._dialect, for_code=self._for_code
        )

    @property
    def _for_code(self) -> bool:
        """Whether the models' rules for automation code hold (the environment is not trusted)."""
        return not self._env._trusted

    # ----------------------------------------------------------------- writes
    def create(self, vals_list: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> RecordSet:
        """Create one record from a dict, or several from a list of dicts: all or none."""
        if isinstance(vals_list, Mapping):
            batch: list[Any] = [vals_list]
        elif isinstance(vals_list, (list, tuple)):
            batch = list(vals_list)
        else:
            raise ValidationError(
                f"{self.model_name}: create() takes a dict of values or a list of dicts, "
                f"got {type(vals_list).__name__}"
            )
        converted = [convert_values(self._env, self._entry, vals, creating=True) for vals in batch]
        instances = [self._entry.model_class(**values) for values in converted]
        with store.savepoint(self._env, self._entry, "create"):
            self._env._session.add_all(instances)
        return self._with_ids(instance.id for instance in instances)

    def write(self, vals: Mapping[str, Any]) -> bool:
        """Set ``vals`` on every record; validated first, all or nothing."""
        values = convert_values(self._env, self._entry, vals, creating=False, related=False)
        if not self._ids or not values:
            check_related(self._env, self._entry, values)
            return True
        # Only what differs is set: a write that changes nothing costs no savepoint and no
        # flush (the database would not have been sent an UPDATE for it either), and a
        # many-to-one is checked to exist only when it changes (what a record holds exists).
        changes = [
            (instance, name, value)
            for instance in self._load()
            for name, value in values.items()
            if not store.holds(self._entry, instance, name, value)
        ]
        check_related(self._env, self._entry, {name: value for _, name, value in changes})
        if not changes:
            return True
        with store.savepoint(self._env, self._entry, "write"):
            for instance, name, value in changes:
                setattr(instance, name, value)
        return True

    def unlink(self) -> bool:
        """Delete these records: all or none (a record still referenced stays)."""
        check_code_may_write(self._env, self._entry)
        if not self._ids:
            return True
        instances = self._load()
        with store.savepoint(self._env, self._entry, "delete"):
            for instance in instances:
                self._env._session.delete(instance)
        return True

    # ------------------------------------------------------------------ reads
    def _load(self) -> list[Any]:
        """The mapped objects of these records, in order; a ``MissingError`` if any is gone."""
        found = store.load(self._env, self._entry, self._ids, self._prefetch_ids())
        gone = [i for i in self._ids if i not in found]
        if gone:
            raise MissingError(
                f"Record does not exist or has been deleted: {self.model_name}{tuple(gone)!r}"
            )
        return [found[i] for i in self._ids]

    def _record(self) -> Any:
        return self.ensure_one()._load()[0]

    def _check_field(self, name: Any) -> str | None:
        """The field's comodel (None if not relational); an error if code may not read it."""
        if not isinstance(name, str) or (
            name not in self._entry.fields and name not in self._entry.computed
        ):
            raise UnknownFieldError(f"{self.model_name} has no field {name!r}")
        if self._for_code and name in self._entry.fields and self._entry.fields[name].secret:
            raise UnknownFieldError(f"{self.model_name}.{name} cannot be read by automation code")
        fld = self._entry.fields.get(name)
        return fld.comodel if fld is not None else None

    def _read_field(self, name: str) -> Any:
        """One field of one record; a many-to-one reads as a recordset (maybe empty)."""
        self._check_field(name)
        fld = self._entry.fields.get(name)
        related = self._env[fld.comodel] if fld is not None and fld.comodel else None
        if not self._ids:  # as in Odoo: an empty recordset reads as empty
            return related if related is not None else False
        value = getattr(self._record(), name)
        if related is None or value is None:
            return value if related is None else related
        return related._with_ids((value,), self._related_ids(name))

    def _related_ids(self, name: str) -> Callable[[], list[int]]:
        """Prefetch for a many-to-one: the related ids of this record's whole group,
        worked out only when one related record is first read."""

        def related_ids() -> list[int]:
            objs = store.cached(self._env, self._entry, self._prefetch_ids()).values()
            return [value for obj in objs if (value := getattr(obj, name)) is not None]

        return related_ids

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._entry.fields:
            self.write({name: value})
            return
        raise AttributeError(f"{self.model_name} has no writable field {name!r}")


def readable_fields(env: Environment, entry: ModelEntry) -> list[str]:
    """The fields (stored, then computed) that ``env`` may read on ``entry``'s records: what
    ``read()`` gives by default. All of them for a trusted environment; for automation code,
    neither a secret field nor a many-to-one into a model closed to it."""
    if env._trusted:
        return [*entry.fields, *entry.computed]
    stored = [
        name
        for name, fld in entry.fields.items()
        if not fld.secret and (fld.comodel is None or fld.comodel in env)
    ]
    return [*stored, *entry.computed]
