# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Object groups in access lists, resolved exactly (Cisco IOS XE "Object Groups for ACLs").

`object-group network` members (host, address with subnet mask, prefix, range, any,
nested `group-object`) and `object-group service` members (tcp/udp/tcp-udp with source and
destination port operators, icmp messages, protocols, nested groups) stand for the entry's
addresses or its protocol and ports.  The model decides from them; what it cannot resolve
(an undefined group, a cycle, a member IOS would refuse) is a may-match with a Diagnostic on
the line, the way every unreadable ACL word is.
"""

from __future__ import annotations

import textwrap

from ansible_collections.diffserv.audit.plugins.module_utils.ios import fate_table, parse_ios, trace_ios
from ansible_collections.diffserv.audit.plugins.module_utils.ios.acl import range_blocks

HEAD = """\
object-group network SCAN-SOURCES
 description partner scanners
 host 192.0.2.7
 198.51.100.0 255.255.255.0
 range 203.0.113.10 203.0.113.20
 group-object INNER
object-group network INNER
 10.1.0.0 /16
object-group service WEB-SVC
 tcp eq www
 tcp-udp eq domain
 tcp source range 1 1023 eq 8080
 icmp echo
 group-object ESP
object-group service ESP
 esp
interface Gi0/0
 ip policy route-map nul
route-map nul permit 10
 match ip address NUL
 set interface Null0
"""


def cfg(acl: str, head: str = HEAD):
    return parse_ios(head + textwrap.dedent(acl).lstrip("\n") + "end\n", "og.cfg")


NAMED = """
ip access-list extended NUL
 permit tcp object-group SCAN-SOURCES eq smtp any dscp 1
 permit object-group WEB-SVC any any dscp 1
"""


def fate(config, **packet):
    result = trace_ios(config, dict({"in_interface": "Gi0/0", "tos": 4, "dst": "192.0.2.200"}, **packet))
    assert not any("cannot decide" in a for a in result["assumptions"]), result["assumptions"]
    return result["fate"]


def test_network_group_members_host_mask_range_and_nested_group_decide_exactly():
    config = cfg(NAMED)
    assert config.diagnostics == ()
    tcp = {"protocol": "tcp", "sport": 25, "dport": 40000}
    assert fate(config, src="192.0.2.7", **tcp) == "null-routed"
    assert fate(config, src="198.51.100.255", **tcp) == "null-routed"
    assert fate(config, src="203.0.113.10", **tcp) == "null-routed"
    assert fate(config, src="203.0.113.20", **tcp) == "null-routed"
    assert fate(config, src="203.0.113.21", **tcp) == "forwarded"
    assert fate(config, src="203.0.113.9", **tcp) == "forwarded"
    assert fate(config, src="10.1.255.1", **tcp) == "null-routed"   # nested INNER
    assert fate(config, src="10.2.0.1", **tcp) == "forwarded"
    # The entry's own port and DSCP still apply.
    assert fate(config, src="192.0.2.7", protocol="tcp", sport=26, dport=40000) == "forwarded"
    assert fate(config, src="192.0.2.7", tos=8, **tcp) == "forwarded"


def test_service_group_stands_for_protocol_and_ports():
    config = cfg(NAMED)
    src = {"src": "192.0.2.99"}
    assert fate(config, protocol="tcp", sport=40000, dport=80, **src) == "null-routed"
    assert fate(config, protocol="udp", sport=40000, dport=80, **src) == "forwarded"
    assert fate(config, protocol="udp", sport=40000, dport=53, **src) == "null-routed"   # tcp-udp
    assert fate(config, protocol="tcp", sport=40000, dport=53, **src) == "null-routed"
    assert fate(config, protocol="tcp", sport=1023, dport=8080, **src) == "null-routed"  # source range
    assert fate(config, protocol="tcp", sport=1024, dport=8080, **src) == "forwarded"
    assert fate(config, protocol="icmp", icmp_type=8, **src) == "null-routed"
    assert fate(config, protocol="icmp", icmp_type=0, **src) == "forwarded"
    assert fate(config, protocol=50, **src) == "null-routed"                             # nested ESP
    assert fate(config, protocol=47, **src) == "forwarded"


def test_numbered_list_with_groups_in_destination_position():
    config = cfg("""
        access-list 106 permit tcp any object-group SCAN-SOURCES eq 443 dscp 1
        access-list 106 permit object-group WEB-SVC any object-group INNER dscp 1
    """, HEAD.replace("NUL", "106"))
    assert config.diagnostics == ()
    assert fate(config, src="1.1.1.1", protocol="tcp", sport=1, dport=443, dst="203.0.113.15") == "null-routed"
    assert fate(config, src="1.1.1.1", protocol="tcp", sport=1, dport=443, dst="203.0.113.25") == "forwarded"
    assert fate(config, src="1.1.1.1", protocol="tcp", sport=1, dport=80, dst="10.1.0.9") == "null-routed"
    assert fate(config, src="1.1.1.1", protocol="tcp", sport=1, dport=81, dst="10.1.0.9") == "forwarded"


def test_fate_table_shows_the_group_condition_not_an_unmodeled_one():
    config = cfg(NAMED)
    dscp1 = fate_table(config, "Gi0/0", "in").for_byte(4)
    assert dscp1.fate == "forwarded" and dscp1.actions == ["forwarded", "null-routed"]
    kinds = {c.kind for p in dscp1.paths for c in p.conditions}
    assert "unmodeled" not in kinds and not any(p.unmodeled for p in dscp1.paths)


def test_undefined_group_is_may_match_named_with_its_line():
    config = cfg("""
        ip access-list extended NUL
         permit tcp object-group NO-SUCH eq smtp any dscp 1
    """)
    line = HEAD.count("\n") + 2
    assert [(d.line, "object-group NO-SUCH is not defined" in d.reason) for d in config.diagnostics] == [(line, True)]
    result = trace_ios(config, {"in_interface": "Gi0/0", "tos": 4, "protocol": "tcp", "src": "192.0.2.7",
                                "sport": 25, "dst": "192.0.2.1", "dport": 1})
    assert result["fate"] == "forwarded"
    assert [m["line"] for m in result["may_match"]] == [line]
    assert [m["fate"] for m in result["may"]] == ["null-routed"]


def test_group_used_as_the_wrong_kind_is_may_match():
    config = cfg("""
        ip access-list extended NUL
         permit object-group SCAN-SOURCES any any dscp 1
    """)
    assert any("is a network group, used here as a service group" in d.reason for d in config.diagnostics)
    assert fate_table(config, "Gi0/0", "in").for_byte(4).actions == ["forwarded", "null-routed"]


def test_nesting_cycle_is_said_on_the_group_object_line_and_entries_become_may_match():
    head = HEAD + "object-group network LOOP-A\n host 10.9.9.9\n group-object LOOP-B\n" \
                  "object-group network LOOP-B\n group-object LOOP-A\n"
    config = parse_ios(head + "ip access-list extended NUL\n permit ip object-group LOOP-A any dscp 1\nend\n", "og.cfg")
    cycle = [d for d in config.diagnostics if "cycle" in d.reason]
    assert len(cycle) == 1 and cycle[0].text == "group-object LOOP-A"
    entry = [d for d in config.diagnostics if d.text.startswith("permit ip object-group LOOP-A")]
    assert len(entry) == 1 and "may-match" in entry[0].reason
    result = trace_ios(config, {"in_interface": "Gi0/0", "tos": 4, "protocol": "tcp", "src": "10.9.9.9",
                                "dst": "192.0.2.1", "sport": 1, "dport": 1})
    assert result["fate"] == "forwarded" and [m["fate"] for m in result["may"]] == ["null-routed"]


def test_bad_member_is_said_and_makes_the_group_may_match():
    head = HEAD + "object-group network BAD\n 10.0.0.0 255.0.255.0\n"
    config = parse_ios(head + "ip access-list extended NUL\n permit ip object-group BAD any dscp 1\nend\n", "og.cfg")
    assert any("not a subnet mask" in d.reason and d.text == "10.0.0.0 255.0.255.0" for d in config.diagnostics)
    assert fate_table(config, "Gi0/0", "in").for_byte(4).actions == ["forwarded", "null-routed"]


def test_group_defined_after_the_list_is_resolved():
    config = parse_ios("interface Gi0/0\n ip access-group 101 in\n"
                       "access-list 101 deny ip object-group LATE any\naccess-list 101 permit ip any any\n"
                       "object-group network LATE\n host 10.0.0.1\nend\n", "og.cfg")
    assert config.diagnostics == ()
    base = {"in_interface": "Gi0/0", "tos": 0, "protocol": "udp", "dst": "10.9.0.1", "sport": 1, "dport": 1}
    assert trace_ios(config, dict(base, src="10.0.0.1"))["fate"] == "dropped"
    assert trace_ios(config, dict(base, src="10.0.0.2"))["fate"] == "forwarded"


def test_range_blocks_cover_the_range_exactly():
    for low, high in [(0, 0), (1, 6), (10, 20), (0, 2**32 - 1), (2**32 - 3, 2**32 - 1), (7, 8)]:
        covered = set()
        for network, wildcard in range_blocks(low, high):
            assert network & wildcard == 0
            if wildcard < 4096:
                covered.update(range(network, network + wildcard + 1))
        if high - low < 4096:
            assert covered == set(range(low, high + 1))
    assert range_blocks(0, 2**32 - 1) == [(0, 2**32 - 1)]
