"""Ready for AWX / Automation Platform: the execution environment definition, --limit as Ansible users
mean it, and collection in slices (job slicing) with one analysis afterwards from the fact cache."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.integration.test_playbooks import EXAMPLE, ansible
from ansible_collections.diffserv.audit.plugins.module_utils.redact import seal

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
BUILDER = BIN / "ansible-builder"
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
pytestmark = pytest.mark.playbook
needs_builder = pytest.mark.skipif(not BUILDER.exists(), reason="ansible-builder is not installed in the venv "
                                   "(pip install ansible-builder==3.2.0; requirements-test.txt)")


def inventory(folder, extra_hosts=None):
    """The founding incident's two hosts (saved files), its link, and any other hosts given."""
    hosts = {"all": {"vars": {"diffserv_links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]},
                     "hosts": dict(extra_hosts or {}), "children": {
        "linux_firewalls": {"hosts": {"partner-fw": {"diffserv_config_file": str(EXAMPLE / "partner-fw.rules"),
                                                      "diffserv_managed": False}}},
        "ios_routers": {"hosts": {"border-rtr1": {"diffserv_config_file": str(EXAMPLE / "border-router.cfg")}}}}}}
    path = folder / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts))
    return path


def playbook(hosts, *args, env=None):
    if env:
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
    try:
        return ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(hosts), *args)
    finally:
        if env:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def comparable(findings):
    """What an audit found, without where its report folder was."""
    return {key: findings[key] for key in ("summary", "conflicts", "advisories", "errors", "unmodeled", "unused", "links",
                                           "not_audited")}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(out),
                          "--force"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return out / ("diffserv-audit-%s.tar.gz" % VERSION)


@needs_builder
def test_ansible_builder_creates_the_build_context_of_the_execution_environment(tarball, tmp_path):
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    (wanted,) = definition["dependencies"]["galaxy"]["collections"]
    assert wanted == {"name": "collections/diffserv-audit-%s.tar.gz" % VERSION, "type": "file"}
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    shutil.copy(tarball, tmp_path)
    run = subprocess.run([str(BUILDER), "create", "-f", "execution-environment.yml", "-c", "context"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    context = tmp_path / "context"
    recipe = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert "ansible-galaxy collection install" in recipe and "introspect" in recipe
    assert (context / "_build" / "collections" / tarball.name).is_file()
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"] == [wanted]


@needs_builder
def test_the_collection_names_its_python_and_system_dependencies_for_introspection(tarball, tmp_path):
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    install = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(tmp_path),
                              "--force"],
                             capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    run = subprocess.run([str(BUILDER), "introspect", "--sanitize", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    found = yaml.safe_load(run.stdout.split("\n", 1)[1])
    python = {line.split("==")[0] for line in found["python"]}
    assert {"netmiko", "paramiko", "hier-config", "jinja2", "textfsm"} <= python
    assert "ansible-core" not in python  # the EE brings its own
    assert any(line.startswith("ca-certificates") for line in found["system"])


def test_limit_selects_the_audited_hosts_and_notes_links_to_the_others(tmp_path):
    hosts = inventory(tmp_path, {"access-sw1": {"ansible_network_os": "arista.eos.eos"}})
    for limit in ("partner-fw", "partner-fw,localhost"):
        report = tmp_path / limit.replace(",", "_")
        run = playbook(hosts, "--limit", limit, "-e", "diffserv_report_dir=%s" % report)
        assert run.returncode == 0, run.stdout + run.stderr
        findings = json.loads((report / "findings.json").read_text())
        assert findings["summary"]["firewalls"] == ["partner-fw"] and findings["summary"]["routers"] == []
        assert findings["not_audited"] == [] and findings["conflicts"] == [] and findings["errors"] == []
        note = ("partner-fw:eth0 -> border-rtr1:GigabitEthernet0/0: not audited (border-rtr1 outside the hosts this "
                "run selects)")
        assert "[NOTE] %s" % note in run.stdout and note in (report / "report.md").read_text()
    # Both ends selected: the conflict is there, and the switch, outside the limit, is not even listed.
    report = tmp_path / "both"
    run = playbook(hosts, "--limit", "partner-fw,border-rtr1", "-e", "diffserv_report_dir=%s" % report)
    assert run.returncode == 0, run.stdout + run.stderr
    findings = json.loads((report / "findings.json").read_text())
    assert len(findings["conflicts"]) == 3 and findings["not_audited"] == []
    # Without a limit every host is there, the switch listed as not audited.
    report = tmp_path / "all"
    run = playbook(hosts, "-e", "diffserv_report_dir=%s" % report)
    assert run.returncode == 0, run.stdout + run.stderr
    assert [n["host"] for n in json.loads((report / "findings.json").read_text())["not_audited"]] == ["access-sw1"]


def test_a_limit_that_selects_nothing_to_audit_says_so_and_fails(tmp_path):
    hosts = inventory(tmp_path, {"access-sw1": {"ansible_network_os": "arista.eos.eos"}})
    run = playbook(hosts, "--limit", "no-such-host", "-e", "diffserv_report_dir=%s" % (tmp_path / "none"))
    assert run.returncode != 0 and "--limit leaves us with no hosts to target" in run.stdout + run.stderr
    assert not (tmp_path / "none").exists()
    run = playbook(hosts, "--limit", "access-sw1", "-e", "diffserv_report_dir=%s" % (tmp_path / "sw"))
    assert run.returncode != 0
    assert "Nothing to audit: the limit access-sw1 selects no firewall or router (1 host(s) not audited)" in run.stdout


@pytest.mark.parametrize("store", ["fact_cache", "collection_dir"])
def test_collection_in_slices_then_one_analysis_equals_one_run(tmp_path, store):
    hosts = inventory(tmp_path, {"access-sw1": {"ansible_network_os": "arista.eos.eos"}})
    one = tmp_path / "one"
    run = playbook(hosts, "-e", "diffserv_report_dir=%s" % one, "-e", "diffserv_write_bundles=false")
    assert run.returncode == 0, run.stdout + run.stderr
    if store == "fact_cache":
        env = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts")}
        extra = []
    else:
        env = {}
        extra = ["-e", "diffserv_collection_dir=%s" % (tmp_path / "collected")]
    # Two slices, as job slicing runs them: each collects its own hosts and writes no report.
    for limit in ("partner-fw,access-sw1", "border-rtr1"):
        run = playbook(hosts, "--limit", limit, "-e", "diffserv_stage=collect", *extra, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "diffserv.audit.audit : Analyse every collected" not in run.stdout  # no analysis in a slice
    if store == "fact_cache":
        # jsonfile keeps one file a host (named <prefix><host>), each holding the fact diffserv_collected.
        for host in ("partner-fw", "border-rtr1", "access-sw1"):
            (cached,) = [p for p in (tmp_path / "facts").iterdir() if p.name.endswith(host)]
            assert "diffserv_collected" in cached.read_text()
    else:
        assert sorted(p.name for p in (tmp_path / "collected").iterdir()) == ["access-sw1.json", "border-rtr1.json",
                                                                            "partner-fw.json"]
        # Each stored text carries collect's seal: the analysis need not redact it again (redact_sealed).
        stored = json.loads((tmp_path / "collected" / "border-rtr1.json").read_text())
        files = stored["collection"]["files"]
        assert files and all(item["redacted"] == seal(item["text"]) for item in files)
    sliced = tmp_path / "sliced"
    run = playbook(hosts, "-e", "diffserv_stage=analyze", "-e", "diffserv_report_dir=%s" % sliced,
                   "-e", "diffserv_write_bundles=false", *extra, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert comparable(json.loads((sliced / "findings.json").read_text())) == \
        comparable(json.loads((one / "findings.json").read_text()))


def test_analysis_without_a_stored_collection_names_the_host(tmp_path):
    hosts = inventory(tmp_path)
    stored = tmp_path / "collected"
    run = playbook(hosts, "--limit", "partner-fw", "-e", "diffserv_stage=collect", "-e", "diffserv_collection_dir=%s" % stored)
    assert run.returncode == 0, run.stdout + run.stderr
    report = tmp_path / "r"
    run = playbook(hosts, "-e", "diffserv_stage=analyze", "-e", "diffserv_collection_dir=%s" % stored,
                   "-e", "diffserv_report_dir=%s" % report)
    assert run.returncode != 0  # the host with nothing stored fails in the recap
    errors = json.loads((report / "findings.json").read_text())["errors"]
    assert [e["host"] for e in errors] == ["border-rtr1"]
    assert "border-rtr1: not collected (no stored collection in the fact cache or %s)" % stored in errors[0]["reason"]
