"""The model registry: technical names (``sale.order``) to mapped classes.

One registry per app. Addons register their models in the models phase; a
second model claiming a taken technical name stops start-up, naming both
addons. Rules and payloads only ever store technical names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from nightpos_app.exceptions import StartupError, UnknownModelError
from nightpos_app.orm.domain import compile_order
from nightpos_app.orm.fields import FieldInfo, read_fields


@dataclass
class ModelEntry:
    """One registered model: its technical name, human label and mapped class."""

    name: str
    description: str
    model_class: type[Any]
    addon: str
    #: Default search order, e.g. ``"name, id"``.
    order: str = "id"
    #: Read-only computed attributes exposed to the record API: name -> label.
    computed: dict[str, str] = field(default_factory=dict)
    fields: dict[str, FieldInfo] = field(default_factory=dict)

    @property
    def table_name(self) -> str:
        return self.model_class.__table__.name

    @property
    def resource_name(self) -> str:
        """The REST resource name: the technical name with dots as underscores."""
        return self.name.replace(".", "_")

    def field(self, name: str) -> FieldInfo:
        """The field called ``name``; a clear ``KeyError`` when there is none."""
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"model {self.name!r} has no field {name!r}") from None


class ModelRegistry:
    """Technical name -> :class:`ModelEntry`, filled by addons at start-up."""

    def __init__(self) -> None:
        self._entries: dict[str, ModelEntry] = {}
        self._by_class: dict[type[Any], ModelEntry] = {}

    def register(self, model_class: type[Any], addon: str) -> ModelEntry:
        """Register ``model_class`` (which must declare ``__model_name__``) for ``addon``."""
        name = getattr(model_class, "__model_name__", None)
        if not isinstance(name, str) or not name:
            raise StartupError(
                f"addon {addon!r}: model class {model_class.__name__} has no __model_name__"
            )
        mapper = sa.inspect(model_class, raiseerr=False)
        if not isinstance(mapper, sa.orm.Mapper):
            raise StartupError(f"addon {addon!r}: {model_class.__name__} is not a mapped class")
        # Recordsets are sets of integer ids: the key must be one integer ``id``.
        key = mapper.primary_key
        if (
            len(key) != 1
            or mapper.get_property_by_column(key[0]).key != "id"
            or not isinstance(key[0].type, sa.Integer)
        ):
            raise StartupError(
                f"addon {addon!r}: model {name!r} ({model_class.__name__}) needs an integer "
                "primary key named 'id'"
            )
        existing = self._entries.get(name)
        if existing is not None:
            raise StartupError(
                f"addon {addon!r}: model {name!r} ({model_class.__name__}) is already "
                f"registered by addon {existing.addon!r} ({existing.model_class.__name__})"
            )
        entry = ModelEntry(
            name=name,
            description=getattr(model_class, "__model_description__", name),
            model_class=model_class,
            addon=addon,
            order=getattr(model_class, "__model_order__", "id"),
            computed=dict(getattr(model_class, "__model_computed__", {})),
        )
        self._entries[name] = entry
        self._by_class[model_class] = entry
        return entry

    def finalize(self) -> None:
        """Read every model's fields, once all models are known (for comodels)."""
        names = {cls: entry.name for cls, entry in self._by_class.items()}
        for entry in self._entries.values():
            try:
                entry.fields = read_fields(sa.inspect(entry.model_class), names)
                # A default order naming no field would fail every search: fail now.
                compile_order(entry, None)
            except Exception as exc:
                raise StartupError(f"addon {entry.addon!r}: model {entry.name!r}: {exc}") from exc

    def __getitem__(self, name: str) -> ModelEntry:
        """The model called ``name``; an :class:`UnknownModelError` (a ``KeyError``) naming it."""
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise UnknownModelError(f"unknown model {name!r}")
        return entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def entry_for_class(self, model_class: type[Any]) -> ModelEntry:
        return self._by_class[model_class]
