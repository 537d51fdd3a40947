# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""exempt_flows: exactly the conflicting flows leave what catches them; every other packet fares as before.

Each plan is checked three ways: the candidate re-audits clean (plan_remediation's recheck); the commands are
what an engineer would type (`ip access-list extended 106` / ` 5 deny tcp any any gt 511 dscp 1`); and, packet by
packet, the router's trace on the candidate equals the trace on the running configuration for every packet
the exemption does not cover (another DSCP, another address, port or protocol), while a covered packet of the
conflict now fares as the same packet unmarked.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import pathlib
import random

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Findings
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import trace_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import exempt_flows
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import reaudit
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import HostText
from ansible_collections.diffserv.audit.plugins.plugin_utils import hier

from .scenarios import BY_NAME, SCENARIOS, build

INPUTS = pathlib.Path(__file__).parents[4] / "fixtures" / "inputs" / "ipv6"
MAIL6 = (INPUTS / "mail6-fw.rules").read_text()
PBR6 = (INPUTS / "border6-pbr.cfg").read_text()

# Mail replies marked DSCP 1 (TOS 0x04), the founding firewall's habit, without NAT and with SNAT to one address.
MAIL_REPLIES = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -p tcp -m tcp --sport 25 -j TOS --set-tos 0x04/0xff
COMMIT
"""
# The mail server sits behind SNAT: its replies are marked on their private source, and leave with the public one.
MAIL_REPLIES_SNAT = MAIL_REPLIES.replace("-o eth0 -p tcp", "-o eth0 -s 10.1.0.0/16 -p tcp") + """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -s 10.1.0.0/16 -j SNAT --to-source 203.0.113.5
COMMIT
"""


def router(acl: str, extra: str = "") -> str:
    """A border router that null-routes what `acl` (access-list 120's entries) permits, arriving on Gi0/0."""
    return """hostname edge
!
interface GigabitEthernet0/0
 ip address 192.0.2.1 255.255.255.0
 ip policy route-map worm-filter
!
interface GigabitEthernet0/1
 ip address 198.51.100.1 255.255.255.0
%s!
%s
!
route-map worm-filter permit 10
 match ip address 120
 set interface Null0
!
end
""" % (extra, acl)


@dataclasses.dataclass
class Audited:
    findings: Findings
    plan: core.Plan
    running: str

    @property
    def change(self) -> core.HostChange:
        return next(change for change in self.plan.changes if change.host == "rtr")


def plan_exempt(firewall: str, router_text: str, item: str = "iptables-save") -> Audited:
    results = {
        "fw": {"diffserv_collection": {"platform": "iptables", "managed": False, "files": [
            {"name": item, "source": "fw.rules", "text": firewall}]}},
        "rtr": {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": router_text}]}}}
    fleet = loader.load_fleet(results, [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}])
    assert not fleet.errors, fleet.errors
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    hosts = {"fw": HostText("fw", "iptables", firewall, "fw.rules", False),
             "rtr": HostText("rtr", "ios", router_text, "rtr.cfg")}
    (plan,) = core.plan_remediation(findings, hosts, core.Options(strategies=("exempt_flows",)), hier.staged_commands,
                                    fleet=reaudit.fleet_from_loaded(findings, hosts, fleet.routers, fleet.firewalls))
    return Audited(findings, plan, router_text)


def added(change: core.HostChange) -> list[str]:
    before = change.running.split("\n")
    return [line for line in change.candidate.split("\n") if line not in before]


# ---------------------------------------------------------------------- what a packet's trace must keep
def inside(packet: dict, box) -> bool:
    """Whether a concrete packet is one of a PacketClass's packets (the test's own reading of the class)."""
    number = {"tcp": 6, "udp": 17, "icmp": 1}.get(packet["protocol"], packet["protocol"])
    if box.protocols is not None and number not in box.protocols:
        return False
    make = ipaddress.IPv4Address if box.family == 4 else ipaddress.IPv6Address
    for key in ("src", "dst"):
        ranges = getattr(box, key)
        if ranges is not None and not any(low <= int(make(packet[key])) <= high for low, high in ranges):
            return False
    for key in ("sport", "dport"):
        ranges = getattr(box, key)
        if ranges is not None and (key not in packet or not any(low <= packet[key] <= high for low, high in ranges)):
            return False
    return True


def random_packets(rng: random.Random, family: int, count: int, dscps: tuple[int, ...]):
    if family == 4:
        addresses = ["192.0.2.7", "10.1.2.3", "203.0.113.5", "203.0.113.99", "198.51.100.9", "198.51.100.200",
                     "172.16.4.4", "8.8.8.8"]
    else:
        addresses = ["2001:db8::7", "2001:db8:1::9", "2001:db8:ffff::5", "fd00::1"]
    # The conflicts' own values (mail, DSCP 1) often, so that many packets are of a conflict, and the values
    # around them (another port, another codepoint, ECN bits set) as often as the rest.
    ports = [25, 25, 25, 80, 110, 443, 465, 511, 512, 993, 1023, 1024, 40000, 65535]
    for _index in range(count):
        protocol = rng.choice(["tcp", "tcp", "udp", "icmp"])
        dscp = dscps[0] if rng.random() < 0.5 else rng.choice(dscps)
        packet = {"protocol": protocol, "src": rng.choice(addresses), "dst": rng.choice(addresses),
                  "tos": (dscp << 2) | rng.choice((0, 0, 1, 2))}
        if protocol in ("tcp", "udp"):
            packet.update(sport=rng.choice(ports), dport=rng.choice(ports))
        yield packet


def fate(config, packet: dict, interface: str, out: str) -> tuple:
    found = trace_ios(config, dict(packet, in_interface=interface, out_interface=out))
    return found["fate"], found["tos_out"], tuple(sorted(str(m) for m in found.get("may") or ()))


def assert_only_the_conflicts_change(conflicts, running: str, candidate: str, interface: str, out: str,
                                     family: int = 4, seed: int = 0, count: int = 1500) -> int:
    """Every packet the exemption does not cover fares as before; a conflict's packet now fares as unmarked.
    Returns how many packets were of a conflict (a test that met none would prove nothing)."""
    before, after = parse_ios(running, "rtr.cfg"), parse_ios(candidate, "rtr.cfg")
    dscps = tuple(sorted({c.dscp for c in conflicts})) + (0, 3, 10, 46)
    met = 0
    for packet in random_packets(random.Random(seed), family, count, dscps):
        dscp = packet["tos"] >> 2
        exact = [c for c in conflicts if c.dscp == dscp and any(inside(packet, box) for box in c.packets)]
        covered = [c for c in conflicts if c.dscp == dscp and any(inside(packet, box) for box in c.packets + c.moot)]
        if exact:
            met += 1
            assert fate(after, packet, interface, out)[0] == fate(before, dict(packet, tos=packet["tos"] & 3),
                                                                  interface, out)[0], packet
        elif not covered:
            assert fate(after, packet, interface, out) == fate(before, packet, interface, out), packet
    return met


# ---------------------------------------------------------------------- the scenarios of every strategy
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_is_exempted_and_nothing_else_changes(scenario):
    hosts, findings = build(scenario)
    (plan,) = core.plan_remediation(findings, hosts, core.Options(strategies=("exempt_flows",)), hier.staged_commands)
    assert plan.clean, (plan.recheck, plan.stage_problems)
    change = next(change for change in plan.changes if change.host == scenario.router)
    assert change.changed and change.commands and change.rollback
    conflicts = [dataclasses.replace(c, packets=c.packets) for c in findings.conflicts]
    config = parse_ios(change.running, "rtr.cfg")
    out = next(name for name in config.interfaces if name != scenario.interface and not name.startswith("Null"))
    assert assert_only_the_conflicts_change(conflicts, change.running, change.candidate, scenario.interface, out) > 0


def test_the_founding_router_gets_three_entries_before_the_worm_filter_and_keeps_it_for_everyone_else():
    hosts, findings = build(BY_NAME["founding"])
    (plan,) = core.plan_remediation(findings, hosts, core.Options(strategies=("exempt_flows",)), hier.staged_commands)
    change = next(change for change in plan.changes if change.host == "border-rtr1")
    # As IOS prints them (`deny` padded to the width of `permit`).
    assert added(change) == ["access-list 106 deny   tcp any any gt 511 dscp 1",
                             "access-list 106 deny   tcp any any eq pop3 dscp 1",
                             "access-list 106 deny   tcp any any eq 465 dscp 1"]
    # The new entries go in by sequence number before the old one (10), which stays.
    # Spread over the free numbers 1-9, so that a later entry still finds room on either side.
    assert change.commands == ("ip access-list extended 106", " 3 deny tcp any any gt 511 dscp 1",
                               " 5 deny tcp any any eq pop3 dscp 1", " 7 deny tcp any any eq 465 dscp 1", " exit")
    assert change.rollback == ("ip access-list extended 106", " no 3", " no 5", " no 7", " exit")
    assert "access-list 106 permit ip any any dscp 1" in change.candidate.split("\n")
    # A worm's DSCP 1 web request is still null-routed; the partner's mail replies are not.
    config = parse_ios(change.candidate, "rtr.cfg")
    worm = {"protocol": "tcp", "src": "192.0.2.66", "dst": "198.51.100.80", "sport": 40000, "dport": 80, "tos": 4}
    reply = dict(worm, sport=25, dport=40000)
    assert fate(config, worm, "GigabitEthernet0/0", "GigabitEthernet0/1")[0] == "null-routed"
    assert fate(config, reply, "GigabitEthernet0/0", "GigabitEthernet0/1")[0] == "forwarded"
    assert any("every other packet with that DSCP still is" in risk for risk in plan.risks)
    # The router marks DSCP 1 itself (the NBAR class of Code-Red URLs): such packets of the partner's flows are
    # exempted too, and the plan says so; a worm's request to a high port is the price.
    assert any("class http-hacks marks DSCP 1 (LE) itself" in risk and "no longer null-routed" in risk
               and "partner-fw marks at lines 23, 25, 35" in risk
               for risk in plan.risks), plan.risks
    nbar = dict(reply, sport=40000, dport=8080, tos=0)
    assert trace_ios(config, dict(nbar, in_interface="GigabitEthernet0/0", out_interface="GigabitEthernet0/1",
                                  nbar=["http-hacks"]))["fate"] == "forwarded"


# ---------------------------------------------------------------------- part of the header space, NAT, IPv6
def test_a_drop_limited_to_part_of_the_marked_packets_is_exempted_for_that_part_only():
    audited = plan_exempt(MAIL_REPLIES, router("access-list 120 permit tcp any 198.51.100.0 0.0.0.127 dscp 1"))
    (conflict,) = audited.findings.conflicts
    assert conflict.flows[0].partial
    assert audited.plan.clean, audited.plan.recheck
    assert added(audited.change) == ["access-list 120 deny   tcp any eq smtp 198.51.100.0 0.0.0.127 dscp 1"]
    assert assert_only_the_conflicts_change(audited.findings.conflicts, audited.running, audited.change.candidate,
                                            "GigabitEthernet0/0", "GigabitEthernet0/1") > 0


def test_the_exemption_is_written_for_the_address_the_router_sees_after_snat():
    acl = "access-list 120 permit tcp host 203.0.113.5 any dscp 1\naccess-list 120 permit tcp host 203.0.113.99 any dscp 1"
    audited = plan_exempt(MAIL_REPLIES_SNAT, router(acl))
    assert audited.findings.conflicts and audited.plan.clean, audited.plan.recheck
    assert added(audited.change) == ["access-list 120 deny   tcp host 203.0.113.5 eq smtp any dscp 1"]
    # Not the private source the mangle rule saw, and the other host's entry is left as it was.
    assert "10.1." not in "\n".join(added(audited.change))
    assert assert_only_the_conflicts_change(audited.findings.conflicts, audited.running, audited.change.candidate,
                                            "GigabitEthernet0/0", "GigabitEthernet0/1") > 0


def test_an_ipv6_conflict_is_exempted_in_the_ipv6_list_numbered_as_it_prints():
    audited = plan_exempt(MAIL6, PBR6, item="ip6tables-save")
    assert [c.family for c in audited.findings.conflicts] == [6]
    assert audited.plan.clean, audited.plan.recheck
    assert added(audited.change) == [" sequence 5 deny tcp any eq smtp any gt 1023 dscp 1"]
    assert audited.change.commands[0] == "ipv6 access-list LE-TRAFFIC"
    assert assert_only_the_conflicts_change(audited.findings.conflicts, audited.running, audited.change.candidate,
                                            "GigabitEthernet0/0", "GigabitEthernet0/1", family=6) > 0


# ---------------------------------------------------------------------- read back, refused, too many
def test_findings_read_back_from_json_plan_the_same_exemptions():
    hosts, findings = build(BY_NAME["founding"])
    fresh = core.plan_remediation(findings, hosts, core.Options(strategies=("exempt_flows",)))
    read_back = Findings.from_dict(findings.as_dict())
    assert read_back.conflicts and not any(c.packets for c in read_back.conflicts)
    again = core.plan_remediation(read_back, hosts, core.Options(strategies=("exempt_flows",)))
    assert [c.candidate for c in again[0].changes] == [c.candidate for c in fresh[0].changes]
    assert again[0].clean


def test_conflicts_read_back_have_their_link_joined_once_for_all_of_them(monkeypatch):
    hosts, findings = build(BY_NAME["founding"])
    read_back = Findings.from_dict(findings.as_dict())
    assert len({(c.link.source, c.link.target) for c in read_back.conflicts}) == 1 < len(read_back.conflicts)
    fleet = core.build_fleet(read_back, hosts, core.Options())
    joins = []
    real = analysis.conflicts_on_link
    monkeypatch.setattr(analysis, "conflicts_on_link", lambda *args: joins.append(args[0]) or real(*args))
    planned = exempt_flows.plan(fleet, list(read_back.conflicts), core.Options())
    assert len(joins) == 1 and any(change.stages for change in planned.changes)


def test_a_list_that_also_filters_somewhere_is_not_bent_the_other_way():
    audited = plan_exempt(MAIL_REPLIES, router("access-list 120 permit tcp any any dscp 1",
                                               extra="!\ninterface GigabitEthernet0/2\n ip access-group 120 in\n"))
    assert audited.findings.conflicts
    assert not audited.change.changed
    assert any("also serves as a filter" in note for note in audited.change.notes), audited.change.notes
    assert not audited.plan.clean


def test_flows_that_need_too_many_entries_are_left_to_the_other_strategies(monkeypatch):
    monkeypatch.setattr(exempt_flows, "ENTRY_LIMIT", 2)
    hosts, findings = build(BY_NAME["founding"])
    (plan,) = core.plan_remediation(findings, hosts, core.Options(strategies=("exempt_flows",)))
    change = next(change for change in plan.changes if change.host == "border-rtr1")
    assert any("takes 3 entries" in note and "more than 2" in note for note in change.notes), change.notes
    assert added(change) == ["access-list 106 deny   tcp any any gt 511 dscp 1",
                             "access-list 106 deny   tcp any any eq pop3 dscp 1"]


def test_more_entries_than_the_numbers_free_before_the_entry_say_resequence():
    # Ten ports, each its own entry: IOS numbered the list 10, 20, ...; nine numbers are free before 10.
    ports = ",".join(str(port) for port in range(2000, 2020, 2))
    firewall = MAIL_REPLIES.replace("-p tcp -m tcp --sport 25", "-p tcp -m multiport --sports %s" % ports)
    audited = plan_exempt(firewall, router("access-list 120 permit tcp any any dscp 1"))
    assert audited.findings.conflicts and not audited.change.changed
    assert any("no free sequence numbers before line" in note and "resequence" in note
               for note in audited.change.notes), audited.change.notes
    audited = plan_exempt(firewall.replace(",2018", ""), router("access-list 120 permit tcp any any dscp 1"))
    assert len(added(audited.change)) == 9 and audited.plan.clean, audited.change.notes
    assert [int(line.split()[0]) for line in audited.change.commands[1:-1]] == list(range(1, 10))


def test_a_numbered_list_without_room_before_the_entry_says_resequence():
    audited = plan_exempt(MAIL_REPLIES, router("ip access-list extended 120\n 1 permit tcp any any dscp 1"))
    assert not audited.change.changed
    assert any("resequence" in note for note in audited.change.notes), audited.change.notes


@pytest.mark.parametrize("packets,words", [
    # Ports as IOS prints them (keywords), ranges at either end as lt/gt, an ICMP type by name.
    ([exempt_flows.PacketClass(4, frozenset({17}), None, None, None, ((0, 52),))], ["deny udp any any lt domain dscp 1"]),
    ([exempt_flows.PacketClass(4, frozenset({6, 17}), ((0x0A000000, 0x0A0000FF),), None, ((80, 80),), None)],
     ["deny tcp 10.0.0.0 0.0.0.255 eq www any dscp 1", "deny udp 10.0.0.0 0.0.0.255 eq 80 any dscp 1"]),
    ([exempt_flows.PacketClass(4, frozenset({1}), None, None, None, None, frozenset({8}))],
     ["deny icmp any any echo dscp 1"]),
    # Ports with no protocol are TCP's and UDP's; a range that is not one prefix is several.
    ([exempt_flows.PacketClass(4, None, ((1, 2),), None, None, ((1000, 2000),))],
     ["deny tcp host 0.0.0.1 any range 1000 2000 dscp 1", "deny tcp host 0.0.0.2 any range 1000 2000 dscp 1",
      "deny udp host 0.0.0.1 any range 1000 2000 dscp 1", "deny udp host 0.0.0.2 any range 1000 2000 dscp 1"]),
])
def test_entries_say_exactly_the_packets(packets, words):
    assert exempt_flows.entry_words(packets, "deny", 1) == words


def test_merging_adds_no_packet():
    rng = random.Random(7)
    tcp = frozenset({6})
    boxes = [exempt_flows.PacketClass(4, tcp, None, None, ((low, low + rng.randint(0, 50)),), ((port, port),))
             for low in range(0, 1000, 100) for port in (25, 110)]
    merged = exempt_flows.merged_boxes(boxes)
    assert len(merged) < len(boxes)
    for _index in range(3000):
        packet = {"protocol": "tcp", "src": "1.2.3.4", "dst": "5.6.7.8", "sport": rng.randint(0, 1100),
                  "dport": rng.choice((25, 110, 443))}
        assert any(inside(packet, box) for box in boxes) == any(inside(packet, box) for box in merged)


def test_past_the_join_budget_an_exemption_the_trace_confirms_is_not_called_a_critical_null_route(monkeypatch):
    """On a router of a thousand interfaces the join spends its budget and judges the rest per DS byte, header
    tests not applied: the exemption's deny entry reads as not matching and the null route as the plain fate.
    The trace of a packet of the class says otherwise; the conflict is then one under conditions, not a critical
    one (a re-audit of the 50,000-line router's exemptions reported a critical null route that was not there)."""
    firewall = MAIL_REPLIES.replace("--sport 25", "--dport 512:65535")
    acl = "access-list 120 deny   tcp any any gt 511 dscp 1\naccess-list 120 permit ip any any dscp 1"
    exact = plan_exempt(firewall, router(acl))
    assert not exact.findings.conflicts  # every marked packet is exempted: exactly, nothing to report
    monkeypatch.setattr(analysis, "JOIN_BUDGET", 0)
    judged = plan_exempt(firewall, router(acl))
    (conflict,) = judged.findings.conflicts
    assert any("judged per DS byte" in condition.reason for condition in conflict.treatment.may_match)
    assert not conflict.treatment.confirmed_by_trace and conflict.severity == "medium"
    # Its plan does not type the exemption the list already holds again (hier_config would refuse the duplicate).
    change = judged.change
    assert not change.changed
    assert any("already holds every exemption it needs" in note for note in change.notes), change.notes


@pytest.mark.parametrize("match", ["match-all", "match-any"])
@pytest.mark.parametrize("families", ["ipv6", "both"])
def test_a_class_map_matching_both_families_gets_a_list_of_each_named_alike(match, families):
    """`match dscp 1` matches IPv4 and IPv6 packets, and `match access-group name X` reads the IPv4 list X for
    IPv4 packets and the IPv6 list X for IPv6 ones: each family's flows go in its own list, and a family with
    nothing to exempt gets a list that matches nothing, so that its packets meet the class as before (a list of
    one family only left the other family's packets to an undefined list: a may-match, and a stage problem)."""
    from .test_dual_family_plans import BOTH, ROUTERS

    router_text = ROUTERS[46].replace("match-all lower-effort", "%s lower-effort" % match)
    audited = plan_exempt(MAIL6 if families == "ipv6" else BOTH, router_text,
                          item="ip6tables-save" if families == "ipv6" else "iptables-save")
    assert {c.family for c in audited.findings.conflicts} == ({6} if families == "ipv6" else {4, 6})
    assert audited.plan.clean, (audited.plan.recheck, audited.plan.stage_problems)
    lines = added(audited.change)
    ipv4 = lines[lines.index("ip access-list extended DIFFSERV-EXEMPT-lower-effort") + 1]
    ipv6 = lines[lines.index("ipv6 access-list DIFFSERV-EXEMPT-lower-effort") + 1]
    assert ipv6 == " permit tcp any eq smtp any gt 1023 dscp 1 sequence 10"
    assert ipv4 == (" deny   ip any any" if families == "ipv6" else " permit tcp any any gt 511 dscp 1")
    assert (" match not access-group name DIFFSERV-EXEMPT-lower-effort" in lines) and (
        (" match class-map DIFFSERV-lower-effort-DSCP" in lines) == (match == "match-any"))
    assert assert_only_the_conflicts_change(audited.findings.conflicts, audited.running, audited.change.candidate,
                                            "GigabitEthernet0/0", "GigabitEthernet0/1",
                                            family=6 if families == "ipv6" else 4) > 0
