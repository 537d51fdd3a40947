# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which DS byte does a packet leave a Linux firewall with: two views of one semantics.

`trace(ruleset, packet)` follows one packet through the hooks of its path
(forward: PREROUTING, FORWARD, POSTROUTING; output: OUTPUT, POSTROUTING;
input: PREROUTING, INPUT), through the base chains of each hook in ascending
priority (iptables: raw -300, mangle -150, filter 0; native nftables: the base
chains the ruleset declares, `Program.stages`), and names every rule that
changed the byte.

`marking_map(ruleset)` answers the same question for every packet at once:
it partitions header space (interfaces, protocol, addresses, ports, and the
byte the packet arrived with) along the rules' own predicates and returns
each reachable class with the byte it leaves with.  Nothing is enumerated:
each dimension is cut into atoms at the boundaries the rules mention, and a
class holds one bit mask of atoms per dimension.

Both views compile a rule once per backend (`legacy` runs the xt matches as
written; `nft` is iptables-nft 1.8.9, which compiles `! --sport A ! --dport B`
into NOT(sport == A and dport == B); `native` is a native nftables table, run
exactly as its rules say) and per TOS era (`old`: ipt_TOS revision
0 of Linux 2.4-2.6.24, where a bare `--set-tos V` keeps precedence and clears
ECN; `modern`: revision 1, new = (old & ~mask) ^ value).  Where the kernel
and the rule text part ways, the result says so.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import ipaddress
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.nat import (
    PER_CONNECTION_NOTE, IfaceAddress, NatTarget, nat_target, new_address, new_port,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import (
    AddrCond, IfaceCond, Jump, Opaque, OtherTarget, PortCond, PROTOCOL_NUMBERS, ProtoCond, Rule,
    Ruleset, SetDscp, SetTos, TosCond, Verdict,
)

if t.TYPE_CHECKING:  # pragma: no cover - annotations only
    from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Condition
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View

PATH_HOOKS: dict[str, tuple[str, ...]] = {
    "forward": ("PREROUTING", "FORWARD", "POSTROUTING"),
    "output": ("OUTPUT", "POSTROUTING"),
    "input": ("PREROUTING", "INPUT"),
}
# Hook -> tables in netfilter priority order (raw -300, mangle -150, nat -100 before routing (dstnat),
# filter 0, nat 100 after it (srcnat)).  nat neither writes the byte nor drops, but it changes the
# addresses and ports later chains match and the wire carries (nat.py).
HOOK_TABLES: dict[str, tuple[str, ...]] = {
    "PREROUTING": ("raw", "mangle", "nat"),
    "INPUT": ("mangle", "filter", "nat"),
    "FORWARD": ("mangle", "filter"),
    "OUTPUT": ("raw", "mangle", "nat", "filter"),
    "POSTROUTING": ("mangle", "nat"),
}
# The nat table's priority on each hook (NF_IP_PRI_NAT_DST -100, NF_IP_PRI_NAT_SRC 100).
NAT_PRIORITIES = {"PREROUTING": -100, "OUTPUT": -100, "INPUT": 100, "POSTROUTING": 100}
# Which interface names a hook knows.  PREROUTING does not know the output
# interface; on the output path the input interface is the empty name.
HOOK_KNOWS_OUT = {"PREROUTING": False, "INPUT": False, "FORWARD": True, "OUTPUT": True, "POSTROUTING": True}

# Where a table's rules run as they read, since nothing compiles them differently.
NATIVE = "native"
# Priorities of the iptables tables on each hook (nat's depend on the hook: NAT_PRIORITIES).
TABLE_PRIORITIES = {"raw": -300, "mangle": -150, "filter": 0}
BACKENDS = ("legacy", "nft")
ERAS = ("old", "modern")


class EvaluationError(DiffservError):
    pass


# ---------------------------------------------------------------------------
# Compilation: a rule as the chosen kernel runs it


@dataclasses.dataclass(frozen=True)
class NftPortPairCond:
    """iptables-nft 1.8.9's reading of `! --sport A ! --dport B`: NOT(sport == A and dport == B)."""

    sport: int
    dport: int


@dataclasses.dataclass(frozen=True)
class NeverCond:
    """A condition no packet meets (legacy `! --sport 0:65535`, `! -p all`)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class AnyOfCond:
    """At least one alternative holds, each a conjunction of plain conditions over the static fields
    (interfaces, protocol, addresses, ports): an nft set of interface names or protocols, or a set
    of concatenations (`ip saddr . tcp dport { 10.0.0.1 . 22, ... }`). `negated`: none holds."""

    alternatives: tuple[tuple[t.Any, ...], ...]
    negated: bool


@dataclasses.dataclass(frozen=True)
class TosSetCond:
    """(current byte & mask) is one of `values` (`ip dscp { cs1, af11 }`, mask 0xfc)."""

    values: frozenset[int]
    mask: int
    negated: bool


@dataclasses.dataclass(frozen=True)
class InlineJump(Jump):
    """The rest of one nft rule, run as a chain of its own (nftables/expr.py makes it where a rule matches
    the DS byte, writes it, then goes on): its `return` and `goto` act for the chain holding the rule,
    and when it ends the rule's chain goes on after the rule."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """One base chain a hook runs: iptables' built-in chain of a table, or an nft base chain."""

    table: str
    chain: str
    priority: int


@dataclasses.dataclass(frozen=True)
class TosWrite:
    """The byte rewrite a rule's target performs, as the chosen era's kernel does it."""

    value: int
    mask: int
    legacy_rev0: bool  # ipt_TOS revision 0: only if (old & 0x1e) != value

    def apply(self, old: int) -> int:
        if self.legacy_rev0:
            return dsfield.legacy_tos_apply(old, self.value)
        return (old & ~self.mask & 0xFF) ^ self.value


@dataclasses.dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    conditions: tuple[Condition | NftPortPairCond | NeverCond, ...]  # as the kernel runs them
    write: TosWrite | None
    divergence: str | None  # where the kernel and the rule text part ways
    semantics: str | None  # which TOS semantics was applied, when it matters
    nat: NatTarget | None = None  # a nat table rule's SNAT/DNAT/MASQUERADE/REDIRECT/NETMAP


def compile_rule(rule: Rule, backend: str, era: str) -> CompiledRule:
    conditions: list[Condition | NftPortPairCond | NeverCond] = list(rule.conditions)
    divergence = None
    if backend == "nft":
        negated_single = [c for c in conditions if isinstance(c, PortCond) and c.negated
                          and c.direction in ("sport", "dport") and len(c.ranges) == 1
                          and c.ranges[0][0] == c.ranges[0][1]]
        sports = [c for c in negated_single if c.direction == "sport"]
        dports = [c for c in negated_single if c.direction == "dport"]
        if len(sports) == 1 and len(dports) == 1:
            conditions.remove(sports[0])
            conditions.remove(dports[0])
            pair = NftPortPairCond(sports[0].ranges[0][0], dports[0].ranges[0][0])
            conditions.append(pair)
            divergence = (
                "iptables-nft 1.8.9 compiles '! --sport %d ! --dport %d' into one compare: the kernel runs "
                "NOT(sport == %d and dport == %d), so a packet with sport %d and another dport (or dport %d "
                "and another sport) matches although the rule text says it must not"
                % (pair.sport, pair.dport, pair.sport, pair.dport, pair.sport, pair.dport)
            )
    # Native nft rules come out of nftables/expr.py as the kernel runs them: no backend quirk applies.
    for condition in list(conditions) if backend != NATIVE else ():
        if isinstance(condition, PortCond) and condition.negated and condition.ranges == ((0, 65535),):
            conditions.remove(condition)
            if backend == "legacy":
                conditions.append(NeverCond("legacy '! --%s 0:65535' never matches" % condition.direction))
                divergence = ("'! --%s 0:65535' never matches on iptables-legacy, but iptables-save prints it "
                              "with no port match at all" % condition.direction)
            else:
                divergence = ("iptables-nft loads '! --%s 0:65535' as no port match: the rule matches every "
                              "packet" % condition.direction)
        elif isinstance(condition, Opaque) and condition.text == "! -p all":
            conditions.remove(condition)
            conditions.append(NeverCond("'! -p all' matches no packet"))
    write = None
    semantics = None
    target = rule.target
    if isinstance(target, SetTos):
        if era == "old" and target.bare:
            if target.value not in dsfield.RFC1349_TOS_BYTES:
                raise EvaluationError(
                    "%s: --set-tos 0x%02x is not one of the five RFC 1349 values the 2.4/2.6 kernel's TOS "
                    "target accepts" % (rule.source.where(), target.value))
            write = TosWrite(target.value, 0x1E, True)
            semantics = "ipt_TOS revision 0 (Linux 2.4-2.6.24): precedence kept, ECN cleared, written only on change"
        else:
            write = TosWrite(target.value, target.mask, False)
            semantics = ("ecn set: the lower two bits set to %d, DSCP kept" % target.value if backend == NATIVE else
                         "TOS revision 1: new = (old & ~0x%02x) ^ 0x%02x" % (target.mask, target.value))
    elif isinstance(target, SetDscp):
        rewrite = dsfield.dscp_rewrite(target.dscp)
        write = TosWrite(rewrite.value, rewrite.mask, False)
        semantics = "%s: upper six bits set to %d, ECN kept" % (
            "dscp set" if backend == NATIVE else "DSCP target", target.dscp)
    return CompiledRule(rule, tuple(conditions), write, divergence, semantics)


def resolve_backend(ruleset: Ruleset | View, backend: str = "auto") -> str:
    if backend == "auto":
        return ruleset.header.backend
    if backend not in BACKENDS:
        raise EvaluationError("unknown backend %r (auto, legacy or nft)" % backend)
    return backend


def resolve_era(ruleset: Ruleset | View, era: str = "auto") -> str:
    if era == "auto":
        return ruleset.header.era
    if era not in ERAS:
        raise EvaluationError("unknown TOS era %r (auto, old or modern)" % era)
    return era


class Program:
    """A ruleset compiled for one backend and era; both views evaluate this."""

    def __init__(self, ruleset: Ruleset | View, backend: str = "auto", era: str = "auto") -> None:
        self.ruleset = ruleset
        self.backend = resolve_backend(ruleset, backend)
        self.era = resolve_era(ruleset, era)
        self._compiled: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        self._stages: dict[str, tuple[Stage, ...]] = {}

    def stages(self, hook: str) -> tuple[Stage, ...]:
        """The base chains a hook runs, in the kernel's order (ascending priority).

        An iptables dump has its fixed tables (HOOK_TABLES); an nft view says what its ruleset
        declares, iptables-nft tables among them where it holds both.
        """
        found = self._stages.get(hook)
        if found is None:
            base_chains = getattr(self.ruleset, "base_chains", None)
            if base_chains is not None:
                found = tuple(base_chains(hook))
            else:
                found = tuple(Stage(table, hook, NAT_PRIORITIES[hook] if table == "nat" else TABLE_PRIORITIES[table])
                              for table in HOOK_TABLES[hook] if self.has_chain(table, hook))
            self._stages[hook] = found
        return found

    def table_backend(self, table: str) -> str:
        """How a table's rules run: native nft tables as written, iptables ones as their backend does."""
        return NATIVE if getattr(self.ruleset.tables[table], "native", False) else self.backend

    def chain(self, table: str, chain: str) -> tuple[CompiledRule, ...]:
        key = (table, chain)
        compiled = self._compiled.get(key)
        if compiled is None:
            rules = self.ruleset.tables[table].rules(chain)
            backend = self.table_backend(table)
            compiled = tuple(compile_rule(rule, backend, self.era) for rule in rules)
            if table == "nat" and backend != NATIVE:
                family = self.ruleset.family
                compiled = tuple(dataclasses.replace(item, nat=found) if (found := nat_target(item.rule, family))
                                 is not None else item for item in compiled)
            self._compiled[key] = compiled
        return compiled

    def policy(self, table: str, chain: str) -> str:
        declared = self.ruleset.tables[table].chains.get(chain)
        return declared.policy if declared is not None and declared.policy else "ACCEPT"

    def has_chain(self, table: str, chain: str) -> bool:
        table_obj = self.ruleset.tables.get(table)
        return table_obj is not None and chain in table_obj.chains


# ---------------------------------------------------------------------------
# Concrete trace


@dataclasses.dataclass(frozen=True)
class Packet:
    path: str
    protocol: int
    tos: int
    in_interface: str = ""
    out_interface: str = ""
    src: int | None = None
    dst: int | None = None
    sport: int | None = None
    dport: int | None = None
    # After a NAT to a range the kernel picks a value from (SNAT to A-B, a port outside the target's
    # range): the range, with the field itself None.  A later match decides only if the whole range does.
    ranges: tuple[tuple[str, int, int], ...] = ()

    def field_range(self, name: str) -> tuple[int, int] | None:
        for field, low, high in self.ranges:
            if field == name:
                return low, high
        return None

    @classmethod
    def from_dict(cls, data: dict[str, t.Any], family: int = 4) -> "Packet":
        """Build a packet from the `trace` module's dict form, checking every field."""
        path = data.get("path", "forward")
        if path not in PATH_HOOKS:
            raise EvaluationError("packet path %r: expected forward, output or input" % (path,))
        protocol = data.get("protocol", "tcp")
        if isinstance(protocol, str) and not protocol.isdigit():
            if protocol.lower() not in PROTOCOL_NUMBERS:
                raise EvaluationError("unknown protocol %r" % (protocol,))
            protocol_number = PROTOCOL_NUMBERS[protocol.lower()]
        else:
            protocol_number = int(protocol)
        tos = data.get("tos", 0)
        tos_value = dsfield.parse_ds_byte(tos) if isinstance(tos, str) else int(tos)
        if not 0 <= tos_value <= 255:
            raise EvaluationError("packet tos %r out of range 0-255" % (tos,))
        in_interface = data.get("in_interface") or ""
        out_interface = data.get("out_interface") or ""
        if path == "output" and in_interface:
            raise EvaluationError("a locally generated packet (path output) has no input interface")
        if path == "input" and out_interface:
            raise EvaluationError("a locally received packet (path input) has no output interface")

        def address(key: str) -> int | None:
            value = data.get(key)
            if value in (None, ""):
                return None
            parsed = ipaddress.ip_address(str(value))
            if parsed.version != family:
                raise EvaluationError("%s %s is not an IPv%d address" % (key, value, family))
            return int(parsed)

        def port(key: str) -> int | None:
            value = data.get(key)
            if value in (None, ""):
                return None
            number = int(value)
            if not 0 <= number <= 65535:
                raise EvaluationError("%s %r out of range" % (key, value))
            return number

        return cls(path=path, protocol=protocol_number, tos=tos_value, in_interface=in_interface,
                   out_interface=out_interface, src=address("src"), dst=address("dst"),
                   sport=port("sport"), dport=port("dport"))


@dataclasses.dataclass(frozen=True)
class Step:
    hook: str
    table: str
    chain: str
    line: int
    rule: str
    action: str
    tos_before: int
    tos_after: int
    note: str | None = None
    priority: int | None = None  # of the base chain the step ran in (iptables: its table's)

    def as_dict(self) -> dict[str, t.Any]:
        data = dataclasses.asdict(self)
        if data["note"] is None:
            del data["note"]
        if data["priority"] is None:
            del data["priority"]
        return data


@dataclasses.dataclass(frozen=True)
class TraceResult:
    packet: Packet
    tos: int
    verdict: str
    steps: tuple[Step, ...]
    uncertain: tuple[str, ...]  # unmodeled matches/targets that the trace assumed
    backend: str
    era: str
    # NAT (the first packet of a NEW connection): the header fields a nat rule changed, as they leave
    # (an int; an IfaceAddress where the dump does not give the address; a (low, high) range where the
    # kernel picks one), the path taken after the translation (a REDIRECT is delivered locally), the
    # interface it leaves by, and what was assumed about routes.
    wire: tuple[tuple[str, t.Any], ...] = ()
    final_path: str = ""
    out_interface: str = ""
    nat_notes: tuple[str, ...] = ()

    @property
    def dscp(self) -> int:
        return self.tos >> 2

    @property
    def ecn(self) -> int:
        return self.tos & 3

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "tos": self.tos, "dscp": self.dscp, "ecn": self.ecn, "verdict": self.verdict,
            "tos_in": self.packet.tos, "describe": dsfield.describe_byte(self.tos),
            "steps": [step.as_dict() for step in self.steps],
            "uncertain": list(self.uncertain), "backend": self.backend, "tos_semantics": self.era,
        } if not self.wire else {
            "tos": self.tos, "dscp": self.dscp, "ecn": self.ecn, "verdict": self.verdict,
            "tos_in": self.packet.tos, "describe": dsfield.describe_byte(self.tos),
            "steps": [step.as_dict() for step in self.steps],
            "uncertain": list(self.uncertain), "backend": self.backend, "tos_semantics": self.era,
            "on_wire": {name: wire_text(value, name) for name, value in self.wire},
            "path_taken": self.final_path, "out_interface": self.out_interface, "nat_notes": list(self.nat_notes),
        }

    def wire_value(self, name: str) -> t.Any:
        """A header field as the packet leaves: translated where a nat rule changed it, else as sent."""
        for field, value in self.wire:
            if field == name:
                return value
        return getattr(self.packet, name)


def wire_text(value: t.Any, name: str, family: int | None = None) -> t.Any:
    """A wire value for people and JSON: an address or port, 'a-b' for a range the kernel picks from,
    'address of eth0' for an interface's address."""
    if value is None or isinstance(value, IfaceAddress):
        return None if value is None else str(value)
    if name in ("src", "dst"):
        make = ipaddress.ip_address if family is None else (
            ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address)
        if isinstance(value, tuple):
            return "%s-%s" % (make(value[0]), make(value[1]))
        return str(make(value))
    if isinstance(value, tuple):
        return "%d-%d" % value
    return value


def _iface_matches(pattern: str, name: str) -> bool:
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _in_ranges(value: int | None, ranges: tuple[tuple[int, int], ...],
               picked: tuple[int, int] | None = None) -> bool | None:
    if value is None:
        if picked is not None:
            # One of picked's values: decided when the whole range is in, or out.
            inside = sum(max(0, min(high, picked[1]) - max(low, picked[0]) + 1) for low, high in ranges)
            size = picked[1] - picked[0] + 1
            return True if inside == size else False if inside == 0 else None
        return None
    for low, high in ranges:
        if low <= value <= high:
            return True
    return False


def _condition_holds(condition: t.Any, packet: Packet, tos: int, in_name: str, out_name: str) -> bool | None:
    """True/False, or None when the packet lacks the field or the match is unmodeled."""
    if isinstance(condition, IfaceCond):
        name = in_name if condition.direction == "in" else out_name
        return _iface_matches(condition.name, name) != condition.negated
    if isinstance(condition, ProtoCond):
        return (packet.protocol == condition.number) != condition.negated
    if isinstance(condition, AddrCond):
        found = _in_ranges(packet.src if condition.direction == "src" else packet.dst, condition.ranges,
                           packet.field_range(condition.direction) if packet.ranges else None)
        return None if found is None else found != condition.negated
    if isinstance(condition, PortCond):
        if condition.direction == "either":
            first = _in_ranges(packet.sport, condition.ranges, packet.field_range("sport") if packet.ranges else None)
            second = _in_ranges(packet.dport, condition.ranges, packet.field_range("dport") if packet.ranges else None)
            if first is None or second is None:
                return None
            return (first or second) != condition.negated
        found = _in_ranges(packet.sport if condition.direction == "sport" else packet.dport, condition.ranges,
                           packet.field_range(condition.direction) if packet.ranges else None)
        return None if found is None else found != condition.negated
    if isinstance(condition, TosCond):
        return ((tos & condition.mask) == condition.value) != condition.negated
    if isinstance(condition, NftPortPairCond):
        # NOT(sport == A and dport == B), on ports that NAT may have made a range the kernel picks from.
        same_sport = _in_ranges(packet.sport, ((condition.sport, condition.sport),),
                                packet.field_range("sport") if packet.ranges else None)
        same_dport = _in_ranges(packet.dport, ((condition.dport, condition.dport),),
                                packet.field_range("dport") if packet.ranges else None)
        if same_sport is False or same_dport is False:
            return True
        if same_sport is None or same_dport is None:
            return None
        return False
    if isinstance(condition, NeverCond):
        return False
    if isinstance(condition, TosSetCond):
        return ((tos & condition.mask) in condition.values) != condition.negated
    if isinstance(condition, AnyOfCond):
        unknown = False
        for alternative in condition.alternatives:
            results = [_condition_holds(part, packet, tos, in_name, out_name) for part in alternative]
            if all(result is True for result in results):
                return not condition.negated
            if False not in results:
                unknown = True
        return None if unknown else condition.negated
    return None


def trace(ruleset: Ruleset | View, packet: Packet, backend: str = "auto", era: str = "auto",
          program: Program | None = None, route: t.Callable[[Packet], str] | None = None) -> TraceResult:
    """Follow one packet through the base chains of every hook along its path, in priority order.

    A match the packet cannot decide (a field left out of the packet, or an
    unmodeled match) is assumed to hold, and the result lists it under
    `uncertain`: the trace never hides that it guessed.

    The nat table runs as for the first packet of a NEW connection (nat.py): later chains match
    the translated header, and the result's `wire` holds what a nat rule changed.  Where nat
    PREROUTING or OUTPUT changes the destination, `route(packet)` (the translated packet) names the
    interface routing picks, "" for local delivery; without it a REDIRECT is delivered locally
    (nat OUTPUT: by lo) and a DNAT keeps the interface the packet was given, and `nat_notes` says so.
    """
    program = program or Program(ruleset, backend, era)
    family = program.ruleset.family
    tos = packet.tos
    steps: list[Step] = []
    uncertain: list[str] = []
    current = packet
    path = packet.path
    out_interface = packet.out_interface
    wire: dict[str, t.Any] = {}
    notes: list[str] = []
    hooks = list(PATH_HOOKS[path])
    position = 0

    def result(verdict: str) -> TraceResult:
        if not wire:
            return TraceResult(packet, tos, verdict, tuple(steps), tuple(uncertain), program.backend, program.era)
        return TraceResult(packet, tos, verdict, tuple(steps), tuple(uncertain), program.backend, program.era,
                           tuple(sorted(wire.items())), path, out_interface if path != "input" else "",
                           (PER_CONNECTION_NOTE,) + tuple(notes))

    while position < len(hooks):
        hook = hooks[position]
        position += 1
        in_name = packet.in_interface if path != "output" else ""
        out_name = out_interface if HOOK_KNOWS_OUT[hook] and path != "input" else ""
        translated_before = "dst" in wire
        redirected = False
        for stage in program.stages(hook):
            translated: list[tuple[Packet, dict[str, t.Any]]] = []
            tos, verdict = _run_table(program, stage, hook, current, tos, in_name, out_name, steps, uncertain,
                                      translated, family)
            if verdict == "drop":
                return result("drop")
            for new_packet, changes in translated:
                current = new_packet
                wire.update(changes)
                redirected = redirected or steps[-1].action == "REDIRECT"
        if hook in ("PREROUTING", "OUTPUT") and "dst" in wire and not translated_before:
            # Routing after dstnat (PREROUTING), or the reroute after nat OUTPUT, on the translated destination.
            if redirected:
                chosen = "lo" if hook == "OUTPUT" else ""
            elif route is not None:
                chosen = route(current)
            else:
                chosen = out_interface if path != "input" else ""
                notes.append("the translated destination's route is not in the dump: read as %s"
                             % ("leaving by " + chosen if chosen else "delivered locally (path input)"))
            if hook == "PREROUTING":
                if chosen == "":
                    path, hooks = "input", ["PREROUTING", "INPUT"]
                else:
                    path, hooks = "forward", ["PREROUTING", "FORWARD", "POSTROUTING"]
                    out_interface = chosen
            else:
                if chosen != out_interface:
                    notes.append("nat OUTPUT rerouted the packet: OUTPUT chains saw out %s, POSTROUTING sees %s"
                                 % (out_interface or "(none)", chosen))
                out_interface = chosen
    return result("accept")


def _apply_nat(target: NatTarget, hook: str, packet: Packet, in_name: str, out_name: str,
               family: int) -> tuple[Packet, dict[str, t.Any]]:
    """One packet through a NAT target: the packet as later chains see it, and the changed fields."""
    target = target.for_hook(hook)
    if target.manip == "src":
        address = new_address(target, packet.src, out_name, family, hook)
        port = new_port(target, packet.protocol, packet.sport)
        changes = {"src": address, "sport": port}
        new = dataclasses.replace(packet, src=address if isinstance(address, int) else None,
                                  sport=port if isinstance(port, int) else None)
    else:
        address = new_address(target, packet.dst, in_name, family, hook)
        port = new_port(target, packet.protocol, packet.dport)
        changes = {"dst": address, "dport": port}
        new = dataclasses.replace(packet, dst=address if isinstance(address, int) else None,
                                  dport=port if isinstance(port, int) else None)
    picked = tuple((name, value[0], value[1]) for name, value in changes.items() if isinstance(value, tuple))
    if picked or new.ranges:
        kept = tuple(entry for entry in new.ranges if entry[0] not in changes)
        new = dataclasses.replace(new, ranges=kept + picked)
    return new, changes


def _run_table(program: Program, stage: Stage, hook: str, packet: Packet, tos: int, in_name: str,
               out_name: str, steps: list[Step], uncertain: list[str],
               translated: list[tuple[Packet, dict[str, t.Any]]] | None = None, family: int = 4) -> tuple[int, str]:
    """One base chain (with the chains it jumps to) for one packet: (byte, "accept" or "drop").

    A NAT target of the nat table translates the packet (appended to `translated`) and ends the table."""
    table, base, priority = stage.table, stage.chain, stage.priority
    stack: list[tuple[str, int, bool]] = []  # (chain, position to resume, entered by an InlineJump)
    chain = base
    position = 0
    depth_guard = 0
    while True:
        rules = program.chain(table, chain)
        if position >= len(rules):
            if stack:
                chain, position, _inline = stack.pop()
                continue
            return _policy_after_return(program, table, base, hook, priority, tos, steps)
        compiled = rules[position]
        position += 1
        holds = True
        guessed = []
        for condition in compiled.conditions:
            result = _condition_holds(condition, packet, tos, in_name, out_name)
            if result is None:
                guessed.append(condition)
            elif not result:
                holds = False
                break
        if not holds:
            continue
        rule = compiled.rule
        for condition in guessed:
            text = condition.text if isinstance(condition, Opaque) else type(condition).__name__
            uncertain.append("%s: assumed %s matches" % (rule.source.where(), text))
        target = rule.target
        note = compiled.divergence
        if compiled.write is not None:
            after = compiled.write.apply(tos)
            steps.append(Step(hook, table, rule.chain, rule.line, rule.text, "write", tos, after,
                              note or compiled.semantics, priority))
            tos = after
            continue
        if isinstance(target, Jump):
            depth_guard += 1
            if depth_guard > 100000:
                raise EvaluationError("%s: jump loop" % rule.source.where())
            if isinstance(target, InlineJump):
                stack.append((chain, position, True))
            elif not target.goto:
                stack.append((chain, position, False))
            else:
                # A goto from the rest of an nft rule leaves the chain that holds the rule.
                while stack and stack[-1][2]:
                    stack.pop()
            if note:
                steps.append(Step(hook, table, rule.chain, rule.line, rule.text, "jump", tos, tos, note, priority))
            chain, position = target.chain, 0
            continue
        if compiled.nat is not None and translated is not None:
            new_packet, changes = _apply_nat(compiled.nat, hook, packet, in_name, out_name, family)
            said = "; ".join("%s %s -> %s" % (name, wire_text(getattr(packet, name), name, family),
                                              wire_text(changes[name], name, family))
                             for name in ("src", "sport", "dst", "dport")
                             if name in changes and changes[name] != getattr(packet, name))
            steps.append(Step(hook, table, rule.chain, rule.line, rule.text, compiled.nat.kind, tos, tos,
                              "%s: %s" % (compiled.nat.for_hook(hook).describe(family), said or "nothing changed"),
                              priority))
            translated.append((new_packet, {name: value for name, value in changes.items()
                                            if value != getattr(packet, name)}))
            return tos, "accept"
        if isinstance(target, Verdict):
            steps.append(Step(hook, table, rule.chain, rule.line, rule.text, target.kind, tos, tos, note, priority))
            if target.kind == "return":
                while stack and stack[-1][2]:
                    stack.pop()  # a return from the rest of an nft rule returns from the rule's chain
                if stack:
                    chain, position, _inline = stack.pop()
                    continue
                return _policy_after_return(program, table, base, hook, priority, tos, steps)
            if target.kind == "drop":
                return tos, "drop"
            return tos, "accept"
        if isinstance(target, OtherTarget) and not target.known:
            uncertain.append("%s: unmodeled target %s assumed to leave the byte alone and continue"
                             % (rule.source.where(), target.name))
        elif note:
            steps.append(Step(hook, table, rule.chain, rule.line, rule.text, "match", tos, tos, note, priority))


def _policy_after_return(program: Program, table: str, base: str, hook: str, priority: int, tos: int,
                         steps: list[Step]) -> tuple[int, str]:
    policy = program.policy(table, base)
    if policy == "DROP":
        chain = program.ruleset.tables[table].chains[base]
        steps.append(Step(hook, table, base, chain.source.line, chain.source.text, "policy DROP", tos, tos, None,
                          priority))
        return tos, "drop"
    return tos, "accept"
