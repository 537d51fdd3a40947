# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""change_dscp on its own: the codepoint chosen, the staged move, the windows."""

from __future__ import annotations

import dataclasses

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import change_dscp
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import build_fleet
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options

from .scenarios import BY_NAME, build


def fleet_and_conflicts(scenario: str = "founding"):
    hosts, findings = build(BY_NAME[scenario])
    return build_fleet(findings, hosts, Options()), findings.conflicts


def test_the_lowest_free_pool_2_codepoint_is_chosen_and_a_taken_one_skipped():
    fleet, _conflicts = fleet_and_conflicts()
    assert change_dscp.choose_codepoint(fleet, 1, {1}, None).new == 3
    assert change_dscp.choose_codepoint(fleet, 1, {1, 3}, None).new == 7


def test_an_override_that_is_the_conflict_is_refused():
    fleet, _conflicts = fleet_and_conflicts()
    choice = change_dscp.choose_codepoint(fleet, 1, {1}, 1)
    assert choice.new is None and choice.override and "is the codepoint in conflict" in choice.refused


def test_a_codepoint_out_of_range_is_refused_first():
    fleet, _conflicts = fleet_and_conflicts()
    assert change_dscp.codepoint_problems(fleet, 64) == ["DSCP 64 is not a codepoint 1-63"]


def test_one_override_for_several_codepoints_is_refused_before_anything_is_planned():
    fleet, conflicts = fleet_and_conflicts()
    two = list(conflicts) + [dataclasses.replace(conflicts[0], dscp=2)]
    result = change_dscp.plan(fleet, two, Options(dscp=7))
    assert result.changes == () and result.codepoints == () and "one override cannot move them all" in result.refused


def test_the_plan_is_three_stages_with_two_windows_and_the_residual_risks():
    fleet, conflicts = fleet_and_conflicts()
    result = change_dscp.plan(fleet, conflicts, Options())
    (change,) = result.changes
    assert len(change.stages) == 3 and result.refused is None
    assert [w.between.split(" ")[1] for w in result.windows] == ["adding", "moving"]
    assert change_dscp.risks(result.changes, result.codepoints) == list(result.codepoints[0].residual)


def test_a_named_list_gets_the_new_entry_with_its_own_sequence_number():
    fleet, conflicts = fleet_and_conflicts("named-acl-seq")
    (change,) = change_dscp.plan(fleet, conflicts, Options()).changes
    first = change.stages[0].text.split("\n")
    assert any(line.strip().startswith("15 ") and "dscp 3" in line for line in first)
