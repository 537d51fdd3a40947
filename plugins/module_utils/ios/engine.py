# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine: runs an interface's pipeline over all 256 DS bytes at once.

Order of operations (Cisco document 22141; PBR placement from document
27842): inbound, the input ACL sees the byte as it arrived, then the
input policy classifies, marks and polices, then policy routing sees the
byte as re-marked, then routing.  Outbound: output ACL, output policy
(marking, policing, queueing).

Each decision list (decisions.py) is first compressed to one alternative
per outcome and byte class, so a pipeline branches once per outcome of
each stage, not once per line.  Running the pipeline over all 256 bytes at
once (a mask is a 256-bit int) yields ordered *paths*; the bytes are then
split into classes that take the same paths (tables.py).

A rewrite keeps part of the byte (`set dscp` keeps ECN), so a path's mask
is always a set of *arriving* bytes: a later test on the rewritten byte is
pulled back through the rewrite (`Engine._preimage`).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.decisions import (
    DL,
    AclCondition,
    Alt,
    AnyOfCondition,
    Condition,
    DecisionCondition,
    NbarCondition,
    RateCondition,
    RouteCondition,
    Step,
    combine,
    dl_cond,
    dl_const,
    dl_not,
    entry_step,
    merge_runs,
    simplify,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.acl import implicit_entries6
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import undefined_acl_reason, unused_definitions
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    ALL_BYTES,
    AclEntry,
    ClassAction,
    Evidence,
    Interface,
    IosConfig,
    PoliceAction,
    PolicyClass,
    PolicyMap,
    Rewrite,
    RouteMap,
    RouteMapClause,
    Unmodeled,
    Unused,
    find_interface,
    gc_paused,
    same_interface,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.tables import (
    DROPPED, FORWARDED, NULL_ROUTED, POLICY_ROUTED, FateClass, FateTable, Path, new_path,
)

DIRECTIONS = ("in", "out")

# A re-mark of the DSCP to a value the model does not know (ECN kept, as `set dscp` keeps it).
_UNKNOWN_DSCP = Rewrite(keep=0x03, value=0, text="DSCP re-marked to an unknown value", unknown=True)


# ---------------------------------------------------------------- paths
class _State(t.NamedTuple):
    """A path while the pipeline runs; becomes a Path at the end."""

    mask: int
    conds: tuple[Condition, ...]
    steps: tuple[Step, ...]
    keep: int = 0xFF
    value: int = 0
    classes: tuple[str, ...] = ()
    police: tuple[str, ...] = ()
    route: str = FORWARDED
    egress: str | None = None
    unmodeled: bool = False
    # Bits of the current byte written with a value the configuration does not give.
    unknown: int = 0


# NamedTuple._replace goes through keyword handling; these hot paths build the tuple directly.
_new_state = tuple.__new__


def _add(state: _State, *steps: Step) -> _State:
    return _new_state(_State, (state[0], state[1], state[2] + steps) + state[3:])


def _rewrite(state: _State, step: Step) -> _State:
    rw = step.rewrite
    if rw is None:
        raise AssertionError("a rewrite step without its rewrite")
    keep = state.keep & rw.keep
    value = (state.value & rw.keep) | rw.value
    # Invariant: `unknown` shares no bit with `keep` or `value` (unknown bits read as 0).
    unknown = state[10] & rw.keep
    if rw.unknown:
        unknown |= ~rw.keep & 0xFF
    # An unknown value is something the model did not compute: the path says so.
    return _new_state(_State, (state[0], state[1], state[2] + (step,), keep, value) + state[5:9]
                      + (state[9] or rw.unknown, unknown))


@dataclasses.dataclass(frozen=True, slots=True)
class SharedTransit:
    """One computed transit table and every exit interface it stands for.

    `table` is computed for `out_interfaces[0]`.  The other exits have the
    same output ACL and policy (by name), no unmodelled line of their own,
    and the same answer to "is this where policy routing sends it": every
    byte takes the same decisions to the same fate on each of them.  What
    differs is only the line that attaches the ACL or policy to each exit
    (`interface Gi0/2: output access-list 101` at its own line):
    `transit_tables` gives each exit a view with its own `stages` and
    `out_interface`, while the paths of the shared classes cite the first
    exit's attachment lines.  `transit_table` computes one exit alone, with
    its own lines everywhere.
    """

    table: FateTable
    out_interfaces: tuple[str, ...]


# ---------------------------------------------------------------- the engine
# What a stage yields: a path so far, and its final action if the stage ended it.
_Branch = t.Tuple[_State, t.Optional[str]]
_Stage = t.Callable[[_State], t.Iterator[_Branch]]
# A path's treatment (Path.treatment), outcome, and whether a plain packet takes it (Path.is_default).
_Fact = t.Tuple[t.Tuple[t.Any, ...], t.Tuple[t.Any, ...], bool]
# An output-side branch run from an empty history, with its conditions' identities and plainness.
_Rel = t.Tuple[_State, t.Optional[str], t.Tuple[int, ...], bool]


class Engine:
    """Evaluates one configuration; caches decision lists across interfaces."""

    def __init__(self, config: IosConfig, family: int = 4) -> None:
        if family not in (4, 6):
            raise DiffservError("family must be 4 or 6, not %r" % (family,))
        self.config = config
        # 4: IPv4 packets (`ip access-group`, `ip policy`); 6: IPv6 packets (`ipv6 traffic-filter`,
        # `ipv6 policy`); QoS policies act on both, each criterion and marking with its reach.
        self.family = family
        self._acls = config.acls if family == 4 else config.acls6
        self._acl: dict[str, DL | None] = {}
        self._class: dict[str, DL] = {}
        self._clause: dict[int, DL] = {}
        self._police: dict[int, DL] = {}
        self._pre: dict[tuple[int, int, int], int] = {}
        self._keep_classes: dict[int, dict[int, int]] = {}
        # Summary steps ("one of lines 79-83") -> the any-of or decision condition
        # they stand for, so a trace can name the one line that decided.
        self.summaries: dict[int, Condition] = {}
        self._decisions: dict[tuple[int, tuple[int, ...], t.Any], DecisionCondition] = {}
        self._compressed: dict[tuple[str, str], DL] = {}
        self._stage_memo: dict[tuple[t.Any, ...], list[_Branch]] = {}
        self._vague_pre: dict[tuple[int, int, int, int], tuple[int, int]] = {}
        self._vague: dict[tuple[int, int], Condition] = {}
        self._may: dict[tuple[str, int, str], Condition] = {}

    # -- byte arithmetic
    def _preimage(self, keep: int, value: int, mask: int) -> int:
        """Arriving bytes b with ((b & keep) | value) in mask."""
        if keep == 0xFF or mask == ALL_BYTES:
            return mask
        key = (keep, value, mask)
        found = self._pre.get(key)
        if found is not None:
            return found
        groups = self._keep_classes.get(keep)
        if groups is None:
            groups = {}
            for byte in range(256):
                low = byte & keep
                groups[low] = groups.get(low, 0) | (1 << byte)
            self._keep_classes[keep] = groups
        out = 0
        for low, members in groups.items():
            if (mask >> (low | value)) & 1:
                out |= members
        self._pre[key] = out
        return out

    def _preimage_unknown(self, keep: int, value: int, unknown: int, mask: int) -> tuple[int, int]:
        """Arriving bytes whose rewritten byte is in `mask` whatever the unknown bits are, and those where it may be."""
        key = (keep, value, unknown, mask)
        found = self._vague_pre.get(key)
        if found is not None:
            return found
        fills = [x for x in range(256) if x & ~unknown == 0]
        sure = maybe = 0
        for byte in range(256):
            base = (byte & keep) | value
            inside = [(mask >> (base | x)) & 1 for x in fills]
            if all(inside):
                sure |= 1 << byte
            elif any(inside):
                maybe |= 1 << byte
        self._vague_pre[key] = (sure, maybe)
        return sure, maybe

    def _vague_condition(self, alt: Alt, unknown: int) -> Condition:
        """"The unknown value written earlier passes this test": one object per test and unknown bits."""
        key = (id(alt), unknown)
        found = self._vague.get(key)
        if found is None:
            source = alt.steps[0].source if alt.steps else None
            found = self._vague[key] = Condition(
                "unmodeled", "a DS byte re-marked to an unknown value may pass %s" % (
                    source.text if source is not None else "this test"), source)
        return found

    def _branch(self, state: _State, dl: DL) -> t.Iterator[tuple[_State, t.Any]]:
        """Compose a path with a decision list, in order (depth-first keeps first-match semantics)."""
        remaining = state.mask
        keep, value = state.keep, state.value
        unknown = state[10]
        if unknown:
            yield from self._branch_vague(state, dl)
            return
        for alt in dl:
            hit = remaining & (alt.mask if keep == 0xFF else self._preimage(keep, value, alt.mask))
            if not hit:
                continue
            yield _new_state(_State, (hit, state[1] + alt.conds, state[2] + alt.steps) + state[3:]), alt.value
            if not alt.conds:
                remaining &= ~hit
                if not remaining:
                    return

    def _branch_vague(self, state: _State, dl: DL) -> t.Iterator[tuple[_State, t.Any]]:
        """`_branch` after a re-mark to an unknown value: a test the unknown bits can decide
        either way becomes a may-match, under a condition naming the test."""
        remaining = state.mask
        keep, value, unknown = state.keep, state.value, state[10]
        # Unconditional alternatives the unknown value may fall in, for the fallback below.
        open_ends: list[tuple[int, Alt]] = []
        for alt in dl:
            if alt.mask == ALL_BYTES:
                sure, maybe = ALL_BYTES, 0
            else:
                sure, maybe = self._preimage_unknown(keep, value, unknown, alt.mask)
            vague = remaining & maybe
            if vague:
                conds = state[1] + alt.conds + (self._vague_condition(alt, unknown),)
                yield _new_state(_State, (vague, conds, state[2] + alt.steps) + state[3:]), alt.value
                if not alt.conds:
                    open_ends.append((vague, alt))
            hit = remaining & sure
            if hit:
                yield _new_state(_State, (hit, state[1] + alt.conds, state[2] + alt.steps) + state[3:]), alt.value
                if not alt.conds:
                    remaining &= ~hit
                    if not remaining:
                        return
        # The value is in one of the alternatives' sets, although each "may pass" alone
        # could be false: what no other decided goes to the alternative holding the most
        # byte values (for an ACL denying one DSCP, the permit), so a packet always has a
        # way through and the plain reading is the likeliest one; the others stay listed.
        open_ends.sort(key=lambda item: -bin(item[1].mask).count("1"))
        for vague, alt in open_ends:
            last = remaining & vague
            if last:
                yield _new_state(_State, (last, state[1], state[2] + alt.steps) + state[3:]), alt.value
                remaining &= ~last

    # -- decision lists
    def _compress(self, dl: DL, kind: str, label: str, words: t.Mapping[t.Any, str]) -> DL:
        """One alternative per outcome and byte class (see DecisionCondition).

        The bytes are split into classes that see the same live
        alternatives; within a class every outcome but the last gets the
        condition "`label` yields it", the last is what remains.
        """
        classes: list[tuple[int, tuple[int, ...], bool]] = [(ALL_BYTES, (), False)]
        for index, alt in enumerate(dl):
            split = []
            for mask, live, closed in classes:
                inside = mask & alt.mask
                if closed or not inside:
                    split.append((mask, live, closed))
                    continue
                if inside != mask:
                    split.append((mask & ~alt.mask, live, closed))
                split.append((inside, live + (index,), not alt.conds))
            classes = split
        out: list[Alt] = []
        for mask, live, _closed in classes:
            if not live:
                continue
            values: list[t.Any] = []
            for index in live:
                if dl[index].value not in values:
                    values.append(dl[index].value)
            for position, value in enumerate(values):
                group = [index for index in live if dl[index].value == value]
                last = position == len(values) - 1
                if len(group) == 1 and (group[0] == live[0] or last):
                    alt = dl[group[0]]
                    out.append(Alt(mask, () if last else alt.conds, alt.steps, value))
                    continue
                cond = self._decision(dl, live, value, kind, label, words)
                sources = [dl[i].steps[0].source for i in group if dl[i].steps]
                step = Step(sources[0] if sources else cond.source or Evidence("", 0, ""),
                            "%s: %s (%s)" % (label, words.get(value, str(value)), _lines(sources)),
                            any(dl[i].mask != ALL_BYTES for i in group))
                self.summaries[id(step)] = cond
                out.append(Alt(mask, () if last else (cond,), (step,), value))
        return tuple(out)

    def _decision(self, dl: DL, live: tuple[int, ...], value: t.Any, kind: str, label: str,
                  words: t.Mapping[t.Any, str]) -> DecisionCondition:
        key = (id(dl), live, value)
        found = self._decisions.get(key)
        if found is not None:
            return found
        alts = tuple(dl[i] for i in live)
        source = None
        for alt in alts:
            if alt.value == value and alt.steps:
                source = alt.steps[0].source
                break
        default = False
        for alt in alts:
            if all(c.default for c in alt.conds):
                default = alt.value == value
                break
        cond = DecisionCondition(kind, "%s %s" % (label, words.get(value, str(value))),
                                 source, default, alts=alts, value=value)
        self._decisions[key] = cond
        return cond

    def acl_stage_dl(self, name: str, filtering: bool = False) -> DL | None:
        """An applied ACL, one alternative per outcome: permit or deny.

        `filtering`: the list filters an interface (`ipv6 traffic-filter`), where an
        IPv6 list's implicit neighbor-discovery permits apply (acl.implicit_entries6);
        a list that classifies (class-map, route-map) sees forwarded traffic, which
        link-local neighbor discovery never is.
        """
        filtering = filtering and self.family == 6
        key = ("acl-filter" if filtering else "acl", name)
        found = self._compressed.get(key)
        if found is None:
            raw = self.acl_dl(name, filtering)
            if raw is None:
                return None
            found = self._compressed[key] = self._compress(raw, "acl", "access-list %s" % name, _ACL_WORDS)
        return found

    def acl_bool_dl(self, name: str) -> DL | None:
        """An ACL used to classify: permit = match, deny = no match (never a drop)."""
        key = ("acl-bool", name)
        found = self._compressed.get(key)
        if found is None:
            stage = self.acl_stage_dl(name)
            if stage is None:
                return None
            # The outcome-compressed list maps over exactly: "permits" is "matches".
            found = self._compressed[key] = tuple(
                Alt(a.mask, a.conds, a.steps if a.value == "permit" else (), a.value == "permit") for a in stage)
        return found

    def acl_dl(self, name: str, filtering: bool = False) -> DL | None:
        """permit/deny decision list of an ACL, or None when it is not defined."""
        memo = ("\0filter " + name) if filtering else name
        if memo in self._acl:
            return self._acl[memo]
        acl = self._acls.get(name)
        if acl is None:
            self._acl[memo] = None
            return None
        entries = acl.entries + (implicit_entries6(name, acl.source) if filtering else ())
        alts: list[Alt] = []
        run: list[AclCondition] = []
        run_entries: list[AclEntry] = []
        run_key: tuple[int, str] | None = None

        def flush() -> None:
            key = run_key
            if not run or key is None:
                return
            if len(run) == 1:
                alts.append(Alt(key[0], (run[0],), (entry_step(run_entries[0]),), key[1]))
            else:
                first, last = run_entries[0].source, run_entries[-1].source
                text = "access-list %s lines %d-%d (%d entries, any of)" % (name, first.line, last.line, len(run))
                step = Step(first, "access-list %s: %s (one of %d entries, lines %d-%d)" % (
                    name, key[1], len(run), first.line, last.line), key[0] != ALL_BYTES)
                # Member steps are made only if a trace needs one (AnyOfCondition.decide).
                cond = AnyOfCondition("acl", text, first, False, members=tuple((c, None) for c in run))
                self.summaries[id(step)] = cond
                alts.append(Alt(key[0], (cond,), (step,), key[1]))
            run.clear()
            run_entries.clear()

        prefix = "" if acl.source.text.startswith("access-list") else "access-list %s: " % name
        for entry in entries:
            if entry.unconditional:
                flush()
                run_key = None
                alts.append(Alt(entry.ds_mask, (), (entry_step(entry),), entry.action))
                continue
            kind = "unmodeled" if entry.unknown else "acl"
            cond = AclCondition(kind, prefix + entry.source.text, entry.source, False, entry=entry)
            key = (entry.ds_mask, entry.action)
            if key != run_key:
                flush()
                run_key = key
            run.append(cond)
            run_entries.append(entry)
        flush()
        alts.append(Alt(ALL_BYTES, (), (Step(acl.source, "access-list %s: implicit deny (no entry matched)" % name),), "deny"))
        dl = simplify(alts)
        self._acl[memo] = dl
        return dl

    def class_dl(self, name: str, depth: int = 0) -> DL:
        """True/False: does the class-map match."""
        found = self._class.get(name)
        if found is not None:
            return found
        cm = self.config.class_maps.get(name)
        if cm is None or depth > 8:
            dl = dl_cond(Condition("undefined", "class-map %s not defined" % name, None))
            self._class[name] = dl
            return dl
        parts = []
        for crit in cm.criteria:
            what = "class-map %s: match %s%s" % (name, "not " if crit.negate else "", crit.text)
            undefined_acl = crit.kind == "acl" and (crit.ref or "") not in self._acls
            other_family = False
            if self.family == 6:
                # An IPv4-only criterion (`match ip dscp`), or an IPv4 list, matches no IPv6 packet.
                other_family = crit.family == 4 or (undefined_acl and (crit.ref or "") in self.config.acls)
                undefined_acl = undefined_acl and not other_family
            step = Step(crit.source, what, crit.kind in ("dscp", "precedence"),
                        unmodeled=crit.kind in ("unknown", "label") or undefined_acl)
            if other_family:
                part: DL = dl_const(False)
            elif crit.kind in ("dscp", "precedence"):
                part = (Alt(crit.ds_mask, (), (step,), True), Alt(ALL_BYTES, (), (), False))
            elif crit.kind == "any":
                part = dl_const(True, (step,))
            elif crit.kind == "acl":
                acl = self.acl_bool_dl(crit.ref or "")
                if acl is None:
                    # Cisco's documentation does not say how a class-map treats a missing
                    # ACL (the route-map case, "matches every packet", is a PBR fact):
                    # may-match, the same words as the Diagnostic (links.py).
                    part = dl_cond(Condition("undefined", undefined_acl_reason(name, crit.ref or ""), crit.source), (step,))
                else:
                    # QoS classification: an ACL deny means "not in this class", never a drop.
                    part = tuple(a._replace(steps=(step,) + a.steps) if a.value else a for a in acl)
            elif crit.kind == "class-map":
                inner = self.class_dl(crit.ref or "", depth + 1)
                part = tuple(a._replace(steps=(step,) + a.steps) if a.value else a for a in inner)
            elif crit.kind == "nbar":
                part = dl_cond(NbarCondition("nbar", crit.text, crit.source, False, class_map=name), (step,))
            elif crit.kind == "other":
                part = dl_cond(Condition("other", crit.text, crit.source), (step,))
            elif crit.kind == "label":
                part = dl_cond(Condition("label", "class-map %s: match %s (a field outside the IP header, "
                                                  "may match)" % (name, crit.text), crit.source), (step,))
            else:
                part = dl_cond(Condition("unmodeled", crit.text, crit.source), (step,))
            if crit.negate:
                part = dl_not(part)
            parts.append(part)
        if not parts:
            dl = dl_const(False)
        else:
            dl = parts[0]
            for part in parts[1:]:
                dl = combine(dl, part, cm.match_all)
            dl = merge_runs(simplify(dl), "class-map %s" % name, self.summaries)
            dl = self._compress(dl, "class-map", "class-map %s" % name, _MATCH_WORDS)
        self._class[name] = dl
        return dl

    def police_dl(self, police_action: ClassAction) -> DL:
        found = self._police.get(id(police_action))
        if found is not None:
            return found
        police = police_action.police
        if police is None:
            raise AssertionError("a police step without its policer")
        colors: list[tuple[str, tuple[PoliceAction, ...], tuple[str, ...], bool]] = [
            ("conform", police.conform, ("conform",), True)]
        if police.violate:
            colors.append(("exceed", police.exceed, ("exceed",), False))
            colors.append(("violate", police.violate, ("violate",), False))
        else:
            colors.append(("exceed", police.exceed, ("exceed", "violate"), False))
        alts = []
        for color, actions, matches, default in colors:
            cond = RateCondition("rate", "traffic %s the policer (%s)" % (
                "within" if color == "conform" else color + "s", police.rate or "rate"), police.source, default,
                colors=matches)
            alts.append(Alt(ALL_BYTES, (cond,), (), (color, actions)))
        dl = tuple(alts)
        self._police[id(police_action)] = dl
        return dl

    def clause_dl(self, rm: RouteMap, clause: RouteMapClause) -> DL:
        """True/False: does the clause match; True alternatives start with the clause line."""
        found = self._clause.get(id(clause))
        if found is not None:
            return found
        head = Step(clause.source, "route-map %s %s %d" % (rm.name, "permit" if clause.permit else "deny", clause.seq))
        family = self.family
        # `match ip address` reads IPv4 lists, `match ipv6 address` IPv6 lists.  An IPv4
        # table reads a `match ipv6 address` as it always did (a clause it cannot read:
        # may-match); an IPv6 table reads a `match ip address` as matching no IPv6 packet.
        acl_matches = [m for m in clause.matches if m.kind == "acl" and (m.family or 4) == family]
        others = [m for m in clause.matches if m.kind != "acl" or (family == 4 and m.family == 6)]
        parts: list[DL] = []
        if family == 6 and any(m.kind == "acl" and m.family == 4 for m in clause.matches):
            first = next(m for m in clause.matches if m.kind == "acl" and m.family == 4)
            parts.append(dl_const(False, (Step(first.source, "route-map %s %d: an IPv4 access list matches no IPv6 "
                                                             "packet" % (rm.name, clause.seq)),)))
        if acl_matches:
            # `match ip address A B` and several such lines: any of the lists.
            group: DL | None = None
            for match in acl_matches:
                for ref in match.refs:
                    step = Step(match.source, "route-map %s %d: match %s address %s" % (
                        rm.name, clause.seq, "ip" if family == 4 else "ipv6", ref))
                    acl = self.acl_bool_dl(ref)
                    if acl is None:
                        missing = Step(match.source, "access-list %s is not defined: the clause matches every packet" % ref)
                        part: DL = dl_const(True, (missing,))
                    else:
                        part = tuple(a._replace(steps=(step,) + a.steps) if a.value else a for a in acl)
                    group = part if group is None else combine(group, part, False)
            if group is None:
                raise AssertionError("a class step without its class group")
            parts.append(group)
        for match in others:
            step = Step(match.source, "route-map %s %d: %s" % (rm.name, clause.seq, match.source.text),
                        unmodeled=match.kind == "unknown" or match.kind == "acl")
            kind = "other" if match.kind == "length" else "unmodeled"
            parts.append(dl_cond(Condition(kind, match.source.text, match.source), (step,)))
        if not parts:
            everything = Step(clause.source, "route-map %s %d: no match clause, matches every packet" % (rm.name, clause.seq))
            dl = dl_const(True, (everything,))
        else:
            dl = parts[0]
            for part in parts[1:]:
                dl = combine(dl, part, True)
            dl = self._compress(simplify(dl), "route-map", "route-map %s %d" % (rm.name, clause.seq), _MATCH_WORDS)
        dl = tuple(a._replace(steps=(head,) + a.steps) if a.value else a for a in dl)
        self._clause[id(clause)] = dl
        return dl

    # -- stages
    def _acl_stage(self, attachment_step: Step, name: str) -> _Stage:
        def stage(state: _State) -> t.Iterator[_Branch]:
            state = _add(state, attachment_step)
            acl = self._acls.get(name)
            if acl is not None and acl.kind == "other":
                # A MAC or protocol-type list under `ip access-group`: may drop, we cannot say which.
                cond = Condition("unmodeled", "non-IPv4 access-list %s" % name, acl.source)
                step = Step(acl.source, "access-list %s: not an IPv4 list, not modelled" % name, unmodeled=True)
                yield _add(state, step)._replace(conds=state.conds + (cond,), unmodeled=True), DROPPED
                yield _add(state, step)._replace(unmodeled=True), None
                return
            dl = self.acl_stage_dl(name, filtering=True)
            if dl is None or (acl is not None and not acl.entries):
                passes = Step(attachment_step.source, "access-list %s is not defined or empty: every packet passes" % name)
                yield _add(state, passes), None
                return
            for sub, action in self._branch(state, dl):
                yield sub, (DROPPED if action == "deny" else None)

        return stage

    def _relative(self, key: tuple[t.Any, ...], state: _State,
                  compute: t.Callable[[_State], t.Iterable[_Branch]]) -> t.Iterator[_Branch]:
        """Run a stage from an empty history, once per (stage, rewrite so far); graft the result onto `state`.

        A stage's decisions depend only on which bytes arrive and how they
        were rewritten, not on the conditions and lines that led there, so
        interfaces sharing a policy or route-map share its evaluation.
        """
        full = key + (state.keep, state.value, state[10])
        found = self._stage_memo.get(full)
        if found is None:
            # Evaluated for every byte; a narrower arrival set is a restriction of it.
            start = _State(ALL_BYTES, (), (), state.keep, state.value, unknown=state[10])
            found = self._stage_memo[full] = list(compute(start))
        mask = state.mask
        conds, steps, classes, police = state.conds, state.steps, state.classes, state.police
        for rel, terminal in found:
            hit = rel.mask & mask
            if not hit:
                continue
            yield _new_state(_State, (
                hit, conds + rel.conds, steps + rel.steps, rel.keep, rel.value,
                classes + rel.classes, police + rel.police,
                rel.route if rel.route != FORWARDED or rel.egress is not None else state.route,
                rel.egress if rel.egress is not None else state.egress,
                state.unmodeled or rel.unmodeled,
                rel[10],
            )), terminal

    def _policy_stage(self, attachment_step: Step, name: str) -> _Stage:
        def compute(start: _State) -> t.Iterator[_Branch]:
            return self._policy(name, start, 0)

        def stage(state: _State) -> t.Iterator[_Branch]:
            yield from self._relative(("policy", name), _add(state, attachment_step), compute)

        return stage

    def _policy(self, name: str, state: _State, depth: int) -> t.Iterator[_Branch]:
        pm = self.config.policy_maps.get(name)
        if pm is None or depth > 8:
            yield state, None
            return
        yield from self._classes(pm, 0, state, depth)

    def _classes(self, pm: PolicyMap, index: int, state: _State, depth: int) -> t.Iterator[_Branch]:
        cls = pm.classes[index]
        what = "policy-map %s class %s%s" % (pm.name, cls.name, " (implicit)" if cls.implicit else "")
        class_step = Step(cls.source, what)
        if cls.name == "class-default":
            yield from self._class_actions(pm, cls, _add(state, class_step), what, depth)
            return
        cut = len(state.steps)
        for sub, matched in self._branch(state, self.class_dl(cls.name)):
            if matched:
                # The class line first, then the match lines that put the packet in it.
                steps = sub[2]
                sub = _new_state(_State, (sub[0], sub[1], steps[:cut] + (class_step,) + steps[cut:]) + sub[3:])
                yield from self._class_actions(pm, cls, sub, what, depth)
            else:
                yield from self._classes(pm, index + 1, sub, depth)

    def _class_actions(self, pm: PolicyMap, cls: PolicyClass, state: _State, what: str,
                       depth: int) -> t.Iterator[_Branch]:
        label = "%s/%s" % (pm.name, cls.name)
        state = _new_state(_State, state[:5] + (state[5] + (label,),) + state[6:])
        police: list[ClassAction] = []
        children: list[ClassAction] = []
        # IOS applies a class's marking before its policer, and the nested
        # policy inside the parent's class: read them in that order.
        for action in cls.actions:
            if action.kind == "rewrite" and action.family is not None and action.family != self.family:
                # `set ip dscp` in an IPv6 table: the Traffic Class is left as it is.
                state = _add(state, Step(action.source, "%s: %s (IPv4 packets only: not applied)" % (
                    what, action.source.text)))
            elif action.kind == "rewrite":
                state = _rewrite(state, Step(action.source, "%s: %s" % (what, action.source.text), rewrite=action.rewrite))
            elif action.kind == "drop":
                yield _add(state, Step(action.source, "%s: drop" % what)), DROPPED
                return
            elif action.kind == "police":
                police.append(action)
            elif action.kind == "service-policy":
                children.append(action)
            elif action.kind == "unknown":
                # "kept, treated as may-drop or re-mark" (the Diagnostic): a drop under a
                # condition naming the line, else a re-mark to an unknown DSCP.
                step = Step(action.source, "%s: not modelled" % what, unmodeled=True)
                state = _add(state, step)._replace(unmodeled=True)
                yield state._replace(conds=state.conds + (self._may_condition(action.source, "drop"),)), DROPPED
                state = _rewrite(state, Step(action.source, "%s: may re-mark (not modelled)" % what,
                                             rewrite=_UNKNOWN_DSCP, unmodeled=True))
            elif action.kind == "queue":
                state = _add(state, Step(action.source, "%s: %s" % (what, action.source.text)))
        yield from self._after_marking(pm, label, state, children, police, depth)

    def _after_marking(self, pm: PolicyMap, label: str, state: _State, children: list[ClassAction],
                       police: list[ClassAction], depth: int) -> t.Iterator[_Branch]:
        if children:
            child, rest = children[0], children[1:]
            state = _add(state, Step(child.source, "nested service-policy %s" % child.ref))
            for sub, terminal in self._policy(child.ref or "", state, depth + 1):
                if terminal:
                    yield sub, terminal
                else:
                    yield from self._after_marking(pm, label, sub, rest, police, depth)
            return
        if not police:
            yield state, None
            return
        first, rest_police = police[0], police[1:]
        for sub, (color, actions) in self._branch(state, self.police_dl(first)):
            sub = sub._replace(police=sub.police + ("%s: %s" % (label, color),))
            dropped = False
            for act in actions:
                step = Step(act.source, "police %s: %s" % (color, act.text), rewrite=act.rewrite,
                            unmodeled=act.kind == "unknown" or (act.rewrite is not None and act.rewrite.unknown))
                if act.kind == "rewrite":
                    sub = _rewrite(sub, step)
                else:
                    sub = _add(sub, step)
                    if act.kind == "drop":
                        dropped = True
                    elif act.kind == "unknown":
                        # The Diagnostic says "treated as may-drop": so does the table.
                        sub = sub._replace(unmodeled=True)
                        yield sub._replace(conds=sub.conds + (self._may_condition(act.source, "drop"),)), DROPPED
            if dropped:
                yield sub, DROPPED
            else:
                yield from self._after_marking(pm, label, sub, [], rest_police, depth)

    def _may_condition(self, source: Evidence, effect: str) -> Condition:
        """"This unmodelled line drops / re-marks the packet": one object per line and effect."""
        key = (source.file, source.line, effect)
        found = self._may.get(key)
        if found is None:
            verb = {"drop": "drops", "remark": "re-marks"}[effect]
            found = self._may[key] = Condition("unmodeled", "%s:%d `%s` %s the packet (not modelled)" % (
                source.file, source.line, source.text, verb), source)
        return found

    def _unmodeled_stage(self, line: Unmodeled) -> _Stage:
        """An interface line the model cannot compute (Interface.unmodeled): may drop, may re-mark."""
        step = Step(line.source, line.reason, unmodeled=True)

        def stage(state: _State) -> t.Iterator[_Branch]:
            state = _add(state, step)._replace(unmodeled=True)
            if "drop" in line.effects:
                yield state._replace(conds=state.conds + (self._may_condition(line.source, "drop"),)), DROPPED
            if "remark" in line.effects:
                marked = state._replace(conds=state.conds + (self._may_condition(line.source, "remark"),))
                yield _rewrite(marked, Step(line.source, "%s: may re-mark" % line.reason, rewrite=_UNKNOWN_DSCP,
                                            unmodeled=True)), None
            yield state, None

        return stage

    def _pbr_stage(self, attachment_step: Step, name: str) -> _Stage:
        def compute(start: _State) -> t.Iterator[_Branch]:
            return self._clauses(rm, 0, start)  # type: ignore[arg-type]

        rm = self.config.route_maps.get(name)

        def stage(state: _State) -> t.Iterator[_Branch]:
            state = _add(state, attachment_step)
            if rm is None:
                yield _add(state, Step(attachment_step.source, "route-map %s is not defined: routed normally" % name)), None
                return
            yield from self._relative(("route-map", name), state, compute)

        return stage

    def _clauses(self, rm: RouteMap, index: int, state: _State) -> t.Iterator[_Branch]:
        if index == len(rm.clauses):
            yield _add(state, Step(rm.source, "route-map %s: no clause matched, routed normally" % rm.name)), None
            return
        clause = rm.clauses[index]
        for sub, matched in self._branch(state, self.clause_dl(rm, clause)):
            if matched:
                yield from self._clause_actions(rm, clause, sub)
            else:
                yield from self._clauses(rm, index + 1, sub)

    def _clause_actions(self, rm: RouteMap, clause: RouteMapClause, state: _State) -> t.Iterator[_Branch]:
        head = "route-map %s %s %d" % (rm.name, "permit" if clause.permit else "deny", clause.seq)
        if not clause.permit:
            yield _add(state, Step(clause.source, "%s: deny clause, routed normally" % head)), None
            return
        routing: dict[str, tuple[str, ...]] = {}
        route_steps: dict[str, Step] = {}
        for item in clause.sets:
            if item.family is not None and item.family != self.family:
                if self.family == 6:
                    # `set ip next-hop`, `set ip precedence`: not for IPv6 packets.
                    continue
                # `set ipv6 ...` in an IPv4 table: read as it always was, a clause not modelled.
                item = dataclasses.replace(item, kind="unknown")
            if item.kind == "rewrite":
                state = _rewrite(state, Step(item.source, "%s: %s" % (head, item.source.text), rewrite=item.rewrite))
            elif item.kind in ("interface", "next-hop", "default-next-hop", "default-interface"):
                routing.setdefault(item.kind, item.args)
                route_steps.setdefault(item.kind, Step(item.source, "%s: %s" % (head, item.source.text)))
            elif item.kind == "unknown":
                state = _add(state, Step(item.source, "%s: not modelled: %s" % (head, item.source.text), unmodeled=True))
                state = state._replace(unmodeled=True)
        # IOS tries next-hop, then interface; the default forms apply only without a route.
        if "next-hop" in routing:
            yield _add(state, route_steps["next-hop"])._replace(route=POLICY_ROUTED), None
            return
        if "interface" in routing:
            target = routing["interface"][0]
            step = route_steps["interface"]
            if _is_null(target):
                yield _add(state, step), NULL_ROUTED
            else:
                yield _add(state, step)._replace(route=POLICY_ROUTED, egress=target), None
            return
        for kind in ("default-next-hop", "default-interface"):
            if kind in routing:
                step = route_steps[kind]
                cond = RouteCondition("route", "no explicit route to the destination", step.source)
                target = routing[kind][0]
                with_cond = state._replace(conds=state.conds + (cond,), steps=state.steps + (step,))
                if kind == "default-interface" and _is_null(target):
                    yield with_cond, NULL_ROUTED
                else:
                    egress = target if kind == "default-interface" else None
                    yield with_cond._replace(route=POLICY_ROUTED, egress=egress), None
                yield state, None
                return
        yield state, None

    # -- pipelines
    def stages(self, iface: Interface, direction: str) -> list[tuple[Step, _Stage]]:
        """The ordered stages of one interface and direction, with the lines attaching them."""
        out: list[tuple[Step, _Stage]] = []
        # Lines the model cannot compute act where CAR and class-based marking do (document
        # 22141): after the ACL of their direction, before the policy.
        family = self.family
        unmodeled = [(Step(u.source, u.reason, unmodeled=True), self._unmodeled_stage(u))
                     for u in iface.unmodeled if u.direction in (direction, "both") and family in u.families]
        acl_in, acl_out, pbr = (iface.acl_in, iface.acl_out, iface.pbr) if family == 4 else (
            iface.acl6_in, iface.acl6_out, iface.pbr6)
        acl_word, pbr_word = ("access-list", "policy routing") if family == 4 else ("IPv6 access-list", "IPv6 policy routing")
        if direction == "in":
            if acl_in:
                step = Step(acl_in.source, "interface %s: input %s %s" % (iface.name, acl_word, acl_in.name))
                out.append((step, self._acl_stage(step, acl_in.name)))
            out.extend(unmodeled)
            if iface.policy_in:
                step = Step(iface.policy_in.source, "interface %s: input policy %s" % (iface.name, iface.policy_in.name))
                out.append((step, self._policy_stage(step, iface.policy_in.name)))
            if pbr:
                step = Step(pbr.source, "interface %s: %s by route-map %s" % (iface.name, pbr_word, pbr.name))
                out.append((step, self._pbr_stage(step, pbr.name)))
        elif direction == "out":
            if acl_out:
                step = Step(acl_out.source, "interface %s: output %s %s" % (iface.name, acl_word, acl_out.name))
                out.append((step, self._acl_stage(step, acl_out.name)))
            out.extend(unmodeled)
            if iface.policy_out:
                step = Step(iface.policy_out.source, "interface %s: output policy %s" % (iface.name, iface.policy_out.name))
                out.append((step, self._policy_stage(step, iface.policy_out.name)))
        else:
            raise DiffservError("direction must be 'in' or 'out', not %r" % (direction,))
        return out

    def local_stages(self) -> list[tuple[Step, _Stage]]:
        local = self.config.local_policy
        if local is None or self.family == 6:
            return []
        step = Step(local.source, "router-generated traffic: policy routing by route-map %s" % local.name)
        return [(step, self._pbr_stage(step, local.name))]

    def run(self, stages: t.Sequence[_Stage], start_mask: int = ALL_BYTES) -> list[Path]:
        out: list[Path] = []
        _walk(stages, 0, _State(start_mask, (), ()), out)
        return out

    def leaves(self, stages: t.Sequence[_Stage], start: _State | None = None) -> list[_Branch]:
        """`run` stopped after `stages`: each path so far, with its final action if a stage ended it.

        Depth-first like `run`, so running the next stages from each open
        leaf in order gives `run` over all the stages, path for path.
        """
        out: list[_Branch] = []

        def walk(index: int, state: _State) -> None:
            if index == len(stages):
                out.append((state, None))
                return
            for sub, terminal in stages[index](state):
                if terminal:
                    out.append((sub, terminal))
                else:
                    walk(index + 1, sub)

        walk(0, start or _State(ALL_BYTES, (), ()))
        return out

    def interface(self, name: str) -> Interface:
        found = find_interface(self.config.interfaces, name)
        if found is None:
            raise DiffservError("%s: no interface %r (have: %s)" % (
                self.config.file, name, ", ".join(self.config.interfaces) or "none"))
        return found

    def output_stages(self, out_iface: Interface | None) -> list[_Stage]:
        """Router-generated traffic: `ip local policy`, then the egress interface's output stages."""
        stages = [s for _step, s in self.local_stages()]
        if out_iface is not None:
            stages.append(_egress_gate(out_iface.name))
            stages.extend(s for _step, s in self.stages(out_iface, "out"))
        return stages

    def transit_stages(self, in_iface: Interface, out_iface: Interface | None) -> list[_Stage]:
        stages = [s for _step, s in self.stages(in_iface, "in")]
        if out_iface is not None:
            stages.append(_egress_gate(out_iface.name))
            stages.extend(s for _step, s in self.stages(out_iface, "out"))
        return stages

    def fate_table(self, interface: str, direction: str) -> FateTable:
        if direction == "local":
            pairs = self.local_stages()
            return self._table("(router)", "local", False, pairs, [s for _x, s in pairs])
        iface = self.interface(interface)
        pairs = self.stages(iface, direction)
        return self._table(iface.name, direction, iface.shutdown, pairs, [s for _x, s in pairs])

    def transit_table(self, in_interface: str, out_interface: str) -> FateTable:
        in_iface = self.interface(in_interface)
        out_iface = self.interface(out_interface)
        pairs = self.stages(in_iface, "in") + self.stages(out_iface, "out")
        return self._table(in_iface.name, "transit", in_iface.shutdown or out_iface.shutdown, pairs,
                           self.transit_stages(in_iface, out_iface), out_iface.name)

    def shared_transit(self, in_interface: str, exits: t.Iterable[Interface]) -> list[SharedTransit]:
        """Transit tables from one entry to many exits, one computation per kind of exit.

        The input side runs once.  An exit's output stages depend only on
        its output ACL and policy (by name) and its own unmodelled lines;
        policy routing to a named interface adds which of the route-maps'
        targets the exit is.  Exits alike in all of these get one table,
        computed for the first of them (see SharedTransit).
        """
        entry = self.interface(in_interface)
        in_pairs = self.stages(entry, "in")
        leaves = self.leaves([stage for _step, stage in in_pairs])
        targets = sorted({state.egress for state, terminal in leaves if terminal is None and state.egress is not None})
        groups: dict[tuple[t.Any, ...], list[Interface]] = {}
        for iface in exits:
            gate = tuple(same_interface(target, iface.name) for target in targets)
            groups.setdefault((_output_identity(iface, self.family), gate, iface.shutdown), []).append(iface)
        # Paths that end before the output side are the same objects in every table, and so
        # are what _classify reads of them (`_Fact`): both made once.
        shared: dict[tuple[str, int], tuple[Path, _Fact]] = {}

        def finished(kind: str, index: int, state: _State, action: str) -> tuple[Path, _Fact]:
            found = shared.get((kind, index))
            if found is None:
                path = _finish(state, action)
                found = shared[(kind, index)] = (path, _fact(path))
            return found

        # Per open leaf: its conditions' identities and whether a plain packet meets them all.
        heads = [(tuple(map(id, state[1])), all(c.default for c in state[1])) for state, _terminal in leaves]
        out: list[SharedTransit] = []
        for members in groups.values():
            first = members[0]
            out_pairs = self.stages(first, "out")
            out_stages = [stage for _step, stage in out_pairs]
            # The output side depends only on the byte as the input side left it, so it runs
            # once per rewrite and is grafted onto each path (as _relative does for a policy).
            # Not for a non-IPv4 output ACL: its stage makes a new condition on every call.
            relative: dict[tuple[int, int, int], list[_Rel]] | None = {} if self._graftable(first) else None
            paths: list[Path] = []
            facts: list[_Fact] = []
            for index, (state, terminal) in enumerate(leaves):
                if terminal:
                    path, fact = finished("ended", index, state, terminal)
                elif state.egress is not None and not same_interface(state.egress, first.name):
                    # As _egress_gate: policy routing sent it out of another interface.
                    path, fact = finished("rerouted", index, state, POLICY_ROUTED)
                elif not out_stages:
                    path, fact = finished("routed", index, state, state.route)
                elif relative is None:
                    before = len(paths)
                    _walk(out_stages, 0, state, paths)
                    facts.extend(_fact(path) for path in paths[before:])
                    continue
                else:
                    key = (state.keep, state.value, state[10])
                    rels = relative.get(key)
                    if rels is None:
                        start = _State(ALL_BYTES, (), (), key[0], key[1], unknown=key[2])
                        rels = relative[key] = [(rel, end, tuple(map(id, rel[1])), all(c.default for c in rel[1]))
                                                for rel, end in self.leaves(out_stages, start)]
                    _graft(state, heads[index], rels, paths, facts)
                    continue
                paths.append(path)
                facts.append(fact)
            table = self._classify(entry.name, "transit", entry.shutdown or first.shutdown,
                                   tuple(step for step, _s in in_pairs + out_pairs), paths, first.name, facts)
            out.append(SharedTransit(table, tuple(iface.name for iface in members)))
        return out

    def views(self, shared: SharedTransit) -> list[FateTable]:
        """One transit table per exit of a SharedTransit, all sharing its classes (and its byte index)."""
        table = shared.table
        first_out = len(table.stages) - len(self.stages(self.interface(shared.out_interfaces[0]), "out"))
        in_steps = table.stages[:first_out]
        views = [table]
        for name in shared.out_interfaces[1:]:
            iface = self.interface(name)
            view = dataclasses.replace(table, out_interface=iface.name,
                                       stages=in_steps + tuple(step for step, _s in self.stages(iface, "out")))
            # The byte index depends on the classes only: computed once for the group.
            object.__setattr__(view, "_byte_class", table.byte_class)
            views.append(view)
        return views

    def _graftable(self, iface: Interface) -> bool:
        attachment = iface.acl_out if self.family == 4 else iface.acl6_out
        acl = self._acls.get(attachment.name) if attachment else None
        return acl is None or acl.kind != "other"

    def _table(self, name: str, direction: str, shutdown: bool, pairs: list[tuple[Step, _Stage]],
               stages: list[_Stage], out_name: str | None = None) -> FateTable:
        return self._classify(name, direction, shutdown, tuple(step for step, _s in pairs), self.run(stages), out_name)

    def _classify(self, name: str, direction: str, shutdown: bool, stage_steps: tuple[Step, ...], paths: list[Path],
                  out_name: str | None = None, facts: list[_Fact] | None = None) -> FateTable:
        """Split the bytes into classes that take the same paths, and compare each with unmarked traffic.

        `facts`: each path's `_fact`, when the caller has them already.
        """
        classes = _partition(paths)
        if len(classes) == 1:
            # No decision looked at the byte: one class, identical to unmarked traffic.
            fate_classes = [FateClass(ALL_BYTES, tuple(paths), path_differs=(False,) * len(paths))]
            return FateTable(self.config.hostname, self.config.file, name, direction, shutdown,
                             stage_steps, tuple(fate_classes), out_name, self.family)
        if facts is None:
            facts = [_fact(p) for p in paths]
        # Treatments and outcomes are compared many times over: each distinct one becomes a
        # small int once (equal ints, equal tuples), so the comparisons below hash nothing.
        treatment_numbers: dict[tuple[t.Any, ...], int] = {}
        outcome_numbers: dict[tuple[t.Any, ...], int] = {}
        treatments = [treatment_numbers.setdefault(fact[0], len(treatment_numbers)) for fact in facts]
        outcomes = [outcome_numbers.setdefault(fact[1], len(outcome_numbers)) for fact in facts]
        plain = [fact[2] for fact in facts]

        def certain(members: list[int]) -> tuple[t.Any, ...]:
            """The plain packet's outcome and every possible one: what a byte changes for certain."""
            default = next((i for i in members if plain[i]), members[-1])
            return outcomes[default], frozenset(outcomes[i] for i in members)

        # Each path's mask is a union of classes: find them once per distinct mask.
        per_class: list[list[int]] = [[] for _mask in classes]
        covers: dict[int, list[list[int]]] = {}
        for i, path in enumerate(paths):
            lists = covers.get(path.mask)
            if lists is None:
                lists = covers[path.mask] = [members for mask, members in zip(classes, per_class) if path.mask & mask]
            for members in lists:
                members.append(i)
        zero = next(members for mask, members in zip(classes, per_class) if mask & 1)
        zero_treatment = [treatments[i] for i in zero]
        zero_set = set(zero_treatment)
        zero_queues = [paths[i].classes for i in zero]
        zero_certain = certain(zero)
        fate_classes = []
        for mask, members in zip(classes, per_class):
            member_paths = tuple([paths[i] for i in members])
            member_treatments = [treatments[i] for i in members]
            other = members != zero
            fate_classes.append(FateClass(
                mask,
                member_paths,
                because_of_dscp=other and member_treatments != zero_treatment,
                fate_differs=other and certain(members) != zero_certain,
                queue_differs=other and [p.classes for p in member_paths] != zero_queues,
                path_differs=tuple([treatment not in zero_set for treatment in member_treatments]),
            ))
        return FateTable(
            router=self.config.hostname,
            file=self.config.file,
            interface=name,
            direction=direction,
            shutdown=shutdown,
            stages=stage_steps,
            classes=tuple(fate_classes),
            out_interface=out_name,
            family=self.family,
        )


_ACL_WORDS = {"permit": "permits", "deny": "denies"}
_MATCH_WORDS = {True: "matches", False: "does not match"}


def _lines(sources: t.Sequence[Evidence]) -> str:
    if not sources:
        return "no line"
    if len(sources) == 1:
        return "line %d" % sources[0].line
    numbers = sorted({e.line for e in sources})
    if numbers[-1] - numbers[0] == len(numbers) - 1:
        return "lines %d-%d" % (numbers[0], numbers[-1])
    shown = ", ".join(str(n) for n in numbers[:6])
    return "lines %s%s" % (shown, ", ..." if len(numbers) > 6 else "")


def _egress_gate(out_name: str) -> _Stage:
    def stage(state: _State) -> t.Iterator[_Branch]:
        if state.egress is not None and not same_interface(state.egress, out_name):
            # Policy routing sent it out of another interface.
            yield state, POLICY_ROUTED
        else:
            yield state, None

    return stage


def _is_null(name: str) -> bool:
    return name.lower().replace(" ", "") in ("null0", "nu0")


def _walk(stages: t.Sequence[_Stage], index: int, state: _State, out: list[Path]) -> None:
    """Run `stages[index:]` from one path so far, depth-first; finished paths go to `out` in order."""
    if index == len(stages):
        out.append(_finish(state, state.route))
        return
    for sub, terminal in stages[index](state):
        if terminal:
            out.append(_finish(sub, terminal))
        else:
            _walk(stages, index + 1, sub, out)


def _fact(path: Path) -> _Fact:
    """What _classify compares of a path: its treatment, its outcome, whether a plain packet takes it."""
    return path.treatment(), (path.action, path.keep, path.value, path.egress, path.unknown), path.is_default


def _graft(state: _State, head: tuple[tuple[int, ...], bool], relative: list[_Rel], out: list[Path],
           facts: list[_Fact]) -> None:
    """Finish the paths `relative` (run from the byte as `state` left it) on `state`: `_walk` without re-running.

    The same composition as Engine._relative, then `_finish`; each path's
    `_fact` is put together from the two halves' instead of recomputed.
    """
    mask, conds, steps, classes, police, unmodeled = state[0], state[1], state[2], state[5], state[6], state[9]
    head_ids, head_plain = head
    for rel, terminal, rel_ids, rel_plain in relative:
        hit = rel[0] & mask
        if not hit:
            continue
        if terminal:
            action = terminal
        else:
            action = rel.route if rel.route != FORWARDED or rel.egress is not None else state.route
        egress = rel.egress if rel.egress is not None else state.egress
        keep, value, unknown = rel[3], rel[4], rel[10]
        path_police = police + rel[6]
        path_unmodeled = unmodeled or rel[9]
        out.append(new_path(hit, conds + rel[1], steps + rel[2], action, keep, value, classes + rel[5], path_police,
                            egress, path_unmodeled, unknown))
        facts.append(((head_ids + rel_ids, action, keep, value, egress, path_police, path_unmodeled, unknown),
                      (action, keep, value, egress, unknown), head_plain and rel_plain))


def _output_identity(iface: Interface, family: int = 4) -> tuple[t.Any, ...]:
    """What an exit's output stages depend on: the output ACL and policy by name, its own unmodelled lines.

    Not the lines attaching them: those differ from interface to interface
    and decide nothing (see SharedTransit).
    """
    acl_out = iface.acl_out if family == 4 else iface.acl6_out
    return (acl_out.name if acl_out else None, iface.policy_out.name if iface.policy_out else None,
            tuple(line for line in iface.unmodeled if line.direction in ("out", "both") and family in line.families))


def _finish(state: _State, action: str) -> Path:
    # By position (_State's order: mask, conds, steps, keep, value, classes, police, route, egress, unmodeled, unknown).
    return new_path(state[0], state[1], state[2], action, state[3], state[4], state[5], state[6], state[8], state[9],
                    state[10])


def _partition(paths: list[Path]) -> list[int]:
    """Split the 256 bytes into classes no path mask cuts through."""
    classes = [ALL_BYTES]
    # Paths share masks (a transit table repeats the input side's for each output branch):
    # the classes depend on the set of masks only, so each is applied once.
    for mask in dict.fromkeys(path.mask for path in paths):
        if mask == ALL_BYTES:
            continue
        split = []
        for cls in classes:
            inside = cls & mask
            if inside and inside != cls:
                split.append(inside)
                split.append(cls & ~mask)
            else:
                split.append(cls)
        classes = split
    classes.sort(key=lambda m: (m & -m).bit_length())
    return classes


# ---------------------------------------------------------------- public functions
def fate_table(config: IosConfig, interface: str, direction: str, family: int = 4) -> FateTable:
    """Fates of all 256 arriving DS bytes on one interface ("in"/"out"; "local" for `ip local policy`).

    family 4: IPv4 packets (the DS byte); 6: IPv6 packets (the Traffic Class).
    """
    return Engine(config, family).fate_table(interface, direction)


def transit_table(config: IosConfig, in_interface: str, out_interface: str, family: int = 4) -> FateTable:
    """Fates of traffic entering on one interface and leaving on another."""
    return Engine(config, family).transit_table(in_interface, out_interface)


def shared_transit_tables(config: IosConfig, in_interface: str, family: int = 4) -> list[SharedTransit]:
    """The transit tables of `transit_tables`, one per kind of exit, with the exits each stands for."""
    engine = Engine(config, family)
    entry = engine.interface(in_interface)
    with gc_paused():
        return engine.shared_transit(entry.name, _exits(config, entry))


def transit_tables(config: IosConfig, in_interface: str, family: int = 4) -> list[FateTable]:
    """Traffic entering on one interface may leave by any other that can forward it.

    Every interface but the entry one, shut ones, Null and Loopback
    interfaces: their output ACLs and policies see what the input side wrote.
    One table per exit, in configuration order; exits alike share the
    computed classes (Engine.views).
    """
    engine = Engine(config, family)
    entry = engine.interface(in_interface)
    with gc_paused():
        shared = engine.shared_transit(entry.name, _exits(config, entry))
        views: dict[str, FateTable] = {}
        for group in shared:
            for view in engine.views(group):
                views[view.out_interface or ""] = view
        return [views[iface.name] for iface in _exits(config, entry)]


def _exits(config: IosConfig, entry: Interface) -> list[Interface]:
    return [iface for iface in config.interfaces.values()
            if iface is not entry and not iface.shutdown and not iface.name.lower().startswith(("null", "loopback"))]


def fate_tables(config: IosConfig, family: int = 4) -> list[FateTable]:
    """Every interface in both directions (plus `ip local policy` for IPv4), sharing one engine's caches."""
    return [table for _name, _direction, _shut, table in _interface_tables(config, family, shared=False)]


def _interface_identity(iface: Interface, direction: str, family: int) -> tuple[t.Any, ...]:
    """What one interface's stages in `direction` depend on besides the lines attaching them (Engine.stages):
    the lists, policies and route-maps by name, and its own unmodelled lines."""
    if direction == "out":
        return ("out",) + _output_identity(iface, family)
    acl_in, pbr = (iface.acl_in, iface.pbr) if family == 4 else (iface.acl6_in, iface.pbr6)
    return ("in", acl_in.name if acl_in else None, iface.policy_in.name if iface.policy_in else None,
            pbr.name if pbr else None,
            tuple(line for line in iface.unmodeled if line.direction in ("in", "both") and family in line.families))


def interface_fate_tables(config: IosConfig, family: int = 4) -> list[tuple[str, str, bool, FateTable]]:
    """(interface, direction, shut, table) for every interface in both directions, as fate_tables lists them,
    with one table computed per kind: interfaces alike in what their stages depend on (_interface_identity)
    hold the same table object, computed for the first of them, whose paths cite that one's attachment lines
    (as a SharedTransit's do).  For readers of the classes, not of the attaching lines (the advisories)."""
    return _interface_tables(config, family, shared=True)


def _interface_tables(config: IosConfig, family: int, shared: bool) -> list[tuple[str, str, bool, FateTable]]:
    """fate_tables' rows: each interface's own table, or with `shared` one per kind of interface."""
    engine = Engine(config, family)
    out: list[tuple[str, str, bool, FateTable]] = []
    computed: dict[tuple[t.Any, ...], FateTable] = {}
    with gc_paused():
        for name, iface in config.interfaces.items():
            for direction in DIRECTIONS:
                key = _interface_identity(iface, direction, family) if shared else (name, direction)
                table = computed.get(key)
                if table is None:
                    table = computed[key] = engine.fate_table(name, direction)
                out.append((iface.name, direction, iface.shutdown, table))
        if config.local_policy is not None:
            out.append(("(router)", "local", False, engine.fate_table("(router)", "local")))
    return out


def unused(config: IosConfig) -> list[Unused]:
    """Definitions no applied place reaches: reported, never treated as active."""
    return unused_definitions(config)
