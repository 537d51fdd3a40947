"""The join (analysis.py) on small configurations written here: what is a conflict, what is an advisory, the
evidence chain of each, their order, and which paths are joined (assumed or given)."""

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.findings import SEVERITY_ORDER

HEADER = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
"""


def firewall(*rules):
    """A mangle table whose first rule is line 7."""
    return HEADER + "".join(rule + "\n" for rule in rules) + "COMMIT\n"


# Line 7: SMTP connections leave eth0 as 0x04 = DSCP 1 (the founding incident's byte).
SMTP_LE = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04")

# Interfaces every router below has after its policy lines: the uplink the firewall reaches (with the
# attachments given), two inside interfaces, and what packets never leave by.
INTERFACES = """interface GigabitEthernet0/0
 ip address 203.0.113.2 255.255.255.252
%s
interface GigabitEthernet0/1
 ip address 198.51.100.1 255.255.255.0
interface GigabitEthernet0/2
 ip address 198.51.101.1 255.255.255.0
%s
interface Loopback0
 ip address 192.0.2.1 255.255.255.255
interface Serial0/0/0
 no ip address
 shutdown
interface Null0
 no ip unreachables
"""


def router(policy, uplink, tail="", gi02=""):
    """Line numbers: with no policy lines and a one-line uplink, the attachment is line 4 and the tail starts at
    17; each policy line moves everything after it down by one."""
    return "hostname rtr\n" + policy + INTERFACES % (uplink, gi02) + tail + "end\n"


NULL_ROUTE = router("", " ip policy route-map null-le", tail="""access-list 106 permit ip any any dscp 1
route-map null-le permit 10
 match ip address 106
 set interface Null0
""")
ACL_DENY = router("", " ip access-group 107 in", tail="""access-list 107 deny   ip any any dscp 1
access-list 107 permit ip any any
""")
POLICER_DROP = router("""class-map match-all le
 match dscp 1
policy-map edge-in
 class le
  police 8000 1500 1500 conform-action transmit exceed-action drop
""", " service-policy input edge-in")
REMARK = router("""class-map match-all le
 match dscp 1
policy-map map-le
 class le
  set dscp cs1
""", " service-policy input map-le")
# The Code-Red recipe's marking alone: NBAR picks packets and sets DSCP 1, whatever byte they arrive with.
NBAR_MARK = router("""class-map match-any http-hacks
 match protocol http url "*cmd.exe*"
policy-map mark-hacks
 class http-hacks
  set ip dscp 1
""", " service-policy input mark-hacks")
# Routers that treat DSCP 1 as they treat unmarked packets.
DROP_ALL = router("", " ip access-group 107 in", tail="access-list 107 deny   ip any any\n")
DROP_EF = router("", " ip access-group 107 in", tail="""access-list 107 deny   ip any any dscp ef
access-list 107 permit ip any any
""")
# The marking on the way in, the drop on the way out of one inside interface only.
OUTPUT_ACL = router("""class-map match-any http-hacks
 match protocol http url "*cmd.exe*"
policy-map mark-hacks
 class http-hacks
  set ip dscp 1
""", " service-policy input mark-hacks", gi02=" ip access-group 105 out",
                    tail="""access-list 105 deny   ip any any dscp 1 log
access-list 105 permit ip any any
""")

LINK = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]


def collected(platform, text, source):
    name = "running-config" if platform == "ios" else "iptables-save"
    return {"diffserv_collection": {"platform": platform, "managed": True,
                                    "files": [{"name": name, "source": source, "text": text}]}}


def audit(firewalls, routers, links=LINK):
    """analyze() over host -> text, loaded the way the analyze action loads a fleet."""
    results = {host: collected("iptables", text, "%s.rules" % host) for host, text in firewalls.items()}
    results.update({host: collected("ios", text, "%s.cfg" % host) for host, text in routers.items()})
    fleet = loader.load_fleet(results, links)
    assert fleet.errors == []
    return analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)


def one_conflict(router_text, firewall_text=SMTP_LE):
    findings = audit({"fw": firewall_text}, {"rtr": router_text})
    assert len(findings.conflicts) == 1, [c.as_dict() for c in findings.conflicts]
    return findings.conflicts[0]


def lines(evidence):
    return [(line.line, line.text) for line in evidence]


# --------------------------------------------------------------------------------------------------------------
# What is a conflict


@pytest.mark.parametrize("text, action, severity, tos_out", [
    (NULL_ROUTE, "null-routed", "critical", 0x04),
    (ACL_DENY, "dropped", "critical", 0x04),
    (POLICER_DROP, "forwarded", "high", 0x04),  # within rate it passes; its fate differs by the policer
    (REMARK, "forwarded", "medium", 0x20),  # CS1, ECN kept
])
def test_a_conflict_where_the_router_treats_the_byte_differently_from_unmarked(text, action, severity, tos_out):
    conflict = one_conflict(text)
    assert (conflict.dscp, conflict.ds_byte, conflict.describe) == (1, 0x04, "0x04 = DSCP 1 (LE), ECN Not-ECT")
    assert (conflict.treatment.action, conflict.severity, conflict.treatment.tos_out) == (action, severity, tos_out)
    assert conflict.treatment.unmarked_action == "forwarded"
    assert conflict.treatment.confirmed_by_trace


@pytest.mark.parametrize("text", [DROP_ALL, DROP_EF, router("", "")], ids=["drops-everything", "drops-ef", "plain"])
def test_no_conflict_where_dscp_1_fares_as_unmarked_traffic_does(text):
    findings = audit({"fw": SMTP_LE}, {"rtr": text})
    assert findings.conflicts == ()
    assert findings.errors == ()


def test_a_router_that_marks_dscp_1_whatever_the_byte_is_an_advisory_not_a_conflict():
    findings = audit({"fw": SMTP_LE}, {"rtr": NBAR_MARK})
    assert findings.conflicts == ()
    (advisory,) = findings.advisories
    assert (advisory.kind, advisory.host, advisory.interface, advisory.direction) == (
        "internal-marker-on-legacy-codepoint", "rtr", "GigabitEthernet0/0", "in")
    assert lines(advisory.lines) == [(6, "set ip dscp 1")]
    assert "DSCP 1 (LE)" in advisory.text and "byte 0x04" in advisory.text and "Maximize-Reliability" in advisory.text


def test_the_marking_router_conflicts_only_where_a_later_line_drops_by_the_byte():
    conflict = one_conflict(OUTPUT_ACL)
    assert (conflict.treatment.action, conflict.severity) == ("dropped", "critical")
    # In on the uplink, out by the one interface whose output ACL drops DSCP 1.
    assert conflict.treatment.out_interfaces == ("GigabitEthernet0/2",)
    assert lines(conflict.treatment.lines) == [
        (9, "service-policy input mark-hacks"), (4, "policy-map mark-hacks"), (14, "ip access-group 105 out"),
        (22, "access-list 105 deny   ip any any dscp 1 log")]


def test_a_firewall_that_writes_no_suspect_byte_has_no_conflict():
    af = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j DSCP --set-dscp 10")
    assert audit({"fw": af}, {"rtr": NULL_ROUTE}).conflicts == ()


# --------------------------------------------------------------------------------------------------------------
# The evidence chain


def test_the_evidence_chain_runs_from_the_firewall_rule_to_the_router_lines():
    conflict = one_conflict(NULL_ROUTE)
    marker = conflict.marker
    assert (marker.host, marker.file, marker.line) == ("fw", "fw.rules", 7)
    assert marker.rule == "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04"
    assert (marker.chain, marker.table, marker.writers) == ("POSTROUTING", "mangle", (7,))
    treatment = conflict.treatment
    assert (treatment.host, treatment.file, treatment.interface, treatment.direction) == (
        "rtr", "rtr.cfg", "GigabitEthernet0/0", "in")
    # Every interface a packet may leave by: not the uplink itself, Loopback, Null or the shut Serial.
    assert treatment.out_interfaces == ("GigabitEthernet0/1", "GigabitEthernet0/2")
    # The attachment, the route-map, its match, the ACL line it matches, the set: in the order they decide.
    assert [(line.line, line.text, line.what) for line in treatment.lines] == [
        (4, "ip policy route-map null-le", "interface GigabitEthernet0/0: policy routing by route-map null-le"),
        (18, "route-map null-le permit 10", "route-map null-le permit 10"),
        (19, "match ip address 106", "route-map null-le 10: match ip address 106"),
        (17, "access-list 106 permit ip any any dscp 1", "access-list 106: permit"),
        (20, "set interface Null0", "route-map null-le permit 10: set interface Null0"),
    ]
    assert all(line.file == "rtr.cfg" for line in treatment.lines)
    assert dict(treatment.example_packet) == {"protocol": "tcp", "dport": 25, "in_interface": "GigabitEthernet0/0",
                                              "out_interface": "GigabitEthernet0/1", "tos": 0x04}
    assert (treatment.may_match, treatment.remarked_unknown) == ((), False)
    assert conflict.link.as_dict() == {"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0", "assumed": False}
    assert conflict.path_assumed is False


@pytest.mark.parametrize("text, expected", [
    (ACL_DENY, [(4, "ip access-group 107 in"), (17, "access-list 107 deny   ip any any dscp 1")]),
    (POLICER_DROP, [(9, "service-policy input edge-in"), (5, "class le"), (3, "match dscp 1"),
                    (6, "police 8000 1500 1500 conform-action transmit exceed-action drop")]),
    (REMARK, [(9, "service-policy input map-le"), (5, "class le"), (3, "match dscp 1"), (6, "set dscp cs1")]),
])
def test_the_treatment_quotes_the_acl_and_policy_lines_that_decide(text, expected):
    assert lines(one_conflict(text).treatment.lines) == expected


def test_a_rule_behind_an_earlier_writer_is_the_marker_and_the_history_is_kept():
    # Forwarded packets only: PREROUTING writes 0x10, FORWARD overwrites it with 0x04.
    text = firewall("-A PREROUTING -p tcp -m tcp --dport 25 -j TOS --set-tos 0x10",
                    "-A FORWARD -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04")
    conflict = one_conflict(NULL_ROUTE, text)
    marker = conflict.marker
    assert (marker.line, marker.chain) == (8, "FORWARD")
    assert [flow.path for flow in conflict.flows] == ["forward"]
    assert marker.writers == (7, 8)


# A drop that needs more than the byte: DSCP 1 to one port.  The firewall marks replies to every high port.
PORT_DENY = router("", " ip access-group 107 in", tail="""access-list 107 deny   tcp any any eq 8080 dscp 1
access-list 107 permit ip any any
""")
HIGH_PORTS_LE = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 1024:65535 -j TOS --set-tos 0x04")


def test_a_drop_of_part_of_the_marked_packets_is_found_for_that_part_and_confirmed_on_one_of_them():
    # The exact join: the router drops DSCP 1 only to port 8080; of the replies the firewall marks, those to port
    # 8080 are dropped, the rest forwarded as unmarked.  Not "under conditions": the header decides.
    part = one_conflict(PORT_DENY, HIGH_PORTS_LE)
    assert (part.treatment.action, part.treatment.summary, part.severity) == ("dropped", "dropped", "high")
    assert part.treatment.example_packet["dport"] == 8080
    assert part.treatment.confirmed_by_trace is True
    assert [(flow.dport, flow.partial) for flow in part.flows] == [(["8080"], True)] * 2
    assert part.flows[0].words.endswith("only part of them meets this fate: destination port 8080")
    met = one_conflict(PORT_DENY.replace("eq 8080", "range 1024 1100"), HIGH_PORTS_LE)
    assert (met.treatment.action, met.severity, met.treatment.confirmed_by_trace) == ("dropped", "high", True)
    assert met.treatment.example_packet["dport"] == 1024
    assert lines(met.treatment.lines) == [(4, "ip access-group 107 in"),
                                          (17, "access-list 107 deny   tcp any any range 1024 1100 dscp 1")]
    # Every marked packet dropped: critical, and the flow is the whole class.
    every = one_conflict(PORT_DENY.replace("eq 8080", "range 1024 65535"), HIGH_PORTS_LE)
    assert (every.treatment.action, every.severity) == ("dropped", "critical")
    assert [flow.partial for flow in every.flows] == [False, False]


# A drop that needs more than the header: DSCP 1 to NBAR's http; no header field decides it.
NBAR_DROP = router("""class-map match-all le-http
 match dscp 1
 match protocol http
policy-map edge-in
 class le-http
  drop
""", " service-policy input edge-in")


def test_a_trace_in_which_marked_and_unmarked_fare_alike_does_not_confirm_the_conflict():
    conflict = one_conflict(NBAR_DROP)
    treatment = conflict.treatment
    assert treatment.summary == "forwarded; under conditions: dropped"
    assert (treatment.action, treatment.unmarked_action, treatment.tos_out) == ("forwarded", "forwarded", 0x04)
    assert treatment.confirmed_by_trace is False
    assert conflict.severity == "medium"


def test_the_evidence_of_a_conditional_drop_quotes_the_line_that_drops():
    treatment = one_conflict(NBAR_DROP).treatment
    assert any("match protocol http" in text for _line, text in lines(treatment.lines)), lines(treatment.lines)
    assert any(text.strip() == "drop" for _line, text in lines(treatment.lines)), lines(treatment.lines)


# --------------------------------------------------------------------------------------------------------------
# Severity and order


# One router, three treatments: DSCP 1 dropped by the input ACL, DSCP 2 policed, DSCP 4 re-marked.
MIXED = router("""class-map match-all af-two
 match dscp 2
class-map match-all four
 match dscp 4
policy-map edge-in
 class af-two
  police 8000 1500 1500 conform-action transmit exceed-action drop
 class four
  set dscp cs1
""", " ip access-group 107 in\n service-policy input edge-in", tail="""access-list 107 deny   ip any any dscp 1
access-list 107 permit ip any any
""")
# In file order: medium (line 10), high (line 11), then two criticals.  Three PREROUTING rules (lines 7-9) give
# replies to high ports different histories, so line 13 is behind more flow classes than line 12.
MIXED_FW = firewall(
    "-A PREROUTING -i eth1 -p tcp -m tcp --sport 80 --dport 1024:65535 -j TOS --set-tos 0x08",
    "-A PREROUTING -i eth1 -p tcp -m tcp --sport 443 --dport 1024:65535 -j TOS --set-tos 0x08",
    "-A PREROUTING -i eth2 -p tcp -m tcp --sport 8080 --dport 1024:65535 -j TOS --set-tos 0x08",
    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 22 -j TOS --set-tos 0x10",
    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 21 -j TOS --set-tos 0x08",
    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04",
    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 1024:65535 -j TOS --set-tos 0x04",
)


@pytest.fixture(scope="module")
def mixed():
    return audit({"fw": MIXED_FW}, {"rtr": MIXED})


def test_severity_follows_what_the_router_does(mixed):
    by_line = {c.marker.line: (c.dscp, c.treatment.action, c.severity) for c in mixed.conflicts}
    assert by_line == {10: (4, "forwarded", "medium"), 11: (2, "forwarded", "high"),
                       12: (1, "dropped", "critical"), 13: (1, "dropped", "critical")}
    summary = mixed.summary
    assert (summary["conflicts"], summary["critical"], summary["high"], summary["medium"]) == (4, 2, 1, 1)


def test_critical_before_high_before_medium_then_most_flow_classes_first(mixed):
    assert [(c.severity, c.marker.line) for c in mixed.conflicts] == [
        ("critical", 13), ("critical", 12), ("high", 11), ("medium", 10)]
    first, second = mixed.conflicts[:2]
    assert first.flow_classes > second.flow_classes
    severities = [SEVERITY_ORDER[c.severity] for c in mixed.conflicts]
    assert severities == sorted(severities)


# --------------------------------------------------------------------------------------------------------------
# Flows


def test_flows_say_which_packets_in_words_per_path():
    conflict = one_conflict(NULL_ROUTE)
    flows = {flow.path: flow for flow in conflict.flows}
    assert set(flows) == {"forward", "output"}
    forward = flows["forward"]
    assert (forward.protocols, forward.dport, forward.sport, forward.out_interfaces) == (
        ["tcp"], ["25"], "any", ["eth0"])
    assert forward.words == "TCP to port(s) 25, forwarded by fw: connections the fw side opens towards the rtr side"
    assert flows["output"].words == ("TCP to port(s) 25, sent by fw itself: "
                                     "connections the fw side opens towards the rtr side")
    assert conflict.flow_classes == sum(flow.classes for flow in conflict.flows) == 2


def test_flows_to_high_ports_are_named_as_replies():
    text = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 1024:65535 -j TOS --set-tos 0x04")
    forward = [flow for flow in one_conflict(NULL_ROUTE, text).flows if flow.path == "forward"][0]
    assert forward.words == ("TCP to high ports, forwarded by fw: replies to every connection the rtr side opens "
                             "(for example the SYN/ACK of a mail server answering a relay behind rtr)")


@pytest.mark.parametrize("rule, words", [
    ("-A POSTROUTING -o eth0 -p tcp -m tcp --sport 25 -j TOS --set-tos 0x04",
     "TCP from port(s) 25, forwarded by fw: replies of those services"),
    ("-A POSTROUTING -o eth0 -p udp -j TOS --set-tos 0x04", "all UDP packets forwarded by fw"),
])
def test_flows_without_a_destination_port_are_not_called_replies_to_high_ports(rule, words):
    forward = [flow for flow in one_conflict(NULL_ROUTE, firewall(rule)).flows if flow.path == "forward"][0]
    assert forward.words == words


def test_hairpin_forwarding_in_and_out_by_the_linked_egress_is_left_out():
    hairpin = firewall("-A FORWARD -i eth0 -o eth0 -j TOS --set-tos 0x04")
    assert audit({"fw": hairpin}, {"rtr": NULL_ROUTE}).conflicts == ()
    through = firewall("-A FORWARD -i eth1 -o eth0 -j TOS --set-tos 0x04")
    (conflict,) = audit({"fw": through}, {"rtr": NULL_ROUTE}).conflicts
    assert [flow.path for flow in conflict.flows] == ["forward"]


def test_packets_arriving_at_the_firewall_itself_are_left_out():
    text = firewall("-A INPUT -i eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04")
    # Not even on assumed paths, where every egress counts.
    assert audit({"fw": text}, {"rtr": NULL_ROUTE}, links=None).conflicts == ()
    assert audit({"fw": text}, {"rtr": NULL_ROUTE}).conflicts == ()


# --------------------------------------------------------------------------------------------------------------
# Paths: assumed and given


def test_without_links_every_firewall_reaches_every_forwarding_router_interface():
    findings = audit({"fw-a": SMTP_LE, "fw-b": SMTP_LE}, {"rtr": NULL_ROUTE}, links=None)
    # Loopback0, the shut Serial0/0/0 and Null0 are left out.
    assert [link.as_dict() for link in findings.links] == [
        {"from": "%s:*" % fw, "to": "rtr:%s" % iface, "assumed": True}
        for fw in ("fw-a", "fw-b") for iface in ("GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/2")]
    assert findings.summary["paths_assumed"] is True
    # Only the uplink policy-routes DSCP 1 to Null0: one conflict per firewall, each saying its path is assumed.
    assert sorted((c.marker.host, c.treatment.interface) for c in findings.conflicts) == [
        ("fw-a", "GigabitEthernet0/0"), ("fw-b", "GigabitEthernet0/0")]
    assert all(c.path_assumed and c.link.assumed for c in findings.conflicts)
    assert {c.link.source for c in findings.conflicts} == {"fw-a:*", "fw-b:*"}


def test_assumed_links_leave_out_null_loopback_and_shut_interfaces():
    text = router("", "") + "interface Null1\ninterface loopback7\n"
    fleet = loader.load_fleet({"fw": collected("iptables", SMTP_LE, "fw.rules"),
                               "rtr": collected("ios", text.replace("end\n", "") + "end\n", "rtr.cfg")}, None)
    assert [link.interface for link in analysis.assumed_links(fleet.firewalls, fleet.routers)] == [
        "GigabitEthernet0/0", "GigabitEthernet0/1", "GigabitEthernet0/2"]


def test_given_links_are_the_only_paths_joined():
    links = [{"from": "fw-b:eth0", "to": "rtr:GigabitEthernet0/0"}]
    findings = audit({"fw-a": SMTP_LE, "fw-b": SMTP_LE}, {"rtr": NULL_ROUTE}, links=links)
    assert [link.as_dict() for link in findings.links] == [
        {"from": "fw-b:eth0", "to": "rtr:GigabitEthernet0/0", "assumed": False}]
    assert findings.summary["paths_assumed"] is False
    assert [(c.marker.host, c.path_assumed) for c in findings.conflicts] == [("fw-b", False)]


def test_a_given_link_to_an_interface_that_does_not_treat_the_byte_has_no_conflict():
    links = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/1"}]
    assert audit({"fw": SMTP_LE}, {"rtr": NULL_ROUTE}, links=links).conflicts == ()


def test_a_link_by_an_egress_the_marking_does_not_leave_by_has_no_conflict():
    links = [{"from": "fw:eth1", "to": "rtr:GigabitEthernet0/0"}]
    assert audit({"fw": SMTP_LE}, {"rtr": NULL_ROUTE}, links=links).conflicts == ()


# --------------------------------------------------------------------------------------------------------------
# Advisories


def advisories(findings, kind):
    return [a for a in findings.advisories if a.kind == kind]


def test_a_router_dropping_dscp_1_gets_the_lower_effort_advisory_with_the_deciding_line():
    (advisory,) = advisories(audit({"fw": SMTP_LE}, {"rtr": ACL_DENY}), "drops-lower-effort")
    assert (advisory.host, advisory.interface, advisory.direction) == ("rtr", "GigabitEthernet0/0", "in")
    assert lines(advisory.lines) == [(17, "access-list 107 deny   ip any any dscp 1")]
    assert advisory.text.startswith("rtr: DSCP 1 arriving on GigabitEthernet0/0: DSCP 1 is now the Lower-Effort")
    assert "RFC 8622" in advisory.text


def test_the_lower_effort_advisory_names_the_output_side_and_null_routing_too():
    (out,) = advisories(audit({"fw": SMTP_LE}, {"rtr": OUTPUT_ACL}), "drops-lower-effort")
    assert (out.interface, out.direction) == ("GigabitEthernet0/2", "out")
    assert "leaving by GigabitEthernet0/2" in out.text
    assert lines(out.lines) == [(22, "access-list 105 deny   ip any any dscp 1 log")]
    (null,) = advisories(audit({"fw": SMTP_LE}, {"rtr": NULL_ROUTE}), "drops-lower-effort")
    assert lines(null.lines) == [(17, "access-list 106 permit ip any any dscp 1")]


def test_no_lower_effort_advisory_where_dscp_1_is_policed_remarked_or_dropped_with_everything():
    for text in (POLICER_DROP, REMARK, DROP_ALL):
        assert advisories(audit({"fw": SMTP_LE}, {"rtr": text}), "drops-lower-effort") == []


def test_marking_a_codepoint_legacy_tos_produces_is_advised_and_ef_is_not():
    (advisory,) = advisories(audit({"fw": SMTP_LE}, {"rtr": REMARK}), "internal-marker-on-legacy-codepoint")
    assert lines(advisory.lines) == [(6, "set dscp cs1")]
    assert "DSCP 8 (CS1)" in advisory.text and "precedence 1 with Normal-Service, byte 0x20" in advisory.text
    ef = REMARK.replace("set dscp cs1", "set dscp ef")
    assert advisories(audit({"fw": SMTP_LE}, {"rtr": ef}), "internal-marker-on-legacy-codepoint") == []


def test_a_legacy_tos_value_writing_the_ecn_bits_is_advised_with_its_rule():
    text = firewall("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x02",
                    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 26 -j TOS --set-tos Minimize-Cost",
                    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 27 -j TOS --set-tos 0x04",
                    "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 28 -j DSCP --set-dscp 1")
    found = advisories(audit({"fw": text}, {"rtr": router("", "")}), "legacy-tos-writes-ecn")
    assert [(a.host, a.interface, a.direction) for a in found] == [("fw", None, None)] * 2
    assert [lines(a.lines) for a in found] == [
        [(7, "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x02")],
        [(8, "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 26 -j TOS --set-tos Minimize-Cost")]]
    assert found[0].text.startswith("fw.rules:7 writes the ECN bits (0x02)")
    assert all(line.file == "fw.rules" for a in found for line in a.lines)


def test_advisories_are_reported_once_and_without_any_link():
    # Advisories describe each host alone: no link needed, and the same line on one interface is said once.
    findings = audit({"fw": SMTP_LE}, {"rtr": ACL_DENY}, links=None)
    keys = [(a.kind, a.host, a.interface, a.direction) for a in findings.advisories]
    assert keys == [("drops-lower-effort", "rtr", "GigabitEthernet0/0", "in")]


# --------------------------------------------------------------------------------------------------------------
# The rest of the findings


def test_unmodeled_and_unused_carry_their_host():
    text = router("""class-map match-all web
 match access-group name WEB
policy-map in-pol
 class web
  set dscp af11
""", " service-policy input in-pol", tail="access-list 130 permit ip any any\n")
    findings = audit({"fw": SMTP_LE}, {"rtr": text})
    assert [(n.host, n.file, n.line) for n in findings.unmodeled] == [("rtr", "rtr.cfg", 3)]
    assert "WEB, which is not defined" in findings.unmodeled[0].reason
    assert [(u["host"], u["kind"], u["name"]) for u in findings.unused] == [("rtr", "acl", "130")]
    assert findings.as_dict()["summary"]["firewalls"] == ["fw"] and findings.routers == ("rtr",)
