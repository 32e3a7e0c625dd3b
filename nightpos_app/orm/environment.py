"""The environment: the entry point of the record API (``env['sale.order']``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nightpos_app.orm.recordset import RecordSet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from nightpos_app.orm.registry import ModelRegistry


class Environment:
    """Binds the model registry to one database session.

    ``env['res.partner']`` is an empty recordset of that model, from which
    ``browse``, ``search`` and ``create`` start. The session is private: code
    given an environment reaches records only through the record API.
    """

    __slots__ = ("_registry", "_session")

    def __init__(self, session: Session, registry: ModelRegistry) -> None:
        self._session = session
        self._registry = registry

    def __getitem__(self, model_name: str) -> RecordSet:
        return RecordSet(self, self._registry[model_name])

    def __contains__(self, model_name: object) -> bool:
        return model_name in self._registry

    def __repr__(self) -> str:
        return f"<Environment models={len(self._registry)}>"
