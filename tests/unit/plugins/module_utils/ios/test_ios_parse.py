# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IOS running-config parser: structure, line numbers, names, bad input."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.acl import TCP_PORTS, UDP_PORTS
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    ALL_BYTES,
    DSCP_BYTES,
    bytes_of,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import decode_config, load_ios, parse_ios

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
BORDER = FIXTURES / "border-router.cfg"


def cfg(text: str, **kwargs):
    return parse_ios(textwrap.dedent(text).lstrip("\n"), "test.cfg", **kwargs)


def line_of(path: pathlib.Path, text: str) -> int:
    """1-based line number of the first line whose stripped text is `text`."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() == text:
            return number
    raise AssertionError("%r not in %s" % (text, path))


def reasons(config) -> list[str]:
    return [d.reason for d in config.diagnostics]


# ---------------------------------------------------------------- the founding router
def test_border_router_parses_without_diagnostics():
    config = load_ios(str(BORDER))
    assert config.hostname == "border-rtr1"
    assert config.diagnostics == ()
    assert config.ended


def test_border_router_acl_106_keeps_its_file_line():
    config = load_ios(str(BORDER))
    entry = config.acls["106"].entries[0]
    assert entry.source.line == line_of(BORDER, "access-list 106 permit ip any any dscp 1")
    assert entry.source.text == "access-list 106 permit ip any any dscp 1"
    assert entry.source.file == str(BORDER)


def test_border_router_uplink_attachments_are_read():
    config = load_ios(str(BORDER))
    uplink = config.interface("Gi0/0")
    assert uplink.name == "GigabitEthernet0/0"
    assert uplink.pbr.name == "null_policy_route"
    assert uplink.pbr.source.line == line_of(BORDER, "ip policy route-map null_policy_route")
    assert uplink.policy_in.name == "mark-inbound-http-hacks"
    assert uplink.acl_in.name == "110"


def test_banner_text_is_not_read_as_configuration():
    config = load_ios(str(BORDER))
    # The banner holds "interface hacking attempts are logged".
    assert not any(name.startswith("hacking") for name in config.interfaces)


def test_shutdown_interface_is_marked():
    config = load_ios(str(BORDER))
    assert config.interface("Serial0/0/0").shutdown
    assert not config.interface("GigabitEthernet0/1").shutdown


def test_route_map_without_permit_keyword_defaults_to_permit_10():
    config = cfg("""
        route-map null_policy_route 10
         match ip address 106
         set interface Null0
        end
    """)
    clause = config.route_maps["null_policy_route"].clauses[0]
    assert (clause.seq, clause.permit) == (10, True)
    assert clause.matches[0].refs == ("106",)
    assert clause.sets[0].kind == "interface" and clause.sets[0].args == ("Null0",)


def test_flat_file_as_in_the_incident_report_nests_like_indented_one():
    # The blog post quotes the policy with every line at column 0.
    flat = cfg("""
        policy-map mark-inbound-http-hacks
        class http-hacks
        set ip dscp 1
        !
        route-map null_policy_route permit 10
        match ip address 106
        set interface Null0
        access-list 106 permit ip any any dscp 1
        end
    """)
    pm = flat.policy_maps["mark-inbound-http-hacks"]
    assert [c.name for c in pm.classes] == ["http-hacks", "class-default"]
    assert pm.classes[0].actions[0].rewrite.value == 1 << 2
    assert flat.route_maps["null_policy_route"].clauses[0].matches[0].refs == ("106",)
    assert flat.acls["106"].entries[0].source.line == 8


# ---------------------------------------------------------------- access lists
def test_numbered_extended_entries_keep_order_and_lines():
    config = cfg("""
        access-list 105 deny ip any any dscp 1 log
        access-list 105 permit ip any any
        end
    """)
    entries = config.acls["105"].entries
    assert [e.action for e in entries] == ["deny", "permit"]
    assert [e.source.line for e in entries] == [1, 2]
    assert config.acls["105"].kind == "extended"


def test_named_acl_entries_are_ordered_by_sequence_number():
    config = cfg("""
        ip access-list extended EDGE
         20 permit tcp any any eq www
         10 deny ip any any dscp 1
         remark not an entry
        end
    """)
    entries = config.acls["EDGE"].entries
    assert [e.seq for e in entries] == [10, 20]
    assert entries[0].source.line == 3


def test_standard_acl_reads_bare_address_as_host():
    config = cfg("""
        access-list 10 permit 192.0.2.10
        access-list 10 permit 10.0.0.0 0.255.255.255
        ip access-list standard MGMT
         permit any
        end
    """)
    first, second = config.acls["10"].entries
    assert first.src.text == "host 192.0.2.10"
    assert second.src.wildcard == 0x00FFFFFF
    assert config.acls["10"].kind == "standard"
    assert config.acls["MGMT"].entries[0].unconditional


@pytest.mark.parametrize("name,number", [("www", 80), ("smtp", 25), ("ftp-data", 20), ("domain", 53), ("pop3", 110)])
def test_tcp_port_names_mean_their_numbers(name, number):
    config = cfg("access-list 101 permit tcp any any eq %s\nend\n" % name)
    assert config.acls["101"].entries[0].dport.values == (number,)
    assert TCP_PORTS[name] == number


def test_udp_port_names_use_the_udp_table():
    config = cfg("access-list 101 permit udp any any eq ntp\nend\n")
    assert config.acls["101"].entries[0].dport.values == (UDP_PORTS["ntp"],)


def test_port_operators_are_read():
    config = cfg("""
        access-list 101 permit tcp any gt 1023 any range 20 21
        access-list 101 permit tcp any lt 1024 any neq 23
        end
    """)
    first, second = config.acls["101"].entries
    assert (first.sport.op, first.sport.values, first.dport.op, first.dport.values) == ("gt", (1023,), "range", (20, 21))
    assert (second.sport.op, second.dport.op, second.dport.values) == ("lt", "neq", (23,))


def test_dscp_names_and_numbers_give_the_same_bytes():
    config = cfg("""
        access-list 101 permit ip any any dscp ef
        access-list 101 permit ip any any dscp 46
        access-list 101 permit ip any any dscp af11
        access-list 101 permit ip any any dscp 10
        end
    """)
    e = config.acls["101"].entries
    assert e[0].ds_mask == e[1].ds_mask == DSCP_BYTES[46]
    assert e[2].ds_mask == e[3].ds_mask == DSCP_BYTES[10]


def test_dscp_match_covers_the_four_ecn_bytes():
    config = cfg("access-list 106 permit ip any any dscp 1\nend\n")
    assert bytes_of(config.acls["106"].entries[0].ds_mask) == [0x04, 0x05, 0x06, 0x07]


def test_tos_max_reliability_matches_bits_four_to_one_under_any_precedence():
    config = cfg("access-list 101 deny ip any any tos max-reliability\nend\n")
    matched = bytes_of(config.acls["101"].entries[0].ds_mask)
    assert 0x04 in matched and 0x05 in matched
    assert 0x06 not in matched and 0x07 not in matched
    assert 0x24 in matched  # precedence 1 + max-reliability
    assert len(matched) == 16  # 8 precedences x ECT bit 0/1


def test_precedence_and_tos_in_one_entry_must_both_hold():
    config = cfg("access-list 101 permit ip any any precedence critical tos min-delay\nend\n")
    # critical = 5 (0xa0), min-delay = 8 (bits 4-1 = 1000 -> 0x10): 0xb0 and 0xb1.
    assert bytes_of(config.acls["101"].entries[0].ds_mask) == [0xB0, 0xB1]


def test_log_established_and_protocol_numbers_are_read():
    config = cfg("""
        access-list 120 permit tcp any any established log-input
        access-list 120 permit 47 any any
        end
    """)
    first, second = config.acls["120"].entries
    assert first.established and not first.unknown
    assert second.protocol == 47


def test_unknown_acl_option_is_a_diagnostic_and_kept():
    config = cfg("access-list 101 permit ip any any dscp 1 frobnicate\nend\n")
    entry = config.acls["101"].entries[0]
    assert entry.unknown == ("frobnicate",)
    assert any("unknown option" in r for r in reasons(config))
    assert config.diagnostics[0].line == 1


def test_unreadable_dscp_value_is_a_diagnostic():
    config = cfg("access-list 101 permit ip any any dscp 99\nend\n")
    assert config.acls["101"].entries[0].unknown
    assert config.diagnostics[0].line == 1


# ---------------------------------------------------------------- class-maps, policy-maps
def test_class_map_defaults_to_match_all():
    config = cfg("""
        class-map VOICE
         match ip dscp ef
        class-map match-any HACKS
         match protocol http url "*cmd.exe*"
        end
    """)
    assert config.class_maps["VOICE"].match_all
    assert not config.class_maps["HACKS"].match_all
    assert config.class_maps["HACKS"].criteria[0].kind == "nbar"


def test_class_map_criteria_kinds():
    config = cfg("""
        class-map match-any C
         match ip dscp af11 af12 ef
         match dscp 1
         match ip precedence 5
         match access-group 101
         match access-group name EDGE
         match not dscp default
         match class-map OTHER
         match any
         match cos 5
        end
    """)
    kinds = [(c.kind, c.negate, c.ref) for c in config.class_maps["C"].criteria]
    assert kinds == [
        ("dscp", False, None), ("dscp", False, None), ("precedence", False, None), ("acl", False, "101"),
        ("acl", False, "EDGE"), ("dscp", True, None), ("class-map", False, "OTHER"), ("any", False, None),
        ("label", False, None),
    ]
    assert bytes_of(config.class_maps["C"].criteria[0].ds_mask)[::4] == [40, 48, 184]


def test_unknown_class_map_criterion_is_a_diagnostic_with_its_line():
    config = cfg("""
        class-map C
         match frobnicate 7
        end
    """)
    assert config.class_maps["C"].criteria[0].kind == "unknown"
    (diag,) = config.diagnostics
    assert (diag.line, diag.text) == (2, "match frobnicate 7")


def test_policy_map_gets_implicit_class_default():
    config = cfg("""
        policy-map P
         class C
          set dscp ef
        end
    """)
    classes = config.policy_maps["P"].classes
    assert [c.name for c in classes] == ["C", "class-default"]
    assert classes[-1].implicit


def test_police_single_line_actions():
    config = cfg("""
        policy-map P
         class C
          police 8000 conform-action transmit exceed-action set-dscp-transmit af11 violate-action drop
        end
    """)
    police = config.policy_maps["P"].classes[0].actions[0].police
    assert police.rate == "8000"
    assert [a.kind for a in police.conform] == ["transmit"]
    assert police.exceed[0].kind == "rewrite" and police.exceed[0].rewrite.value == 10 << 2
    assert [a.kind for a in police.violate] == ["drop"]


def test_police_block_form_actions():
    config = cfg("""
        policy-map P
         class C
          police cir 64000 bc 8000
           conform-action set-prec-transmit 3
           exceed-action drop
        end
    """)
    police = config.policy_maps["P"].classes[0].actions[0].police
    assert police.rate == "cir 64000 bc 8000"
    assert police.conform[0].rewrite.value == 3 << 5
    assert police.exceed[0].kind == "drop"
    assert police.violate == ()


def test_police_defaults_are_transmit_and_drop():
    config = cfg("""
        policy-map P
         class C
          police 8000
        end
    """)
    police = config.policy_maps["P"].classes[0].actions[0].police
    assert (police.conform[0].kind, police.exceed[0].kind) == ("transmit", "drop")


def test_policy_actions_marking_queueing_nested_drop():
    config = cfg("""
        policy-map P
         class A
          set ip precedence critical
          bandwidth percent 20
         class B
          drop
         class class-default
          shape average 1000000
          service-policy CHILD
        end
    """)
    a, b, default = config.policy_maps["P"].classes
    assert [x.kind for x in a.actions] == ["rewrite", "queue"]
    assert a.actions[0].rewrite.value == 5 << 5 and a.actions[0].rewrite.keep == 0x1F
    assert b.actions[0].kind == "drop"
    assert [x.kind for x in default.actions] == ["queue", "service-policy"]
    assert default.actions[1].ref == "CHILD"


def test_unknown_policy_action_is_a_diagnostic():
    config = cfg("""
        policy-map P
         class C
          set dscp cos table T
          frobnicate
        end
    """)
    # A DSCP from a table is a re-mark to an unknown value; an unreadable action stays unknown.
    assert [a.kind for a in config.policy_maps["P"].classes[0].actions] == ["rewrite", "unknown"]
    assert config.policy_maps["P"].classes[0].actions[0].rewrite.unknown
    assert [d.line for d in config.diagnostics] == [3, 4]


def test_layer2_markings_are_no_diagnostic():
    config = cfg("""
        policy-map P
         class C
          set cos 5
          set qos-group 3
        end
    """)
    assert config.diagnostics == ()


# ---------------------------------------------------------------- route-maps, references
def test_route_map_clauses_sorted_by_sequence():
    config = cfg("""
        route-map R deny 20
        route-map R permit 10
         match ip address 101 102
         set ip precedence critical
         set ip next-hop 192.0.2.1
        end
    """)
    rm = config.route_maps["R"]
    assert [(c.seq, c.permit) for c in rm.clauses] == [(10, True), (20, False)]
    assert rm.clauses[0].matches[0].refs == ("101", "102")
    assert [s.kind for s in rm.clauses[0].sets] == ["rewrite", "next-hop"]


def test_unknown_set_clause_in_a_policy_routing_route_map_is_a_diagnostic():
    config = cfg("""
        interface Gi0/0
         ip policy route-map R
        route-map R permit 10
         set ip vrf RED next-hop 192.0.2.1
        end
    """)
    assert any("unknown set clause" in r for r in reasons(config))
    assert config.diagnostics[0].line == 4


def test_routing_protocol_route_map_clauses_are_not_diagnosed():
    config = cfg("""
        router bgp 64500
         neighbor 192.0.2.2 route-map FROM-PEER in
        route-map FROM-PEER permit 10
         match community 5
         set local-preference 200
        end
    """)
    assert config.diagnostics == ()


def test_ip_access_group_naming_a_non_ip_list_is_a_diagnostic():
    config = cfg("""
        interface Gi0/0
         ip access-group 700 in
        access-list 700 permit 0000.1111.2222 0000.0000.0000
        end
    """)
    assert any("not an IPv4" in r for r in reasons(config))
    assert config.diagnostics[0].line == 2


def test_undefined_interface_acl_is_a_diagnostic():
    config = cfg("""
        interface Gi0/0
         ip access-group 150 out
        end
    """)
    assert any("not defined: IOS lets every packet through" in r for r in reasons(config))


def test_missing_acl_in_pbr_route_map_is_a_diagnostic():
    config = cfg("""
        interface Gi0/0
         ip policy route-map R
        route-map R permit 10
         match ip address 106
         set interface Null0
        end
    """)
    assert any("matches every packet" in r for r in reasons(config))
    assert config.diagnostics[0].line == 4


def test_interface_commands_that_could_rewrite_or_drop_are_diagnosed():
    config = cfg("""
        mls qos
        interface Gi0/1
         rate-limit input 8000 8000 8000 conform-action transmit exceed-action drop
         ipv6 traffic-filter V6 in
         zone-member security INSIDE
        end
    """)
    assert [d.line for d in config.diagnostics] == [1, 3, 4, 5]


def test_unrelated_commands_are_ignored_safely():
    config = cfg("""
        hostname r1
        snmp-server community private RO
        line vty 0 4
         transport input ssh
        router ospf 1
         network 10.0.0.0 0.255.255.255 area 0
        ip route 0.0.0.0 0.0.0.0 192.0.2.1
        end
    """)
    assert config.diagnostics == ()
    assert config.hostname == "r1"


def test_references_from_unmodelled_places_are_recorded():
    config = load_ios(str(BORDER))
    uses = [e.text for e in config.references[("acl", "10")]]
    assert "access-class 10 in" in uses
    assert "snmp-server community private RO 10" in uses


def test_interface_abbreviations_resolve():
    config = load_ios(str(BORDER))
    assert config.interface("gi0/1").name == "GigabitEthernet0/1"
    assert config.interface("Se0/0/0").name == "Serial0/0/0"
    with pytest.raises(KeyError):
        config.interface("Tunnel9")


# ---------------------------------------------------------------- bad input
def test_config_cut_short_raises_parse_error_at_last_line():
    text = BORDER.read_text()
    cut = "\n".join(text.splitlines()[:60]) + "\n"
    with pytest.raises(ParseError) as info:
        parse_ios(cut, "cut.cfg")
    assert info.value.line == 60 or info.value.line == max(
        n for n, line in enumerate(cut.splitlines(), 1) if line.strip() and not line.startswith("!"))
    assert "without 'end'" in str(info.value)
    assert str(info.value).startswith("cut.cfg:")


def test_missing_end_is_a_diagnostic_when_not_required():
    config = cfg("access-list 106 permit ip any any dscp 1\n", require_end=False)
    assert not config.ended
    assert "truncated" in config.diagnostics[-1].reason
    assert config.diagnostics[-1].line == 1


def test_unclosed_banner_is_a_parse_error():
    with pytest.raises(ParseError, match="banner"):
        parse_ios("hostname r1\nbanner motd ^C\nhello\n", "b.cfg")


def test_binary_file_with_nul_bytes_is_a_parse_error(tmp_path):
    path = tmp_path / "router.bin"
    path.write_bytes(b"hostname r1\ninterface Gi0/0\n\x00\x01\x02\xff\xfe\nend\n")
    with pytest.raises(ParseError) as info:
        load_ios(str(path))
    assert info.value.line == 3
    assert "binary" in info.value.reason


def test_control_characters_are_a_parse_error():
    with pytest.raises(ParseError, match="control character 0x07"):
        parse_ios("hostname r1\n\x07\nend\n", "x.cfg")


def test_latin1_text_is_read_with_a_diagnostic(tmp_path):
    path = tmp_path / "router.cfg"
    path.write_bytes(b"hostname r1\ninterface Gi0/0\n description caf\xe9 link\nend\n")
    config = load_ios(str(path))
    assert config.interface("Gi0/0").description == "caf\u00e9 link"
    assert config.diagnostics[0].line == 3
    assert "Latin-1" in config.diagnostics[0].reason


def test_decode_config_accepts_utf8():
    text, diags = decode_config("description caf\u00e9\n".encode("utf-8"), "x")
    assert text.startswith("description") and diags == []


def test_text_after_end_is_a_diagnostic():
    config = parse_ios("hostname r1\nend\nrouter#\n", "x.cfg")
    assert config.diagnostics[0].line == 3


def test_windows_line_endings_are_read():
    config = parse_ios("access-list 106 permit ip any any dscp 1\r\nend\r\n", "crlf.cfg")
    assert config.acls["106"].entries[0].ds_mask == DSCP_BYTES[1]
    assert config.acls["106"].entries[0].source.text == "access-list 106 permit ip any any dscp 1"


def test_acl_without_ds_test_accepts_every_byte():
    config = cfg("access-list 101 permit tcp any any\nend\n")
    assert config.acls["101"].entries[0].ds_mask == ALL_BYTES


def test_config_as_dict_is_json_serialisable():
    import json

    config = load_ios(str(BORDER))
    data = json.loads(json.dumps(config.as_dict()))
    assert data["hostname"] == "border-rtr1"
    assert data["acls"]["106"]["entries"][0]["ds"] == "dscp 1"


def test_applied_acl_with_only_remarks_is_a_diagnostic():
    config = cfg("""
        interface Gi0/0
         ip access-group 150 in
        access-list 150 remark to be filled in
        end
    """)
    assert any("has no entries" in r for r in reasons(config))


def test_empty_file_is_a_parse_error():
    with pytest.raises(ParseError, match="empty configuration"):
        parse_ios("\n!\n\n", "empty.cfg", require_end=False)


def test_zone_pair_and_control_plane_policies_are_diagnosed_where_applied():
    config = cfg("""
        zone-pair security IN-OUT source INSIDE destination OUTSIDE
         service-policy type inspect FW
        control-plane
         service-policy input COPP
        end
    """)
    assert [d.line for d in config.diagnostics] == [2, 4]
    assert "zone-based firewall" in config.diagnostics[0].reason
    assert "control-plane" in config.diagnostics[1].reason


def test_banners_and_macros_of_every_shape_are_skipped():
    config = cfg("""
        banner motd ^CAuthorized use only^C
        banner exec #
        interface Fake0
        #
        banner login ^C
        route-map FAKE permit 10
        ^C
        macro name EDGE
        interface range $interface
        switchport mode access
        @
        interface Real0
        end
    """)
    assert list(config.interfaces) == ["Real0"]
    assert config.route_maps == {}
    assert config.diagnostics == ()


def test_certificate_hex_and_unknown_sections_are_read_past():
    config = cfg("""
        crypto pki certificate chain TP-self-signed-1
         certificate self-signed 01
          3082022B 30820194 A0030201 02020101 300D0609 2A864886 F70D0101 05050030
                quit
        event manager applet X
         action 1.0 cli command "enable"
        interface Gi0/0
         ip access-group 101 in
        access-list 101 permit ip any any
        end
    """)
    assert config.interface("Gi0/0").acl_in.name == "101"
    assert config.diagnostics == ()
