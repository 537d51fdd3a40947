# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""trace_ios: one packet through one router, line by line, as a JSON-ready dict."""

from __future__ import annotations

import json
import pathlib
import textwrap

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios import load_ios, parse_ios, trace_ios

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
BORDER = FIXTURES / "border-router.cfg"

# The partner's SYN/ACK of the founding incident, arriving from the Internet.
SYN_ACK = {
    "in_interface": "GigabitEthernet0/0",
    "out_interface": "GigabitEthernet0/1",
    "protocol": "tcp",
    "src": "192.0.2.99",
    "dst": "198.51.100.2",
    "sport": 25,
    "dport": 28680,
    "tcp_flags": "SA",
}


def line_of(path: pathlib.Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() == text:
            return number
    raise AssertionError("%r not in %s" % (text, path))


@pytest.fixture(scope="module")
def border():
    return load_ios(str(BORDER))


def test_syn_ack_with_tos_0x04_is_null_routed(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0x04))
    assert result["fate"] == "null-routed"
    assert (result["tos_in"], result["dscp_in"]) == (4, 1)


def test_null_route_trace_cites_each_deciding_line_in_order(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0x04))
    lines = [s["line"] for s in result["steps"]]
    expected = [line_of(BORDER, t) for t in (
        "ip access-group 110 in",
        "access-list 110 permit ip any any",
        "service-policy input mark-inbound-http-hacks",
        "ip policy route-map null_policy_route",
        "route-map null_policy_route permit 10",
        "match ip address 106",
        "access-list 106 permit ip any any dscp 1",
        "set interface Null0",
    )]
    assert [n for n in lines if n in expected] == expected


def test_syn_ack_with_tos_0x10_is_forwarded(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0x10))
    assert result["fate"] == "forwarded"
    assert result["tos_out"] == 0x10


def test_trace_says_the_fate_is_because_of_the_dscp(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0x04))
    assert result["because_of_dscp"]
    assert result["unmarked"] == {"fate": "forwarded", "tos_out": 0}


def test_trace_states_the_nbar_assumption(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0x00))
    assert any("NBAR" in a and "not matched" in a for a in result["assumptions"])


def test_nbar_match_marks_then_null_routes_with_tos_before_and_after(border):
    packet = dict(SYN_ACK, tos=0x00, sport=28680, dport=80, nbar=["http-hacks"])
    result = trace_ios(border, packet)
    assert result["fate"] == "null-routed"
    (mark,) = [s for s in result["steps"] if s["line"] == line_of(BORDER, "set ip dscp 1")]
    assert (mark["tos_before"], mark["tos_after"]) == (0x00, 0x04)
    assert not result["because_of_dscp"]


def test_nbar_step_names_the_matching_match_line(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0, nbar=['http url "*cmd.exe*"']))
    assert line_of(BORDER, 'match protocol http url "*cmd.exe*"') in [s["line"] for s in result["steps"]]


def test_anti_spoofing_entry_is_named_exactly(border):
    result = trace_ios(border, dict(SYN_ACK, src="172.16.5.5", tos=0))
    assert result["fate"] == "dropped"
    assert result["steps"][-1]["line"] == line_of(BORDER, "access-list 110 deny   ip 172.16.0.0 0.15.255.255 any")


def test_result_is_json_serialisable(border):
    result = trace_ios(border, dict(SYN_ACK, tos="0x04"))
    assert json.loads(json.dumps(result))["fate"] == "null-routed"


def test_trust_boundary_clears_before_policy_routing():
    config = load_ios(str(FIXTURES / "trust-boundary.cfg"))
    result = trace_ios(config, dict(SYN_ACK, tos=0x04))
    assert result["fate"] == "forwarded"
    assert result["tos_out"] == 0x00
    (clear,) = [s for s in result["steps"] if s["text"] == "set dscp default"]
    assert (clear["tos_before"], clear["tos_after"]) == (0x04, 0x00)


def test_output_acl_of_the_egress_interface_applies():
    config = load_ios(str(FIXTURES / "codered-acl-out.cfg"))
    packet = {"in_interface": "Serial0/0", "out_interface": "Ethernet0/1", "protocol": "tcp", "tos": 0x04}
    result = trace_ios(config, packet)
    assert result["fate"] == "dropped"
    assert result["steps"][-1]["text"] == "access-list 105 deny ip any any dscp 1 log"
    without_egress = trace_ios(config, dict(packet, out_interface=None))
    assert without_egress["fate"] == "forwarded"
    assert any("out_interface" in a for a in without_egress["assumptions"])


def test_policer_rate_decides_the_branch():
    config = parse_ios(textwrap.dedent("""
        policy-map P
         class class-default
          police 8000 conform-action transmit exceed-action drop
        interface Gi0/0
         service-policy input P
        end
    """).lstrip(), "p.cfg")
    base = {"in_interface": "Gi0/0", "tos": 0}
    assert trace_ios(config, base)["fate"] == "forwarded"
    assert any("within rate" in a for a in trace_ios(config, base)["assumptions"])
    assert trace_ios(config, dict(base, rate="exceed"))["fate"] == "dropped"
    assert trace_ios(config, dict(base, rate="violate"))["fate"] == "dropped"


def test_established_needs_ack_or_rst():
    config = parse_ios(textwrap.dedent("""
        interface Gi0/0
         ip access-group 101 in
        access-list 101 permit tcp any any established
        end
    """).lstrip(), "e.cfg")
    base = {"in_interface": "Gi0/0", "protocol": "tcp", "tos": 0}
    assert trace_ios(config, dict(base, tcp_flags="SA"))["fate"] == "forwarded"
    assert trace_ios(config, dict(base, tcp_flags="S"))["fate"] == "dropped"
    unknown = trace_ios(config, base)
    assert unknown["fate"] == "dropped"
    assert any("cannot decide" in a for a in unknown["assumptions"])


def test_port_and_address_tests():
    config = parse_ios(textwrap.dedent("""
        interface Gi0/0
         ip access-group EDGE in
        ip access-list extended EDGE
         10 permit tcp any host 198.51.100.2 eq smtp
         20 permit udp 10.0.0.0 0.0.0.255 any range 1000 2000
        end
    """).lstrip(), "e.cfg")
    base = {"in_interface": "Gi0/0", "tos": 0}
    assert trace_ios(config, dict(base, protocol="tcp", dst="198.51.100.2", dport=25))["fate"] == "forwarded"
    assert trace_ios(config, dict(base, protocol="tcp", dst="198.51.100.3", dport=25))["fate"] == "dropped"
    assert trace_ios(config, dict(base, protocol="udp", src="10.0.0.7", dport=1500))["fate"] == "forwarded"
    assert trace_ios(config, dict(base, protocol=17, src="10.0.1.7", dport=1500))["fate"] == "dropped"


def test_shut_interface_is_an_assumption():
    config = load_ios(str(BORDER))
    result = trace_ios(config, {"in_interface": "Serial0/0/0", "tos": 0})
    assert "shut down" in result["assumptions"][0]


def test_unknown_packet_field_is_an_error(border):
    with pytest.raises(DiffservError, match="dprot"):
        trace_ios(border, dict(SYN_ACK, dprot=25))


def test_unknown_interface_is_an_error(border):
    with pytest.raises(DiffservError, match="no interface"):
        trace_ios(border, dict(SYN_ACK, in_interface="Tunnel7"))


def test_bad_tos_is_an_error(border):
    with pytest.raises(DiffservError, match="tos"):
        trace_ios(border, dict(SYN_ACK, tos=300))


def test_router_generated_traffic_takes_the_local_policy():
    config = parse_ios(textwrap.dedent("""
        ip local policy route-map LOCAL
        interface Gi0/1
         ip access-group 150 out
        access-list 150 deny ip any any dscp cs6
        access-list 150 permit ip any any
        access-list 101 permit ip any any dscp cs6
        route-map LOCAL permit 10
         match ip address 101
         set ip precedence routine
        end
    """).lstrip(), "l.cfg")
    result = trace_ios(config, {"path": "output", "out_interface": "Gi0/1", "tos": 48 << 2})
    assert result["fate"] == "forwarded"
    assert result["tos_out"] == 0x00
    assert result["in_interface"] is None


def test_traffic_to_the_router_is_not_modelled(border):
    with pytest.raises(DiffservError, match="not modelled"):
        trace_ios(border, dict(SYN_ACK, path="input"))


def test_result_also_speaks_the_netfilter_trace_names(border):
    result = trace_ios(border, dict(SYN_ACK, tos=0x04, path="forward"))
    assert (result["tos"], result["dscp"], result["ecn"], result["verdict"]) == (4, 1, 0, "drop")
    assert result["describe"] == "0x04 = DSCP 1 (LE), ECN Not-ECT"
