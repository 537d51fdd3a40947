"""Live collection through netmiko: a real sshd in a network namespace serving a real iptables-save,
and the IOS SSH device simulator (no Cisco image runs here: the simulator keeps real configuration
state and records every command it receives)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

pytestmark = [pytest.mark.lab, pytest.mark.playbook]
if os.geteuid() != 0 or not pathlib.Path("/usr/sbin/sshd").exists():
    pytest.skip("live collection needs root (network namespaces) and openssh-server", allow_module_level=True)

from lab import Lab  # noqa: E402

LINKS = [{"from": "fw1:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]
SHOW_ONLY = re.compile(r"^(show |terminal |enable$|<secret>$|exit$|$)")


def key(conflict):
    dport = re.search(r"--dport \S+", conflict["marker"]["rule"])
    return (conflict["dscp"], conflict["marker"]["chain"], dport.group(0) if dport else None,
            conflict["treatment"]["action"], tuple(line["line"] for line in conflict["treatment"]["lines"]))


def audit(lab, tmp_path, *extra):
    report = tmp_path / "report"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    run = subprocess.run([str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(lab.inventory_path),
                          "-e", json.dumps({"diffserv_links": LINKS, "diffserv_report_dir": str(report)}), *extra],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    findings_path = report / "findings.json"
    return run, json.loads(findings_path.read_text()) if findings_path.exists() else None


def test_live_audit_finds_what_the_saved_files_give_and_sends_only_show_commands(tmp_path):
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        run, findings = audit(lab, tmp_path)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        commands = [entry["command"] for entry in lab.routers[0].commands()]
        configuration = lab.routers[0].config_commands()
    assert "show running-config" in commands and configuration == []
    assert all(SHOW_ONLY.match(command) for command in commands), commands
    # The live dump is what iptables-save prints back (its own line numbers, `--set-tos 0x04/0xff`):
    # compare what the rules match and what the router does, not file positions.
    live = {key(c) for c in findings["conflicts"]}
    assert (1, "POSTROUTING", "--dport 512:65535", "null-routed", (46, 84, 51, 35, 48, 89, 90, 77, 91)) in live
    saved = subprocess.run(
        [str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", "inventories/example", "-e",
         json.dumps({"diffserv_links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}],
                     "diffserv_report_dir": str(tmp_path / "saved")})],
        cwd=ROOT, env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")), capture_output=True, text=True)
    assert saved.returncode == 0, saved.stdout[-3000:]
    from_files = {key(c) for c in json.loads((tmp_path / "saved" / "findings.json").read_text())["conflicts"]}
    assert live == from_files
    assert findings["errors"] == []


def test_wrong_password_fails_that_host_and_the_others_still_report(tmp_path):
    with Lab(firewalls=1, routers=1, faults={"*": {"reject_auth": True}}) as lab:
        run, findings = audit(lab, tmp_path)
    assert run.returncode != 0
    errors = {e["host"]: e["reason"] for e in findings["errors"]}
    assert "authentication failed for netops@" in errors["border-rtr1"]
    assert re.search(r"border-rtr1\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1", run.stdout)
    assert "fw1" not in errors and findings["summary"]["firewalls"] == ["fw1"]


def test_device_that_stops_answering_fails_within_its_timeout_and_nothing_partial_is_analysed(tmp_path):
    with Lab(firewalls=1, routers=1, faults={"*": {"silent_after_lines": 40}}) as lab:
        run, findings = audit(lab, tmp_path, "-e", "diffserv_collect_timeout=8")
    assert run.returncode != 0
    errors = {e["host"]: e["reason"] for e in findings["errors"]}
    assert "stopped answering" in errors["border-rtr1"] or "timed out" in errors["border-rtr1"].lower()
    assert findings["summary"]["routers"] == [] and findings["conflicts"] == []
