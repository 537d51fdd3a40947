"""The collection as users get it: `ansible-galaxy collection build`, installed offline into an empty
collections path, runs the audit on the founding incident from there, not from this checkout."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.playbook

# Development tooling and local state that must not ship (galaxy.yml build_ignore).
NOT_SHIPPED = ("tests", "bench", "lab", "scripts", "reports", "docs/output", ".venv", ".collections", ".ci", ".git",
               ".pytest_cache", ".hypothesis", "ansible.cfg", "pytest.ini", "requirements-test.txt",
               ".ansible-lint", "changelogs/.plugin-cache.yaml")
SHIPPED = ("MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "playbooks/audit.yml",
           "roles/audit/meta/argument_specs.yml", "roles/audit/tasks/main.yml", "inventories/example/hosts.yml",
           "inventories/example/files/partner-fw.rules", "inventories/example/files/border-router.cfg",
           "changelogs/changelog.yaml", "requirements.txt")


def clean_env(tmp, **extra):
    """An empty ansible.cfg and no checkout on any collections path: only what the test names."""
    config = tmp / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PYTHONPATH"))}
    env.update(ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
               **extra)
    return env


def run(*command, cwd, env, timeout=300):
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    build = run(BIN / "ansible-galaxy", "collection", "build", ROOT, "--output-path", out, cwd=out,
                env=clean_env(out))
    assert build.returncode == 0, build.stdout + build.stderr
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    path = out / ("diffserv-audit-%s.tar.gz" % version)
    assert path.is_file(), build.stdout
    return path


def test_the_tarball_ships_the_collection_and_no_development_tooling(tarball):
    with tarfile.open(tarball) as archive:
        names = {member.name.rstrip("/") for member in archive.getmembers()}
    leaked = sorted(name for name in names for prefix in NOT_SHIPPED if name == prefix or name.startswith(prefix + "/"))
    assert not leaked
    assert not [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".tar.gz", ".retry"))]
    assert set(SHIPPED) <= names
    modules = {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")}
    actions = {p.stem for p in (ROOT / "plugins" / "action").glob("*.py")}
    assert {"plugins/modules/%s.py" % m for m in modules} | {"plugins/action/%s.py" % a for a in actions} <= names
    manifest = json.loads(tarball_member(tarball, "MANIFEST.json"))
    assert manifest["collection_info"]["namespace"] == "diffserv" and manifest["collection_info"]["name"] == "audit"


def tarball_member(tarball, name):
    with tarfile.open(tarball) as archive:
        return archive.extractfile(name).read().decode()


def test_installed_offline_into_a_clean_path_the_audit_finds_the_dscp_1_conflict(tarball, tmp_path):
    collections = tmp_path / "collections"
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(tmp_path, ANSIBLE_COLLECTIONS_PATH=str(collections))
    install = run(BIN / "ansible-galaxy", "collection", "install", tarball, "-p", collections, "--offline",
                  "--no-deps", cwd=work, env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    installed = collections / "ansible_collections" / "diffserv" / "audit"
    assert (installed / "MANIFEST.json").is_file() and not (installed / "tests").exists()

    # Every plugin resolves from the installed copy, not from the checkout.
    doc = run(BIN / "ansible-doc", "--json", "diffserv.audit.collect", cwd=work, env=env)
    assert doc.returncode == 0, doc.stderr
    filename = pathlib.Path(json.loads(doc.stdout)["diffserv.audit.collect"]["doc"]["filename"])
    assert filename.resolve().is_relative_to(installed.resolve())

    inventory = work / "example"
    shutil.copytree(installed / "inventories" / "example", inventory)
    report = work / "report"
    play = run(BIN / "ansible-playbook", "diffserv.audit.audit", "-i", inventory, "-e", "diffserv_report_dir=%s" % report,
               cwd=work, env=env)
    assert play.returncode == 0, play.stdout + play.stderr
    assert str(ROOT) not in play.stdout
    findings = json.loads((report / "findings.json").read_text())
    assert {c["dscp"] for c in findings["conflicts"]} == {1}
    syn_ack = next(c for c in findings["conflicts"] if c["marker"]["line"] == 35)
    assert syn_ack["marker"]["file"].endswith("partner-fw.rules")
    assert syn_ack["marker"]["rule"] == "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04"
    assert syn_ack["severity"] == "critical" and syn_ack["treatment"]["action"] == "null-routed"
    assert (report / "report.md").is_file()
