# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What IOS decides on, before any byte moves: evidence steps, conditions and decision lists.

Every decision the router makes (an ACL, a class-map, a route-map clause, a
policer) is a *decision list*: ordered alternatives `(byte mask, conditions,
steps, value)`; the first alternative whose mask holds the current DS byte
and whose conditions hold for the packet wins.  Conditions are everything
that is not the DS byte (addresses, ports, NBAR, rate): they stay symbolic,
and compare by identity.  `engine.py` composes these lists into paths;
`trace.py` tests the conditions against one concrete packet.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import ALL_BYTES, AclEntry, Evidence, Rewrite

# Condition kinds the configuration alone cannot decide for a packet: a trace reports
# each under `may_match` with file:line, as the Diagnostics do.
UNDECIDABLE_KINDS = frozenset(("unmodeled", "undefined", "label"))


# ---------------------------------------------------------------- evidence
@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One configuration line that decided something on a path.

    `depends_on_dscp`: the line tests the DS byte (so another byte could
    have gone elsewhere here).  `rewrite`: the line writes the byte.
    `unmodeled`: the line may act in a way the model does not know.
    """

    source: Evidence
    what: str
    depends_on_dscp: bool = False
    rewrite: Rewrite | None = None
    unmodeled: bool = False

    def as_dict(self) -> dict[str, t.Any]:
        out = self.source.as_dict()
        out["what"] = self.what
        out["depends_on_dscp"] = self.depends_on_dscp
        if self.rewrite is not None:
            out["rewrite"] = self.rewrite.as_dict()
        if self.unmodeled:
            out["unmodeled"] = True
        return out


# ---------------------------------------------------------------- conditions
# Conditions compare by identity: one object per configuration line, shared
# by every path that crosses it, so two paths "under the same conditions"
# are recognisable by the objects they hold.
@dataclasses.dataclass(frozen=True, eq=False)
class Condition:
    """Something other than the DS byte that must hold for a path.

    `default`: its value for a plain packet (no NBAR match, within rate,
    matching no specific ACL entry).  `test(packet)` returns True, False
    or None (cannot tell from the packet given).
    """

    kind: str
    text: str
    source: Evidence | None
    default: bool = False

    depends_on_dscp: t.ClassVar[bool] = False

    def test(self, packet: t.Any) -> bool | None:
        return None

    def as_dict(self) -> dict[str, t.Any]:
        out = {"kind": self.kind, "text": self.text, "depends_on_dscp": False}
        if self.source is not None:
            out.update(file=self.source.file, line=self.source.line, line_text=self.source.text)
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class AclCondition(Condition):
    entry: AclEntry | None = None

    def test(self, packet: t.Any) -> bool | None:
        return self.entry.matches_packet(packet) if self.entry else None


@dataclasses.dataclass(frozen=True, eq=False)
class AnyOfCondition(Condition):
    """Consecutive ACL entries with the same action and DS test: any of them."""

    members: tuple[tuple[Condition, Step | None], ...] = ()

    def decide(self, holds: t.Callable[[Condition], bool | None]) -> tuple[bool | None, Step | None]:
        """Whether any member holds, and the step of the first that does (for a trace)."""
        unknown = False
        for cond, step in self.members:
            verdict = holds(cond)
            if verdict:
                if step is None and isinstance(cond, AclCondition) and cond.entry is not None:
                    step = entry_step(cond.entry)
                return True, step
            if verdict is None:
                unknown = True
        return (None if unknown else False), None

    def test(self, packet: t.Any) -> bool | None:
        return self.decide(lambda c: c.test(packet))[0]

    def as_dict(self) -> dict[str, t.Any]:
        out = Condition.as_dict(self)
        out["any_of"] = [cond.as_dict() for cond, _step in self.members]
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class NbarCondition(Condition):
    """An NBAR criterion of class-map `class_map`: may or may not match, whatever the byte."""

    class_map: str = ""

    def test(self, packet: t.Any) -> bool | None:
        """Matched when the packet lists the class-map or this criterion (`[match] [protocol] http url ...`)."""
        nbar = packet.nbar
        if self.class_map in nbar:
            return True
        text = self.text
        bare = text[len("protocol "):] if text.startswith("protocol ") else text
        return text in nbar or bare in nbar or ("match " + text) in nbar


@dataclasses.dataclass(frozen=True, eq=False)
class RateCondition(Condition):
    colors: tuple[str, ...] = ()

    def test(self, packet: t.Any) -> bool | None:
        return packet.rate in self.colors


@dataclasses.dataclass(frozen=True, eq=False)
class RouteCondition(Condition):
    """`set ip default next-hop` / `set default interface` act only without an explicit route."""

    def test(self, packet: t.Any) -> bool | None:
        return not packet.has_route


# ---------------------------------------------------------------- decision lists
class Alt(t.NamedTuple):
    mask: int
    conds: tuple[Condition, ...]
    steps: tuple[Step, ...]
    value: t.Any


def _all3(conds: t.Iterable[Condition], holds: t.Callable[[Condition], bool | None]) -> bool | None:
    """Conjunction with unknowns: False wins, then None, then True."""
    unknown = False
    for cond in conds:
        verdict = holds(cond)
        if verdict is False:
            return False
        if verdict is None:
            unknown = True
    return None if unknown else True


@dataclasses.dataclass(frozen=True, eq=False)
class DecisionCondition(Condition):
    """"<decision list> yields <value>", for the DS bytes of one class.

    Stands for every alternative of an ACL, class-map or route-map clause
    that leads to the same outcome, so a pipeline branches once per outcome
    (permit/deny, match/no match) instead of once per line: exact, and
    testable against a concrete packet by walking `alts` in order.
    `by` are the lines that can yield the value, `unless` the earlier
    lines that would decide otherwise.
    """

    alts: tuple[Alt, ...] = ()
    value: t.Any = None

    @property
    def by(self) -> list[Evidence]:
        return [a.steps[0].source for a in self.alts if a.value == self.value and a.steps]

    @property
    def unless(self) -> list[Evidence]:
        out = []
        for alt in self.alts:
            if alt.value == self.value:
                break
            if alt.steps:
                out.append(alt.steps[0].source)
        return out

    def decide(self, holds: t.Callable[[Condition], bool | None]) -> tuple[bool | None, Alt | None]:
        for alt in self.alts:
            verdict = _all3(alt.conds, holds)
            if verdict:
                return alt.value == self.value, alt
            if verdict is None:
                return None, None
        return None, None

    def test(self, packet: t.Any) -> bool | None:
        return self.decide(lambda c: c.test(packet))[0]

    def as_dict(self) -> dict[str, t.Any]:
        out = Condition.as_dict(self)
        out["by"] = [e.as_dict() for e in self.by]
        out["unless"] = [e.as_dict() for e in self.unless]
        return out


DL = t.Tuple[Alt, ...]


def dl_const(value: t.Any, steps: tuple[Step, ...] = ()) -> DL:
    return (Alt(ALL_BYTES, (), steps, value),)


def dl_cond(cond: Condition, steps: tuple[Step, ...] = ()) -> DL:
    return (Alt(ALL_BYTES, (cond,), steps, True), Alt(ALL_BYTES, (), (), False))


def simplify(alts: t.Iterable[Alt]) -> DL:
    """Drop what earlier unconditional alternatives already decide."""
    out = []
    covered = 0
    for alt in alts:
        mask = alt.mask & ~covered
        if not mask:
            continue
        if mask != alt.mask:
            alt = alt._replace(mask=mask)
        out.append(alt)
        if not alt.conds:
            covered |= mask
            if covered == ALL_BYTES:
                break
    return tuple(out)


def merge_runs(dl: DL, label: str, summaries: dict[int, Condition]) -> DL:
    """Consecutive single-condition alternatives with one outcome and mask: one any-of alternative.

    Exact for a decision list (the first of them that holds wins, and they
    all lead to the same place) and keeps paths from multiplying: four NBAR
    `match protocol` lines of one match-any class are one way through it.
    """
    out: list[Alt] = []
    run: list[Alt] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            members = tuple((a.conds[0], a.steps[0] if a.steps else None) for a in run)
            kinds = {c.kind for c, _s in members}
            first = run[0].conds[0].source
            cond = AnyOfCondition(kinds.pop() if len(kinds) == 1 else "any-of",
                                  "%s: any of %d criteria" % (label, len(run)), first, False, members=members)
            steps: tuple[Step, ...] = ()
            if run[0].steps:
                lines = [a.steps[0].source.line for a in run if a.steps]
                steps = (Step(run[0].steps[0].source, "%s: one of %d criteria (lines %s)" % (
                    label, len(run), ", ".join(str(n) for n in lines)), run[0].steps[0].depends_on_dscp),)
            for step in steps:
                summaries[id(step)] = cond
            out.append(Alt(run[0].mask, (cond,), steps, run[0].value))
        run.clear()

    for alt in dl:
        if len(alt.conds) == 1 and len(alt.steps) <= 1 and run and run[0].value == alt.value and run[0].mask == alt.mask:
            run.append(alt)
            continue
        flush()
        if len(alt.conds) == 1 and len(alt.steps) <= 1:
            run.append(alt)
        else:
            out.append(alt)
    flush()
    return tuple(out)


def dl_not(dl: DL) -> DL:
    return tuple(alt._replace(value=not alt.value) for alt in dl)


def combine(left: DL, right: DL, on: bool) -> DL:
    """AND (on=True: right decides where left is True) or OR (on=False)."""
    out = []
    for a in left:
        if a.value != on:
            out.append(a)
            continue
        for b in right:
            mask = a.mask & b.mask
            if mask:
                out.append(Alt(mask, a.conds + b.conds, a.steps + b.steps, b.value))
    return simplify(out)


def entry_step(entry: AclEntry) -> Step:
    """The step of one ACL entry, made when a path or a trace needs it."""
    return Step(entry.source, "access-list %s: %s" % (entry.acl, entry.action), entry.tests_ds, None, bool(entry.unknown))
