# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value objects: what a change is, and when a plan counts as clean."""

from __future__ import annotations

import dataclasses
import doctest

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import model

RUNNING = "hostname r1\nend"


def change(stages=(), managed=True) -> model.HostChange:
    return model.HostChange("r1", "ios", managed, "r1.cfg", RUNNING, tuple(stages))


def test_docstring_examples_run():
    assert doctest.testmod(model).failed == 0


def test_a_change_without_stages_is_the_running_text_and_changes_nothing():
    unchanged = change()
    assert (unchanged.candidate, unchanged.changed, unchanged.apply) == (RUNNING, False, False)


def test_the_candidate_is_the_last_stage():
    staged = change([model.Stage("first", "a"), model.Stage("last", "b")])
    assert staged.candidate == "b" and staged.changed


def test_a_change_to_a_host_we_do_not_manage_is_never_applied():
    request = change([model.Stage("why", "hostname r2\nend")], managed=False)
    assert request.changed and not request.apply


def test_value_objects_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        change().host = "r2"  # type: ignore[misc]


@pytest.mark.parametrize("refused,clean_recheck,problems,clean", [
    (None, True, (), True),
    ("no pool-2 codepoint", True, (), False),
    (None, False, (), False),
    (None, True, ("after stage 1: new conflict",), False),
])
def test_a_plan_is_clean_only_when_planned_reaudited_clean_and_no_stage_is_worse(refused, clean_recheck, problems,
                                                                                 clean):
    recheck = model.Recheck("all", clean_recheck, (), ())
    plan = model.Plan("remove_policy", "title", (), "fixes", refused=refused, recheck=recheck, stage_problems=problems)
    assert plan.clean is clean


def test_a_plan_never_rechecked_is_not_clean():
    assert not model.Plan("remove_policy", "title", (), "fixes").clean


def test_planned_defaults_to_no_window_no_codepoint_not_refused():
    planned = model.Planned((change(),))
    assert (planned.windows, planned.codepoints, planned.refused) == ((), (), None)
