"""Collection quality as the Ansible ecosystem measures it: ansible-lint (production profile),
ansible-test sanity, antsibull-changelog, ansible-doc for every module and role, role argument specs;
and mypy --strict over the pure-Python core (plugins/module_utils, mypy.ini).

Select them with `-k test_quality` (or the file's path). ansible-test sanity takes about 2.5 minutes on a
machine where it never ran (it builds a virtual environment per test) and about 40 seconds after.
"""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def run(*command, timeout=300, env=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), NO_COLOR="1",
               PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")), **(env or {}))
    return subprocess.run([str(c) for c in command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_ansible_lint_production_profile_is_clean():
    lint = run(BIN / "ansible-lint", "--offline", "--profile", "production", "--nocolor")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Profile 'production' was required, and it passed." in lint.stdout + lint.stderr


def test_ansible_test_sanity_is_clean():
    sanity = run("bash", ROOT / "scripts" / "sanity.sh", timeout=900)
    output = sanity.stdout + sanity.stderr
    problems = [line for line in output.splitlines() if line.startswith(("ERROR:", "FATAL:"))]
    assert sanity.returncode == 0, "\n".join(problems) or output[-5000:]
    assert 'Running sanity test "validate-modules"' in output and 'Running sanity test "pylint"' in output


def test_changelog_fragments_and_changelog_yaml_lint_clean():
    fragments = run(BIN / "antsibull-changelog", "lint")
    assert fragments.returncode == 0 and not fragments.stdout.strip(), fragments.stdout + fragments.stderr
    changes = run(BIN / "antsibull-changelog", "lint-changelog-yaml", ROOT / "changelogs" / "changelog.yaml")
    assert changes.returncode == 0 and not changes.stdout.strip(), changes.stdout + changes.stderr


MYPY_PACKAGE = "ansible_collections.diffserv.audit.plugins.module_utils"


def test_mypy_strict_on_the_core_is_clean():
    # The package resolves through .collections/ (mypy.ini: mypy_path), as tests/conftest.py imports it;
    # the cache under .mypy_cache keeps a warm run under a second (about 5 seconds cold).
    assert (ROOT / ".collections" / "ansible_collections" / "diffserv" / "audit").is_dir(), "run scripts/setup.sh"
    mypy = run(BIN / "mypy", "--config-file", ROOT / "mypy.ini", "--strict", "-p", MYPY_PACKAGE, timeout=120)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    assert "Success: no issues found" in mypy.stdout, mypy.stdout + mypy.stderr


REFRESH = ("PATH=.venv/bin:$PATH antsibull-changelog release --version %s --update-existing --reload-plugins "
           "--refresh-plugins && rm changelogs/.plugin-cache.yaml")


def test_the_release_of_galaxy_yml_version_has_a_summary_and_every_module_and_role_it_added():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    release = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"][version]
    assert release["changes"]["release_summary"]
    added = {"module": set(), "role": set()}
    for name in MODULES:
        module = importlib.import_module("ansible_collections.diffserv.audit.plugins.modules.%s" % name)
        if str(yaml.safe_load(module.DOCUMENTATION).get("version_added")) == version:
            added["module"].add(name)
    for role in ROLES:
        specs = ROOT / "roles" / role / "meta" / "argument_specs.yml"
        main = yaml.safe_load(specs.read_text())["argument_specs"]["main"] if specs.is_file() else {}
        if str(main.get("version_added")) == version:
            added["role"].add(role)
    listed = {"module": {entry["name"] for entry in release.get("modules", [])},
              "role": {entry["name"] for entry in release.get("objects", {}).get("role", [])}}
    assert listed == added, "refresh the release notes: " + REFRESH % version


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_prints_documentation_examples_and_return_values(name):
    as_json = run(BIN / "ansible-doc", "--json", "diffserv.audit.%s" % name)
    assert as_json.returncode == 0, as_json.stderr
    entry = json.loads(as_json.stdout)["diffserv.audit.%s" % name]
    doc = entry["doc"]
    assert doc["short_description"] and doc["description"] and doc["version_added"]
    for option, spec in doc.get("options", {}).items():
        assert spec.get("description") and spec.get("type"), option
    assert entry["examples"].strip() and yaml.safe_load(entry["examples"])
    assert entry["return"] and all(value.get("description") for value in entry["return"].values())
    text = run(BIN / "ansible-doc", "diffserv.audit.%s" % name)
    assert text.returncode == 0, text.stderr
    for heading in ("OPTIONS", "EXAMPLES:", "RETURN VALUES:"):
        assert heading in text.stdout, heading


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_an_argument_spec_that_ansible_doc_shows(role):
    assert (ROOT / "roles" / role / "meta" / "argument_specs.yml").is_file()
    doc = run(BIN / "ansible-doc", "-t", "role", "--json", "diffserv.audit.%s" % role)
    assert doc.returncode == 0, doc.stderr
    main = json.loads(doc.stdout)["diffserv.audit.%s" % role]["entry_points"]["main"]
    assert main["short_description"] and main["description"]
    for option, spec in main.get("options", {}).items():
        assert spec.get("description") and spec.get("type"), option


@pytest.mark.playbook
@pytest.mark.parametrize("extra, message", [
    ({"diffserv_fail_on_conflict": "maybe"}, "argument 'diffserv_fail_on_conflict' is of type str and we were unable to convert to bool"),
    ({"diffserv_links": [{"from": "partner-fw:eth0"}]}, "missing required arguments: to found in diffserv_links"),
    ({"diffserv_links": "partner-fw:eth0"}, "diffserv_links"),
])
def test_a_bad_role_variable_fails_the_audit_before_the_analysis_naming_it(tmp_path, extra, message):
    extra = dict(extra, diffserv_report_dir=str(tmp_path / "report"))
    play = run(BIN / "ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example", "-e", json.dumps(extra))
    assert play.returncode != 0
    assert "Validation of arguments failed" in play.stdout and message in play.stdout, play.stdout[-3000:]
    assert "TASK [diffserv.audit.audit : Analyse every collected firewall and router]" not in play.stdout
    assert not (tmp_path / "report").exists()
