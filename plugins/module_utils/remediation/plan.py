# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conflicts -> three strategies -> intended configurations, staged, re-audited.

For every conflict the audit finds, three ways out, each planned for every host it touches:

* ``remove_policy``: take out the mechanism that treats the marked traffic differently (the
  route-map clause that null-routes it, the ACL entry that denies it, the policy class that
  drops, polices or re-marks it), then whatever only fed that mechanism (the router's own
  marking of the same codepoint), detaching before deleting and keeping anything still used
  elsewhere.  Says which protection goes with it.
* ``change_dscp``: move the router's internal codepoint, and every line matching it, to a
  codepoint nobody else uses: pool 2 (xxxx11, experimental/local use), produced by no RFC 1349
  TOS value with any precedence, marked and matched nowhere in the audited fleet.  Staged so
  no moment is worse than before or after: new matches first, then the marking, then the old
  matches go.
* ``remark_boundary``: clear the DS field where traffic enters from outside, before anything
  acts on it: `set dscp default` in class-default of the interface's input policy (IOS marks
  before it policy-routes), and on managed firewalls a `DSCP --set-dscp 0` rule placed after
  every write on the way out (iptables.py).

A plan is a list of `HostChange`s: the running text, the intended text after each stage (the
last one is the candidate) and, once `attach_commands` has been given hier_config's output
(plugins/plugin_utils/hier.py), the commands and rollback.  Every candidate is re-audited with
`analysis.analyze` (semantics.md, "What counts as a conflict"): a plan is *clean* when the
fleet with its candidates has no conflict and no error.  Intermediate stages are audited too:
none may hold a conflict the running fleet did not have, nor a reference to a missing object.

Standard library only; no `import ansible`, no hier_config.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import difflib
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.analysis import (
    FirewallInput, Link, RouterInput, analyze,
)
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import link_diagnostics, reachable
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    Acl, AclEntry, ClassMap, Criterion, IosConfig, PolicyClass, PolicyMap, RouteMap,
    RouteMapClause,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import MarkingMap, marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.loader import joined_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset, TosCond
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import iptables as ipt

STRATEGIES = ("remove_policy", "change_dscp", "remark_boundary")
TITLES = {
    "remove_policy": "Remove the policy that drops the marked traffic",
    "change_dscp": "Move the router's internal codepoint to a safe one",
    "remark_boundary": "Clear the DS field at the administrative boundary",
}
PRE, POST = "pre", "post"


class PlanError(DiffservError):
    """A strategy that cannot be planned as asked (an unsafe override, an unreadable input)."""


# ====================================================================== value objects
@dataclasses.dataclass(frozen=True)
class HostText:
    """One audited host's configuration as collected (already redacted)."""

    host: str
    platform: str  # "ios" or "iptables"
    text: str
    source: str
    managed: bool = True


@dataclasses.dataclass(frozen=True)
class Options:
    """What the user may choose: an explicit codepoint (`diffserv_dscp`), strategies, names."""

    dscp: int | None = None
    strategies: tuple[str, ...] = STRATEGIES
    boundary_policy: str = "diffserv-boundary-in"
    backend: str = "auto"
    tos_semantics: str = "auto"


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
    conflicts: tuple[dict, ...]
    errors: tuple[dict, ...]


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


# ====================================================================== text edits
class _Text:
    """A configuration text and edits keyed by its original line numbers (1-based), per stage.

    Edits never renumber: deletions, replacements and insertions all refer to the running
    text's lines, so the parser's evidence (file:line) addresses them directly, and the text
    after stage k applies every edit of stages <= k.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self._deleted: dict[int, int] = {}
        self._replaced: dict[int, tuple[int, str]] = {}
        self._before: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        self._after: dict[int, list[tuple[int, tuple[str, ...]]]] = {}

    def line(self, number: int) -> str:
        return self.lines[number - 1]

    @staticmethod
    def indent_of(raw: str) -> int:
        return len(raw) - len(raw.lstrip(" \t"))

    def block(self, number: int) -> list[int]:
        """A line and every following line indented deeper: a section with its children."""
        base = self.indent_of(self.line(number))
        found = [number]
        index = number + 1
        while index <= len(self.lines):
            raw = self.lines[index - 1]
            if not raw.strip() or self.indent_of(raw) <= base:
                break
            found.append(index)
            index += 1
        return found

    def child_indent(self, number: int, default_step: int = 1) -> int:
        """The indentation the children of the section at `number` use."""
        block = self.block(number)
        if len(block) > 1:
            return self.indent_of(self.line(block[1]))
        return self.indent_of(self.line(number)) + default_step

    def delete(self, numbers: t.Iterable[int], stage: int = 0) -> None:
        for number in numbers:
            self._deleted.setdefault(number, stage)

    def delete_block(self, number: int, stage: int = 0) -> list[int]:
        block = self.block(number)
        self.delete(block, stage)
        # A top-level section sits between `!` lines; keep one of the two.
        if self.indent_of(self.line(number)) == 0 and number > 1 and block[-1] < len(self.lines):
            before, after = self.line(number - 1).strip(), self.line(block[-1] + 1).strip()
            if before == "!" and after == "!":
                self.delete([block[-1] + 1], stage)
        return block

    def replace(self, number: int, text: str, stage: int = 0) -> None:
        self._replaced[number] = (stage, text)

    def insert_after(self, number: int, texts: t.Sequence[str], stage: int = 0) -> None:
        self._after.setdefault(number, []).append((stage, tuple(texts)))

    def insert_before(self, number: int, texts: t.Sequence[str], stage: int = 0) -> None:
        self._before.setdefault(number, []).append((stage, tuple(texts)))

    def deleted(self, number: int) -> bool:
        return number in self._deleted

    def render(self, stage: int) -> str:
        out: list[str] = []
        for number, raw in enumerate(self.lines, 1):
            for at, texts in self._before.get(number, ()):
                if at <= stage:
                    out.extend(texts)
            gone = self._deleted.get(number)
            if gone is None or gone > stage:
                replaced = self._replaced.get(number)
                out.append(replaced[1] if replaced is not None and replaced[0] <= stage else raw)
            for at, texts in self._after.get(number, ()):
                if at <= stage:
                    out.extend(texts)
        return "\n".join(out)


def unified_diff(before: str, after: str, name: str) -> str:
    """The configuration before and after, as a unified diff (what a reviewer reads)."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "%s (running)" % name,
                                 "%s (candidate)" % name, lineterm="")
    text = "\n".join(lines)
    return text + "\n" if text else ""


# ====================================================================== the fleet as parsed
@dataclasses.dataclass
class _Router:
    host: HostText
    config: IosConfig


@dataclasses.dataclass
class _Firewall:
    host: HostText
    ruleset: Ruleset
    marks: MarkingMap
    backend: str
    era: str
    egresses: tuple[str | None, ...]


@dataclasses.dataclass
class _Fleet:
    routers: dict[str, _Router]
    firewalls: dict[str, _Firewall]
    links: list[Link] | None
    hosts: dict[str, HostText]
    audited: tuple[str, ...]


def _links_from(findings: t.Mapping[str, t.Any]) -> list[Link] | None:
    """The links the audit used: explicit ones again, or None to let analyze assume them again."""
    given = [link for link in findings.get("links", []) if not link.get("assumed")]
    if not given:
        return None
    links = []
    for link in given:
        firewall, _colon, egress = str(link["from"]).partition(":")
        router, _colon2, interface = str(link["to"]).partition(":")
        links.append(Link(firewall, None if egress in ("", "*") else egress, router, interface))
    return links


def _engine_of(findings: t.Mapping[str, t.Any], host: str, options: Options) -> tuple[str, str]:
    """The backend and TOS semantics the audit applied to a firewall (the conflicts say), else the options'."""
    for conflict in findings.get("conflicts", []):
        marker = conflict["marker"]
        if marker["host"] == host:
            return marker.get("backend") or options.backend, marker.get("tos_semantics") or options.tos_semantics
    return options.backend, options.tos_semantics


def _fleet(findings: t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText], options: Options) -> _Fleet:
    summary = findings.get("summary", {})
    audited = tuple(sorted(set(summary.get("firewalls", [])) | set(summary.get("routers", [])))) or tuple(sorted(hosts))
    links = _links_from(findings)
    routers: dict[str, _Router] = {}
    firewalls: dict[str, _Firewall] = {}
    for name in audited:
        host = hosts.get(name)
        if host is None:
            continue
        if host.platform == "ios":
            routers[name] = _Router(host, parse_ios(host.text, host.source))
        else:
            backend, era = _engine_of(findings, name, options)
            egresses = tuple(sorted({link.egress for link in links or [] if link.firewall == name},
                                    key=lambda e: e or ""))
            ruleset = joined_ruleset(host.text, host.source)
            if ruleset is None:
                continue  # an IPv6-only text: the audit joined nothing of it, so there is nothing to plan
            marks = marking_map(ruleset, backend, era, interfaces=[e for e in egresses if e])
            firewalls[name] = _Firewall(host, ruleset, marks, backend, era, egresses)
    return _Fleet(routers, firewalls, links, dict(hosts), audited)


# ====================================================================== re-audit
def audit_texts(fleet: _Fleet, texts: t.Mapping[str, str]) -> dict[str, t.Any]:
    """The audit of the fleet with some hosts' texts replaced: analysis.analyze, as the action plugin runs it."""
    firewalls: dict[str, FirewallInput] = {}
    routers: dict[str, RouterInput] = {}
    errors: list[dict[str, t.Any]] = []
    for name in fleet.audited:
        host = fleet.hosts.get(name)
        if host is None:
            continue
        text = texts.get(name, host.text)
        try:
            if host.platform == "ios":
                config = fleet.routers[name].config if text == host.text else parse_ios(text, host.source)
                routers[name] = RouterInput(name, host.source, config, host.managed)
            elif name in fleet.firewalls:
                known = fleet.firewalls[name]
                if text == host.text:
                    ruleset, marks = known.ruleset, known.marks
                else:
                    ruleset = joined_ruleset(text, host.source)
                    if ruleset is None:
                        continue
                    marks = marking_map(ruleset, known.backend, known.era,
                                        interfaces=[e for e in known.egresses if e])
                firewalls[name] = FirewallInput(name, host.source, ruleset, marks, host.managed)
        except DiffservError as error:
            errors.append({"host": name, "reason": str(error)})
    return analyze(firewalls, routers, fleet.links, errors)


def _conflict_key(conflict: t.Mapping[str, t.Any]) -> tuple:
    return (conflict["marker"]["host"], conflict["marker"]["line"], conflict["dscp"],
            conflict["treatment"]["host"], conflict["treatment"]["interface"], conflict["treatment"]["action"])


def dangling_references(config: IosConfig) -> list[str]:
    """References from applied places to objects that are missing (or, for lists, empty).

    IOS lets every packet through a missing access-group, routes normally through a missing
    route-map, but a route-map clause matching a missing list matches *every* packet: a
    command that leaves one of these behind while the reference is in use changes how
    traffic is treated, whatever the plan says before and after.
    """
    return [str(diagnostic) for diagnostic in link_diagnostics(config)
            if "is not defined" in diagnostic.reason or "has no entries" in diagnostic.reason]


def _recheck(fleet: _Fleet, changes: t.Sequence[HostChange], scope: str) -> Recheck:
    texts = {change.host: change.candidate for change in changes
             if change.changed and (scope == "all" or change.managed)}
    findings = audit_texts(fleet, texts)
    conflicts = tuple(findings["conflicts"])
    errors = tuple(findings["errors"])
    return Recheck(scope, not conflicts and not errors, conflicts, errors)


def _stage_problems(fleet: _Fleet, changes: t.Sequence[HostChange], original: t.Sequence[dict]) -> tuple[str, ...]:
    """Every intermediate stage: no conflict today's fleet does not have, no missing referenced object."""
    problems: list[str] = []
    allowed = {_conflict_key(c) for c in original}
    depth = max((len(change.stages) for change in changes), default=0)
    for stage in range(depth - 1):
        texts = {change.host: change.stages[min(stage, len(change.stages) - 1)].text
                 for change in changes if change.stages}
        findings = audit_texts(fleet, texts)
        for conflict in findings["conflicts"]:
            if _conflict_key(conflict) not in allowed:
                problems.append("after stage %d: new conflict: DSCP %d %s on %s %s" % (
                    stage + 1, conflict["dscp"], conflict["treatment"]["action"], conflict["treatment"]["host"],
                    conflict["treatment"]["interface"]))
        for error in findings["errors"]:
            problems.append("after stage %d: %s" % (stage + 1, error["reason"]))
    for change in changes:
        if change.platform != "ios" or not change.changed:
            continue
        before = set(dangling_references(parse_ios(change.running, change.source)))
        for number, stage_obj in enumerate(change.stages, 1):
            for problem in dangling_references(parse_ios(stage_obj.text, change.source)):
                if problem not in before:
                    problems.append("%s after stage %d: %s" % (change.host, number, problem))
    return tuple(problems)


# ====================================================================== IOS model helpers
def _class_action_words(cls: PolicyClass) -> str:
    kinds = []
    for action in cls.actions:
        if action.kind == "drop":
            kinds.append("drops")
        elif action.kind == "police":
            kinds.append("polices (%s)" % action.police.rate if action.police else "polices")
        elif action.kind == "rewrite" and action.rewrite is not None:
            kinds.append("re-marks (%s)" % action.source.text)
    return ", ".join(kinds) or "treats"


def _criteria_words(cm: ClassMap | None) -> str:
    if cm is None:
        return "no such class-map"
    return "; ".join(c.text for c in cm.criteria) or "no match statement"


def _filter_words(cm: ClassMap | None) -> str:
    """What kind of filter a class-map is, in words a reviewer recognises."""
    if cm is not None and any(c.kind == "nbar" and "http url" in c.text for c in cm.criteria):
        return "an NBAR filter on HTTP URLs (the Code-Red recipe of Cisco document 27842)"
    return "a filter"


class _Model:
    """One router's parsed configuration, indexed by line, with who uses what."""

    def __init__(self, router: _Router, text: _Text) -> None:
        self.host = router.host
        self.config = router.config
        self.text = text
        config = router.config
        self.entries: dict[int, tuple[Acl, AclEntry]] = {}
        for acl in config.acls.values():
            for entry in acl.entries:
                self.entries[entry.source.line] = (acl, entry)
        self.criteria: dict[int, tuple[ClassMap, Criterion]] = {}
        for cm in config.class_maps.values():
            for crit in cm.criteria:
                self.criteria[crit.source.line] = (cm, crit)
        self.classes: dict[int, tuple[PolicyMap, PolicyClass]] = {}
        for pm in config.policy_maps.values():
            for cls in pm.classes:
                if not cls.implicit:
                    self.classes[cls.source.line] = (pm, cls)
        self.clauses: dict[int, tuple[RouteMap, RouteMapClause]] = {}
        self.rm_matches: dict[int, tuple[RouteMap, RouteMapClause]] = {}
        for rm in config.route_maps.values():
            for clause in rm.clauses:
                self.clauses[clause.source.line] = (rm, clause)
                for match in clause.matches:
                    self.rm_matches[match.source.line] = (rm, clause)
        self.reach = reachable(config)
        self.removed: set[tuple] = set()

    # -------------------------------------------------------------- who uses what
    def attachments(self, kind: str, name: str) -> list[tuple[str, str, int, str]]:
        """(interface, direction, line, text) of every applied reference to a definition."""
        found = []
        for iface in self.config.interfaces.values():
            if kind == "acl":
                pairs = (("in", iface.acl_in), ("out", iface.acl_out))
            elif kind == "policy-map":
                pairs = (("in", iface.policy_in), ("out", iface.policy_out))
            else:
                pairs = (("in", iface.pbr),)
            for direction, attachment in pairs:
                if attachment is not None and attachment.name == name and ("line", attachment.source.line) \
                        not in self.removed:
                    found.append((iface.name, direction, attachment.source.line, attachment.source.text))
        local = self.config.local_policy
        if kind == "route-map" and local is not None and local.name == name and ("line", local.source.line) \
                not in self.removed:
            found.append(("(local)", "out", local.source.line, local.source.text))
        return found

    def users(self, kind: str, name: str) -> list[str]:
        """Everything (not being removed) that still names a definition, in words."""
        found = ["%s %s (line %d)" % (iface, direction, line) for iface, direction, line, _text
                 in self.attachments(kind, name)]
        config = self.config
        if kind == "acl":
            for rm in config.route_maps.values():
                for clause in rm.clauses:
                    if ("clause", rm.name, clause.seq) in self.removed:
                        continue
                    if any(match.kind == "acl" and name in match.refs for match in clause.matches):
                        found.append("route-map %s %d (line %d)" % (rm.name, clause.seq, clause.source.line))
            for cm in config.class_maps.values():
                if ("class-map", cm.name) in self.removed:
                    continue
                for crit in cm.criteria:
                    if crit.kind == "acl" and crit.ref == name:
                        found.append("class-map %s (line %d)" % (cm.name, crit.source.line))
        elif kind == "class-map":
            for pm in config.policy_maps.values():
                if ("policy-map", pm.name) in self.removed:
                    continue
                for cls in pm.classes:
                    if cls.name == name and ("class", pm.name, cls.name) not in self.removed:
                        found.append("policy-map %s (line %d)" % (pm.name, cls.source.line))
            for cm in config.class_maps.values():
                if ("class-map", cm.name) not in self.removed:
                    for crit in cm.criteria:
                        if crit.kind == "class-map" and crit.ref == name:
                            found.append("class-map %s (line %d)" % (cm.name, crit.source.line))
        elif kind == "policy-map":
            for pm in config.policy_maps.values():
                if ("policy-map", pm.name) in self.removed:
                    continue
                for cls in pm.classes:
                    for action in cls.actions:
                        if action.kind == "service-policy" and action.ref == name \
                                and ("line", action.source.line) not in self.removed:
                            found.append("policy-map %s class %s (line %d)" % (pm.name, cls.name, action.source.line))
        found.extend("%s (line %d)" % (evidence.text, evidence.line)
                     for evidence in config.references.get((kind, name), ()))
        return found

    def numbered_acl_lines(self, name: str) -> list[int]:
        prefix = "access-list %s " % name
        return [n for n, raw in enumerate(self.text.lines, 1) if raw.startswith(prefix)]

    def acl_lines(self, acl: Acl) -> list[int]:
        if acl.source.text.startswith("access-list "):
            return self.numbered_acl_lines(acl.name)
        return self.text.block(acl.source.line)

    def live(self) -> tuple[set[str], set[str]]:
        """Access lists and class-maps an applied place still reaches once the removals so far are done."""
        config, removed = self.config, self.removed
        acls: set[str] = set()
        class_maps: set[str] = set()

        def policy(name: str, depth: int = 0) -> None:
            pm = config.policy_maps.get(name)
            if pm is None or ("policy-map", name) in removed or depth > 8:
                return
            for cls in pm.classes:
                if ("class", pm.name, cls.name) in removed:
                    continue
                if cls.name != "class-default":
                    class_map(cls.name)
                for action in cls.actions:
                    if action.kind == "service-policy" and action.ref and ("line", action.source.line) not in removed:
                        policy(action.ref, depth + 1)

        def class_map(name: str, depth: int = 0) -> None:
            cm = config.class_maps.get(name)
            if cm is None or name in class_maps or depth > 8:
                return
            class_maps.add(name)
            for crit in cm.criteria:
                if crit.kind == "acl" and crit.ref:
                    acls.add(crit.ref)
                elif crit.kind == "class-map" and crit.ref:
                    class_map(crit.ref, depth + 1)

        def route_map(name: str) -> None:
            rm = config.route_maps.get(name)
            if rm is None or ("route-map", name) in removed:
                return
            for clause in rm.clauses:
                if ("clause", name, clause.seq) not in removed:
                    acls.update(ref for match in clause.matches if match.kind == "acl" for ref in match.refs)

        for iface in config.interfaces.values():
            for attachment, use in ((iface.acl_in, acls.add), (iface.acl_out, acls.add), (iface.policy_in, policy),
                                    (iface.policy_out, policy), (iface.pbr, route_map)):
                if attachment is not None and ("line", attachment.source.line) not in removed:
                    use(attachment.name)
        if config.local_policy is not None and ("line", config.local_policy.source.line) not in removed:
            route_map(config.local_policy.name)
        return acls, class_maps

    def tests(self, dscp: int) -> list[tuple[int, str]]:
        """Lines an applied place still reaches that treat DSCP `dscp` differently from DSCP 0."""
        byte = dscp << 2
        acls, class_maps = self.live()
        found = []
        for line, (acl, entry) in self.entries.items():
            if entry.tests_ds and ("line", line) not in self.removed and acl.name in acls \
                    and (entry.ds_mask >> byte & 1) != (entry.ds_mask & 1):
                found.append((line, entry.source.text))
        for line, (cm, crit) in self.criteria.items():
            if crit.kind in ("dscp", "precedence") and ("line", line) not in self.removed \
                    and cm.name in class_maps and (crit.ds_mask >> byte & 1) != (crit.ds_mask & 1):
                found.append((line, crit.source.text))
        return sorted(found)


# ====================================================================== remove_policy
class _Removal:
    """Remove mechanisms from one router, cascading to what only they used; detach before delete."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        self.actions: list[Action] = []
        self.lost: list[str] = []
        self.kept: list[str] = []
        self.notes: list[str] = []

    @property
    def text(self) -> _Text:
        return self.model.text

    def _lines(self, numbers: t.Iterable[int]) -> tuple[tuple[int, str], ...]:
        return tuple((n, self.text.line(n)) for n in sorted(numbers))

    def _delete(self, numbers: t.Iterable[int]) -> None:
        numbers = list(numbers)
        self.text.delete(numbers)
        self.model.removed.update(("line", n) for n in numbers)

    def _delete_block(self, number: int) -> list[int]:
        block = self.text.delete_block(number)
        self.model.removed.update(("line", n) for n in block)
        return block

    def detach(self, kind: str, name: str) -> None:
        for iface, direction, line, text in self.model.attachments(kind, name):
            self._delete([line])
            self.actions.append(Action("detach", "%s %s from %s" % (kind, name, iface), self._lines([line]),
                                       "nothing may be deleted while an interface still uses it"))

    # -------------------------------------------------------------- access lists
    def maybe_remove_acl(self, name: str) -> None:
        if ("acl", name) in self.model.removed:
            return
        acl = self.model.config.acls.get(name)
        if acl is None:
            return
        users = self.model.users("acl", name)
        if users:
            self.kept.append("access-list %s: still used by %s" % (name, ", ".join(users)))
            return
        lines = self.model.acl_lines(acl)
        self.actions.append(Action("remove", "access-list %s" % name, self._lines(lines),
                                   "only the removed policy used it"))
        self._delete(lines)
        self.model.removed.add(("acl", name))

    def remove_entry(self, acl: Acl, entry: AclEntry, dscp: int) -> None:
        if ("line", entry.source.line) in self.model.removed:
            return
        places = self.model.attachments("acl", acl.name)
        self._delete([entry.source.line])
        self.actions.append(Action("remove", "entry of access-list %s" % acl.name,
                                   self._lines([entry.source.line]), "it %s DSCP %d" % (
                                       "denies" if entry.action == "deny" else "permits", dscp)))
        self.lost.append("access-list %s on %s: packets with DSCP %s are no longer %s there" % (
            acl.name, ", ".join("%s %s" % (i, d) for i, d, _l, _t in places) or "(not applied)",
            dsfield.dscp_label(dscp), "denied" if entry.action == "deny" else "matched"))
        if all(("line", e.source.line) in self.model.removed for e in acl.entries):
            # An applied list left empty would let everything through: take it out whole.
            self.detach("acl", acl.name)
            self.maybe_remove_acl(acl.name)

    # -------------------------------------------------------------- route-maps
    def remove_clause(self, rm: RouteMap, clause: RouteMapClause, dscp: int) -> None:
        key = ("clause", rm.name, clause.seq)
        if key in self.model.removed:
            return
        places = self.model.attachments("route-map", rm.name)
        sets = ", ".join(s.source.text for s in clause.sets) or "no set clause"
        acls = [ref for match in clause.matches if match.kind == "acl" for ref in match.refs]
        self.lost.append("route-map %s %s %d (%s) on %s: packets matching access-list %s (DSCP %s) are no longer "
                         "policy-routed by it" % (rm.name, "permit" if clause.permit else "deny", clause.seq, sets,
                                                  ", ".join(p[0] for p in places) or "(not applied)",
                                                  ", ".join(acls) or "-", dsfield.dscp_label(dscp)))
        others = [c for c in rm.clauses if ("clause", rm.name, c.seq) not in self.model.removed and c is not clause]
        if not others:
            # The route-map goes with its last clause: interfaces let go of it first.
            self.detach("route-map", rm.name)
            external = self.model.config.references.get(("route-map", rm.name), ())
            if external:
                self.kept.append("route-map %s: still named by %s; only clause %d is removed" % (
                    rm.name, ", ".join(e.text for e in external), clause.seq))
            else:
                self.model.removed.add(("route-map", rm.name))
        block = self._delete_block(clause.source.line)
        self.model.removed.add(key)
        self.actions.append(Action("remove", "route-map %s %d" % (rm.name, clause.seq), self._lines(block),
                                   "it policy-routes DSCP %d (%s)" % (dscp, sets)))
        for name in acls:
            self.maybe_remove_acl(name)

    # -------------------------------------------------------------- policies
    def maybe_remove_class_map(self, name: str) -> None:
        if ("class-map", name) in self.model.removed:
            return
        cm = self.model.config.class_maps.get(name)
        if cm is None:
            return
        users = self.model.users("class-map", name)
        if users:
            self.kept.append("class-map %s: still used by %s" % (name, ", ".join(users)))
            return
        block = self._delete_block(cm.source.line)
        self.model.removed.add(("class-map", name))
        self.actions.append(Action("remove", "class-map %s" % name, self._lines(block), "no policy uses it any more"))
        for crit in cm.criteria:
            if crit.kind == "acl" and crit.ref:
                self.maybe_remove_acl(crit.ref)
            elif crit.kind == "class-map" and crit.ref:
                self.maybe_remove_class_map(crit.ref)

    def remove_class(self, pm: PolicyMap, cls: PolicyClass, why: str) -> None:
        key = ("class", pm.name, cls.name)
        if key in self.model.removed:
            return
        self.model.removed.add(key)
        remaining = [c for c in pm.classes if ("class", pm.name, c.name) not in self.model.removed
                     and (c.name != "class-default" or c.actions)]
        if not remaining and not self.model.config.references.get(("policy-map", pm.name)):
            # Nothing left in the policy: interfaces let go of it, then it goes whole.
            self.detach("policy-map", pm.name)
            for other in self.model.config.policy_maps.values():
                for other_cls in other.classes:
                    for action in other_cls.actions:
                        if action.kind == "service-policy" and action.ref == pm.name:
                            self._delete([action.source.line])
            block = self._delete_block(pm.source.line)
            self.model.removed.add(("policy-map", pm.name))
            self.actions.append(Action("remove", "policy-map %s" % pm.name, self._lines(block),
                                       "its only class goes: %s" % why))
        else:
            block = self._delete_block(cls.source.line)
            self.actions.append(Action("remove", "class %s of policy-map %s" % (cls.name, pm.name),
                                       self._lines(block), why))
        if cls.name != "class-default":
            self.maybe_remove_class_map(cls.name)

    def remove_marker(self, pm: PolicyMap, cls: PolicyClass, action_line: int, dscp: int, fed: str) -> None:
        cm = self.model.config.class_maps.get(cls.name)
        places = self.model.attachments("policy-map", pm.name)
        self.lost.append("policy-map %s class %s on %s (%s): traffic it matches is no longer marked DSCP %s; with %s "
                         "this was %s, and what it caught is now forwarded like any other traffic" % (
                             pm.name, cls.name, ", ".join("%s %s" % (p[0], p[1]) for p in places) or "(not applied)",
                             _criteria_words(cm), dsfield.dscp_label(dscp), fed, _filter_words(cm)))
        others = [a for a in cls.actions if a.source.line != action_line]
        if others:
            self._delete([action_line])
            self.actions.append(Action("remove", "marking in class %s of policy-map %s" % (cls.name, pm.name),
                                       self._lines([action_line]), "nothing on this router tests DSCP %d any more"
                                       % dscp))
        else:
            self.remove_class(pm, cls, "it only marked DSCP %d, which nothing on this router tests any more" % dscp)


def _mechanisms(model: _Model, conflict: t.Mapping[str, t.Any]) -> list[tuple]:
    """What on the conflict's path treats the byte: clauses, ACL entries, policy classes."""
    lines = [step["line"] for step in conflict["treatment"]["lines"]]
    found: list[tuple] = []
    for number in lines:
        if number in model.entries:
            acl, entry = model.entries[number]
            if not entry.tests_ds:
                continue
            clause = next((model.rm_matches[n] for n in lines if n in model.rm_matches
                           and any(m.kind == "acl" and acl.name in m.refs for m in model.rm_matches[n][1].matches)),
                          None)
            crit_class = next((n for n in lines if n in model.criteria and model.criteria[n][1].kind == "acl"
                               and model.criteria[n][1].ref == acl.name), None)
            if clause is not None:
                found.append(("clause",) + clause)
            elif crit_class is not None:
                cm = model.criteria[crit_class][0]
                found.extend(("class",) + model.classes[n] for n in lines
                             if n in model.classes and model.classes[n][1].name == cm.name)
            else:
                found.append(("entry", acl, entry))
        elif number in model.criteria:
            cm, crit = model.criteria[number]
            if crit.kind not in ("dscp", "precedence"):
                continue
            found.extend(("class",) + model.classes[n] for n in lines
                         if n in model.classes and model.classes[n][1].name == cm.name)
    return found


def _markers(model: _Model, dscp: int) -> list[tuple[PolicyMap, PolicyClass, int]]:
    """Policy classes (not being removed) that write exactly DSCP `dscp`: the router's own marking."""
    found = []
    for pm in model.config.policy_maps.values():
        if ("policy-map", pm.name) in model.removed:
            continue
        for cls in pm.classes:
            if ("class", pm.name, cls.name) in model.removed:
                continue
            for action in cls.actions:
                rewrite = action.rewrite
                if action.kind == "rewrite" and rewrite is not None and rewrite.keep == 0x03 \
                        and rewrite.value == dscp << 2 and ("line", action.source.line) not in model.removed:
                    found.append((pm, cls, action.source.line))
    return found


def _plan_remove(fleet: _Fleet, conflicts: t.Sequence[dict], options: Options) -> list[HostChange]:
    changes: list[HostChange] = []
    for host in sorted({c["treatment"]["host"] for c in conflicts}):
        router = fleet.routers.get(host)
        if router is None:
            continue
        here = [c for c in conflicts if c["treatment"]["host"] == host]
        text = _Text(router.host.text)
        model = _Model(router, text)
        removal = _Removal(model)
        dscps = sorted({c["dscp"] for c in here})
        seen: set[tuple] = set()
        for conflict in here:
            mechanisms = _mechanisms(model, conflict)
            if not mechanisms:
                removal.notes.append("DSCP %d %s on %s: no line on its path tests the DS byte in a way this plan "
                                     "can remove; left as it is" % (conflict["dscp"], conflict["treatment"]["action"],
                                                                    conflict["treatment"]["interface"]))
            for mechanism in mechanisms:
                key = (mechanism[0], id(mechanism[1]), id(mechanism[2]))
                if key in seen:
                    continue
                seen.add(key)
                if mechanism[0] == "clause":
                    removal.remove_clause(mechanism[1], mechanism[2], conflict["dscp"])
                elif mechanism[0] == "entry":
                    removal.remove_entry(mechanism[1], mechanism[2], conflict["dscp"])
                else:
                    pm, cls = mechanism[1], mechanism[2]
                    removal.lost.append("policy-map %s class %s (%s) no longer %s traffic with DSCP %s" % (
                        pm.name, cls.name, _criteria_words(model.config.class_maps.get(cls.name)),
                        _class_action_words(cls), dsfield.dscp_label(conflict["dscp"])))
                    removal.remove_class(pm, cls, "it %s DSCP %d" % (_class_action_words(cls), conflict["dscp"]))
        # The router's own marking of the same codepoint only fed what just went: it goes too,
        # unless something left on this router still tests that codepoint.
        for dscp in dscps:
            if model.tests(dscp):
                for line, line_text in model.tests(dscp):
                    removal.kept.append("DSCP %d marking kept: line %d still tests it (%s)" % (dscp, line, line_text))
                continue
            fed = "the %s removed above" % ("policy routing" if any(a.what.startswith("route-map") for a in
                                                                    removal.actions) else "drop")
            for pm, cls, line in _markers(model, dscp):
                removal.remove_marker(pm, cls, line, dscp, fed)
        candidate = text.render(0)
        stages = (Stage("detach the policy from the interfaces, then delete what only it used", candidate),) \
            if candidate != router.host.text else ()
        changes.append(HostChange(host, "ios", router.host.managed, router.host.source, router.host.text, stages,
                                  actions=tuple(removal.actions), protections_lost=tuple(dict.fromkeys(removal.lost)),
                                  kept=tuple(dict.fromkeys(removal.kept)), notes=tuple(removal.notes)))
    return changes


def _remove_windows(changes: t.Sequence[HostChange]) -> tuple[Window, ...]:
    windows = []
    for change in changes:
        detached = [a for a in change.actions if a.verb == "detach"]
        removed = [a for a in change.actions if a.verb == "remove"]
        pbr = [a for a in detached if a.what.startswith("route-map")]
        marking = [a for a in detached if a.what.startswith("policy-map")]
        if detached and removed:
            dangers = []
            if pbr:
                dangers.append("a route-map matching a missing access list matches every packet, so every packet "
                               "arriving on the interface would be policy-routed (to Null0 here) until the interface "
                               "line goes")
            if marking:
                dangers.append("IOS refuses to delete a policy-map (or a class-map a policy names) while it is "
                               "attached, and the remaining commands would run against a half-removed policy")
            windows.append(Window(
                between="%s, between detaching (%s) and deleting (%s)" % (
                    change.host, "; ".join(a.what for a in detached), "; ".join(a.what for a in removed)),
                meanwhile="deleted the other way round, an interface would still use a missing object: %s"
                          % "; ".join(dangers or ["an access list applied to an interface would vanish under it"]),
                order="interfaces let go first (`no ip policy route-map`, `no service-policy`); then route-maps "
                      "and policy-maps; then the class-maps and access lists they named"))
        elif removed:
            windows.append(Window(
                between="%s: %s" % (change.host, "; ".join(a.what for a in removed)),
                meanwhile="each command removes one line of a definition that stays in use: the treatment of the "
                          "marked traffic changes at that command, nothing else does",
                order="entries leave an access list by sequence number inside `ip access-list`, never with "
                      "`no access-list N ...`, which deletes the whole numbered list"))
        if pbr and marking:
            windows.append(Window(
                between="%s, between the two interface lines" % change.host,
                meanwhile="after the policy routing is detached and before the marking policy is, traffic the "
                          "marking class catches is still marked but no longer dropped: already the new treatment",
                order="either order is safe; the commands detach in running-config order"))
    return tuple(windows)


# ====================================================================== change_dscp
def _legacy_spellings(dscp: int) -> list[str]:
    """RFC 791 TOS bytes (precedence + D/T/R flags) that read as this DSCP."""
    found = []
    for ecn in (0, 2):
        byte = dscp << 2 | ecn
        flags = [name for bit, name in ((0x10, "low delay"), (0x08, "high throughput"), (0x04, "high reliability"),
                                        (0x02, "low cost")) if byte & bit]
        words = " + ".join(flags) or "no flag"
        found.append("TOS byte 0x%02x (RFC 791/1349: precedence %d, %s)" % (byte, byte >> 5, words))
    return found


def _swap_values(text: str, keyword: str, old: int, new: int, many: bool) -> str:
    """`text` with the DSCP value(s) after `keyword` equal to `old` replaced by `new`; spacing kept."""
    tokens = list(re.finditer(r"\S+", text))
    out = text
    for index, token in enumerate(tokens):
        if token.group(0) != keyword:
            continue
        values = tokens[index + 1:] if many else tokens[index + 1:index + 2]
        for value in reversed(values):
            word = value.group(0)
            if word in ("ipv4", "ipv6"):
                continue
            try:
                if dsfield.parse_dscp(word) != old:
                    continue
            except dsfield.DSFieldError:
                break
            out = out[:value.start()] + str(new) + out[value.end():]
        break
    return out


def _fleet_marks(fleet: _Fleet, dscp: int) -> list[str]:
    """Where in the audited fleet DSCP `dscp` is written."""
    found = []
    for name, firewall in fleet.firewalls.items():
        lines = set()
        for marking in firewall.marks.markings:
            if not marking.writers:
                continue
            # Traffic arriving unmarked, and with any precedence (old TOS targets keep it).
            arrivals = [a for a in (p << 5 for p in range(8)) if marking.masks[-1] >> a & 1]
            if any(((a & marking.keep) ^ marking.set) >> 2 == dscp for a in arrivals):
                lines.add(marking.writers[-1])
        found.extend("%s line %d (%s)" % (name, line, firewall.marks.rule_at(line).text) for line in sorted(lines))
    for name, router in fleet.routers.items():
        config = router.config
        rewrites = []
        for pm in config.policy_maps.values():
            for cls in pm.classes:
                for action in cls.actions:
                    if action.rewrite is not None:
                        rewrites.append((action.source, action.rewrite))
                    if action.police is not None:
                        for police_action in action.police.conform + action.police.exceed + action.police.violate:
                            if police_action.rewrite is not None:
                                rewrites.append((police_action.source, police_action.rewrite))
        for rm in config.route_maps.values():
            for clause in rm.clauses:
                for item in clause.sets:
                    if item.rewrite is not None:
                        rewrites.append((item.source, item.rewrite))
        for source, rewrite in rewrites:
            if any(rewrite.apply(byte) >> 2 == dscp for byte in range(256)):
                found.append("%s line %d (%s)" % (name, source.line, source.text))
    return found


def _fleet_matches(fleet: _Fleet, dscp: int) -> list[str]:
    """Where in the audited fleet a rule or line treats DSCP `dscp` differently from DSCP 0."""
    byte = dscp << 2
    found = []
    for name, router in fleet.routers.items():
        config = router.config
        for acl in config.acls.values():
            for entry in acl.entries:
                if entry.tests_ds and (entry.ds_mask >> byte & 1) != (entry.ds_mask & 1):
                    found.append("%s line %d (%s)" % (name, entry.source.line, entry.source.text))
        for cm in config.class_maps.values():
            for crit in cm.criteria:
                if crit.kind in ("dscp", "precedence") and (crit.ds_mask >> byte & 1) != (crit.ds_mask & 1):
                    found.append("%s line %d (%s)" % (name, crit.source.line, crit.source.text))
    for name, firewall in fleet.firewalls.items():
        for table in firewall.ruleset.tables.values():
            for chain in table.chains:
                for rule in table.rules(chain):
                    for cond in rule.conditions:
                        if isinstance(cond, TosCond) and \
                                (((byte & cond.mask) == cond.value) != ((0 & cond.mask) == cond.value)):
                            found.append("%s line %d (%s)" % (name, rule.line, rule.text))
    return found


def codepoint_problems(fleet: _Fleet, dscp: int) -> list[str]:
    """Why a codepoint is not safe as an internal marker (empty: it is)."""
    problems = []
    if not 0 < dscp <= 63:
        return ["DSCP %r is not a codepoint 1-63" % (dscp,)]
    pool = dsfield.dscp_pool(dscp)
    if pool != 2:
        problems.append("DSCP %s is in pool %d (%s), not pool 2 (xxxx11, experimental or local use)" % (
            dsfield.dscp_label(dscp), pool, "standards action" if pool == 1 else "opened to standards by RFC 8436"))
    if dscp in dsfield.dscps_from_rfc1349():
        problems.append("DSCP %d is what an RFC 1349 TOS value produces with precedence %d" % (dscp, dscp >> 3))
    marks = _fleet_marks(fleet, dscp)
    if marks:
        problems.append("DSCP %d is marked in the audited fleet: %s" % (dscp, "; ".join(marks)))
    matches = _fleet_matches(fleet, dscp)
    if matches:
        problems.append("DSCP %d is already matched by: %s" % (dscp, "; ".join(matches)))
    return problems


def choose_codepoint(fleet: _Fleet, old: int, taken: t.Collection[int], override: int | None) -> Codepoint:
    """The internal codepoint to move `old` to: the override if safe, else the lowest safe one."""
    if override is not None:
        problems = codepoint_problems(fleet, override)
        if override == old or override in taken:
            problems.append("DSCP %d is the codepoint in conflict" % override)
        if problems:
            return Codepoint(old, None, (), (), refused="diffserv_dscp=%d refused: %s" % (override, "; ".join(problems)),
                             override=True)
        return Codepoint(old, override, _reasons(fleet, override), _residual(override), override=True)
    for candidate in range(3, 64, 4):  # pool 2: xxxx11
        if candidate == old or candidate in taken:
            continue
        if not codepoint_problems(fleet, candidate):
            return Codepoint(old, candidate, _reasons(fleet, candidate), _residual(candidate))
    return Codepoint(old, None, (), (), refused="no pool-2 codepoint is free in the audited fleet")


def _reasons(fleet: _Fleet, dscp: int) -> tuple[str, ...]:
    return (
        "pool 2 (xxxx11): reserved for experimental or local use (RFC 2474), so no standard assigns it",
        "no RFC 1349 TOS value produces it under any precedence (those give 8p + 0, 1, 2 or 4)",
        "no rule on the %d audited firewall(s) and no line on the %d audited router(s) writes it" % (
            len(fleet.firewalls), len(fleet.routers)),
        "no other rule or line on the audited devices tests it",
    )


def _residual(dscp: int) -> tuple[str, ...]:
    return (
        "anyone outside the audited fleet who marks DSCP %d is still treated like the internal marker (dropped "
        "or null-routed): for example a stack writing %s" % (dscp, " or ".join(_legacy_spellings(dscp))),
        "every router of the domain that matches the internal codepoint must move with this one",
    )


def _renumber(raw: str, acl: Acl, entry: AclEntry) -> str:
    """An entry line with a sequence number free between `entry` and the next entry of its list."""
    used = {e.seq for e in acl.entries if e.seq is not None}
    later = sorted(seq for seq in used if seq > t.cast(int, entry.seq))
    low, high = t.cast(int, entry.seq), (later[0] if later else None)
    candidates = [low + 10] if high is None else [(low + high) // 2] + list(range(low + 1, high))
    free = next((seq for seq in candidates if seq not in used and (high is None or low < seq < high)), None)
    if free is None:
        raise PlanError("access-list %s: no free sequence number after %d; resequence the list first "
                        "(ip access-list resequence %s 10 10)" % (acl.name, low, acl.name))
    match = re.match(r"(\s*)\d+(\s.*)$", raw)
    return "%s%d%s" % (match.group(1), free, match.group(2)) if match else raw


def _plan_change(fleet: _Fleet, conflicts: t.Sequence[dict],
                 options: Options) -> tuple[list[HostChange], list[Codepoint], str | None]:
    dscps = sorted({c["dscp"] for c in conflicts})
    if options.dscp is not None and len(dscps) > 1:
        return [], [], "diffserv_dscp=%d refused: the conflicts involve %d codepoints (%s); one override cannot " \
                       "move them all" % (options.dscp, len(dscps), ", ".join(map(str, dscps)))
    choices: list[Codepoint] = []
    for old in dscps:
        choice = choose_codepoint(fleet, old, set(dscps) | {c.new for c in choices if c.new is not None},
                                  options.dscp)
        choices.append(choice)
        if choice.refused:
            return [], choices, choice.refused
    changes = []
    for host in sorted({c["treatment"]["host"] for c in conflicts}):
        router = fleet.routers.get(host)
        if router is None:
            continue
        text = _Text(router.host.text)
        model = _Model(router, text)
        actions: list[Action] = []
        notes: list[str] = []
        used_stages: set[int] = set()
        for choice in choices:
            old, new = choice.old, t.cast(int, choice.new)
            here = [c for c in conflicts if c["treatment"]["host"] == host and c["dscp"] == old]
            if not here:
                continue
            on_path = {step["line"] for c in here for step in c["treatment"]["lines"]}
            moved = False
            for line, (acl, entry) in sorted(model.entries.items()):
                if not entry.tests_ds or not (entry.ds_mask >> (old << 2) & 1) or \
                        (acl.name not in model.reach.acl and line not in on_path):
                    continue
                raw = text.line(line)
                swapped = _swap_values(raw, "dscp", old, new, many=False)
                if swapped == raw:
                    if line in on_path:
                        notes.append("line %d (%s) tests DSCP %d without the dscp keyword: not moved" % (
                            line, entry.source.text, old))
                    continue
                if entry.seq is not None:
                    # The list is printed with sequence numbers (IOS-XE): the new entry needs its own,
                    # next to the old one, so both can stand between the first and the last stage.
                    swapped = _renumber(swapped, acl, entry)
                text.insert_after(line, [swapped], stage=0)
                text.delete([line], stage=2)
                used_stages.update((0, 2))
                moved = True
                actions.append(Action("change", "entry of access-list %s" % acl.name, ((line, raw.strip()),),
                                      "matches DSCP %d; %s is added before the marking moves and this entry goes "
                                      "after" % (old, swapped.strip())))
            for line, (cm, crit) in sorted(model.criteria.items()):
                if crit.kind != "dscp" or not (crit.ds_mask >> (old << 2) & 1) or \
                        (cm.name not in model.reach.class_map and line not in on_path):
                    continue
                raw = text.line(line)
                swapped = _swap_values(raw, "dscp", old, new, many=True)
                if swapped == raw:
                    continue
                text.insert_after(line, [swapped], stage=0)
                text.delete([line], stage=2)
                used_stages.update((0, 2))
                moved = True
                actions.append(Action("change", "match in class-map %s" % cm.name, ((line, raw.strip()),),
                                      "matches DSCP %d; %s is added before the marking moves and this line goes "
                                      "after" % (old, swapped.strip())))
                if cm.match_all:
                    notes.append("class-map %s is match-all: while it holds both the old and the new dscp line it "
                                 "matches nothing, so its action pauses between the first and the last command"
                                 % cm.name)
            for pm, cls, line in _markers(model, old):
                raw = text.line(line)
                text.replace(line, _swap_values(raw, "dscp", old, new, many=False), stage=1)
                used_stages.add(1)
                actions.append(Action("change", "marking in class %s of policy-map %s" % (cls.name, pm.name),
                                      ((line, raw.strip()),), "the router's own marker moves from DSCP %d to %d, "
                                      "in one command (set replaces set)" % (old, new)))
            for rm in model.config.route_maps.values():
                for clause in rm.clauses:
                    for item in clause.sets:
                        if item.rewrite is not None and item.rewrite.keep == 0x03 and item.rewrite.value == old << 2:
                            raw = text.line(item.source.line)
                            text.replace(item.source.line, _swap_values(raw, "dscp", old, new, many=False), stage=1)
                            used_stages.add(1)
                            actions.append(Action("change", "set clause of route-map %s %d" % (rm.name, clause.seq),
                                                  ((item.source.line, raw.strip()),),
                                                  "the router's own marker moves from DSCP %d to %d" % (old, new)))
            if not moved:
                notes.append("no line on %s matches DSCP %d with the dscp keyword where it acts: nothing to move"
                             % (host, old))
            if not _markers(model, old):
                notes.append("%s marks DSCP %d nowhere itself: the lines moved expect DSCP %d from elsewhere "
                             "(DSCP 1 is Lower-Effort, RFC 8622: traffic that asked to yield); after the move they "
                             "act only on DSCP %d, which nothing in the audited fleet marks" % (host, old, old, new))
        purposes = {0: "add the matches for the new codepoint next to the old ones",
                    1: "move the router's own marking to the new codepoint",
                    2: "remove the matches for the old codepoint"}
        stages = tuple(Stage(purposes[k], text.render(k)) for k in sorted(used_stages))
        changes.append(HostChange(host, "ios", router.host.managed, router.host.source, router.host.text, stages,
                                  actions=tuple(actions), notes=tuple(notes)))
    return changes, choices, None


def _change_windows(changes: t.Sequence[HostChange], choices: t.Sequence[Codepoint]) -> tuple[Window, ...]:
    windows = []
    for choice in choices:
        if choice.new is None:
            continue
        windows.append(Window(
            between="Between adding the DSCP %d matches and moving the marking" % choice.new,
            meanwhile="both codepoints are matched; nothing is marked %d yet, so traffic is treated the old way"
                      % choice.new,
            order="the new match goes in first, with a new sequence number next to the old entry (`ip access-list "
                  "extended N` / `<seq> permit ... dscp %d`), never by deleting the list: `no access-list N ...` "
                  "deletes the whole numbered list and a route-map matching a missing list matches every packet"
                  % choice.new))
        windows.append(Window(
            between="Between moving the marking and removing the DSCP %d matches" % choice.old,
            meanwhile="the marked traffic already carries DSCP %d and is treated as before; traffic arriving with "
                      "DSCP %d is still treated the old way until the last command" % (choice.new, choice.old),
            order="`set ... dscp %d` replaces `set ... dscp %d` in one command, so the class is never unmarked; the "
                  "old matches go last (`no <seq>` inside the list)" % (choice.new, choice.old)))
    return tuple(windows)


# ====================================================================== remark_boundary
def _dscp_syntax(config_text: str, block: t.Iterable[str]) -> str:
    """`set ip dscp` if the router writes it that way, else `set dscp`."""
    if any(re.match(r"\s*set ip dscp\b", raw) for raw in block):
        return "set ip dscp default"
    if any(re.match(r"\s*set dscp\b", raw) for raw in block):
        return "set dscp default"
    if re.search(r"(?m)^\s*set ip dscp\b", config_text):
        return "set ip dscp default"
    return "set dscp default"


def _boundary_ios(router: _Router, interfaces: t.Sequence[str], options: Options,
                  dscps: t.Sequence[int]) -> HostChange:
    text = _Text(router.host.text)
    model = _Model(router, text)
    config = router.config
    actions: list[Action] = []
    notes: list[str] = []
    kept: list[str] = []
    for name in interfaces:
        iface = config.interface(name)
        attached = iface.policy_in
        if iface.acl_in is not None:
            acl = config.acls.get(iface.acl_in.name)
            testing = [e for e in (acl.entries if acl else ()) if e.tests_ds]
            if testing:
                notes.append("%s: input access-list %s tests the DS byte (line %d) before any input policy can "
                             "clear it (IOS order of operations): this boundary cannot protect that line" % (
                                 iface.name, acl.name if acl else "?", testing[0].source.line))
        if attached is not None and attached.name in config.policy_maps:
            pm = config.policy_maps[attached.name]
            block_lines = [text.line(n) for n in text.block(pm.source.line)]
            syntax = _dscp_syntax(router.host.text, block_lines)
            elsewhere = [u for u in model.users("policy-map", pm.name) if not u.startswith("%s in " % iface.name)]
            for cls in pm.classes:
                for action in cls.actions:
                    rewrite = action.rewrite
                    if cls.name != "class-default" and rewrite is not None and rewrite.value >> 2 in dscps:
                        kept.append(
                            "class %s of policy-map %s still marks DSCP %d: a packet matches one class only, so the "
                            "traffic it catches keeps its marking and its treatment (the protection stays), while "
                            "class-default catches everything else and clears it before policy routing" % (
                                cls.name, pm.name, rewrite.value >> 2))
            if elsewhere:
                _boundary_copy(text, iface, pm, syntax, elsewhere, actions)
            else:
                _boundary_merge(text, pm, syntax, actions, iface.name)
        else:
            _boundary_new(text, model, iface, options, actions)
    candidate = text.render(0)
    stages = (Stage("clear the DS field of traffic entering from outside, before anything acts on it", candidate),)
    return HostChange(router.host.host, "ios", router.host.managed, router.host.source, router.host.text, stages,
                      actions=tuple(actions), kept=tuple(kept), notes=tuple(notes))


def _boundary_merge(text: _Text, pm: PolicyMap, syntax: str, actions: list[Action], iface: str) -> None:
    """class-default of the attached policy gets `set dscp default` (replacing a DS write there)."""
    default = next((c for c in pm.classes if c.name == "class-default" and not c.implicit), None)
    if default is not None:
        rewrite = next((a for a in default.actions if a.kind == "rewrite"), None)
        if rewrite is not None:
            raw = text.line(rewrite.source.line)
            indent = raw[:_Text.indent_of(raw)]
            text.replace(rewrite.source.line, indent + syntax)
            actions.append(Action("change", "class-default of policy-map %s (input of %s)" % (pm.name, iface),
                                  ((rewrite.source.line, raw.strip()),),
                                  "class-default now clears the DS field instead"))
            return
        last = text.block(default.source.line)[-1]
        indent = " " * text.child_indent(default.source.line)
        text.insert_after(last, [indent + syntax])
        actions.append(Action("add", "%s in class-default of policy-map %s (input of %s)" % (syntax, pm.name, iface),
                              ((default.source.line, text.line(default.source.line).strip()),),
                              "traffic no other class matches leaves class-default with DSCP 0"))
        return
    block = text.block(pm.source.line)
    class_indent = text.child_indent(pm.source.line)
    set_indent = class_indent + 1
    if len(block) > 2:
        set_indent = text.indent_of(text.line(block[2])) if text.indent_of(text.line(block[2])) > class_indent \
            else class_indent + 1
    text.insert_after(block[-1], [" " * class_indent + "class class-default", " " * set_indent + syntax])
    actions.append(Action("add", "class class-default / %s in policy-map %s (input of %s)" % (syntax, pm.name, iface),
                          ((pm.source.line, pm.source.text),),
                          "an interface takes one input policy: the clearing is merged into the one attached"))


def _boundary_copy(text: _Text, iface: t.Any, pm: PolicyMap, syntax: str, elsewhere: list[str],
                   actions: list[Action]) -> None:
    """The attached policy is shared: a copy with the clearing, for this interface only."""
    name = "%s-%s" % (pm.name, re.sub(r"[^A-Za-z0-9]+", "-", iface.name).strip("-"))
    block = text.block(pm.source.line)
    copied = [text.line(n) for n in block]
    copied[0] = copied[0].replace(pm.name, name, 1)
    # Re-use the merge logic on a scratch text of the copy.
    scratch = _Text("\n".join(copied))
    scratch_pm = dataclasses.replace(pm, source=dataclasses.replace(pm.source, line=1), classes=tuple(
        dataclasses.replace(c, source=dataclasses.replace(c.source, line=c.source.line - pm.source.line + 1),
                            actions=tuple(dataclasses.replace(a, source=dataclasses.replace(
                                a.source, line=a.source.line - pm.source.line + 1)) for a in c.actions))
        for c in pm.classes if not c.implicit))
    _boundary_merge(scratch, scratch_pm, syntax, [], iface.name)
    text.insert_after(block[-1], ["!"] + scratch.render(0).split("\n"))
    line = iface.policy_in.source.line
    raw = text.line(line)
    text.replace(line, raw.replace(pm.name, name))
    actions.append(Action("add", "policy-map %s (a copy of %s with class-default clearing the DS field)" % (
        name, pm.name), ((pm.source.line, pm.source.text),),
        "%s is also used by %s, where clearing the DS field was not asked for" % (pm.name, ", ".join(elsewhere))))
    actions.append(Action("change", "input policy of %s" % iface.name, ((line, raw.strip()),),
                          "attach the copy instead"))


def _boundary_new(text: _Text, model: _Model, iface: t.Any, options: Options, actions: list[Action]) -> None:
    """No input policy yet: a new one with only class-default clearing the DS field."""
    name = options.boundary_policy
    while name in model.config.policy_maps:
        name += "-1"
    syntax = _dscp_syntax("\n".join(text.lines), ())
    first_interface = next(n for n, raw in enumerate(text.lines, 1) if raw.startswith("interface "))
    text.insert_before(first_interface, ["policy-map %s" % name, " class class-default", "  %s" % syntax, "!"])
    last = text.block(iface.source.line)[-1]
    text.insert_after(last, [" service-policy input %s" % name])
    actions.append(Action("add", "policy-map %s (class-default: %s)" % (name, syntax), (),
                          "%s has no input policy: a new one, created before it is attached" % iface.name))
    actions.append(Action("add", "service-policy input %s on %s" % (name, iface.name),
                          ((iface.source.line, iface.source.text),), "attach the new policy"))


def _request_actions(firewall: _Firewall, conflicts: t.Sequence[dict], placement: ipt.ClearPlacement) -> list[Action]:
    rules = sorted({(c["marker"]["line"], c["marker"]["rule"]) for c in conflicts if c["marker"]["host"] ==
                    firewall.host.host})
    actions = [Action("keep", "the rules that write the DS byte", tuple(rules),
                      "they write legacy TOS values that routers read as DSCPs; they may stay, the new rule runs "
                      "after them")] if rules else []
    after = placement.after_line
    shown = ((after, firewall.host.text.split("\n")[after - 1]),) if after else ()
    why = "clears the DSCP of every packet leaving by %s; it goes after the line shown, after every write on that " \
          "path (lines %s)" % (placement.egress or "any interface", _ranges(placement.writers))
    actions.append(Action("add", placement.rule, shown, why))
    return actions


def _ranges(lines: t.Sequence[int]) -> str:
    """[9, 10, 11, 23] -> '9-11, 23'."""
    runs: list[list[int]] = []
    for line in sorted(set(lines)):
        if runs and runs[-1][1] + 1 == line:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in runs) or "none"


def _plan_boundary(fleet: _Fleet, conflicts: t.Sequence[dict], options: Options) -> list[HostChange]:
    changes: list[HostChange] = []
    for host in sorted({c["treatment"]["host"] for c in conflicts}):
        router = fleet.routers.get(host)
        if router is None:
            continue
        here = [c for c in conflicts if c["treatment"]["host"] == host]
        interfaces = sorted({c["treatment"]["interface"] for c in here})
        changes.append(_boundary_ios(router, interfaces, options, sorted({c["dscp"] for c in here})))
    for host in sorted({c["marker"]["host"] for c in conflicts}):
        firewall = fleet.firewalls.get(host)
        if firewall is None:
            continue
        here = [c for c in conflicts if c["marker"]["host"] == host]
        egresses: set[str | None] = set()
        for conflict in here:
            egress = str(conflict["link"]["from"]).partition(":")[2]
            if egress and egress != "*":
                egresses.add(egress)
            else:
                for flow in conflict["flows"]:
                    outs = flow.get("out_interfaces")
                    # Literal names only; "any other", "eth+ (other)" and the like stand for
                    # interfaces no rule names: then the rule takes no -o and clears every egress.
                    if isinstance(outs, list) and all(" " not in name and "(" not in name for name in outs):
                        egresses.update(outs)
                    else:
                        egresses.add(None)
        unknown_egress = None in egresses
        if unknown_egress:
            egresses = {None}
        text = firewall.host.text
        actions: list[Action] = []
        commands: list[str] = []
        rollback: list[str] = []
        notes: list[str] = []
        stages: list[Stage] = []
        for egress in sorted(egresses, key=lambda e: e or ""):
            try:
                placement = ipt.place_clear_rule(text, firewall.host.source, egress, firewall.backend, firewall.era)
            except ipt.PlacementError as error:
                notes.append(str(error))
                continue
            text = placement.candidate
            do, undo = ipt.clear_commands(placement, firewall.ruleset.family)
            commands.extend(do)
            rollback[:0] = undo
            actions.extend(_request_actions(firewall, here, placement))
            notes.append(placement.proof)
        if unknown_egress:
            notes.append("the interface towards the routers is not known (no diffserv_links): the rule clears the "
                         "DSCP of packets leaving by every interface; give diffserv_links to limit it to one")
        if text != firewall.host.text:
            stages.append(Stage("clear the DS field on the way out, after every write", text))
        # iptables-save prints what the audit read, in every era (iptables 1.2 has no -S).
        listing = "iptables-save -t mangle | grep -e '^-A %s '" % ipt.CHAIN
        checks = (
            Check(PRE, listing, ipt.chain_listing(firewall.host.text, firewall.host.source),
                  "the chain is as audited: the rule position in the commands depends on it"),
            Check(POST, listing, ipt.chain_listing(text, firewall.host.source),
                  "the clearing rule is in place, after every TOS and DSCP write"),
            Check(POST, "iptables -t mangle -L POSTROUTING -v -n --line-numbers", ("DSCP set 0x00",),
                  "the packet counter of the DSCP rule grows as traffic leaves"),
        ) if stages else ()
        changes.append(HostChange(host, "iptables", firewall.host.managed, firewall.host.source, firewall.host.text,
                                  tuple(stages), actions=tuple(actions), notes=tuple(notes), commands=tuple(commands),
                                  rollback=tuple(rollback), command_blocks=(tuple(commands),) if commands else (),
                                  checks=checks))
    return changes


def _boundary_windows(changes: t.Sequence[HostChange]) -> tuple[Window, ...]:
    windows = []
    for change in changes:
        if not change.changed:
            continue
        if change.platform == "iptables":
            windows.append(Window(between="%s, one command" % change.host, meanwhile="no window: one rule is inserted",
                                  order="inserted after every rule that writes the byte, so it has the last word"))
            continue
        if any(a.what.startswith("input policy of") for a in change.actions):
            windows.append(Window(
                between="%s, between `no service-policy input` and `service-policy input` of the copy" % change.host,
                meanwhile="no input policy: the router's own marking pauses (its filter lets that traffic through) "
                          "while traffic arriving marked is treated the old way",
                order="the copy is created before the interface switches to it; the switch is two commands"))
        elif any(a.what.startswith("policy-map ") and "class-default" in a.what for a in change.actions):
            windows.append(Window(
                between="%s, between creating the policy and attaching it" % change.host,
                meanwhile="nothing changes until the attach command; IOS refuses to attach a missing policy",
                order="the policy-map is created first, then attached"))
        else:
            windows.append(Window(between="%s, one line in class-default" % change.host,
                                  meanwhile="no window: the policy already attached gains one line",
                                  order="the line takes effect when typed"))
    return tuple(windows)


# ====================================================================== checks
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
        match = re.match(r"access-list (\d+) ", raw)
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
            command = "show running-config | section ^%s$" % re.sub(r"([.*+?^$()\[\]{}|\\])", r"\\\1", key)
        checks.append(Check(PRE, command, tuple(old) or ("(nothing)",),
                            "the configuration is as audited: the commands were computed from it"))
        checks.append(Check(POST, command, tuple(new) or ("(nothing)",), "the change is in place"))
    return tuple(checks)


def acl_sequence_checks(change: HostChange, sequences: t.Mapping[str, t.Mapping[str, int]]) -> tuple[Check, ...]:
    """`show access-lists N` for every list edited by sequence number: the numbers must be as assumed."""
    edited = []
    current = None
    for line in change.commands:
        match = re.match(r"ip access-list (?:standard|extended) (\S+)$", line)
        if match:
            current = match.group(1)
            continue
        if current and re.match(r"\s+(no )?\d+", line) and current not in edited:
            edited.append(current)
        if not line.startswith((" ", "\t")):
            current = current if match else None
    checks = []
    for name in edited:
        known = sequences.get(name, {})

        def listing(text: str) -> tuple[str, ...]:
            config = parse_ios(text, change.source, require_end=False)
            acl = config.acls.get(name)
            if acl is None:
                return ("(no such list)",)
            rows = []
            for entry in acl.entries:
                body = re.sub(r"^(?:access-list \S+ |\d+ )", "", " ".join(entry.source.text.split()))
                rows.append("%s %s" % (known.get(body, "?"), body))
            return tuple(rows)

        checks.append(Check(PRE, "show access-lists %s" % name, listing(change.running),
                            "the commands add and remove entries by these sequence numbers: if the device shows "
                            "others (the list was edited since it was loaded), or none (an image without ACL "
                            "sequence numbering), stop and recompute"))
        checks.append(Check(POST, "show access-lists %s" % name, listing(change.candidate),
                            "the list holds the new entries, in order"))
    return tuple(checks)


class StagedCommandsLike(t.Protocol):
    commands: tuple[str, ...]
    rollback: tuple[str, ...]
    blocks: tuple[tuple[str, ...], ...]
    sequences: t.Mapping[str, t.Mapping[str, int]]


IosPlanner = t.Callable[[str, t.Sequence[str]], StagedCommandsLike]


def attach_commands(change: HostChange, staged: StagedCommandsLike) -> HostChange:
    """An IOS change with the commands and rollback hier_config computed, and its checks."""
    with_commands = dataclasses.replace(change, commands=tuple(staged.commands), rollback=tuple(staged.rollback),
                                        command_blocks=tuple(tuple(b) for b in staged.blocks))
    return dataclasses.replace(with_commands, checks=with_commands.checks + acl_sequence_checks(
        with_commands, staged.sequences))


# ====================================================================== entry point
def _fixes(strategy: str, recheck: Recheck | None, original: int) -> str:
    remaining = len(recheck.conflicts) if recheck is not None else original
    done = original - remaining
    what = {
        "remove_policy": "takes out the treatment that depends on the DS byte",
        "change_dscp": "moves the router's internal codepoint away from the one the firewall writes",
        "remark_boundary": "clears the DS field of traffic entering from outside before anything acts on it",
    }[strategy]
    return "%s: %d of %d conflict(s) gone on re-audit" % (what, done, original)


def _risks(strategy: str, changes: t.Sequence[HostChange], choices: t.Sequence[Codepoint]) -> tuple[str, ...]:
    risks: list[str] = []
    if strategy == "remove_policy":
        for change in changes:
            risks.extend("%s: %s" % (change.host, lost) for lost in change.protections_lost)
    elif strategy == "change_dscp":
        for choice in choices:
            risks.extend(choice.residual)
    else:
        for change in changes:
            if change.platform == "ios" and change.changed:
                risks.append("%s: every packet entering there that no other class matches loses its DSCP, including "
                             "markings a partner sets on purpose (EF for voice, for example): RFC 2474 leaves the "
                             "meaning of a codepoint to each domain, so this is the boundary doing its job, but it "
                             "is a visible change" % change.host)
                risks.extend("%s: %s" % (change.host, kept) for kept in change.kept)
            if change.platform == "iptables" and change.changed and not change.managed:
                risks.append("%s is not ours: its part is a request to its owner and takes effect only if they "
                             "apply it" % change.host)
    for change in changes:
        risks.extend("%s: %s" % (change.host, note) for note in change.notes if "cannot" in note or "not moved" in note)
    return tuple(dict.fromkeys(risks))


def plan_strategy(strategy: str, fleet: _Fleet, findings: t.Mapping[str, t.Any], options: Options,
                  ios_planner: IosPlanner | None = None) -> Plan:
    """One strategy for the whole fleet: changes per host, commands (if a planner is given), re-audit."""
    conflicts = list(findings.get("conflicts", []))
    choices: list[Codepoint] = []
    refused = None
    windows: tuple[Window, ...] = ()
    if strategy == "remove_policy":
        changes = _plan_remove(fleet, conflicts, options)
        windows = _remove_windows(changes)
    elif strategy == "change_dscp":
        changes, choices, refused = _plan_change(fleet, conflicts, options)
        windows = _change_windows(changes, choices)
    elif strategy == "remark_boundary":
        changes = _plan_boundary(fleet, conflicts, options)
        windows = _boundary_windows(changes)
    else:
        raise PlanError("unknown strategy %r (one of %s)" % (strategy, ", ".join(STRATEGIES)))
    finished = []
    for change in changes:
        if change.platform == "ios":
            change = dataclasses.replace(change, checks=ios_checks(change))
            if ios_planner is not None and change.changed:
                change = attach_commands(change, ios_planner(change.running, [s.text for s in change.stages]))
        finished.append(change)
    # Every audited host appears in the bundle, changed or not: a reviewer sees what stays as it is.
    planned_hosts = {change.host for change in finished}
    for name in fleet.audited:
        host = fleet.hosts.get(name)
        if host is not None and name not in planned_hosts:
            finished.append(HostChange(name, host.platform, host.managed, host.source, host.text, ()))
    recheck = recheck_managed = None
    problems: tuple[str, ...] = ()
    if refused is None:
        recheck = _recheck(fleet, finished, "all")
        recheck_managed = _recheck(fleet, finished, "managed")
        problems = _stage_problems(fleet, finished, conflicts)
    return Plan(strategy, TITLES[strategy], tuple(finished), _fixes(strategy, recheck, len(conflicts)),
                _risks(strategy, finished, choices), windows, tuple(choices), refused, recheck, recheck_managed,
                problems)


def build_fleet(findings: t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText], options: Options) -> _Fleet:
    """The audited hosts parsed once, with the links and engines the audit used."""
    return _fleet(findings, hosts, options)


def plan_remediation(findings: t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText],
                     options: Options | None = None, ios_planner: IosPlanner | None = None) -> tuple[Plan, ...]:
    """Every strategy asked for, planned for every host it touches and re-audited.

    `findings` is what analysis.analyze returned; `hosts` the collected texts of the audited
    hosts; `ios_planner(running, stage_texts)` returns IOS commands (hier.staged_commands).
    """
    options = options or Options()
    fleet = _fleet(findings, hosts, options)
    unknown = [strategy for strategy in options.strategies if strategy not in STRATEGIES]
    if unknown:
        raise PlanError("unknown strategy %s (one of %s)" % (", ".join(unknown), ", ".join(STRATEGIES)))
    plans = []
    for strategy in options.strategies:
        try:
            plans.append(plan_strategy(strategy, fleet, findings, options, ios_planner))
        except DiffservError as error:
            # One strategy that cannot be planned (no free ACL sequence number, a candidate that does
            # not parse) must not take the other two with it: it is reported as not planned.
            plans.append(Plan(strategy, TITLES[strategy], (), "not planned", refused=str(error)))
    return tuple(plans)
