"""The record API inside a runner: recordsets are handles, the parent does the work.

A :class:`RemoteRecordSet` is what :class:`nightpos_app.orm.RecordSet` is to admin code — the
same methods, the same errors, the same messages; both build on
:class:`~nightpos_app.orm.base.RecordSetBase` — but it holds only a model name and ids.
Searches, writes, creates and unlinks are asked of the process that holds the transaction
(:mod:`nightpos_app.sandbox.process.service`), which applies the record API's own checks.
Field values are read for the whole prefetch group at once and kept until anything is asked
that may change records, so a loop over records and fields costs one round trip, not one per
field. In a run that posts its writes (see :mod:`nightpos_app.sandbox.process.child`), a
created recordset learns its ids only when they are first needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nightpos_app.exceptions import MissingError, UnknownFieldError, UnknownModelError
from nightpos_app.orm.base import Prefetch, RecordSetBase

if TYPE_CHECKING:
    from nightpos_app.sandbox.process.child import Host

#: Records read together at most (the rest of a large group is read when first used).
READ_BATCH = 1000


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


class RemoteRecordSet(RecordSetBase):
    """An ordered set of records of one model, served by the parent process."""

    __slots__ = ("_host", "_model", "_known_ids", "_prefetch", "_created")

    def __init__(
        self,
        host: Host,
        model: str,
        ids: tuple[int, ...] = (),
        prefetch: Prefetch | None = None,
        created: int | None = None,
    ) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_known_ids", ids)
        object.__setattr__(self, "_created", created)
        if created is not None:  # the ids come later: the group is the records themselves
            prefetch = self._own_ids
        object.__setattr__(self, "_prefetch", ids if prefetch is None else prefetch)

    @property
    def _ids(self) -> tuple[int, ...]:
        if self._created is not None:  # a posted create's records: ask for their ids now
            object.__setattr__(self, "_known_ids", self._host.created_ids(self._created))
            object.__setattr__(self, "_created", None)
        return self._known_ids

    def _own_ids(self) -> tuple[int, ...]:
        return self._ids

    # ------------------------------------------------------------------ basics
    @property
    def env(self) -> RemoteEnvironment:
        """The environment: ``records.env['res.partner']`` gives another model."""
        return self._host.env

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def display_name(self) -> str | bool:
        return self._row()["display_name"] if self._ids else False

    def _with_ids(self, ids: Iterable[int], prefetch: Prefetch | None = None) -> RemoteRecordSet:
        return RemoteRecordSet(self._host, self._model, tuple(dict.fromkeys(ids)), prefetch)

    def _one(self, record_id: int) -> RemoteRecordSet:
        return RemoteRecordSet(self._host, self._model, (record_id,), self._prefetch)

    def _empty(self, model_name: str) -> RemoteRecordSet:
        return RemoteRecordSet(self._host, model_name)

    def _default_fields(self) -> list[str]:
        fields, computed, _refused = self._host.schema[self._model]
        return [*fields, *computed]

    # --------------------------------------------------- asked of the parent
    def exists(self) -> RemoteRecordSet:
        found = set(self._host.call("exists", self._model, list(self._ids)))
        return self._with_ids((i for i in self._ids if i in found), self._prefetch)

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
        host = self._host
        if host.posting:
            return RemoteRecordSet(
                host, self._model, created=host.post("create", self._model, vals_list)
            )
        return self._with_ids(host.call("create", self._model, vals_list))

    def write(self, vals: Mapping[str, Any]) -> bool:
        host = self._host
        if host.posting:
            host.post("write", self._model, list(self._ids), vals)
            return True
        return bool(host.call("write", self._model, list(self._ids), vals))

    def unlink(self) -> bool:
        host = self._host
        if host.posting:
            host.post("unlink", self._model, list(self._ids))
            return True
        return bool(host.call("unlink", self._model, list(self._ids)))

    # ------------------------------------------------------------------ reads
    def _row(self) -> dict[str, Any]:
        record_id = self.ensure_one()._ids[0]
        return self._host.row(self._model, record_id, self._prefetch_ids)

    def _check_field(self, name: Any) -> str | None:
        """The field's comodel (None if not relational); an error if code may not read it."""
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
        if not self._ids:  # as in Odoo: an empty recordset reads as empty
            return RemoteRecordSet(self._host, comodel) if comodel else False
        value = self._row()[name]
        if comodel is None:
            return value
        if value is None:
            return RemoteRecordSet(self._host, comodel)
        return RemoteRecordSet(self._host, comodel, (value,), self._related_ids(name))

    def _related_ids(self, name: str) -> Callable[[], list[int]]:
        """Prefetch for a many-to-one: the related ids of this record's whole group, as far
        as the runner has read them."""

        def related_ids() -> list[int]:
            rows = self._host.rows
            found = (rows.get((self._model, i)) for i in self._prefetch_ids())
            return [value for row in found if row is not None and (value := row[name]) is not None]

        return related_ids

    def __setattr__(self, name: str, value: Any) -> None:
        fields, _computed, refused = self._host.schema[self._model]
        if name in fields or name in refused:  # the parent refuses what it must
            self.write({name: value})
            return
        raise AttributeError(f"{self._model} has no writable field {name!r}")


def missing(model: str, record_id: int) -> MissingError:
    return MissingError(f"Record does not exist or has been deleted: {model}{(record_id,)!r}")
