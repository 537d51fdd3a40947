"""Paths and references: `diffserv_links` read into links (analysis.parse_links), and what ios/links.py says about
a router's references (link diagnostics: dangling names; unused definitions: names no applied place reaches)."""

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import (
    link_diagnostics, undefined_acl_reason, unused_definitions,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios

FIREWALL = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04
COMMIT
"""

ROUTER = """hostname rtr
interface GigabitEthernet0/0
 ip address 203.0.113.2 255.255.255.252
interface GigabitEthernet0/1
 ip address 198.51.100.1 255.255.255.0
end
"""


def collected(platform, text, source):
    name = "running-config" if platform == "ios" else "iptables-save"
    return {"diffserv_collection": {"platform": platform, "managed": True,
                                    "files": [{"name": name, "source": source, "text": text}]}}


@pytest.fixture(scope="module")
def fleet():
    results = {"fw": collected("iptables", FIREWALL, "fw.rules"), "fw2": collected("iptables", FIREWALL, "fw2.rules"),
               "rtr": collected("ios", ROUTER, "rtr.cfg"), "rtr2": collected("ios", ROUTER, "rtr2.cfg")}
    loaded = loader.load_fleet(results, None)
    assert loaded.errors == []
    assert (sorted(loaded.firewalls), sorted(loaded.routers)) == (["fw", "fw2"], ["rtr", "rtr2"])
    return loaded


def parse(fleet, given, failed=frozenset()):
    return analysis.parse_links(given, fleet.firewalls, fleet.routers, failed=failed)


# --------------------------------------------------------------------------------------------------------------
# parse_links


def test_a_firewall_egress_to_a_router_interface_is_one_explicit_link(fleet):
    links, problems, unusable = parse(fleet, [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/1"}])
    assert links == [analysis.Link("fw", "eth0", "rtr", "GigabitEthernet0/1", assumed=False)]
    assert (problems, unusable) == ([], [])
    assert links[0].as_dict() == {"from": "fw:eth0", "to": "rtr:GigabitEthernet0/1", "assumed": False}


def test_a_firewall_named_without_egress_means_any_egress(fleet):
    (link,), problems, _unusable = parse(fleet, [{"from": "fw", "to": "rtr:GigabitEthernet0/0"}])
    assert problems == []
    assert (link.egress, link.assumed) == (None, False)
    assert link.as_dict() == {"from": "fw:*", "to": "rtr:GigabitEthernet0/0", "assumed": False}


def test_links_keep_their_order_and_each_problem_names_its_index(fleet):
    given = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"},
             {"from": "nobody:eth0", "to": "rtr:GigabitEthernet0/0"},
             {"from": "fw2:eth1", "to": "rtr2:GigabitEthernet0/1"}]
    links, problems, _unusable = parse(fleet, given)
    assert [(link.firewall, link.router, link.interface) for link in links] == [
        ("fw", "rtr", "GigabitEthernet0/0"), ("fw2", "rtr2", "GigabitEthernet0/1")]
    assert problems == ["diffserv_links[1]: nobody is not an audited host"]


@pytest.mark.parametrize("entry, problem", [
    ({"from": "ghost:eth0", "to": "rtr:GigabitEthernet0/0"}, "diffserv_links[0]: ghost is not an audited host"),
    ({"from": "fw:eth0", "to": "ghost:GigabitEthernet0/0"}, "diffserv_links[0]: ghost is not an audited router"),
    # A firewall is audited, but packets are only followed into routers.
    ({"from": "fw:eth0", "to": "fw2:eth1"}, "diffserv_links[0]: fw2 is not an audited router"),
    ({"from": "fw:eth0", "to": "rtr:GigabitEthernet9/9"}, "diffserv_links[0]: rtr has no interface GigabitEthernet9/9"),
    # Interface names are taken as the configuration spells them.
    ({"from": "fw:eth0", "to": "rtr:Gi0/0"}, "diffserv_links[0]: rtr has no interface Gi0/0"),
    ({"from": "fw:eth0", "to": "rtr"}, "diffserv_links[0]: rtr has no interface "),
    ({"from": "fw:eth0"}, "diffserv_links[0]: needs 'from' and 'to' as host:interface"),
    ({"to": "rtr:GigabitEthernet0/0"}, "diffserv_links[0]: needs 'from' and 'to' as host:interface"),
    ("fw:eth0 -> rtr:GigabitEthernet0/0", "diffserv_links[0]: needs 'from' and 'to' as host:interface"),
    (None, "diffserv_links[0]: needs 'from' and 'to' as host:interface"),
])
def test_a_link_that_names_nothing_audited_is_a_problem_not_a_link(fleet, entry, problem):
    links, problems, unusable = parse(fleet, [entry])
    assert (links, problems, unusable) == ([], [problem], [])


def test_a_router_to_router_entry_is_accepted_but_joins_nothing(fleet):
    # Only firewall -> router paths are joined today; naming a router as the source is not an error.
    assert parse(fleet, [{"from": "rtr2:GigabitEthernet0/0", "to": "rtr:GigabitEthernet0/0"}]) == ([], [], [])


def test_a_link_to_a_failed_host_is_a_note_for_that_host_not_a_problem(fleet):
    given = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"},
             {"from": "down-fw:eth0", "to": "rtr:GigabitEthernet0/0"},
             {"from": "fw2:eth0", "to": "down-rtr:Gi0/0"},
             {"from": "down-fw:eth1", "to": "down-rtr:Gi0/1"}]
    links, problems, unusable = parse(fleet, given, failed={"down-fw", "down-rtr"})
    assert problems == []
    assert [(link.firewall, link.interface) for link in links] == [("fw", "GigabitEthernet0/0")]
    assert unusable == [
        ("down-fw", "diffserv_links[1] (down-fw:eth0 -> rtr:GigabitEthernet0/0) not analysed: this host failed"),
        ("down-rtr", "diffserv_links[2] (fw2:eth0 -> down-rtr:Gi0/0) not analysed: this host failed"),
        # Both ends failed: each host's error says so.
        ("down-fw", "diffserv_links[3] (down-fw:eth1 -> down-rtr:Gi0/1) not analysed: this host failed"),
        ("down-rtr", "diffserv_links[3] (down-fw:eth1 -> down-rtr:Gi0/1) not analysed: this host failed"),
    ]


def test_the_loader_turns_problems_into_link_errors_without_a_host():
    results = {"fw": collected("iptables", FIREWALL, "fw.rules"), "rtr": collected("ios", ROUTER, "rtr.cfg")}
    fleet = loader.load_fleet(results, [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"},
                                        {"from": "fw:eth0", "to": "rtr:Serial0/0"}])
    assert [(link.firewall, link.egress, link.interface) for link in fleet.links] == [
        ("fw", "eth0", "GigabitEthernet0/0")]
    assert fleet.errors == [
        {"host": None, "stage": "links", "reason": "diffserv_links[1]: rtr has no interface Serial0/0"}]


# --------------------------------------------------------------------------------------------------------------
# ios/links.py: link diagnostics


def diagnostics(text):
    return [(d.line, d.text, d.reason) for d in link_diagnostics(parse_ios(text, "r.cfg"))]


def test_a_reached_class_map_naming_an_undefined_acl_is_a_diagnostic_on_its_match_line():
    text = """hostname r
class-map match-all web
 match access-group name WEB
policy-map in-pol
 class web
  set dscp af11
interface GigabitEthernet0/0
 service-policy input in-pol
end
"""
    reason = undefined_acl_reason("web", "WEB")
    assert reason == "class-map web matches ACL WEB, which is not defined (may-match)"
    assert diagnostics(text) == [(3, "match access-group name WEB", reason)]
    # The parser keeps it among the configuration's diagnostics (what the join reports under `unmodeled`).
    config = parse_ios(text, "r.cfg")
    assert [(d.file, d.line, d.reason) for d in config.diagnostics] == [("r.cfg", 3, reason)]
    # Defined, it is no longer a diagnostic.
    assert diagnostics(text.replace("end\n", "ip access-list extended WEB\n permit tcp any any eq www\nend\n")) == []


def test_a_class_map_no_applied_place_reaches_gets_no_diagnostic_it_is_unused():
    text = """hostname r
class-map match-all orphan
 match access-group name NOPE
interface GigabitEthernet0/0
 ip address 192.0.2.1 255.255.255.0
end
"""
    config = parse_ios(text, "r.cfg")
    assert link_diagnostics(config) == []
    assert [(u.kind, u.name, u.source.line) for u in unused_definitions(config)] == [("class-map", "orphan", 2)]


def test_every_dangling_reference_of_an_applied_place_is_named_with_its_line():
    text = """hostname r
class-map match-all empty
class-map match-any nested
 match class-map ghost
policy-map in-pol
 class missing-class
  drop
 class empty
  drop
 class nested
  drop
 class class-default
  service-policy child-nope
interface GigabitEthernet0/0
 ip access-group 120 in
 ip access-group NOTDEF out
 service-policy input in-pol
 service-policy output no-such-policy
 ip policy route-map pbr
interface GigabitEthernet0/1
 ip policy route-map no-such-rm
ip local policy route-map local-nope
access-list 120 permit ip any any
route-map pbr permit 10
 match ip address 140
 set interface Null0
end
"""
    assert diagnostics(text) == [
        (16, "ip access-group NOTDEF out", "access-list NOTDEF is not defined: IOS lets every packet through"),
        (18, "service-policy output no-such-policy",
         "policy-map no-such-policy is not defined (IOS refuses this; ignored)"),
        (21, "ip policy route-map no-such-rm", "route-map no-such-rm is not defined: packets are routed normally"),
        (22, "ip local policy route-map local-nope",
         "route-map local-nope is not defined: packets are routed normally"),
        (6, "class missing-class", "class-map missing-class is not defined (class treated as may-match)"),
        (13, "service-policy child-nope", "policy-map child-nope is not defined (nested policy ignored)"),
        (2, "class-map match-all empty", "class-map empty has no match statement: it matches no packet"),
        (4, "match class-map ghost", "class-map ghost is not defined (criterion treated as may-match)"),
        (25, "match ip address 140", "access-list 140 is not defined: route-map pbr 10 matches every packet"),
    ]


def test_an_undefined_class_map_used_by_two_policies_is_said_once():
    text = """hostname r
policy-map a
 class missing
  drop
policy-map b
 class missing
  drop
interface GigabitEthernet0/0
 service-policy input a
 service-policy output b
end
"""
    assert diagnostics(text) == [(3, "class missing", "class-map missing is not defined (class treated as may-match)")]


# --------------------------------------------------------------------------------------------------------------
# ios/links.py: unused definitions


UNUSED = """hostname r
class-map match-all web
 match access-group name WEB
class-map type inspect match-any insp
 match protocol http
policy-map in-pol
 class web
  set dscp af11
policy-map spare
 class web
  drop
interface GigabitEthernet0/0
 ip access-group 120 in
 service-policy input in-pol
 ip policy route-map pbr
ip access-list extended WEB
 permit tcp any any eq www
ip access-list extended SPARE
 permit ip any any
access-list 120 permit ip any any
access-list 130 deny   ip any any dscp 1
access-list 140 permit ip any any dscp 1
access-list 10 permit 192.0.2.10
route-map pbr permit 10
 match ip address 140
 set interface Null0
route-map bgp-in permit 10
 match ip address SPARE
router bgp 65000
 neighbor 192.0.2.2 route-map bgp-in in
line vty 0 4
 access-class 10 in
end
"""


def test_an_acl_defined_and_applied_nowhere_is_unused_and_what_is_reached_is_not():
    found = [(u.kind, u.name, u.source.line) for u in unused_definitions(parse_ios(UNUSED, "r.cfg"))]
    # In line order.  WEB (reached through in-pol's class-map), 120 (ip access-group), 140 (the PBR
    # route-map) and the inspect class-map (not a QoS class) are not there.
    assert found == [("policy-map", "spare", 9), ("acl", "SPARE", 18), ("acl", "130", 21), ("acl", "10", 23),
                     ("route-map", "bgp-in", 27)]


def test_an_unused_definition_carries_its_uses_outside_ds_fates():
    by_name = {u.name: u.as_dict() for u in unused_definitions(parse_ios(UNUSED, "r.cfg"))}
    assert by_name["130"] == {"kind": "acl", "name": "130",
                              "source": {"file": "r.cfg", "line": 21,
                                         "text": "access-list 130 deny   ip any any dscp 1"},
                              "other_uses": []}
    assert by_name["10"]["other_uses"] == [{"file": "r.cfg", "line": 32, "text": "access-class 10 in"}]
    assert by_name["bgp-in"]["other_uses"] == [{"file": "r.cfg", "line": 30,
                                                "text": "neighbor 192.0.2.2 route-map bgp-in in"}]
    # SPARE is reached only through a route-map that is itself unused: no applied place reaches it.
    assert by_name["SPARE"]["other_uses"] == []


def test_applying_a_definition_takes_it_off_the_unused_list():
    applied = UNUSED.replace(" ip policy route-map pbr\n", " ip policy route-map pbr\n ip access-group 130 out\n")
    names = [u.name for u in unused_definitions(parse_ios(applied, "r.cfg"))]
    assert "130" not in names and "SPARE" in names
