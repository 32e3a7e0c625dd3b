"""The model registry: technical names (``sale.order``) to mapped classes.

One registry per app. Addons register their models in the models phase; a
second model claiming a taken technical name stops start-up, naming both
addons. Rules and payloads only ever store technical names.

What automation code (the environment admin-written code gets; see
:class:`~nightpos_app.orm.Environment`) may do with a model is declared on its class:
``__model_code_access__`` is ``"write"`` (the default: read, search, create, write, delete),
``"read"`` (read and search only: a log, an outbox, the automation rules themselves) or
``"none"`` (not reachable at all); a column with ``info={"secret": True}`` is never read,
searched, sorted or written by it. FAB's security tables (``ab_*``: users and their password
hashes, roles, permissions, API keys) cannot be models at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from nightpos_app.exceptions import StartupError, UnknownModelError
from nightpos_app.orm.domain import compile_order
from nightpos_app.orm.fields import FieldInfo, read_fields

#: What automation code may do with a model's records (``__model_code_access__``).
CODE_ACCESS = ("write", "read", "none")
#: The prefix of Flask-AppBuilder's security tables (users, roles, permissions, API keys).
FAB_TABLE_PREFIX = "ab_"


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
    #: What automation code may do with the records: ``write``, ``read`` or ``none``.
    code_access: str = "write"

    @property
    def table_name(self) -> str:
        return self.model_class.__table__.name

    @property
    def resource_name(self) -> str:
        """The REST resource name: the technical name with dots as underscores."""
        return self.name.replace(".", "_")

    @property
    def code_may_read(self) -> bool:
        return self.code_access != "none"

    @property
    def code_may_write(self) -> bool:
        return self.code_access == "write"

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
        table = getattr(model_class, "__table__", None)
        if table is not None and str(table.name).startswith(FAB_TABLE_PREFIX):
            raise StartupError(
                f"addon {addon!r}: model {name!r} ({model_class.__name__}) is mapped to "
                f"{table.name!r}, one of Flask-AppBuilder's security tables: users, password "
                "hashes, roles and permissions stay out of the record API"
            )
        code_access = getattr(model_class, "__model_code_access__", "write")
        if code_access not in CODE_ACCESS:
            raise StartupError(
                f"addon {addon!r}: model {name!r} ({model_class.__name__}): "
                f"__model_code_access__ must be one of {', '.join(map(repr, CODE_ACCESS))}, "
                f"got {code_access!r}"
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
            code_access=code_access,
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
                # A default order naming no field would fail every search: fail now. Nor may
                # it sort by a secret: automation code's searches would, and a secret's order
                # among the records tells it a character at a time.
                compile_order(entry, None, for_code=True)
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
