"""The action type contract and the per-app registry of types."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import marshmallow

from nightpos_app.exceptions import StartupError

if TYPE_CHECKING:
    from nightpos_app.orm import Environment, RecordSet
    from nightpos_app.orm.registry import ModelEntry
    from nightpos_app.sandbox.process import IsolatedSandbox


class SettingsError(marshmallow.ValidationError):
    """Settings that the type cannot accept; ``messages`` maps setting names to problems."""


@dataclass
class ActionContext:
    """What an action sees when it runs: the environment, the payload, the sandbox."""

    env: Environment
    payload: Any
    sandbox: IsolatedSandbox
    #: Everything the Target Record found; each action runs on one of them at a time.
    records: RecordSet
    #: Standard names for admin code (datetime, json, log, UserError...).
    helpers: Mapping[str, Any]
    rule_name: str = ""
    rule_id: int = 0
    #: What started the run: ``webhook``, or the change of a record trigger (``create``,
    #: ``write``, ``unlink``).
    event: str = "webhook"
    #: The action running now (the engine sets them before each ``run``).
    action_id: int = 0
    action_name: str = ""
    #: On delete: the deleted records' last field values, by id (the rows are gone).
    deleted_values: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    def names(self, record: RecordSet) -> dict[str, Any]:
        """The names admin code gets: env, model, record, records, payload and the helpers."""
        return {
            **self.helpers,
            "env": self.env,
            "model": self.env[self.records.model_name],
            "records": self.records,
            "record": record,
            "payload": self.payload,
        }


class ActionType:
    """Base class of action types. Subclass it and return the class from
    ``nightpos_action_types``.

    Class attributes: ``key`` (stored in actions, never change it), ``label`` and
    ``description`` (shown in the type list), ``schema`` (a marshmallow schema of the
    settings). Labels and descriptions are English (the REST API and error messages use them
    as they are); the screens translate them, so mark them with ``nightpos_app.i18n.N_``.
    Override :meth:`check` for checks that need the rule's model, and :meth:`run`.
    """

    key: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    schema: ClassVar[type[marshmallow.Schema]]
    #: The verb an action left unnamed is named with, before the model it acts on ("Update"
    #: gives "Update Sales Order: Currency = USD"); empty: the label, without a model.
    name_verb: ClassVar[str] = ""

    def validate(
        self, settings: Any, model: ModelEntry, env: Environment, sandbox: IsolatedSandbox
    ) -> dict[str, Any]:
        """Load ``settings`` with the schema, then :meth:`check` them against ``model``.

        Raises :class:`SettingsError` (a marshmallow ``ValidationError``) with messages
        keyed by setting name.
        """
        if not isinstance(settings, Mapping):
            raise SettingsError({"settings": ["Action details must be an object."]})
        try:
            loaded = self.schema().load(dict(settings))
        except marshmallow.ValidationError as exc:
            raise SettingsError(exc.messages) from None
        self.check(loaded, model, env, sandbox)
        return loaded

    def check(
        self,
        settings: dict[str, Any],
        model: ModelEntry,
        env: Environment,
        sandbox: IsolatedSandbox,
    ) -> None:
        """Checks that need the rule's model (a field exists, code compiles). Default: none."""

    def warnings(self, settings: dict[str, Any]) -> list[str]:
        """Problems worth a warning when the action is saved, though it is saved (settings that
        will fail later, where this server is set up as it is now), in the user's language.
        Default: none."""
        return []

    def run(self, context: ActionContext, record: RecordSet, settings: dict[str, Any]) -> None:
        """Act on ``record``, one record of the Target Record (all of them are
        ``context.records``). Raise a ``UserError`` for errors the caller should read."""
        raise NotImplementedError


class ActionTypeRegistry:
    """The action types of one app, by key, in registration order."""

    def __init__(self) -> None:
        self._types: dict[str, ActionType] = {}

    def register_all(self, contributions: Iterable[tuple[str, Iterable[type[ActionType]]]]) -> None:
        """Register the classes each addon contributed; a bad or duplicate type stops start-up."""
        for addon_name, classes in contributions:
            for cls in classes or ():
                self._register(addon_name, cls)

    def _register(self, addon_name: str, cls: type[ActionType]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, ActionType)):
            raise StartupError(
                f"addon {addon_name!r}: action type {cls!r} is not an ActionType subclass"
            )
        for attribute in ("key", "label", "schema"):
            if not getattr(cls, attribute, None):
                raise StartupError(
                    f"addon {addon_name!r}: action type {cls.__name__} has no {attribute}"
                )
        if cls.key in self._types:
            raise StartupError(
                f"addon {addon_name!r}: action type key {cls.key!r} is already registered "
                f"({type(self._types[cls.key]).__name__})"
            )
        self._types[cls.key] = cls()

    def __getitem__(self, key: str) -> ActionType:
        try:
            return self._types[key]
        except KeyError:
            raise KeyError(f"unknown action type {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._types

    def __iter__(self) -> Iterator[ActionType]:
        return iter(self._types.values())

    def choices(self) -> list[tuple[str, str]]:
        return [(t.key, t.label) for t in self._types.values()]


#: A function that receives log lines written by admin code.
LogSink = Callable[[str], None]
