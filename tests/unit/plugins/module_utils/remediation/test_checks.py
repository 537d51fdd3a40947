# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre- and post-checks of an IOS change, and hier_config's commands attached to it."""

from __future__ import annotations

import dataclasses

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import checks
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import POST, PRE, HostChange, Stage

RUNNING = ("hostname r1\n!\nip access-list extended EDGE\n 10 permit ip any any dscp 1\n 20 deny ip any any\n!\n"
           "access-list 106 permit ip any any dscp 1\nroute-map pbr.1 permit 10\n match ip address 106\nend")


def change_to(candidate: str) -> HostChange:
    return HostChange("r1", "ios", True, "r1.cfg", RUNNING, (Stage("why", candidate),))


@dataclasses.dataclass
class Staged:
    commands: tuple[str, ...]
    rollback: tuple[str, ...]
    blocks: tuple[tuple[str, ...], ...]
    sequences: dict


def test_only_the_sections_that_change_are_checked_before_and_after():
    change = change_to(RUNNING.replace("dscp 1\nroute-map", "dscp 3\nroute-map"))
    (pre, post) = checks.ios_checks(change)
    assert pre.command == post.command == "show running-config | include ^access-list 106 "
    assert (pre.phase, pre.expect) == (PRE, ("access-list 106 permit ip any any dscp 1",))
    assert (post.phase, post.expect) == (POST, ("access-list 106 permit ip any any dscp 3",))


def test_a_section_name_is_escaped_for_the_section_filter_and_a_removed_one_expects_nothing():
    change = change_to(RUNNING.replace("route-map pbr.1 permit 10\n match ip address 106\n", ""))
    (pre, post) = checks.ios_checks(change)
    assert pre.command == r"show running-config | section ^route-map pbr\.1 permit 10$"
    assert post.expect == ("(nothing)",)


def test_a_list_edited_by_sequence_number_is_shown_with_the_numbers_the_device_gave():
    change = change_to(RUNNING.replace(" 10 permit ip any any dscp 1\n", " 15 permit ip any any dscp 3\n"))
    staged = Staged(commands=("ip access-list extended EDGE", " 15 permit ip any any dscp 3", " no 10"),
                    rollback=("ip access-list extended EDGE", " no 15", " 10 permit ip any any dscp 1"),
                    blocks=(("ip access-list extended EDGE", " 15 permit ip any any dscp 3", " no 10"),),
                    sequences={"EDGE": {"permit ip any any dscp 1": 10, "deny ip any any": 20}})
    attached = checks.attach_commands(change, staged)
    assert attached.commands == staged.commands and attached.rollback == staged.rollback
    assert attached.command_blocks == staged.blocks
    (pre, post) = [c for c in attached.checks if c.command == "show access-lists EDGE"]
    assert pre.expect == ("10 permit ip any any dscp 1", "20 deny ip any any")
    assert post.expect == ("? permit ip any any dscp 3", "20 deny ip any any")  # the new number is the device's


def test_no_sequence_check_without_an_edited_list():
    change = change_to(RUNNING)
    assert checks.acl_sequence_checks(change, {}) == ()
