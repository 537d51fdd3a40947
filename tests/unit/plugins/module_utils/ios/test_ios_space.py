# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A class of packets, not a byte: the router's fate for the packets a firewall marks (space.py)."""

from __future__ import annotations

import ipaddress
import random
import textwrap

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios import (
    PacketClass,
    fate_table,
    for_packets,
    parse_ios,
    trace_ios,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.space import port_intervals
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Ports


def cfg(text: str):
    return parse_ios(textwrap.dedent(text).lstrip("\n"), "space.cfg")


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


# Issue 14's false alarm: DSCP 1 is dropped only in a match-all class that also needs web ports.
WEB_ONLY = cfg("""
    ip access-list extended WEB
     permit tcp any any eq www
     permit tcp any any eq 443
    class-map match-all LE-WEB
     match dscp 1
     match access-group name WEB
    policy-map IN
     class LE-WEB
      drop
    interface Gi0/0
     service-policy input IN
    end
""")
MAIL_REPLIES = PacketClass(protocols=frozenset({6}), sport=((25, 25),), dport=((1024, 65535),))


def test_mail_replies_never_meet_a_drop_that_needs_web_ports():
    table = fate_table(WEB_ONLY, "Gi0/0", "in")
    assert table.for_byte(4).actions == ["dropped", "forwarded"]     # per byte: "under conditions"
    answer = for_packets(table, 0x04, MAIL_REPLIES)
    assert (answer.fate, answer.exact, answer.actions) == ("forwarded", True, ["forwarded"])
    assert for_packets(table, 0x00, MAIL_REPLIES).fate == "forwarded"


def test_web_requests_marked_dscp_1_are_dropped_exactly():
    table = fate_table(WEB_ONLY, "Gi0/0", "in")
    web = PacketClass(protocols=frozenset({6}), dport=((80, 80), (443, 443)))
    answer = for_packets(table, 0x04, web)
    assert (answer.fate, answer.exact) == ("dropped", True)
    assert for_packets(table, 0x00, web).fate == "forwarded"


def test_a_class_straddling_a_line_is_not_exact_and_names_the_line():
    table = fate_table(WEB_ONLY, "Gi0/0", "in")
    some_web = PacketClass(protocols=frozenset({6}), dport=((1, 1023),))
    answer = for_packets(table, 0x04, some_web)
    assert answer.fate is None and not answer.exact and answer.actions == ["dropped", "forwarded"]
    assert answer.splits and all(c.source is not None for c in answer.splits)


def test_drop_limited_to_the_marked_addresses_through_an_object_group_and_a_wildcard():
    config = cfg("""
        object-group network PARTNER
         range 203.0.113.16 203.0.113.31
        ip access-list extended NUL
         permit tcp object-group PARTNER eq smtp any dscp 1
         permit ip 10.0.0.0 0.255.0.255 any dscp 1
        route-map nul permit 10
         match ip address NUL
         set interface Null0
        interface Gi0/0
         ip policy route-map nul
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    partner = PacketClass(protocols=frozenset({6}), src=((ip("203.0.113.16"), ip("203.0.113.23")),), sport=((25, 25),))
    assert for_packets(table, 4, partner).fate == "null-routed"
    outside = PacketClass(protocols=frozenset({6}), src=((ip("203.0.113.32"), ip("203.0.113.40")),), sport=((25, 25),))
    assert for_packets(table, 4, outside).fate == "forwarded"
    # 10.x.0.y for any x, y: a non-contiguous wildcard decided exactly over address ranges.
    assert for_packets(table, 4, PacketClass(src=((ip("10.7.0.0"), ip("10.7.0.255")),))).fate == "null-routed"
    assert for_packets(table, 4, PacketClass(src=((ip("10.7.1.0"), ip("10.7.1.255")),))).fate == "forwarded"
    straddle = for_packets(table, 4, PacketClass(src=((ip("10.7.0.0"), ip("10.7.1.255")),)))
    assert not straddle.exact and straddle.actions == ["forwarded", "null-routed"]


def test_ipv6_classes_need_an_ipv6_table():
    config = cfg("""
        ipv6 access-list F
         deny udp 2001:db8::/32 any dscp 1
         permit ipv6 any any
        interface Gi0/0
         ipv6 traffic-filter F in
        end
    """)
    table = fate_table(config, "Gi0/0", "in", family=6)
    inside = PacketClass(family=6, protocols=frozenset({17}), src=((ip("2001:db8::"), ip("2001:db8::ffff")),))
    assert for_packets(table, 4, inside).fate == "dropped"
    assert for_packets(table, 0, inside).fate == "forwarded"
    with pytest.raises(DiffservError):
        for_packets(fate_table(config, "Gi0/0", "in"), 4, inside)


def test_port_intervals_of_every_operator():
    assert port_intervals(Ports("eq", (80, 25, 81), "")) == [(25, 25), (80, 81)]
    assert port_intervals(Ports("neq", (0, 80), "")) == [(1, 79), (81, 65535)]
    assert port_intervals(Ports("lt", (1024,), "")) == [(0, 1023)]
    assert port_intervals(Ports("gt", (65535,), "")) == []
    assert port_intervals(Ports("range", (10, 20), "")) == [(10, 20)]


RANDOM = cfg("""
    object-group network G
     host 10.0.0.5
     10.0.1.0 255.255.255.128
    object-group service S
     tcp range 100 200
     udp source lt 50
    ip access-list extended A
     deny tcp 10.0.0.0 0.0.254.255 any gt 150 dscp 1
     permit object-group S object-group G any dscp 1
     deny udp any any neq 53
     permit ip any any
    interface Gi0/0
     ip access-group A in
    end
""")


@pytest.mark.parametrize("seed", range(20))
def test_exact_answers_agree_with_the_trace_of_every_sampled_packet(seed):
    rng = random.Random(seed)
    table = fate_table(RANDOM, "Gi0/0", "in")
    for _round in range(30):
        low = ip("10.0.0.0") + rng.randrange(0, 600)
        src = ((low, low + rng.randrange(0, 300)),)
        sport = rng.randrange(0, 100)
        dport = rng.randrange(50, 250)
        packets = PacketClass(protocols=frozenset({rng.choice([6, 17])}), src=src,
                              sport=((sport, sport + rng.randrange(0, 30)),), dport=((dport, dport + rng.randrange(0, 60)),))
        byte = rng.choice([0, 4, 5, 8])
        answer = for_packets(table, byte, packets)
        fates = set()
        for _sample in range(40):
            packet = {"in_interface": "Gi0/0", "tos": byte, "protocol": next(iter(packets.protocols)),
                      "src": str(ipaddress.ip_address(rng.randint(*src[0]))),
                      "dst": "192.0.2.1", "sport": rng.randint(*packets.sport[0]), "dport": rng.randint(*packets.dport[0])}
            result = trace_ios(RANDOM, packet)
            fates.add(result["fate"])
            assert result["fate"] in answer.actions
        if answer.exact:
            assert fates == {answer.fate}


def _brute_cover(address, wanted) -> bool | None:
    """All (True), none (False) or some (None) of the addresses in `wanted`, tried one by one."""
    verdicts = {bool(address.matches(value)) for low, high in wanted for value in range(low, high + 1)}
    return None if len(verdicts) > 1 else (verdicts.pop() if verdicts else False)


def test_address_cover_is_exact_for_one_network_prefix_or_not():
    """The prefix fast path (one interval) and the aligned-block walk (any wildcard) against every address of
    an 8-bit space: a prefix's answer must not depend on which of the two computed it."""
    from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Address
    from ansible_collections.diffserv.audit.plugins.module_utils.ios.space import _address_cover
    rng = random.Random(7)
    prefixes = 0
    for _ in range(3000):
        wildcard = rng.choice([(1 << rng.randint(0, 8)) - 1, rng.randrange(256)])
        network = rng.randrange(256)
        prefixes += wildcard & (wildcard + 1) == 0
        address = Address(network & ~wildcard & 0xFF, wildcard, None, "n w")
        cuts = sorted(rng.sample(range(256), rng.randint(1, 6)))
        wanted = [(low, high) for low, high in zip(cuts[::2], cuts[1::2] + [cuts[-1]]) if low <= high][:3]
        assert _address_cover(address, wanted, 8) is _brute_cover(address, wanted), (network, wildcard, wanted)
        # The same pair as a one-member group takes the block walk: the same answer.
        grouped = Address(0, 0, "G", "object-group G", ((network & ~wildcard & 0xFF, wildcard),))
        assert _address_cover(grouped, wanted, 8) is _brute_cover(grouped, wanted), (network, wildcard, wanted)
    assert 1000 < prefixes < 3000
