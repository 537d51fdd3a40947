# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply IOS commands to the lab's configuration model one by one, as a CLI session would.

The lab's simulator (lab/iosconfig.py) executes commands the way IOS does (`no access-list 106
...` deletes the whole list, `no 10` inside `ip access-list extended 106` deletes one entry,
`no policy-map X` is refused while X is attached) and does not share code with hier_config.
After every command the configuration is parsed again and its references checked: no command
may leave an applied place naming a missing object.
"""

from __future__ import annotations

import dataclasses

from lab.iosconfig import IOSConfig

from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.plan import dangling_references


@dataclasses.dataclass
class Step:
    command: str
    status: str
    output: str
    dangling: list[str]


def dangling(config: IOSConfig) -> list[str]:
    return dangling_references(parse_ios(config.body(), "simulated"))


def run(config: IOSConfig, commands, check_references: bool = True) -> list[Step]:
    """Type `commands` into `config` (in configuration mode); one Step per command."""
    path: tuple = ()
    steps = []
    for command in commands:
        word = command.strip()
        if not word:
            continue
        if word == "exit":
            path = path[:-1]
            continue
        outcome = config.apply(path, word)
        if outcome.status in ("ok", "refused"):
            path = outcome.path
        steps.append(Step(word, outcome.status, outcome.output, dangling(config) if check_references else []))
    return steps


def separators_collapsed(lines) -> list[str]:
    """Configuration lines with each run of `!` lines as one.

    IOS prints the `!` separators of `show running-config` itself; how many it puts between two
    sections is no command's doing (the lab model keeps one where a section was deleted and
    re-created), so a rollback is exact when everything else is, in the same order.
    """
    out: list[str] = []
    for line in lines:
        if line.strip() == "!" and out and out[-1].strip() == "!":
            continue
        out.append(line)
    return out


def without_separators(lines) -> list[str]:
    """Configuration lines without `!`: where IOS prints separators is not the plan's business."""
    return [line for line in lines if line.strip() != "!"]


def top_level_blocks(lines) -> list[tuple[str, ...]]:
    """Top-level sections (header and children) and lines, separators left out, in order."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.strip() == "!":
            continue
        if line.startswith((" ", "\t")) and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return [tuple(block) for block in blocks]
