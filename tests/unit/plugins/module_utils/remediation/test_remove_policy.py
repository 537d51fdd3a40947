# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remove_policy on its own: what it plans, and what its windows say the route-map does meanwhile."""

from __future__ import annotations

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import remove_policy
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import build_fleet
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options

from .scenarios import BY_NAME, build, read


def planned(router_text: str | None = None, scenario: str = "founding"):
    hosts, findings = build(BY_NAME[scenario], router_text=router_text)
    return remove_policy.plan(build_fleet(findings, hosts, Options()), findings.conflicts, Options())


def pbr_window(result) -> str:
    (window,) = [w for w in result.windows if "policy-routed" in w.meanwhile]
    return window.meanwhile


def test_the_founding_route_map_sends_to_null0_and_the_window_says_so():
    assert "policy-routed (to Null0 here) until the interface line goes" in pbr_window(planned())


@pytest.mark.parametrize("sets,words", [
    (" set ip next-hop 192.0.2.99", "to next hop 192.0.2.99"),
    (" set ip next-hop 192.0.2.99\n set ip dscp 3", "to next hop 192.0.2.99 and re-marked by `set ip dscp 3`"),
    (" set interface Tunnel1 Null0", "to Tunnel1 or Null0"),
    (" set ip default next-hop 192.0.2.7", "to next hop 192.0.2.7 where the routing table has no route"),
])
def test_the_window_says_what_the_route_map_really_sets(sets, words):
    router = read("border-rtr1.cfg").replace(" set interface Null0", sets)
    meanwhile = pbr_window(planned(router))
    assert "policy-routed (%s here)" % words in meanwhile and "Null0 here" not in meanwhile.replace(
        "Tunnel1 or Null0 here", "")


def route_maps(text: str):
    return list(parse_ios(text + "end\n", "r.cfg").route_maps.values())


def test_routing_words_leave_out_deny_clauses_clauses_without_a_list_and_routing_protocol_sets():
    maps = route_maps("route-map a deny 5\n match ip address 1\n set interface Null0\n"
                      "route-map a permit 10\n match ip address 2\n set metric 10\n set ip next-hop 192.0.2.1\n"
                      "route-map a permit 20\n set interface Null0\n")
    assert remove_policy.routing_words(maps) == "to next hop 192.0.2.1"


def test_routing_words_name_the_route_map_when_there_are_several():
    maps = route_maps("route-map a permit 10\n match ip address 1\n set interface Null0\n"
                      "route-map b permit 10\n match ip address 2\n set ip dscp 3\n")
    assert remove_policy.routing_words(maps) == "route-map a: to Null0; route-map b: re-marked by `set ip dscp 3`"


def test_routing_words_for_a_clause_that_sets_nothing():
    maps = route_maps("route-map a permit 10\n match ip address 1\n")
    assert remove_policy.routing_words(maps).startswith("routed as the routing table says")


def test_a_route_map_left_applied_elsewhere_only_loses_its_clause_and_the_list_stays():
    result = planned(scenario="kept-refs")
    (change,) = result.changes
    assert any("access-list 106: still used by route-map le-next-hop" in kept for kept in change.kept)
    assert remove_policy.risks(result.changes, ()) == ["edge-rtr: %s" % lost for lost in change.protections_lost]


def test_a_removal_without_policy_routing_says_nothing_of_policy_routing():
    (window,) = planned(scenario="acl-out").windows
    assert "entry of access-list 105" in window.between and "policy-routed" not in window.meanwhile
    assert "IOS refuses to delete a policy-map" in window.meanwhile
