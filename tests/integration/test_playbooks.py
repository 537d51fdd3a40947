"""Real ansible-playbook and ansible runs (subprocesses) against the collection in this checkout."""

import json
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest
import yaml

from ansible_collections.diffserv.audit.plugins.module_utils.redact import secrets_in

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
EXAMPLE = ROOT / "inventories" / "example" / "files"
SECRETS_CFG = ROOT / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "secrets-router.cfg"
pytestmark = pytest.mark.playbook

MANGLE = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          ":POSTROUTING ACCEPT [0:0]\n%sCOMMIT\n")
ROUTER = """hostname {name}
!
access-list 106 permit ip any any dscp 1
access-list 107 deny ip any any dscp 1
access-list 107 permit ip any any
!
route-map null_policy_route permit 10
 match ip address 106
 set interface Null0
!
interface GigabitEthernet0/0
 ip address 203.0.113.2 255.255.255.252
{uplink}
!
interface GigabitEthernet0/1
 ip address 198.51.100.1 255.255.255.248
!
end
"""


def ansible(tool, *args, cwd=ROOT):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def audit(tmp_path, firewalls, routers, links=None):
    """Write an inventory of saved files, run the audit playbook, return (run, findings, report folder)."""
    hosts = {"linux_firewalls": {"hosts": {}}, "ios_routers": {"hosts": {}}}
    for name, text in firewalls.items():
        path = tmp_path / ("%s.rules" % name)
        path.write_text(text)
        hosts["linux_firewalls"]["hosts"][name] = {"diffserv_config_file": str(path)}
    for name, text in routers.items():
        path = tmp_path / ("%s.cfg" % name)
        path.write_text(text)
        hosts["ios_routers"]["hosts"][name] = {"diffserv_config_file": str(path)}
    inventory = {"all": {"children": hosts}}
    if links is not None:
        inventory["all"]["vars"] = {"diffserv_links": links}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    report = tmp_path / "report"
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(tmp_path / "hosts.yml"),
                  "-e", "diffserv_report_dir=%s" % report)
    findings = json.loads((report / "findings.json").read_text()) if (report / "findings.json").exists() else None
    return run, findings, report


def test_founding_incident_example_finds_the_dscp_1_conflict_with_both_ends(tmp_path):
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example",
                  "-e", "diffserv_report_dir=%s" % tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    findings = json.loads((tmp_path / "findings.json").read_text())
    assert {c["dscp"] for c in findings["conflicts"]} == {1}
    syn_ack = next(c for c in findings["conflicts"] if c["marker"]["line"] == 35)
    assert syn_ack["severity"] == "critical" and syn_ack["treatment"]["action"] == "null-routed"
    assert syn_ack["marker"]["rule"] == "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04"
    lines = {line["text"].strip() for line in syn_ack["treatment"]["lines"]}
    assert {"access-list 106 permit ip any any dscp 1", "match ip address 106", "set interface Null0",
            "ip policy route-map null_policy_route"} <= lines
    assert syn_ack["treatment"]["interface"] == "GigabitEthernet0/0" and not syn_ack["path_assumed"]
    assert "replies to every connection" in syn_ack["flows"][0]["words"]
    assert any(a["kind"] == "drops-lower-effort" for a in findings["advisories"])
    report = (tmp_path / "report.md").read_text()
    assert "partner-fw.rules` line 35" in report and "set interface Null0" in report
    assert "[CRITICAL] DSCP 1" in run.stdout


def test_diffserv_strategies_chooses_the_bundles_written(tmp_path):
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example",
                  "-e", "diffserv_report_dir=%s" % tmp_path, "-e", '{"diffserv_strategies": ["exempt_flows"]}')
    assert run.returncode == 0, run.stdout + run.stderr
    folders = sorted(p.name for p in (tmp_path / "changes").iterdir() if p.is_dir())
    assert folders == ["exempt_flows"]
    summary = json.loads((tmp_path / "changes" / "summary.json").read_text())
    assert list(summary["strategies"]) == ["exempt_flows"] and summary["strategies"]["exempt_flows"]["clean"]
    commands = (tmp_path / "changes" / "exempt_flows" / "border-rtr1.commands").read_text()
    assert " 3 deny tcp any any gt 511 dscp 1" in commands
    refused = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example",
                      "-e", "diffserv_report_dir=%s" % (tmp_path / "refused"), "-e", '{"diffserv_strategies": ["reboot"]}')
    assert refused.returncode != 0 and "reboot" in refused.stdout


def test_adhoc_trace_of_the_partner_syn_ack():
    packets = {"iptables": "inventories/example/files/partner-fw.rules",
               "packets": [{"in_interface": "eth1", "out_interface": "eth0", "protocol": "tcp",
                            "sport": 25, "dport": 28680, "tos": 0}]}
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.trace", "-a", json.dumps(packets))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("localhost | SUCCESS => ")
    result = json.loads(run.stdout.split(" => ", 1)[1])
    (packet,) = result["packets"]
    assert (packet["tos"], packet["dscp"], packet["verdict"]) == (4, 1, "accept")
    assert [step["line"] for step in packet["steps"]] == [35]


@pytest.mark.parametrize("firewall_rules, uplink", [
    # TOS 0x10 (DSCP 4) against a router that null-routes only DSCP 1
    ("-A POSTROUTING -o eth0 -p tcp -j TOS --set-tos 0x10\n", " ip policy route-map null_policy_route"),
    # the ACL that denies DSCP 1 exists but is applied nowhere
    ("-A POSTROUTING -o eth0 -p tcp -j TOS --set-tos 0x04\n", ""),
    # the marking is cleared by a later rule before the packet leaves
    ("-A POSTROUTING -o eth0 -p tcp -j TOS --set-tos 0x04\n-A POSTROUTING -o eth0 -j DSCP --set-dscp 0\n",
     " ip access-group 107 in"),
])
def test_no_conflict_scenarios(tmp_path, firewall_rules, uplink):
    run, findings, _report = audit(tmp_path, {"fw1": MANGLE % firewall_rules},
                                   {"rtr1": ROUTER.format(name="rtr1", uplink=uplink)},
                                   links=[{"from": "fw1:eth0", "to": "rtr1:GigabitEthernet0/0"}])
    assert run.returncode == 0, run.stdout + run.stderr
    assert findings["conflicts"] == [] and findings["errors"] == []


def test_several_firewalls_and_routers_without_links_assume_every_path(tmp_path):
    run, findings, _report = audit(
        tmp_path,
        {"fw-a": MANGLE % "-A POSTROUTING -p udp -j TOS --set-tos 0x04\n",
         "fw-b": MANGLE % "-A POSTROUTING -p tcp -m tcp --dport 25 -j DSCP --set-dscp 1\n",
         "fw-c": MANGLE % "-A POSTROUTING -j TOS --set-tos 0x10\n"},
        {"rtr-pbr": ROUTER.format(name="rtr-pbr", uplink=" ip policy route-map null_policy_route"),
         "rtr-acl": ROUTER.format(name="rtr-acl", uplink=" ip access-group 107 in")})
    assert run.returncode == 0, run.stdout + run.stderr
    pairs = {(c["marker"]["host"], c["treatment"]["host"], c["treatment"]["action"]) for c in findings["conflicts"]}
    assert pairs == {("fw-a", "rtr-pbr", "null-routed"), ("fw-a", "rtr-acl", "dropped"),
                     ("fw-b", "rtr-pbr", "null-routed"), ("fw-b", "rtr-acl", "dropped")}
    assert all(c["path_assumed"] and c["treatment"]["interface"] == "GigabitEthernet0/0"
               for c in findings["conflicts"])
    assert findings["summary"]["paths_assumed"] is True


def test_broken_file_fails_that_host_and_the_others_still_report(tmp_path):
    run, findings, _report = audit(
        tmp_path,
        {"cut-fw": "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j TOS --set-tos 0x04\n",
         "good-fw": (EXAMPLE / "partner-fw.rules").read_text()},
        {"border-rtr1": (EXAMPLE / "border-router.cfg").read_text(),
         "cut-rtr": "hostname cut\ninterface GigabitEthernet0/0\n ip policy route-map x\n"},
        links=[{"from": "good-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    assert run.returncode != 0
    errors = {e["host"]: e["reason"] for e in findings["errors"]}
    assert "cut-fw.rules:1: table mangle has no COMMIT: the dump is truncated" in errors["cut-fw"]
    assert "cut-rtr.cfg" in errors["cut-rtr"] and "end" in errors["cut-rtr"]
    assert {c["marker"]["host"] for c in findings["conflicts"]} == {"good-fw"}
    assert re.search(r"cut-fw\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1", run.stdout)
    # Collected hosts never run a task of their own (the fleet is collected in one batch on the controller).
    assert not re.search(r"good-fw\s+: .*failed=[1-9]", run.stdout)


def test_no_secret_survives_into_any_artifact(tmp_path):
    config = SECRETS_CFG.read_text().replace("interface GigabitEthernet0/0\n",
                                             "interface GigabitEthernet0/0\n ip policy route-map null\n")
    config = config.replace("end\n", "access-list 106 permit ip any any dscp 1\nroute-map null permit 10\n"
                            " match ip address 106\n set interface Null0\nend\n")
    run, findings, report = audit(tmp_path, {"fw1": MANGLE % "-A POSTROUTING -j TOS --set-tos 0x04\n"},
                                  {"secret-rtr": config},
                                  links=[{"from": "fw1:eth0", "to": "secret-rtr:GigabitEthernet0/0"}])
    assert run.returncode == 0, run.stdout + run.stderr
    assert findings["conflicts"], "the scenario must produce a conflict, so the router lines are quoted"
    secrets = [secret for _line, _kind, secret in secrets_in(config)]
    assert len(secrets) >= 15
    artifacts = [p for p in report.rglob("*") if p.is_file()]
    assert {p.name for p in artifacts} >= {"findings.json", "report.md"}
    assert any(p.suffix == ".zip" for p in artifacts), "each strategy's bundle comes as an archive too"
    for artifact in artifacts + [None]:
        if artifact is None:
            text = run.stdout + run.stderr
        elif artifact.suffix == ".zip":
            with zipfile.ZipFile(artifact) as archive:
                text = "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())
        else:
            text = artifact.read_text()
        for secret in secrets:
            assert secret not in text, (artifact, secret)
        assert secrets_in(text) == [], artifact


def test_trace_rejects_bad_arguments_from_the_documented_spec():
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.trace", "-a",
                  json.dumps({"iptables": "inventories/example/files/partner-fw.rules",
                              "packets": [{"path": "sideways"}]}))
    assert run.returncode != 0
    assert "sideways" in run.stdout and "forward" in run.stdout


def test_adhoc_ios_trace_null_routes_dscp_1_on_the_uplink_and_forwards_0():
    packets = {"ios": "inventories/example/files/border-router.cfg",
               "packets": [{"in_interface": "GigabitEthernet0/0", "protocol": "tcp", "sport": 25, "dport": 28680,
                            "tos": 4},
                           {"in_interface": "GigabitEthernet0/0", "protocol": "tcp", "sport": 25, "dport": 28680,
                            "tos": 0}]}
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.trace", "-a", json.dumps(packets))
    assert run.returncode == 0, run.stdout + run.stderr
    marked, plain = json.loads(run.stdout.split(" => ", 1)[1])["packets"]
    assert (marked["fate"], plain["fate"]) == ("null-routed", "forwarded")
    texts = [step["text"].strip() for step in marked["steps"]]
    assert texts[-3:] == ["match ip address 106", "access-list 106 permit ip any any dscp 1", "set interface Null0"]


def test_analyze_returns_only_the_summary_when_asked_and_findings_json_holds_the_rest(tmp_path):
    """result_findings=summary (what the audit role asks): the task result keeps summary, errors, not_audited and
    links; findings.json every finding, the same as a full result; the bundle summary leaves its per-host and
    per-file lists to changes/summary.json; without a findings_file it is refused."""
    playbook = tmp_path / "analyze.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "tasks": [
            {"diffserv.audit.collect": {"hosts": "{{ groups['linux_firewalls'] + groups['ios_routers'] }}"},
             "register": "diffserv_collect"},
            {"diffserv.audit.analyze": {"findings_file": str(tmp_path / "findings.json"), "result_findings": "summary",
                                        "bundles_dir": str(tmp_path / "slim")},
             "register": "slim"},
            {"diffserv.audit.analyze": {"bundles_dir": str(tmp_path / "full")}, "register": "full"},
            {"diffserv.audit.analyze": {"result_findings": "summary"}, "register": "refused", "ignore_errors": True},
            {"ansible.builtin.copy": {"dest": str(tmp_path / "results.json"),
                                      "content": "{{ {'slim': slim.findings, 'full': full.findings, "
                                                 "'slim_bundle': slim.bundle, 'full_bundle': full.bundle, "
                                                 "'refused': refused.msg} | to_json }}"}},
        ]}]))
    run = ansible("ansible-playbook", str(playbook), "-i", "inventories/example")
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    written = json.loads((tmp_path / "findings.json").read_text())
    assert sorted(results["slim"]) == ["errors", "links", "not_audited", "summary"]
    assert results["slim"] == {key: results["full"][key] for key in results["slim"]}
    assert written == results["full"] and len(written["conflicts"]) == results["slim"]["summary"]["conflicts"] == 5
    assert "give findings_file" in results["refused"]
    # The bundle: the full result is changes/summary.json; the slim one that without hosts and files.
    on_disk = json.loads((tmp_path / "slim" / "changes" / "summary.json").read_text())
    full, slim = results["full_bundle"], results["slim_bundle"]
    assert full == json.loads((tmp_path / "full" / "changes" / "summary.json").read_text())
    assert "hosts" in on_disk and all("hosts" in strategy and "files" in strategy for strategy in on_disk["strategies"].values())
    assert slim == {**{key: value for key, value in on_disk.items() if key != "hosts"}, "strategies": {
        name: {key: value for key, value in strategy.items() if key not in ("hosts", "files")}
        for name, strategy in on_disk["strategies"].items()}}
    assert sorted(slim["strategies"]) == ["change_dscp", "exempt_flows", "remark_boundary", "remove_policy"] and all(
        "clean" in strategy and "refused" in strategy for strategy in slim["strategies"].values())
