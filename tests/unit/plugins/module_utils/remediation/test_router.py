# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One router indexed by line: who uses what, what still tests a codepoint, once removals are counted."""

from __future__ import annotations

from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import router
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import HostText
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Router
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import ConfigText

from .scenarios import read


def model_of(name: str) -> router.RouterModel:
    text = read(name)
    return router.RouterModel(Router(HostText("r", "ios", text, name), parse_ios(text, name)), ConfigText(text))


def test_attachments_name_the_interface_direction_and_line():
    model = model_of("border-rtr1.cfg")
    assert [(i, d, t) for i, d, _line, t in model.attachments("route-map", "null_policy_route")] == [
        ("GigabitEthernet0/0", "in", "ip policy route-map null_policy_route")]
    assert [(i, d) for i, d, _l, _t in model.attachments("policy-map", "mark-inbound-http-hacks")] == [
        ("GigabitEthernet0/0", "in")]


def test_users_of_an_access_list_are_the_route_maps_matching_it_until_they_are_removed():
    model = model_of("kept-refs.cfg")
    users = model.users("acl", "106")
    assert any(u.startswith("route-map le-next-hop 10") for u in users)
    assert any(u.startswith("route-map null_policy_route 10") for u in users)
    model.removed.add(("clause", "null_policy_route", 10))
    assert not any(u.startswith("route-map null_policy_route") for u in model.users("acl", "106"))


def test_a_removed_attachment_line_is_no_longer_an_attachment():
    model = model_of("border-rtr1.cfg")
    ((_iface, _direction, line, _text),) = model.attachments("route-map", "null_policy_route")
    model.removed.add(("line", line))
    assert model.attachments("route-map", "null_policy_route") == []


def test_tests_finds_the_lines_an_applied_place_still_reaches_for_a_codepoint():
    model = model_of("border-rtr1.cfg")
    assert [text for _line, text in model.tests(1)] == ["access-list 106 permit ip any any dscp 1"]
    assert model.tests(3) == []
    model.removed.add(("route-map", "null_policy_route"))
    assert model.tests(1) == []  # the only route-map matching list 106 goes: nothing reaches it


def test_live_follows_interfaces_to_policies_class_maps_and_lists():
    acls, class_maps = model_of("border-rtr1.cfg").live()
    assert {("acl", "106"), ("acl", "110")} <= acls and "http-hacks" in class_maps
    # IPv6 lists are their own namespace: nothing on this router reaches one.
    assert not any(kind == "acl6" for kind, _name in acls)


def test_markers_are_the_classes_writing_exactly_that_codepoint():
    model = model_of("border-rtr1.cfg")
    ((policy, cls, line),) = router.markers(model, 1)
    assert (policy.name, cls.name, model.text.line(line)) == ("mark-inbound-http-hacks", "http-hacks", "  set ip dscp 1")
    assert router.markers(model, 3) == []


def test_words_for_people():
    config = parse_ios(read("border-rtr1.cfg"), "r.cfg")
    http = config.class_maps["http-hacks"]
    assert "Code-Red" in router.filter_words(http)
    assert router.criteria_words(http).startswith('protocol http url "*default.ida*"; ')
    assert router.criteria_words(None) == "no such class-map"
    cls = config.policy_maps["mark-inbound-http-hacks"].classes[0]
    assert router.class_action_words(cls) == "re-marks (set ip dscp 1)"
