# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router's fate for a class of packets, not one byte alone: the header-space question.

A fate table answers per arriving DS byte; within a byte class the paths
are ordered and guarded by conditions (decisions.py), most of them tests
of the header (ACL entries: protocol, addresses, ports, ICMP messages,
object groups).  A `PacketClass` is a set of packets described the way a
firewall's marking map describes them (family, protocols, address ranges,
port ranges, ICMP types); `restrict` decides each header condition over
the whole class at once: all of its packets satisfy it, none does, or
some do (then the class straddles a line of the configuration and must be
split there for an exact answer).  Conditions that are not header tests
(NBAR, the policer's rate, a CoS, an unmodelled line) are left as they
are: may-match, exactly as in the fate table.

    table = transit_table(config, "Gi0/0", "Gi0/1", family=4)
    marked = PacketClass(protocols=frozenset({6}), sport=((25, 25),), src=((a, b),))
    answer = for_packets(table, 0x04, marked)     # == restrict(table.for_byte(0x04), marked)
    answer.fate, answer.exact, answer.actions     # the class's plain fate, whether one
    answer.splits                                 # header conditions the class straddles
    plain = for_packets(table, 0x00, marked)      # the same packets unmarked

A conflict for those packets is `answer.fate != plain.fate` (or the
rewrites differ) where both are exact; where a class is not exact, split
it on the `splits` lines' fields, or confirm with `trace_ios` on one
packet (`{"family": 6, "src": "2001:db8::1", ...}`), which decides every
header test.  Address ranges are (low, high) integers inclusive, 32-bit
for family 4 and 128-bit for family 6; ports (low, high) inclusive;
`None` in any field means "any value".
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.acl import range_blocks
from ansible_collections.diffserv.audit.plugins.module_utils.ios.decisions import (
    AclCondition,
    AnyOfCondition,
    Condition,
    DecisionCondition,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import AclEntry, Address, Ports, Service
from ansible_collections.diffserv.audit.plugins.module_utils.ios.tables import FateClass, FateTable, Path

Ranges = t.Tuple[t.Tuple[int, int], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class PacketClass:
    """A set of packets: each field a set of values, None = any."""

    family: int = 4
    protocols: frozenset[int] | None = None
    src: Ranges | None = None
    dst: Ranges | None = None
    sport: Ranges | None = None
    dport: Ranges | None = None
    icmp_types: frozenset[int] | None = None
    # The hash, once computed: a class is a key of the join's memos and of a conflict's packets thousands of
    # times over (a 1,000-interface router), and its address ranges are long tuples to hash again each time.
    _hash: int | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash((self.family, self.protocols, self.src, self.dst, self.sport,
                                                    self.dport, self.icmp_types)))
        return t.cast(int, self._hash)


@dataclasses.dataclass(frozen=True, slots=True)
class ClassFate:
    """What the router does with a class of packets arriving with one DS byte.

    `paths`: the paths some packet of the class can take, in order, each
    with `header` (True: every packet of the class meets its header tests;
    None: some do).  `plain`: the fates of the plain packets of the class
    (NBAR unmatched, within rate, ...) in path order; `exact` when it is
    one fate for the whole class.  `splits`: the header conditions the
    class straddles before that fate is reached.
    """

    byte_class: FateClass
    paths: tuple[Path, ...]
    header: tuple[bool | None, ...]
    plain: tuple[Path, ...]
    exact: bool
    splits: tuple[Condition, ...]
    # Per path: every condition of it is one the class's headers decide (the judge's is_header); empty: not
    # recorded (read each condition's own kind then).
    settled: tuple[bool, ...] = ()

    @property
    def fate(self) -> str | None:
        """The plain fate of every packet of the class, None when the class must be split."""
        return self.plain[0].action if self.exact and self.plain else None

    @property
    def actions(self) -> list[str]:
        return sorted({path.action for path in self.paths})


# A class whose fields hold several ranges is a union of boxes; an answer that is not
# exact for the union is tried box by box up to this many (a port list times an address list).
MAX_BOXES = 256


def boxes(packets: PacketClass) -> list[PacketClass]:
    """The class as boxes: one range (or one protocol, one ICMP type) per field."""
    out = [packets]
    for name in ("protocols", "icmp_types"):
        values = getattr(packets, name)
        if values is not None and len(values) > 1:
            changes: list[dict[str, t.Any]] = [{name: frozenset((v,))} for v in sorted(values)]
            out = [dataclasses.replace(box, **change) for box in out for change in changes]
    for name in ("src", "dst", "sport", "dport"):
        ranges = getattr(packets, name)
        if ranges is not None and len(ranges) > 1:
            parts: list[dict[str, t.Any]] = [{name: (r,)} for r in ranges]
            out = [dataclasses.replace(box, **change) for box in out for change in parts]
    return out


def restrict(fate_class: FateClass, packets: PacketClass) -> ClassFate:
    """`fate_class` (one byte's paths) for the packets of `packets` only.

    Each header condition is decided over the whole class (all, none, some);
    a union of boxes that the whole-class reading leaves open is decided box
    by box, and is exact when every box is, with one fate.
    """
    answer = _restrict(fate_class, packets)
    if answer.exact:
        return answer
    parts = boxes(packets)
    if len(parts) == 1 or len(parts) > MAX_BOXES:
        return answer
    answers = [_restrict(fate_class, box) for box in parts]
    outcomes = {_outcome(a.plain[0]) for a in answers if a.exact}
    if len(outcomes) != 1 or not all(a.exact for a in answers):
        return answer
    kept = [path for path in fate_class.paths if any(path in a.paths for a in answers)]
    header = tuple(True if all(path in a.paths and a.header[a.paths.index(path)] for a in answers) else None
                   for path in kept)
    return ClassFate(fate_class, tuple(kept), header, (answers[0].plain[0],), True, ())


def _outcome(path: Path) -> tuple[t.Any, ...]:
    return (path.action, path.keep, path.value, path.egress, path.unknown)


# The judges of the classes asked most recently (a join asks one class of many tables in a row).
_JUDGES: "collections.OrderedDict[PacketClass, _Cover]" = collections.OrderedDict()
_JUDGES_KEPT = 256


def judge_for(packets: PacketClass) -> "_Cover":
    """The judge of a class, kept across calls (see _Cover)."""
    judge = _JUDGES.get(packets)
    if judge is None:
        judge = _JUDGES[packets] = _Cover(packets)
        if len(_JUDGES) > _JUDGES_KEPT:
            _JUDGES.popitem(last=False)
    else:
        _JUDGES.move_to_end(packets)
    return judge


def _restrict(fate_class: FateClass, packets: PacketClass) -> ClassFate:
    return restrict_with(fate_class, judge_for(packets))


class Judge(t.Protocol):
    """What restrict_with asks of a class's header tests: which conditions the header decides, and whether one
    holds for all of the class's packets (True), none (False) or some (None)."""

    def is_header(self, cond: Condition) -> bool: ...

    def cover(self, cond: Condition) -> bool | None: ...


def restrict_with(fate_class: FateClass, judge: Judge,
                  outcome: t.Callable[[Path], tuple[t.Any, ...]] = _outcome) -> ClassFate:
    """The fate of one class's packets, as `judge` decides the header tests (this module's _Cover, or the join's
    own judge in analysis.py, which remembers its decisions across a link's tables); `outcome` says when several
    plain paths are one fate."""
    kept: list[Path] = []
    header: list[bool | None] = []
    plain: list[Path] = []
    splits: list[Condition] = []
    decided = False
    settled: list[bool] = []
    for path in fate_class.paths:
        verdict: bool | None = True
        straddled: list[Condition] = []
        only_header = True
        for cond in path.conditions:
            if not judge.is_header(cond):
                only_header = False
                continue
            cover = judge.cover(cond)
            if cover is False:
                verdict = False
                break
            if cover is None:
                verdict = None
                straddled.append(cond)
        if verdict is False:
            continue
        kept.append(path)
        header.append(verdict)
        settled.append(only_header)
        if decided:
            continue
        if all(c.default for c in path.conditions if not judge.is_header(c)):
            plain.append(path)
            if verdict:
                decided = True
            else:
                splits.extend(c for c in straddled if c not in splits)
    # Several plain paths for parts of the class are still one fate if they end alike.
    uniform = len({outcome(p) for p in plain}) == 1
    return ClassFate(fate_class, tuple(kept), tuple(header), tuple(plain), decided and uniform, tuple(splits),
                     tuple(settled))


def for_packets(table: FateTable, byte: int, packets: PacketClass) -> ClassFate:
    """The fate of the packets of `packets` arriving with DS byte (Traffic Class) `byte`."""
    if packets.family != table.family:
        raise DiffservError("a family %d packet class asked of a family %d fate table" % (packets.family, table.family))
    return restrict(table.for_byte(byte), packets)


# ---------------------------------------------------------------- three-valued cover
def or3(values: t.Iterable[bool | None]) -> bool | None:
    """Three-valued OR: True if any is, else None if any is undecided, else False."""
    out: bool | None = False
    for value in values:
        if value:
            return True
        if value is None:
            out = None
    return out


def and3(values: t.Iterable[bool | None]) -> bool | None:
    """Three-valued AND: False if any is, else None if any is undecided, else True."""
    out: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            out = None
    return out


def _merge(intervals: t.Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for low, high in sorted(intervals):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def port_intervals(ports: Ports) -> list[tuple[int, int]]:
    """The ports an IOS port match accepts, as merged inclusive intervals."""
    op, values = ports.op, ports.values
    if op == "eq":
        return _merge((v, v) for v in values)
    if op == "neq":
        out: list[tuple[int, int]] = []
        low = 0
        for value in sorted(set(values)):
            if value > low:
                out.append((low, value - 1))
            low = value + 1
        if low <= 65535:
            out.append((low, 65535))
        return out
    if op == "lt":
        return [(0, values[0] - 1)] if values[0] > 0 else []
    if op == "gt":
        return [(values[0] + 1, 65535)] if values[0] < 65535 else []
    return [(values[0], values[1])] if values[0] <= values[1] else []


def _intervals_cover(accepted: list[tuple[int, int]], wanted: Ranges) -> bool | None:
    """Do the accepted intervals hold all (True), none (False) or some (None) of `wanted`?"""
    any_in = all_in = False
    every = True
    for low, high in wanted:
        inside = 0
        for a, b in accepted:
            lo, hi = max(low, a), min(high, b)
            if lo <= hi:
                inside += hi - lo + 1
        if inside:
            any_in = True
        if inside != high - low + 1:
            every = False
    all_in = every
    if all_in and any_in:
        return True
    return None if any_in else False


def _ports_cover(ports: Ports | None, wanted: Ranges | None) -> bool | None:
    if ports is None:
        return True
    if wanted is None:
        return None
    return _intervals_cover(port_intervals(ports), wanted)


def _block_vs_member(network: int, free: int, member: tuple[int, int]) -> bool | None:
    """An aligned block (network, free bits) against one (network, wildcard) pair: all, none or some."""
    m_net, m_wild = member
    if (network | m_wild | free) != (m_net | m_wild | free):
        return False
    if free & ~m_wild == 0:
        return True
    return None


def _address_cover(address: Address, wanted: Ranges | None, bits: int) -> bool | None:
    if address.is_any:
        return True
    if wanted is None:
        return None
    if address.group is not None:
        if address.members is None:
            return None
        members = address.members
    else:
        wildcard = address.wildcard
        if wildcard & (wildcard + 1) == 0:
            # A prefix (the wildcard one run of low bits): one interval, against which the class's ranges are
            # inside, outside or across, as the aligned blocks below would find each of them one by one.
            first = address.network & ~wildcard
            last = first | wildcard
            inside = outside = False
            for low, high in wanted:
                if high < first or low > last:
                    outside = True
                elif first <= low and high <= last:
                    inside = True
                else:
                    return None
                if inside and outside:
                    return None
            return inside
        members = ((address.network, wildcard),)
    seen_in = seen_out = False
    for low, high in wanted:
        for network, free in range_blocks(low, high, bits):
            verdict = or3(_block_vs_member(network, free, m) for m in members)
            if verdict is None:
                return None
            if verdict:
                seen_in = True
            else:
                seen_out = True
            if seen_in and seen_out:
                return None
    return seen_in


def _set_cover(value: int | None, wanted: frozenset[int] | None) -> bool | None:
    if value is None:
        return True
    if wanted is None:
        return None
    if value not in wanted:
        return False
    return True if len(wanted) == 1 else None


def _icmp_cover(icmp: tuple[int, int | None] | None, packets: PacketClass) -> bool | None:
    if icmp is None:
        return True
    verdict = _set_cover(icmp[0], packets.icmp_types)
    # A code narrows the type: the class says nothing of codes.
    return None if verdict and icmp[1] is not None else verdict


def _service_cover(service: Service, packets: PacketClass) -> bool | None:
    return and3((_set_cover(service.protocol, packets.protocols), _ports_cover(service.sport, packets.sport),
                 _ports_cover(service.dport, packets.dport), _icmp_cover(service.icmp, packets)))


def entry_cover(entry: AclEntry, packets: PacketClass) -> bool | None:
    """Does every packet of the class meet the entry's non-DS part (True), none (False), some (None)?"""
    bits = 32 if entry.family == 4 else 128
    parts: list[bool | None] = [
        _set_cover(entry.protocol, packets.protocols),
        _address_cover(entry.src, packets.src, bits),
        _address_cover(entry.dst, packets.dst, bits),
        _ports_cover(entry.sport, packets.sport),
        _ports_cover(entry.dport, packets.dport),
        _icmp_cover(entry.icmp, packets),
    ]
    if entry.services is not None:
        parts.append(or3(_service_cover(s, packets) for s in entry.services))
    verdict = and3(parts)
    if verdict is False:
        return False
    if entry.established or entry.opaque or entry.unknown:
        # TCP flags, fragments, time-ranges...: fields the class does not describe.
        return None
    return verdict


class _Cover:
    """Covers conditions for one class, remembering each answer (conditions are shared objects).

    A judge outlives one call: the join asks the same class of every exit's table of a router, whose
    paths share their conditions, so each (class, condition) is decided once (`judge_for`).  The memo
    holds each condition it answered for, so no other object can take its id while the answer is kept.
    """

    def __init__(self, packets: PacketClass) -> None:
        self.packets = packets
        self.memo: dict[int, tuple[Condition, bool | None]] = {}
        self.header: dict[int, tuple[Condition, bool]] = {}
        # Per ACL entry too: each path holds conditions of its own that name the same parsed entries.
        self.entries: dict[int, tuple[AclEntry, bool | None]] = {}

    def entry(self, entry: AclEntry) -> bool | None:
        held = self.entries.get(id(entry))
        if held is None:
            held = self.entries[id(entry)] = (entry, entry_cover(entry, self.packets))
        return held[1]

    def is_header(self, cond: Condition) -> bool:
        """A test the packet's header decides (so a class can be all, none or some of it)."""
        key = id(cond)
        held = self.header.get(key)
        found = held[1] if held is not None else None
        if found is None:
            if isinstance(cond, AclCondition):
                found = cond.entry is not None and not cond.entry.unknown
            elif isinstance(cond, AnyOfCondition):
                found = all(self.is_header(c) for c, _s in cond.members)
            elif isinstance(cond, DecisionCondition):
                found = all(self.is_header(c) for alt in cond.alts for c in alt.conds)
            else:
                found = False
            self.header[key] = (cond, found)
        return found

    def cover(self, cond: Condition) -> bool | None:
        key = id(cond)
        held = self.memo.get(key)
        if held is not None:
            return held[1]
        verdict: bool | None
        if isinstance(cond, AclCondition):
            verdict = self.entry(cond.entry) if cond.entry is not None else None
        elif isinstance(cond, AnyOfCondition):
            verdict = or3(self.cover(c) for c, _s in cond.members)
        elif isinstance(cond, DecisionCondition):
            verdict = self._decision(cond)
        else:
            verdict = None
        self.memo[key] = (cond, verdict)
        return verdict

    def _decision(self, cond: DecisionCondition) -> bool | None:
        """First alternative that holds decides; alternatives some packets meet leave it open unless they agree."""
        open_outcomes: set[bool] = set()
        for alt in cond.alts:
            verdict = and3(self.cover(c) for c in alt.conds)
            if verdict is False:
                continue
            outcome = alt.value == cond.value
            if verdict:
                open_outcomes.add(outcome)
                return outcome if len(open_outcomes) == 1 else None
            open_outcomes.add(outcome)
        return None
