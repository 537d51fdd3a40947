# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strategy registry: one small interface, one line a strategy."""

from __future__ import annotations

import doctest

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import strategies
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    HostChange, Planned, PlanError, Stage, Strategy,
)

from .scenarios import BY_NAME, build


def test_docstring_examples_run():
    assert doctest.testmod(strategies).failed == 0


def test_the_registry_holds_the_four_strategies_in_the_order_plans_are_shown():
    assert strategies.STRATEGIES == core.STRATEGIES == ("remove_policy", "change_dscp", "remark_boundary",
                                                        "exempt_flows")
    for name, strategy in strategies.REGISTRY.items():
        assert strategy.name == name and strategy.title == strategies.TITLES[name]
        assert callable(strategy.plan) and callable(strategy.risks) and strategy.does


def test_an_unknown_name_is_refused_with_the_known_ones():
    with pytest.raises(PlanError, match="unknown strategy 'reboot' \\(one of remove_policy, change_dscp"):
        strategies.strategy("reboot")


def test_a_strategy_added_to_the_registry_is_planned_rechecked_and_finished_like_the_others(monkeypatch):
    def plan(fleet, conflicts, options):
        router = fleet.routers["border-rtr1"]
        fixed = router.host.text.replace("access-list 106 permit ip any any dscp 1\n",
                                         "access-list 106 permit ip any any dscp 3\n")
        return Planned((HostChange("border-rtr1", "ios", True, router.host.source, router.host.text,
                                   (Stage("match another codepoint", fixed),), notes=("cannot be undone",)),))

    extra = Strategy("rematch", "Match another codepoint", "matches another codepoint", plan,
                     lambda changes, codepoints: ["a reviewer should know"])
    monkeypatch.setitem(strategies.REGISTRY, "rematch", extra)
    hosts, findings = build(BY_NAME["founding"])
    (planned,) = core.plan_remediation(findings, hosts, strategies.Options(strategies=("rematch",)))
    assert planned.title == "Match another codepoint" and planned.clean
    assert planned.fixes.startswith("matches another codepoint: ")
    assert planned.risks == ("a reviewer should know", "border-rtr1: cannot be undone")
    router = next(change for change in planned.changes if change.host == "border-rtr1")
    assert router.checks  # finished: IOS checks added
    assert {change.host for change in planned.changes} == {"border-rtr1", "partner-fw"}
