# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remark_boundary on its own: routers and firewalls, windows and risks."""

from __future__ import annotations

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import remark_boundary
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import build_fleet
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options

from .scenarios import BY_NAME, FIREWALL, build


def planned(scenario: str = "founding", **kwargs):
    hosts, findings = build(BY_NAME[scenario], **kwargs)
    return remark_boundary.plan(build_fleet(findings, hosts, Options()), findings.conflicts, Options())


def by_host(result):
    return {change.host: change for change in result.changes}


def test_the_router_and_the_marking_firewall_both_get_a_change():
    changes = by_host(planned())
    assert set(changes) == {"border-rtr1", FIREWALL}
    firewall = changes[FIREWALL]
    assert [check.phase for check in firewall.checks] == ["pre", "post", "post"]
    assert any("leave with DSCP 0" in note for note in firewall.notes)


def test_the_firewall_action_names_the_lines_it_follows_as_ranges():
    firewall = by_host(planned())[FIREWALL]
    (add,) = [a for a in firewall.actions if a.verb == "add"]
    assert "(lines 9-35)" in add.why or "lines 9-" in add.why


def test_windows_one_line_merged_a_new_policy_and_a_firewall_rule():
    merged = {w.between: w for w in planned().windows}
    assert set(merged) == {"border-rtr1, one line in class-default", "%s, one command" % FIREWALL}
    (new_policy,) = [w for w in planned("pbr-only").windows if w.between.startswith("edge-rtr")]
    assert "creating the policy and attaching it" in new_policy.between


def test_a_shared_policy_is_copied_and_the_switch_is_a_window():
    (window,) = [w for w in planned("shared-policy").windows if w.between.startswith("edge-rtr")]
    assert "no service-policy input" in window.between


def test_risks_say_partner_markings_are_cleared_and_a_request_depends_on_its_owner():
    result = planned()
    risks = remark_boundary.risks(result.changes, ())
    assert risks[0].startswith("border-rtr1: every packet entering there")
    assert any(risk.startswith("%s is not ours" % FIREWALL) for risk in risks)
    managed = planned(firewall_managed=True)
    assert not any("is not ours" in risk for risk in remark_boundary.risks(managed.changes, ()))


def test_ranges_join_consecutive_lines():
    assert remark_boundary._ranges([23, 9, 10, 11]) == "9-11, 23"
    assert remark_boundary._ranges([]) == "none"
