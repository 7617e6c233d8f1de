"""Meta-tests that keep the hooks, their docs, their tests and the plugin manager honest
(after datasette's tests/test_plugins.py), and the disabled states of channels."""

from __future__ import annotations

import ast
import configparser
import importlib
import inspect
import re
from pathlib import Path

import pluggy
import pytest
import yaml

from core import hookspecs
from core.adapter import AdapterRegistry
from core.canonical import InboundMessage
from core.hookspecs import hookimpl
from gateway.plugins import DEFAULT_PLUGINS, get_plugin_manager
from tests.plugins import spool_channel

ROOT = Path(__file__).resolve().parents[1]
HOOK_DOCS = ROOT / "docs" / "plugin_hooks.md"
HOOK_TESTS = Path(__file__).parent / "test_hooks.py"
HEADING = re.compile(r"^## (kanal_\w+)\((.*)\)\s*$", re.MULTILINE)

SPECS = {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "kanal_spec")}


def arguments(name: str) -> list[str]:
    return list(inspect.signature(SPECS[name]).parameters)


def documented() -> dict[str, list[str]]:
    return {m[1]: [a.strip() for a in m[2].split(",") if a.strip()]
            for m in HEADING.finditer(HOOK_DOCS.read_text(encoding="utf-8"))}


def message(text: str = "Ada masalah") -> InboundMessage:
    return InboundMessage(channel="fake", official_channel="test", external_id="m1", text=text)


def test_there_are_hooks():
    assert len(SPECS) >= 5
    assert all(name.startswith("kanal_") for name in SPECS)


# -- (a) every hook has its test ---------------------------------------------------------


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_every_hook_has_a_test(hook):
    tree = ast.parse(HOOK_TESTS.read_text(encoding="utf-8"))
    tests = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert f"test_hook_{hook}" in tests


# -- (b), (c) every hook is documented, and only hooks that exist ----------------------


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_every_hook_is_documented(hook):
    docs = documented()
    assert hook in docs, f"docs/plugin_hooks.md has no '## {hook}(...)' heading"
    assert docs[hook] == arguments(hook)


def test_no_documented_hook_is_missing_from_the_specs():
    assert set(documented()) - set(SPECS) == set()


def test_headings_appear_once():
    names = HEADING.findall(HOOK_DOCS.read_text(encoding="utf-8"))
    assert len(names) == len({n for n, _ in names})


# -- (d) the plugin manager ------------------------------------------------------------


def test_get_plugin_manager_registers_the_built_ins():
    pm = get_plugin_manager()
    for name, module in DEFAULT_PLUGINS.items():
        assert pm.get_plugin(name) is importlib.import_module(module)
    registry = AdapterRegistry()
    pm.hook.kanal_register_adapters(register=registry)
    assert registry.names() == sorted(DEFAULT_PLUGINS)


@pytest.mark.parametrize("load_entrypoints", [True, False], ids=["entry-points", "defaults"])
def test_built_ins_are_registered_once_under_their_names(load_entrypoints):
    """kanal's own entry points name the same modules, so loading them adds nothing."""
    pm = get_plugin_manager(load_entrypoints=load_entrypoints)
    for name, module in DEFAULT_PLUGINS.items():
        assert pm.get_name(importlib.import_module(module)) == name


class Misspelt:
    @hookimpl
    def kanal_clasify(self, message):
        return "sampah"


def test_check_pending_rejects_a_misspelt_hookimpl():
    with pytest.raises(pluggy.PluginValidationError, match="kanal_clasify"):
        get_plugin_manager(extra=(Misspelt(),))


class UnknownArgument:
    @hookimpl
    def kanal_classify(self, message, reporter):
        return "sampah"


def test_a_hookimpl_cannot_ask_for_an_argument_the_spec_lacks():
    with pytest.raises(pluggy.PluginValidationError, match="reporter"):
        get_plugin_manager(extra=(UnknownArgument(),))


class FewerArguments:
    @hookimpl
    def kanal_classify(self):
        return "lainnya"


def test_a_hookimpl_may_take_fewer_arguments():
    pm = get_plugin_manager(extra=(FewerArguments(),))
    assert pm.hook.kanal_classify(message=message()) == "lainnya"


class AsyncClassifier:
    @hookimpl
    async def kanal_classify(self, message):
        return "banjir"


def test_hooks_are_synchronous():
    """An async hookimpl is called like any function: pluggy hands back the coroutine."""
    pm = get_plugin_manager(extra=(AsyncClassifier(),))
    result = pm.hook.kanal_classify(message=message())
    assert inspect.iscoroutine(result)
    result.close()


# -- (e) blocking ----------------------------------------------------------------------


def test_blocked_plugin_is_not_registered():
    pm = get_plugin_manager(blocked=["fake"])
    assert pm.is_blocked("fake")
    assert pm.get_plugin("fake") is None
    registry = AdapterRegistry()
    pm.hook.kanal_register_adapters(register=registry)
    assert registry.names() == sorted(set(DEFAULT_PLUGINS) - {"fake"})


def test_disable_plugins_setting_disables_the_channel(make_kanal, settings):
    kanal = make_kanal(settings=settings.model_copy(update={"disable_plugins": ["fake"]}))
    assert "fake" not in kanal.adapters
    status = kanal.channel("fake")
    assert status.state == "disabled"
    assert status.reason == "adapter 'fake' is blocked by KANAL_DISABLE_PLUGINS"
    assert kanal.channel("jaki").state == "ready"


@pytest.mark.parametrize("raw,expected", [
    ("fake", ["fake"]), ("fake, case_engine", ["fake", "case_engine"]),
    ('["fake"]', ["fake"]), ("", []),
], ids=["one", "comma-separated", "json", "empty"])
def test_disable_plugins_from_the_environment(monkeypatch, raw, expected):
    from core.settings import KanalSettings
    monkeypatch.setenv("KANAL_DISABLE_PLUGINS", raw)
    assert KanalSettings(_env_file=None).disable_plugins == expected


def test_the_case_engine_can_be_blocked_by_name(make_kanal, settings):
    kanal = make_kanal(settings=settings.model_copy(update={"disable_plugins": ["case_engine"]}))
    assert kanal.pm.get_plugin("case_engine") is None
    assert kanal.pm.get_plugin("outbound_texts") is not None


class OtherFake:
    from core.hookspecs import hookimpl

    @hookimpl
    def kanal_register_adapters(self, register):
        from core.adapter import Adapter

        class Impostor(Adapter):
            name = "fake"

        register(Impostor)


def test_two_plugins_claiming_one_adapter_name_disable_its_channels(make_kanal):
    kanal = make_kanal(extra_plugins=(OtherFake(),))
    status = kanal.channel("fake")
    assert status.state == "disabled"
    assert "two plugins register adapter 'fake'" in status.reason
    assert kanal.channel("jaki").state == "ready"


# -- (f) setup.cfg and DEFAULT_PLUGINS agree -------------------------------------------


def test_entry_points_match_default_plugins():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = [line.strip() for line in cfg["options.entry_points"]["kanal"].splitlines()
             if line.strip()]
    entry_points = dict(tuple(part.strip() for part in line.split("=", 1)) for line in lines)
    assert entry_points == DEFAULT_PLUGINS


# -- (g), (h) the specs themselves -----------------------------------------------------


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hookspec_docstring_and_params(hook):
    doc = inspect.getdoc(SPECS[hook])
    assert doc and doc.splitlines()[0].strip(), "a one-line summary first"
    assert re.findall(r"^:param (\w+):", doc, re.MULTILINE) == arguments(hook)


def test_only_single_answer_hooks_are_firstresult():
    firstresult = {name for name, fn in SPECS.items() if fn.kanal_spec.get("firstresult")}
    assert firstresult == {"kanal_classify", "kanal_locate", "kanal_format_outbound"}


# -- disabled channels and their reasons (docs/adapters.md) ----------------------------


@pytest.fixture
def spool_dir(tmp_path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


def spool_settings(directory, **extra) -> dict:
    return {"directory": str(directory), "token": "${KANAL_SPOOL_TOKEN}", **extra}


CASES = {
    "disabled-in-file": (lambda d: {"adapter": "spool", "enabled": False,
                                    "settings": spool_settings(d)},
                         "disabled in the channels file"),
    "adapter-missing": (lambda d: {"adapter": "no-such-adapter", "settings": {}},
                        "adapter 'no-such-adapter' is not installed (not built yet)"),
    "library-missing": (lambda d: {"adapter": "spool-needs-lib",
                                   "settings": spool_settings(d)},
                        "library not installed: kanal_test_module_that_is_not_installed"),
    "secret-not-set": (lambda d: {"adapter": "spool",
                                  "settings": {**spool_settings(d),
                                               "token": "${KANAL_SPOOL_UNSET}"}},
                       "secret not set: KANAL_SPOOL_UNSET"),
    "invalid-settings": (lambda d: {"adapter": "spool",
                                    "settings": spool_settings(d, colour="red")},
                         "invalid settings: colour: Extra inputs are not permitted"),
    "check-reason": (lambda d: {"adapter": "spool",
                                "settings": spool_settings(d / "gone")},
                     "spool directory {d}/gone does not exist"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_channel_disabled_with_reason(make_kanal, settings, tmp_path, spool_dir, case):
    channel, reason = CASES[case]
    config = tmp_path / "channels.yaml"
    config.write_text(yaml.safe_dump({
        "official_channels": [{"id": "test", "number": None, "name": "Test channel"}],
        "channels": [
            {"id": "broken", "official_channel": "test", **channel(spool_dir)},
            {"id": "fine", "official_channel": "test", "adapter": "spool",
             "settings": spool_settings(spool_dir)},
        ],
    }), encoding="utf-8")
    kanal = make_kanal(settings=settings.model_copy(update={"config": config}),
                       extra_plugins=(spool_channel,), env={"KANAL_SPOOL_TOKEN": "t"})
    broken = kanal.channel("broken")
    assert (broken.state, broken.reason) == ("disabled", reason.format(d=spool_dir))
    assert broken.adapter is None and "broken" not in kanal.adapters
    assert kanal.channel("fine").state == "ready"  # the other channels keep running
