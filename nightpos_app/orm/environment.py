"""The environment: the entry point of the record API (``env['sale.order']``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nightpos_app.exceptions import UnknownModelError
from nightpos_app.orm.recordset import RecordSet
from nightpos_app.sandbox.records import register_record_types

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from nightpos_app.orm.registry import ModelRegistry


class Environment:
    """Binds the model registry to one database session.

    ``env['res.partner']`` is an empty recordset of that model, from which
    ``browse``, ``search`` and ``create`` start; an unknown name raises
    :class:`~nightpos_app.exceptions.UnknownModelError`, a ``KeyError``. The
    session and the registry are private: code given an environment reaches
    records only through the record API.

    An environment is made for automation code unless ``trusted``: what each model
    declares (:mod:`nightpos_app.orm.registry`) then holds for everything reached from it —
    secret fields are neither read (attributes, ``read()``, ``mapped()``, ``filtered()``),
    searched (domains, dotted paths too), sorted by nor written; models that code may only
    read refuse ``create``, ``write`` and ``unlink``; models closed to code are unknown. Host
    code that must see secrets or write those models (tests, tools) asks for a trusted one
    (``get_env(trusted=True)``). The flag is private and nothing public copies an
    environment, so code handed one can never reach the other kind.
    """

    __slots__ = ("_final_writes", "_loaded", "_registry", "_session", "_trusted")

    def __init__(self, session: Session, registry: ModelRegistry, *, trusted: bool = False) -> None:
        self._session = session
        self._registry = registry
        self._trusted = trusted
        # The session's identity map holds objects weakly: records loaded in a
        # batch are kept here so the next records read find them still loaded.
        self._loaded: dict[tuple[type, int], Any] = {}
        # Set by store.final_writes: writes go without a savepoint.
        self._final_writes = False

    def __getitem__(self, model_name: str) -> RecordSet:
        entry = self._registry[model_name]
        if not (self._trusted or entry.code_may_read):
            raise UnknownModelError(f"model {model_name!r} is not available to automation code")
        return RecordSet(self, entry)

    def __contains__(self, model_name: object) -> bool:
        if model_name not in self._registry:
            return False
        return self._trusted or self._registry[model_name].code_may_read  # type: ignore[index]

    @property
    def _dialect(self) -> str:
        """The database's SQL dialect (``'sqlite'``, ``'postgresql'``), for domains."""
        return self._session.get_bind().dialect.name

    def __repr__(self) -> str:
        return f"<Environment models={len(self._registry)}>"


# Admin code handed these (tests of the sandbox's first layer, in process) sees the record API.
register_record_types(RecordSet, Environment)
