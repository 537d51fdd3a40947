"""The bridge call: captures and show outputs in, proof out, through the audit playbook as a user runs it.

The founding incident's files (inventories/example), the story's two captures taken at the
partner firewall's uplink (tests/fixtures/captures/make.py builds them: the failing one holds the
SYN, the SYN/ACK leaving with DS byte 0x04 and the retransmitted SYN; the working one was taken
with the firewall rules off) and what border-rtr1 printed for four show commands
(tests/fixtures/show/).  findings.json must tie the observed byte to partner-fw line 35 and the
router's Null0 route, name the DS field as what differs between the captures, give the conflict
the router's counters, report the working capture as contradicting the audited dump, and keep
reporting when one capture is not a capture at all.
"""

import json
import pathlib
import shutil

import pytest
import yaml

from .test_playbooks import ROOT, ansible

pytestmark = pytest.mark.playbook

EXAMPLE = ROOT / "inventories" / "example" / "files"
CAPTURES = ROOT / "tests" / "fixtures" / "captures"
SHOW = ROOT / "tests" / "fixtures" / "show"


@pytest.fixture(scope="module")
def evidence_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence")
    for name in ("partner-fw.rules", "border-router.cfg"):
        shutil.copy(EXAMPLE / name, folder / name)
    for name in ("story-failing.pcapng", "story-working.pcap", "not-a-capture.pcap"):
        shutil.copy(CAPTURES / name, folder / name)
    show = {"show access-lists": "border-rtr1.show-access-lists.txt", "show route-map": "border-rtr1.show-route-map.txt",
            "show policy-map interface": "border-rtr1.show-policy-map-interface.txt",
            "show ip interface": "border-rtr1.show-ip-interface.txt"}
    for path in show.values():
        shutil.copy(SHOW / path, folder / path)
    inventory = {"all": {
        "vars": {"diffserv_links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}],
                 # Relative files are read from the inventory's folder.
                 "diffserv_captures": [{"file": "story-failing.pcapng", "point": "partner-fw:eth0"},
                                       {"file": "story-working.pcap", "point": "partner-fw:eth0"},
                                       {"file": "not-a-capture.pcap", "point": "partner-fw:eth0"}]},
        "children": {
            "linux_firewalls": {"hosts": {"partner-fw": {"diffserv_config_file": str(folder / "partner-fw.rules"),
                                                         "diffserv_managed": False}}},
            "ios_routers": {"hosts": {"border-rtr1": {"diffserv_config_file": str(folder / "border-router.cfg"),
                                                      "diffserv_show_outputs": show}}}}}}
    (folder / "hosts.yml").write_text(yaml.safe_dump(inventory))
    report = folder / "report"
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(folder / "hosts.yml"),
                  "-e", "diffserv_report_dir=%s" % report)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run, json.loads((report / "findings.json").read_text()), report


def test_the_failing_capture_is_tied_to_line_35_and_the_null0_route(evidence_run):
    _run, findings, _report = evidence_run
    failing = [o for o in findings["observations"] if o["capture"].endswith("story-failing.pcapng")]
    stalled = [o for o in failing if o["symptom"] == "handshake-stalled"]
    assert stalled, [(o["symptom"], o.get("ds_byte")) for o in failing]
    (syn_ack,) = [o for o in stalled if o.get("ds_byte") == 0x04]
    assert syn_ack["flow"]["protocol"] == "tcp" and syn_ack["flow"]["sport"] == 25
    assert syn_ack["marker"]["host"] == "partner-fw" and syn_ack["marker"]["line"] == 35
    assert syn_ack["treatment"]["host"] == "border-rtr1" and syn_ack["treatment"]["action"] == "null-routed"
    assert syn_ack["predicted_ds_byte"] == 0x04 and min(syn_ack["frames"]) >= 1


def test_the_working_capture_contradicts_the_audited_dump_and_the_ds_field_is_the_difference(evidence_run):
    _run, findings, _report = evidence_run
    assert any("story-working.pcap" in json.dumps(c) for c in findings["contradictions"])
    fields = {field["field"] for diff in findings["capture_diff"] for packet in diff["packets"]
              for field in packet["fields"]}
    assert "ds_byte" in fields, findings["capture_diff"]


def test_the_conflict_carries_the_routers_counters(evidence_run):
    _run, findings, _report = evidence_run
    observed = [c["observed"] for c in findings["conflicts"] if "observed" in c]
    assert observed, "no conflict got the counters of the show outputs"
    texts = " ".join(row["text"] for entry in observed for row in entry["router"])
    assert "dscp 1" in texts and any(row["packets"] for entry in observed for row in entry["router"])


def test_a_file_that_is_not_a_capture_is_an_error_naming_it_and_the_rest_reports(evidence_run):
    _run, findings, report = evidence_run
    errors = [e for e in findings["errors"] if e.get("stage") == "captures"]
    assert len(errors) == 1 and "not-a-capture.pcap" in errors[0]["reason"]
    assert findings["summary"]["conflicts"] >= 1
    text = (report / "report.md").read_text()
    assert "story-failing.pcapng" in text and "not-a-capture.pcap" in text
