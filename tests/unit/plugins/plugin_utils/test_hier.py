# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hier_config through our IOS driver: safe order, numbered ACLs by sequence number, exact rollback.

Every plan's commands are typed, one by one, into the lab's IOS configuration model: no command
may be refused, none may leave an applied place naming a missing object, each stage must end in
the plan's intended configuration, and the rollback must give back the running configuration
line for line.  Stock hier_config is run on the same inputs to document the hazards the driver
fixes.
"""

from __future__ import annotations

import doctest
import functools

import pytest
from hier_config import Platform, WorkflowRemediation, get_hconfig
from lab.iosconfig import IOSConfig

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.plugin_utils import hier

from ..module_utils.remediation.scenarios import BY_NAME, SCENARIOS, build, read
from .simulate import dangling, run, separators_collapsed, top_level_blocks, without_separators


@functools.lru_cache(maxsize=None)
def planned(name: str) -> dict[str, core.Plan]:
    hosts, findings = build(BY_NAME[name])
    return {plan.strategy: plan for plan in core.plan_remediation(findings, hosts, core.Options(),
                                                                  hier.staged_commands)}


def _ios_changes():
    for scenario in SCENARIOS:
        for strategy in core.STRATEGIES:
            yield pytest.param(scenario.name, strategy, id="%s-%s" % (scenario.name, strategy))


IOS_CHANGES = list(_ios_changes())


def change_of(name: str, strategy: str) -> core.HostChange:
    plan = planned(name)[strategy]
    return next(change for change in plan.changes if change.platform == "ios")


def stock_commands(running: str, intended: str) -> list[str]:
    """What unpatched hier_config 3.x plans, as lines to type (with its own section exits)."""
    workflow = WorkflowRemediation(get_hconfig(Platform.CISCO_IOS, running), get_hconfig(Platform.CISCO_IOS, intended))
    return [line for line in workflow.remediation_config.lines(sectional_exiting=True) if line.strip()]


# ---------------------------------------------------------------------- the driver
def test_docstring_examples_run():
    assert doctest.testmod(hier).failed == 0


def test_numbered_access_lists_become_sections_with_sequence_numbers_and_keep_remarks():
    config = hier.load(read("border-rtr1.cfg"), hier.DiffservIosDriver())
    section = config.get_child(equals="ip access-list standard 10")
    assert [child.text for child in section.children] == [
        "remark management hosts", "10 permit 192.0.2.10", "20 permit 192.0.2.11"]
    assert config.get_child(startswith="access-list ") is None
    # Each section takes the place of its list's first line.
    texts = [child.text for child in config.children]
    assert texts.index("ip access-list standard 10") < texts.index("ip access-list extended 106") \
        < texts.index("ip access-list extended 110") < texts.index("route-map null_policy_route permit 10")


def test_one_entry_leaves_a_numbered_list_by_its_sequence_number():
    running = "access-list 106 permit ip any any dscp 1\naccess-list 106 deny ip any any\nend\n"
    intended = "access-list 106 deny ip any any\nend\n"
    assert hier.remediation_commands(running, intended) == ("ip access-list extended 106", " no 10", " exit")
    assert hier.rollback_commands(running, intended) == (
        "ip access-list extended 106", " 10 permit ip any any dscp 1", " exit")


def test_a_new_entry_gets_a_free_number_between_its_neighbours_and_keeps_it_in_every_stage():
    running = "access-list 106 permit ip any any dscp 1\naccess-list 106 deny ip any any\nend\n"
    both = "access-list 106 permit ip any any dscp 1\naccess-list 106 permit ip any any dscp 3\n" \
           "access-list 106 deny ip any any\nend\n"
    final = "access-list 106 permit ip any any dscp 3\naccess-list 106 deny ip any any\nend\n"
    staged = hier.staged_commands(running, [both, final])
    assert staged.blocks == (("ip access-list extended 106", " 15 permit ip any any dscp 3", " exit"),
                             ("ip access-list extended 106", " no 10", " exit"))
    assert staged.sequences["106"] == {"permit ip any any dscp 1": 10, "permit ip any any dscp 3": 15,
                                       "deny ip any any": 20}


def _full_load_commands(running, stages):
    """staged_commands as it was before it cut the texts to their changed blocks: every text loaded whole."""
    driver = hier.DiffservIosDriver()
    configs = [hier.load(text, driver) for text in [running] + list(stages)]
    deltas = [hier.command_lines(hier._delta(a, b)) for a, b in zip(configs, configs[1:])]
    backwards = configs[::-1]
    undo = [hier.command_lines(hier._delta(a, b)) for a, b in zip(backwards, backwards[1:])]
    return tuple(deltas), tuple(undo), {name: dict(e) for name, e in driver.sequences.items() if e}


@pytest.mark.parametrize("scenario,strategy", list(_ios_changes()))
def test_loading_only_the_changed_blocks_gives_the_commands_and_numbers_of_whole_loads(scenario, strategy):
    change = change_of(scenario, strategy)
    if not change.changed:
        pytest.skip("%s plans no router change in %s" % (strategy, scenario))
    stages = [stage.text for stage in change.stages]
    staged = hier.staged_commands(change.running, stages)
    blocks, rollback_blocks, sequences = _full_load_commands(change.running, stages)
    assert staged.blocks == blocks
    assert staged.rollback_blocks == rollback_blocks
    for name, numbers in staged.sequences.items():
        assert sequences[name] == numbers


def test_a_list_in_both_forms_and_a_changed_interface_keep_their_whole_blocks():
    running = ("hostname r1\ninterface Gi0/0\n ip address 192.0.2.1 255.255.255.0\n ip access-group 106 in\n!\n"
               "access-list 106 permit ip any any dscp 1\nip access-list extended 106\n deny ip any any\n"
               "access-list 7 permit any\nend\n")
    intended = running.replace(" ip access-group 106 in\n", "").replace("dscp 1", "dscp 3")
    cut = hier.changed_blocks([running, intended])
    assert "hostname" not in cut[0] and "access-list 7" not in cut[0]
    assert "ip address 192.0.2.1" in cut[0] and "ip address 192.0.2.1" in cut[1]
    assert " deny ip any any" in cut[1]  # the section form of 106 travels with its numbered lines
    assert hier.staged_commands(running, [intended]).blocks == _full_load_commands(running, [intended])[0]


def test_a_banner_body_at_column_0_is_part_of_its_banner_block():
    running = "banner motd ^C\nold words\n^C\ninterface Gi0/0\n shutdown\nend\n"
    intended = running.replace("old words", "new words")
    assert hier.changed_blocks([running, intended]) == ["banner motd ^C\nold words\n^C\n",
                                                        "banner motd ^C\nnew words\n^C\n"]
    unchanged = running.replace(" shutdown", " no shutdown")
    assert hier.changed_blocks([running, unchanged]) == ["interface Gi0/0\n shutdown\n",
                                                         "interface Gi0/0\n no shutdown\n"]


def test_no_room_between_two_entries_is_an_error_that_says_what_to_do():
    running = "ip access-list extended X\n 10 permit tcp any any\n 11 deny ip any any\nend\n"
    intended = "ip access-list extended X\n 10 permit tcp any any\n permit udp any any\n 11 deny ip any any\nend\n"
    with pytest.raises(DiffservError, match="resequence"):
        hier.staged_commands(running, [intended])


def test_set_dscp_is_replaced_in_one_command():
    running = "policy-map P\n class C\n  set ip dscp 1\nend\n"
    intended = "policy-map P\n class C\n  set ip dscp 3\nend\n"
    assert hier.remediation_commands(running, intended) == (
        "policy-map P", " class C", "  set ip dscp 3", "  exit", " exit")


def test_interfaces_let_go_before_definitions_are_deleted():
    change = change_of("founding", "remove_policy")
    commands = list(change.commands)
    detach = commands.index(" no ip policy route-map null_policy_route")
    assert detach < commands.index("no route-map null_policy_route permit 10")
    assert commands.index(" no service-policy input mark-inbound-http-hacks") < commands.index(
        "no policy-map mark-inbound-http-hacks")
    assert commands.index("no policy-map mark-inbound-http-hacks") < commands.index("no class-map match-any http-hacks")
    assert commands.index("no route-map null_policy_route permit 10") < commands.index("no ip access-list extended 106")


def test_rollback_creates_definitions_before_attaching_them():
    rollback = list(change_of("founding", "remove_policy").rollback)
    assert rollback.index("ip access-list extended 106") < rollback.index("route-map null_policy_route permit 10") \
        < rollback.index(" ip policy route-map null_policy_route")
    assert rollback.index("class-map match-any http-hacks") < rollback.index("policy-map mark-inbound-http-hacks") \
        < rollback.index(" service-policy input mark-inbound-http-hacks")


def test_numbered_acl_entries_are_edited_inside_the_list_never_with_no_access_list():
    for scenario in SCENARIOS:
        for plan in planned(scenario.name).values():
            for change in plan.changes:
                assert not any(line.startswith("no access-list") for line in change.commands + change.rollback)


# ---------------------------------------------------------------------- stock hier_config: the hazards
def test_stock_hier_config_deletes_the_list_before_the_interface_lets_go_of_the_route_map():
    """Regression: shared/reference/landscape.md section 2, measured with hier_config 3.7.1."""
    change = change_of("founding", "remove_policy")
    commands = stock_commands(change.running, change.candidate)
    assert commands[:2] == ["no class-map match-any http-hacks", "no policy-map mark-inbound-http-hacks"]
    assert commands.index("no access-list 106 permit ip any any dscp 1") < commands.index(
        "  no ip policy route-map null_policy_route")
    steps = run(IOSConfig(change.running), commands)
    # IOS refuses to delete the class-map and policy-map still attached ...
    assert [s.command for s in steps if s.status == "refused"] == ["no policy-map mark-inbound-http-hacks"]
    # ... and after `no access-list 106` the attached route-map matches every packet: all to Null0.
    at = next(s for s in steps if s.command.startswith("no access-list 106"))
    assert any("access-list 106 is not defined: route-map null_policy_route 10 matches every packet" in problem
               for problem in at.dangling)


def test_stock_hier_config_moves_a_numbered_list_by_deleting_it():
    change = change_of("founding", "change_dscp")
    commands = stock_commands(change.running, change.candidate)
    assert commands[0] == "no access-list 106 permit ip any any dscp 1"
    steps = run(IOSConfig(change.running), commands)
    assert any("matches every packet" in problem for problem in steps[0].dangling)


def test_stock_hier_config_loses_the_other_entries_of_a_numbered_list():
    change = change_of("pbr-only", "change_dscp")
    config = IOSConfig(change.running)
    run(config, stock_commands(change.running, change.candidate))
    assert "access-list 106 deny   ip any any" not in config.lines()
    assert without_separators(config.lines()) != without_separators(IOSConfig(change.candidate).lines())


# ---------------------------------------------------------------------- every plan, typed into the model
@pytest.mark.parametrize("name,strategy", IOS_CHANGES)
def test_commands_are_accepted_one_by_one_and_never_leave_a_reference_dangling(name, strategy):
    change = change_of(name, strategy)
    config = IOSConfig(change.running)
    before = set(dangling(config))
    for step in run(config, change.commands):
        assert step.status == "ok", (step.command, step.output)
        assert set(step.dangling) <= before, (step.command, step.dangling)


@pytest.mark.parametrize("name,strategy", IOS_CHANGES)
def test_each_stage_ends_in_the_planned_configuration(name, strategy):
    change = change_of(name, strategy)
    config = IOSConfig(change.running)
    assert len(change.command_blocks) == len(change.stages)
    for block, stage in zip(change.command_blocks, change.stages):
        run(config, block, check_references=False)
        assert without_separators(config.lines()) == without_separators(IOSConfig(stage.text).lines()), stage.purpose


@pytest.mark.parametrize("name,strategy", IOS_CHANGES)
def test_commands_then_rollback_give_back_the_running_configuration_exactly(name, strategy):
    change = change_of(name, strategy)
    config = IOSConfig(change.running)
    run(config, change.commands, check_references=False)
    after_change = list(config.lines())
    before = set(dangling(config))
    for step in run(config, change.rollback):
        assert step.status == "ok", (step.command, step.output)
        assert set(step.dangling) <= before, (step.command, step.dangling)
    original = IOSConfig(change.running).lines()
    assert after_change != config.lines()
    if strategy == "remove_policy":
        # A definition deleted and re-created is listed after its siblings of the same kind (IOS
        # prints class-maps and policy-maps in creation order): every section comes back line for
        # line, and only the order among independent definitions may differ.
        assert sorted(top_level_blocks(config.lines())) == sorted(top_level_blocks(original))
    else:
        assert separators_collapsed(config.lines()) == separators_collapsed(original)


def test_without_hier_config_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(hier, "HAS_HIER_CONFIG", False)
    monkeypatch.setattr(hier, "HIER_CONFIG_IMPORT_ERROR", ImportError("No module named 'hier_config'"))
    with pytest.raises(DiffservError, match="pip install 'hier-config"):
        hier.staged_commands("end\n", ["end\n"])
