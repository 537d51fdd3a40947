"""The exact join (analysis.conflicts_on_link): the router's treatment of exactly the packets each marking class
holds, not of the DS byte alone.  Each case is a firewall dump and a router configuration written here, audited
the way the analyze action does (load_fleet, analyze)."""

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis
from ansible_collections.diffserv.audit.plugins.module_utils.ios import PacketClass, parse_ios, transit_tables, trace_ios

from .test_analysis import audit, firewall, lines, router

# Mail replies (an SMTP server answering clients' ephemeral ports) leave eth0 with DSCP 1.
MAIL_REPLIES_LE = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --sport 25 --dport 1024:65535 -j TOS --set-tos 0x04")


def conflicts(router_text, firewall_text=MAIL_REPLIES_LE):
    return audit({"fw": firewall_text}, {"rtr": router_text}).conflicts


# --------------------------------------------------------------------------------------------------------------
# The false alarm, and its reverse


WEB_LE_DROP = router("""class-map match-all le-web
 match dscp 1
 match access-group name WEB
policy-map edge-in
 class le-web
  drop
""", " service-policy input edge-in", tail="""ip access-list extended WEB
 permit tcp any any eq www
 permit tcp any any eq 443
""")


def test_a_drop_of_dscp_1_that_also_requires_web_ports_never_meets_mail_replies():
    # Issue 14's false alarm: the byte alone said "forwarded; under conditions: dropped" (medium).
    assert conflicts(WEB_LE_DROP) == ()


def test_a_rule_on_the_source_port_alone_also_marks_port_25_to_web_ports_and_exactly_those_are_found():
    # `--sport 25` with no destination port marks TCP from port 25 to 80 and 443 too: those packets, and only
    # those, are dropped; the conflict says so (partial, high), it does not call all mail replies dropped.
    (found,) = conflicts(WEB_LE_DROP, firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --sport 25 -j TOS --set-tos 0x04"))
    assert (found.treatment.action, found.severity, found.treatment.confirmed_by_trace) == ("dropped", "high", True)
    assert {(tuple(flow.dport), flow.partial) for flow in found.flows} == {(("80", "443"), True)}
    assert found.treatment.example_packet["dport"] == 80


def test_the_same_drop_meets_the_packets_the_firewall_marks_when_they_are_web_traffic():
    web = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 443 -j TOS --set-tos 0x04")
    (found,) = conflicts(WEB_LE_DROP, web)
    assert (found.treatment.action, found.severity, found.treatment.confirmed_by_trace) == ("dropped", "critical", True)
    assert all(not flow.partial for flow in found.flows)


def test_match_any_instead_of_match_all_drops_every_dscp_1_packet():
    (found,) = conflicts(WEB_LE_DROP.replace("match-all le-web", "match-any le-web"))
    assert (found.treatment.action, found.severity) == ("dropped", "critical")
    assert found.treatment.example_packet["sport"] == 25


# The firewall marks what it sends to one partner network; the router null-routes DSCP 1 to exactly that network.
PARTNER_LE = firewall("-A POSTROUTING -o eth0 -d 198.51.100.0/24 -p tcp -m tcp --sport 25 -j TOS --set-tos 0x04")
PARTNER_NULL = router("", " ip policy route-map null-le", tail="""access-list 106 permit tcp any 198.51.100.0 0.0.0.255 dscp 1
route-map null-le permit 10
 match ip address 106
 set interface Null0
""")


def test_a_drop_limited_to_the_very_addresses_the_firewall_marks_is_found_and_critical():
    (found,) = conflicts(PARTNER_NULL, PARTNER_LE)
    assert (found.treatment.action, found.severity, found.treatment.confirmed_by_trace) == ("null-routed", "critical", True)
    assert found.treatment.example_packet["dst"] == "198.51.100.0"
    assert [(flow.dst, flow.partial) for flow in found.flows] == [(["198.51.100.0/24"], False)] * 2
    assert (17, "access-list 106 permit tcp any 198.51.100.0 0.0.0.255 dscp 1") in lines(found.treatment.lines)


def test_a_drop_of_another_network_never_meets_these_packets():
    other = PARTNER_NULL.replace("198.51.100.0 0.0.0.255", "198.51.101.0 0.0.0.255")
    assert conflicts(other, PARTNER_LE) == ()


def test_a_drop_of_part_of_the_marked_network_is_found_for_that_part_only_and_ranked_high():
    half = PARTNER_NULL.replace("198.51.100.0 0.0.0.255", "198.51.100.128 0.0.0.127")
    (found,) = conflicts(half, PARTNER_LE)
    assert (found.treatment.action, found.severity) == ("null-routed", "high")
    assert [(flow.dst, flow.partial) for flow in found.flows] == [(["198.51.100.128/25"], True)] * 2
    assert found.treatment.example_packet["dst"] == "198.51.100.128"
    assert "only part of them meets this fate: destination 198.51.100.128/25" in found.flows[0].words


def test_a_non_contiguous_wildcard_is_decided_exactly():
    # 198.51.100.0 0.0.0.254: the even addresses of the /24 (IOS wildcards need not be prefixes).
    even = PARTNER_NULL.replace("198.51.100.0 0.0.0.255", "198.51.100.0 0.0.0.254")
    (found,) = conflicts(even, PARTNER_LE)
    assert found.severity == "high" and found.flows[0].partial
    assert found.treatment.example_packet["dst"] == "198.51.100.0"
    assert len(found.flows[0].dst) == 128 and found.flows[0].dst[:2] == ["198.51.100.0/32", "198.51.100.2/32"]


# --------------------------------------------------------------------------------------------------------------
# Ports, protocols, ACL deny and permit


@pytest.mark.parametrize("entry, expected", [
    ("deny   tcp any eq smtp any dscp 1", ("dropped", "critical")),  # the replies' source port
    ("deny   tcp any eq 587 any dscp 1", None),  # another service's replies
    ("deny   udp any any dscp 1", None),  # another protocol
    ("deny   tcp any any eq 25 dscp 1", None),  # destination port 25: not the replies
    ("deny   tcp any range 20 30 any dscp 1", ("dropped", "critical")),
    ("deny   ip any any dscp 1", ("dropped", "critical")),
    ("permit ip any any dscp 1", None),  # a permit of DSCP 1 before the same permit of everything
])
def test_an_input_acl_entry_meets_the_marked_packets_only_where_its_header_tests_do(entry, expected):
    acl = router("", " ip access-group 107 in", tail="access-list 107 %s\naccess-list 107 permit ip any any\n" % entry)
    found = conflicts(acl)
    assert [(c.treatment.action, c.severity) for c in found] == ([expected] if expected else [])


def test_a_permit_of_dscp_1_before_a_deny_of_the_rest_is_a_conflict_the_other_way():
    # DSCP 1 mail replies pass; unmarked mail replies are dropped: the byte changes their fate (forwarded).
    acl = router("", " ip access-group 107 in", tail="access-list 107 permit tcp any eq smtp any dscp 1\n"
                                                      "access-list 107 deny   ip any any\n")
    (found,) = conflicts(acl)
    assert (found.treatment.action, found.treatment.unmarked_action, found.severity) == ("forwarded", "dropped", "medium")


def test_an_established_test_no_field_of_the_class_decides_stays_a_named_condition():
    acl = router("", " ip access-group 107 in", tail="access-list 107 deny   tcp any any established dscp 1\n"
                                                      "access-list 107 permit ip any any\n")
    (found,) = conflicts(acl)
    assert found.treatment.summary == "forwarded; under conditions: dropped"
    assert any(condition.line == 17 and "established" in condition.reason for condition in found.treatment.may_match)


def test_an_output_acl_on_one_inside_interface_is_a_conflict_leaving_by_that_interface():
    out = router("", "", gi02=" ip access-group 105 out", tail="access-list 105 deny   tcp any eq smtp any dscp 1\n"
                                                                 "access-list 105 permit ip any any\n")
    (found,) = conflicts(out)
    assert found.treatment.out_interfaces == ("GigabitEthernet0/2",)
    assert found.treatment.action == "dropped"


def test_policy_routing_a_subset_of_ports_to_null0():
    pbr = router("", " ip policy route-map null-le", tail="""ip access-list extended LE-SUBMISSION
 permit tcp any range 25 26 any dscp 1
route-map null-le permit 10
 match ip address LE-SUBMISSION
 set interface Null0
""")
    wide = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --sport 20:30 -j TOS --set-tos 0x04")
    (found,) = conflicts(pbr, wide)
    assert (found.treatment.action, found.severity) == ("null-routed", "high")
    assert [(flow.sport, flow.partial) for flow in found.flows] == [(["25-26"], True)] * 2


# --------------------------------------------------------------------------------------------------------------
# The parts themselves


def test_class_parts_cut_the_class_where_the_router_tests_it_and_only_there():
    config = parse_ios(PARTNER_NULL.replace("198.51.100.0 0.0.0.255", "198.51.100.128 0.0.0.127"), "rtr.cfg")
    (table,) = [table for table in transit_tables(config, "GigabitEthernet0/0") if table.out_interface == "GigabitEthernet0/1"]
    net = (0xC6336400, 0xC63364FF)
    packets = PacketClass(4, frozenset({6}), None, (net,), ((25, 25),), None)
    parts = analysis.class_parts(table.for_byte(4), table.for_byte(0), packets)
    assert [(part.packets.dst, part.decided, part.differs, part.action) for part in parts] == [
        (((0xC6336400, 0xC633647F),), True, False, "forwarded"),
        (((0xC6336480, 0xC63364FF),), True, True, "null-routed")]
    for part in parts:  # each part is one treatment: a trace of any packet of it agrees
        for dst in part.packets.dst[0]:
            packet = {"in_interface": "GigabitEthernet0/0", "out_interface": "GigabitEthernet0/1", "protocol": 6,
                      "sport": 25, "dport": 40000, "dst": "198.51.100.%d" % (dst & 0xFF)}
            marked, plain = trace_ios(config, dict(packet, tos=4)), trace_ios(config, dict(packet, tos=0))
            assert (marked["fate"] != plain["fate"]) == part.differs
            assert marked["fate"] == part.action


def test_past_the_work_budget_a_link_is_judged_per_byte_and_says_so(monkeypatch):
    # The false alarm comes back where the join stops cutting (a huge router), named as such.
    monkeypatch.setattr(analysis, "JOIN_BUDGET", 0)
    (found,) = conflicts(WEB_LE_DROP)
    assert found.treatment.summary == "forwarded; under conditions: dropped"
    assert found.severity == "medium"
    assert any("judged per DS byte" in condition.reason for condition in found.treatment.may_match)
