"""The record API served to a runner by the process that holds the transaction.

Each request a runner makes is carried out here with the real record API
(:mod:`nightpos_app.orm`), on the environment the code was handed, so its checks, savepoints
and record triggers apply exactly as they would in process and every write belongs to the
caller's transaction. What a runner sends is untrusted data: a request names an operation of
a fixed list, a model, ids and arguments; records arrive as handles checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nightpos_app.exceptions import UserError
from nightpos_app.orm import Environment, RecordSet
from nightpos_app.orm.recordset import readable_fields
from nightpos_app.orm.store import load
from nightpos_app.sandbox.process.wire import MAX_HANDLE_IDS, RecordsRef, WireError

#: Ids a handle may carry for prefetching (more are dropped: only an optimisation).
MAX_PREFETCH = 1000
#: The most a single request may ask for. Each request runs in this process, in the call's
#: transaction, and cannot be interrupted: these keep one well under a second, so that the
#: call's wall-clock deadline (checked between requests) holds. Code handles more in batches.
MAX_IDS = MAX_HANDLE_IDS
MAX_DOMAIN_TERMS = 1_000
MAX_CREATE = 1_000
#: Text a single write or create may store, all records together.
MAX_STORED_BYTES = 16 * 2**20
#: Bytes of field values a read answers with at most; the runner asks again for the rest.
READ_BUDGET = 4 * 2**20
#: SQLite virtual-machine steps between two looks at the clock (one step may be a LIKE over
#: a megabyte of text: few, so that a statement overruns the deadline by little).
_SQLITE_STEPS = 100
#: PostgreSQL: ``statement_timeout`` is set again only once this many seconds have passed since
#: it was last set in the transaction (each statement may run for the time that was left
#: then: at most this much past the deadline), not before every request (a round trip each).
TIMEOUT_REFRESH_SECONDS = 0.25
#: ``Connection.info`` key: (the transaction, when its timeout was set, for which deadline).
_TIMEOUT_SET = "nightpos.sandbox.statement_timeout"
#: A single record larger than this is not read by automation code.
MAX_RECORD_BYTES = 32 * 2**20


def records_ref(value: Any) -> RecordsRef | None:
    """The handle of a recordset of this process (None for anything else)."""
    if type(value) is not RecordSet:
        return None
    prefetch = list(value._prefetch_ids())
    return RecordsRef(value.model_name, value.ids, prefetch[:MAX_PREFETCH])


def schema_of(env: Environment) -> dict[str, Any]:
    """What a runner must know of the models ``env`` reaches, to answer as the record API does
    without asking: per model, the readable fields (each one's comodel, or None), the computed
    fields, and the fields it may not read with the record API's message for each; and the
    models closed to it, with theirs."""
    models: dict[str, Any] = {}
    closed: dict[str, str] = {}
    for entry in env._registry:
        try:
            env[entry.name]
        except UserError as exc:
            closed[entry.name] = exc.message
            continue
        readable = set(readable_fields(env, entry))
        refused = {}
        for name, fld in entry.fields.items():
            if name in readable:
                continue
            try:
                env[entry.name]._check_field(name)
                env[fld.comodel or entry.name]
            except UserError as exc:
                refused[name] = exc.message
        models[entry.name] = (
            {name: fld.comodel for name, fld in entry.fields.items() if name in readable},
            list(entry.computed),
            refused,
        )
    return {"models": models, "closed": closed}


class RecordService:
    """Carries out a runner's record API requests on ``env``."""

    #: The requests a runner may make: the record API's methods that reach the database.
    OPERATIONS = frozenset(
        {"read", "search", "search_count", "create", "write", "unlink", "exists"}
    )

    def __init__(self, env: Environment | None) -> None:
        self.env = env

    def records_in(self, ref: RecordsRef) -> RecordSet:
        """A handle from the runner as a recordset of ``env`` (the model must exist)."""
        if len(ref.ids) > MAX_IDS:
            raise UserError(_too_many(len(ref.ids)))
        env = self._env()
        model = env[ref.model]
        records = model.browse(ref.ids)
        if ref.prefetch is not None:
            prefetch = tuple(dict.fromkeys([*records.ids, *ref.prefetch[:MAX_PREFETCH]]))
            records = RecordSet(env, model._entry, records._ids, prefetch)
        return records

    def env_in(self) -> Environment:
        return self._env()

    def _env(self) -> Environment:
        if self.env is None:
            raise UserError("This code was given no records to work with")
        return self.env

    def handle(self, op: Any, args: list[Any], deadline: Callable[[], float]) -> Any:
        """Carry out one request; the record API's errors go back to the code as they are.

        The database stops the request's statements at ``deadline()`` (a ``time.monotonic()``
        value, read once the transaction has its connection, and the write lock with it): the
        limits on a request's size keep it short, this makes sure of it.
        """
        if type(op) is not str or op not in self.OPERATIONS:
            raise WireError(f"unknown request {op!r}")
        method: Callable[..., Any] = getattr(self, op)
        try:
            with statements_until(self._env(), deadline):
                return method(*args)
        except TypeError as exc:  # a request with the wrong arguments: not the API's caller
            raise WireError(f"{op}: {exc}") from None

    # ---------------------------------------------------------- operations
    def _model(self, model: Any) -> RecordSet:
        return self._env()[model]

    def _browse(self, model: Any, ids: Any) -> RecordSet:
        if type(ids) is list and len(ids) > MAX_IDS:
            raise UserError(_too_many(len(ids)))
        return self._model(model).browse(ids)

    def _domain(self, domain: Any) -> Any:
        terms = len(domain) if type(domain) is list else 0
        if type(domain) is list:
            for term in domain:
                if type(term) is list and len(term) == 3 and isinstance(term[2], (list, RecordSet)):
                    terms += len(term[2]) // 10  # a value list, or a recordset's ids
        if terms > MAX_DOMAIN_TERMS:
            raise UserError(
                f"A search domain of automation code has at most {MAX_DOMAIN_TERMS:,} terms "
                f"(a value list of 10 counts as one)"
            )
        return domain

    def read(self, model: Any, ids: Any) -> dict[int, dict[str, Any]]:
        records = self._browse(model, ids)
        entry = records._entry
        found = load(records.env, entry, records._ids, records._ids)
        names = readable_fields(records.env, entry)
        rows: dict[int, dict[str, Any]] = {}
        size = 0
        for record in records:
            if record._ids[0] not in found:
                continue
            row: dict[str, Any] = {"display_name": record.display_name}
            row_size = 0
            for name in names:
                value = record._read_field(name)
                if type(value) is RecordSet:
                    value = value._ids[0] if value else None
                elif type(value) is str or type(value) is bytes:
                    row_size += len(value)
                row[name] = value
            if row_size > MAX_RECORD_BYTES:
                raise UserError(
                    f"{entry.name}({record._ids[0]},) holds more than "
                    f"{MAX_RECORD_BYTES // 2**20} MiB of text: too large for automation code"
                )
            size += row_size + 64 * len(names)
            if rows and size > READ_BUDGET:
                break  # the first row (the one asked for) always goes; the runner asks again
            rows[record._ids[0]] = row
        return rows

    def search(self, model: Any, domain: Any, limit: Any, offset: Any, order: Any) -> list[int]:
        found = self._model(model).search(
            self._domain(domain), limit=limit, offset=offset, order=order
        )
        return found.ids

    def search_count(self, model: Any, domain: Any) -> int:
        return self._model(model).search_count(self._domain(domain))

    def create(self, model: Any, vals_list: Any) -> list[int]:
        if type(vals_list) is list and len(vals_list) > MAX_CREATE:
            raise UserError(
                f"Automation code creates at most {MAX_CREATE:,} records at a time "
                f"(this asked for {len(vals_list):,}): create them in batches"
            )
        many = vals_list if type(vals_list) is list else [vals_list]
        _check_stored_bytes(sum(_text_bytes(vals) for vals in many))
        return self._model(model).create(vals_list).ids

    def write(self, model: Any, ids: Any, vals: Any) -> bool:
        records = self._browse(model, ids)
        _check_stored_bytes(_text_bytes(vals) * len(records))
        return records.write(vals)

    def unlink(self, model: Any, ids: Any) -> bool:
        return self._browse(model, ids).unlink()

    def exists(self, model: Any, ids: Any) -> list[int]:
        return self._browse(model, ids).exists().ids


def _too_many(count: int) -> str:
    return (
        f"Automation code works on at most {MAX_IDS:,} records at a time "
        f"(this asked for {count:,}): go through them in batches"
    )


def _text_bytes(vals: Any) -> int:
    """About how many bytes of text and binary values ``vals`` would store."""
    if type(vals) is not dict:
        return 0
    return sum(len(v) for v in vals.values() if type(v) is str or type(v) is bytes)


def _check_stored_bytes(size: int) -> None:
    if size > MAX_STORED_BYTES:
        raise UserError(
            f"Automation code stores at most {MAX_STORED_BYTES // 2**20} MiB of text in one "
            f"request (this one, about {size / 2**20:,.0f} MiB): write fewer records at a time"
        )


@contextmanager
def statements_until(env: Environment, until: Callable[[], float]) -> Iterator[None]:
    """Stop the database's work on ``env``'s connection at the deadline ``until()`` gives.

    SQLite: a progress handler, which SQLite calls every few thousand steps of a statement,
    interrupts it once the deadline has passed. PostgreSQL: ``statement_timeout``, set to the
    time left for the rest of the transaction (``SET LOCAL``: the transaction's end resets it),
    once per transaction for a quick call (see :data:`TIMEOUT_REFRESH_SECONDS`).
    """
    connection = env._session.connection()  # on SQLite, maybe after waiting for the lock
    deadline = until()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and raw is not None:
        raw.set_progress_handler(lambda: time.monotonic() > deadline, _SQLITE_STEPS)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)
        return
    if connection.dialect.name == "postgresql":
        now = time.monotonic()
        transaction = connection.get_transaction()
        held = connection.info.get(_TIMEOUT_SET)
        if (
            held is None
            or held[0] is not transaction
            or held[2] != deadline
            or now - held[1] > TIMEOUT_REFRESH_SECONDS
        ):
            left_ms = max(int((deadline - now) * 1000), 1)
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {left_ms:d}")
            # Set inside a savepoint, it would be undone with it: not kept for later then.
            kept = connection.get_nested_transaction() is None
            connection.info[_TIMEOUT_SET] = (transaction, now, deadline) if kept else None
    yield
