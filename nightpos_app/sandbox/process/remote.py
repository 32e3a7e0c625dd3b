"""The record API inside a runner: recordsets are handles, the parent does the work.

A :class:`RemoteRecordSet` is what :class:`nightpos_app.orm.RecordSet` is to admin code — the
same methods, the same errors, the same messages — but it holds only a model name and ids.
Searches, writes, creates and unlinks are asked of the process that holds the transaction
(:mod:`nightpos_app.sandbox.process.service`), which applies the record API's own checks.
Field values are read for the whole prefetch group at once and kept until anything is asked
that may change records, so a loop over records and fields costs one round trip, not one per
field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nightpos_app.exceptions import (
    MissingError,
    SingletonError,
    UnknownFieldError,
    UnknownModelError,
    UserError,
    ValidationError,
)

if TYPE_CHECKING:
    from nightpos_app.sandbox.process.child import Host

#: Records read together at most (the rest of a large group is read when first used).
READ_BATCH = 1000

Prefetch = tuple[int, ...] | Callable[[], Iterable[int]]


def _as_ids(ids: Any, model_name: str) -> tuple[int, ...]:
    if ids is None or ids is False:
        return ()
    if isinstance(ids, RemoteRecordSet):
        if ids._model != model_name:
            raise ValidationError(f"cannot browse {model_name} with {ids._model} records")
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


class RemoteEnvironment:
    """``env`` in a runner: ``env['res.partner']`` gives an empty recordset of that model."""

    __slots__ = ("_host",)

    def __init__(self, host: Host) -> None:
        self._host = host

    def __getitem__(self, model_name: str) -> RemoteRecordSet:
        if not isinstance(model_name, str) or model_name not in self._host.schema:
            why = self._host.closed.get(model_name) if isinstance(model_name, str) else None
            raise UnknownModelError(why or f"unknown model {model_name!r}")
        return RemoteRecordSet(self._host, model_name)

    def __contains__(self, model_name: object) -> bool:
        return isinstance(model_name, str) and model_name in self._host.schema

    def __repr__(self) -> str:
        return f"<Environment models={len(self._host.schema)}>"


class RemoteRecordSet:
    """An ordered set of records of one model, served by the parent process."""

    __slots__ = ("_host", "_model", "_ids", "_prefetch")

    def __init__(
        self,
        host: Host,
        model: str,
        ids: tuple[int, ...] = (),
        prefetch: Prefetch | None = None,
    ) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_ids", ids)
        object.__setattr__(self, "_prefetch", ids if prefetch is None else prefetch)

    # ------------------------------------------------------------------ basics
    @property
    def env(self) -> RemoteEnvironment:
        """The environment: ``records.env['res.partner']`` gives another model."""
        return self._host.env

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def ids(self) -> list[int]:
        return list(self._ids)

    @property
    def id(self) -> int | bool:
        return self.ensure_one()._ids[0] if self._ids else False

    @property
    def display_name(self) -> str | bool:
        return self._row()["display_name"] if self._ids else False

    def browse(self, ids: Any = ()) -> RemoteRecordSet:
        return self._with_ids(_as_ids(ids, self._model))

    def ensure_one(self) -> RemoteRecordSet:
        if len(self._ids) != 1:
            raise SingletonError(f"Expected a single {self._model} record, got {len(self._ids)}")
        return self

    def exists(self) -> RemoteRecordSet:
        found = set(self._host.call("exists", self._model, list(self._ids)))
        return self._with_ids((i for i in self._ids if i in found), self._prefetch)

    def _with_ids(self, ids: Iterable[int], prefetch: Prefetch | None = None) -> RemoteRecordSet:
        return RemoteRecordSet(self._host, self._model, tuple(dict.fromkeys(ids)), prefetch)

    # --------------------------------------------------- asked of the parent
    def search(
        self,
        domain: Sequence[Any] = (),
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
    ) -> RemoteRecordSet:
        ids = self._host.call("search", self._model, domain, limit, offset, order)
        return self._with_ids(ids)

    def search_count(self, domain: Sequence[Any] = ()) -> int:
        return int(self._host.call("search_count", self._model, domain))

    def create(self, vals_list: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> RemoteRecordSet:
        return self._with_ids(self._host.call("create", self._model, vals_list))

    def write(self, vals: Mapping[str, Any]) -> bool:
        return bool(self._host.call("write", self._model, list(self._ids), vals))

    def unlink(self) -> bool:
        return bool(self._host.call("unlink", self._model, list(self._ids)))

    # ------------------------------------------------------------------ reads
    def _prefetch_ids(self) -> Iterable[int]:
        return self._prefetch() if callable(self._prefetch) else self._prefetch

    def _row(self) -> dict[str, Any]:
        record_id = self.ensure_one()._ids[0]
        return self._host.row(self._model, record_id, self._prefetch_ids)

    def _check_field(self, name: Any) -> str | None:
        """The field's comodel (None if not relational); an error if there is no such field."""
        fields, computed, refused = self._host.schema[self._model]
        if isinstance(name, str):
            if name in fields:
                return fields[name]
            if name in computed:
                return None
            if name in refused:
                raise UnknownFieldError(refused[name])
        raise UnknownFieldError(f"{self._model} has no field {name!r}")

    def _read_field(self, name: str) -> Any:
        comodel = self._check_field(name)
        if not self._ids:
            return RemoteRecordSet(self._host, comodel) if comodel else False
        value = self._row()[name]
        if comodel is None:
            return value
        if value is None:
            return RemoteRecordSet(self._host, comodel)
        return RemoteRecordSet(self._host, comodel, (value,), self._related_ids(name))

    def _related_ids(self, name: str) -> Callable[[], list[int]]:
        def related_ids() -> list[int]:
            rows = self._host.rows
            found = (rows.get((self._model, i)) for i in self._prefetch_ids())
            return [value for row in found if row is not None and (value := row[name]) is not None]

        return related_ids

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._read_field(name)

    def __setattr__(self, name: str, value: Any) -> None:
        fields, _computed, refused = self._host.schema[self._model]
        if name in fields or name in refused:  # the parent refuses what it must
            self.write({name: value})
            return
        raise AttributeError(f"{self._model} has no writable field {name!r}")

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            return self._read_field(key)
        if isinstance(key, slice):
            return self._with_ids(self._ids[key], self._prefetch)
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(
                f"recordset indices must be integers, slices or field names, not {key!r}"
            )
        return RemoteRecordSet(self._host, self._model, (self._ids[key],), self._prefetch)

    def read(self, fields: Sequence[str] | str | None = None) -> list[dict[str, Any]]:
        model_fields, computed, _refused = self._host.schema[self._model]
        if fields is None:
            names = [*model_fields, *computed]
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
                if isinstance(value, RemoteRecordSet):
                    value = (value._ids[0], value.display_name) if value else False
                row[name] = value
            rows.append(row)
        return rows

    def mapped(self, func: str | Callable[[RemoteRecordSet], Any]) -> Any:
        if isinstance(func, str):
            result: Any = self
            for name in func.split("."):
                if not isinstance(result, RemoteRecordSet):
                    raise UnknownFieldError(f"{func!r}: cannot follow {name!r} from plain values")
                result = result._mapped_field(name)
            return result
        if not callable(func):
            raise TypeError(f"mapped() takes a field path or a function, got {func!r}")
        values = [func(record) for record in self]
        if values and all(isinstance(v, RemoteRecordSet) for v in values):
            return _union(values)
        return values

    def _mapped_field(self, name: str) -> Any:
        comodel = self._check_field(name)
        values = [record._read_field(name) for record in self]
        if comodel is not None:
            return _union(values) if values else RemoteRecordSet(self._host, comodel)
        return values

    def filtered(self, func: str | Callable[[RemoteRecordSet], Any]) -> RemoteRecordSet:
        if isinstance(func, str):
            path = func

            def keep(record: RemoteRecordSet) -> bool:
                value = record.mapped(path)
                return bool(value) if isinstance(value, RemoteRecordSet) else any(value)

        elif callable(func):
            keep = func
        else:
            raise TypeError(f"filtered() takes a field path or a function, got {func!r}")
        return self._with_ids((r._ids[0] for r in self if keep(r)), self._prefetch)

    # -------------------------------------------------------- set behaviour
    def __iter__(self) -> Iterator[RemoteRecordSet]:
        for record_id in self._ids:
            yield RemoteRecordSet(self._host, self._model, (record_id,), self._prefetch)

    def __len__(self) -> int:
        return len(self._ids)

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, RemoteRecordSet) and item._model == self._model:
            return set(item._ids) <= set(self._ids)
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteRecordSet):
            return NotImplemented
        return self._model == other._model and set(self._ids) == set(other._ids)

    def __hash__(self) -> int:
        return hash((self._model, frozenset(self._ids)))

    def __or__(self, other: RemoteRecordSet) -> RemoteRecordSet:
        return _union([self, other])

    __add__ = __or__

    def __and__(self, other: RemoteRecordSet) -> RemoteRecordSet:
        _check_same_model(self, other)
        keep = set(other._ids)
        return self._with_ids(i for i in self._ids if i in keep)

    def __sub__(self, other: RemoteRecordSet) -> RemoteRecordSet:
        _check_same_model(self, other)
        drop = set(other._ids)
        return self._with_ids(i for i in self._ids if i not in drop)

    def __repr__(self) -> str:
        return f"{self._model}{self._ids!r}"

    __str__ = __repr__


def _check_same_model(a: RemoteRecordSet, b: object) -> None:
    if not isinstance(b, RemoteRecordSet) or a._model != b._model:
        raise UserError(f"cannot combine {a._model} records with {b!r}")


def _union(recordsets: Sequence[RemoteRecordSet]) -> RemoteRecordSet:
    first = recordsets[0]
    for other in recordsets[1:]:
        _check_same_model(first, other)
    return first._with_ids(i for rs in recordsets for i in rs._ids)


def missing(model: str, record_id: int) -> MissingError:
    return MissingError(f"Record does not exist or has been deleted: {model}{(record_id,)!r}")
