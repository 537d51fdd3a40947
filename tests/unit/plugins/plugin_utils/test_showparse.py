"""Saved `show` outputs through TextFSM: ntc-templates where they read the lines, ours where they do not.

The outputs under tests/fixtures/show are written as IOS prints them (Cisco IOS command references:
Security, "show access-lists"; IP Routing Protocol-Independent, "show route-map"; QoS Solutions,
"show policy-map interface"; IP Addressing Services, "show ip interface") for the example router
(inventories/example/files/border-router.cfg) after the incident: 5123 SYN/ACKs null-routed.
"""

import pathlib

import pytest
import textfsm

from ansible_collections.diffserv.audit.plugins.module_utils.counters import (
    ACL_ENTRY, CLASS, CLASS_MATCH, MARKED, POLICE, ROUTE_MAP,
)
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.plugin_utils.showparse import (
    COMMANDS, ShowParseError, ntc_template, parse_show, read_show_outputs,
)

SHOW = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "show"
OUTPUTS = {"show access-lists": "border-rtr1.show-access-lists.txt", "show route-map": "border-rtr1.show-route-map.txt",
           "show policy-map interface": "border-rtr1.show-policy-map-interface.txt",
           "show ip interface": "border-rtr1.show-ip-interface.txt"}


def parsed(command):
    return parse_show(command, (SHOW / OUTPUTS[command]).read_text(), OUTPUTS[command])


def ntc_rows(template, text):
    with open(ntc_template(template)) as handle:
        machine = textfsm.TextFSM(handle)
    return [dict(zip(machine.header, row)) for row in machine.ParseText(text)]


def test_ntc_templates_lose_the_dscp_part_and_the_counter_of_an_acl_entry():
    # Why the collection carries its own template: ntc-templates 9.3.0 reads the founding ACL entry
    # `10 permit ip any any dscp 1 (5123 matches)` as `permit ip any any` without a match count.
    rows = ntc_rows("cisco_ios_show_access-list.textfsm", (SHOW / OUTPUTS["show access-lists"]).read_text())
    entry = [row for row in rows if row["NAME"] == "106"][0]
    assert (entry["SN"], entry["SOURCE"], entry["DESTINATION"], entry["MODIFIER"], entry["MATCHES"]) == (
        "10", "any", "any", "", "")
    assert not any("dscp" in value for row in rows for value in row.values())
    # It reads the counter of an entry without a DS part: the template is right to use where it applies.
    assert [row["MATCHES"] for row in rows if row["NAME"] == "110" and row["SN"] == "60"] == ["64977760"]


def test_ntc_templates_skip_the_policy_routing_counter_of_a_route_map():
    rows = ntc_rows("cisco_ios_show_route-map.textfsm", (SHOW / OUTPUTS["show route-map"]).read_text())
    assert rows == [{"NAME": "null_policy_route", "ACTION": "permit", "SEQ": "10",
                     "MATCH_CLAUSES": ["ip address (access-lists): 106"], "SET_CLAUSES": ["interface Null0"]}]


def test_our_acl_template_keeps_the_dscp_entry_and_its_matches():
    counters = {(c.name, c.seq): c for c in parsed("show access-lists").counters}
    entry = counters[("106", 10)]
    assert (entry.kind, entry.entry, entry.packets) == (ACL_ENTRY, "permit ip any any dscp 1", 5123)
    assert entry.what == "access-list 106 entry 10 matches"
    # Standard list entries, entries IOS prints without a counter (0), one with a counter.
    assert counters[("10", 10)].packets == 12 and counters[("10", 20)].packets == 0
    assert counters[("110", 50)].entry == "deny   ip 198.51.100.0 0.0.0.255 any" and counters[("110", 50)].packets == 37
    assert len(counters) == 9


@pytest.mark.parametrize("text, expected", [
    ("Extended IP access list 101\n    10 permit tcp any any eq smtp log (1 match)\n", ("101", 10, "permit tcp any any eq smtp log", 1)),
    ("Extended IP access list LE-ONLY\n    10 permit ip any any dscp 1\n", ("LE-ONLY", 10, "permit ip any any dscp 1", 0)),
    ("IPv6 access list v6-edge\n    permit tcp any any eq www (4 matches) sequence 10\n",
     ("v6-edge", 10, "permit tcp any any eq www", 4)),
    ("Standard IP access list 10\n    10 permit 10.0.0.0, wildcard bits 0.255.255.255 (5 matches)\n",
     ("10", 10, "permit 10.0.0.0, wildcard bits 0.255.255.255", 5)),
])
def test_acl_formats_ios_prints(text, expected):
    counter = parse_show("show access-lists", text, "x.txt").counters[0]
    assert (counter.name, counter.seq, counter.entry, counter.packets) == expected


def test_our_route_map_template_keeps_the_policy_routing_counter():
    (counter,) = parsed("show route-map").counters
    assert (counter.kind, counter.name, counter.seq, counter.packets, counter.bytes) == (
        ROUTE_MAP, "null_policy_route", 10, 5123, 307380)


def test_route_map_clauses_each_with_their_counter():
    text = ("route-map pbr, permit, sequence 10\n  Match clauses:\n    ip address (access-lists): 106 \n"
            "  Set clauses:\n    interface Null0\n  Policy routing matches: 9 packets, 540 bytes\n"
            "route-map pbr, deny, sequence 20\n  Match clauses:\n  Set clauses:\n"
            "  Policy routing matches: 0 packets, 0 bytes\n")
    assert [(c.seq, c.packets) for c in parse_show("show route-map", text, "x.txt").counters] == [(10, 9), (20, 0)]


def test_policy_map_interface_classes_matches_and_marking():
    counters = parsed("show policy-map interface").counters
    kinds = [(c.kind, c.entry, c.detail, c.packets) for c in counters]
    assert kinds[0] == (CLASS, "http-hacks", None, 5123)
    assert (CLASS_MATCH, "http-hacks", 'protocol http url "*default.ida*"', 5100) in kinds
    assert (MARKED, "http-hacks", "dscp 1", 5123) in kinds
    assert (CLASS, "class-default", None, 64972637) in kinds
    # `Match: any` prints no counter: no row.
    assert not any(c.detail == "any" for c in counters)
    assert {(c.interface, c.direction, c.name) for c in counters} == {
        ("GigabitEthernet0/0", "input", "mark-inbound-http-hacks")}


# A policer on a second router, with an output policy too (trailing spaces as IOS prints them).
POLICED = (SHOW / "edge.show-policy-map-interface.txt").read_text()


def test_policer_outcomes_and_a_second_direction():
    counters = parse_show("show policy-map interface", POLICED, "x.txt").counters
    assert [(c.kind, c.name, c.entry, c.direction, c.detail, c.packets) for c in counters] == [
        (CLASS, "police-le", "le", "input", None, 120),
        (POLICE, "police-le", "le", "input", "conformed", 20),
        (POLICE, "police-le", "le", "input", "exceeded", 100),
        (CLASS, "police-le", "class-default", "input", None, 5),
        (CLASS, "shape-out", "class-default", "output", None, 77),
    ]


def test_show_ip_interface_states_from_ntc_and_our_policy_routing_template():
    states = {s.interface: s for s in parsed("show ip interface").states}
    assert (states["GigabitEthernet0/0"].inbound_acl, states["GigabitEthernet0/0"].policy_route_map,
            states["GigabitEthernet0/0"].policy_routing) == ("110", "null_policy_route", True)
    assert (states["GigabitEthernet0/1"].inbound_acl, states["GigabitEthernet0/1"].policy_routing) == (None, False)
    assert states["Null0"].policy_routing is None


def test_ntc_show_ip_interface_skips_policy_routing():
    rows = ntc_rows("cisco_ios_show_ip_interface.textfsm", (SHOW / OUTPUTS["show ip interface"]).read_text())
    assert rows[0]["INBOUND_ACL"] == "110"
    assert not any("null_policy_route" in str(value) for row in rows for value in row.values())


def test_an_output_of_another_command_is_an_error_naming_the_file():
    with pytest.raises(ShowParseError) as raised:
        parse_show("show access-lists", (SHOW / OUTPUTS["show route-map"]).read_text(), "acl.txt")
    assert isinstance(raised.value, DiffservError)
    assert str(raised.value).startswith("acl.txt: `show access-lists`: not the output of this command")


def test_an_unknown_command_is_an_error():
    with pytest.raises(ShowParseError, match="`show running-config`: not read"):
        parse_show("show running-config", "", "x.txt")


def test_read_show_outputs_reads_every_file_and_reports_the_bad_ones():
    outputs = dict(OUTPUTS, **{"show route-map": "missing.txt"})
    found, errors = read_show_outputs(outputs, str(SHOW))
    assert [e.command for e in errors] == ["show route-map"] and "missing.txt" in str(errors[0])
    assert {c.kind for c in found.counters} == {ACL_ENTRY, CLASS, CLASS_MATCH, MARKED}
    assert len(found.states) == 4
    assert set(COMMANDS) == set(OUTPUTS)


def test_crlf_output_and_command_spelling():
    text = (SHOW / OUTPUTS["show route-map"]).read_text().replace("\n", "\r\n")
    assert parse_show("Show  Route-Map", text, "x.txt").counters[0].packets == 5123


def test_conflicts_observed_from_a_counted_dump_and_the_saved_show_outputs():
    from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
    from ansible_collections.diffserv.audit.plugins.plugin_utils.showparse import conflicts_observed
    example = SHOW.parents[2] / "inventories" / "example" / "files"
    dump = "\n".join("[5123:307380] " + line if line.startswith("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535")
                     else ("[0:0] " + line if line.startswith("-A ") else line)
                     for line in (example / "partner-fw.rules").read_text().splitlines()) + "\n"
    results = {"partner-fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "partner-fw.rules", "text": dump}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg", "text": (example / "border-router.cfg").read_text()}]}}}
    fleet = loader.load_fleet(results, [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    conflicts = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links).conflicts
    observed, errors = conflicts_observed(conflicts, fleet.firewalls, fleet.routers,
                                          {"border-rtr1": OUTPUTS}, base=str(SHOW))
    assert errors == [] and len(observed) == len(conflicts)
    line_35 = observed[[c.marker.line for c in conflicts].index(35)].as_dict()
    assert line_35["firewall"] == {"line": 35, "packets": 5123, "bytes": 307380}
    router = {entry["what"]: entry["packets"] for entry in line_35["router"]}
    assert router["access-list 106 entry 10 matches"] == 5123
    assert router["route-map null_policy_route 10 policy routing matches"] == 5123
    assert line_35["notes"] == []
    # Every other conflict's rule counted 0 packets in this dump: said, not hidden.
    others = [o for o, c in zip(observed, conflicts) if c.marker.line != 35]
    assert others and all(o.fired is False for o in others)
