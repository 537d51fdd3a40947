# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strategy ``change_dscp``: move the router's internal codepoint to one nobody else uses.

The new codepoint is from pool 2 (xxxx11, experimental/local use), produced by no RFC 1349 TOS
value with any precedence, marked and matched nowhere in the audited fleet (`codepoint_problems`
says why one is not safe; `diffserv_dscp` may ask for one, refused with the reason when unsafe).
Staged so no moment is worse than before or after: the new matches first, then the marking,
then the old matches go.

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import functools
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import TosSetCond
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import TosCond
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    Action, Codepoint, HostChange, Planned, Stage, Strategy, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Fleet
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.router import RouterModel, by_router, markers
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import (
    ConfigText, renumber_entry, swap_values,
)

if t.TYPE_CHECKING:  # pragma: no cover - annotations only (the registry imports this module)
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options


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


def _fleet_marks(fleet: Fleet, dscp: int) -> list[str]:
    """Where in the audited fleet DSCP `dscp` is written."""
    found: list[str] = []

    def writes_dscp(_path: str, keep: int, setv: int, byte_mask: int) -> bool:
        # Traffic arriving unmarked, and with any precedence (old TOS targets keep it).
        return any(byte_mask >> a & 1 and ((a & keep) ^ setv) >> 2 == dscp for a in (p << 5 for p in range(8)))

    for name, firewall in fleet.firewalls.items():
        # Asked of the classes as the map holds them: merged histories are expanded only where the
        # last write lies inside one (a 100,000-rule dump holds millions of expanded classes).
        lines = firewall.marks.last_writers_where(writes_dscp)
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
            if dscp in _dscps_written(rewrite.keep, rewrite.value):
                found.append("%s line %d (%s)" % (name, source.line, source.text))
    return found


@functools.lru_cache(maxsize=1024)
def _dscps_written(keep: int, value: int) -> frozenset[int]:
    """The DSCPs a rewrite `(byte & keep) | value` can write, whatever byte arrives (Rewrite.apply): a big
    router's hundreds of `set` lines hold a handful of (keep, value) pairs, asked again for each codepoint tried."""
    return frozenset(((byte & keep) | value) >> 2 for byte in range(256))


def _fleet_matches(fleet: Fleet, dscp: int) -> list[str]:
    """Where in the audited fleet a rule or line treats DSCP `dscp` differently from DSCP 0."""
    byte = dscp << 2
    found = []
    for name, router in fleet.routers.items():
        config = router.config
        for acl in (*config.acls.values(), *config.acls6.values()):
            for entry in acl.entries:
                if entry.tests_ds and (entry.ds_mask >> byte & 1) != (entry.ds_mask & 1):
                    found.append("%s line %d (%s)" % (name, entry.source.line, entry.source.text))
        for cm in config.class_maps.values():
            for crit in cm.criteria:
                if crit.kind in ("dscp", "precedence") and (crit.ds_mask >> byte & 1) != (crit.ds_mask & 1):
                    found.append("%s line %d (%s)" % (name, crit.source.line, crit.source.text))
    for name, firewall in fleet.firewalls.items():
        for table in firewall.ruleset.tables.values():
            if not table.mentions(("tos", "dscp")):
                continue  # no rule of it can test the byte (any spelling holds "tos" or "dscp"): not read rule by rule
            for chain in table.chains:
                for rule in table.rules(chain):
                    for cond in rule.conditions:
                        if isinstance(cond, TosCond) and \
                                (((byte & cond.mask) == cond.value) != ((0 & cond.mask) == cond.value)):
                            found.append("%s line %d (%s)" % (name, rule.line, rule.text))
                        elif isinstance(cond, TosSetCond) and \
                                (((byte & cond.mask) in cond.values) != ((0 & cond.mask) in cond.values)):
                            # nft's `ip dscp { 1, 3 }`: a set of values under a mask
                            found.append("%s line %d (%s)" % (name, rule.line, rule.text))
    return found


def codepoint_problems(fleet: Fleet, dscp: int) -> list[str]:
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


def choose_codepoint(fleet: Fleet, old: int, taken: t.Collection[int], override: int | None) -> Codepoint:
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


def _reasons(fleet: Fleet, dscp: int) -> tuple[str, ...]:
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


def plan(fleet: Fleet, conflicts: t.Sequence[Conflict], options: Options) -> Planned:
    """Per codepoint in conflict, a safe new one (or the reason there is none); per router, the staged move."""
    changes, choices, refused = _changes(fleet, conflicts, options)
    return Planned(tuple(changes), _windows(changes, choices), tuple(choices), refused)


def _changes(fleet: Fleet, conflicts: t.Sequence[Conflict],
             options: Options) -> tuple[list[HostChange], list[Codepoint], str | None]:
    dscps = sorted({c.dscp for c in conflicts})
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
    for router, on_router in by_router(fleet, conflicts):
        host = router.host.host
        text = ConfigText(router.host.text)
        model = RouterModel(router, text)
        actions: list[Action] = []
        notes: list[str] = []
        used_stages: set[int] = set()
        for choice in choices:
            old, new = choice.old, t.cast(int, choice.new)
            here = [c for c in on_router if c.dscp == old]
            if not here:
                continue
            on_path = {step.line for c in here for step in c.treatment.lines}
            moved = False
            for line, (acl, entry) in sorted(model.entries.items()):
                reached = model.reach.acl6 if acl.family == 6 else model.reach.acl
                if not entry.tests_ds or not (entry.ds_mask >> (old << 2) & 1) or \
                        (acl.name not in reached and line not in on_path):
                    continue
                raw = text.line(line)
                swapped = swap_values(raw, "dscp", old, new, many=False)
                if swapped == raw:
                    if line in on_path:
                        notes.append("line %d (%s) tests DSCP %d without the dscp keyword: not moved" % (
                            line, entry.source.text, old))
                    continue
                if entry.seq is not None:
                    # The list is printed with sequence numbers (IOS-XE): the new entry needs its own,
                    # next to the old one, so both can stand between the first and the last stage.
                    swapped = renumber_entry(swapped, acl, entry)
                text.insert_after(line, [swapped], stage=0)
                text.delete([line], stage=2)
                used_stages.update((0, 2))
                moved = True
                listed = "ipv6 access-list" if acl.family == 6 else "access-list"
                actions.append(Action("change", "entry of %s %s" % (listed, acl.name), ((line, raw.strip()),),
                                      "matches DSCP %d; %s is added before the marking moves and this entry goes "
                                      "after" % (old, swapped.strip())))
            for line, (cm, crit) in sorted(model.criteria.items()):
                if crit.kind != "dscp" or not (crit.ds_mask >> (old << 2) & 1) or \
                        (cm.name not in model.reach.class_map and line not in on_path):
                    continue
                raw = text.line(line)
                swapped = swap_values(raw, "dscp", old, new, many=True)
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
            for pm, cls, line in markers(model, old):
                raw = text.line(line)
                text.replace(line, swap_values(raw, "dscp", old, new, many=False), stage=1)
                used_stages.add(1)
                actions.append(Action("change", "marking in class %s of policy-map %s" % (cls.name, pm.name),
                                      ((line, raw.strip()),), "the router's own marker moves from DSCP %d to %d, "
                                      "in one command (set replaces set)" % (old, new)))
            for rm in model.config.route_maps.values():
                for clause in rm.clauses:
                    for item in clause.sets:
                        if item.rewrite is not None and item.rewrite.keep == 0x03 and item.rewrite.value == old << 2:
                            raw = text.line(item.source.line)
                            text.replace(item.source.line, swap_values(raw, "dscp", old, new, many=False), stage=1)
                            used_stages.add(1)
                            actions.append(Action("change", "set clause of route-map %s %d" % (rm.name, clause.seq),
                                                  ((item.source.line, raw.strip()),),
                                                  "the router's own marker moves from DSCP %d to %d" % (old, new)))
            if not moved:
                notes.append("no line on %s matches DSCP %d with the dscp keyword where it acts: nothing to move"
                             % (host, old))
            if not markers(model, old):
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


def _windows(changes: t.Sequence[HostChange], choices: t.Sequence[Codepoint]) -> tuple[Window, ...]:
    """Per codepoint moved: between the new matches and the marking, and between the marking and the old matches."""
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


def risks(changes: t.Sequence[HostChange], codepoints: t.Sequence[Codepoint]) -> list[str]:
    """What stays exposed after the move: outsiders marking the new codepoint, routers left behind."""
    return [residual for choice in codepoints for residual in choice.residual]


STRATEGY = Strategy("change_dscp", "Move the router's internal codepoint to a safe one",
                    "moves the router's internal codepoint away from the one the firewall writes", plan, risks)
