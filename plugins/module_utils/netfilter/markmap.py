# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The marking map: every class of packets a firewall forwards or sends, with the DS byte it leaves with.

Header space is cut into atoms, per dimension, at the boundaries the rules
mention (interface names and prefixes, protocol numbers, address and port
interval ends: atoms.py); a class is one bit mask of atoms per dimension plus the
rewrite the rules applied so far, new = (arrived & keep) ^ set.  Walking
the chains splits a class only where a rule's predicate cuts it, so the work
follows the rules, not the packets.

>>> from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
>>> dump = '''*mangle
... :PREROUTING ACCEPT [0:0]
... :INPUT ACCEPT [0:0]
... :FORWARD ACCEPT [0:0]
... :OUTPUT ACCEPT [0:0]
... :POSTROUTING ACCEPT [0:0]
... -A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04/0xff
... COMMIT
... '''
>>> marks = marking_map(parse_ruleset(dump, "fw.rules"))
>>> [m.unmarked_byte for m in marks.leaving("eth0", path="forward") if m.writers]
[4]
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import heapq
import ipaddress
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.atoms import Interfaces, Intervals, Protocols
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.history import (
    History as _History, expand_events, expand_writers, translated as _translated, writer_lines as _writer_lines,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import (
    HOOK_KNOWS_OUT, AnyOfCond, EvaluationError, InlineJump, NeverCond, NftPortPairCond, Program, Stage, TosSetCond,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.nat import (
    LOOPBACK, PER_CONNECTION_NOTE, RANDOM_BANDS, IfaceAddress, NatTarget, new_address, new_port,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import (
    PORT_PROTOCOLS, AddrCond, IfaceCond, Jump, Opaque, OtherTarget, PortCond, ProtoCond, Rule, Ruleset,
    TosCond, Verdict,
)

if t.TYPE_CHECKING:  # pragma: no cover - annotations only
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View

IIF, OIF, PROTO, SRC, DST, SPORT, DPORT, BYTE = range(8)
# The largest nat table the marking map applies (see MarkingMap.notes); bench/netfilter_bench.py has the figures.
NAT_RULE_LIMIT = 5000
STATIC_DIMS = 7
DIM_NAMES = ("in_interface", "out_interface", "protocol", "src", "dst", "sport", "dport", "tos_in")
_INLINE = "inline"  # a call frame's kind besides jump (False) and goto (True): evaluate.InlineJump
_LAST = 1 << 62  # sorts after every rule position: a frame's own point comes after its callees'
_RETURNED = 1 << 30  # the position a RETURN resumes its chain at: past its end, whatever follows


# ---------------------------------------------------------------------------
# Rules as cubes


@dataclasses.dataclass(frozen=True)
class _Cube:
    masks: tuple[int, ...]  # STATIC_DIMS masks
    dims: tuple[int, ...]  # the dimensions it constrains


@dataclasses.dataclass(frozen=True)
class _SymRule:
    compiled: t.Any  # CompiledRule
    cubes: tuple[_Cube, ...]  # disjoint; the rule's static predicate is their union
    tos: tuple[tuple[int, int, bool], ...]  # (value, mask, negated) on the current byte
    opaque: tuple[str, ...]


class Assumed(str):
    """An assumption made in the nat table (an unmodelled match taken or not), carried in a class's sequence
    of events like a translation; Marking.assumptions lists it after the class's own."""

    __slots__ = ()


@dataclasses.dataclass(frozen=True, eq=False)
class Translation:
    """A nat rule that changed a class's header (the first packet of each NEW connection of the class).

    `before` and `after` are (dimension, atom mask) pairs of the dimensions it changed (SRC/SPORT or
    DST/DPORT), as the class was when the rule ran and as it left the rule; a Marking's own masks
    say what the class carries on the wire (later rules may have cut it further).
    An address the dump does not give (MASQUERADE's source, REDIRECT's destination) is an atom of its
    own, named "address of <interface>" (atoms.Intervals.extras)."""

    target: NatTarget
    rule: Rule
    hook: str
    table: str
    before: tuple[tuple[int, int], ...]
    after: tuple[tuple[int, int], ...]

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def line(self) -> int:
        return self.rule.line

    def describe(self, space: "MarkingMap") -> dict[str, t.Any]:
        """kind, line, rule, hook, what it translates to, and each changed field from -> to."""
        data: dict[str, t.Any] = {"kind": self.kind, "line": self.line, "rule": self.rule.text, "hook": self.hook,
                                  "table": self.table, "to": self.target.for_hook(self.hook).describe(space.family),
                                  "assumes": "%s: the packets open their connections (NEW): a reply to a connection "
                                             "the other side opened is de-translated instead" % self.rule.source.where()}
        if isinstance(self.target.addresses, tuple) and self.target.addresses[0] != self.target.addresses[1] \
                and self.target.kind != "NETMAP" or self.target.random:
            data["picked"] = "the kernel picks one address or port of the range per connection"
        if self.target.addresses is None and self.target.kind in ("MASQUERADE", "REDIRECT") and not (
                self.target.kind == "REDIRECT" and self.hook == "OUTPUT"):
            data["interface_address"] = "the interface's address is not in the dump"
        after = dict(self.after)
        for dim, mask in self.before:
            name = DIM_NAMES[dim]
            data[name] = {"from": _ranges_text(space, dim, mask), "to": _ranges_text(space, dim, after[dim])}
        return data

    def said(self, space: "MarkingMap") -> str:
        """'after SNAT to 203.0.113.9 (line 12)'"""
        return "after %s (line %d)" % (self.target.for_hook(self.hook).describe(space.family), self.line)


@dataclasses.dataclass(frozen=True)
class Marking:
    """One class of packets and the DS byte it leaves with.

    With a nat table, `masks` are the header on the wire (after every translation) and
    `translations` the nat rules that changed it, in order; `original_masks` the header as it arrived.
    """

    path: str
    verdict: str  # "accept" or "drop"
    keep: int  # leaves with (arrived & keep) ^ set
    set: int
    writers: tuple[int, ...]  # lines of the rules that wrote the byte, in order
    assumptions: tuple[str, ...]  # unmodeled matches this class assumed, with file:line
    masks: tuple[int, ...]  # atoms per dimension (see DIM_NAMES)
    space: "MarkingMap" = dataclasses.field(repr=False, compare=False, hash=False)
    translations: tuple[Translation, ...] = ()
    arrived: tuple[int, ...] | None = None  # the header as it arrived, where translations changed it

    @property
    def original_masks(self) -> tuple[int, ...]:
        """The header as it arrived: each translated dimension as it was before its first translation."""
        if not self.translations:
            return self.masks
        if self.arrived is not None:
            return self.arrived
        masks = list(self.masks)
        seen: set[int] = set()
        for translation in self.translations:
            for dim, before in translation.before:
                if dim not in seen:
                    seen.add(dim)
                    masks[dim] = before
        return tuple(masks)

    @property
    def unmarked_byte(self) -> int | None:
        """The byte traffic leaves with when it arrived with 0 (None if 0 cannot arrive in this class)."""
        return self.set if self.masks[BYTE] & 1 else None

    def out_bytes(self) -> dict[int, list[int]]:
        """Leaving byte -> the arrived bytes that produce it."""
        found: dict[int, list[int]] = {}
        mask = self.masks[BYTE]
        for arrived in range(256):
            if mask >> arrived & 1:
                found.setdefault((arrived & self.keep) ^ self.set, []).append(arrived)
        return found

    @property
    def depends_on_arrival(self) -> bool:
        return self.keep != 0 and len(self.out_bytes()) > 1

    def describe(self) -> dict[str, t.Any]:
        space = self.space
        masks = self.masks
        data: dict[str, t.Any] = {
            "path": self.path,
            "verdict": self.verdict,
            "in_interfaces": space.interfaces.names(masks[IIF]) if masks[IIF] != space.interfaces.full else "any",
            "out_interfaces": space.interfaces.names(masks[OIF]) if masks[OIF] != space.interfaces.full else "any",
            "protocols": space.protocols.names(masks[PROTO]) if masks[PROTO] != space.protocols.full else "any",
            "src": _ranges_text(space, SRC, masks[SRC]),
            "dst": _ranges_text(space, DST, masks[DST]),
            "sport": _ranges_text(space, SPORT, masks[SPORT]),
            "dport": _ranges_text(space, DPORT, masks[DPORT]),
            "writers": list(self.writers),
            "assumptions": list(self.assumptions),
            "rewrite": {"keep": self.keep, "set": self.set},
        }
        unmarked = self.unmarked_byte
        data["ds_byte"] = unmarked
        data["dscp"] = None if unmarked is None else unmarked >> 2
        outs = self.out_bytes()
        data["ds_bytes_possible"] = sorted(outs)
        if self.translations:
            # The flow as it arrived, and each nat rule that changed it: the fields above are the wire's.
            original = self.original_masks
            data["arrived"] = {DIM_NAMES[dim]: _ranges_text(space, dim, original[dim]) for dim in (SRC, DST, SPORT, DPORT)}
            data["translations"] = [translation.describe(space) for translation in self.translations]
            data["translated"] = "; ".join(translation.said(space) for translation in self.translations)
            data["nat_note"] = PER_CONNECTION_NOTE
        return data


def _ranges_text(space: "MarkingMap", dim: int, mask: int) -> t.Any:
    intervals = space.intervals[dim]
    if mask == intervals.full or mask == intervals.real:
        return "any"
    ranges = intervals.ranges(mask)
    if dim in (SRC, DST):
        found = [_address_range_text(low, high, space.family) for low, high in ranges]
        return found + intervals.extra_names(mask) if intervals.extras else found
    return [str(low) if low == high else "%d-%d" % (low, high) for low, high in ranges]


def _address_range_text(low: int, high: int, family: int) -> str:
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    networks = list(ipaddress.summarize_address_range(make(low), make(high)))
    if len(networks) == 1:
        return str(networks[0])
    return "%s-%s" % (make(low), make(high))


class MarkingMap:
    """The marking map of one firewall, and the atom spaces its masks refer to."""

    def __init__(self, program: Program, interfaces: t.Iterable[str] = (),
                 tables: tuple[str, ...] = ("mangle", "nat"), nat_limit: int | None = None) -> None:
        self.program = program
        self.family = program.ruleset.family
        # What the map left out, and why (a nat table past the limit).
        self.notes: list[str] = []
        limit = NAT_RULE_LIMIT if nat_limit is None else nat_limit
        nat_table = program.ruleset.tables.get("nat") if "nat" in tables else None
        if nat_table is not None and getattr(program.ruleset, "base_chains", None) is not None:
            # An nft view puts no nat chain on its hooks (nftables/model.py View.base_chains), iptables-nft's
            # nat table beside native ones included: the map cannot apply what the view does not run.
            tables = tuple(name for name in tables if name != "nat")
            if nat_table.rule_count:
                self.notes.append("%s: the iptables nat table beside native nftables tables is not applied: the "
                                  "nftables view runs no nat chain" % nat_table.source.where())
            nat_table = None
        if nat_table is not None and not getattr(nat_table, "native", False) and nat_table.rule_count > limit:
            # Every address a nat rule names is an atom: kube-proxy's tens of thousands of service and
            # endpoint addresses make every mask that long, and the map superlinear (README: figures).
            tables = tuple(name for name in tables if name != "nat")
            self.notes.append(
                "%s: the nat table's %d rules are more than the marking map applies (%d): classes carry the "
                "addresses and ports they arrived with; trace applies them packet by packet"
                % (nat_table.source.where(), nat_table.rule_count, limit))
        # The iptables tables asked for, and every native nft table: an nft base chain of any type
        # but nat may write the byte or drop (nft has no table set aside for marking).
        self.tables = tuple(name for name in tables if name in program.ruleset.tables) + tuple(
            name for name, table in program.ruleset.tables.items() if getattr(table, "native", False))
        patterns: list[str] = []
        protocols: set[int] = {6, 17}
        addresses: list[tuple[int, int]] = []
        ports: list[tuple[int, int]] = []
        nat_targets: list[NatTarget] = []
        replies: list[tuple[int, str]] = []
        for table_name in self.tables:
            table = program.ruleset.tables[table_name]
            for chain in table.chains:
                for compiled in program.chain(table_name, chain):
                    if compiled.nat is not None and table_name == "nat":
                        nat_targets.append(compiled.nat)
                        replies.append((compiled.rule.line, _reply_note(compiled.rule, compiled.nat, self.family)))
                    # In the rule's order, an alternative's parts where the alternative stands.
                    pending: list[t.Any] = list(reversed(compiled.conditions))
                    while pending:
                        condition = pending.pop()
                        if isinstance(condition, IfaceCond):
                            patterns.append(condition.name)
                        elif isinstance(condition, ProtoCond):
                            protocols.add(condition.number)
                        elif isinstance(condition, AddrCond):
                            addresses.extend(condition.ranges)
                        elif isinstance(condition, PortCond):
                            ports.extend(condition.ranges)
                        elif isinstance(condition, NftPortPairCond):
                            ports.append((condition.sport, condition.sport))
                            ports.append((condition.dport, condition.dport))
                        elif isinstance(condition, AnyOfCond):
                            # Each alternative's parts cut the same atom spaces as a rule's own conditions.
                            pending.extend(reversed([part for alternative in condition.alternatives for part in alternative]))
        top_address = (1 << (32 if self.family == 4 else 128)) - 1
        # NAT: the translated values are atoms of their own, so a translated class is an exact mask.
        self.has_nat = bool(nat_targets)
        self.notes.extend(note for _line, note in sorted(set(replies)))
        extra_names = list(interfaces)
        placeholders = False
        if nat_targets:
            protocols.update(PORT_PROTOCOLS)
            netmaps = []
            for target in nat_targets:
                if target.kind == "NETMAP":
                    netmaps.append(target)
                elif target.addresses is not None:
                    addresses.append(target.addresses)
                else:
                    placeholders = True
                if target.kind == "REDIRECT":
                    addresses.append((LOOPBACK[self.family], LOOPBACK[self.family]))
                    extra_names.append("lo")
                if target.ports is not None:
                    ports.append(target.ports)
                    ports.append((target.ports[0], target.ports[0]))  # where DNAT sends a port outside the range
                elif target.random:
                    ports.extend((low, high) for low, high, _band in RANDOM_BANDS)
                    ports.extend(band for _low, _high, band in RANDOM_BANDS)
            if netmaps:
                # NETMAP keeps the host part: the image of every address boundary is a boundary.
                bits = 32 if self.family == 4 else 128
                bounds = {low for low, _high in addresses} | {high + 1 for _low, high in addresses if high < top_address}
                for target in netmaps:
                    if target.addresses is None:
                        raise EvaluationError("%s: NETMAP without a prefix to map to" % target)
                    addresses.append(target.addresses)
                    addresses.extend((target.netmap(bound, bits), target.addresses[1]) for bound in bounds)
        self.interfaces = Interfaces(patterns, extra_names)
        self.protocols = Protocols(protocols)
        extras = [str(IfaceAddress(label)) for label in self.interfaces.labels[1:]] if placeholders else []
        address_space = Intervals(top_address, addresses, extras)
        self._extras = address_space.full ^ address_space.real
        port_space = Intervals(65535, ports)
        self.intervals: dict[int, Intervals] = {SRC: address_space, DST: address_space,
                                                SPORT: port_space, DPORT: port_space}
        self.full = (self.interfaces.full, self.interfaces.full, self.protocols.full, address_space.full,
                     address_space.full, port_space.full, port_space.full, (1 << 256) - 1)
        self._symrules: dict[tuple[str, str, bool], tuple[_SymRule, ...]] = {}
        self._skip_indexes: dict[tuple[str, str, bool], _SkipIndex | None] = {}
        self._tos_cache: dict[tuple[int, int, int, int], int] = {}
        # (path, verdict, keep, set, writes, assumptions, masks); writes may start with a _History
        self._classes: list[tuple[t.Any, ...]] = []
        self._markings: list[Marking] | None = None
        self.class_count = 0
        self._by_line: dict[int, Rule] | None = None
        self._leaving_cache: dict[tuple[t.Any, ...], tuple[Marking, ...]] = {}
        # Each held class expanded once: the join asks for different DS bytes as a candidate router changes.
        self._expanded: dict[int, list[Marking]] = {}
        # Rules with their address tests left out (for the part of a class holding an interface's address).
        self._free_rules: dict[int, _SymRule] = {}
        # Each writing line with the (in, out) interface masks of the pieces it wrote, and whether a REDIRECT moved
        # a piece's out interface (or left none of it): writer_lines_leaving reads its answer from these where
        # every written piece reaches the end as it was written (see there).
        self._written: dict[int, set[tuple[int, int]]] = {}
        self._out_moved = False
        # What a candidate with one rule appended to mangle POSTROUTING resumes from (with_appended_rule):
        # recorded by build() where the map runs the mangle table alone.
        self._resume: _Resume | None = None
        # The hook and table being walked (a NAT target's meaning depends on them).
        self._hook = ""
        self._table_name = ""
        self._nat_stage = False

    # -- compiling rules into cubes -------------------------------------------------

    # The caches the build fills (symbolic rules, skip indexes, TOS tests): a map handed to another process
    # (loader.py loads a fleet's firewalls on two cores) goes without them, half its pickled size; they fill
    # again if asked.
    _BUILD_CACHES = ("_symrules", "_skip_indexes", "_tos_cache")

    def __getstate__(self) -> dict[str, t.Any]:
        # Nor with what a candidate would resume from (with_appended_rule builds such a map's candidate in full).
        state = {name: value for name, value in self.__dict__.items() if name not in self._BUILD_CACHES}
        state["_resume"] = None
        return state

    def __setstate__(self, state: dict[str, t.Any]) -> None:
        self.__dict__.update(state)
        for name in self._BUILD_CACHES:
            self.__dict__[name] = {}

    def _sym_chain(self, table: str, chain: str, knows_out: bool) -> tuple[_SymRule, ...]:
        key = (table, chain, knows_out)
        built = self._symrules.get(key)
        if built is None:
            built = tuple(self._sym_rule(compiled, knows_out) for compiled in self.program.chain(table, chain))
            self._symrules[key] = built
        return built

    def _skip_index(self, table: str, chain: str, knows_out: bool,
                    rules: tuple[_SymRule, ...]) -> _SkipIndex | None:
        """For a chain of more than a few rules: which rules can touch a class, per dimension (see _SkipIndex);
        None for a short chain, where walking it is as cheap."""
        key = (table, chain, knows_out)
        if key not in self._skip_indexes:
            self._skip_indexes[key] = _SkipIndex(rules) if len(rules) > SKIP_INDEX_MIN_RULES else None
        return self._skip_indexes[key]

    def _sym_rule(self, compiled: t.Any, knows_out: bool) -> _SymRule:
        base = list(self.full[:STATIC_DIMS])
        alternatives: list[list[tuple[int, ...]]] = []  # each: a list of flat (dim, mask, dim, mask, ...) conjunctions, OR-ed
        tos: list[tuple[int, int, bool]] = []
        opaque: list[str] = []
        never = False
        for condition in compiled.conditions:
            if isinstance(condition, IfaceCond):
                if condition.direction == "out" and not knows_out:
                    # The hook passes the empty name: the condition is a constant here.
                    holds = (self.interfaces.mask(condition.name) & self.interfaces.empty_atom) != 0
                    if holds == condition.negated:
                        never = True
                    continue
                dim = IIF if condition.direction == "in" else OIF
                mask = self.interfaces.mask(condition.name)
                base[dim] &= (self.interfaces.full ^ mask) if condition.negated else mask
            elif isinstance(condition, ProtoCond):
                mask = self.protocols.mask(condition.number)
                base[PROTO] &= (self.protocols.full ^ mask) if condition.negated else mask
            elif isinstance(condition, AddrCond):
                dim = SRC if condition.direction == "src" else DST
                space = self.intervals[dim]
                mask = space.mask(condition.ranges)
                base[dim] &= (space.full ^ mask) if condition.negated else mask
            elif isinstance(condition, PortCond):
                space = self.intervals[SPORT]
                mask = space.mask(condition.ranges)
                if condition.direction == "either":
                    if condition.negated:
                        base[SPORT] &= space.full ^ mask
                        base[DPORT] &= space.full ^ mask
                    else:
                        alternatives.append([(SPORT, mask), (SPORT, space.full ^ mask, DPORT, mask)])
                else:
                    dim = SPORT if condition.direction == "sport" else DPORT
                    base[dim] &= (space.full ^ mask) if condition.negated else mask
            elif isinstance(condition, NftPortPairCond):
                space = self.intervals[SPORT]
                sport_mask = space.mask(((condition.sport, condition.sport),))
                dport_mask = space.mask(((condition.dport, condition.dport),))
                alternatives.append([(SPORT, space.full ^ sport_mask),
                                     (SPORT, sport_mask, DPORT, space.full ^ dport_mask)])
            elif isinstance(condition, TosCond):
                tos.append((condition.value, condition.mask, condition.negated))
            elif isinstance(condition, TosSetCond):
                tos.append((condition.values, condition.mask, condition.negated))  # type: ignore[arg-type]
            elif isinstance(condition, AnyOfCond):
                options = self._any_of(condition, knows_out)
                if not options:
                    never = True
                else:
                    alternatives.append(options)
            elif isinstance(condition, NeverCond):
                never = True
            elif isinstance(condition, Opaque):
                opaque.append("%s: %s" % (compiled.rule.source.where(), condition.text))
            else:
                raise EvaluationError("%s: condition %r has no symbolic form" % (compiled.rule.source.where(),
                                                                                 condition))
        cubes: list[_Cube] = []
        if not never:
            conjunctions: list[list[int]] = [base]
            for alternative in alternatives:
                expanded = []
                for masks in conjunctions:
                    for option in alternative:
                        new = list(masks)
                        for position in range(0, len(option), 2):
                            new[option[position]] &= option[position + 1]
                        expanded.append(new)
                conjunctions = expanded
            for masks in conjunctions:
                if all(masks):
                    dims = tuple(d for d in range(STATIC_DIMS) if masks[d] != self.full[d])
                    cubes.append(_Cube(tuple(masks), dims))
        return _SymRule(compiled, tuple(cubes), tuple(tos), tuple(opaque))

    def _any_of(self, condition: AnyOfCond, knows_out: bool) -> list[tuple[int, ...]]:
        """An AnyOfCond as disjoint flat (dim, mask, ...) conjunctions whose union is what it matches."""
        cubes: list[list[int]] = []
        for alternative in condition.alternatives:
            masks = list(self.full[:STATIC_DIMS])
            possible = True
            for part in alternative:
                if isinstance(part, IfaceCond):
                    mask = self.interfaces.mask(part.name)
                    if part.direction == "out" and not knows_out:
                        if ((mask & self.interfaces.empty_atom) != 0) == part.negated:
                            possible = False
                        continue
                    dim = IIF if part.direction == "in" else OIF
                    masks[dim] &= (self.interfaces.full ^ mask) if part.negated else mask
                elif isinstance(part, ProtoCond):
                    mask = self.protocols.mask(part.number)
                    masks[PROTO] &= (self.protocols.full ^ mask) if part.negated else mask
                elif isinstance(part, (AddrCond, PortCond)) and part.direction != "either":
                    dim = {"src": SRC, "dst": DST, "sport": SPORT, "dport": DPORT}[part.direction]
                    space = self.intervals[dim]
                    mask = space.mask(part.ranges)
                    masks[dim] &= (space.full ^ mask) if part.negated else mask
                else:
                    raise EvaluationError("condition %r has no symbolic form inside a set" % (part,))
            if possible and all(masks):
                cubes.append(masks)
        # Disjoint pieces of the union (or of its complement): each cube minus the ones before it.
        pieces: list[list[int]] = []
        for cube in cubes:
            fresh = [cube]
            for earlier in pieces:
                fresh = [piece for part in fresh for piece in _minus(part, earlier)]
            pieces.extend(fresh)
        if condition.negated:
            rest = [list(self.full[:STATIC_DIMS])]
            for piece in pieces:
                rest = [left for part in rest for left in _minus(part, piece)]
            pieces = rest
        flat: list[tuple[int, ...]] = []
        for piece in pieces:
            flat.append(tuple(x for dim in range(STATIC_DIMS) if piece[dim] != self.full[dim]
                              for x in (dim, piece[dim])))
        return flat

    def _tos_mask(self, keep: int, setv: int, conditions: tuple[tuple[int, int, bool], ...]) -> int:
        """Arrived bytes whose current byte, (arrived & keep) ^ set, meets every tos condition (a value,
        or a frozenset of values for an nft set of DSCPs)."""
        result = self.full[BYTE]
        for value, mask, negated in conditions:
            key = (keep, setv, value, mask)
            hits = self._tos_cache.get(key)
            if hits is None:
                hits = 0
                values: t.Container[int] = value if isinstance(value, frozenset) else (value,)
                for arrived in range(256):
                    if ((arrived & keep) ^ setv) & mask in values:
                        hits |= 1 << arrived
                self._tos_cache[key] = hits
            result &= (self.full[BYTE] ^ hits) if negated else hits
        return result

    # -- walking ---------------------------------------------------------------------

    def build(self) -> "MarkingMap":
        """Walk the hooks once each: the paths that share a hook share its walk.

        Forwarded and locally received packets both cross PREROUTING; forwarded and locally
        generated ones both cross POSTROUTING.  Their classes stay apart by their interfaces
        (a received packet leaves by the empty name, a generated one arrives by it), so one walk
        serves both and classes that end up alike merge across paths.
        """
        iface_full = self.interfaces.full
        empty = self.interfaces.empty_atom
        real = iface_full ^ empty
        start = list(self.full)
        # An arriving header holds real addresses: an interface's address (a NAT placeholder) is among them.
        start[SRC] = start[DST] = self.intervals[SRC].real
        arriving = tuple(start[:IIF] + [real, iface_full] + start[PROTO:])   # forward + input
        generated = tuple(start[:IIF] + [empty, real] + start[PROTO:])       # output
        dropped: list[tuple[t.Any, ...]] = []
        after_pre = self._run_hook("PREROUTING", [(arriving, 0xFF, 0x00, (), ())], dropped)
        received = _restrict(after_pre, OIF, empty)
        forwarded = _restrict(after_pre, OIF, real)
        received = self._run_hook("INPUT", received, dropped)
        forwarded = self._run_hook("FORWARD", forwarded, dropped)
        sent = self._run_hook("OUTPUT", [(generated, 0xFF, 0x00, (), ())], dropped)
        if self.tables == ("mangle",) and not self._extras:
            self._resume = _Resume(received, dropped)
        leaving = self._run_hook("POSTROUTING", forwarded + sent, dropped)
        self._classify(received, leaving, dropped)
        return self

    def _classify(self, received: list[tuple[t.Any, ...]], leaving: list[tuple[t.Any, ...]],
                  dropped: list[tuple[t.Any, ...]]) -> None:
        for verdict, states in (("accept", received + leaving), ("drop", dropped)):
            for path, (masks, keep, setv, writers, assumptions) in self._by_path(states):
                self._classes.append((path, verdict, keep, setv, writers, assumptions, masks))

    def with_appended_rule(self, running: "MarkingMap", after_line: int) -> "MarkingMap":
        """This map (built on a candidate dump: `running`'s dump with one rule appended to mangle POSTROUTING, on
        the line after `after_line`), built from what `running`'s build recorded instead of walked again.

        Before mangle POSTROUTING the two dumps run alike; in it, a class meets the new rule exactly when it walked
        off the end of the chain in `running` (not by RETURN or the end of a goto'd chain) and the rule's matches
        touch it.  The others end as they ended, in the same order; those that meet it wait at its program point,
        the last, and are walked from there as build() would.  Every line after `after_line` moved down one (in a
        merged history, when the history is first read: History.derived).  On a 100,000-rule dump: 0.2 s instead of
        the 1.3 s build.  Built in full (build()) where `running` did not record (NAT or native tables applied,
        interfaces' addresses), where its dump has unmodelled matches or targets (their assumptions name lines), or
        where the two maps' atoms differ."""
        resume = running._resume
        rules = self._sym_chain("mangle", "POSTROUTING", True) if "mangle" in self.tables else ()
        if resume is None or resume.passed is None or self.tables != running.tables or self._extras \
                or self.full != running.full or self.interfaces.labels != running.interfaces.labels \
                or self.protocols.numbers != running.protocols.numbers \
                or any(self.intervals[dim].starts != running.intervals[dim].starts for dim in (SRC, DST, SPORT, DPORT)) \
                or len(rules) != len(running._sym_chain("mangle", "POSTROUTING", True)) + 1 \
                or self.program.policy("mangle", "POSTROUTING") == "DROP":
            return self.build()
        shift = _LineShift(after_line)
        try:
            received = [shift.state(state) for state in resume.received]
            dropped = [shift.state(state) for state in resume.dropped]
            passed = [shift.state(state) for state in resume.passed]
        except _NotShifted:
            return self.build()
        new_cubes = rules[-1].cubes
        walked_off = set(resume.walked_off)
        waiting: list[tuple[t.Any, ...]] = []
        kept: list[tuple[t.Any, ...]] = []
        for index, state in enumerate(passed):
            (waiting if index in walked_off and _touches(state[0], new_cubes) else kept).append(state)
        for line, pieces in running._written.items():
            self._written[shift.line(line)] = set(pieces)
        stage = next(stage for stage in self.program.stages("POSTROUTING") if stage.table == "mangle")
        self._hook, self._table_name, self._nat_stage = "POSTROUTING", "mangle", False
        self._run_table(waiting, stage, True, kept, dropped, start=len(rules) - 1)
        self._classify(received, _merge_stage(kept, self.has_nat), dropped)
        return self

    def _by_path(self, states: list[tuple[t.Any, ...]]) -> t.Iterator[tuple[str, tuple[t.Any, ...]]]:
        """Tell the paths apart again by the interfaces: generated packets arrive by the empty name,
        received ones leave by it."""
        empty = self.interfaces.empty_atom
        real = self.interfaces.full ^ empty
        for state in states:
            masks = state[0]
            for path, iif, oif in (("output", empty, real), ("input", real, empty), ("forward", real, real)):
                inside_iif = masks[IIF] & iif
                inside_oif = masks[OIF] & oif
                if inside_iif and inside_oif:
                    self.class_count += 1
                    yield path, (masks[:IIF] + (inside_iif, inside_oif) + masks[PROTO:],) + state[1:]

    def _run_hook(self, hook: str, states: list[tuple[t.Any, ...]], dropped: list[tuple[t.Any, ...]]) -> list[tuple[t.Any, ...]]:
        knows_out = HOOK_KNOWS_OUT[hook]
        for stage in self.program.stages(hook):
            if not states:
                break
            if stage.table not in self.tables:
                continue
            self._hook = hook
            self._table_name = stage.table
            self._nat_stage = stage.table == "nat" and not getattr(self.program.ruleset.tables[stage.table],
                                                                   "native", False)
            passed: list[tuple[t.Any, ...]] = []
            walked_off: list[int] | None = None
            if self._resume is not None and hook == "POSTROUTING" and stage.table == "mangle":
                walked_off = self._resume.walked_off
                self._resume.passed = passed
            self._run_table(states, stage, knows_out, passed, dropped, walked_off=walked_off)
            states = _merge_stage(passed, self.has_nat)
        return states

    def _run_table(self, states: list[tuple[t.Any, ...]], stage: Stage, knows_out: bool,
                   passed: list[tuple[t.Any, ...]], dropped: list[tuple[t.Any, ...]],
                   walked_off: list[int] | None = None, start: int = 0) -> None:
        """Walk one base chain (and the chains it jumps to) at one hook for every class, in program order.

        `walked_off` collects the positions in `passed` of the classes that walked off the end of the base chain
        (not by RETURN, nor at the end of a chain it went to by goto): a rule appended to the chain would meet
        them.  `start`: the rule of the base chain the classes start at.

        Program points are visited in the order the kernel runs them (ordered by the
        positions of every frame of the call stack), and the classes that meet at one point
        in the same state are merged there before the rule runs: the work follows the number
        of distinct states, not the product of every partition made upstream.
        """
        table, hook = stage.table, stage.chain
        policy_drop = self.program.policy(table, hook) == "DROP"
        pending: dict[tuple[t.Any, ...], list[tuple[t.Any, ...]]] = {}
        heap: list[tuple[t.Any, ...]] = []
        steps = 0
        chains: dict[str, tuple[_SymRule, ...]] = {}

        def rules_of(chain: str) -> tuple[_SymRule, ...]:
            found = chains.get(chain)
            if found is None:
                found = chains[chain] = self._sym_chain(table, chain, knows_out)
            return found

        extras = self._extras
        real_addresses = self.intervals[SRC].real

        def skip(chain: str, rules: tuple[_SymRule, ...], position: int, masks: tuple[int, ...]) -> int:
            """The first rule from `position` on that can touch the class (len(rules): none)."""
            count = len(rules)
            index = self._skip_index(table, chain, knows_out, rules) if count > SKIP_INDEX_MIN_RULES else None
            if index is not None:
                # Only the rules the index keeps for the class's atoms are candidates (a superset of those
                # that touch it: each is still checked), in rule order.
                candidates = index.candidates(masks) >> position
                while candidates:
                    low = candidates & -candidates
                    found = position + low.bit_length() - 1
                    if _touches(masks, rules[found].cubes):
                        return found
                    candidates ^= low
                return count
            while position < count and not _touches(masks, rules[position].cubes):
                position += 1
            return position

        def schedule(state: tuple[t.Any, ...], chain: str, position: int, stack: tuple[t.Any, ...]) -> None:
            # Skip the rules that cannot touch this class.
            rules = rules_of(chain)
            masks = state[0]
            if extras and (masks[SRC] | masks[DST]) & extras:
                # An interface's address may be any address: every address test may touch it.
                masks = masks[:SRC] + (masks[SRC] | real_addresses, masks[DST] | real_addresses) + masks[DST + 1:]
            count = len(rules)
            walked = position < _RETURNED
            position = skip(chain, rules, position, masks)
            while position >= count:
                if not stack:
                    if walked and walked_off is not None and not policy_drop:
                        walked_off.append(len(passed))
                    (dropped if policy_drop else passed).append(state)
                    return
                chain, position, is_goto = stack[-1]
                stack = stack[:-1]
                if is_goto is True:
                    # A goto'd chain returns past the chain that went to it.
                    position = count
                    walked = False
                    continue
                walked = True
                rules = rules_of(chain)
                count = len(rules)
                position = skip(chain, rules, position, masks)
            key = (stack, chain, position)
            bucket = pending.get(key)
            if bucket is None:
                pending[key] = [state]
                heapq.heappush(heap, (tuple(frame[1] for frame in stack) + (position, _LAST), key))
            else:
                bucket.append(state)

        def take(rule: _SymRule, matched: list[tuple[int, ...]], keep: int, setv: int, writers: tuple[t.Any, ...],
                 assumptions: tuple[str, ...], chain: str, position: int, stack: tuple[t.Any, ...]) -> None:
            """The pieces a rule matched: its unmodelled matches followed both ways, then its target."""
            if rule.opaque and self._nat_stage:
                # In the nat table the two outcomes usually part ways on the wire (kube-proxy's
                # `-m statistic` picks an endpoint, `-m mark` decides MASQUERADE): the assumption
                # travels in the sequence, so classes that meet again merge (history.py keeps them apart).
                said = "; ".join(rule.opaque)
                for piece in matched:
                    schedule((piece, keep, setv, writers + (Assumed("not matched: " + said),), assumptions),
                             chain, position + 1, stack)
                writers = writers + (Assumed("matched: " + said),)
            elif rule.opaque:
                # May match or not: follow both, each saying what it assumed.
                said = "; ".join(rule.opaque)
                for piece in matched:
                    schedule((piece, keep, setv, writers, assumptions + ("not matched: " + said,)),
                             chain, position + 1, stack)
                assumptions = assumptions + ("matched: " + said,)
            for state, next_chain, next_position, next_stack in self._take_target(
                    rule, matched, keep, setv, writers, assumptions, chain, position, stack):
                if next_chain is None:
                    (dropped if next_position == "drop" else passed).append(state)
                elif next_chain == "":
                    # RETURN: resume the caller, or the policy of the built-in chain.
                    schedule(state, chain, _RETURNED, next_stack)
                else:
                    schedule(state, next_chain, next_position, next_stack)

        for state in states:
            schedule(state, hook, start, ())
        while heap:
            _order, key = heapq.heappop(heap)
            stack, chain, position = key
            rule = rules_of(chain)[position]
            bucket = pending.pop(key)
            merge = len(bucket) > 3 and not self._nat_stage
            for masks, keep, setv, writers, assumptions in (_merge_stage(bucket, self.has_nat) if merge else bucket):
                steps += 1
                if steps > 5_000_000:
                    raise EvaluationError("marking map: more than 5,000,000 steps in %s %s; refusing to guess"
                                          % (table, hook))
                maybe: list[tuple[int, ...]] = []
                if self._extras and (masks[SRC] | masks[DST]) & self._extras:
                    matched, unmatched, maybe = self._split_unknown(masks, keep, setv, rule)
                else:
                    matched, unmatched = self._split(masks, keep, setv, rule)
                for piece in unmatched:
                    schedule((piece, keep, setv, writers, assumptions), chain, position + 1, stack)
                branches = [(matched, assumptions)] if matched else []
                if maybe:
                    # An interface's address (MASQUERADE's source, REDIRECT's destination) against an
                    # address match: the dump does not give the address, so the rule may match or not.
                    said = "%s: address match on %s, which the dump does not give" % (
                        rule.compiled.rule.source.where(), " or ".join(
                            self.intervals[SRC].extra_names((maybe[0][SRC] | maybe[0][DST]) & self._extras)))
                    for piece in maybe:
                        schedule((piece, keep, setv, writers, assumptions + ("not matched: " + said,)),
                                 chain, position + 1, stack)
                    branches.append((maybe, assumptions + ("matched: " + said,)))
                for pieces, branch_assumptions in branches:
                    take(rule, pieces, keep, setv, writers, branch_assumptions, chain, position, stack)

    def _take_target(self, rule: _SymRule, matched: list[tuple[int, ...]], keep: int, setv: int,
                     writers: tuple[t.Any, ...], assumptions: tuple[str, ...], chain: str, position: int,
                     stack: tuple[t.Any, ...]) -> list[tuple[t.Any, ...]]:
        """(state, next chain, next position, next stack) for each matched piece.

        next chain None means the table is done with the piece (next position says accept
        or drop); "" means RETURN.
        """
        compiled = rule.compiled
        target = compiled.rule.target
        line = compiled.rule.line
        write = compiled.write
        found: list[tuple[t.Any, ...]] = []
        if compiled.nat is not None and self._nat_stage:
            # The connection's nat binding: the header changes, and the nat table is done with it.
            for piece in matched:
                for new_piece, event in self._translate(compiled, piece):
                    found.append(((new_piece, keep, setv, writers + (event,), assumptions), None, "accept", stack))
            return found
        if write is not None:
            written = self._written.setdefault(line, set())
            for piece in matched:
                written.add((piece[IIF], piece[OIF]))
                if write.legacy_rev0:
                    # Revision 0 writes only when (current & 0x1e) != value: split on the arrived byte.
                    same = self._tos_mask(keep, setv, ((write.value, 0x1E, False),)) & piece[BYTE]
                    if same:
                        found.append(((piece[:BYTE] + (same,), keep, setv, writers + (line,), assumptions),
                                      chain, position + 1, stack))
                    changed = piece[BYTE] & ~same
                    if changed:
                        new_keep, new_set = keep & 0xE0, (setv & 0xE0) | write.value
                        found.append(((piece[:BYTE] + (changed,), new_keep, new_set, writers + (line,),
                                       assumptions), chain, position + 1, stack))
                else:
                    new_keep = keep & ~write.mask & 0xFF
                    new_set = (setv & ~write.mask & 0xFF) ^ write.value
                    found.append(((piece, new_keep, new_set, writers + (line,), assumptions),
                                  chain, position + 1, stack))
            return found
        if isinstance(target, Jump):
            if isinstance(target, InlineJump):
                frame = stack + ((chain, position + 1, _INLINE),)
            else:
                resume, base = chain, stack
                while target.goto and base and base[-1][2] == _INLINE:
                    # A goto from the rest of an nft rule leaves the chain that holds the rule.
                    resume, base = base[-1][0], base[:-1]
                frame = base + ((resume, position + 1, target.goto),)
            for piece in matched:
                found.append(((piece, keep, setv, writers, assumptions), target.chain, 0, frame))
            return found
        if isinstance(target, Verdict):
            for piece in matched:
                state = (piece, keep, setv, writers, assumptions)
                if target.kind == "return":
                    base = stack
                    while base and base[-1][2] == _INLINE:
                        base = base[:-1]  # a return from the rest of an nft rule returns from the rule's chain
                    found.append((state, "", 0, base))
                elif target.kind == "drop":
                    found.append((state, None, "drop", stack))
                else:
                    found.append((state, None, "accept", stack))
            return found
        if isinstance(target, OtherTarget) and not target.known:
            note = "%s: unmodeled target %s assumed to leave the byte alone and continue" % (
                compiled.rule.source.where(), target.name)
            assumptions = assumptions + (note,)
        for piece in matched:
            found.append(((piece, keep, setv, writers, assumptions), chain, position + 1, stack))
        return found

    # -- NAT --------------------------------------------------------------------------

    def _translate(self, compiled: t.Any, piece: tuple[int, ...]) -> list[tuple[tuple[int, ...], Translation]]:
        """A class through a NAT target: the pieces it becomes (cut where the translation differs:
        per interface for an interface's address, port protocols or not, ports inside the target's
        range or not), each with the Translation that says what changed."""
        hook = self._hook
        target = compiled.nat.for_hook(hook)
        addr_dim, port_dim = (SRC, SPORT) if target.manip == "src" else (DST, DPORT)
        space = self.intervals[addr_dim]
        interfaces = self.interfaces
        parts: list[tuple[tuple[int, ...], int]] = []  # (piece, its new address mask)
        if target.kind == "NETMAP":
            parts.append((piece, self._netmap_image(target, piece[addr_dim])))
        elif target.addresses is not None:
            parts.append((piece, space.mask((target.addresses,))))
        elif target.kind == "REDIRECT" and hook == "OUTPUT":
            # Locally generated packets are redirected to the loopback address, and leave by lo.
            self._out_moved = True
            out = piece[OIF] & interfaces.atom("lo")
            if out:
                loopback = LOOPBACK[self.family]
                parts.append((_with(piece, OIF, out), space.mask(((loopback, loopback),))))
        else:
            # MASQUERADE: the egress interface's address; REDIRECT: the incoming one's (delivered locally).
            iface_dim = OIF if target.kind == "MASQUERADE" else IIF
            for index in range(1, interfaces.size):
                bit = 1 << index
                if not piece[iface_dim] & bit:
                    continue
                sub = _with(piece, iface_dim, bit)
                if target.kind == "REDIRECT":
                    self._out_moved = True
                    sub = _with(sub, OIF, sub[OIF] & interfaces.empty_atom)
                    if not sub[OIF]:
                        continue
                parts.append((sub, space.extra_atom(str(IfaceAddress(interfaces.labels[index])))))
        found: list[tuple[tuple[int, ...], Translation]] = []
        for sub, address_mask in parts:
            for port_piece, port_mask in self._port_pieces(target, sub, port_dim):
                new = list(port_piece)
                new[addr_dim] = address_mask
                # A dimension the target sets is recorded as changed even where the class's mask comes out the
                # same: the class may hold merged sub-classes (a history) with narrower masks, and each of them
                # leaves with the target's values (sport 2001-65535 through MASQUERADE --random-fully: any of
                # 1024-65535), not its own.  NETMAP alone maps each address to one address: recorded only
                # where the set moves.
                changed = [addr_dim] if address_mask != port_piece[addr_dim] or target.kind != "NETMAP" else []
                if port_mask is not None:
                    new[port_dim] = port_mask
                    changed.append(port_dim)
                event = Translation(target, compiled.rule, hook, self._table_name,
                                    tuple((dim, port_piece[dim]) for dim in changed),
                                    tuple((dim, new[dim]) for dim in changed))
                found.append((tuple(new), event))
        return found

    def _port_pieces(self, target: NatTarget, piece: tuple[int, ...],
                     port_dim: int) -> list[tuple[tuple[int, ...], int | None]]:
        """(piece, its new port mask or None: kept) as the kernel maps ports (nat.new_port)."""
        if target.ports is None and not (target.random and target.manip == "src"):
            return [(piece, None)]
        protocols = self.protocols
        with_ports = 0
        for number in PORT_PROTOCOLS:
            with_ports |= protocols.atom(number)
        found: list[tuple[tuple[int, ...], int | None]] = []
        other = piece[PROTO] & ~with_ports
        if other:
            found.append((_with(piece, PROTO, other), None))
        if not piece[PROTO] & with_ports:
            return found
        piece = _with(piece, PROTO, piece[PROTO] & with_ports)
        ports = self.intervals[port_dim]
        if target.ports is None:
            for low, high, band in RANDOM_BANDS:
                inside = piece[port_dim] & ports.mask(((low, high),))
                if inside:
                    found.append((_with(piece, port_dim, inside), ports.mask((band,))))
            return found
        low, high = target.ports
        whole = ports.mask(((low, high),))
        if low == high or target.random:
            found.append((piece, whole))
            return found
        inside = piece[port_dim] & whole
        outside = piece[port_dim] & ~whole
        if inside:
            found.append((_with(piece, port_dim, inside), None))
        if outside:
            found.append((_with(piece, port_dim, outside),
                          ports.mask(((low, low),)) if target.manip == "dst" else whole))
        return found

    def _netmap_image(self, target: NatTarget, mask: int) -> int:
        """The addresses NETMAP maps a set onto (exact: images of atom boundaries are boundaries)."""
        space = self.intervals[SRC]
        if target.addresses is None or target.prefix is None:
            raise EvaluationError("%s: NETMAP without a prefix to map to" % target)
        bits = 32 if self.family == 4 else 128
        block = 1 << (bits - target.prefix)
        net_low, net_high = target.addresses
        images: list[tuple[int, int]] = []
        for low, high in space.ranges(mask):
            if high - low + 1 >= block:
                images.append((net_low, net_high))
            elif low // block == high // block:
                images.append((target.netmap(low, bits), target.netmap(high, bits)))
            else:
                images.append((target.netmap(low, bits), net_high))
                images.append((net_low, target.netmap(high, bits)))
        return space.mask(tuple(images)) | (mask & ~space.real)

    def _replays(self, marking: Marking, packet: t.Any, point: tuple[int, ...]) -> bool:
        """Whether a concrete packet (as it arrived) is in a translated class: its header in the class as
        it arrived, and its translated header, worked out as nat.py does for one packet, on the wire."""
        original = marking.original_masks
        if not all(original[d] & point[d] for d in range(8)):
            return False
        values: dict[int, t.Any] = {SRC: packet.src, DST: packet.dst, SPORT: packet.sport, DPORT: packet.dport}
        for translation in marking.translations:
            target = translation.target.for_hook(translation.hook)
            address_dim, port_dim = (SRC, SPORT) if target.manip == "src" else (DST, DPORT)
            interface = packet.out_interface if target.kind == "MASQUERADE" else packet.in_interface
            values[address_dim] = new_address(target, values[address_dim], interface, self.family, translation.hook)
            values[port_dim] = new_port(target, packet.protocol, values[port_dim])
            for dim, _before in translation.before:
                if not self._value_mask(dim, values[dim]) & marking.masks[dim]:
                    return False
        return True

    def _value_mask(self, dim: int, value: t.Any) -> int:
        space = self.intervals[dim]
        if value is None:
            return space.full
        if isinstance(value, IfaceAddress):
            label = self.interfaces.labels[self.interfaces.atom(value.interface).bit_length() - 1]
            return space.extra_atom(str(IfaceAddress(label)))
        if isinstance(value, tuple):
            return space.mask((value,))
        return space.atom(value)

    def _split_unknown(self, masks: tuple[int, ...], keep: int, setv: int, rule: _SymRule
                       ) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], list[tuple[int, ...]]]:
        """_split for a class holding an interface's address in a dimension the rule tests: (matched,
        unmatched, may match), the last being the part whose interface address the rule's address
        match meets (the rule's other conditions hold there)."""
        extras = self._extras
        tested = {dim for cube in rule.cubes for dim in cube.dims if dim in (SRC, DST)}
        if not any(masks[dim] & extras for dim in tested):
            hits, misses = self._split(masks, keep, setv, rule)
            return hits, misses, []
        known = list(masks)
        unknown: list[tuple[int, ...]] = []
        for dim in sorted(tested):
            if known[dim] & extras:
                unknown.append(tuple(known[:dim]) + (known[dim] & extras,) + tuple(known[dim + 1:]))
                known[dim] &= ~extras
        matched: list[tuple[int, ...]] = []
        unmatched: list[tuple[int, ...]] = []
        if all(known):
            matched, unmatched = self._split(tuple(known), keep, setv, rule)
        free = self._free_rules.get(id(rule))
        if free is None:
            cubes = []
            for cube in rule.cubes:
                freed = tuple(self.full[dim] if dim in (SRC, DST) else mask for dim, mask in enumerate(cube.masks))
                cubes.append(_Cube(freed, tuple(dim for dim in cube.dims if dim not in (SRC, DST))))
            free = self._free_rules[id(rule)] = dataclasses.replace(rule, cubes=tuple(cubes))
        maybe: list[tuple[int, ...]] = []
        for piece in unknown:
            hit, miss = self._split(piece, keep, setv, free)
            maybe.extend(hit)
            unmatched.extend(miss)
        return matched, unmatched, maybe

    def _split(self, masks: tuple[int, ...], keep: int, setv: int,
               rule: _SymRule) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
        """Cut a class by a rule: the pieces it matches and the pieces it does not."""
        matched: list[tuple[int, ...]] = []
        rest: list[tuple[int, ...]] = [masks]
        tos_hits = self._tos_mask(keep, setv, rule.tos) if rule.tos else None
        for cube in rule.cubes:
            remaining: list[tuple[int, ...]] = []
            cube_masks = cube.masks
            for piece in rest:
                inside = list(piece)
                disjoint = False
                for dim in cube.dims:
                    inside[dim] &= cube_masks[dim]
                    if not inside[dim]:
                        disjoint = True
                        break
                if disjoint:
                    remaining.append(piece)
                    continue
                # piece minus cube: one piece per constrained dimension, disjoint by construction
                current = list(piece)
                for dim in cube.dims:
                    outside = current[dim] & ~cube_masks[dim]
                    if outside:
                        split = list(current)
                        split[dim] = outside
                        remaining.append(tuple(split))
                    current[dim] &= cube_masks[dim]
                if tos_hits is not None:
                    hit = inside[BYTE] & tos_hits
                    miss = inside[BYTE] & ~tos_hits
                    if miss:
                        remaining.append(tuple(inside[:BYTE]) + (miss,))
                    if hit:
                        matched.append(tuple(inside[:BYTE]) + (hit,))
                else:
                    matched.append(tuple(inside))
            rest = remaining
        return matched, rest

    # -- queries ---------------------------------------------------------------------

    def _marking(self, raw: tuple[t.Any, ...]) -> list[Marking]:
        known = self._expanded.get(id(raw))
        if known is None:
            path, verdict, keep, setv, writes, assumptions, masks = raw
            if not self.has_nat:
                known = [Marking(path, verdict, keep, setv, writers, assumptions, sub_masks, self)
                         for sub_masks, writers in expand_writers(masks, writes)]
            else:
                known = []
                for sub_masks, arrived, events in expand_events(masks, writes):
                    writers = tuple(event for event in events if isinstance(event, int))
                    translations = tuple(event for event in events if isinstance(event, Translation))
                    assumed = tuple(str(event) for event in events if isinstance(event, Assumed))
                    known.append(Marking(path, verdict, keep, setv, writers, assumptions + assumed, sub_masks, self,
                                         translations, arrived if translations else None))
            self._expanded[id(raw)] = known
        return known

    @property
    def markings(self) -> list[Marking]:
        """Every class with its exact sequence of writing rules (merged histories expanded)."""
        if self._markings is None:
            found: list[Marking] = []
            for raw in self._classes:
                found.extend(self._marking(raw))
            self._markings = found
        return self._markings

    def summary(self, include_untouched: bool = False) -> list[dict[str, t.Any]]:
        """One entry per outcome (path, verdict, rewrite, writing rules, assumptions) with its classes.

        Classes that leave untouched and accepted are left out unless asked for:
        they are what the firewall does not do.
        """
        groups: dict[tuple[t.Any, ...], dict[str, t.Any]] = {}
        for marking in self.markings:
            if not include_untouched and not marking.writers and marking.verdict == "accept" \
                    and not marking.assumptions:
                continue
            # The outcome a person reads: which rules decided, on which path, with what verdict.
            # (Revision-0 TOS splits a class on the arriving byte; both halves share this key.)
            key: tuple[t.Any, ...] = (marking.path, marking.verdict, marking.writers, marking.assumptions)
            if marking.translations:
                key += (tuple((translation.kind, translation.line) for translation in marking.translations),)
            group = groups.get(key)
            if group is None:
                group = groups[key] = {
                    "path": marking.path,
                    "verdict": marking.verdict,
                    "writers": list(marking.writers),
                    "rules": [self._rule_text(line) for line in marking.writers],
                    "assumptions": list(marking.assumptions),
                    "rewrites": [],
                    "ds_byte": None,
                    "dscp": None,
                    "describe": None,
                    "depends_on_arrival": False,
                    "classes": [],
                }
                if marking.translations:
                    group["translated"] = "; ".join(translation.said(self) for translation in marking.translations)
                    group["nat_note"] = PER_CONNECTION_NOTE
            rewrite = {"keep": marking.keep, "set": marking.set}
            if rewrite not in group["rewrites"]:
                group["rewrites"].append(rewrite)
            if marking.keep != 0 or len(group["rewrites"]) > 1:
                group["depends_on_arrival"] = True
            if marking.masks[BYTE] & 1 and group["ds_byte"] is None:
                group["ds_byte"] = marking.set
                group["dscp"] = marking.set >> 2
                group["describe"] = dsfield.describe_byte(marking.set)
            described = marking.describe()
            entry = {name: described[name] for name in (
                "in_interfaces", "out_interfaces", "protocols", "src", "dst", "sport", "dport")}
            if marking.translations:
                entry["arrived"] = described["arrived"]
                entry["translations"] = described["translations"]
            group["classes"].append(entry)
        return list(groups.values())

    def deciders(self) -> list[dict[str, t.Any]]:
        """Per rule that has the last word on the byte of packets leaving the box: what it leaves them with.

        The short answer for a person ("line 35 leaves 0x04 on tcp to ports 512-65535 out eth0");
        `summary()` keeps every class and every earlier write.
        """
        found: dict[int, dict[str, t.Any]] = {}
        for marking in self.markings:
            if marking.path == "input" or marking.verdict != "accept" or not marking.writers:
                continue
            line = marking.writers[-1]
            entry = found.get(line)
            if entry is None:
                rule = self.rule_at(line)
                entry = found[line] = {"line": line, "rule": rule.text, "chain": rule.chain, "paths": [],
                                       "out_interfaces": [], "ds_bytes": [], "classes": 0}
            if marking.path not in entry["paths"]:
                entry["paths"].append(marking.path)
            for name in self.interfaces.names(marking.masks[OIF]):
                if name not in entry["out_interfaces"]:
                    entry["out_interfaces"].append(name)
            unmarked = marking.unmarked_byte
            if unmarked is not None and unmarked not in entry["ds_bytes"]:
                entry["ds_bytes"].append(unmarked)
            entry["classes"] += 1
        for entry in found.values():
            entry["ds_bytes"].sort()
            entry["describe"] = [dsfield.describe_byte(value) for value in entry["ds_bytes"]]
        return [found[line] for line in sorted(found)]

    def rule_at(self, line: int) -> Rule:
        """The rule on a line of the dump (writers are given as lines)."""
        if self._by_line is None:
            self._by_line = {}
            for table_name in self.tables:
                table = self.program.ruleset.tables[table_name]
                for chain in table.chains:
                    for rule in table.rules(chain):
                        self._by_line[rule.line] = rule
        return self._by_line[line]

    def _rule_text(self, line: int) -> str:
        return self.rule_at(line).text

    def leaving(self, out_interface: str | None = None, path: str | None = None,
                verdict: str = "accept", ds_bytes: t.Container[int] | None = None,
                hairpin: bool = True) -> list[Marking]:
        """Markings of packets that leave by `out_interface` (any when None).

        `ds_bytes` keeps only classes whose unmarked arrival leaves with one of those bytes, and
        `hairpin=False` leaves out packets forwarded in and out by `out_interface` alone; both
        filters run before merged histories are expanded, which is where the time goes (a
        100,000-rule dump's classes that arrive by the uplink and leave by it again stand for
        317,000 of the 319,000 markings leaving by it).
        """
        # The planner re-audits every candidate against the same firewall maps: the join asks each the
        # same question again, and a big map's answer costs seconds.
        key = (out_interface, path, verdict, frozenset(t.cast(t.Iterable[int], ds_bytes)) if ds_bytes is not None else None,
               hairpin)
        known = self._leaving_cache.get(key)
        if known is not None:
            return list(known)
        atom = self.interfaces.atom(out_interface) if out_interface is not None else None
        # A held class arriving by this interface alone splits into sub-classes that all do (each is non-empty).
        hairpin_atom = atom if not hairpin else None
        found: list[Marking] = []
        for raw in self._raw_leaving(out_interface, verdict):
            raw_path, _verdict, _keep, setv, _writes, _assumptions, masks = raw
            if path is not None and raw_path != path:
                continue
            if ds_bytes is not None and not (masks[BYTE] & 1 and setv in ds_bytes):
                continue
            if hairpin_atom is not None and raw_path == "forward" and masks[IIF] == hairpin_atom:
                continue
            for marking in self._marking(raw):
                if atom is not None and not marking.masks[OIF] & atom:
                    continue
                if ds_bytes is not None and not marking.masks[BYTE] & 1:
                    continue
                if hairpin_atom is not None and raw_path == "forward" and marking.masks[IIF] == hairpin_atom:
                    continue
                found.append(marking)
        self._leaving_cache[key] = tuple(found)
        return found

    def leaving_where(self, test: t.Callable[[str, int, int, int], bool], out_interface: str | None = None,
                      verdict: str | None = "accept") -> list[Marking]:
        """Markings leaving by `out_interface` (any when None) for which `test(path, keep, set, byte_mask)`
        holds, expanding merged histories only for the classes that pass.

        The test reads what a class does to the byte, which no history changes (a history only
        splits a class by which rules wrote it), so a class that fails has no sub-class that
        passes: a query that finds nothing costs one pass over the classes, not their expansion.
        """
        atom = self.interfaces.atom(out_interface) if out_interface is not None else None
        found: list[Marking] = []
        for raw in self._raw_leaving(out_interface, verdict):
            raw_path, _verdict, keep, setv, _writes, _assumptions, masks = raw
            if not test(raw_path, keep, setv, masks[BYTE]):
                continue
            for marking in self._marking(raw):
                if (atom is None or marking.masks[OIF] & atom) and test(raw_path, keep, setv, marking.masks[BYTE]):
                    found.append(marking)
        return found

    def last_writers_where(self, test: t.Callable[[str, int, int, int], bool]) -> set[int]:
        """The last writing line of every class (any path, any verdict) for which `test(path, keep, set,
        byte_mask)` holds.  Only a class whose last write lies inside a merged history is expanded:
        otherwise every sub-class shares the class's last writer and, together, its bytes."""
        found: set[int] = set()
        for raw in self._classes:
            raw_path, _verdict, keep, setv, writes, _assumptions, masks = raw
            if not writes or not test(raw_path, keep, setv, masks[BYTE]):
                continue
            last = _last_line(writes)
            if last is not None:
                found.add(last)
                continue
            if not isinstance(writes[0], _History):
                continue
            for sub_masks, sub_writers in expand_writers(masks, writes):
                sub_last = _last_line(sub_writers)
                if sub_last is not None and test(raw_path, keep, setv, sub_masks[BYTE]):
                    found.add(sub_last)
        return found

    def _raw_leaving(self, out_interface: str | None, verdict: str | None = "accept") -> t.Iterator[tuple[t.Any, ...]]:
        """The classes as held (before merged histories are expanded) that may leave by `out_interface`."""
        atom = self.interfaces.atom(out_interface) if out_interface is not None else None
        for raw in self._classes:
            if verdict is not None and raw[1] != verdict:
                continue
            if atom is not None and not raw[6][OIF] & atom:
                continue
            yield raw

    def count_leaving(self, out_interface: str | None = None) -> int:
        """How many classes the map holds that may leave by `out_interface` (any when None), accepted.

        Held classes partition header space by what happens to the byte; leaving() splits them
        further by which rules wrote it (a 100,000-rule dump's 9,587 held classes stand for 3.2
        million), which a count of outcomes does not need.
        """
        return sum(1 for _raw in self._raw_leaving(out_interface))

    def writer_lines_leaving(self, out_interface: str | None, paths: t.Container[str]) -> set[int]:
        """Every line in the writer sequence of any class leaving by `out_interface` on one of `paths`:
        the union of what leaving() would list, walked through merged histories without forming
        their products."""
        if self.writes_reach_the_end:
            return self._written_leaving(out_interface, paths)
        # A held class may leave by other interfaces too: only its part leaving by this one is expanded.
        atom = self.interfaces.atom(out_interface) if out_interface is not None else self.interfaces.full
        found: set[int] = set()
        for raw in self._raw_leaving(out_interface):
            if raw[0] in paths:
                masks = raw[6]
                _writer_lines(masks[:OIF] + (masks[OIF] & atom,) + masks[OIF + 1:], raw[4], found)
        return found

    @property
    def writes_reach_the_end(self) -> bool:
        """Every piece a line wrote reaches the end of the map with its interfaces as written: no class the map
        drops holds a write, and no REDIRECT moved an out interface.  writer_lines_leaving is then read from the
        writes (milliseconds), not walked through the merged histories (seconds on a 100,000-rule dump)."""
        return not self._out_moved and not any(raw[1] == "drop" and raw[4] for raw in self._classes)

    def _written_leaving(self, out_interface: str | None, paths: t.Container[str]) -> set[int]:
        """writer_lines_leaving from what each line wrote, where every written piece reaches the end of the map as
        it was written: no class the map drops holds a write, and no REDIRECT moved an out interface.  Then a
        line is in the sequence of a class leaving by `out_interface` on a path exactly when one piece it wrote
        holds packets of that path leaving there (a piece is a cube: its interface masks combine freely; later
        rules split it, merges keep its writers in a history, translations leave its interfaces alone), and the
        union needs no walk of the histories (on a 100,000-rule dump, 1.5 s for the walk)."""
        empty = self.interfaces.empty_atom
        real = self.interfaces.full ^ empty
        leaving = self.interfaces.atom(out_interface) if out_interface is not None else self.interfaces.full
        # (in, out) interface masks of each path, the out one cut to the interface asked for.
        path_masks = (("forward", real, real), ("output", empty, real), ("input", real, empty))
        wanted = [(iif, oif & leaving) for path, iif, oif in path_masks if path in paths]
        found: set[int] = set()
        for line, pieces in self._written.items():
            if any(piece_in & iif and piece_out & oif for piece_in, piece_out in pieces for iif, oif in wanted):
                found.add(line)
        return found

    def packet_marking(self, packet: t.Any) -> list[Marking]:
        """The markings a concrete packet falls in (more than one only where unmodeled matches fork, or
        where the kernel picks a translated address or port from a range).

        With NAT, give the packet as it arrived with the path it takes and the interface it leaves by
        after its translation (a REDIRECT is delivered locally: path input)."""
        point = self.point(packet)
        found: list[Marking] = []
        if self.has_nat:
            for raw in self._classes:
                if raw[0] != packet.path:
                    continue
                for marking in self._marking(raw):
                    if marking.translations:
                        if self._replays(marking, packet, point):
                            found.append(marking)
                    elif all(marking.masks[d] & point[d] for d in range(8)):
                        found.append(marking)
            return found
        for raw in self._classes:
            if raw[0] == packet.path and all(raw[6][d] & point[d] for d in range(8)):
                found.extend(m for m in self._marking(raw) if all(m.masks[d] & point[d] for d in range(8)))
        return found

    def point(self, packet: t.Any) -> tuple[int, ...]:
        """A concrete packet as atoms; a field the packet leaves out stands for every value."""
        def interval_atom(dim: int, value: int | None) -> int:
            return self.full[dim] if value is None else self.intervals[dim].atom(value)
        in_name = packet.in_interface if packet.path != "output" else ""
        out_name = packet.out_interface if packet.path != "input" else ""
        return (self.interfaces.atom(in_name), self.interfaces.atom(out_name), self.protocols.atom(packet.protocol),
                interval_atom(SRC, packet.src), interval_atom(DST, packet.dst), interval_atom(SPORT, packet.sport),
                interval_atom(DPORT, packet.dport), 1 << packet.tos)


def _reply_note(rule: Rule, target: NatTarget, family: int) -> str:
    """What the map assumes about a NAT rule's connections: it describes the packets that open them."""
    changed = "destination" if target.kind in ("DNAT", "REDIRECT") else "source" if target.kind in (
        "SNAT", "MASQUERADE") else "address"
    undone = "source" if changed == "destination" else "destination" if changed == "source" else "address"
    return ("%s: %s applies to the packets that open a connection (NEW); the classes of this map that are "
            "replies to such connections (sent back by the host the %s was changed to) leave with their %s "
            "de-translated by conntrack, which no rule says and the map does not apply"
            % (rule.source.where(), target.describe(family), changed, undone))


def _last_line(writes: tuple[t.Any, ...]) -> int | None:
    """The last writing line of a sequence (None when a history comes first and no line after it)."""
    for writer in reversed(writes):
        if isinstance(writer, int):
            return writer
        if isinstance(writer, _History):
            return None
    return None


def _with(masks: tuple[int, ...], dim: int, mask: int) -> tuple[int, ...]:
    return masks[:dim] + (mask,) + masks[dim + 1:]


def _restrict(states: list[tuple[t.Any, ...]], dim: int, mask: int) -> list[tuple[t.Any, ...]]:
    """The part of each class inside `mask` on one dimension (classes outside it dropped)."""
    found = []
    for state in states:
        masks = state[0]
        inside = masks[dim] & mask
        if inside:
            found.append((masks[:dim] + (inside,) + masks[dim + 1:],) + state[1:])
    return found


def _merge_stage(states: list[tuple[t.Any, ...]], nat: bool = False) -> list[tuple[t.Any, ...]]:
    if len(states) < 2:
        return states
    groups: dict[tuple[t.Any, ...], list[tuple[t.Any, ...]]] = {}
    for masks, keep, setv, writers, assumptions in states:
        groups.setdefault((keep, setv, assumptions), []).append((masks, writers))
    merged: list[tuple[t.Any, ...]] = []
    for (keep, setv, assumptions), parts in groups.items():
        if len(parts) == 1:
            merged.append((parts[0][0], keep, setv, parts[0][1], assumptions))
            continue
        cubes = _merge_cubes([masks for masks, _writers in parts])
        if len(cubes) == len(parts):
            merged.extend((masks, keep, setv, writers, assumptions) for masks, writers in parts)
            continue
        if nat and any(_translated(writers) for _masks, writers in parts):
            # A translation maps several classes onto one header (DNAT, SNAT, MASQUERADE collapse the
            # addresses they replace), and the two outcomes of a nat-table assumption cover the same
            # packets: such classes may overlap, and merged cubes that overlap would give each of their
            # sub-classes twice.  They are merged among themselves, and only where the cubes come out
            # disjoint; the others are disjoint by construction.
            plain = [(masks, keep, setv, writers, assumptions) for masks, writers in parts if not _translated(writers)]
            merged.extend(_merge_stage(plain))
            moved = [(masks, writers) for masks, writers in parts if _translated(writers)]
            cubes = _merge_cubes([masks for masks, _writers in moved]) if len(moved) > 1 else []
            if len(moved) > 1 and len(cubes) < len(moved) and _disjoint(cubes):
                shared = (_History(moved),)
                merged.extend((cube, keep, setv, shared, assumptions) for cube in cubes)
            else:
                merged.extend((masks, keep, setv, writers, assumptions) for masks, writers in moved)
            continue
        first_writes = parts[0][1]
        if all(writers == first_writes for _masks, writers in parts):
            # Same writes everywhere (often none): nothing to remember per part.
            history: tuple[t.Any, ...] = first_writes
        else:
            history = (_History(parts),)
        merged.extend((cube, keep, setv, history, assumptions) for cube in cubes)
    return merged


def _disjoint(cubes: list[tuple[int, ...]], limit: int = 512) -> bool:
    """Whether no two cubes meet (False, to be safe, past `limit` cubes)."""
    if len(cubes) > limit:
        return False
    for index, cube in enumerate(cubes):
        for other in cubes[index + 1:]:
            if all(a & b for a, b in zip(cube, other)):
                return False
    return True


def _merge_cubes(cubes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Union disjoint cubes that differ in one dimension only (the result stays disjoint).

    One sweep over the dimensions; a dimension where every cube holds the same atoms cannot
    merge anything and is skipped.
    """
    for dim in range(len(cubes[0])):
        if len(cubes) < 2:
            break
        first = cubes[0][dim]
        for cube in cubes:
            if cube[dim] != first:
                break
        else:
            continue
        buckets: dict[tuple[int, ...], int] = {}
        for cube in cubes:
            key = cube[:dim] + cube[dim + 1:]
            buckets[key] = buckets.get(key, 0) | cube[dim]
        if len(buckets) < len(cubes):
            cubes = [key[:dim] + (mask,) + key[dim:] for key, mask in buckets.items()]
    return cubes


def _minus(cube: list[int], other: list[int]) -> list[list[int]]:
    """cube minus other, as disjoint cubes (one per dimension where other cuts cube)."""
    if not all(a & b for a, b in zip(cube, other)):
        return [cube]
    found: list[list[int]] = []
    current = list(cube)
    for dim, mask in enumerate(other):
        outside = current[dim] & ~mask
        if outside:
            split = list(current)
            split[dim] = outside
            found.append(split)
        current[dim] &= mask
    return found


# A chain longer than this gets a _SkipIndex.
SKIP_INDEX_MIN_RULES = 12
# A class whose mask on a dimension holds more atoms than this is not narrowed on that dimension (the lookups
# would cost more than the rules they rule out).
SKIP_INDEX_MAX_ATOMS = 16


class _SkipIndex:
    """Which rules of one chain can touch a class, from the atoms of the class's masks, per dimension.

    Per dimension: `free`, the rules (a bitset of positions) with a cube that does not constrain it, and per
    atom the rules whose cubes hold it. A class narrow on a dimension (few atoms) keeps the free rules and
    those holding one of its atoms; the candidates are what every narrow dimension keeps: a superset of the
    rules that touch the class (a rule's cubes are tested one by one by _touches afterwards). kube-proxy's
    KUBE-SERVICES (one destination per rule) and a QoS chain of one port or protocol per rule are walked
    over their few candidates instead of rule by rule.
    """

    def __init__(self, rules: tuple[_SymRule, ...]) -> None:
        everything = (1 << len(rules)) - 1
        self.free: list[int] = [everything] * STATIC_DIMS
        self.by_atom: list[dict[int, int]] = [{} for _dim in range(STATIC_DIMS)]
        self.memo: list[dict[int, int]] = [{} for _dim in range(STATIC_DIMS)]
        never = 0
        for position, rule in enumerate(rules):
            bit = 1 << position
            if not rule.cubes:
                never |= bit  # matches nothing: never a candidate
                continue
            for dim in range(STATIC_DIMS):
                if not all(dim in cube.dims for cube in rule.cubes):
                    continue  # some cube leaves the dimension free: the rule stays free there
                mask = 0
                for cube in rule.cubes:
                    mask |= cube.masks[dim]
                if mask.bit_count() > 64:
                    continue  # too wide to index: free
                self.free[dim] &= ~bit
                atoms = self.by_atom[dim]
                while mask:
                    low = mask & -mask
                    atoms[low] = atoms.get(low, 0) | bit
                    mask ^= low
        self.all = everything & ~never
        # Only the dimensions some rule is indexed on can narrow anything.
        self.dims = tuple(dim for dim in range(STATIC_DIMS) if self.by_atom[dim])

    def candidates(self, masks: tuple[int, ...]) -> int:
        found = self.all
        for dim in self.dims:
            mask = masks[dim]
            memo = self.memo[dim]
            kept = memo.get(mask)
            if kept is None:
                if mask.bit_count() > SKIP_INDEX_MAX_ATOMS:
                    kept = -1  # not narrowed on this dimension
                else:
                    kept = self.free[dim]
                    atoms = self.by_atom[dim]
                    rest = mask
                    while rest:
                        low = rest & -rest
                        kept |= atoms.get(low, 0)
                        rest ^= low
                memo[mask] = kept
            found &= kept
        return found


def _touches(masks: tuple[int, ...], cubes: tuple[_Cube, ...]) -> bool:
    for cube in cubes:
        cube_masks = cube.masks
        for dim in cube.dims:
            if not masks[dim] & cube_masks[dim]:
                break
        else:
            return True
    return False


class _Resume:
    """What build() recorded for with_appended_rule: the classes received (INPUT done) and dropped (all hooks),
    and mangle POSTROUTING's classes as they ended it, before they were merged, with the positions of those that
    walked off the end of the chain."""

    __slots__ = ("received", "dropped", "passed", "walked_off")

    def __init__(self, received: list[tuple[t.Any, ...]], dropped: list[tuple[t.Any, ...]]) -> None:
        self.received = received
        self.dropped = dropped
        self.passed: list[tuple[t.Any, ...]] | None = None
        self.walked_off: list[int] = []


class _NotShifted(Exception):
    """A class carries words that may name lines (an assumption): its lines cannot be moved by number alone."""


class _LineShift:
    """Lines after `after` moved down one, in the writers of classes and of the merged histories they open."""

    def __init__(self, after: int) -> None:
        self.after = after
        self._histories: dict[int, tuple[_History, _History]] = {}

    def line(self, line: int) -> int:
        return line + 1 if line > self.after else line

    def state(self, state: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
        masks, keep, setv, writers, assumptions = state
        if assumptions:
            raise _NotShifted()
        moved = self.writers(writers)
        return state if moved is writers else (masks, keep, setv, moved, assumptions)

    def writers(self, writers: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
        moved: list[t.Any] = []
        changed = False
        for writer in writers:
            new: t.Any
            if isinstance(writer, _History):
                new = self.history(writer)
                changed = changed or new is not writer
            elif isinstance(writer, int):
                new = self.line(writer)
                changed = changed or new != writer
            else:
                raise _NotShifted()  # an assumption or a translation in the sequence
            moved.append(new)
        return tuple(moved) if changed else writers

    def history(self, history: _History) -> _History:
        # Renumbered when first read (History.derived): most of a candidate's histories never are.  A sequence
        # that cannot be shifted then raises _NotShifted there, which only the eager walk of the states catches:
        # History.translated (a translation in some part) is what the lazy parts must not meet, and is tested here.
        if history.translated:
            raise _NotShifted()
        held = self._histories.get(id(history))
        if held is None:
            held = self._histories[id(history)] = (history, _History.derived(history, self.writers))
        return held[1]


def marking_map(ruleset: Ruleset | View, backend: str = "auto", era: str = "auto", interfaces: t.Iterable[str] = (),
                tables: tuple[str, ...] = ("mangle", "nat"), program: Program | None = None,
                nat_limit: int | None = None) -> MarkingMap:
    """Build the marking map of a firewall (see the module docstring)."""
    program = program or Program(ruleset, backend, era)
    return MarkingMap(program, interfaces, tables, nat_limit).build()


def appended_marking_map(running: MarkingMap, ruleset: Ruleset | View, after_line: int, backend: str = "auto",
                         era: str = "auto", interfaces: t.Iterable[str] = ()) -> MarkingMap:
    """marking_map of `ruleset`, which is `running`'s dump with one rule appended to mangle POSTROUTING on the line
    after `after_line`: resumed from what `running`'s build recorded where it can be (MarkingMap.with_appended_rule),
    else built."""
    return MarkingMap(Program(ruleset, backend, era), interfaces).with_appended_rule(running, after_line)
