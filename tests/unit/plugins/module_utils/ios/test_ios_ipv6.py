# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 on IOS: the router's fates per family.

`ipv6 access-list` (dscp, protocols, prefixes, ports, ICMPv6 messages, `sequence`, the
implicit neighbor-discovery permits), `ipv6 traffic-filter`, `ipv6 policy route-map` with
`match ipv6 address`, and the family reach of MQC: `match dscp` / `match precedence` both
families, `match ip dscp` / `match ip precedence` IPv4 only; `set dscp` both, `set ip dscp`
IPv4 only (Cisco IOS QoS Command Reference, `match dscp` usage guidelines; `set dscp`).
The IPv4 tables of the same configuration keep what they always said.
"""

from __future__ import annotations

import textwrap

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios import (
    fate_table,
    fate_tables,
    parse_ios,
    trace_ios,
    transit_table,
    transit_tables,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import unused_definitions


def cfg(text: str):
    return parse_ios(textwrap.dedent(text).lstrip("\n"), "v6.cfg")


DUAL = cfg("""
    ipv6 access-list EDGE6
     sequence 10 deny tcp any 2001:DB8:1::/48 eq smtp dscp 1
     permit udp 2001:db8:2::/64 any range 5000 5100 dscp af11 sequence 20
     deny icmp any any echo-request
     permit ipv6 any any
    ipv6 access-list NULL6
     permit ipv6 any any dscp 1
    access-list 106 permit ip any any dscp 1
    class-map match-any IP-ONLY
     match ip dscp 10
    class-map match-any BOTH
     match dscp 12
    policy-map MARK
     class IP-ONLY
      set ip dscp 1
     class BOTH
      set dscp 1
    route-map NUL4 permit 10
     match ip address 106
     set interface Null0
    route-map NUL6 permit 10
     match ipv6 address NULL6
     set interface Null0
    interface Gi0/0
     ipv6 traffic-filter EDGE6 in
     service-policy input MARK
     ip policy route-map NUL4
     ipv6 policy route-map NUL6
    interface Gi0/1
     ip address 192.0.2.1 255.255.255.0
    end
""")

V6 = {"in_interface": "Gi0/0", "src": "2001:db8:9::1", "dst": "2001:db8:1::25", "protocol": "tcp",
      "sport": 40000, "dport": 25}


def trace6(config, **changes):
    result = trace_ios(config, dict(V6, **changes))
    assert not any("cannot decide" in a for a in result["assumptions"]), result["assumptions"]
    return result


def test_ipv6_access_list_parses_sequence_before_or_after():
    acl = DUAL.acls6["EDGE6"]
    assert [e.seq for e in acl.entries[:4]] == [10, 20, None, None]
    assert [(e.action, e.protocol) for e in acl.entries] == [("deny", 6), ("permit", 17), ("deny", 58), ("permit", None)]
    assert "EDGE6" not in DUAL.acls
    assert [d.line for d in DUAL.diagnostics] == [25, 28]   # the IPv4 tables' may-drop stages, said


def test_traffic_filter_decides_ipv6_packets_by_prefix_port_and_dscp():
    assert trace6(DUAL, tos=4)["fate"] == "dropped"
    assert trace6(DUAL, tos=8)["fate"] == "forwarded"                       # dscp 2: not denied
    assert trace6(DUAL, tos=4, dst="2001:db8:2::25")["fate"] == "null-routed"  # outside the /48: NUL6
    assert trace6(DUAL, tos=4, dport=26)["fate"] == "null-routed"
    # ICMPv6 echo request denied, echo reply passes.
    icmp = {"protocol": "icmp", "sport": None, "dport": None}
    assert trace6(DUAL, tos=0, icmp_type=128, **icmp)["fate"] == "dropped"
    assert trace6(DUAL, tos=0, icmp_type=129, **icmp)["fate"] == "forwarded"


def test_implicit_neighbor_discovery_permits_come_before_the_implicit_deny():
    config = cfg("""
        ipv6 access-list ONLY-WEB
         permit tcp any any eq www
        interface Gi0/0
         ipv6 traffic-filter ONLY-WEB in
        end
    """)
    base = {"in_interface": "Gi0/0", "src": "fe80::1", "dst": "fe80::2", "protocol": "icmp", "tos": 0}
    assert trace_ios(config, dict(base, icmp_type=135))["fate"] == "forwarded"
    assert trace_ios(config, dict(base, icmp_type=136))["fate"] == "forwarded"
    assert trace_ios(config, dict(base, icmp_type=128))["fate"] == "dropped"
    # An explicit deny ipv6 any any comes first: neighbor discovery is blocked too.
    blocked = cfg("""
        ipv6 access-list NONE
         deny ipv6 any any
        interface Gi0/0
         ipv6 traffic-filter NONE in
        end
    """)
    assert trace_ios(blocked, dict(base, icmp_type=135))["fate"] == "dropped"


def test_match_ip_dscp_and_set_ip_dscp_reach_ipv4_only_match_dscp_and_set_dscp_both():
    udp = {"protocol": "udp", "src": "2001:db8:2::1", "dport": 5000}
    # DSCP 10 (AF11) arrives: IPv6 is not in class IP-ONLY; the filter permits it (af11, seq 20).
    six = trace6(DUAL, tos=40, **udp)
    assert six["fate"] == "forwarded" and six["tos_out"] == 40
    four = trace_ios(DUAL, {"in_interface": "Gi0/0", "protocol": "udp", "tos": 40})
    assert four["fate"] == "null-routed"            # set ip dscp 1, then NUL4
    # DSCP 12 (AF12): class BOTH marks both families DSCP 1, and each family's route-map null-routes.
    assert trace6(DUAL, tos=48, protocol="udp", dport=9)["fate"] == "null-routed"
    assert trace_ios(DUAL, {"in_interface": "Gi0/0", "protocol": "udp", "tos": 48})["fate"] == "null-routed"


def test_set_ip_dscp_in_an_ipv6_table_is_a_step_without_a_rewrite():
    config = cfg("""
        policy-map MARK
         class class-default
          set ip dscp 1
        interface Gi0/0
         service-policy input MARK
        end
    """)
    four = fate_table(config, "Gi0/0", "in").for_byte(0)
    six = fate_table(config, "Gi0/0", "in", family=6).for_byte(0)
    assert four.default.ds_out(0) == 4 and six.default.ds_out(0) == 0
    assert any("IPv4 packets only" in s.what for s in six.default.steps)


def test_per_family_tables_differ_where_the_configuration_says_so():
    four = fate_table(DUAL, "Gi0/0", "in")
    six = fate_table(DUAL, "Gi0/0", "in", family=6)
    assert six.family == 6 and four.family == 4 and six.as_dict()["family"] == 6 and "family" not in four.as_dict()
    # IPv4 DSCP 1: null-routed by NUL4; IPv6 DSCP 1: dropped by the filter for mail, null-routed otherwise.
    assert four.for_byte(4).fate == "null-routed"
    assert set(six.for_byte(4).actions) == {"dropped", "null-routed"}
    # DSCP 10: IPv4 is marked by IP-ONLY then null-routed; IPv6 only ever meets the filter.
    assert four.for_byte(40).fate == "null-routed"
    assert "null-routed" not in six.for_byte(40).actions


def test_transit_and_every_table_entry_point_take_a_family():
    assert transit_table(DUAL, "Gi0/0", "Gi0/1", family=6).family == 6
    assert {t.family for t in transit_tables(DUAL, "Gi0/0", family=6)} == {6}
    assert {t.family for t in fate_tables(DUAL, family=6)} == {6}
    with pytest.raises(DiffservError):
        fate_table(DUAL, "Gi0/0", "in", family=5)


def test_ipv6_lines_stay_may_drop_stages_of_the_ipv4_tables_as_before():
    # IPv4 behaviour is unchanged: the IPv6 lines remain conservative stages there.
    four = fate_table(DUAL, "Gi0/0", "in").for_byte(0)
    lines = {c.source.line for p in four.paths for c in p.conditions if c.source is not None}
    assert {25, 28} <= lines
    six = fate_table(DUAL, "Gi0/0", "in", family=6).for_byte(0)
    assert not any(p.unmodeled for p in six.paths)


def test_ipv4_list_in_an_ipv6_policy_route_map_matches_no_ipv6_packet():
    config = cfg("""
        access-list 106 permit ip any any
        route-map R permit 10
         match ip address 106
         set interface Null0
        interface Gi0/0
         ip policy route-map R
         ipv6 policy route-map R
        end
    """)
    assert fate_table(config, "Gi0/0", "in", family=6).for_byte(4).actions == ["forwarded"]
    assert fate_table(config, "Gi0/0", "in").for_byte(4).fate == "null-routed"


def test_class_map_acl_criterion_reads_the_list_of_its_family():
    config = cfg("""
        ipv6 access-list WEB6
         permit tcp any any eq www
        access-list 101 permit tcp any any eq www
        class-map match-any WEB
         match access-group name WEB6
        class-map match-any WEB4
         match access-group 101
        policy-map P
         class WEB
          drop
        policy-map P4
         class WEB4
          drop
        interface Gi0/0
         service-policy input P
        interface Gi0/1
         service-policy input P4
        end
    """)
    web6 = {"in_interface": "Gi0/0", "src": "2001:db8::1", "dst": "2001:db8::2", "protocol": "tcp",
            "sport": 1, "dport": 80, "tos": 0}
    assert trace_ios(config, web6)["fate"] == "dropped"
    assert trace_ios(config, dict(web6, dport=81))["fate"] == "forwarded"
    # IPv4 list in an IPv6 table: no IPv6 packet matches it, nothing undecidable.
    result = trace_ios(config, dict(web6, in_interface="Gi0/1"))
    assert result["fate"] == "forwarded" and result["may_match"] == []


def test_packet_family_is_inferred_from_addresses_or_given():
    assert trace_ios(DUAL, dict(V6, tos=4))["fate"] == "dropped"
    no_address = {"in_interface": "Gi0/0", "protocol": "udp", "tos": 4, "family": 6}
    assert trace_ios(DUAL, no_address)["fate"] in ("dropped", "null-routed")
    with pytest.raises(DiffservError):
        trace_ios(DUAL, dict(V6, family=6, src="10.0.0.1"))


def test_route_map_applied_by_ipv6_policy_is_not_unused():
    names = {(u.kind, u.name) for u in unused_definitions(DUAL)}
    assert ("route-map", "NUL6") not in names and ("route-map", "NUL4") not in names


def test_unreadable_ipv6_entry_is_may_match_with_its_line():
    config = cfg("""
        ipv6 access-list BAD
         permit tcp 2001:db8::/129 any
        interface Gi0/0
         ipv6 traffic-filter BAD in
        end
    """)
    assert [d.line for d in config.diagnostics if "BAD" in d.reason and "may-match" in d.reason] == [2]
    table = fate_table(config, "Gi0/0", "in", family=6).for_byte(0)
    assert table.actions == ["dropped", "forwarded"] or table.actions == ["dropped"]


def test_real_corpus_ipv6_access_list_is_read_as_one():
    # ciscoconfparse's sample_08 (tests/fixtures/real) carries `ipv6 access-list Deny_IPv6_Traffic`.
    import pathlib

    from ansible_collections.diffserv.audit.plugins.module_utils.ios import load_ios

    path = pathlib.Path(__file__).parents[4] / "fixtures" / "real" / "ios" / "ciscoconfparse_sample_08.ios"
    config = load_ios(str(path))
    acl = config.acls6["Deny_IPv6_Traffic"]
    assert [(e.action, e.protocol, e.source.line) for e in acl.entries] == [("deny", None, 476)]
    assert not any("Deny_IPv6_Traffic" in d.reason for d in config.diagnostics)
    assert len(fate_tables(config, family=6)) == len(fate_tables(config))
