"""Properties of the exact join on random routers and random markings, with the router trace as the judge.

Routers come from the lab differential test's generator (tests/lab/test_ios_semantics_differential.py: ACLs
with object groups, non-contiguous wildcards, port operators, DS tests, IPv6 lists, match-any/match-all
class-maps, marking and dropping policies on both sides, policy routing of both families); a firewall marks one
random class of packets (protocol, addresses, port ranges) with a random DSCP on its way out.  Then:

- sound: every reported conflict is confirmed by `trace_ios` on a concrete packet of the marked class (its
  example packet): marked and unmarked, the trace gives different outcomes (fate, egress, or a rewrite);
- no miss: for concrete packets sampled from the marked class, wherever the trace says marked and unmarked
  fare differently, a conflict of that rule and byte is reported whose flows hold the packet, with the
  packet's fate.

The trace (ios/trace.py) follows one packet line by line; the join (ios/space.py and analysis.py) decides
symbolically over classes: two different readings of one configuration.
"""

from __future__ import annotations

import ipaddress
import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.ios import trace_ios
from tests.lab.test_ios_semantics_differential import PORTS, V4_HOSTS, V6_HOSTS, Gen

PREFIXES = {4: ["10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/30", "192.0.2.0/24", "192.0.2.4/31", "203.0.113.0/27",
                "198.51.100.9/32", "0.0.0.0/1"],
            6: ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:2::/64", "2001:db8:1::/120", "fe80::/10"]}
PROTOCOLS = {4: ["tcp", "udp", "icmp", "esp"], 6: ["tcp", "udp", "icmpv6", "esp"]}
NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "esp": 50}
PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 50: "esp"}
LINK = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]


class Marking:
    """One random marking rule and the class of packets it matches."""

    def __init__(self, r: random.Random, family: int) -> None:
        self.family = family
        self.protocol = r.choice(PROTOCOLS[family])
        self.src = r.choice([None, None] + PREFIXES[family])
        self.dst = r.choice([None, None] + PREFIXES[family])
        self.sport = self.dport = None
        if self.protocol in ("tcp", "udp"):
            self.sport = r.choice([None, None, self.ports(r)])
            self.dport = r.choice([None, self.ports(r)])
        self.dscp = r.choice([1, 1, 2, 10, 12, 46, 8])

    @staticmethod
    def ports(r: random.Random) -> tuple[int, int]:
        low = r.choice([0, 20, 25, 53, 80, 443, 1024, 5000, 8080])
        return low, min(65535, low + r.choice([0, 0, 5, 60, 1000, 65535]))

    def rule(self) -> str:
        words = ["-A POSTROUTING -o eth0"]
        if self.src:
            words.append("-s " + self.src)
        if self.dst:
            words.append("-d " + self.dst)
        words.append("-p " + self.protocol)
        if self.protocol in ("tcp", "udp"):
            words.append("-m " + self.protocol)
        for flag, ports in (("--sport", self.sport), ("--dport", self.dport)):
            if ports:
                words.append("%s %s" % (flag, ports[0] if ports[0] == ports[1] else "%d:%d" % ports))
        words.append("-j DSCP --set-dscp %d" % self.dscp)
        return " ".join(words)

    def dump(self) -> str:
        return ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n%s\nCOMMIT\n" % self.rule())

    def address(self, r: random.Random, prefix: str | None) -> str:
        hosts = V4_HOSTS if self.family == 4 else V6_HOSTS
        if prefix is None:
            return r.choice(hosts)
        network = ipaddress.ip_network(prefix)
        inside = [host for host in hosts if ipaddress.ip_address(host) in network]
        choices = inside + [str(network.network_address), str(network.broadcast_address),
                            str(network.network_address + r.randrange(network.num_addresses))]
        return r.choice(choices)

    @staticmethod
    def port(r: random.Random, ports: tuple[int, int] | None) -> int:
        if ports is None:
            return r.choice(PORTS + [0, 65535, r.randrange(65536)])
        inside = [p for p in PORTS if ports[0] <= p <= ports[1]]
        return r.choice(inside + [ports[0], ports[1], r.randint(*ports)])

    def packet(self, r: random.Random) -> dict:
        packet = {"in_interface": "GigabitEthernet0/0", "out_interface": "GigabitEthernet0/1", "family": self.family,
                  "protocol": NUMBERS[self.protocol], "src": self.address(r, self.src), "dst": self.address(r, self.dst)}
        if self.protocol in ("tcp", "udp"):
            packet.update(sport=self.port(r, self.sport), dport=self.port(r, self.dport))
        if self.protocol in ("icmp", "icmpv6"):
            packet["icmp_type"] = r.choice([0, 3, 8, 128, 129, 135, 136, 2])
        return packet


def fare_differently(config, packet: dict, byte: int) -> tuple[bool, dict]:
    """The trace's own judgement of one packet: does the byte change its path's outcome (fate, egress, policer, or
    the rewrite: which bits are kept and what is written, not the byte it happens to leave with)?"""
    marked = trace_ios(config, dict(packet, tos=byte))
    discarded = marked["fate"] in ("dropped", "null-routed") and marked["unmarked"]["fate"] == marked["fate"]
    return bool(marked["because_of_dscp"]) and not discarded, marked


def audit(marking: Marking, router_text: str):
    name = "iptables-save" if marking.family == 4 else "ip6tables-save"
    results = {
        "fw": {"diffserv_collection": {"platform": "iptables", "managed": True, "files": [
            {"name": name, "source": "fw.rules", "text": marking.dump()}]}},
        "rtr": {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": router_text}]}},
    }
    fleet = loader.load_fleet(results, LINK)
    assert fleet.errors == []
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes, details=False)
    return findings, fleet.routers["rtr"].config


def _in_ranges(value: int, texts, family: int | None) -> bool:
    if texts == "any":
        return True
    for text in texts:
        if family is not None:
            if "-" in text:
                low, high = (int(ipaddress.ip_address(part)) for part in text.split("-"))
                if low <= value <= high:
                    return True
            elif ipaddress.ip_address(value if family == 4 else value) in ipaddress.ip_network(text):
                return True
        else:
            low, _dash, high = text.partition("-")
            if int(low) <= value <= int(high or low):
                return True
    return False


def holds(flow, packet: dict) -> bool:
    """Does the flow (its dimensions as findings give them) hold the concrete packet?"""
    protocols = flow.protocols
    number = NUMBERS.get(packet["protocol"], packet["protocol"])
    if protocols != "any" and PROTOCOL_NAMES[number] not in protocols:
        return False
    family = packet["family"]
    for key, texts in (("src", flow.src), ("dst", flow.dst)):
        if key in packet and not _in_ranges(int(ipaddress.ip_address(packet[key])), texts, family):
            return False
    for key, texts in (("sport", flow.sport), ("dport", flow.dport)):
        if key in packet and not _in_ranges(packet[key], texts, None):
            return False
    return True


def random_case(seed: int, family: int) -> tuple[Marking, str, random.Random]:
    r = random.Random(seed)
    return Marking(r, family), Gen(seed).configuration(), r


def check(seed: int, family: int, samples: int = 25) -> None:
    marking, router_text, r = random_case(seed, family)
    findings, config = audit(marking, router_text)
    byte = marking.dscp << 2
    context = "\n".join(["rule: " + marking.rule(), "router:", router_text])
    for conflict in findings.conflicts:
        assert conflict.ds_byte == byte and conflict.family == family, context
        # Sound: the conflict's own packet, drawn from the part of the class it names, fares differently.
        packet = {key: value for key, value in conflict.treatment.example_packet.items() if key != "tos"}
        packet.setdefault("family", family)
        differs, marked = fare_differently(config, packet, byte)
        if not conflict.treatment.confirmed_by_trace:
            # Only where the byte changes what may happen under conditions no configuration line decides (an
            # unmodelled line, an undefined list, a re-mark to an unknown value), marked or unmarked: the plain
            # packet fares alike, and the traces name those conditions.
            plain = trace_ios(config, dict(packet, tos=0))
            assert not differs and conflict.severity != "critical", (conflict.as_dict(), context)
            assert any(trace["may_match"] or trace["unmodeled"] or trace["remarked_unknown"]
                       for trace in (marked, plain)), (marked, plain, context)
            continue
        assert differs, (conflict.as_dict(), context)
        assert any(holds(flow, packet) for flow in conflict.flows), (conflict.as_dict(), context)
    for _ in range(samples):
        packet = marking.packet(r)
        differs, marked = fare_differently(config, packet, byte)
        if not differs:
            continue
        # No miss: a conflict of this byte whose flows hold the packet, with the packet's fate.
        found = [c for c in findings.conflicts if c.treatment.action == marked["fate"]
                 and any(holds(flow, packet) for flow in c.flows)]
        assert found, (packet, [c.as_dict() for c in findings.conflicts], context)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10 ** 6))
# Found by this test: `class-map match-any C3` of a list ending `permit ip any any` and of an IPv6 list (undefined
# as an IPv4 list) decides every packet; the join took the class-map for a condition no header decides and
# reported "dropped; under conditions: forwarded" where marked and plain packets are both dropped.
@example(810903)
def test_ipv4_conflicts_are_confirmed_by_a_trace_and_no_differing_packet_is_missed(seed):
    check(seed, 4)


def test_the_properties_can_fail():
    # A join that reports nothing misses: some random case has a packet whose treatment the byte changes.
    missed = 0
    for seed in range(40):
        marking, router_text, r = random_case(seed, 4)
        _findings, config = audit(marking, router_text)
        missed += any(fare_differently(config, marking.packet(r), marking.dscp << 2)[0] for _ in range(25))
    assert missed >= 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10 ** 6))
# Found in CI: IPv6 ESP marked AF11 is re-marked to 0 by class-default where unmarked packets pass untouched (same
# byte out, yet the marking is erased): the trace's own difference, so a confirmed conflict.
@example(202)
def test_ipv6_conflicts_are_confirmed_by_a_trace_and_no_differing_packet_is_missed(seed):
    check(seed, 6)
