"""Addon discovery, manifests, dependency order and phased loading.

An addon is a Python package whose ``__init__`` defines ``manifest`` (a
:class:`Manifest`) and its hook implementations (see :mod:`nightpos_app.hooks`).
Addons are found through the ``nightpos.addons`` entry-point group (built-in
ones too) and, for development and tests, ``NIGHTPOS_ADDON_MODULES`` in the
config (name -> module path). ``NIGHTPOS_ADDONS`` says which are enabled; their
dependencies are enabled with them.

Loading fails loudly, naming the addon: a missing dependency, a cycle, an
import error, an invalid hook or a duplicate model name stops start-up.
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


@dataclass(frozen=True)
class Manifest:
    """What an addon says about itself."""

    name: str
    version: str
    summary: str
    depends: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise StartupError(f"addon name {self.name!r} must be lowercase letters, digits and _")
        object.__setattr__(self, "depends", tuple(self.depends))


@dataclass(frozen=True)
class Addon:
    """A loaded addon: its manifest and package module."""

    manifest: Manifest
    module: ModuleType

    @property
    def name(self) -> str:
        return self.manifest.name


def discover(extra_modules: Mapping[str, str] | None = None) -> dict[str, str]:
    """Installed addons: name -> module path (entry points, then config extras)."""
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
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


def resolve(enabled: Iterable[str], available: Mapping[str, str]) -> list[Addon]:
    """Import the enabled addons and their dependencies, in dependency order."""
    addons: dict[str, Addon] = {}
    pending = list(enabled)
    wanted_by: dict[str, str] = {}
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
    """A plugin manager with every addon registered and checked against the specs."""
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
        raise StartupError(f"addon {exc.plugin_name!r}: {exc}") from exc
    return manager


def call_phase(
    manager: pluggy.PluginManager, addons: Iterable[Addon], hook_name: str, **kwargs: Any
) -> list[tuple[Addon, Any]]:
    """Call one phase hook addon by addon, in dependency order.

    pluggy alone calls implementations in reverse registration order; a phase
    needs the dependency order, so each addon's implementation is called in
    turn. An exception stops start-up with the addon's name.
    """
    by_plugin = {
        impl.plugin_name: impl for impl in getattr(manager.hook, hook_name).get_hookimpls()
    }
    results = []
    for addon in addons:
        impl = by_plugin.get(addon.name)
        if impl is None:
            continue
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except StartupError:
            raise
        except Exception as exc:
            raise StartupError(
                f"addon {addon.name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
            ) from exc
        results.append((addon, result))
    return results
