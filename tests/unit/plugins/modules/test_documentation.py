"""Every module file documents itself in YAML that loads, with EXAMPLES and RETURN."""

import importlib
import pathlib

import pytest
import yaml

MODULES = sorted(p.stem for p in (pathlib.Path(__file__).resolve().parents[4] / "plugins" / "modules").glob("*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_loads_and_is_complete(name):
    module = importlib.import_module("ansible_collections.diffserv.audit.plugins.modules.%s" % name)
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["module"] == name
    assert documentation["short_description"] and documentation["description"]
    for option, spec in documentation.get("options", {}).items():
        assert spec.get("description"), option
        assert spec.get("type"), option
    assert yaml.safe_load(module.EXAMPLES)
    assert yaml.safe_load(module.RETURN)


def test_every_action_plugin_has_its_module_file():
    root = pathlib.Path(__file__).resolve().parents[4] / "plugins"
    actions = {p.stem for p in (root / "action").glob("*.py")}
    assert actions == set(MODULES)


def test_credentials_are_no_log_in_the_argument_spec():
    from ansible_collections.diffserv.audit.plugins.plugin_utils.argspec import argument_spec
    spec = argument_spec("collect")
    assert spec["password"]["no_log"] is True and spec["become_password"]["no_log"] is True
    assert not spec["username"].get("no_log")
