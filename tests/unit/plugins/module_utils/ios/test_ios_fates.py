# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fate tables: per interface and direction, what happens to each arriving DS byte, and why."""

from __future__ import annotations

import json
import pathlib
import textwrap

from ansible_collections.diffserv.audit.plugins.module_utils.ios import (
    fate_table,
    fate_tables,
    load_ios,
    parse_ios,
    transit_table,
    transit_tables,
    unused,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import NULL_ROUTED

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
BORDER = FIXTURES / "border-router.cfg"


def cfg(text: str):
    return parse_ios(textwrap.dedent(text).lstrip("\n"), "test.cfg")


def line_of(path: pathlib.Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() == text:
            return number
    raise AssertionError("%r not in %s" % (text, path))


def only(classes):
    (single,) = classes
    return single


def default_lines(fate_class) -> list[int]:
    return [s.source.line for s in fate_class.default.steps]


# ---------------------------------------------------------------- the founding incident ("done when")
def test_dscp_1_arriving_on_the_uplink_is_null_routed():
    table = fate_table(load_ios(str(BORDER)), "GigabitEthernet0/0", "in")
    dscp1 = only(table.for_dscp(1))
    assert dscp1.fate == NULL_ROUTED
    assert dscp1.because_of_dscp


def test_null_route_cites_acl_route_map_and_interface_lines():
    table = fate_table(load_ios(str(BORDER)), "GigabitEthernet0/0", "in")
    cited = default_lines(only(table.for_dscp(1)))
    for text in (
        "access-list 106 permit ip any any dscp 1",
        "route-map null_policy_route permit 10",
        "match ip address 106",
        "set interface Null0",
        "ip policy route-map null_policy_route",
    ):
        assert line_of(BORDER, text) in cited, text


def test_null_route_step_on_acl_106_is_marked_as_testing_the_dscp():
    table = fate_table(load_ios(str(BORDER)), "GigabitEthernet0/0", "in")
    acl_line = line_of(BORDER, "access-list 106 permit ip any any dscp 1")
    (step,) = [s for s in only(table.for_dscp(1)).default.steps if s.source.line == acl_line]
    assert step.depends_on_dscp


def test_router_itself_marks_dscp_1_on_the_http_hacks_class():
    table = fate_table(load_ios(str(BORDER)), "GigabitEthernet0/0", "in")
    set_line = line_of(BORDER, "set ip dscp 1")
    marks = [(step, conds) for step, conds in table.markings() if step.source.line == set_line]
    assert marks
    step, conds = marks[0]
    assert step.rewrite.value == 1 << 2
    assert any(c.kind == "nbar" and c.source.line == line_of(BORDER, 'match protocol http url "*default.ida*"')
               for c in conds)


def test_unmarked_traffic_is_forwarded_unless_nbar_marks_it():
    table = fate_table(load_ios(str(BORDER)), "GigabitEthernet0/0", "in")
    zero = only(table.for_dscp(0))
    assert zero.fate == "forwarded"
    assert not zero.because_of_dscp
    marked = [p for p in zero.paths if p.action == NULL_ROUTED]
    assert marked and all(any(c.kind == "nbar" for c in p.conditions) for p in marked)
    assert marked[0].ds_out(0) == 0x04


def test_all_four_ecn_bytes_of_dscp_1_are_null_routed():
    table = fate_table(load_ios(str(BORDER)), "Gi0/0", "in")
    assert {table.for_byte(b).fate for b in (0x04, 0x05, 0x06, 0x07)} == {NULL_ROUTED}


def test_legacy_tos_values_other_than_reliability_are_not_affected():
    table = fate_table(load_ios(str(BORDER)), "Gi0/0", "in")
    for byte in (0x00, 0x02, 0x08, 0x10):
        assert table.for_byte(byte).fate == "forwarded"
        assert not table.because_of_dscp(byte)


def test_anti_spoofing_acl_appears_as_a_condition_not_as_the_fate():
    table = fate_table(load_ios(str(BORDER)), "Gi0/0", "in")
    dropped = [p for p in only(table.for_dscp(1)).paths if p.action == "dropped"]
    assert dropped and dropped[0].conditions[0].kind == "acl"
    assert line_of(BORDER, "access-list 110 deny   ip 10.0.0.0 0.255.255.255 any") in [
        s.source.line for s in dropped[0].steps]


def test_inside_interface_has_an_empty_pipeline():
    table = fate_table(load_ios(str(BORDER)), "Gi0/1", "in")
    assert table.stages == ()
    assert only(table.classes).fate == "forwarded"


def test_fate_table_is_json_serialisable_with_64_dscp_rows():
    table = fate_table(load_ios(str(BORDER)), "Gi0/0", "in")
    data = json.loads(json.dumps(table.as_dict()))
    assert len(data["by_dscp"]) == 64
    assert data["by_dscp"][1]["fate"] == NULL_ROUTED and data["by_dscp"][1]["because_of_dscp"]
    assert data["by_dscp"][0]["fate"] == "forwarded"
    assert data["interface"] == "GigabitEthernet0/0"


def test_fate_tables_cover_every_interface_both_ways():
    config = load_ios(str(BORDER))
    tables = fate_tables(config)
    assert len(tables) == 2 * len(config.interfaces)
    shut = [t for t in tables if t.interface == "Serial0/0/0"]
    assert all(t.shutdown for t in shut)


# ---------------------------------------------------------------- the three Code-Red drops of document 27842
def test_method_a_output_acl_sees_what_the_input_policy_wrote():
    config = load_ios(str(FIXTURES / "codered-acl-out.cfg"))
    table = transit_table(config, "Serial0/0", "Ethernet0/1")
    zero = only(table.for_dscp(0))
    assert zero.fate == "forwarded"
    hacked = [p for p in zero.paths if any(c.kind == "nbar" for c in p.conditions)]
    assert hacked and hacked[0].action == "dropped"


def test_method_a_drops_a_partners_dscp_1():
    config = load_ios(str(FIXTURES / "codered-acl-out.cfg"))
    table = transit_table(config, "Serial0/0", "Ethernet0/1")
    dscp1 = only(table.for_dscp(1))
    assert dscp1.fate == "dropped" and dscp1.because_of_dscp
    assert line_of(FIXTURES / "codered-acl-out.cfg", "access-list 105 deny ip any any dscp 1 log") in default_lines(dscp1)


def test_method_a_input_direction_alone_forwards_dscp_1():
    config = load_ios(str(FIXTURES / "codered-acl-out.cfg"))
    assert only(fate_table(config, "Serial0/0", "in").for_dscp(1)).fate == "forwarded"
    assert only(fate_table(config, "Ethernet0/1", "out").for_dscp(1)).fate == "dropped"


def test_method_c_policing_drops_nbar_matches_whatever_their_byte():
    config = load_ios(str(FIXTURES / "codered-police.cfg"))
    table = fate_table(config, "Serial0/0", "in")
    dscp1 = only(table.for_dscp(1))
    assert dscp1.fate == "forwarded"
    assert not dscp1.because_of_dscp
    assert "dropped" in dscp1.actions and dscp1.policed


def test_method_b_is_the_founding_router():
    config = load_ios(str(BORDER))
    assert config.interface("Gi0/0").pbr.name == "null_policy_route"
    assert only(fate_table(config, "Gi0/0", "in").for_dscp(1)).fate == NULL_ROUTED


# ---------------------------------------------------------------- trust boundary, AutoQoS
def test_trust_boundary_clears_dscp_1_before_policy_routing():
    config = load_ios(str(FIXTURES / "trust-boundary.cfg"))
    table = fate_table(config, "Gi0/0", "in")
    dscp1 = only(table.for_dscp(1))
    assert dscp1.fate == "forwarded"
    assert not dscp1.because_of_dscp
    assert dscp1.default.ds_out(0x04) == 0x00


def test_trust_boundary_keeps_the_ecn_bits_when_clearing():
    table = fate_table(load_ios(str(FIXTURES / "trust-boundary.cfg")), "Gi0/0", "in")
    assert table.for_byte(0x07).default.ds_out(0x07) == 0x03


def test_trust_boundary_puts_every_byte_in_one_class():
    table = fate_table(load_ios(str(FIXTURES / "trust-boundary.cfg")), "Gi0/0", "in")
    assert len(table.classes) == 1
    assert NULL_ROUTED in table.classes[0].actions  # NBAR-marked hacks still null-routed


def test_autoqos_queues_ef_in_the_priority_class_without_conflict():
    table = fate_table(load_ios(str(FIXTURES / "autoqos.cfg")), "Serial0/1", "out")
    ef = only(table.for_dscp(46))
    assert ef.default.classes == ("AutoQoS-Policy-Trust/AutoQoS-VoIP-RTP-Trust",)
    assert ef.queue_differs and not ef.because_of_dscp


def test_autoqos_sends_dscp_1_to_class_default():
    table = fate_table(load_ios(str(FIXTURES / "autoqos.cfg")), "Serial0/1", "out")
    le = only(table.for_dscp(1))
    assert le.default.classes == ("AutoQoS-Policy-Trust/class-default",)
    assert not le.queue_differs and le.fate == "forwarded"


def test_autoqos_control_class_matches_either_dscp():
    table = fate_table(load_ios(str(FIXTURES / "autoqos.cfg")), "Serial0/1", "out")
    for dscp in (24, 26):
        assert only(table.for_dscp(dscp)).default.classes == ("AutoQoS-Policy-Trust/AutoQoS-VoIP-Control-Trust",)


# ---------------------------------------------------------------- names, match-any / match-all, tos
def test_dscp_name_and_number_classify_identically():
    by_name = cfg("""
        class-map C
         match ip dscp ef af11
        policy-map P
         class C
          police 8000 conform-action transmit exceed-action drop
        interface Gi0/0
         service-policy input P
        end
    """)
    by_number = cfg("""
        class-map C
         match ip dscp 46 10
        policy-map P
         class C
          police 8000 conform-action transmit exceed-action drop
        interface Gi0/0
         service-policy input P
        end
    """)
    a = fate_table(by_name, "Gi0/0", "in")
    b = fate_table(by_number, "Gi0/0", "in")
    assert [c.mask for c in a.classes] == [c.mask for c in b.classes]
    assert only(a.for_dscp(46)).policed and only(a.for_dscp(10)).policed
    assert not only(a.for_dscp(12)).policed


MATCH_CONFIG = """
    class-map %s C
     match ip dscp 1
     match access-group 101
    policy-map P
     class C
      drop
    interface Gi0/0
     service-policy input P
    access-list 101 permit tcp any any eq smtp
    end
"""


def test_match_all_needs_every_criterion():
    table = fate_table(cfg(MATCH_CONFIG % "match-all"), "Gi0/0", "in")
    dscp1 = only(table.for_dscp(1))
    assert dscp1.fate == "forwarded"  # not smtp: not in the class
    dropped = [p for p in dscp1.paths if p.action == "dropped"]
    assert dropped and dropped[0].conditions[0].kind == "acl"
    assert only(table.for_dscp(0)).actions == ["forwarded"]


def test_match_any_needs_one_criterion():
    table = fate_table(cfg(MATCH_CONFIG % "match-any"), "Gi0/0", "in")
    assert only(table.for_dscp(1)).actions == ["dropped"]
    zero = only(table.for_dscp(0))
    assert zero.fate == "forwarded" and "dropped" in zero.actions  # smtp still dropped


def test_match_not_inverts_the_criterion():
    config = cfg("""
        class-map C
         match not dscp default
        policy-map P
         class C
          set dscp default
        interface Gi0/0
         service-policy input P
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    assert only(table.for_dscp(0)).default.classes == ("P/class-default",)
    assert only(table.for_dscp(46)).default.classes == ("P/C",)


def test_acl_tos_max_reliability_drops_0x04_and_0x05_but_not_0x06():
    config = cfg("""
        interface Gi0/1
         ip access-group 120 out
        access-list 120 deny ip any any tos max-reliability
        access-list 120 permit ip any any
        end
    """)
    table = fate_table(config, "Gi0/1", "out")
    assert table.for_byte(0x04).fate == "dropped"
    assert table.for_byte(0x05).fate == "dropped"
    assert table.for_byte(0x06).fate == "forwarded"
    assert table.for_byte(0x07).fate == "forwarded"
    assert table.for_byte(0x24).fate == "dropped"
    row = table.by_dscp()[1]
    assert row["ecn_dependent"] and row["because_of_dscp"]


# ---------------------------------------------------------------- policy routing details
def test_route_map_naming_a_missing_acl_null_routes_everything():
    config = cfg("""
        interface Gi0/0
         ip policy route-map null_policy_route
        route-map null_policy_route permit 10
         match ip address 106
         set interface Null0
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    assert [c.fate for c in table.classes] == [NULL_ROUTED]
    assert not table.classes[0].because_of_dscp


def test_route_map_deny_clause_routes_normally():
    config = cfg("""
        interface Gi0/0
         ip policy route-map R
        access-list 106 permit ip any any dscp 1
        route-map R deny 10
         match ip address 106
        route-map R permit 20
         set interface Null0
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    assert only(table.for_dscp(1)).fate == "forwarded"
    assert only(table.for_dscp(0)).fate == NULL_ROUTED


def test_route_map_next_hop_and_precedence():
    config = cfg("""
        interface Gi0/0
         ip policy route-map R
        access-list 101 permit ip any any precedence routine
        route-map R permit 10
         match ip address 101
         set ip precedence critical
         set ip next-hop 192.0.2.1
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    zero = only(table.for_dscp(0))
    assert zero.fate == "policy-routed"
    assert zero.default.ds_out(0x01) == 0xA1  # precedence bits written, the rest kept
    assert only(table.for_dscp(40)).fate == "forwarded"


def test_set_default_interface_null0_depends_on_routing():
    config = cfg("""
        interface Gi0/0
         ip policy route-map R
        route-map R permit 10
         set default interface Null0
        end
    """)
    fc = only(fate_table(config, "Gi0/0", "in").classes)
    assert fc.fate == "forwarded"
    assert fc.paths[0].action == NULL_ROUTED and fc.paths[0].conditions[0].kind == "route"


def test_pbr_to_another_interface_skips_the_asked_egress():
    config = cfg("""
        interface Gi0/0
         ip policy route-map R
        interface Tunnel0
        interface Gi0/1
         ip access-group 150 out
        access-list 150 deny ip any any
        access-list 106 permit ip any any dscp 46
        route-map R permit 10
         match ip address 106
         set interface Tunnel0
        end
    """)
    table = transit_table(config, "Gi0/0", "Gi0/1")
    ef = only(table.for_dscp(46))
    assert ef.fate == "policy-routed" and ef.default.egress == "Tunnel0"
    assert only(table.for_dscp(0)).fate == "dropped"


def test_local_policy_gets_its_own_table():
    config = cfg("""
        ip local policy route-map LOCAL
        access-list 101 permit ip any any dscp cs6
        route-map LOCAL permit 10
         match ip address 101
         set ip next-hop 192.0.2.9
        end
    """)
    tables = fate_tables(config)
    (local,) = [t for t in tables if t.direction == "local"]
    assert only(local.for_dscp(48)).fate == "policy-routed"


# ---------------------------------------------------------------- policing, rewriting, nesting
def test_police_exceed_rewrite_is_a_path():
    config = cfg("""
        policy-map P
         class class-default
          police cir 64000
           conform-action transmit
           exceed-action set-dscp-transmit cs1
        interface Gi0/0
         service-policy output P
        end
    """)
    fc = only(fate_table(config, "Gi0/0", "out").classes)
    assert fc.policed and fc.fate == "forwarded"
    exceed = [p for p in fc.paths if p.police and p.police[0].endswith("exceed")]
    assert exceed[0].ds_out(0xB8) == (8 << 2)


def test_set_dscp_keeps_ecn_bits():
    config = cfg("""
        policy-map P
         class class-default
          set dscp 1
        interface Gi0/0
         service-policy input P
        end
    """)
    fc = only(fate_table(config, "Gi0/0", "in").classes)
    assert fc.default.ds_out(0x03) == 0x07


def test_nested_policy_marks_inside_the_parent_class():
    config = cfg("""
        class-map VOICE
         match dscp ef
        policy-map CHILD
         class VOICE
          set dscp cs5
        policy-map PARENT
         class class-default
          shape average 2000000
          service-policy CHILD
        interface Gi0/0
         service-policy output PARENT
        end
    """)
    table = fate_table(config, "Gi0/0", "out")
    ef = only(table.for_dscp(46))
    assert ef.default.ds_out(46 << 2) == 40 << 2
    assert ef.because_of_dscp
    assert ef.default.classes == ("PARENT/class-default", "CHILD/VOICE")


def test_class_based_drop_on_a_dscp_class_is_because_of_the_dscp():
    config = cfg("""
        class-map SCAVENGER
         match ip dscp 1
        policy-map EDGE
         class SCAVENGER
          police 8000 conform-action drop exceed-action drop
        interface Gi0/0
         service-policy input EDGE
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    dscp1 = only(table.for_dscp(1))
    assert dscp1.actions == ["dropped"] and dscp1.because_of_dscp


def test_unknown_policy_action_marks_the_path_unmodeled():
    config = cfg("""
        policy-map P
         class class-default
          set dscp cos table COS2DSCP
        interface Gi0/0
         service-policy input P
        end
    """)
    fc = only(fate_table(config, "Gi0/0", "in").classes)
    assert fc.default.unmodeled
    assert config.diagnostics[0].line == 3


def test_undefined_interface_acl_lets_everything_through():
    config = cfg("""
        interface Gi0/0
         ip access-group 150 in
        end
    """)
    assert only(fate_table(config, "Gi0/0", "in").classes).fate == "forwarded"


def test_undefined_class_map_acl_is_a_may_match_condition():
    config = cfg("""
        class-map C
         match access-group 199
        policy-map P
         class C
          drop
        interface Gi0/0
         service-policy input P
        end
    """)
    fc = only(fate_table(config, "Gi0/0", "in").classes)
    assert fc.fate == "forwarded" and "dropped" in fc.actions
    assert fc.paths[0].conditions[0].kind == "undefined"


# ---------------------------------------------------------------- unused definitions
def test_unused_definitions_are_reported_not_treated():
    config = cfg("""
        class-map LEFTOVER
         match ip dscp 1
        policy-map OLD-MARKING
         class LEFTOVER
          drop
        access-list 106 permit ip any any dscp 1
        route-map null_policy_route permit 10
         match ip address 106
         set interface Null0
        interface Gi0/0
         description nothing applied
        end
    """)
    names = {(u.kind, u.name) for u in unused(config)}
    assert names == {("class-map", "LEFTOVER"), ("policy-map", "OLD-MARKING"), ("acl", "106"),
                     ("route-map", "null_policy_route")}
    assert [c.fate for c in fate_table(config, "Gi0/0", "in").classes] == ["forwarded"]


def test_unused_acl_lists_its_other_uses():
    config = load_ios(str(BORDER))
    (acl10,) = [u for u in unused(config) if u.name == "10"]
    assert "access-class 10 in" in [e.text for e in acl10.other_uses]
    assert not [u for u in unused(config) if u.name in ("106", "110", "null_policy_route")]


def test_each_path_says_whether_unmarked_traffic_is_treated_the_same():
    table = fate_table(load_ios(str(BORDER)), "Gi0/0", "in")
    dscp1 = only(table.for_dscp(1))
    flags = {p.action: d for p, d in zip(dscp1.paths, dscp1.path_differs) if not p.conditions}
    assert flags == {NULL_ROUTED: True}
    nbar = [d for p, d in zip(dscp1.paths, dscp1.path_differs) if any(c.kind == "nbar" for c in p.conditions)]
    assert nbar == [False]  # the router's own marking happens to unmarked traffic too
    assert table.as_dict()["classes"][1]["paths"][-1]["differs_from_unmarked"] is True


def test_fate_differs_is_certain_where_because_of_dscp_is_conservative():
    config = cfg("""
        interface Gi0/0
         ip access-group 101 in
        access-list 101 permit tcp any any eq smtp dscp 1
        access-list 101 permit tcp any any eq smtp
        end
    """)
    table = fate_table(config, "Gi0/0", "in")
    dscp1 = only(table.for_dscp(1))
    # The first entry is redundant: the byte is tested, the outcomes are the same.
    assert dscp1.because_of_dscp and not dscp1.fate_differs


def test_founding_router_fate_differs_for_dscp_1():
    table = fate_table(load_ios(str(BORDER)), "Gi0/0", "in")
    assert only(table.for_dscp(1)).fate_differs
    assert not only(table.for_dscp(4)).fate_differs


def test_transit_tables_cover_every_interface_that_can_forward():
    config = load_ios(str(FIXTURES / "codered-acl-out.cfg"))
    tables = transit_tables(config, "Serial0/0")
    assert [t.out_interface for t in tables] == ["Ethernet0/1"]
    assert only(tables[0].for_dscp(1)).fate == "dropped"
    border = transit_tables(load_ios(str(BORDER)), "Gi0/0")
    assert [t.out_interface for t in border] == ["GigabitEthernet0/1"]  # not Loopback0, shut Serial, Null0


def test_ios_xe_style_numbered_list_under_ip_access_list_extended():
    # IOS-XE 16+ prints numbered lists as named ones with sequence numbers.
    config = cfg("""
        interface GigabitEthernet1
         ip policy route-map null_policy_route
        ip access-list extended 106
         10 permit ip any any dscp 1
        route-map null_policy_route permit 10
         match ip address 106
         set interface Null0
        end
    """)
    table = fate_table(config, "GigabitEthernet1", "in")
    assert only(table.for_dscp(1)).fate == NULL_ROUTED
    assert only(table.for_dscp(0)).fate == "forwarded"


def test_non_ip_acl_under_ip_access_group_is_a_may_drop():
    config = cfg("""
        interface Gi0/0
         ip access-group 700 in
        access-list 700 permit 0000.1111.2222 0000.0000.0000
        end
    """)
    fc = only(fate_table(config, "Gi0/0", "in").classes)
    assert fc.actions == ["dropped", "forwarded"]
    assert all(p.unmodeled for p in fc.paths)
    assert fc.paths[0].conditions[0].kind == "unmodeled"
