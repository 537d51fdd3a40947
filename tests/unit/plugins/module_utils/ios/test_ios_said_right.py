# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One meaning per line: the fate table, the trace and the Diagnostics say the same thing.

Lines from real configurations (AutoQoS blocks, Batfish and ciscoconfparse fixtures) that
were read as "does not match", as "may drop" when they cannot drop, or dropped silently.
Each case asserts the three views together: the fate table's entry for a byte, the trace of a
packet with that byte (fate, steps, may-match, other outcomes) and the Diagnostic's file:line.
"""

from __future__ import annotations

import pathlib
import textwrap

from ansible_collections.diffserv.audit.plugins.module_utils.ios import (
    fate_table,
    load_ios,
    parse_ios,
    trace_ios,
    transit_table,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import REMARKED_UNKNOWN
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import undefined_acl_reason

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
PACKET = {"in_interface": "Gi0/0", "protocol": "tcp", "src": "192.0.2.7", "dst": "198.51.100.2",
          "sport": 40000, "dport": 443}


def cfg(text: str):
    return parse_ios(textwrap.dedent(text).lstrip("\n"), "test.cfg")


def diag_lines(config) -> list[int]:
    return [d.line for d in config.diagnostics]


def condition_lines(fate_class) -> set[int]:
    return {c.source.line for p in fate_class.paths for c in p.conditions if c.source is not None}


def may_lines(result: dict) -> list[int]:
    return [m["line"] for m in result["may_match"]]


# ---------------------------------------------------------------- 1. CoS is a layer-2 field
COS = """
    class-map match-any VOICE
     match %s
    policy-map P
     class VOICE
      drop
    interface Gi0/0
     service-policy input P
    end
"""


def test_match_cos_is_a_may_match_in_table_trace_and_diagnostics():
    config = cfg(COS % "cos 5")
    (diag,) = config.diagnostics
    assert (diag.line, diag.text) == (2, "match cos 5") and "802.1p" in diag.reason
    zero = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert (zero.fate, zero.actions) == ("forwarded", ["dropped", "forwarded"])
    (dropped,) = [p for p in zero.paths if p.action == "dropped"]
    assert [c.source.line for c in dropped.conditions] == [2]
    result = trace_ios(config, dict(PACKET, tos=0))
    assert result["fate"] == "forwarded"
    assert may_lines(result) == [2]
    assert "test.cfg:2: match cos 5" in result["unmodeled"]
    assert [(m["fate"], [c["line"] for c in m["if"]]) for m in result["may"]] == [("dropped", [2])]


def test_match_cos_inner_and_match_not_cos_are_may_matches_too():
    # The plain reading takes "CoS is 3/5" as false, so `match not cos 5` holds there:
    # dropped, with "forwarded" as the other outcome; both views say so.
    for criterion, fate, other in (("cos inner 3", "forwarded", "dropped"), ("not cos 5", "dropped", "forwarded")):
        config = cfg(COS % criterion)
        assert diag_lines(config) == [2], criterion
        zero = fate_table(config, "Gi0/0", "in").for_byte(0)
        assert (zero.fate, zero.actions) == (fate, ["dropped", "forwarded"]), criterion
        result = trace_ios(config, dict(PACKET, tos=0))
        assert result["fate"] == fate, criterion
        assert may_lines(result) == [2] and [m["fate"] for m in result["may"]] == [other], criterion


def test_a_cos_class_that_marks_names_its_condition_on_the_re_marked_path():
    config = cfg("""
        class-map VOICE
         match cos 5
        policy-map P
         class VOICE
          set dscp ef
        interface Gi0/0
         service-policy input P
        end
    """)
    zero = fate_table(config, "Gi0/0", "in").for_byte(0)
    (marked,) = [p for p in zero.paths if p.rewrites]
    assert marked.ds_out(0) == 46 << 2 and condition_lines(zero) == {2}
    result = trace_ios(config, dict(PACKET, tos=0))
    assert (result["tos_out"], [m["tos_out"] for m in result["may"]]) == (0, [46 << 2])


# ---------------------------------------------------------------- 2. a class-map naming a missing ACL
MISSING = """
    class-map match-all C
     match access-group %s
    policy-map P
     class C
      set dscp 1
    interface Gi0/0
     service-policy input P
    interface Gi0/1
     ip access-group 110 out
    access-list 110 deny ip any any dscp 1
    access-list 110 permit ip any any
    end
"""


def test_missing_acl_in_a_class_map_has_one_meaning_everywhere():
    # Cisco's command references for `match access-group` do not say what a missing list
    # matches (the "matches everything" of a missing ACL is documented for PBR route-maps
    # only): may-match, the same words in the Diagnostic, the table and the trace.
    for ref, name in (("name NOPE", "NOPE"), ("199", "199")):
        config = cfg(MISSING % ref)
        reason = undefined_acl_reason("C", name)
        assert [(d.line, d.reason) for d in config.diagnostics] == [(2, reason)]
        table = transit_table(config, "Gi0/0", "Gi0/1")
        zero = table.for_byte(0)
        assert (zero.fate, zero.actions) == ("forwarded", ["dropped", "forwarded"])
        (dropped,) = [p for p in zero.paths if p.action == "dropped"]
        assert [c.text for c in dropped.conditions if c.kind == "undefined"] == [reason]
        result = trace_ios(config, dict(PACKET, tos=0, out_interface="Gi0/1"))
        assert result["fate"] == "forwarded"
        assert [(m["line"], m["reason"]) for m in result["may_match"]] == [(2, reason)]
        assert [m["fate"] for m in result["may"]] == ["dropped"]
        assert "test.cfg:2: match access-group %s" % ref in result["unmodeled"]


# ---------------------------------------------------------------- 3. policers that re-mark never drop
POLICE = """
    policy-map P
     class class-default
      police 8000 conform-action transmit %s
    interface Gi0/0
     service-policy input P
    end
"""


def test_police_exceed_by_table_re_marks_to_an_unknown_value_and_never_drops():
    config = cfg(POLICE % "exceed-action set-dscp-transmit dscp table policed-dscp")
    (diag,) = config.diagnostics
    assert diag.line == 3 and "never drops" in diag.reason and "may-drop" not in diag.reason
    zero = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert zero.actions == ["forwarded"]
    assert REMARKED_UNKNOWN in zero.summary()
    (unknown,) = [p for p in zero.paths if p.unknown]
    assert (unknown.unknown, unknown.ds_out(0)) == (0xFC, None)
    result = trace_ios(config, dict(PACKET, tos=0x2E << 2, rate="exceed"))
    assert (result["fate"], result["verdict"], result["tos_out"]) == ("forwarded", "accept", None)
    assert result["remarked_unknown"] and result["ecn"] == 0
    assert [s["line"] for s in result["steps"] if s.get("remarked_unknown")] == [3]
    # Within rate the byte is known and untouched; the unknown re-mark is the other outcome.
    plain = trace_ios(config, dict(PACKET, tos=0x2E << 2))
    assert plain["tos_out"] == 0x2E << 2 and not plain["remarked_unknown"]


def test_every_table_form_of_a_policer_re_marks_and_none_drops():
    for actions, keep in (
        ("exceed-action transmit violate-action set-dscp-transmit dscp table T", 0x03),
        ("exceed-action set-prec-transmit precedence table T", 0x1F),
        ("exceed-action policed-dscp-transmit", 0x03),
    ):
        config = cfg(POLICE % actions)
        assert diag_lines(config) == [3], actions
        zero = fate_table(config, "Gi0/0", "in").for_byte(0)
        assert zero.actions == ["forwarded"], actions
        assert {p.keep for p in zero.paths if p.unknown} == {keep}, actions


def test_police_exceed_set_dscp_transmit_af11_re_marks_and_does_not_drop():
    config = cfg(POLICE % "exceed-action set-dscp-transmit af11")
    assert config.diagnostics == ()
    zero = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert zero.actions == ["forwarded"]
    assert sorted(p.ds_out(0) for p in zero.paths) == [0, 10 << 2]
    assert trace_ios(config, dict(PACKET, tos=0, rate="exceed"))["tos_out"] == 10 << 2


def test_set_dscp_by_table_in_a_class_is_a_re_mark_to_an_unknown_value():
    config = cfg("""
        policy-map P
         class class-default
          set dscp dscp table MAP
        interface Gi0/0
         service-policy input P
        end
    """)
    assert diag_lines(config) == [3]
    only = fate_table(config, "Gi0/0", "in").for_byte(4)
    assert (only.fate, only.default.unknown, only.default.keep) == ("forwarded", 0xFC, 0x03)
    result = trace_ios(config, dict(PACKET, tos=5))
    assert (result["tos_out"], result["ecn"], result["describe_out"].startswith("unknown")) == (None, 1, True)


def test_a_test_on_an_unknown_value_is_a_may_match_downstream():
    config = cfg("""
        policy-map P
         class class-default
          set dscp dscp table MAP
        interface Gi0/0
         service-policy input P
        interface Gi0/1
         ip access-group 110 out
        access-list 110 deny ip any any dscp 1
        access-list 110 permit ip any any
        end
    """)
    zero = transit_table(config, "Gi0/0", "Gi0/1").for_byte(0)
    # The likeliest reading first (63 of 64 DSCPs pass), the deny as a possibility on line 8.
    assert (zero.fate, zero.actions) == ("forwarded", ["dropped", "forwarded"])
    assert 8 in condition_lines(zero)
    result = trace_ios(config, dict(PACKET, tos=0, out_interface="Gi0/1"))
    assert result["fate"] == "forwarded"
    assert [m["fate"] for m in result["may"]] == ["dropped"] and 8 in may_lines(result)


def test_an_unreadable_police_action_is_the_may_drop_its_diagnostic_says():
    config = cfg(POLICE % "exceed-action frobnicate")
    (diag,) = config.diagnostics
    assert "may-drop" in diag.reason
    zero = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert zero.actions == ["dropped", "forwarded"]
    result = trace_ios(config, dict(PACKET, tos=0, rate="exceed"))
    assert result["fate"] == "forwarded" and [m["fate"] for m in result["may"]] == ["dropped"]
    assert may_lines(result) == [3]


# ---------------------------------------------------------------- 4. numbered match statements
def test_sequence_numbered_class_map_lines_read_like_unnumbered_ones():
    numbered = cfg("""
        class-map match-any VOICE
         10 match ip dscp ef
         20 match access-group name EDGE
        policy-map P
         class VOICE
          drop
        interface Gi0/0
         service-policy input P
        ip access-list extended EDGE
         permit tcp any any eq 5060
        end
    """)
    assert numbered.diagnostics == ()
    assert [c.kind for c in numbered.class_maps["VOICE"].criteria] == ["dscp", "acl"]
    table = fate_table(numbered, "Gi0/0", "in")
    assert (table.for_byte(46 << 2).fate, table.for_byte(0).fate) == ("dropped", "forwarded")
    sip = trace_ios(numbered, dict(PACKET, tos=0, dport=5060))
    assert sip["fate"] == "dropped" and 3 in [s["line"] for s in sip["steps"]]


# ---------------------------------------------------------------- 5. the other lines real configurations carry
def test_lines_that_cannot_change_a_fate_are_read_past_without_a_diagnostic():
    config = cfg("""
        mls qos srr-queue output cos-map queue 1 threshold 3 5
        mls qos queue-set output 1 threshold 2 70 80 100 100
        mls qos map dscp-cos 46 to 5
        policy-map P
         class class-default
          trust dscp
          set qos-group 3
          set cos 5
          bandwidth percent 20
          shape average 1000000
          random-detect dscp-based
          priority
        interface Gi0/0
         auto qos voip trust
         mls qos trust dscp
         srr-queue bandwidth share 1 30 35 5
         priority-queue out
         ip nbar protocol-discovery
         service-policy input P
        end
    """)
    assert config.diagnostics == ()
    only = fate_table(config, "Gi0/0", "in").for_byte(1 << 2)
    assert (only.fate, only.actions, only.default.rewrites) == ("forwarded", ["forwarded"], False)


def test_dscp_maps_of_a_switch_are_diagnosed():
    config = cfg("""
        mls qos map policed-dscp  24 26 46 to 0
        mls qos map cos-dscp 0 8 16 26 32 46 48 56
        end
    """)
    assert diag_lines(config) == [1, 2]


def test_with_mls_qos_on_a_port_that_trusts_nothing_may_re_mark():
    config = cfg("""
        mls qos
        interface Gi0/0
        interface Gi0/1
         mls qos trust dscp
        interface Loopback0
        end
    """)
    assert diag_lines(config) == [1]
    untrusted = fate_table(config, "Gi0/0", "in").for_byte(1 << 2)
    assert untrusted.fate == "forwarded" and [p.unknown for p in untrusted.paths] == [0xFC, 0]
    assert condition_lines(untrusted) == {1}
    trusted = fate_table(config, "Gi0/1", "in").for_byte(1 << 2)
    assert [p.unknown for p in trusted.paths] == [0]
    result = trace_ios(config, dict(PACKET, tos=1 << 2))
    assert (result["tos_out"], may_lines(result)) == (4, [1])
    assert [m["remarked_unknown"] for m in result["may"]] == [True]


def test_police_aggregate_takes_the_actions_of_its_shared_policer():
    config = cfg("""
        mls qos aggregate-policer AGG 1000000 8000 exceed-action policed-dscp-transmit
        policy-map P
         class class-default
          police aggregate AGG
        policy-map Q
         class class-default
          police aggregate NONE
        interface Gi0/0
         service-policy input P
        interface Gi0/1
         service-policy input Q
        end
    """)
    # The policed-DSCP map re-marks (line 1, where the action is written); a policer
    # nobody defined keeps IOS's defaults, so its exceed drops: said at line 7.
    assert diag_lines(config) == [1, 7]
    shared = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert shared.actions == ["forwarded"]
    assert [s.source.line for p in shared.paths if p.unknown for s in p.steps if s.rewrite] == [1]
    missing = fate_table(config, "Gi0/1", "in").for_byte(0)
    assert missing.actions == ["dropped", "forwarded"]


def test_trust_cos_in_a_policy_and_on_a_port_may_re_mark():
    config = cfg("""
        policy-map P
         class class-default
          trust cos
        interface Gi0/0
         service-policy input P
        interface Gi0/1
         mls qos trust cos
        end
    """)
    assert diag_lines(config) == [3, 7]
    policy = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert policy.default.unknown == 0xFC
    port = fate_table(config, "Gi0/1", "in").for_byte(0)
    assert port.fate == "forwarded" and any(p.unknown for p in port.paths)
    assert [c.source.line for p in port.paths for c in p.conditions] == [7]
    result = trace_ios(config, dict(PACKET, in_interface="Gi0/1", tos=0))
    assert may_lines(result) == [7] and [m["remarked_unknown"] for m in result["may"]] == [True]


def test_car_ipv6_filters_and_zone_members_are_may_drop_stages_of_their_direction():
    config = cfg("""
        interface Gi0/0
         rate-limit input access-group 101 8000 8000 8000 conform-action transmit exceed-action drop
         rate-limit output 8000 8000 8000 conform-action transmit exceed-action set-prec-transmit 0
         ipv6 traffic-filter V6 in
         ipv6 policy route-map R6
        interface Gi0/1
         zone-member security INSIDE
        end
    """)
    assert diag_lines(config) == [2, 3, 4, 5, 7]
    inbound = fate_table(config, "Gi0/0", "in").for_byte(0)
    assert (inbound.fate, inbound.actions) == ("forwarded", ["dropped", "forwarded"])
    assert condition_lines(inbound) == {2, 4, 5}
    outbound = fate_table(config, "Gi0/0", "out").for_byte(0)
    assert outbound.actions == ["forwarded"] and any(p.unknown for p in outbound.paths)
    for direction in ("in", "out"):
        zone = fate_table(config, "Gi0/1", direction).for_byte(0)
        assert zone.actions == ["dropped", "forwarded"] and condition_lines(zone) == {7}
    result = trace_ios(config, dict(PACKET, tos=0))
    # Line 5 twice: IPv6 policy routing may null-route and may re-mark, two conditions.
    assert result["fate"] == "forwarded" and may_lines(result) == [2, 4, 5, 5]
    assert {(m["fate"], m["remarked_unknown"]) for m in result["may"]} == {("dropped", False), ("forwarded", True)}
    assert {"test.cfg:%d" % n for n in (2, 4, 5)} <= {u.rsplit(":", 1)[0] for u in result["unmodeled"]}


def test_ip_telnet_tos_is_said_not_read_past():
    # ciscoconfparse's sample configurations carry it: the router's own telnet traffic.
    config = cfg("""
        ip telnet tos E0
        ip route 0.0.0.0 0.0.0.0 192.0.2.1
        end
    """)
    assert diag_lines(config) == [1] and "router-generated" in config.diagnostics[0].reason


def test_zone_based_firewall_and_copp_sections_do_not_enter_the_qos_namespace():
    config = cfg("""
        class-map type inspect match-any WEB
         match protocol http
        policy-map type inspect FW
         class type inspect WEB
          inspect
        zone-pair security IN-OUT source INSIDE destination OUTSIDE
         service-policy type inspect FW
        control-plane
         service-policy input COPP
        end
    """)
    assert "FW" not in config.policy_maps
    assert diag_lines(config) == [7, 9]


# ---------------------------------------------------------------- AutoQoS as Cisco documents it
def test_autoqos_voip_block_from_the_catalyst_4500_guide_lists_what_it_cannot_decide():
    path = FIXTURES / "autoqos-cat4500.cfg"
    config = load_ios(str(path))
    lines = path.read_text().splitlines()
    unmodeled = [(d.line, lines[d.line - 1].strip()) for d in config.diagnostics]
    assert unmodeled == [
        (15, "match cos  3"), (17, "match cos  5"),
        (19, "match qos-group 26"), (21, "match qos-group 24"), (23, "match qos-group 46"),
    ]
    # The output policy's classes hang on qos-groups: each may match, none is "not matching".
    table = transit_table(config, "GigabitEthernet2/2", "GigabitEthernet2/1")
    ef = table.for_byte(46 << 2)
    assert (ef.fate, ef.actions) == ("forwarded", ["dropped", "forwarded"])
    assert {19, 21, 23} <= condition_lines(ef)
    result = trace_ios(config, {"in_interface": "GigabitEthernet2/2", "out_interface": "GigabitEthernet2/1",
                                "protocol": "udp", "tos": 46 << 2, "rate": "exceed"})
    assert result["fate"] == "forwarded" and {19, 21, 23} <= set(may_lines(result))
    # Policed at 33 % in the priority class if qos-group 46 holds: the drop is a possibility.
    assert "dropped" in [m["fate"] for m in result["may"]]
