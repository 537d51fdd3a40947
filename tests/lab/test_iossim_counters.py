"""The simulator's counters: packets offered to the lab's own IOS model, printed as IOS prints them.

No root needed (the in-process simulator).  What the simulator prints for the four counter commands
must be read by the collection's TextFSM templates (plugins/textfsm/) into the same kinds of rows the
real-format fixtures (tests/fixtures/show/) give, with the numbers the model counted.
"""

from __future__ import annotations

import sys

import pytest
from netmiko import ConnectHandler

from lab.iosconfig import Counters, IOSConfig, Packet, forward
from lab.iossim import offers_path_for, write_offers

from .conftest import ROOT

sys.path.insert(0, str(ROOT / ".collections"))
showparse = pytest.importorskip("ansible_collections.diffserv.audit.plugins.plugin_utils.showparse")

COMMANDS = ("show access-lists", "show route-map", "show policy-map interface", "show ip interface")
FIXTURES = {"show access-lists": "border-rtr1.show-access-lists.txt", "show route-map": "border-rtr1.show-route-map.txt",
            "show policy-map interface": "border-rtr1.show-policy-map-interface.txt",
            "show ip interface": "border-rtr1.show-ip-interface.txt"}
SYN_ACK = {"in_interface": "GigabitEthernet0/0", "out_interface": "GigabitEthernet0/1", "protocol": "tcp",
           "src": "203.0.113.25", "dst": "198.51.100.25", "sport": 25, "dport": 28680, "tos": 0x04, "length": 44}
CODE_RED = dict(SYN_ACK, sport=28680, dport=80, tos=0, length=380, url="/default.ida?NNNNNNNN")
SPOOFED = dict(SYN_ACK, src="198.51.100.7")


def shown(sim):
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        return {command: conn.send_command(command) for command in COMMANDS}


def parsed(outputs):
    found, errors = showparse.read_show_texts({command: (text, command) for command, text in outputs.items()})
    assert errors == []
    return {counter.what: counter for counter in found.counters}, {state.interface: state for state in found.states}


def test_offered_packets_are_counted_where_ios_counts_them_and_the_templates_read_it(sim):
    fates = sim.device.offer([dict(SYN_ACK, count=5), CODE_RED, SPOOFED])
    assert fates == {"null-routed": 6, "dropped": 1}
    counters, states = parsed(shown(sim))
    # The SYN/ACKs: let in by 110 entry 60, classified class-default, null-routed by 106 / route-map 10.
    assert counters["access-list 106 entry 10 matches"].packets == 6  # the Code Red request, marked 1, too
    assert counters["access-list 110 entry 60 matches"].packets == 6
    assert counters["access-list 110 entry 50 matches"].packets == 1  # the spoofed source, dropped first
    route_map = counters["route-map null_policy_route 10 policy routing matches"]
    assert (route_map.packets, route_map.bytes) == (6, 5 * 44 + 380)
    where = "GigabitEthernet0/0 input, service-policy mark-inbound-http-hacks, class "
    assert (counters[where + "class-default: packets"].packets, counters[where + "class-default: packets"].bytes) == (5, 220)
    assert counters[where + "http-hacks: packets"].packets == 1
    assert counters[where + 'http-hacks: match protocol http url "*default.ida*"'].packets == 1
    assert counters[where + 'http-hacks: match protocol http url "*cmd.exe*"'].packets == 0
    assert counters[where + "http-hacks: packets marked (dscp 1)"].packets == 1
    assert states["GigabitEthernet0/0"].inbound_acl == "110"
    assert states["GigabitEthernet0/0"].policy_route_map == "null_policy_route"
    assert states["GigabitEthernet0/1"].policy_routing is False


def test_the_simulator_prints_what_the_real_format_fixtures_hold_row_for_row(sim):
    sim.device.offer([dict(SYN_ACK, count=3)])
    counters, states = parsed(shown(sim))
    fixtures = {command: (ROOT / "tests" / "fixtures" / "show" / name).read_text() for command, name in FIXTURES.items()}
    real_counters, real_states = parsed(fixtures)
    # The same counters exist (what they count), only the numbers differ; the same interface states.
    assert set(counters) == set(real_counters)
    assert {name: (s.inbound_acl, s.policy_route_map, s.policy_routing) for name, s in states.items()
            if name.startswith("Gigabit")} == \
        {name: (s.inbound_acl, s.policy_route_map, s.policy_routing) for name, s in real_states.items()
         if name.startswith("Gigabit")}


def test_a_daemon_takes_offers_from_its_file_before_answering(sim, tmp_path):
    path = offers_path_for(str(tmp_path / "r1"))
    assert path == sim.device.offers_path()
    write_offers(path, [dict(SYN_ACK, count=4)])
    counters, _states = parsed(shown(sim))
    assert counters["access-list 106 entry 10 matches"].packets == 4
    write_offers(path, [dict(SYN_ACK, count=2)])
    counters, _states = parsed(shown(sim))
    assert counters["access-list 106 entry 10 matches"].packets == 6  # each offer taken once


def test_the_model_counts_nothing_for_a_packet_it_refuses():
    config = IOSConfig("hostname r\n!\nclass-map c\n match protocol bittorrent\n!\npolicy-map p\n class c\n  set dscp 1\n!\n"
                       "interface GigabitEthernet0/0\n ip access-group 1 in\n service-policy input p\n!\n"
                       "access-list 1 permit any\n!\nend\n")
    counters = Counters()
    with pytest.raises(ValueError):
        forward(config, Packet("Gi0/0", "Gi0/1", 4, 6, "192.0.2.1", "198.51.100.1", 0, 1, 2, length=40), counters)
    assert counters == Counters()
