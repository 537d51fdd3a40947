"""A saved nft ruleset in a real audit run: recognised by its content under linux_firewalls, forced by
diffserv_platform, and the founding incident found as with the iptables dump (a playbook run)."""

import json
import pathlib

import pytest
import yaml

from tests.integration.test_playbooks import EXAMPLE, ansible

pytestmark = pytest.mark.playbook

NFT = pathlib.Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "inputs" / "nft"


def audit(tmp_path, firewalls):
    hosts = {}
    for name, (data, extra) in firewalls.items():
        path = tmp_path / name
        path.write_text(data)
        hosts[name.split(".")[0]] = dict({"diffserv_config_file": str(path)}, **extra)
    links = [{"from": "%s:eth0" % host, "to": "border:GigabitEthernet0/0"} for host in hosts]
    inventory = {"all": {"vars": {"diffserv_links": links}, "children": {
        "linux_firewalls": {"hosts": hosts},
        "ios_routers": {"hosts": {"border": {"diffserv_config_file": str(EXAMPLE / "border-router.cfg")}}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    report = tmp_path / "report"
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(tmp_path / "hosts.yml"),
                  "-e", "diffserv_report_dir=%s" % report)
    return run, json.loads((report / "findings.json").read_text())


def test_saved_nft_listings_under_linux_firewalls_are_read_by_the_nft_driver_and_find_the_incident(tmp_path):
    listing, as_json = (NFT / "partner-fw.nft").read_text(), (NFT / "partner-fw.json").read_text()
    run, findings = audit(tmp_path, {"text.nft": (listing, {}), "json.json": (as_json, {}),
                                     "forced.nft": (listing, {"diffserv_platform": "nftables"}),
                                     "legacy.rules": ((EXAMPLE / "partner-fw.rules").read_text(), {})})
    assert findings["errors"] == [] and run.returncode == 0, (findings["errors"], run.stdout[-2000:])
    for host, line in (("text", 16), ("json", 1), ("forced", 16)):
        found = [c for c in findings["conflicts"] if c["marker"]["host"] == host]
        assert any(c["marker"]["line"] == line and c["marker"]["table"] == "inet partner" and c["dscp"] == 1
                   and c["treatment"]["action"] == "null-routed" and c["severity"] == "critical" for c in found), found
    assert any(c["marker"]["host"] == "legacy" and c["marker"]["line"] == 35 for c in findings["conflicts"])


def test_diffserv_platform_forces_the_driver_even_against_the_content(tmp_path):
    run, findings = audit(tmp_path, {"wrong.nft": ((NFT / "partner-fw.nft").read_text(), {"diffserv_platform": "iptables"})})
    assert run.returncode != 0
    (error,) = findings["errors"]
    assert error["host"] == "wrong" and "wrong.nft" in error["reason"]
