"""IPv6 end to end: ip6tables dumps joined with the routers' IPv6 treatment (family 6 fate tables: `ipv6 policy
route-map`, `ipv6 traffic-filter`, `match dscp` for both families, `match ip dscp` for IPv4 only), the founding
incident in IPv6 (tests/fixtures/inputs/ipv6/), and both families of one host side by side."""

import json
import pathlib

import jsonschema
import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Findings

from .test_analysis import SMTP_LE, router

ROOT = pathlib.Path(__file__).resolve().parents[4]
IPV6 = ROOT / "tests" / "fixtures" / "inputs" / "ipv6"
SCHEMA = json.loads((ROOT / "docs" / "findings.schema.json").read_text())
LINK = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]
MAIL6 = (IPV6 / "mail6-fw.rules").read_text()


def item(name, text, source):
    return {"name": name, "source": source, "text": text}


def audit(firewall_items, router_text, links=LINK):
    results = {"fw": {"diffserv_collection": {"platform": "iptables", "managed": True, "files": firewall_items}},
               "rtr": {"diffserv_collection": {"platform": "ios", "managed": True,
                                               "files": [item("running-config", router_text, "rtr.cfg")]}}}
    fleet = loader.load_fleet(results, links)
    assert fleet.errors == []
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    data = findings.as_dict()
    jsonschema.validate(data, SCHEMA)
    assert Findings.from_dict(data).conflicts == findings.conflicts  # family and partial survive findings.json
    return findings


def fixture(name):
    return (IPV6 / name).read_text()


def test_the_ipv6_founding_incident_policy_routing_dscp_1_to_null0_is_critical():
    findings = audit([item("ip6tables-save", MAIL6, "mail6-fw.rules")], fixture("border6-pbr.cfg"))
    (conflict,) = findings.conflicts
    assert (conflict.family, conflict.dscp, conflict.severity) == (6, 1, "critical")
    assert (conflict.marker.line, conflict.marker.file) == (8, "mail6-fw.rules")
    treatment = conflict.treatment
    assert (treatment.action, treatment.unmarked_action, treatment.confirmed_by_trace) == ("null-routed", "forwarded", True)
    assert treatment.example_packet["family"] == 6
    assert [(line.line, line.text.strip()) for line in treatment.lines] == [
        (15, "ipv6 policy route-map null6"), (8, "route-map null6 permit 10"), (9, "match ipv6 address LE-TRAFFIC"),
        (6, "sequence 10 permit ipv6 any any dscp 1"), (10, "set interface Null0")]
    assert {flow.family for flow in conflict.flows} == {6}
    data = conflict.as_dict()
    assert data["family"] == 6 and all(flow["family"] == 6 for flow in data["flows"])
    # No note says IPv6 is left out any more.
    assert not [note for note in findings.unmodeled if "not yet joined" in note.reason]


def test_match_dscp_reaches_ipv6_and_match_ip_dscp_does_not():
    both = audit([item("ip6tables-save", MAIL6, "mail6-fw.rules")], fixture("border6-mqc.cfg"))
    assert [(c.family, c.treatment.action, c.severity) for c in both.conflicts] == [(6, "dropped", "critical")]
    ipv4_only = audit([item("ip6tables-save", MAIL6, "mail6-fw.rules")], fixture("border6-mqc-ipv4-only.cfg"))
    assert ipv4_only.conflicts == ()


def test_an_ipv6_dump_given_as_a_saved_file_is_read_as_ipv6_and_joined_as_such():
    # A saved file holds the ip6tables-save text under the item name iptables-save: the dump's own header says IPv6.
    saved = audit([item("iptables-save", MAIL6, "mail6-fw.rules")], fixture("border6-pbr.cfg"))
    assert [(c.family, c.treatment.action) for c in saved.conflicts] == [(6, "null-routed")]
    # An IPv4-only policy (ip policy) does not act on it.
    ipv4_pbr = router("", " ip policy route-map null-le", tail="access-list 106 permit ip any any dscp 1\n"
                      "route-map null-le permit 10\n match ip address 106\n set interface Null0\n")
    assert audit([item("iptables-save", MAIL6, "mail6-fw.rules")], ipv4_pbr).conflicts == ()


def test_both_families_of_one_host_side_by_side():
    # IPv4: SMTP connections the firewall opens leave as DSCP 1 (line 7 of SMTP_LE); IPv6: mail replies (line 8).
    # The router drops `match dscp 1` in both families: one conflict each, each saying its family.
    findings = audit([item("iptables-save", SMTP_LE, "fw.rules"), item("ip6tables-save", MAIL6, "fw6.rules")],
                     fixture("border6-mqc.cfg"))
    assert sorted((c.family, c.marker.file, c.marker.line, c.treatment.action) for c in findings.conflicts) == [
        (4, "fw.rules", 7, "dropped"), (6, "fw6.rules", 8, "dropped")]
    # `match ip dscp 1`: the IPv4 conflict stays, the IPv6 one goes.
    findings = audit([item("iptables-save", SMTP_LE, "fw.rules"), item("ip6tables-save", MAIL6, "fw6.rules")],
                     fixture("border6-mqc-ipv4-only.cfg"))
    assert [(c.family, c.marker.line) for c in findings.conflicts] == [(4, 7)]
    # One file holding both dumps is read the same way.
    findings = audit([item("iptables-save", SMTP_LE + MAIL6, "both.rules")], fixture("border6-mqc.cfg"))
    offset = len(SMTP_LE.splitlines())  # the IPv6 dump's line 8 is the file's line offset + 8
    assert sorted((c.family, c.marker.file, c.marker.line) for c in findings.conflicts) == [
        (4, "both.rules", 7), (6, "both.rules", offset + 8)]


def test_the_ipv4_model_the_planner_reads_stays_the_ipv4_dump():
    results = {"fw": {"diffserv_collection": {"platform": "iptables", "managed": True, "files": [
        item("iptables-save", SMTP_LE, "fw.rules"), item("ip6tables-save", MAIL6, "fw6.rules")]}}}
    fleet = loader.load_fleet(results, None)
    firewall = fleet.firewalls["fw"]
    assert (firewall.family, firewall.file, firewall.marks.family) == (4, "fw.rules", 4)
    assert (firewall.ipv6.family, firewall.ipv6.file, firewall.ipv6.marks.family) == (6, "fw6.rules", 6)
    assert [part.family for part in firewall.families()] == [4, 6]


def test_an_ipv6_drop_limited_to_the_partner_prefix_the_firewall_marks():
    marks_partner = MAIL6.replace("-A POSTROUTING -o eth0 -p tcp -m tcp --sport 25",
                                  "-A POSTROUTING -o eth0 -d 2001:db8:beef::/48 -p tcp -m tcp --sport 25")
    config = fixture("border6-pbr.cfg").replace("permit ipv6 any any dscp 1", "permit tcp any 2001:db8:beef::/48 dscp 1")
    (conflict,) = audit([item("ip6tables-save", marks_partner, "mail6-fw.rules")], config).conflicts
    assert (conflict.family, conflict.severity, conflict.treatment.action) == (6, "critical", "null-routed")
    assert conflict.treatment.example_packet["dst"] == "2001:db8:beef::"
    # Half of it: found for that half, ranked high.
    half = config.replace("2001:db8:beef::/48", "2001:db8:beef:8000::/49")
    (conflict,) = audit([item("ip6tables-save", marks_partner, "mail6-fw.rules")], half).conflicts
    assert (conflict.severity, conflict.flows[0].partial, conflict.flows[0].dst) == ("high", True, ["2001:db8:beef:8000::/49"])


@pytest.mark.parametrize("filter_line, expected", [
    ("deny tcp any any dscp 1", [(6, "dropped")]),
    ("deny tcp any eq smtp any dscp 1", [(6, "dropped")]),
    ("deny udp any any dscp 1", []),
    ("deny tcp any any eq smtp dscp 1", []),
])
def test_an_ipv6_traffic_filter(filter_line, expected):
    config = router("", " ipv6 traffic-filter F6 in", tail="ipv6 access-list F6\n %s\n permit ipv6 any any\n" % filter_line)
    findings = audit([item("ip6tables-save", MAIL6, "mail6-fw.rules")], config)
    assert [(c.family, c.treatment.action) for c in findings.conflicts] == expected
