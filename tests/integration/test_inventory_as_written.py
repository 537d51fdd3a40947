"""Inventories as users write them, and one host's trouble staying that host's, through real ansible-playbook runs."""

import json

import pytest
import yaml

from tests.integration.test_playbooks import EXAMPLE, ansible

pytestmark = pytest.mark.playbook


def run_audit(tmp_path, inventory):
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    report = tmp_path / "report"
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(tmp_path / "hosts.yml"),
                  "-e", "diffserv_report_dir=%s" % report)
    findings = json.loads((report / "findings.json").read_text()) if (report / "findings.json").exists() else None
    return run, findings, report


def test_a_cisco_ios_users_inventory_is_audited_and_other_hosts_are_listed_with_the_reason(tmp_path):
    # Groups named as a cisco.ios user names them; the router's platform comes from ansible_network_os.
    # The firewall has diffserv_platform; the switch and the server have no platform we read.
    inventory = {"all": {
        "vars": {"diffserv_links": [{"from": "partner-fw:eth0", "to": "border:GigabitEthernet0/0"}]},
        "children": {
            "routers": {"hosts": {"border": {"ansible_network_os": "cisco.ios.ios",
                                             "diffserv_config_file": str(EXAMPLE / "border-router.cfg")}}},
            "firewalls": {"hosts": {"partner-fw": {"diffserv_platform": "iptables",
                                                   "diffserv_config_file": str(EXAMPLE / "partner-fw.rules")}}},
            "switches": {"hosts": {"access-sw1": {"ansible_network_os": "arista.eos.eos"}}},
            "servers": {"hosts": {"mail1": {}}},
        }}}
    run, findings, report = run_audit(tmp_path, inventory)
    assert run.returncode == 0, run.stdout + run.stderr
    assert findings["summary"]["routers"] == ["border"] and findings["summary"]["firewalls"] == ["partner-fw"]
    assert any(c["marker"]["line"] == 35 and c["treatment"]["host"] == "border" for c in findings["conflicts"])
    not_audited = {item["host"]: item["reason"] for item in findings["not_audited"]}
    assert set(not_audited) == {"access-sw1", "mail1"}
    assert "arista.eos.eos" in not_audited["access-sw1"] and "diffserv_platform" in not_audited["mail1"]
    assert findings["errors"] == []
    assert "[NOT AUDITED] mail1: not audited: no platform known" in run.stdout
    assert "## Hosts not audited" in (report / "report.md").read_text()


def test_one_bad_host_fails_alone_and_its_link_is_noted_under_its_error(tmp_path):
    truncated = tmp_path / "cut.rules"
    truncated.write_text((EXAMPLE / "partner-fw.rules").read_text().split("COMMIT")[0])
    inventory = {"all": {
        "vars": {"diffserv_links": [{"from": "cut-fw:eth0", "to": "border:GigabitEthernet0/0"},
                                    {"from": "partner-fw:eth0", "to": "border:GigabitEthernet0/0"}]},
        "children": {
            "ios_routers": {"hosts": {"border": {"diffserv_config_file": str(EXAMPLE / "border-router.cfg")}}},
            "linux_firewalls": {"hosts": {
                "partner-fw": {"diffserv_config_file": str(EXAMPLE / "partner-fw.rules")},
                "cut-fw": {"diffserv_config_file": str(truncated)}}},
        }}}
    run, findings, _report = run_audit(tmp_path, inventory)
    assert run.returncode != 0  # the bad host fails in the recap
    assert "cut-fw" in run.stdout and "failed=1" in run.stdout
    (error,) = findings["errors"]
    assert error["host"] == "cut-fw" and "cut.rules" in error["reason"]
    assert error["links"] == ["diffserv_links[0] (cut-fw:eth0 -> border:GigabitEthernet0/0) not analysed: this host failed"]
    assert any(c["marker"]["host"] == "partner-fw" and c["marker"]["line"] == 35 for c in findings["conflicts"])
