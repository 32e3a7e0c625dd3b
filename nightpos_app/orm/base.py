"""What every recordset does without a database: ids, set operations, iteration, ``read``,
``mapped`` and ``filtered`` on top of reading one field.

Two classes build on it: :class:`nightpos_app.orm.RecordSet`, the record API over SQLAlchemy,
and :class:`nightpos_app.sandbox.process.remote.RemoteRecordSet`, its handle in a runner
process, whose reads and writes the parent process carries out. So the behaviour admin code
sees — the same results and the same messages — is written once. This module imports nothing
but the errors: a runner imports it without SQLAlchemy.

A subclass gives: ``model_name``, ``_with_ids`` (a recordset of the same model),
``_check_field`` (the field's comodel, or None; an error for no such field), ``_read_field``,
``_default_fields`` (what ``read()`` gives), ``_empty`` (an empty recordset of a model) and
``display_name``; and slots ``_ids`` (a tuple) and ``_prefetch`` (ids, or a function of them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from nightpos_app.exceptions import SingletonError, UnknownFieldError, UserError, ValidationError

#: Ids that records are loaded with together: fixed, or computed when first needed.
Prefetch = tuple[int, ...] | Callable[[], Iterable[int]]


def as_ids(ids: Any, model_name: str) -> tuple[int, ...]:
    """Normalise what ``browse`` accepts: an id, ids, a recordset, or nothing."""
    if ids is None or ids is False:
        return ()
    if isinstance(ids, RecordSetBase):
        if ids.model_name != model_name:
            raise ValidationError(f"cannot browse {model_name} with {ids.model_name} records")
        return ids._ids
    if isinstance(ids, int) and not isinstance(ids, bool):
        return (ids,)
    if isinstance(ids, Iterable) and not isinstance(ids, (str, bytes, Mapping)):
        values = tuple(ids)
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"record ids must be integers, got {value!r}")
        return values
    raise ValidationError(f"record ids must be integers, got {ids!r}")


class RecordSetBase:
    """An ordered set of records of one model (possibly empty): the part that needs no
    database."""

    __slots__ = ()
    _ids: tuple[int, ...]
    _prefetch: Prefetch

    # ------------------------------------------------------- for subclasses
    @property
    def model_name(self) -> str:
        """The technical name of the model, e.g. ``'sale.order'``."""
        raise NotImplementedError

    @property
    def display_name(self) -> str | bool:
        """How the record is shown to people (``S00007``); ``False`` for no record."""
        raise NotImplementedError

    def _with_ids(self, ids: Iterable[int], prefetch: Prefetch | None = None) -> Any:
        raise NotImplementedError

    def _check_field(self, name: Any) -> str | None:
        raise NotImplementedError

    def _read_field(self, name: str) -> Any:
        raise NotImplementedError

    def _default_fields(self) -> list[str]:
        raise NotImplementedError

    def _empty(self, model_name: str) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ basics
    @property
    def ids(self) -> list[int]:
        return list(self._ids)

    @property
    def id(self) -> int | bool:
        """The id of a single record; ``False`` for an empty recordset."""
        return self.ensure_one()._ids[0] if self._ids else False

    def browse(self, ids: Any = ()) -> Any:
        """Records with the given id(s); no query is made until they are used."""
        return self._with_ids(as_ids(ids, self.model_name))

    def ensure_one(self) -> Any:
        """This recordset if it holds exactly one record; a ``SingletonError`` otherwise."""
        if len(self._ids) != 1:
            raise SingletonError(
                f"Expected a single {self.model_name} record, got {len(self._ids)}"
            )
        return self

    def _prefetch_ids(self) -> Iterable[int]:
        return self._prefetch() if callable(self._prefetch) else self._prefetch

    def _one(self, record_id: int) -> Any:
        """One record of these, loaded with the same group."""
        return self._with_ids((record_id,), self._prefetch)

    # ------------------------------------------------------------------ reads
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._read_field(name)

    def __getitem__(self, key: int | slice | str) -> Any:
        """``records[0]`` is a record, ``records[1:3]`` a recordset, ``record['name']`` a field."""
        if isinstance(key, str):
            return self._read_field(key)
        if isinstance(key, slice):
            return self._with_ids(self._ids[key], self._prefetch)
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(
                f"recordset indices must be integers, slices or field names, not {key!r}"
            )
        return self._one(self._ids[key])

    def read(self, fields: Sequence[str] | str | None = None) -> list[dict[str, Any]]:
        """Field values as dicts, ``id`` first; a many-to-one reads as
        ``(id, display name)``, or ``False`` when empty. All fields by default (for automation
        code: all it may read)."""
        if fields is None:
            names = self._default_fields()
        elif isinstance(fields, str):
            names = [fields]
        elif isinstance(fields, (list, tuple)):
            names = list(fields)
        else:
            raise ValidationError(f"read() takes a list of field names, got {fields!r}")
        for name in names:
            self._check_field(name)
        rows = []
        for record in self:
            row: dict[str, Any] = {"id": record._ids[0]}
            for name in names:
                value = record._read_field(name)
                if isinstance(value, RecordSetBase):
                    value = (value._ids[0], value.display_name) if value else False
                row[name] = value
            rows.append(row)
        return rows

    def mapped(self, func: str | Callable[[Any], Any]) -> Any:
        """Apply ``func`` (a callable or a dotted field path) to every record.

        Many-to-one results are merged into one recordset; other values come
        back as a list, in record order.
        """
        if isinstance(func, str):
            result: Any = self
            for name in func.split("."):
                if not isinstance(result, RecordSetBase):
                    raise UnknownFieldError(f"{func!r}: cannot follow {name!r} from plain values")
                result = result._mapped_field(name)
            return result
        if not callable(func):
            raise TypeError(f"mapped() takes a field path or a function, got {func!r}")
        values = [func(record) for record in self]
        if values and all(isinstance(v, RecordSetBase) for v in values):
            return union(values)
        return values

    def _mapped_field(self, name: str) -> Any:
        comodel = self._check_field(name)
        values = [record._read_field(name) for record in self]
        if comodel is not None:
            return union(values) if values else self._empty(comodel)
        return values

    def filtered(self, func: str | Callable[[Any], Any]) -> Any:
        """The records for which ``func`` (a callable or a field path) is true."""
        if isinstance(func, str):
            path = func

            def keep(record: Any) -> bool:
                value = record.mapped(path)
                return bool(value) if isinstance(value, RecordSetBase) else any(value)

        elif callable(func):
            keep = func
        else:
            raise TypeError(f"filtered() takes a field path or a function, got {func!r}")
        return self._with_ids((r._ids[0] for r in self if keep(r)), self._prefetch)

    # -------------------------------------------------------- set behaviour
    def __iter__(self) -> Iterator[Any]:
        for record_id in self._ids:
            yield self._one(record_id)

    def __len__(self) -> int:
        return len(self._ids)

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, type(self)) and item.model_name == self.model_name:
            return set(item._ids) <= set(self._ids)
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.model_name == other.model_name and set(self._ids) == set(other._ids)

    def __hash__(self) -> int:
        return hash((self.model_name, frozenset(self._ids)))

    def __or__(self, other: Any) -> Any:
        return union([self, other])

    __add__ = __or__  # recordsets hold each record once, so + is |

    def __and__(self, other: Any) -> Any:
        check_same_model(self, other)
        keep = set(other._ids)
        return self._with_ids(i for i in self._ids if i in keep)

    def __sub__(self, other: Any) -> Any:
        check_same_model(self, other)
        drop = set(other._ids)
        return self._with_ids(i for i in self._ids if i not in drop)

    def __repr__(self) -> str:
        return f"{self.model_name}{self._ids!r}"

    __str__ = __repr__


def check_same_model(a: RecordSetBase, b: object) -> None:
    if not isinstance(b, type(a)) or a.model_name != b.model_name:
        raise UserError(f"cannot combine {a.model_name} records with {b!r}")


def union(recordsets: Sequence[Any]) -> Any:
    first = recordsets[0]
    for other in recordsets[1:]:
        check_same_model(first, other)
    return first._with_ids(i for rs in recordsets for i in rs._ids)
