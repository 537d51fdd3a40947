# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value objects of remediation: what a strategy plans for a host, and a plan for the fleet.

Frozen: every step of the planner takes these and returns new ones (dataclasses.replace), so a
plan once made is what the bundle, the playbook and the re-audit all read.

>>> change = HostChange("r1", "ios", True, "r1.cfg", "hostname r1\\nend", (Stage("why", "hostname r2\\nend"),))
>>> (change.candidate, change.changed, change.apply)
('hostname r2\\nend', True, True)

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
# One conflict as analysis.analyze reports it: the typed value, read by attribute (re-exported here).
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict, HostError

if t.TYPE_CHECKING:  # pragma: no cover - annotations only (the registry and the fleet import this module)
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Fleet
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options

PRE, POST = "pre", "post"


class PlanError(DiffservError):
    """A strategy that cannot be planned as asked (an unsafe override, an unreadable input)."""


@dataclasses.dataclass(frozen=True)
class HostText:
    """One audited host's configuration as collected (already redacted)."""

    host: str
    platform: str  # "ios" or "iptables"
    text: str
    source: str
    managed: bool = True
    # A firewall collected with both `iptables-save` and `ip6tables-save`: the text above is its IPv4 dump and
    # this its IPv6 one (platforms/base.py `companion_item`), planned beside it (None: one dump to plan from).
    ipv6: "HostText | None" = None


@dataclasses.dataclass(frozen=True)
class Stage:
    """The whole configuration after one step of a change, and why the step comes there."""

    purpose: str
    text: str


@dataclasses.dataclass(frozen=True)
class Action:
    """One thing a change does to one object, with the lines it touches (for people)."""

    verb: str  # remove | add | change | detach | keep
    what: str
    lines: tuple[tuple[int, str], ...]
    why: str


@dataclasses.dataclass(frozen=True)
class Window:
    """Between two commands: what traffic meets, and the order that keeps it safe."""

    between: str
    meanwhile: str
    order: str


@dataclasses.dataclass(frozen=True)
class Check:
    """A show command to run before (pre) or after (post) the change, and what it must print."""

    phase: str
    command: str
    expect: tuple[str, ...]
    why: str


@dataclasses.dataclass(frozen=True)
class Codepoint:
    """The DSCP an internal marker moves from and to, and why the new one is safe (or not)."""

    old: int
    new: int | None
    reasons: tuple[str, ...]
    residual: tuple[str, ...]
    refused: str | None = None
    override: bool = False


@dataclasses.dataclass(frozen=True)
class HostChange:
    """What one strategy does to one host."""

    host: str
    platform: str
    managed: bool
    source: str
    running: str
    stages: tuple[Stage, ...]
    actions: tuple[Action, ...] = ()
    protections_lost: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    rollback: tuple[str, ...] = ()
    command_blocks: tuple[tuple[str, ...], ...] = ()
    checks: tuple[Check, ...] = ()
    # A firewall's text is a dump of one address family: 6 for an IPv6 dump (an IPv6-only host's, or the
    # `ip6tables-save` one of a host collected with both; loaded with ip6tables-restore).  A host with both
    # dumps may have one change for each in a plan: (host, family) names a change.
    family: int = 4

    @property
    def candidate(self) -> str:
        return self.stages[-1].text if self.stages else self.running

    @property
    def changed(self) -> bool:
        return self.candidate != self.running

    @property
    def apply(self) -> bool:
        """Whether this collection may apply it: only to hosts we manage."""
        return self.managed and self.changed


@dataclasses.dataclass(frozen=True)
class Recheck:
    """The re-audit of the fleet with candidates: `clean` = no conflict and no error."""

    scope: str  # "all" (every candidate, requests included) or "managed" (ours only)
    clean: bool
    conflicts: tuple[Conflict, ...]
    errors: tuple[HostError, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    """One strategy for the whole fleet."""

    strategy: str
    title: str
    changes: tuple[HostChange, ...]
    fixes: str
    risks: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()
    codepoints: tuple[Codepoint, ...] = ()
    refused: str | None = None
    recheck: Recheck | None = None
    recheck_managed: Recheck | None = None
    stage_problems: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return self.refused is None and self.recheck is not None and self.recheck.clean and not self.stage_problems


@dataclasses.dataclass(frozen=True)
class Planned:
    """What a strategy returns: the changes of the hosts it touches, and what the plan says about them."""

    changes: tuple[HostChange, ...]
    windows: tuple[Window, ...] = ()
    codepoints: tuple[Codepoint, ...] = ()
    refused: str | None = None


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One way out of a conflict: the one small interface the registry (strategies.py) holds.

    `plan(fleet, conflicts, options)` computes the changes; `risks(changes, codepoints)` says what a
    reviewer accepts with them (once every change is finished); `does` completes the sentence
    "this strategy ... : 2 of 2 conflict(s) gone on re-audit".
    """

    name: str
    title: str
    does: str
    plan: t.Callable[[Fleet, t.Sequence[Conflict], Options], Planned]
    risks: t.Callable[[t.Sequence[HostChange], t.Sequence[Codepoint]], t.Sequence[str]]
