"""The plugin manager factory. Built-ins are registered by the same path as third-party
plugins: their modules are imported by name, then the ``kanal`` entry points are loaded."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from core import hookspecs

# entry-point name -> module; the same names as in setup.cfg, so an installed copy of a
# built-in is not registered twice
DEFAULT_PLUGINS = {
    "jaki": "adapters.jaki.plugin",
    "web": "adapters.web.plugin",
    "fake": "adapters.fake.plugin",
}


def get_plugin_manager(*, blocked: Iterable[str] = (), extra: Iterable[object] = (),
                       load_entrypoints: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("kanal")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for name, module in DEFAULT_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module), name)
    for plugin in extra:
        pm.register(plugin)
    if load_entrypoints:
        pm.load_setuptools_entrypoints("kanal")
    pm.check_pending()
    return pm


def plugin_info(pm: pluggy.PluginManager) -> list[dict]:
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        out.append({"name": name, "hooks": hooks})
    return sorted(out, key=lambda p: p["name"])
