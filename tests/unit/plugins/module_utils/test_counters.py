"""Counters: iptables-save -c and nft per rule line, router show outputs per deciding line, joined to conflicts."""

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.counters import (
    ACL_ENTRY, CLASS, POLICE, ROUTE_MAP, InterfaceState, RouterCounter, RuleCounter, conflict_observed,
    iptables_counters, iptables_counters_text, nft_counters,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventories" / "example" / "files"
SHOW = ROOT / "tests" / "fixtures" / "show"
LINE_35 = "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04"
PARTNER = (EXAMPLE / "partner-fw.rules").read_text()


def with_counters(packets, octets, text=PARTNER):
    """The partner's dump as `iptables-save -c` prints it: every rule with its counter, line 35's as given."""
    out = []
    for line in text.splitlines():
        if line.startswith("-A "):
            counter = "[%d:%d]" % (packets, octets) if line == LINE_35 else "[0:0]"
            line = "%s %s" % (counter, line)
        out.append(line)
    return "\n".join(out) + "\n"


def test_iptables_save_c_counters_per_rule_line_as_the_parser_keeps_them():
    ruleset = parse_ruleset(with_counters(5123, 307380), "partner-fw.rules")
    found = iptables_counters(ruleset)
    assert found[35] == RuleCounter("partner-fw.rules", 35, 5123, 307380)
    assert found[35].as_dict() == {"line": 35, "packets": 5123, "bytes": 307380}
    assert found[34].packets == 0 and len(found) == 27
    # Reading the text line by line gives the same, without parsing.
    assert iptables_counters_text(with_counters(5123, 307380), "partner-fw.rules") == found


def test_a_dump_without_counters_has_none():
    assert iptables_counters(parse_ruleset(PARTNER, "partner-fw.rules")) == {}
    assert iptables_counters_text(PARTNER, "partner-fw.rules") == {}


def test_set_counters_in_the_rule_and_chain_counters_are_told_apart():
    text = ("*mangle\n:POSTROUTING ACCEPT [100:6000]\n"
            "-A POSTROUTING -o eth0 -p tcp --dport 25 -c 7 420 -j TOS --set-tos 0x10\n"
            "[1:60] -A POSTROUTING -o eth0 -p tcp --dport 443 --set-counters 9 540 -j TOS --set-tos 0x10\n"
            "-A POSTROUTING -s 192.0.2.1,192.0.2.2 -j TOS --set-tos 0x04\nCOMMIT\n")
    parsed = iptables_counters(parse_ruleset(text, "fw.rules"))
    scanned = iptables_counters_text(text, "fw.rules")
    # The chain's policy counter is no rule's; `-c` in a rule wins over the prefix, as iptables-restore reads it.
    assert {line: (c.packets, c.bytes) for line, c in parsed.items()} == {3: (7, 420), 4: (9, 540)}
    assert scanned == parsed


def test_nft_counter_statements_per_line():
    # As `nft list ruleset` prints it: one tab per level of nesting.
    text = "\n".join([
        "table ip mangle {",
        "\tchain postrouting {",
        "\t\ttype filter hook postrouting priority mangle; policy accept;",
        '\t\toifname "eth0" tcp dport 25 counter packets 0 bytes 0 ip dscp set 0x04',
        '\t\toifname "eth0" tcp dport 512-65535 counter packets 5123 bytes 307380 ip dscp set 0x01',
        '\t\toifname "eth1" counter name "uplink" ip dscp set cs0',
        "\t\tip protocol udp ip dscp set cs1",
        "\t}",
        "}", ""])
    assert {line: (c.packets, c.bytes) for line, c in nft_counters(text, "fw.nft").items()} == {4: (0, 0), 5: (5123, 307380)}


# ---------------------------------------------------------------------------
# Joined to the founding conflict


def founding(dump_text=None, router_text=None):
    results = {"partner-fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "partner-fw.rules", "text": dump_text or with_counters(5123, 307380)}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg",
             "text": router_text or (EXAMPLE / "border-router.cfg").read_text()}]}}}
    fleet = loader.load_fleet(results, [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    return fleet, findings.conflicts


def show_counters():
    # Parsed by plugin_utils/showparse.py in its own tests; here the values it gives, so the join is
    # tested in the core alone.
    acl = [RouterCounter("show access-lists", ACL_ENTRY, "106", "10 permit ip any any dscp 1 (5123 matches)", 5123, None,
                         10, "permit ip any any dscp 1"),
           RouterCounter("show access-lists", ACL_ENTRY, "110", "60 permit ip any any (64977760 matches)", 64977760, None,
                         60, "permit ip any any"),
           RouterCounter("show access-lists", ACL_ENTRY, "110", "50 deny   ip 198.51.100.0 0.0.0.255 any (37 matches)", 37,
                         None, 50, "deny   ip 198.51.100.0 0.0.0.255 any")]
    route_map = [RouterCounter("show route-map", ROUTE_MAP, "null_policy_route", "Policy routing matches: 5123 packets, "
                               "307380 bytes", 5123, 307380, 10)]
    policy = [RouterCounter("show policy-map interface", CLASS, "mark-inbound-http-hacks", "Class-map: class-default: "
                            "64972637 packets, 109928292284 bytes", 64972637, 109928292284, None, "class-default",
                            "GigabitEthernet0/0", "input"),
              RouterCounter("show policy-map interface", CLASS, "mark-inbound-http-hacks", "Class-map: class-default: "
                            "1 packets, 60 bytes", 1, 60, None, "class-default", "GigabitEthernet0/1", "input")]
    return acl + route_map + policy


def test_the_founding_conflict_observed_from_the_dump_and_the_show_outputs():
    fleet, conflicts = founding()
    conflict = [c for c in conflicts if c.marker.line == 35][0]
    observed = conflict_observed(conflict, fleet.routers["border-rtr1"].config,
                                 iptables_counters(fleet.firewalls["partner-fw"].ruleset), show_counters())
    data = observed.as_dict()
    assert data["firewall"] == {"line": 35, "packets": 5123, "bytes": 307380} and data["fired"] is True
    whats = [entry["what"] for entry in data["router"]]
    assert "access-list 106 entry 10 matches" in whats
    assert "route-map null_policy_route 10 policy routing matches" in whats
    assert "access-list 110 entry 60 matches" in whats  # the input ACL's permit the packets passed
    assert "access-list 110 entry 50 matches" not in whats  # not a line these packets met
    # The implicit class-default of the input policy, on this interface only.
    assert [e["packets"] for e in data["router"] if "class-default" in e["what"]] == [64972637]
    acl_106 = [e for e in data["router"] if e["what"] == "access-list 106 entry 10 matches"][0]
    assert acl_106 == {"what": "access-list 106 entry 10 matches", "text": "10 permit ip any any dscp 1 (5123 matches)",
                       "packets": 5123, "bytes": None, "command": "show access-lists"}
    assert data["notes"] == []


def test_a_marking_rule_that_never_fired_says_so():
    fleet, conflicts = founding(with_counters(0, 0))
    conflict = [c for c in conflicts if c.marker.line == 35][0]
    observed = conflict_observed(conflict, fleet.routers["border-rtr1"].config,
                                 iptables_counters(fleet.firewalls["partner-fw"].ruleset))
    assert observed.fired is False
    assert observed.notes == ("partner-fw.rules:35 never fired (0 packets since its counters were last zeroed): the "
                              "conflict is possible, not observed",)


def test_without_counters_nothing_is_claimed():
    fleet, conflicts = founding(PARTNER)
    observed = conflict_observed(conflicts[0], fleet.routers["border-rtr1"].config, None)
    assert observed.as_dict() == {"firewall": None, "router": [], "fired": None, "notes": []}


def test_a_router_line_that_matched_nothing_is_noted():
    fleet, conflicts = founding()
    conflict = [c for c in conflicts if c.marker.line == 35][0]
    counters = [RouterCounter("show route-map", ROUTE_MAP, "null_policy_route", "Policy routing matches: 0 packets, "
                              "0 bytes", 0, 0, 10)]
    observed = conflict_observed(conflict, fleet.routers["border-rtr1"].config, None, counters)
    assert observed.notes == ("route-map null_policy_route 10 policy routing matches: 0 on border-rtr1",)


def test_show_ip_interface_that_disagrees_with_the_configuration_is_noted():
    fleet, conflicts = founding()
    config = fleet.routers["border-rtr1"].config
    agreeing = InterfaceState("GigabitEthernet0/0", "110", None, "null_policy_route", True)
    assert conflict_observed(conflicts[0], config, None, (), [agreeing]).notes == ()
    disabled = InterfaceState("GigabitEthernet0/0", "110", None, None, False)
    assert conflict_observed(conflicts[0], config, None, (), [disabled]).notes == (
        "show ip interface on border-rtr1: GigabitEthernet0/0 policy routing disabled, the audited configuration "
        "applies route-map null_policy_route",)


POLICER = """hostname edge
class-map match-all le
 match dscp 1
policy-map police-le
 class le
  police 8000 conform-action transmit exceed-action drop
interface GigabitEthernet0/0
 ip address 203.0.113.2 255.255.255.252
 service-policy input police-le
interface GigabitEthernet0/1
 ip address 198.51.100.1 255.255.255.248
end
"""


def test_policer_counters_of_a_policing_conflict():
    fleet, conflicts = founding(router_text=POLICER)
    conflict = [c for c in conflicts if c.marker.line == 35][0]
    counters = [RouterCounter("show policy-map interface", kind, "police-le", text, packets, octets, None, "le",
                              "GigabitEthernet0/0", "input", detail)
                for kind, text, packets, octets, detail in (
                    (CLASS, "Class-map: le: 120 packets, 7200 bytes", 120, 7200, None),
                    (POLICE, "conformed 20 packets, 1200 bytes", 20, 1200, "conformed"),
                    (POLICE, "exceeded 100 packets, 6000 bytes", 100, 6000, "exceeded"))]
    observed = conflict_observed(conflict, fleet.routers["border-rtr1"].config, None, counters)
    assert [(c.kind, c.detail, c.packets) for c in observed.router] == [
        (CLASS, None, 120), (POLICE, "conformed", 20), (POLICE, "exceeded", 100)]
    assert observed.router[2].what == "GigabitEthernet0/0 input, service-policy police-le, class le: police exceeded"


@pytest.mark.parametrize("line", [
    "[5123:307380] -A POSTROUTING -o eth0 -j TOS --set-tos 0x04",
    "  [5123:307380] --append POSTROUTING -o eth0 -j TOS --set-tos 0x04",
])
def test_prefix_forms(line):
    assert iptables_counters_text(line, "f")[1].packets == 5123


def test_an_nftables_firewall_counts_by_its_counter_statements():
    from ansible_collections.diffserv.audit.plugins.module_utils.counters import firewall_counters
    rule = 'oifname "eth0" tcp dport 512-65535 ip dscp set lephb'
    text = (ROOT / "tests" / "fixtures" / "inputs" / "nft" / "partner-fw.nft").read_text().replace(
        rule, rule.replace(" ip dscp", " counter packets 5123 bytes 307380 ip dscp"))
    results = {"partner-fw": {"diffserv_collection": {"platform": "nftables", "files": [
        {"name": "nft-ruleset", "source": "partner-fw.nft", "text": text}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg", "text": (EXAMPLE / "border-router.cfg").read_text()}]}}}
    fleet = loader.load_fleet(results, [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    conflicts = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links).conflicts
    counters = firewall_counters(fleet.firewalls["partner-fw"], text)
    assert counters == {16: RuleCounter("partner-fw.nft", 16, 5123, 307380)}
    by_line = {c.marker.line: conflict_observed(c, fleet.routers["border-rtr1"].config, counters) for c in conflicts}
    assert by_line[16].as_dict()["firewall"] == {"line": 16, "packets": 5123, "bytes": 307380}
    # A rule without a counter statement: nothing claimed, and said.
    assert by_line[13].firewall is None and by_line[13].notes == ("partner-fw.nft:13 carries no counter in the saved dump",)
    # Without the text (and no iptables counters), nothing at all.
    assert firewall_counters(fleet.firewalls["partner-fw"]) is None
