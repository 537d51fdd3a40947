# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure core of remediation: strategies, candidates, re-audit, codepoint choice."""

from __future__ import annotations

import functools

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core

from .scenarios import BY_NAME, FIREWALL, SCENARIOS, build, read

STRATEGY_IDS = list(core.STRATEGIES)


@functools.lru_cache(maxsize=None)
def planned(name: str, firewall_managed: bool = False, dscp: int | None = None) -> dict[str, core.Plan]:
    hosts, findings = build(BY_NAME[name], firewall_managed=firewall_managed)
    plans = core.plan_remediation(findings, hosts, core.Options(dscp=dscp))
    return {plan.strategy: plan for plan in plans}


def change_for(plan: core.Plan, host: str) -> core.HostChange:
    return next(change for change in plan.changes if change.host == host)


# ---------------------------------------------------------------------- every kind of conflict
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_has_conflicts_to_fix(scenario):
    _hosts, findings = build(scenario)
    assert findings.conflicts, scenario.kind
    assert not findings.errors


@pytest.mark.parametrize("strategy", STRATEGY_IDS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_candidate_reaudits_with_no_conflict_and_no_error(scenario, strategy):
    plan = planned(scenario.name)[strategy]
    assert plan.refused is None
    assert plan.recheck.clean, [c.treatment.lines for c in plan.recheck.conflicts] + list(plan.recheck.errors)
    assert plan.clean


@pytest.mark.parametrize("strategy", STRATEGY_IDS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_no_stage_adds_a_conflict_or_a_missing_reference(scenario, strategy):
    assert planned(scenario.name)[strategy].stage_problems == ()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_candidate_parses_and_keeps_the_untouched_lines(scenario):
    for plan in planned(scenario.name).values():
        for change in plan.changes:
            if change.platform != "ios":
                continue
            config = parse_ios(change.candidate, change.source)
            assert config.hostname == parse_ios(change.running, change.source).hostname
            untouched = [line for line in change.running.split("\n") if line.startswith(("hostname", "ip address"))]
            assert all(line in change.candidate.split("\n") for line in untouched)


# ---------------------------------------------------------------------- remove_policy
def test_remove_policy_takes_out_the_founding_recipe_and_says_what_protection_goes():
    change = change_for(planned("founding")["remove_policy"], "border-rtr1")
    config = parse_ios(change.candidate, "candidate")
    assert "null_policy_route" not in config.route_maps
    assert "106" not in config.acls
    assert "mark-inbound-http-hacks" not in config.policy_maps
    assert "http-hacks" not in config.class_maps
    uplink = config.interfaces["GigabitEthernet0/0"]
    assert uplink.pbr is None and uplink.policy_in is None
    # Everything else stays: the anti-spoofing list, the management list, the uplink's ACL.
    assert {"10", "110"} <= set(config.acls) and uplink.acl_in.name == "110"
    lost = " ".join(change.protections_lost)
    assert "Code-Red" in lost and "http-hacks" in lost and "Null0" in lost


def test_remove_policy_detaches_before_it_deletes():
    change = change_for(planned("founding")["remove_policy"], "border-rtr1")
    verbs = [(action.verb, action.what.split()[0]) for action in change.actions]
    first_route_map_removal = verbs.index(("remove", "route-map"))
    assert ("detach", "route-map") in verbs[:first_route_map_removal]


def test_remove_policy_keeps_what_is_still_used_elsewhere():
    change = change_for(planned("kept-refs")["remove_policy"], "edge-rtr")
    config = parse_ios(change.candidate, "candidate")
    assert "106" in config.acls  # route-map le-next-hop still matches it
    assert "http-hacks" in config.class_maps  # policy-map shape-http still names it
    assert "null_policy_route" not in config.route_maps
    assert any("access-list 106: still used by route-map le-next-hop" in kept for kept in change.kept)
    assert any("class-map http-hacks: still used by policy-map shape-http" in kept for kept in change.kept)


def test_remove_policy_removes_one_acl_entry_of_an_applied_list_and_keeps_the_list():
    change = change_for(planned("acl-out")["remove_policy"], "edge-rtr")
    config = parse_ios(change.candidate, "candidate")
    assert [entry.source.text for entry in config.acls["105"].entries] == ["access-list 105 permit ip any any"]
    assert config.interfaces["Ethernet0/1"].acl_out.name == "105"


@pytest.mark.parametrize("name,cls", [("class-drop", "scavenger"), ("police", "lower-effort"), ("remark", "le")])
def test_remove_policy_removes_the_class_that_acts_on_the_codepoint(name, cls):
    change = change_for(planned(name)["remove_policy"], "edge-rtr")
    config = parse_ios(change.candidate, "candidate")
    assert cls not in config.class_maps
    assert all(c.name != cls for pm in config.policy_maps.values() for c in pm.classes)


def test_remove_policy_keeps_the_other_classes_of_the_policy():
    change = change_for(planned("class-drop")["remove_policy"], "edge-rtr")
    config = parse_ios(change.candidate, "candidate")
    assert [c.name for c in config.policy_maps["uplink-in"].classes] == ["voice", "class-default"]
    assert config.interfaces["GigabitEthernet0/0"].policy_in.name == "uplink-in"


# ---------------------------------------------------------------------- change_dscp
def test_change_dscp_moves_the_founding_marker_to_dscp_3_and_says_why():
    plan = planned("founding")["change_dscp"]
    (codepoint,) = plan.codepoints
    assert (codepoint.old, codepoint.new, codepoint.refused) == (1, 3, None)
    reasons = " ".join(codepoint.reasons)
    assert "pool 2" in reasons and "RFC 1349" in reasons and "writes it" in reasons and "tests it" in reasons
    assert any("0x0c" in risk for risk in codepoint.residual)
    candidate = change_for(plan, "border-rtr1").candidate
    assert "  set ip dscp 3" in candidate.split("\n")
    assert "access-list 106 permit ip any any dscp 3" in candidate.split("\n")
    assert "dscp 1" not in candidate


def test_change_dscp_is_staged_new_matches_then_marking_then_old_matches():
    change = change_for(planned("founding")["change_dscp"], "border-rtr1")
    first, second, third = (stage.text.split("\n") for stage in change.stages)
    assert {"access-list 106 permit ip any any dscp 1", "access-list 106 permit ip any any dscp 3"} <= set(first)
    assert "  set ip dscp 1" in first
    assert "  set ip dscp 3" in second and "access-list 106 permit ip any any dscp 1" in second
    assert "access-list 106 permit ip any any dscp 1" not in third


def test_change_dscp_accepts_a_safe_override():
    plan = planned("founding", dscp=7)["change_dscp"]
    assert plan.codepoints[0].new == 7 and plan.codepoints[0].override
    assert plan.clean


@pytest.mark.parametrize("dscp,reason", [
    (4, "pool 1"),  # Minimize-Delay under precedence 0, and a standards pool
    (5, "pool 3"),
    (2, "RFC 1349"),
    (1, "conflict"),
    (46, "pool 1"),
])
def test_change_dscp_refuses_an_unsafe_override_with_the_reason(dscp, reason):
    plan = planned("founding", dscp=dscp)["change_dscp"]
    assert plan.refused and reason in plan.refused
    assert not any(change.changed for change in plan.changes) and not plan.clean


def test_change_dscp_refuses_a_codepoint_marked_elsewhere_in_the_fleet():
    router = read("border-rtr1.cfg").replace(
        "interface GigabitEthernet0/1\n", "interface GigabitEthernet0/1\n service-policy input voice-in\n").replace(
        "interface Loopback0\n", "policy-map voice-in\n class class-default\n  set dscp 3\n!\ninterface Loopback0\n")
    hosts, findings = build(BY_NAME["founding"], router_text=router)
    plans = {p.strategy: p for p in core.plan_remediation(findings, hosts, core.Options(dscp=3))}
    assert "marked in the audited fleet" in plans["change_dscp"].refused
    automatic = {p.strategy: p for p in core.plan_remediation(findings, hosts, core.Options())}["change_dscp"]
    assert automatic.codepoints[0].new == 7 and automatic.clean


def test_codepoint_problems_reads_the_firewall_rules_too():
    hosts, findings = build(BY_NAME["founding"])
    fleet = core.build_fleet(findings, hosts, core.Options())
    assert core.codepoint_problems(fleet, 3) == []
    assert any("partner-fw line 35" in problem for problem in core.codepoint_problems(fleet, 1))
    dump = read("partner-fw.rules").replace(
        "COMMIT\n", "-A FORWARD -m dscp --dscp 0x03 -j ACCEPT\nCOMMIT\n", 1)
    hosts[FIREWALL] = core.HostText(FIREWALL, "iptables", dump, "partner-fw.rules", False)
    fleet = core.build_fleet(findings, hosts, core.Options())
    assert any("already matched" in problem and "--dscp 0x03" in problem
               for problem in core.codepoint_problems(fleet, 3))


def test_change_dscp_without_an_internal_marker_says_what_the_move_means():
    change = change_for(planned("class-drop")["change_dscp"], "edge-rtr")
    assert any("marks DSCP 1 nowhere itself" in note for note in change.notes)
    assert "match ip dscp 3" in change.candidate


# ---------------------------------------------------------------------- remark_boundary
def test_remark_boundary_merges_into_the_attached_policy_in_the_routers_syntax():
    change = change_for(planned("founding")["remark_boundary"], "border-rtr1")
    config = parse_ios(change.candidate, "candidate")
    policy = config.policy_maps["mark-inbound-http-hacks"]
    assert [c.name for c in policy.classes] == ["http-hacks", "class-default"]
    assert " class class-default\n  set ip dscp default" in change.candidate
    assert any("protection stays" in kept for kept in change.kept)


def test_remark_boundary_uses_set_dscp_where_the_router_writes_it_so():
    change = change_for(planned("police")["remark_boundary"], "edge-rtr")
    assert "  set dscp default" in change.candidate.split("\n")


def test_remark_boundary_creates_a_policy_only_where_none_is_attached():
    change = change_for(planned("pbr-only")["remark_boundary"], "edge-rtr")
    config = parse_ios(change.candidate, "candidate")
    assert config.interfaces["GigabitEthernet0/0"].policy_in.name == "diffserv-boundary-in"
    assert [c.name for c in config.policy_maps["diffserv-boundary-in"].classes] == ["class-default"]


def test_remark_boundary_copies_a_shared_policy_instead_of_changing_it_everywhere():
    change = change_for(planned("shared-policy")["remark_boundary"], "edge-rtr")
    config = parse_ios(change.candidate, "candidate")
    assert config.interfaces["GigabitEthernet0/1"].policy_in.name == "mark-inbound-http-hacks"
    copy = config.interfaces["GigabitEthernet0/0"].policy_in.name
    assert copy != "mark-inbound-http-hacks"
    assert [c.name for c in config.policy_maps["mark-inbound-http-hacks"].classes[:-1]] == ["http-hacks"]
    assert not config.policy_maps["mark-inbound-http-hacks"].classes[-1].actions
    assert [c.name for c in config.policy_maps[copy].classes] == ["http-hacks", "class-default"]


def test_remark_boundary_cannot_clear_before_an_input_acl_and_says_so():
    plan = planned("acl-in")["remark_boundary"]
    change = change_for(plan, "edge-rtr")
    assert any("before any input policy can clear it" in note for note in change.notes)
    # Our router alone does not fix it; the partner's rule (a request) would.
    assert not plan.recheck_managed.clean and plan.recheck.clean


def test_remark_boundary_writes_the_partner_firewall_part_as_a_request():
    plan = planned("founding")["remark_boundary"]
    firewall = change_for(plan, FIREWALL)
    assert not firewall.managed and firewall.changed and not firewall.apply
    assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in firewall.candidate.split("\n")
    assert firewall.commands == ("iptables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0",)


def test_remark_boundary_on_a_managed_firewall_is_a_change_we_apply():
    plan = planned("founding", firewall_managed=True)["remark_boundary"]
    firewall = change_for(plan, FIREWALL)
    assert firewall.apply
    assert firewall.rollback == ("iptables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0",)
    assert plan.recheck_managed.clean


def test_without_links_every_strategy_still_reaudits_clean_and_the_firewall_rule_takes_no_egress():
    hosts, findings = build(BY_NAME["founding"], assumed=True)
    assert findings.summary["paths_assumed"]
    plans = {p.strategy: p for p in core.plan_remediation(findings, hosts)}
    assert all(plan.clean for plan in plans.values())
    firewall = change_for(plans["remark_boundary"], FIREWALL)
    assert "-A POSTROUTING -j DSCP --set-dscp 0x00" in firewall.candidate.split("\n")
    assert any("diffserv_links" in note for note in firewall.notes)


# ---------------------------------------------------------------------- the text editor and the checks
def test_text_edits_refer_to_running_lines_and_apply_per_stage():
    text = core._Text("a\n!\nsection\n child\n!\nb")
    text.insert_after(1, ["new"], stage=0)
    text.delete_block(3, stage=1)
    text.replace(6, "B", stage=2)
    assert text.render(0) == "a\nnew\n!\nsection\n child\n!\nb"
    assert text.render(1) == "a\nnew\n!\nb"
    assert text.render(2) == "a\nnew\n!\nB"


def test_dangling_references_finds_a_route_map_matching_a_missing_list():
    config = parse_ios("interface Gi0/0\n ip policy route-map nul\nroute-map nul permit 10\n match ip address 106\n"
                       " set interface Null0\nend\n", "r.cfg")
    (problem,) = core.dangling_references(config)
    assert "matches every packet" in problem


def test_ios_checks_show_the_sections_before_and_after():
    change = change_for(planned("founding")["remark_boundary"], "border-rtr1")
    (pre, post) = [c for c in change.checks if "policy-map" in c.command]
    assert pre.phase == core.PRE and pre.expect[-1] == "  set ip dscp 1"
    assert post.phase == core.POST and post.expect[-1] == "  set ip dscp default"
    assert pre.command == "show running-config | section ^policy-map mark-inbound-http-hacks$"


def test_no_conflict_means_no_change():
    router = read("border-rtr1.cfg").replace("access-list 106 permit ip any any dscp 1\n",
                                             "access-list 106 permit ip any any dscp 3\n")
    hosts, findings = build(BY_NAME["founding"], router_text=router)
    assert findings.conflicts == ()
    for plan in core.plan_remediation(findings, hosts):
        assert all(not change.changed for change in plan.changes)


def test_a_strategy_that_cannot_be_planned_is_reported_and_the_others_still_are():
    router = read("named-acl-seq.cfg").replace(" 20 deny ip any any", " 11 deny ip any any")
    hosts, findings = build(BY_NAME["named-acl-seq"], router_text=router)
    plans = {p.strategy: p for p in core.plan_remediation(findings, hosts)}
    assert "no free sequence number after 10" in plans["change_dscp"].refused
    assert plans["remove_policy"].clean and plans["remark_boundary"].clean
    with pytest.raises(core.PlanError, match="unknown strategy"):
        core.plan_remediation(findings, hosts, core.Options(strategies=("reboot",)))
