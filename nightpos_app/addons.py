"""Addon discovery, manifests, dependency order and phased loading.

An addon is a Python package whose ``__init__`` defines ``manifest`` (a
:class:`Manifest`) and its hook implementations (see :mod:`nightpos_app.hooks`).
Addons are found through the ``nightpos.addons`` entry-point group (built-in
ones too) and, for development and tests, ``NIGHTPOS_ADDON_MODULES`` in the
config (name -> module path). ``NIGHTPOS_ADDONS`` says which are enabled; their
dependencies are enabled with them.

Loading fails loudly with :class:`~nightpos_app.exceptions.StartupError`,
naming the addon: an addon that is not installed, a missing dependency, a
cycle, an import error, a bad manifest, an invalid hook implementation or an
exception inside a phase hook stops start-up. (A duplicate model name is
caught by the model registry.)
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from nightpos_app import hooks
from nightpos_app.exceptions import StartupError

ENTRY_POINT_GROUP = "nightpos.addons"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StartupError(f"{what} {name!r} must be lowercase letters, digits and _")


@dataclass(frozen=True)
class Manifest:
    """What an addon says about itself: its name, version, summary and dependencies.

    ``name`` must equal the name the addon is installed under (its entry-point
    or ``NIGHTPOS_ADDON_MODULES`` key); ``depends`` names other addons, which
    are enabled and loaded before this one.
    """

    name: str
    version: str
    summary: str
    depends: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_name(self.name, "addon name")
        # `depends="sales"` would otherwise become ('s', 'a', 'l', 'e', 's').
        if isinstance(self.depends, str):
            raise StartupError(
                f"addon {self.name!r}: depends must be a tuple of addon names, "
                f"not the string {self.depends!r}"
            )
        object.__setattr__(self, "depends", tuple(self.depends))
        for dependency in self.depends:
            _check_name(dependency, f"addon {self.name!r}: dependency")


@dataclass(frozen=True)
class Addon:
    """A loaded addon: its manifest and package module."""

    manifest: Manifest
    module: ModuleType

    @property
    def name(self) -> str:
        return self.manifest.name


def discover(extra_modules: Mapping[str, str] | None = None) -> dict[str, str]:
    """Installed addons: name -> module path (entry points, then config extras).

    Two installed distributions claiming one addon name is an error: which one
    loads would depend on the order of ``sys.path``. ``extra_modules`` may
    override an entry point on purpose (development and tests).
    """
    found: dict[str, str] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        known = found.setdefault(entry_point.name, entry_point.value)
        if known != entry_point.value:
            raise StartupError(
                f"addon {entry_point.name!r} is installed twice, as {known!r} and "
                f"{entry_point.value!r}; uninstall one of them"
            )
    found.update(extra_modules or {})
    return found


def _import(name: str, module_path: str) -> Addon:
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:
        raise StartupError(
            f"addon {name!r}: cannot import {module_path!r}: {type(exc).__name__}: {exc}"
        ) from exc
    manifest = getattr(module, "manifest", None)
    if not isinstance(manifest, Manifest):
        raise StartupError(f"addon {name!r}: {module_path} defines no `manifest = Manifest(...)`")
    if manifest.name != name:
        raise StartupError(
            f"addon {name!r}: its manifest is named {manifest.name!r}; the names must match"
        )
    return Addon(manifest, module)


def resolve(enabled: Iterable[str] | str, available: Mapping[str, str]) -> list[Addon]:
    """Import the enabled addons and their dependencies, in dependency order.

    ``enabled`` may also be a comma-separated string, as it comes from the
    environment.
    """
    if isinstance(enabled, str):
        enabled = [name.strip() for name in enabled.split(",") if name.strip()]
    addons: dict[str, Addon] = {}
    pending = list(enabled)
    wanted_by: dict[str, str] = {}  # dependency -> the first addon that asked for it
    while pending:
        name = pending.pop(0)
        if name in addons:
            continue
        if name not in available:
            if name in wanted_by:
                raise StartupError(
                    f"addon {wanted_by[name]!r} depends on {name!r}, which is not installed"
                )
            raise StartupError(f"addon {name!r} is enabled but not installed")
        addon = _import(name, available[name])
        addons[name] = addon
        for dependency in addon.manifest.depends:
            wanted_by.setdefault(dependency, name)
            pending.append(dependency)
    return _order(addons)


def _order(addons: dict[str, Addon]) -> list[Addon]:
    """Dependencies first; among independent addons, alphabetical (deterministic)."""
    ordered: list[Addon] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise StartupError(f"addon {name!r} is in a dependency cycle: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for dependency in sorted(addons[name].manifest.depends):
            visit(dependency, [*path, name])
        state[name] = "done"
        ordered.append(addons[name])

    for name in sorted(addons):
        visit(name, [])
    return ordered


def make_plugin_manager(addons: Iterable[Addon]) -> pluggy.PluginManager:
    """A plugin manager with every addon registered and checked against the specs.

    pluggy checks an implementation's arguments when it is registered, and
    ``check_pending`` rejects implementations of hooks that have no spec (a
    misspelt hook name would otherwise never be called).
    """
    manager = pluggy.PluginManager(hooks.PROJECT)
    manager.add_hookspecs(hooks)
    for addon in addons:
        try:
            manager.register(addon.module, name=addon.name)
        except pluggy.PluginValidationError as exc:
            raise StartupError(f"addon {addon.name!r}: invalid hook implementation: {exc}") from exc
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        # pluggy's error carries the plugin (the addon's module), not our name for it.
        raise StartupError(f"addon {manager.get_name(exc.plugin)!r}: {exc}") from exc
    return manager


def call_phase(
    manager: pluggy.PluginManager, addons: Iterable[Addon], hook_name: str, **kwargs: Any
) -> list[tuple[Addon, Any]]:
    """Call one phase hook addon by addon, in dependency order.

    pluggy alone calls implementations in reverse registration order; a phase
    needs the dependency order, so each addon's implementation is called in
    turn, with the arguments it asks for out of ``kwargs``. An exception from
    an implementation becomes a :class:`StartupError` with the addon's name
    (a ``StartupError`` passes through: it names its addon already).
    """
    by_plugin = {
        impl.plugin_name: impl for impl in getattr(manager.hook, hook_name).get_hookimpls()
    }
    results = []
    for addon in addons:
        impl = by_plugin.get(addon.name)
        if impl is None:
            continue
        if impl.wrapper or impl.hookwrapper:
            # A wrapper is a generator: calling it directly would run nothing.
            raise StartupError(f"addon {addon.name!r}: {hook_name} cannot be a hook wrapper")
        missing = [arg for arg in impl.argnames if arg not in kwargs]
        if missing:
            # pluggy checked the implementation against the spec: the caller is at fault.
            raise TypeError(f"call_phase({hook_name!r}) is missing the arguments {missing}")
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except StartupError:
            # Already names the addon at fault, which may be another one: a
            # hook can run a phase of its own (webhooks collects action types).
            raise
        except Exception as exc:
            raise StartupError(
                f"addon {addon.name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
            ) from exc
        results.append((addon, result))
    return results
