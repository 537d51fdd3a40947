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
    # The one-line JSON's rules are named by their lines in the listing it renders to (no blank line there).
    for host, line, file in (("text", 16, "text.nft"), ("json", 15, "json.json (as nft list ruleset)"),
                             ("forced", 16, "forced.nft")):
        found = [c for c in findings["conflicts"] if c["marker"]["host"] == host]
        assert any(c["marker"]["line"] == line and c["marker"]["file"].endswith(file) and c["marker"]["table"] == "inet partner" and c["dscp"] == 1
                   and c["treatment"]["action"] == "null-routed" and c["severity"] == "critical" for c in found), found
    assert any(c["marker"]["host"] == "legacy" and c["marker"]["line"] == 35 for c in findings["conflicts"])


def test_diffserv_platform_forces_the_driver_even_against_the_content(tmp_path):
    run, findings = audit(tmp_path, {"wrong.nft": ((NFT / "partner-fw.nft").read_text(), {"diffserv_platform": "iptables"})})
    assert run.returncode != 0
    (error,) = findings["errors"]
    assert error["host"] == "wrong" and "wrong.nft" in error["reason"]


def test_the_trace_and_marking_map_modules_take_an_nft_ruleset():
    args = json.dumps({"nftables": str(NFT / "partner-fw.nft"), "packets": [
        {"path": "output", "out_interface": "eth0", "protocol": "tcp", "sport": 25, "dport": 28680},
        {"path": "forward", "in_interface": "eth1", "out_interface": "eth0", "protocol": "tcp", "sport": 1,
         "dport": 28680, "src": "2001:db8::1", "dst": "2001:db8::2"}]})
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.trace", "-a", args)
    assert run.returncode == 0, run.stdout[-2000:]
    result = json.loads(run.stdout.split("=>", 1)[1])
    first, ipv6 = result["packets"]
    assert (first["tos"], first["verdict"], first["uncertain"]) == (4, "accept", [])
    assert [{k: s[k] for k in ("table", "chain", "priority", "line")} for s in first["steps"]] == [
        {"table": "inet partner", "chain": "postrouting", "priority": -150, "line": 16}]
    assert (ipv6["tos"], ipv6["steps"]) == (0, [])  # `ip dscp set` leaves IPv6 alone
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.marking_map",
                  "-a", json.dumps({"nftables": str(NFT / "partner-fw.json"), "interfaces": ["eth0"]}))
    assert run.returncode == 0, run.stdout[-2000:]
    marks = json.loads(run.stdout.split("=>", 1)[1])
    # one line a rule: the lines of the listing the one-line JSON renders to
    assert [(d["line"], d["ds_bytes"]) for d in marks["deciders"]] == [(4, [4]), (5, [8]), (6, [16]), (7, [4]),
                                                                     (8, [8]), (12, [4]), (13, [8]), (14, [16]),
                                                                     (15, [4])]
