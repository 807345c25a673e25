"""The plugin manager: built-in default plugins and third-party ones from the ``otvet`` entry-point group.

Built-in behaviour is registered through exactly the same ``pm.register`` call as an external plugin, so the
core has no private path around its own hooks.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from otvet.core import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "otvet"

#: Built-in plugins: short name → module. Order matters only for ``trylast``-free hooks that register names.
DEFAULT_PLUGINS: dict[str, str] = {
    "storage": "otvet.plugins.storage.plugin",
    "language": "otvet.plugins.language",
    "locales": "otvet.plugins.locales",
    "llm_extractive": "otvet.plugins.llm_extractive.plugin",
    "llm_openai": "otvet.plugins.llm_openai.plugin",
    "transcribe_openai": "otvet.plugins.transcribe_openai.plugin",
    "retrieval_bm25": "otvet.plugins.retrieval_bm25.plugin",
    "embedder_use": "otvet.plugins.embedder_use.plugin",
    "sources_text": "otvet.plugins.sources_text",
    "sources_qa": "otvet.plugins.sources_qa",
    "sources_html": "otvet.plugins.sources_html",
    "sources_pdf": "otvet.plugins.sources_pdf",
    "sources_docx": "otvet.plugins.sources_docx",
    "demo": "otvet.plugins.demo.plugin",
    "http_health": "otvet.frontends.health",
    "http_metrics": "otvet.frontends.metrics",
    "telegram": "otvet.frontends.telegram.plugin",
    "graphql": "otvet.frontends.graphql.plugin",
    "openai_api": "otvet.frontends.openai_api.plugin",
    "widget": "otvet.frontends.widget.plugin",
    "console": "otvet.frontends.console.plugin",
}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering which installed distribution each external plugin came from."""

    def __init__(self) -> None:
        super().__init__("otvet")
        self.distributions: dict[str, importlib.metadata.Distribution] = {}


class PluginLoadError(RuntimeError):
    """A configured plugin could not be found or imported."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    module: str
    builtin: bool
    version: str | None
    hooks: tuple[str, ...]


def make_plugin_manager(
    *, allow: Iterable[str] | None = None, disable: Iterable[str] = (), load_entry_points: bool = True
) -> PluginManager:
    """Build a plugin manager with the default plugins and, unless told otherwise, installed ones.

    ``allow`` lists the entry-point plugins to load (None: every installed one); ``disable`` names plugins,
    built-in or external, to leave out.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    disabled = set(disable)
    for name in disabled:
        pm.set_blocked(name)
    for name, module_name in DEFAULT_PLUGINS.items():
        if name in disabled:
            continue
        _register(pm, importlib.import_module(module_name), name)
    if load_entry_points:
        _load_entry_points(pm, None if allow is None else list(allow), disabled)
    pm.check_pending()
    return pm


def _register(pm: PluginManager, plugin: object, name: str) -> None:
    """Register ``plugin``, and the hooks it defines for other plugins (its ``otvet_hookspecs``: a module or
    class of ``@hookspec`` functions), so that a plugin's own extension points stay in the plugin."""
    pm.register(plugin, name=name)
    specs = getattr(plugin, "otvet_hookspecs", None)
    if specs is not None:
        pm.add_hookspecs(specs)


def _load_entry_points(pm: PluginManager, allow: list[str] | None, disabled: set[str]) -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    wanted = list(found) if allow is None else allow
    missing = [name for name in wanted if name not in found]
    if missing:
        installed = ", ".join(sorted(found)) or "none"
        raise PluginLoadError(
            f"plugin(s) {', '.join(missing)} listed in OTVET_PLUGINS are not installed; "
            f"installed: {installed}"
        )
    for name in wanted:
        if name in disabled or pm.has_plugin(name):
            continue
        entry_point = found[name]
        try:
            plugin = entry_point.load()
        except Exception as exc:  # an import error in someone else's package must name the package
            raise PluginLoadError(f"plugin {name!r} ({entry_point.value}) failed to import: {exc}") from exc
        _register(pm, plugin, name)
        if entry_point.dist is not None:
            pm.distributions[name] = entry_point.dist
        log.info("loaded plugin %s from %s", name, entry_point.value)


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Describe every registered plugin with the hooks it implements (for ``otvet plugins``)."""
    distributions = getattr(pm, "distributions", {})
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        module = getattr(plugin, "__name__", type(plugin).__module__)
        infos.append(
            PluginInfo(
                name=name,
                module=module,
                builtin=name in DEFAULT_PLUGINS and module == DEFAULT_PLUGINS[name],
                version=distributions[name].version if name in distributions else None,
                hooks=hooks,
            )
        )
    return sorted(infos, key=lambda info: (not info.builtin, info.name))
