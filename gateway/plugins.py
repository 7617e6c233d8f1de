"""The plugin manager factory. Built-ins are registered by the same path as third-party
plugins: their modules are imported by name, then the ``kanal`` entry points are loaded."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

import pluggy

from core import hookspecs

# entry-point name -> module; the same names as in setup.cfg, so an installed copy of a
# built-in is not registered twice
DEFAULT_PLUGINS = {
    "jaki": "adapters.jaki.plugin",
    "web": "adapters.web.plugin",
    "fake": "adapters.fake.plugin",
    "sms": "adapters.sms.plugin",
    "telegram": "adapters.telegram.plugin",
    "facebook": "adapters.facebook.plugin",
    "email": "adapters.email.plugin",
    "walk_in": "adapters.walk_in.plugin",
    "twitter": "adapters.twitter.plugin",
    "lapor": "adapters.lapor.plugin",
    "open311": "adapters.open311.plugin",
}


def get_plugin_manager(*, blocked: Iterable[str] = (), extra: Iterable[object] = (),
                       named: Mapping[str, object] | None = None,
                       load_entrypoints: bool = True) -> pluggy.PluginManager:
    """Specs, block list, built-in modules, built-in objects (``named``: the case engine
    and the texts, which need settings), extra objects, then third-party entry points."""
    pm = pluggy.PluginManager("kanal")
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for name, module in DEFAULT_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module), name)
    for name, plugin in (named or {}).items():
        if not pm.is_blocked(name):
            pm.register(plugin, name)
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
