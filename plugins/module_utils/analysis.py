# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall marking maps x router fate tables along the links between them -> conflicts.

A marking conflicts with a router when the flow's fate there differs from the fate of the
same flow arriving unmarked (DS byte 0): dropped, null-routed, policed or re-marked *because
of* the byte the firewall wrote (shared/reference/semantics.md, "What counts as a conflict").
A router that marks regardless of the arriving byte (the Code-Red recipe's NBAR class setting
DSCP 1) creates no conflict by itself; it is reported as an advisory.

Each conflict carries both ends of its evidence chain: the firewall rule (file:line) that
wrote the byte, and the router lines (file:line) that decide its fate, with the interface.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import bisect
import collections
import dataclasses
import ipaddress
import pickle
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import QUOTE_LIMIT, DiffservError, error_entry, quote
from ansible_collections.diffserv.audit.plugins.module_utils.forking import fork_call, two_cores, worth_forking
from ansible_collections.diffserv.audit.plugins.module_utils.findings import (
    Advisory, Condition, Conflict, Evidence, Findings, Flow, HostError, LinkRef, Marker, Note, Treatment,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.decisions import (
    AclCondition, AnyOfCondition, DecisionCondition,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.decisions import Condition as RouterCondition
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import (
    DROPPED, NULL_ROUTED, FateTable, fate_table, interface_fate_tables, transit_tables,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import unused_definitions
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import AclEntry, Address, IosConfig, Ports, gc_paused
from ansible_collections.diffserv.audit.plugins.module_utils.ios.space import (
    ClassFate, PacketClass, and3, entry_cover, or3, port_intervals, restrict_with,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.tables import REMARKED_UNKNOWN, FateClass, Path
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import trace_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.atoms import PROTOCOL_NAMES
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import (
    DPORT, DST, PROTO, SPORT, SRC, Marking, MarkingMap,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset

EPHEMERAL = (1024, 65535)


@dataclasses.dataclass(frozen=True)
class FirewallInput:
    """One firewall host as the join reads it: its dump and marking map of one address family (`family`; the
    IPv4 one when the host has both: what the planner reads as `ruleset` and `marks`), and the host's IPv6 dump
    beside it (`ipv6`), joined with the routers' IPv6 treatment."""

    host: str
    file: str
    ruleset: Ruleset
    marks: MarkingMap
    managed: bool = True
    family: int = 4
    ipv6: "FirewallInput | None" = None

    def families(self) -> list["FirewallInput"]:
        """The host's dumps, one per family, each joined with the routers' tables of that family."""
        return [self] + ([self.ipv6] if self.ipv6 is not None else [])


def with_family(known: FirewallInput | None, added: FirewallInput) -> FirewallInput:
    """A host's model with another dump added: the IPv4 one leads, the IPv6 one rides beside it (the later dump of
    a family replaces the earlier, as ip[6]tables-restore would leave it loaded)."""
    if known is None:
        return added
    parts = {part.family: dataclasses.replace(part, ipv6=None) for part in known.families()}
    parts.update({part.family: dataclasses.replace(part, ipv6=None) for part in added.families()})
    if 4 not in parts:
        return parts[6]
    return dataclasses.replace(parts[4], ipv6=parts.get(6))


@dataclasses.dataclass(frozen=True)
class RouterInput:
    host: str
    file: str
    config: IosConfig
    managed: bool = True


@dataclasses.dataclass(frozen=True)
class Link:
    """Packets leaving `firewall` by `egress` enter `router` on `interface` (None: any, assumed)."""

    firewall: str
    egress: str | None
    router: str
    interface: str
    assumed: bool = False

    @property
    def ref(self) -> LinkRef:
        return LinkRef("%s:%s" % (self.firewall, self.egress or "*"), "%s:%s" % (self.router, self.interface), self.assumed)

    def as_dict(self) -> dict[str, t.Any]:
        return self.ref.as_dict()


def parse_links(given: t.Iterable[t.Mapping[str, t.Any]], firewalls: dict[str, FirewallInput],
                routers: dict[str, RouterInput], failed: t.AbstractSet[str] = frozenset(),
                ) -> tuple[list[Link], list[str], list[tuple[str, str]]]:
    """`diffserv_links` entries ({from: "host:if", to: "host:if"}) -> links, what was wrong with them,
    and (host, note) for each link left out because a host it names failed (that host's error says so)."""
    links: list[Link] = []
    problems: list[str] = []
    unusable: list[tuple[str, str]] = []
    for index, entry in enumerate(given):
        try:
            source_host, _colon, source_iface = str(entry["from"]).partition(":")
            target_host, _colon2, target_iface = str(entry["to"]).partition(":")
        except (KeyError, TypeError):
            problems.append("diffserv_links[%d]: needs 'from' and 'to' as host:interface" % index)
            continue
        broken = sorted({source_host, target_host} & set(failed))
        if broken:
            for host in broken:
                unusable.append((host, "diffserv_links[%d] (%s -> %s) not analysed: this host failed"
                                 % (index, entry["from"], entry["to"])))
            continue
        if source_host not in firewalls and source_host not in routers:
            problems.append("diffserv_links[%d]: %s is not an audited host" % (index, source_host))
            continue
        if target_host not in routers:
            problems.append("diffserv_links[%d]: %s is not an audited router" % (index, target_host))
            continue
        if source_host in firewalls:
            interface = routers[target_host].config.interfaces.get(target_iface)
            if interface is None:
                problems.append("diffserv_links[%d]: %s has no interface %s" % (index, target_host, target_iface))
                continue
            links.append(Link(source_host, source_iface or None, target_host, target_iface))
    return links, problems, unusable


def assumed_links(firewalls: dict[str, FirewallInput], routers: dict[str, RouterInput]) -> list[Link]:
    """Without diffserv_links: every firewall egress may reach every router interface that forwards."""
    links = []
    for firewall in firewalls:
        for router in routers.values():
            for name, interface in router.config.interfaces.items():
                if interface.shutdown or name.lower().startswith(("null", "loopback")):
                    continue
                links.append(Link(firewall, None, router.host, name, assumed=True))
    return links


def _flow(markings: list[Marking], firewall: str, router: str) -> Flow:
    """What a person needs of the flows behind one conflict: the union of their classes, in words."""
    first = markings[0]
    space = first.space
    masks = list(first.masks)
    for marking in markings[1:]:
        masks = [a | b for a, b in zip(masks, marking.masks)]
    union = Marking(first.path, first.verdict, first.keep, first.set, first.writers, first.assumptions,
                    tuple(masks), space)
    described = union.describe()
    dports = space.intervals[DPORT].ranges(union.masks[DPORT])
    words = _flow_words(described, dports, first.path, firewall, router)
    # The router sees the packet on the wire: say which nat rules made it so ("after SNAT to X (line N)").
    translated = list(dict.fromkeys(translation.said(space) for marking in markings
                                    for translation in marking.translations))
    if translated:
        words = "%s, %s (what %s is handed)" % (words, "; ".join(translated), router)
    return Flow(described["protocols"], described["sport"], described["dport"], described["src"], described["dst"],
                described["out_interfaces"], first.path, len(markings), words, family=space.family)


def _coverage(ranges: list[tuple[int, int]], low: int, high: int) -> float:
    covered = sum(max(0, min(b, high) - max(a, low) + 1) for a, b in ranges)
    return covered / float(high - low + 1)


def _flow_words(described: t.Mapping[str, t.Any], dports: list[tuple[int, int]], path: str, firewall: str,
                router: str) -> str:
    protocols = described["protocols"]
    proto = "/".join(protocols).upper() if isinstance(protocols, list) else "IP"
    origin = "sent by %s itself" % firewall if path == "output" else "forwarded by %s" % firewall
    if described["dport"] != "any" and _coverage(dports, *EPHEMERAL) > 0.9:
        return ("%s to high ports, %s: replies to every connection the %s side opens (for example the "
                "SYN/ACK of a mail server answering a relay behind %s)" % (proto, origin, router, router))
    if described["dport"] != "any":
        return "%s to port(s) %s, %s: connections the %s side opens towards the %s side" % (
            proto, ", ".join(described["dport"]), origin, firewall, router)
    if described["sport"] != "any":
        return "%s from port(s) %s, %s: replies of those services" % (proto, ", ".join(described["sport"]), origin)
    return "all %s packets %s" % (proto, origin)


def _severity(action: str, policed: bool, whole: bool = True) -> str:
    """critical: every marked packet of the classes is dropped or null-routed; a drop of part of them, or a
    policer, is high; a re-mark or a treatment under conditions medium."""
    if action in (NULL_ROUTED, DROPPED):
        return "critical" if whole else "high"
    if policed:
        return "high"
    return "medium"


# ---------------------------------------------------------------------------------------------------------------
# The header-space join: the router's treatment of exactly the packets a marking class holds.
#
# A marking class (netfilter/markmap.py) is a box of header space per dimension (protocols, address and port
# ranges) leaving the firewall with one byte.  It becomes a PacketClass (ios/space.py), and the router's paths
# for that byte, and for byte 0, are restricted to its packets: each header test (ACL entry, object group,
# match-all/match-any over them, route-map clause) holds for all of them, none, or some.  Where some, the class
# is cut along the boundaries of the tests it straddles (protocol numbers, ICMP types, port intervals, address
# blocks, wildcards that are not prefixes included) until every test is decided for every part.  Each part is
# then compared the way ios/engine.py compares a byte with byte 0: the plain packet's outcome and the set of
# possible outcomes (NBAR, rate, CoS: the conditions no header decides) marked against unmarked.

ALL_PROTOCOLS = frozenset(range(256))
DISCARDED = (NULL_ROUTED, DROPPED)
ICMP_PROTOCOLS = frozenset((1, 58))
# A class is cut into at most this many parts per byte class; what is then still undecided (a test no header
# field of the class decides: `established`, fragments, an ICMP code, an unresolved group) is judged as a
# condition, like NBAR, and the conflict names it.
MAX_PARTS = 64
# A wildcard whose free bits are not one low run matches 2**k separate ranges: cut by it only up to this k.
MAX_WILDCARD_SPLIT_BITS = 8
Outcome = t.Tuple[t.Any, ...]
Ranges = t.Tuple[t.Tuple[int, int], ...]
_HEADER_CONDITIONS = (AclCondition, AnyOfCondition, DecisionCondition)


def packet_class(marking: Marking) -> PacketClass:
    """The packets of a marking class in the router's header space (a field the class does not restrict: None)."""
    space = marking.space
    masks = marking.masks
    protocols: frozenset[int] | None = None
    if masks[PROTO] != space.protocols.full:
        named = space.protocols.numbers
        chosen = {number for index, number in enumerate(named) if masks[PROTO] >> index & 1}
        if masks[PROTO] >> (space.protocols.size - 1) & 1:
            chosen |= ALL_PROTOCOLS - set(named)  # the atom of every protocol the rules do not name
        protocols = frozenset(chosen)
    ranges: dict[int, Ranges | None] = {}
    for dim in (SRC, DST, SPORT, DPORT):
        intervals = space.intervals[dim]
        if masks[dim] == intervals.full or (dim in (SRC, DST) and intervals.extra_names(masks[dim])):
            # "The address of eth0" (MASQUERADE's source, REDIRECT's destination): a dump does not say
            # which, so the router is asked about every address; never an empty class.
            ranges[dim] = None
        else:
            ranges[dim] = tuple(intervals.ranges(masks[dim]))
    return PacketClass(space.family, protocols, ranges[SRC], ranges[DST], ranges[SPORT], ranges[DPORT], None)


def _outcome(path: Path) -> Outcome:
    """What a path does to a packet (ios/engine.py's outcome); a discarded packet's byte and egress are moot."""
    if path.action in DISCARDED:
        return (path.action,)
    return (path.action, path.keep, path.value, path.egress, path.unknown)


_HEADER_MEMO: dict[int, tuple[RouterCondition, bool]] = {}


def _is_header(condition: RouterCondition) -> bool:
    """A test the packet's header decides (ios/space.py's reading): ACL entries, any-of runs and decisions of them."""
    known = _HEADER_MEMO.get(id(condition))
    if known is not None and known[0] is condition:
        return known[1]
    found = False
    if isinstance(condition, AclCondition):
        found = condition.entry is not None and not condition.entry.unknown
    elif isinstance(condition, AnyOfCondition):
        found = all(_is_header(member) for member, _step in condition.members)
    elif isinstance(condition, DecisionCondition):
        found = all(_is_header(member) for alt in condition.alts for member in alt.conds)
    if len(_HEADER_MEMO) > 200000:
        _HEADER_MEMO.clear()
    _HEADER_MEMO[id(condition)] = (condition, found)  # the condition is held, so its id stays its own
    return found


def reachable(answer: ClassFate) -> list[tuple[Path, bool | None]]:
    """The paths some packet of the class can take, with their header verdicts: `answer.paths` up to the first
    one every packet of the class takes whatever the other conditions (all its tests are header tests that
    hold for all of them); the paths after it are listed by ios/space.py but no packet of the class reaches them.
    The list is shared between callers (remembered per answer): read it, do not change it."""
    known = _REACHABLE_MEMO.get(id(answer))
    if known is not None and known[0] is answer:
        return known[1]
    found: list[tuple[Path, bool | None]] = []
    settled = answer.settled
    for index, (path, verdict) in enumerate(zip(answer.paths, answer.header)):
        found.append((path, verdict))
        if verdict and (settled[index] if settled else all(_is_header(condition) for condition in path.conditions)):
            break
    if len(_REACHABLE_MEMO) > 200000:
        _REACHABLE_MEMO.clear()
    _REACHABLE_MEMO[id(answer)] = (answer, found)  # the answer is held, so its id stays its own
    return found


# reachable's answers: a class_parts call asks it of the same two answers half a dozen times (read, not changed);
# emptied after each link's join.
_REACHABLE_MEMO: dict[int, tuple[ClassFate, list[tuple[Path, bool | None]]]] = {}


def _default(condition: RouterCondition, packets: PacketClass) -> bool:
    """A non-header condition as a plain packet of the class meets it, read as the trace reads one packet: NBAR,
    rate, CoS at their defaults; an ACL decision with an unreadable entry decided by its other entries, the
    unreadable one not matching ("cannot decide ... treated as not matching")."""
    if isinstance(condition, AclCondition):
        if condition.entry is None or condition.entry.unknown:
            return condition.default
        verdict = entry_cover(condition.entry, packets)
        return condition.default if verdict is None else verdict
    if isinstance(condition, AnyOfCondition):
        return any(_default(member, packets) for member, _step in condition.members)
    if isinstance(condition, DecisionCondition):
        for alt in condition.alts:
            if all(_default(member, packets) for member in alt.conds):
                return bool(alt.value == condition.value)
        return condition.default
    return condition.default


def plain_path(answer: ClassFate, packets: PacketClass) -> Path:
    """The path a plain packet of the class takes: the first path all of its packets meet whose other conditions
    hold at their defaults (a header test the class straddles and could not be cut on counts as unmet)."""
    for path, verdict in reachable(answer):
        if verdict and all(_is_header(condition) or _default(condition, packets) for condition in path.conditions):
            return path
    return answer.plain[-1] if answer.plain else answer.paths[-1]


def _certain(answer: ClassFate, path: Path) -> tuple[Outcome, frozenset[Outcome]]:
    """What the byte changes for certain (ios/engine.py's comparison of a byte with byte 0), over these packets:
    the plain packet's outcome (`path`) and every possible one."""
    return _outcome(path), frozenset(_outcome(other) for other, _verdict in reachable(answer))


@dataclasses.dataclass(frozen=True)
class Part:
    """Packets of a marking class the router's header tests treat alike: the router's answer for them marked
    and unmarked, and the paths a plain packet of them takes each way; `decided` when every header test holds
    for all of them or for none (otherwise `undecided_by` names the entries that hold for some: TCP flags,
    fragments, ICMP codes, past MAX_PARTS); `differs` when the byte changes their plain outcome or their
    possible outcomes."""

    packets: PacketClass
    marked: ClassFate
    plain: ClassFate
    marked_path: Path
    plain_path: Path
    decided: bool
    differs: bool
    undecided_by: tuple[AclEntry, ...] = ()
    byte_level: bool = False  # judged per byte: the link's JOIN_BUDGET was spent

    @property
    def action(self) -> str:
        return self.marked_path.action

    @property
    def plain_differs(self) -> bool:
        """The plain packet's own outcome changes (not only what may happen under conditions)."""
        return _outcome(self.marked_path) != _outcome(self.plain_path)


def _entries(condition: RouterCondition, found: dict[int, AclEntry]) -> None:
    if isinstance(condition, AclCondition):
        if condition.entry is not None:
            found.setdefault(id(condition.entry), condition.entry)
    elif isinstance(condition, AnyOfCondition):
        for member, _step in condition.members:
            _entries(member, found)
    elif isinstance(condition, DecisionCondition):
        for alt in condition.alts:
            for member in alt.conds:
                _entries(member, found)


def _straddled(answers: t.Iterable[ClassFate], packets: PacketClass) -> list[AclEntry]:
    """The ACL entries some but not all packets of the class meet: on the paths the class does not decide, and
    inside the conditions no header decides as a whole (an ACL with an unreadable entry) on any path it reaches."""
    found: dict[int, AclEntry] = {}
    for answer in answers:
        for path, verdict in reachable(answer):
            for condition in path.conditions:
                if verdict is None or not _is_header(condition):
                    _entries(condition, found)
    return [entry for entry in found.values() if not entry.unknown and entry_cover(entry, packets) is None]


def _merge(ranges: t.Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def _address_intervals(address: Address, bits: int) -> list[tuple[int, int]] | None:
    """The addresses an IOS address test accepts, as intervals (None: no cut to make, or too many)."""
    if address.is_any:
        return None
    members = address.members if address.group is not None else ((address.network, address.wildcard),)
    if members is None:
        return None
    top = (1 << bits) - 1
    out: list[tuple[int, int]] = []
    for network, wildcard in members:
        wildcard &= top
        scattered = wildcard & (wildcard + 1)  # the free bits above the lowest run
        run = wildcard ^ scattered
        free = [bit for bit in range(bits) if scattered >> bit & 1]
        if len(free) > MAX_WILDCARD_SPLIT_BITS:
            return None
        base = network & ~wildcard & top
        for choice in range(1 << len(free)):
            start = base
            for index, bit in enumerate(free):
                if choice >> index & 1:
                    start |= 1 << bit
            out.append((start, start | run))
    return _merge(out)


def _port_lists(entry: AclEntry, field: str) -> list[list[tuple[int, int]]]:
    found: list[list[tuple[int, int]]] = []
    ports: Ports | None = getattr(entry, field)
    if ports is not None:
        found.append(port_intervals(ports))
    for service in entry.services or ():
        ports = getattr(service, field)
        if ports is not None:
            found.append(port_intervals(ports))
    return found


def _cells(accepted: list[list[tuple[int, int]]], wanted: Ranges, top: int) -> list[Ranges]:
    """`wanted` cut where any accepted interval list starts or ends; values every list treats alike, together."""
    cuts: set[int] = set()
    for intervals in accepted:
        for low, high in intervals:
            cuts.add(low)
            if high < top:
                cuts.add(high + 1)
    ordered = sorted(cuts)
    groups: dict[tuple[bool, ...], list[tuple[int, int]]] = {}
    for low, high in wanted:
        first = bisect.bisect_right(ordered, low)
        last = bisect.bisect_right(ordered, high)
        starts = [low] + ordered[first:last]
        ends = [point - 1 for point in ordered[first:last]] + [high]
        for start, end in zip(starts, ends):
            key = tuple(any(a <= start <= b for a, b in intervals) for intervals in accepted)
            groups.setdefault(key, []).append((start, end))
    return [tuple(_merge(cell)) for cell in groups.values()]


def _value_parts(values: set[int], have: frozenset[int]) -> list[frozenset[int]]:
    inside = sorted(values & have)
    if not inside or len(have) == 1:
        return []
    parts = [frozenset((value,)) for value in inside]
    rest = have - set(inside)
    if rest:
        parts.append(frozenset(rest))
    return parts if len(parts) > 1 else []


def split_class(packets: PacketClass, entries: t.Sequence[AclEntry]) -> list[PacketClass]:
    """The class cut along the first dimension where the entries' tests part it (protocol, ICMP type, source
    port, destination port, source, destination); [] when no field of the class can part it."""
    protocols: set[int] = set()
    icmp_types: set[int] = set()
    for entry in entries:
        if entry.protocol is not None:
            protocols.add(entry.protocol)
        if entry.icmp is not None:
            icmp_types.add(entry.icmp[0])
        for service in entry.services or ():
            if service.protocol is not None:
                protocols.add(service.protocol)
            if service.icmp is not None:
                icmp_types.add(service.icmp[0])
    parts = _value_parts(protocols, packets.protocols if packets.protocols is not None else ALL_PROTOCOLS)
    if parts:
        return [dataclasses.replace(packets, protocols=part) for part in parts]
    if packets.protocols is not None and packets.protocols <= ICMP_PROTOCOLS:
        parts = _value_parts(icmp_types, packets.icmp_types if packets.icmp_types is not None else ALL_PROTOCOLS)
        if parts:
            return [dataclasses.replace(packets, icmp_types=part) for part in parts]
    bits = 32 if packets.family == 4 else 128
    for name, top in (("sport", 65535), ("dport", 65535), ("src", (1 << bits) - 1), ("dst", (1 << bits) - 1)):
        accepted: list[list[tuple[int, int]]] = []
        for entry in entries:
            if name in ("sport", "dport"):
                accepted.extend(_port_lists(entry, name))
            else:
                intervals = _address_intervals(getattr(entry, name), bits)
                if intervals is not None:
                    accepted.append(intervals)
        if not accepted:
            continue
        wanted = getattr(packets, name)
        cells = _cells(accepted, wanted if wanted is not None else ((0, top),), top)
        if len(cells) > 1:
            changes: list[dict[str, t.Any]] = [{name: cell} for cell in cells]
            return [dataclasses.replace(packets, **change) for change in changes]
    return []


# ACL entries one link may decide over its classes (each entry once per class and part, remembered across the
# link's tables); past it, the classes left are judged per byte, as the join did before it read headers ("under
# conditions"), and the conflict says so.  Bounds the join on a 1,000-interface router with big lists.
JOIN_BUDGET = 20000


class _Judge:
    """ios/space.py's reading of header conditions over one class (all, none or some of its packets), remembered
    across every table of a link: the transit tables of one input interface share their input side's
    condition objects, so each ACL is decided once per class, not once per exit."""

    def __init__(self, packets: PacketClass | None, budget: list[int] | None = None) -> None:
        self.packets = packets
        self.memo: dict[int, bool | None] = {}
        self.budget = budget if budget is not None else [1 << 62]

    def cover(self, condition: RouterCondition) -> bool | None:
        if self.packets is None:
            return None  # past the budget: no header decided, the byte-level reading
        key = id(condition)
        if key in self.memo:
            return self.memo[key]
        verdict: bool | None = None
        if isinstance(condition, AclCondition):
            self.budget[0] -= 1
            verdict = entry_cover(condition.entry, self.packets) if condition.entry is not None else None
        elif isinstance(condition, AnyOfCondition):
            verdict = or3(self.cover(member) for member, _step in condition.members)
        elif isinstance(condition, DecisionCondition):
            seen: set[bool] = set()
            for alt in condition.alts:
                held = and3(self.cover(member) for member in alt.conds)
                if held is False:
                    continue
                seen.add(alt.value == condition.value)
                if held:
                    verdict = next(iter(seen)) if len(seen) == 1 else None
                    break
            else:
                verdict = None
        self.memo[key] = verdict
        return verdict

    def is_header(self, condition: RouterCondition) -> bool:
        """ios/space.py's Judge: which conditions the class's headers decide.  A test of header fields only
        (_is_header, memoised), and also a decision or any-of run the class's packets settle before they reach
        its other members: `match-any` of a list that ends `permit ip any any` and of an undefined list matches
        whatever that list says, as the trace of any of its packets finds."""
        if _is_header(condition):
            return True
        if self.packets is None or type(condition) not in _COMPOUND:
            return False
        return self.cover(condition) is not None

    def restrict(self, fate_class: FateClass) -> ClassFate:
        """space.restrict's whole-class reading (the parts, not boxes, resolve unions here); a discarded
        packet's byte and egress are moot when plain paths are compared."""
        return restrict_with(fate_class, self, _outcome)


def _same_ways(marked: ClassFate, plain: ClassFate) -> bool:
    """The same conditions leading to the same outcomes, in the same order, on the paths the class reaches: then
    every packet of it fares alike marked and unmarked, however the class would be cut."""
    ways = [[(tuple(map(id, path.conditions)), _outcome(path)) for path, _verdict in reachable(answer)]
            for answer in (marked, plain)]
    return ways[0] == ways[1]


BYTE_LEVEL = _Judge(None)
_COMPOUND = (AnyOfCondition, DecisionCondition)


def _whole(fate_class: FateClass) -> ClassFate:
    """Every path of the class, none decided by a header test: the byte-level reading of a class."""
    header = tuple(None if any(_is_header(c) for c in path.conditions) else True for path in fate_class.paths)
    return ClassFate(fate_class, fate_class.paths, header, (fate_class.default,), True, ())


def _byte_level(marked_class: FateClass, plain_class: FateClass, packets: PacketClass,
                wholes: dict[int, tuple[FateClass, ClassFate, Path]]) -> Part:
    """A class judged per byte (the engine's own comparison, no header test applied): past the budget.
    `wholes` keeps each class's reading and default path (neither depends on the packets; a 1,000-interface
    router asks for the same few hundred classes thousands of times; held, so ids stay unique)."""
    marked = wholes.get(id(marked_class))
    if marked is None:
        marked = wholes[id(marked_class)] = (marked_class, _whole(marked_class), marked_class.default)
    plain = wholes.get(id(plain_class))
    if plain is None:
        plain = wholes[id(plain_class)] = (plain_class, _whole(plain_class), plain_class.default)
    return Part(packets, marked[1], plain[1], marked[2], plain[2], False, marked_class.fate_differs, (), True)


def class_parts(marked_class: FateClass, plain_class: FateClass, packets: PacketClass,
                limit: int = MAX_PARTS, judges: dict[PacketClass, _Judge] | None = None,
                budget: list[int] | None = None,
                wholes: dict[int, tuple[FateClass, ClassFate, Path]] | None = None) -> list[Part]:
    """`packets` arriving with the bytes of `marked_class` against the same packets with byte 0 (`plain_class`):
    cut until the router's header tests are decided for every part (or `limit` parts), in header order.
    `judges` keeps each class's header verdicts across calls (the tables of one link); `budget` ([n]) the
    restrictions left to spend: at 0, the class is judged per byte (no header decided, no cut); `wholes` keeps
    those byte-level readings across calls."""
    judges = {} if judges is None else judges
    wholes = {} if wholes is None else wholes
    todo = collections.deque([packets])
    out: list[Part] = []
    while todo:
        current = todo.popleft()
        judge = judges.get(current)
        if budget is not None and budget[0] <= 0:
            out.append(_byte_level(marked_class, plain_class, current, wholes))
            continue
        if judge is None:
            judge = judges[current] = _Judge(current, budget)
        marked = judge.restrict(marked_class)
        plain = judge.restrict(plain_class)
        if _same_ways(marked, plain):
            path = plain_path(marked, current)
            out.append(Part(current, marked, plain, path, path, True, False))
            continue
        entries = _straddled((marked, plain), current) if judge is not BYTE_LEVEL else []
        decided = judge is not BYTE_LEVEL and not entries and all(verdict is True for answer in (marked, plain) for _path, verdict in reachable(answer))
        if not decided:
            parts = split_class(current, entries)
            if parts and len(out) + len(todo) + len(parts) <= limit:
                todo.extendleft(reversed(parts))
                continue
        marked_path, plain_path_ = plain_path(marked, current), plain_path(plain, current)
        out.append(Part(current, marked, plain, marked_path, plain_path_, decided,
                        _certain(marked, marked_path) != _certain(plain, plain_path_), tuple(entries),
                        judge is BYTE_LEVEL))
    return out


def _header_tested(fate_class: FateClass) -> bool:
    return any(isinstance(condition, _HEADER_CONDITIONS) for path in fate_class.paths for condition in path.conditions)


def may_differ(fate_class: FateClass, zero: FateClass) -> bool:
    """Can some packets arriving with the bytes of `fate_class` fare otherwise than the same packets with byte 0?

    Not where the paths are the same (no decision looked at the byte); certainly where the byte's plain or
    possible outcomes differ; and, where header tests guard the paths, possibly for part of the packets even
    when the byte class as a whole ends alike (class_parts decides)."""
    if fate_class is zero or not fate_class.because_of_dscp:
        return False
    return fate_class.fate_differs or _header_tested(fate_class) or _header_tested(zero)


def _representative(packets: PacketClass, marks: MarkingMap) -> dict[str, t.Any]:
    """One concrete packet of a class, to confirm the conflict with a router trace.

    The protocol goes by number: the firewall may name protocols (icmpv6, sctp, ...) that IOS
    has no keyword for, and a number is what both sides agree on.
    """
    have = packets.protocols
    protocol: int | str
    if have is None or 6 in have:
        protocol = "tcp"
    elif 17 in have:
        protocol = "udp"
    else:
        named = [number for number in marks.protocols.numbers if number in have]
        # Else "every other protocol": one the rules never name (GRE, or the first free number).
        protocol = named[0] if named else next(number for number in (47, 253, 254, *range(256)) if number in have)
    packet: dict[str, t.Any] = {"protocol": protocol}
    for key in ("sport", "dport"):
        ranges = getattr(packets, key)
        if ranges:
            packet[key] = ranges[0][0]
    make = ipaddress.IPv4Address if packets.family == 4 else ipaddress.IPv6Address
    for key in ("src", "dst"):
        ranges = getattr(packets, key)
        if ranges:
            packet[key] = str(make(ranges[0][0]))
    if packets.icmp_types is not None:
        packet["icmp_type"] = min(packets.icmp_types)
    if packets.family != 4:
        packet["family"] = packets.family
    return packet


def _summary(answer: ClassFate, default: Path) -> str:
    """FateClass.summary over the paths these packets can take (`default`: the plain packet's)."""
    paths = [path for path, _verdict in reachable(answer)]
    text = default.action
    if default.rewrites:
        text += ", re-marked to " + (default.describe_rewrite() or "")
    others = sorted({p.action for p in paths if p is not default and p.action != default.action}
                    | {REMARKED_UNKNOWN for p in paths if p is not default and p.unknown and not default.unknown})
    if others:
        text += "; under conditions: " + ", ".join(others)
    if any(p.police for p in paths):
        text += "; policed"
    return text


def _shown(evidence: t.Any) -> Evidence:
    """A source line as findings show it: file, line and the text bounded and redacted (a rule may
    carry a 50 MiB comment; the evidence needs its first words, not every copy of them)."""
    return Evidence(evidence.file, evidence.line, quote(evidence.text, exact=True))


def _shown_condition(condition: t.Mapping[str, t.Any]) -> Condition:
    return Condition(condition.get("file"), condition.get("line"), quote(str(condition.get("text", "")), exact=True),
                     quote(str(condition.get("reason", "")), 2 * QUOTE_LIMIT))


def _class_lines(fate_class: FateClass, answer: ClassFate, default: Path) -> tuple[Evidence, ...]:
    """Without a confirming packet: the plain path's lines, then those of every path these packets can take that
    treats the byte otherwise than unmarked traffic (where the line that drops or re-marks under a condition is)."""
    differs = {id(path): flag for path, flag in zip(fate_class.paths, fate_class.path_differs)}
    seen: dict[tuple[str, int], Evidence] = {}
    for path in [default] + [path for path, _verdict in reachable(answer) if differs.get(id(path))]:
        for step in path.steps:
            seen.setdefault((step.source.file, step.source.line), _shown(step.source))
    return tuple(seen.values())


def _undecided(entries: t.Iterable[AclEntry]) -> tuple[Condition, ...]:
    found = []
    for entry in entries:
        what = ("TCP flags (established)" if entry.established else ", ".join(entry.opaque) if entry.opaque
                else "words not read: " + ", ".join(entry.unknown) if entry.unknown else "fields the class does not part")
        found.append(Condition(entry.source.file, entry.source.line, quote(entry.source.text, exact=True),
                               quote("holds for some of the marked packets only (%s)" % what, 2 * QUOTE_LIMIT)))
    return tuple(found)


def _deciding_lines(trace: dict[str, t.Any]) -> tuple[Evidence, ...]:
    return tuple(Evidence(step["file"], step["line"], quote(step["text"], exact=True), step["what"]) for step in trace["steps"])


def _new_conflict(link: Link, firewall: FirewallInput, router: RouterInput, table: FateTable,
                  fate_class: FateClass, marking: Marking, ds_byte: int, part: Part) -> Conflict:
    """A conflict with its evidence, before the out interfaces and flows behind it are gathered."""
    # Confirm on a concrete packet of the part, marked and unmarked: the trace gives the lines.
    packet = dict(_representative(part.packets, firewall.marks), in_interface=link.interface,
                  out_interface=table.out_interface)
    marked = trace_ios(router.config, dict(packet, tos=ds_byte))
    plain = trace_ios(router.config, dict(packet, tos=0))
    # Confirmed when the trace itself says the byte changed this packet's treatment: its fate, egress, policer
    # or rewrite (a marked packet re-marked to 0 leaves with the byte an unmarked one keeps, yet its marking
    # was erased).  A packet that both ways passes untouched leaves with the byte it came with: no confirmation.
    confirmed = bool(marked.get("because_of_dscp"))
    if marked["fate"] in DISCARDED and marked["fate"] == plain["fate"]:
        confirmed = False  # discarded either way: the byte it would have left with is moot
    action = marked["fate"] if confirmed else part.action
    writer = firewall.marks.rule_at(marking.writers[-1])
    marker = Marker(firewall.host, firewall.file, writer.line, quote(writer.text, exact=True), writer.chain, writer.table,
                    tuple(marking.writers), firewall.marks.program.backend, firewall.marks.program.era)
    policed = bool(marked["police"]) or any(path.police for path, _verdict in reachable(part.marked))
    treatment = Treatment(
        host=router.host, file=router.file, interface=link.interface, out_interfaces=(), direction="in",
        action=action, summary=_summary(part.marked, part.marked_path), unmarked_action=plain["fate"], tos_out=marked["tos_out"],
        # What the configuration alone cannot decide on this path (CoS, an undefined ACL, an
        # unmodelled line), each with file:line; and whether a table re-marked to an unknown value.
        # Then the header tests that hold for some of the marked packets only, where no field parts them.
        may_match=tuple(_shown_condition(condition) for condition in marked.get("may_match", []))
        + _undecided(part.undecided_by) + ((Condition(
            None, None, "", "judged per DS byte: the join spent its %d ACL entry decisions on this link before it "
            "reached these packets; header tests (addresses, ports) are not applied to them" % JOIN_BUDGET),)
            if part.byte_level else ()),
        remarked_unknown=bool(marked.get("remarked_unknown")),
        lines=_deciding_lines(marked) if confirmed else _class_lines(fate_class, part.marked, part.marked_path),
        confirmed_by_trace=confirmed, example_packet=dict(packet, tos=ds_byte))
    # Where the plain packet fares alike marked and unmarked, the byte changes only what may happen under
    # conditions: ranked by those (a policer: high), not by the plain fate both share.
    # Judged per byte (past the link's budget), the plain outcomes compared are the engine's, with no header test
    # applied: where the trace of a packet of the part does not confirm them, the difference is one under
    # conditions (a re-audit of exemptions on a 1,000-interface router met it as a false critical null route).
    plain_differs = part.plain_differs and not part.byte_level
    severity = _severity(action, policed) if confirmed or plain_differs else ("high" if policed else "medium")
    return Conflict(ds_byte >> 2, ds_byte, dsfield.describe_byte(ds_byte), severity,
                    marker, treatment, (), link.assumed, link.ref, firewall.marks.family)


def _protocol_text(protocols: frozenset[int] | None, marks: MarkingMap) -> t.Any:
    if protocols is None:
        return "any"
    named = marks.protocols.numbers
    found = [PROTOCOL_NAMES.get(number, str(number)) for number in named if number in protocols]
    rest = protocols - set(named)
    if rest == ALL_PROTOCOLS - set(named):
        found.append("other")
    elif len(rest) <= 8:
        found.extend(PROTOCOL_NAMES.get(number, str(number)) for number in sorted(rest))
    else:
        found.append("%d other protocols" % len(rest))
    return found


def _ranges_text(ranges: list[tuple[int, int]] | None, family: int | None) -> t.Any:
    if ranges is None:
        return "any"
    if family is None:
        return [str(low) if low == high else "%d-%d" % (low, high) for low, high in ranges]
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    found = []
    for low, high in ranges:
        networks = list(ipaddress.summarize_address_range(make(low), make(high)))
        found.append(str(networks[0]) if len(networks) == 1 else "%s-%s" % (make(low), make(high)))
    return found


def _union(fields: list[Ranges | None], top: int) -> list[tuple[int, int]] | None:
    if any(field is None for field in fields):
        return None
    merged = _merge(pair for field in fields for pair in t.cast(Ranges, field))
    return None if merged == [(0, top)] else merged


def _part_flow(behind: list[tuple[Marking, list[Part]]], firewall: str, router: str) -> Flow:
    """A flow of which only some packets meet the conflict's fate: the dimensions of those packets."""
    first = behind[0][0]
    space = first.space
    packets = [part.packets for _marking, parts in behind for part in parts]
    family = space.family
    top = (1 << (32 if family == 4 else 128)) - 1
    protocol_sets = [p.protocols for p in packets]
    protocols = None if any(s is None for s in protocol_sets) else frozenset(
        number for s in protocol_sets for number in t.cast(t.FrozenSet[int], s))
    sport = _union([p.sport for p in packets], 65535)
    dport = _union([p.dport for p in packets], 65535)
    out_mask = 0
    for marking, _parts in behind:
        out_mask |= marking.masks[1]
    described = {
        "protocols": _protocol_text(protocols, space),
        "sport": _ranges_text(sport, None), "dport": _ranges_text(dport, None),
        "src": _ranges_text(_union([p.src for p in packets], top), family),
        "dst": _ranges_text(_union([p.dst for p in packets], top), family),
        "out_interfaces": space.interfaces.names(out_mask) if out_mask != space.interfaces.full else "any",
    }
    whole = _flow([marking for marking, _parts in behind], firewall, router)
    narrowed = ["%s %s" % (name, ", ".join(value) if isinstance(value, list) else value)
                for name, value, before in (("protocol", described["protocols"], whole.protocols),
                                            ("source port", described["sport"], whole.sport),
                                            ("destination port", described["dport"], whole.dport),
                                            ("source", described["src"], whole.src),
                                            ("destination", described["dst"], whole.dst)) if value != before]
    words = "%s; only part of them meets this fate: %s" % (whole.words, "; ".join(narrowed) or "some of them")
    return Flow(described["protocols"], described["sport"], described["dport"], described["src"], described["dst"],
                described["out_interfaces"], first.path, len(behind), words, partial=True, family=family)


def conflicts_on_link(link: Link, firewall: FirewallInput, router: RouterInput,
                      tables: list[FateTable]) -> list[Conflict]:
    """The conflicts of one link: each marking class leaving the firewall there, against the router's tables
    of the firewall's address family, for exactly the packets of the class (class_parts)."""
    try:
        # Thousands of small acyclic objects per link (parts, judges' memos): no collection needs to scan them,
        # nor the router's model each time they pile up (as the engine builds its tables).
        with gc_paused():
            return _conflicts_on_link(link, firewall, router, tables)
    finally:
        _REACHABLE_MEMO.clear()  # what reachable remembered is this link's: nothing outlives the join


def _conflicts_on_link(link: Link, firewall: FirewallInput, router: RouterInput,
                       tables: list[FateTable]) -> list[Conflict]:
    found: dict[tuple[t.Any, ...], Conflict] = {}
    out_interfaces: dict[tuple[t.Any, ...], list[str]] = {}
    # key + path -> [marking, its parts in the conflict, whether they are the whole class] per marking
    behind: dict[tuple[t.Any, ...], list[list[t.Any]]] = {}
    # key -> the packets of every part in the conflict (what an exemption must cover, no more)
    exact: dict[tuple[t.Any, ...], dict[PacketClass, None]] = {}
    moot: dict[tuple[t.Any, ...], dict[PacketClass, None]] = {}
    whole: dict[tuple[t.Any, ...], bool] = {}
    marks = firewall.marks
    # Only bytes some router table may treat differently from unmarked traffic can conflict.
    differ: dict[tuple[int, int], bool] = {}

    def suspect_class(fate_class: FateClass, zero: FateClass) -> bool:
        key = (id(fate_class), id(zero))
        known = differ.get(key)
        if known is None:
            known = differ[key] = may_differ(fate_class, zero)
        return known

    # Per DS byte, the tables that may treat it otherwise than unmarked traffic, grouped by the pair of classes
    # they hold for it (a router's exit tables mostly share their classes: 1,000 interfaces hold a few hundred
    # pairs): a group's packets fare alike, so its parts are worked out once and its interfaces listed together.
    suspect_mask = 0
    for table in tables:
        zero = table.for_byte(0)
        for fate_class in table.classes:
            if suspect_class(fate_class, zero):
                suspect_mask |= fate_class.mask
    suspect = {byte for byte in range(1, 256) if suspect_mask >> byte & 1}
    indexed = [(table.byte_class, table.classes) for table in tables]
    groups_by_byte: dict[int, list[tuple[FateClass, FateClass, list[int], int]]] = {}

    def groups_of(byte: int) -> list[tuple[FateClass, FateClass, list[int], int]]:
        """(marked class, plain class, table positions, the positions as a bitset) per group of the byte."""
        known = groups_by_byte.get(byte)
        if known is None:
            pairs: dict[tuple[int, int], tuple[FateClass, FateClass, list[int]]] = {}
            for position, (byte_class, table_classes) in enumerate(indexed):
                fate_class = table_classes[byte_class[byte]]
                zero = table_classes[byte_class[0]]
                pair = (id(fate_class), id(zero))
                group = pairs.get(pair)
                if group is not None:
                    group[2].append(position)
                elif suspect_class(fate_class, zero):
                    pairs[pair] = (fate_class, zero, [position])
            known = groups_by_byte[byte] = [(fate_class, zero, positions, sum(1 << p for p in positions))
                                            for fate_class, zero, positions in pairs.values()]
        return known

    classes: dict[tuple[int, ...], PacketClass] = {}
    # Per group and marking header: the parts, and what the join reads of them (the parts that differ, by the
    # action marked packets meet; the parts discarded marked or not; whether all are discarded), once.
    answers: dict[tuple[int, ...], tuple[list[tuple[str, list[Part], bool]], list[Part], bool]] = {}
    judges: dict[PacketClass, _Judge] = {}
    wholes: dict[int, tuple[FateClass, ClassFate, Path]] = {}
    budget = [JOIN_BUDGET]
    # The tables (as a bitset of positions) each conflict was met in, and the groups whose packets it holds.
    listed: dict[tuple[t.Any, ...], int] = {}
    gathered: set[tuple[tuple[t.Any, ...], int]] = set()
    # In and out by the same interface (hairpin forwarding, which routes rarely do) is left out by the map itself,
    # before its histories are expanded.
    for marking in marks.leaving(link.egress, ds_bytes=suspect, hairpin=False):
        if not marking.writers or marking.path == "input":
            continue
        ds_byte = marking.unmarked_byte
        if ds_byte is None or ds_byte == 0:
            continue
        header = (marking.masks[PROTO], marking.masks[SRC], marking.masks[DST], marking.masks[SPORT], marking.masks[DPORT])
        # The tables (as a bitset of positions) per conflict where this marking's packets fare otherwise: the
        # interfaces are listed in table order, as a walk of the tables one by one would meet them.
        met: dict[tuple[t.Any, ...], int] = {}
        for fate_class, zero, positions, position_bits in groups_of(ds_byte):
            answer_key = (id(fate_class), id(zero)) + header
            answer = answers.get(answer_key)
            if answer is None:
                packets = classes.get(header)
                if packets is None:
                    packets = classes[header] = packet_class(marking)
                parts = class_parts(fate_class, zero, packets, judges=judges, budget=budget, wholes=wholes)
                by_action: dict[str, list[Part]] = {}
                for part in parts:
                    if part.differs:
                        by_action.setdefault(part.action, []).append(part)
                # Parts the router discards marked or not are no "rest" the conflict leaves alone (an anti-spoofing
                # ACL's sources): a flow is partial where other packets of the class get through or fare otherwise.
                discarded = [part for part in parts if not part.differs and part.action in DISCARDED]
                answer = answers[answer_key] = (
                    [(action, group, len(group) + len(discarded) == len(parts)) for action, group in by_action.items()],
                    discarded, all(part.action in DISCARDED for part in parts))
            acted, discarded, lost = answer
            for action, group, complete in acted:
                key = (marking.writers[-1], ds_byte, link.interface, action)
                met[key] = met.get(key, 0) | position_bits
                if key not in found:
                    found[key] = _new_conflict(link, firewall, router, tables[positions[0]], fate_class, marking,
                                               ds_byte, group[0])
                    out_interfaces[key] = []
                    whole[key] = True
                if (key, id(group)) not in gathered:
                    # A group's packets are the same for every marking of its header: gathered once a conflict.
                    gathered.add((key, id(group)))
                    exact.setdefault(key, {}).update(dict.fromkeys(part.packets for part in group))
                    moot.setdefault(key, {}).update(dict.fromkeys(part.packets for part in discarded))
                whole[key] = whole[key] and lost
                path_markings = behind.setdefault(key + (marking.path,), [])
                if not path_markings or path_markings[-1][0] is not marking:
                    path_markings.append([marking, list(group), {id(part) for part in group}, complete])
                else:
                    held = path_markings[-1]
                    fresh = [part for part in group if id(part) not in held[2]]
                    held[1].extend(fresh)
                    held[2].update(id(part) for part in fresh)
                    held[3] = held[3] and complete
        for key, bits in met.items():
            fresh_bits = bits & ~listed.get(key, 0)
            listed[key] = listed.get(key, 0) | bits
            names = out_interfaces[key]
            while fresh_bits:
                low = fresh_bits & -fresh_bits
                fresh_bits ^= low
                out_interface = tables[low.bit_length() - 1].out_interface
                if out_interface and out_interface not in names:
                    names.append(out_interface)
    flows: dict[tuple[t.Any, ...], list[Flow]] = {}
    for key_path, entries in behind.items():
        if all(entry[3] for entry in entries):
            flow = _flow([entry[0] for entry in entries], firewall.host, router.host)
        else:
            flow = _part_flow([(entry[0], entry[1]) for entry in entries], firewall.host, router.host)
        flows.setdefault(key_path[:-1], []).append(flow)
    out = []
    for key, conflict in found.items():
        treatment = dataclasses.replace(conflict.treatment, out_interfaces=tuple(out_interfaces[key]))
        severity = conflict.severity
        if not whole[key] and severity == "critical":
            severity = "high"
        out.append(dataclasses.replace(conflict, flows=tuple(flows.get(key, ())), treatment=treatment, severity=severity,
                                       packets=tuple(exact.get(key, ())), moot=tuple(moot.get(key, ()))))
    return out


def link_tables(router: RouterInput, interface: str, family: int) -> list[FateTable]:
    """The router's tables a link into `interface` is joined with: in there, out on every interface that forwards;
    with no other interface, the input side alone (policy routing to Null0 and input ACLs decide there)."""
    return transit_tables(router.config, interface, family=family) or [
        fate_table(router.config, interface, "in", family=family)]


def with_packets(conflict: Conflict, firewall: FirewallInput, router: RouterInput,
                 links: t.Sequence[Link] | None,
                 joined: dict[tuple[str, str, int], list[Conflict]] | None = None) -> Conflict:
    """The conflict with exactly the packets that meet its fate (the router's view, Conflict.packets and moot),
    for a conflict read back without them (findings.json): its link joined again on these models, once per link
    and family for all of a plan's conflicts where `joined` keeps the joins.  As it was when it has them, or when
    the link or the conflict is not there."""
    if conflict.packets:
        return conflict
    part = next((p for p in firewall.families() if p.marks.family == conflict.family), None)
    candidates = links if links is not None else assumed_links({firewall.host: firewall}, {router.host: router})
    link = next((link for link in candidates
                 if link.ref.source == conflict.link.source and link.ref.target == conflict.link.target), None)
    if part is None or link is None:
        return conflict
    joined = {} if joined is None else joined
    key = (conflict.link.source, conflict.link.target, conflict.family)
    if key not in joined:
        joined[key] = conflicts_on_link(link, part, router, link_tables(router, link.interface, part.marks.family))
    for found in joined[key]:
        if (found.marker.writers, found.ds_byte, found.treatment.action, found.treatment.interface) == (
                conflict.marker.writers, conflict.ds_byte, conflict.treatment.action, conflict.treatment.interface):
            return dataclasses.replace(conflict, packets=found.packets, moot=found.moot)
    return conflict


def _table_advice(table: FateTable, legacy: t.Collection[int]) -> list[tuple[str, tuple[Evidence, ...], int]]:
    """What one table deserves a word about, whichever interface holds it: (kind, lines, DSCP)."""
    found: list[tuple[str, tuple[Evidence, ...], int]] = []
    fate_class = table.for_byte(1 << 2)
    if fate_class.fate in (NULL_ROUTED, DROPPED) and fate_class.fate_differs:
        found.append(("drops-lower-effort",
                      tuple(_shown(step.source) for step in fate_class.default.steps if step.depends_on_dscp), 1))
    for step, _conditions in table.markings():
        rewrite = step.rewrite
        # A re-mark by table or map writes a value no configuration line names: nothing to advise on.
        if rewrite is None or getattr(rewrite, "unknown", False) or getattr(rewrite, "keep", None) not in (0x03, 0x00):
            continue
        dscp = rewrite.value >> 2
        if dscp in legacy and dscp != 0:
            found.append(("internal-marker-on-legacy-codepoint", (_shown(step.source),), dscp))
    return found


def router_advisories(router: RouterInput) -> list[Advisory]:
    """What one router does to DS bytes that deserves a word, conflict or not.  Interfaces alike in their
    lists and policies share one table (interface_fate_tables): its advice is worked out once."""
    found: list[Advisory] = []
    legacy = dsfield.dscps_from_rfc1349()
    advice: dict[int, list[tuple[str, tuple[Evidence, ...], int]]] = {}
    for name, direction, shutdown, table in interface_fate_tables(router.config):
        if shutdown or name.lower().startswith(("null", "loopback")):
            continue
        held = advice.get(id(table))
        if held is None:
            held = advice[id(table)] = _table_advice(table, legacy)
        for kind, lines, dscp in held:
            if kind == "drops-lower-effort":
                text = ("%s: DSCP 1 %s %s: DSCP 1 is now the Lower-Effort codepoint (RFC 8622), set on "
                        "purpose by applications that yield; it should be deprioritised, not discarded"
                        % (router.host, "arriving on" if direction == "in" else "leaving by", name))
            else:
                text = ("%s marks DSCP %s, a codepoint legacy RFC 1349 TOS values produce (%s); "
                        "traffic from stacks that still write TOS can carry it too"
                        % (router.host, dsfield.dscp_label(dscp), _tos_origin(dscp)))
            found.append(Advisory(kind, router.host, name, direction, text, lines))
    return found


def firewall_advisories(firewall: FirewallInput) -> list[Advisory]:
    """Legacy TOS values that write the ECN bits."""
    found: list[Advisory] = []
    for table in firewall.ruleset.tables.values():
        if table.name != "mangle":
            continue
        for chain in table.chains:
            for rule in table.rules(chain):
                target = rule.target
                value = getattr(target, "value", None)
                mask = getattr(target, "mask", None)
                if value is not None and mask is not None and (value & mask & 0x03):
                    found.append(Advisory(
                        "legacy-tos-writes-ecn", firewall.host, None, None,
                        "%s:%d writes the ECN bits (0x%02x): a legacy TOS value such as Minimize-Cost "
                        "(0x02) claims ECN capability (ECT(0)) on packets whose sender never asked"
                        % (firewall.file, rule.line, value & mask & 0x03),
                        (Evidence(firewall.file, rule.line, quote(rule.text, exact=True)),)))
    return found


# One host's advisories, or (where computing them raised) the error, in a form a child can hand back.
AdvisoryOutcome = t.Tuple[t.List[Advisory], t.Optional[BaseException]]


def _advisory_stages(firewalls: dict[str, FirewallInput],
                     routers: dict[str, RouterInput]) -> list[tuple[str, t.Callable[[], list[Advisory]]]]:
    """(host, its advisories' computation): every router (each reads the fate table of every interface), then
    every firewall dump."""
    stages: list[tuple[str, t.Callable[[], list[Advisory]]]] = [
        (router.host, lambda router=router: router_advisories(router))  # type: ignore[misc]  # default binds each host
        for router in routers.values()]
    stages += [(firewall.host, lambda firewall=firewall: firewall_advisories(firewall))  # type: ignore[misc]  # as above
               for host in firewalls.values() for firewall in host.families()]
    return stages


def _advisory_outcomes(stages: list[tuple[str, t.Callable[[], list[Advisory]]]], indexes: t.Iterable[int],
                       portable: bool = False) -> dict[int, AdvisoryOutcome]:
    """The outcomes of the stages at `indexes`; `portable`: errors as a child hands them back (pickled)."""
    outcomes: dict[int, AdvisoryOutcome] = {}
    for index in indexes:
        try:
            outcomes[index] = (stages[index][1](), None)
        except Exception as error:  # pylint: disable=broad-except
            outcomes[index] = ([], _portable(error) if portable else error)
    return outcomes


def advisories_for(firewalls: dict[str, FirewallInput], routers: dict[str, RouterInput],
                   errors: list[HostError] | None = None,
                   done: t.Mapping[int, AdvisoryOutcome] | None = None,
                   stages: list[tuple[str, t.Callable[[], list[Advisory]]]] | None = None) -> list[Advisory]:
    """Every host's advisories; a host whose advisories cannot be computed gets an error entry instead.
    `done`: outcomes already computed (by a forked child, see analyze), by position in `stages` (the hosts'
    _advisory_stages, made here when not given)."""
    found: list[Advisory] = []
    stages = stages if stages is not None else _advisory_stages(firewalls, routers)
    outcomes = dict(done or {})
    outcomes.update(_advisory_outcomes(stages, [index for index in range(len(stages)) if index not in outcomes]))
    for index, (host, _stage) in enumerate(stages):
        advisories, failure = outcomes[index]
        if failure is not None:
            if errors is None:
                raise failure
            errors.append(HostError.from_dict(error_entry(host, failure, "looking for advisories on %s" % host)))
        found.extend(advisories)
    return list(dict.fromkeys(found))


def _tos_origin(dscp: int) -> str:
    precedence, low = divmod(dscp, 8)
    tos_names = {0: "Normal-Service", 1: "Maximize-Reliability", 2: "Maximize-Throughput", 4: "Minimize-Delay"}
    return "precedence %d with %s, byte 0x%02x" % (precedence, tos_names.get(low, "?"), dscp << 2)


class JoinMemo:
    """Each link's conflicts, for the exact models they were computed on (the firewall's marking map,
    the router's configuration, compared by identity and held so they stay the same objects)."""

    def __init__(self) -> None:
        self._known: dict[tuple[Link, int], tuple[MarkingMap, IosConfig, tuple[Conflict, ...]]] = {}

    def get(self, link: Link, firewall: FirewallInput, router: RouterInput) -> tuple[Conflict, ...] | None:
        known = self._known.get((link, firewall.marks.family))
        if known is not None and known[0] is firewall.marks and known[1] is router.config:
            return known[2]
        return None

    def put(self, link: Link, firewall: FirewallInput, router: RouterInput, conflicts: t.Sequence[Conflict]) -> None:
        self._known[(link, firewall.marks.family)] = (firewall.marks, router.config, tuple(conflicts))


# Routers' interfaces from which the audit's advisories are computed beside its joins whatever the fleet's size
# (each interface's fate table is read: a 1,000-interface router's take as long as its join).
FORK_MIN_INTERFACES = 256


# One link's join in one family: (link index, family, link, conflicts, None) or, where it failed,
# (link index, family, link, (), {stage, host, what, error}).
JoinOutcome = t.Tuple[int, int, Link, t.Tuple[Conflict, ...], t.Optional[t.Dict[str, t.Any]]]


def _join_links(links: list[Link], indexes: t.Sequence[int], firewalls: dict[str, FirewallInput],
                routers: dict[str, RouterInput], joins: JoinMemo | None) -> list[JoinOutcome]:
    """The joins of the links at `indexes`, each family's dump against the router's tables of that family
    (IPv4: `ip access-group`, `ip policy`, `match ip dscp`...; IPv6: `ipv6 traffic-filter`, `ipv6 policy`,
    `match dscp`...); what `joins` remembers is not joined again."""
    tables_cache: dict[tuple[str, str, int], list[FateTable]] = {}
    outcomes: list[JoinOutcome] = []
    for index in indexes:
        link = links[index]
        host = firewalls.get(link.firewall)
        router = routers.get(link.router)
        if host is None or router is None:
            continue
        for firewall in host.families():
            family = firewall.marks.family
            if joins is not None:
                remembered = joins.get(link, firewall, router)
                if remembered is not None:
                    outcomes.append((index, family, link, remembered, None))
                    continue
            key = (link.router, link.interface, family)
            try:
                if key not in tables_cache:
                    tables_cache[key] = link_tables(router, link.interface, family)
            except Exception as error:  # pylint: disable=broad-except
                outcomes.append((index, family, link, (), {
                    "stage": "tables", "host": link.router, "error": _portable(error),
                    "what": "building the fate tables of %s %s" % (link.router, link.interface)}))
                tables_cache[key] = []
                continue
            if not tables_cache[key]:
                continue  # the router side of this link failed above and is reported once
            try:
                outcomes.append((index, family, link, tuple(conflicts_on_link(link, firewall, router,
                                                                              tables_cache[key])), None))
            except Exception as error:  # pylint: disable=broad-except
                outcomes.append((index, family, link, (), {
                    "stage": "join", "host": link.firewall, "error": _portable(error),
                    "what": "joining %s with %s" % (link.ref.source, link.ref.target)}))
    return outcomes


def _portable(error: BaseException) -> BaseException:
    """The error as a child can hand it back (pickled): itself when it pickles, else its words in a DiffservError
    of the same message (error_entry reads the message and the type's name)."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # pylint: disable=broad-except
        return DiffservError(str(error))


def analyze(firewalls: dict[str, FirewallInput], routers: dict[str, RouterInput],
            links: list[Link] | None = None, errors: t.Iterable[HostError | t.Mapping[str, t.Any]] = (),
            notes: t.Iterable[t.Mapping[str, t.Any]] = (), details: bool = True,
            joins: JoinMemo | None = None, parallel: bool = False) -> Findings:
    """The findings: conflicts, advisories, unmodeled lines, errors (see the module docstring).

    `details=False` gives conflicts and errors only (no advisories, unmodeled lines or unused
    definitions): what a re-audit of a remediation candidate asks, at a fraction of the cost on
    a big router (advisories read every interface's fate table).
    `joins` remembers each link's conflicts for the models it was computed on: re-audits of
    candidates that change one host join only that host's links again.
    `parallel` (the audit's own run) joins a fleet's links on two cores (forking.py); the findings are the
    same, in the same order.

    Each link, and each host's advisories and diagnostics, is its own stage: whatever one of them
    raises becomes an entry under `errors` naming the host (and the link), and every other stage
    is still reported.
    """
    found_errors = [error if isinstance(error, HostError) else HostError.from_dict(error) for error in errors]

    def failed(host: str | None, error: BaseException, stage: str, link: Link | None = None) -> None:
        entry = HostError.from_dict(error_entry(host, error, stage))
        found_errors.append(dataclasses.replace(entry, link=link.ref) if link is not None else entry)

    if links is None:
        links = assumed_links(firewalls, routers)
    conflicts: list[Conflict] = []
    # Each link's join is its own piece of work: on a fleet (the audit's own run, `parallel`), a forked child
    # joins every other link on the same models and hands back what it found, merged here in link order.
    # With the details, the child also computes every other router's advisories (each reads the fate table of
    # every interface: as long as the joins on a fleet), and this process the others while it waits; they are
    # used in order below.
    indexes = list(range(len(links)))
    # A single big router is worth it too: its advisories (a table an interface) are as long as its join.
    router_stages = list(range(len(routers)))[0::2] if details else []
    stages = _advisory_stages(firewalls, routers) if details else []
    shared = worth_forking(len(links), 2) or (details and two_cores() and sum(
        len(router.config.interfaces) for router in routers.values()) >= FORK_MIN_INTERFACES)
    forked = fork_call(lambda: (_join_links(links, indexes[1::2], firewalls, routers, None),
                                _advisory_outcomes(stages, router_stages, True))) \
        if parallel and shared else None
    outcomes = _join_links(links, indexes[0::2] if forked is not None else indexes, firewalls, routers, joins)
    advised: dict[int, AdvisoryOutcome] = {}
    if forked is not None and details:
        theirs_stages = set(router_stages)
        advised = _advisory_outcomes(stages, [index for index in range(len(stages)) if index not in theirs_stages])
    if forked is not None:
        handed = forked.result()
        if isinstance(handed, tuple) and len(handed) == 2:
            theirs = handed[0]
            advised.update(handed[1])
        else:
            theirs = _join_links(links, indexes[1::2], firewalls, routers, joins)  # the child failed
        outcomes = sorted(outcomes + theirs, key=lambda outcome: outcome[:2])
    reported: set[tuple[str, str, int]] = set()
    for _index, _family, link, found, error in outcomes:
        if error is not None:
            key = (link.router, link.interface, _family)
            if error["stage"] == "tables":
                # A router side that fails is reported once, for the first link that meets it.
                if key in reported:
                    continue
                reported.add(key)
            failed(error["host"], error["error"], error["what"], link)
            continue
        conflicts.extend(found)
        host = firewalls[link.firewall]
        if joins is not None:
            part = next(part for part in host.families() if part.marks.family == _family)
            joins.put(link, part, routers[link.router], found)
    conflicts.sort(key=Conflict.sort_key)
    if not details:
        return Findings(tuple(conflicts), (), tuple(found_errors), (), (), tuple(link.ref for link in links),
                        tuple(sorted(firewalls)), tuple(sorted(routers)))
    unmodeled = [Note.from_dict(note) for note in notes]
    for firewall in (part for host in firewalls.values() for part in host.families()):
        # Only the mangle table can write the byte or drop by it before it leaves; an unmodeled
        # match in filter or nat changes no DS byte.
        mangle = firewall.ruleset.tables.get("mangle")
        for diagnostic in (mangle.diagnostics if mangle is not None else []):
            unmodeled.append(Note.from_dict(dict(diagnostic.as_dict(), host=firewall.host)))
    unused: list[dict[str, t.Any]] = []
    for router in routers.values():
        for diagnostic in router.config.diagnostics:
            unmodeled.append(Note.from_dict(dict(diagnostic.as_dict(), host=router.host)))
        try:
            unused.extend(dict(item.as_dict(), host=router.host) for item in unused_definitions(router.config))
        except Exception as error:  # pylint: disable=broad-except
            failed(router.host, error, "looking for unused definitions on %s" % router.host)
    advisories = advisories_for(firewalls, routers, found_errors, advised, stages)
    return Findings(tuple(conflicts), tuple(advisories), tuple(found_errors), tuple(unmodeled), tuple(unused),
                    tuple(link.ref for link in links), tuple(sorted(firewalls)), tuple(sorted(routers)))
