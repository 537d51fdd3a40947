# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Editing configuration text by the running text's line numbers, and the IOS line helpers."""

from __future__ import annotations

import doctest

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import text as edit
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import PlanError

CONFIG = "hostname r1\n!\npolicy-map in\n class a\n  set dscp 1\n class class-default\n!\ninterface Gi0/0\n!\nend"


def test_docstring_examples_run():
    assert doctest.testmod(edit).failed == 0


def test_a_block_is_a_section_with_its_children():
    text = edit.ConfigText(CONFIG)
    assert text.block(3) == [3, 4, 5, 6]
    assert text.block(4) == [4, 5]
    assert text.child_indent(3) == 1 and text.child_indent(4) == 2
    assert text.child_indent(8) == 1  # no child yet: one deeper


def test_deleting_a_top_level_section_keeps_one_of_its_two_separators():
    text = edit.ConfigText(CONFIG)
    assert text.delete_block(3) == [3, 4, 5, 6]
    assert text.render(0) == "hostname r1\n!\ninterface Gi0/0\n!\nend"


def test_edits_never_renumber_and_insertions_keep_their_order():
    text = edit.ConfigText(CONFIG)
    text.insert_before(8, ["policy-map new", "!"])
    text.insert_after(8, [" service-policy input new"])
    text.insert_after(8, [" description boundary"])
    text.replace(5, "  set dscp default")
    rendered = text.render(0).split("\n")
    assert rendered[2:12] == ["policy-map in", " class a", "  set dscp default", " class class-default", "!",
                              "policy-map new", "!", "interface Gi0/0", " service-policy input new",
                              " description boundary"]


def test_a_later_stage_does_not_show_in_an_earlier_one():
    text = edit.ConfigText(CONFIG)
    text.replace(5, "  set dscp 3", stage=1)
    text.delete([1], stage=2)
    assert text.render(0) == CONFIG
    assert "  set dscp 3" in text.render(1).split("\n") and text.render(1).startswith("hostname")
    assert not text.render(2).startswith("hostname")
    assert text.deleted(1) and not text.deleted(2)


def test_unified_diff_names_running_and_candidate_and_is_empty_when_nothing_changes():
    diff = edit.unified_diff("a\nb\n", "a\nc\n", "r1")
    assert diff.splitlines()[:2] == ["--- r1 (running)", "+++ r1 (candidate)"] and "-b" in diff and "+c" in diff
    assert edit.unified_diff("a\n", "a\n", "r1") == ""


@pytest.mark.parametrize("line,keyword,many,expected", [
    (" match ip dscp 1 46", "dscp", True, " match ip dscp 3 46"),
    (" match ip dscp 46 1", "dscp", False, " match ip dscp 46 1"),  # only the first value is this keyword's
    (" match dscp ipv4 1", "dscp", True, " match dscp ipv4 3"),
    ("  set ip dscp 1", "dscp", False, "  set ip dscp 3"),
    ("access-list 106 permit ip any any dscp 1 log", "dscp", False, "access-list 106 permit ip any any dscp 3 log"),
    (" match ip precedence 1", "dscp", True, " match ip precedence 1"),
])
def test_swap_values_replaces_only_the_codepoint_after_the_keyword(line, keyword, many, expected):
    assert edit.swap_values(line, keyword, 1, 3, many) == expected


def test_swap_values_reads_named_codepoints():
    assert edit.swap_values(" match ip dscp af11 ef", "dscp", 10, 11, many=True) == " match ip dscp 11 ef"


def acl(entries: str):
    config = parse_ios("ip access-list extended L\n%s\nend\n" % entries, "r.cfg")
    return config.acls["L"]


def test_renumber_entry_takes_a_free_number_between_the_entry_and_the_next():
    found = acl(" 10 permit ip any any dscp 1\n 20 deny ip any any")
    assert edit.renumber_entry(" 10 permit ip any any dscp 3", found, found.entries[0]) == \
        " 15 permit ip any any dscp 3"
    assert edit.renumber_entry(" 20 deny ip any any", found, found.entries[1]) == " 30 deny ip any any"


def test_renumber_entry_refuses_when_no_number_is_free():
    found = acl(" 10 permit ip any any dscp 1\n 11 deny ip any any")
    with pytest.raises(PlanError, match="resequence"):
        edit.renumber_entry(" 10 permit ip any any dscp 3", found, found.entries[0])


@pytest.mark.parametrize("config,block,expected", [
    ("", ["  set ip dscp 1"], "set ip dscp default"),
    ("", ["  set dscp 1"], "set dscp default"),
    (" set ip dscp 46\n", [], "set ip dscp default"),
    ("", [], "set dscp default"),
])
def test_the_clearing_line_is_spelled_as_the_router_spells_its_own(config, block, expected):
    assert edit.dscp_clear_syntax(config, block) == expected


def _apply(diff: str, before: str) -> list[str]:
    """A unified diff applied to the text it was made from (the test's own patch, no library)."""
    import re

    old = before.splitlines()
    out: list[str] = []
    position = 0
    for line in diff.splitlines()[2:]:
        hunk = re.match(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$", line)
        if hunk:
            start = int(hunk.group(1)) - (0 if hunk.group(2) == "0" else 1)
            out.extend(old[position:start])
            position = start
        elif line.startswith((" ", "-")):
            assert old[position] == line[1:], (position, line)
            if line.startswith(" "):
                out.append(line[1:])
            position += 1
        elif line.startswith("+"):
            out.append(line[1:])
    return out + old[position:]


def test_unified_diff_applied_to_the_running_text_gives_the_candidate():
    import random

    rng = random.Random(5)
    for _trial in range(3000):
        # Few distinct lines, so that the alignment has choices (`!`, `exit`, repeated entries).
        before = [rng.choice(("!", "exit", "a", "b", " permit ip any any")) for _line in range(rng.randint(0, 40))]
        after = list(before)
        for _edit in range(rng.randint(1, 4)):
            spot = rng.randint(0, len(after))
            if rng.random() < 0.5 or not after:
                after.insert(spot, rng.choice(("!", "X", "a")))
            else:
                del after[min(spot, len(after) - 1)]
        text, candidate = "".join(line + "\n" for line in before), "".join(line + "\n" for line in after)
        diff = edit.unified_diff(text, candidate, "r1")
        assert (diff == "") == (before == after)
        assert _apply(diff, text) == after, (before, after, diff)


def test_unified_diff_of_one_line_in_a_big_text_is_difflibs():
    import difflib

    before = ["access-list 110 permit tcp any host 10.0.%d.%d eq 25" % (i // 250, i % 250) for i in range(20000)]
    after = before[:12345] + ["access-list 106 deny   tcp any any gt 511 dscp 1"] + before[12345:]
    expected = "\n".join(difflib.unified_diff(before, after, "r1 (running)", "r1 (candidate)", lineterm="")) + "\n"
    assert edit.unified_diff("\n".join(before), "\n".join(after), "r1") == expected
