# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre- and post-checks of an IOS change, and the commands hier_config computed attached to it.

`ios_checks` compares the running text and the candidate section by section: for every
top-level section (or numbered access list) that changes, a `show running-config | section`
(or `| include`) with the exact lines it must print before and after.  `acl_sequence_checks`
adds `show access-lists N` for every list the commands edit by sequence number, since those
numbers come from the device and not from the running-config.  The firewall's checks are
planned with its change (remark_boundary.py): they read iptables-save.

Standard library only; no `import ansible`, no hier_config (`StagedCommandsLike` is the shape of
what plugins/plugin_utils/hier.py returns).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import IosConfig
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import POST, PRE, Check, HostChange
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import entry_body


# Compiled once: hier_config's per-line patterns overflow `re`'s caches of compiled patterns and templates, so
# a pattern written inline is compiled again on every call (up to half a millisecond each).
_NUMBERED_LINE = re.compile(r"access-list (\d+) ")
_SPECIAL = re.compile(r"([.*+?^$()\[\]{}|\\])")
_ACL_SECTION = re.compile(r"ip access-list (?:standard|extended) (\S+)$")
_ACL6_SECTION = re.compile(r"ipv6 access-list (\S+)$")
_BY_NUMBER = re.compile(r"\s+(no )?\d+")
_BY_SEQUENCE = re.compile(r"\ssequence \d+$")


def _top_blocks(text: str) -> dict[str, list[str]]:
    """Top-level sections and numbered ACLs of a configuration, keyed by what `show run | section` finds."""
    blocks: dict[str, list[str]] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        raw = lines[index]
        if not raw.strip() or raw.startswith(("!", " ")):
            index += 1
            continue
        match = _NUMBERED_LINE.match(raw)
        if match:
            blocks.setdefault("access-list %s" % match.group(1), []).append(raw)
            index += 1
            continue
        block = [raw]
        index += 1
        while index < len(lines) and lines[index].startswith((" ", "\t")):
            block.append(lines[index])
            index += 1
        blocks.setdefault(raw, []).extend(block)
    return blocks


def ios_checks(change: HostChange) -> tuple[Check, ...]:
    """Show commands before and after, each with the exact lines it must print."""
    before, after = _top_blocks(change.running), _top_blocks(change.candidate)
    checks: list[Check] = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key, []), after.get(key, [])
        if old == new:
            continue
        if key.startswith("access-list "):
            command = "show running-config | include ^%s " % key
        else:
            # A function, not a template: `re` parses a template per call once hier_config's patterns have
            # pushed it out of its cache.
            command = "show running-config | section ^%s$" % _SPECIAL.sub(lambda found: "\\" + found.group(1), key)
        checks.append(Check(PRE, command, tuple(old) or ("(nothing)",),
                            "the configuration is as audited: the commands were computed from it"))
        checks.append(Check(POST, command, tuple(new) or ("(nothing)",), "the change is in place"))
    return tuple(checks)


def acl_sequence_checks(change: HostChange, sequences: t.Mapping[str, t.Mapping[str, int]],
                        parse: t.Callable[[str, str], IosConfig] | None = None) -> tuple[Check, ...]:
    """`show access-lists N` for every list edited by sequence number: the numbers must be as assumed.

    `parse(text, source)` reads a configuration (the planner's fleet.config, which has read running
    and every stage already); without it the texts are parsed here."""
    edited: list[tuple[int, str]] = []
    current: tuple[int, str] | None = None
    for line in change.commands:
        match = _ACL_SECTION.match(line)
        match6 = _ACL6_SECTION.match(line)
        if match or match6:
            current = (4, match.group(1)) if match else (6, t.cast(t.Match[str], match6).group(1))
            continue
        # IPv4: `10 permit ...`, `no 10`; IPv6: `permit ... sequence 10`, `no permit ... sequence 10`.
        by_number = _BY_NUMBER.match(line) if current and current[0] == 4 else _BY_SEQUENCE.search(line)
        if current and by_number and current not in edited:
            edited.append(current)
        if not line.startswith((" ", "\t")):
            current = None
    checks = []
    for family, name in edited:
        known = sequences.get(("ipv6 " if family == 6 else "") + name, {})

        def listing(text: str) -> tuple[str, ...]:
            config = parse(text, change.source) if parse is not None else parse_ios(text, change.source, require_end=False)
            acl = (config.acls6 if family == 6 else config.acls).get(name)
            if acl is None:
                return ("(no such list)",)
            rows = []
            for entry in acl.entries:
                body = entry_body(entry.source.text, family)
                if family == 6:
                    # `show ipv6 access-list` prints the number last.
                    rows.append("%s sequence %s" % (body, known.get(body, "?")))
                else:
                    rows.append("%s %s" % (known.get(body, "?"), body))
            return tuple(rows)

        command = "show %s %s" % ("ipv6 access-list" if family == 6 else "access-lists", name)
        checks.append(Check(PRE, command, listing(change.running),
                            "the commands add and remove entries by these sequence numbers: if the device shows "
                            "others (the list was edited since it was loaded), or none (an image without ACL "
                            "sequence numbering), stop and recompute"))
        checks.append(Check(POST, command, listing(change.candidate), "the list holds the new entries, in order"))
    return tuple(checks)


class StagedCommandsLike(t.Protocol):
    commands: tuple[str, ...]
    rollback: tuple[str, ...]
    blocks: tuple[tuple[str, ...], ...]
    sequences: t.Mapping[str, t.Mapping[str, int]]


IosPlanner = t.Callable[[str, t.Sequence[str]], StagedCommandsLike]


def attach_commands(change: HostChange, staged: StagedCommandsLike,
                    parse: t.Callable[[str, str], IosConfig] | None = None) -> HostChange:
    """An IOS change with the commands and rollback hier_config computed, and its checks."""
    with_commands = dataclasses.replace(change, commands=tuple(staged.commands), rollback=tuple(staged.rollback),
                                        command_blocks=tuple(tuple(b) for b in staged.blocks))
    return dataclasses.replace(with_commands, checks=with_commands.checks + acl_sequence_checks(
        with_commands, staged.sequences, parse))
