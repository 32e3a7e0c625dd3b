"""The environment: the entry point of the record API (``env['sale.order']``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nightpos_app.orm.recordset import RecordSet

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
    """

    __slots__ = ("_final_writes", "_loaded", "_registry", "_session")

    def __init__(self, session: Session, registry: ModelRegistry) -> None:
        self._session = session
        self._registry = registry
        # The session's identity map holds objects weakly: records loaded in a
        # batch are kept here so the next records read find them still loaded.
        self._loaded: dict[tuple[type, int], Any] = {}
        # Set by store.final_writes: writes go without a savepoint.
        self._final_writes = False

    def __getitem__(self, model_name: str) -> RecordSet:
        return RecordSet(self, self._registry[model_name])

    def __contains__(self, model_name: object) -> bool:
        return model_name in self._registry

    @property
    def _dialect(self) -> str:
        """The database's SQL dialect (``'sqlite'``, ``'postgresql'``), for domains."""
        return self._session.get_bind().dialect.name

    def __repr__(self) -> str:
        return f"<Environment models={len(self._registry)}>"
