# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One packet through one IOS router: which lines touch it, and what leaves.

The trace runs the same engine as the fate tables, restricted to the one
arriving byte, then takes the first path whose conditions the packet
satisfies: one semantics for tables and traces.  Whatever the packet does
not say (an NBAR class, the policer's rate, a missing port) is resolved
to a stated assumption, never silently.

>>> from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
>>> cfg = parse_ios('''interface Gi0/0
...  ip policy route-map nul
... access-list 106 permit ip any any dscp 1
... route-map nul permit 10
...  match ip address 106
...  set interface Null0
... end''', "r.cfg")
>>> result = trace_ios(cfg, {"in_interface": "Gi0/0", "protocol": "tcp", "tos": 0x04})
>>> (result["fate"], [s["line"] for s in result["steps"]])
('null-routed', [2, 4, 5, 3, 6])
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.acl import PROTOCOLS, AclSyntaxError, parse_ipv4
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import (
    AnyOfCondition,
    Condition,
    DecisionCondition,
    Engine,
    NbarCondition,
    Path,
    RateCondition,
    RouteCondition,
    Step,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import IosConfig

PACKET_FIELDS = frozenset((
    "in_interface", "out_interface", "protocol", "src", "dst", "sport", "dport", "tos",
    "nbar", "rate", "tcp_flags", "has_route",
))
RATES = ("conform", "exceed", "violate")


@dataclasses.dataclass(frozen=True, slots=True)
class Packet:
    """A packet as the trace reads it; None = not given (tests on it cannot be decided)."""

    in_interface: str
    tos: int
    out_interface: str | None = None
    protocol: int | None = None
    src: int | None = None
    dst: int | None = None
    sport: int | None = None
    dport: int | None = None
    nbar: frozenset[str] = frozenset()
    rate: str = "conform"
    tcp_flags: str | None = None
    has_route: bool = True

    @classmethod
    def from_mapping(cls, data: t.Mapping[str, t.Any]) -> Packet:
        unknown = set(data) - PACKET_FIELDS
        if unknown:
            raise DiffservError("packet: unknown field(s) %s (known: %s)" % (
                ", ".join(sorted(unknown)), ", ".join(sorted(PACKET_FIELDS))))
        if not data.get("in_interface"):
            raise DiffservError("packet: in_interface is required")
        try:
            tos = dsfield.parse_ds_byte(data.get("tos", 0))
        except dsfield.DSFieldError as exc:
            raise DiffservError("packet: tos: %s" % exc) from None
        rate = str(data.get("rate") or "conform")
        if rate not in RATES:
            raise DiffservError("packet: rate must be one of %s, not %r" % (", ".join(RATES), rate))
        nbar = data.get("nbar") or ()
        if isinstance(nbar, str):
            nbar = (nbar,)
        return cls(
            in_interface=str(data["in_interface"]),
            out_interface=str(data["out_interface"]) if data.get("out_interface") else None,
            tos=tos,
            protocol=_protocol(data.get("protocol")),
            src=_address(data.get("src"), "src"),
            dst=_address(data.get("dst"), "dst"),
            sport=_port(data.get("sport"), "sport"),
            dport=_port(data.get("dport"), "dport"),
            nbar=frozenset(str(n) for n in nbar),
            rate=rate,
            tcp_flags=str(data["tcp_flags"]) if data.get("tcp_flags") is not None else None,
            has_route=bool(data.get("has_route", True)),
        )


def _protocol(value: t.Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if not 0 <= number <= 255:
            raise DiffservError("packet: protocol %r out of range 0-255" % (value,))
        return number
    name = str(value).lower()
    if name not in PROTOCOLS or PROTOCOLS[name] is None:
        raise DiffservError("packet: unknown protocol %r" % (value,))
    return PROTOCOLS[name]


def _address(value: t.Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_ipv4(str(value))
    except AclSyntaxError:
        raise DiffservError("packet: %s %r is not an IPv4 address" % (what, value)) from None


def _port(value: t.Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise DiffservError("packet: %s %r is not a port number" % (what, value)) from None
    if not 0 <= port <= 65535:
        raise DiffservError("packet: %s %r out of range 0-65535" % (what, value))
    return port


class _Judge:
    """Decides conditions for one packet, remembering every assumption it had to make."""

    def __init__(self, packet: Packet) -> None:
        self.packet = packet
        self.verdicts: dict[int, bool] = {}
        self.assumptions: list[str] = []
        self.nbar_noted: set[str] = set()

    def holds(self, cond: Condition) -> bool:
        key = id(cond)
        if key in self.verdicts:
            return self.verdicts[key]
        if isinstance(cond, (DecisionCondition, AnyOfCondition)):
            # Composite: decide its parts here, so each unknown part is noted once.
            verdict = cond.decide(self.holds)[0]
        else:
            verdict = cond.test(self.packet)
        where = " (%s:%d)" % (cond.source.file, cond.source.line) if cond.source else ""
        if isinstance(cond, NbarCondition) and not verdict:
            if cond.class_map not in self.nbar_noted:
                self.nbar_noted.add(cond.class_map)
                self.assumptions.append(
                    "NBAR class-map %s%s: not matched; list it (or its `match protocol` text) in `nbar` to trace a match"
                    % (cond.class_map, where))
        elif isinstance(cond, RateCondition) and cond.default and verdict:
            self.assumptions.append("policer%s: traffic assumed within rate (pass rate: exceed to trace the other branch)" % where)
        elif isinstance(cond, RouteCondition) and verdict is False:
            self.assumptions.append("a route to the destination is assumed to exist%s (pass has_route: false)" % where)
        if verdict is None:
            self.assumptions.append("cannot decide %r from the packet given%s: treated as not matching" % (cond.text, where))
            verdict = False
        self.verdicts[key] = bool(verdict)
        return bool(verdict)


def _concrete_steps(engine: Engine, judge: _Judge, steps: t.Iterable[Step]) -> t.Iterator[Step]:
    """Replace each summary step ("one of lines 79-83") by the line that decided for this packet."""
    for step in steps:
        summary = engine.summaries.get(id(step))
        if isinstance(summary, AnyOfCondition):
            _verdict, member = summary.decide(judge.holds)
            yield member if member is not None else step
        elif isinstance(summary, DecisionCondition):
            _verdict, alt = summary.decide(judge.holds)
            if alt is None:
                yield step
            else:
                yield from _concrete_steps(engine, judge, alt.steps)
        else:
            yield step


def _choose(paths: list[Path], judge: _Judge) -> Path:
    for path in paths:
        if all(judge.holds(c) for c in path.conditions):
            return path
    raise DiffservError("internal: no path holds for this packet (please report)")


def _run(engine: Engine, packet: Packet, tos: int) -> tuple[Path, _Judge]:
    in_iface = engine.interface(packet.in_interface)
    out_iface = engine.interface(packet.out_interface) if packet.out_interface else None
    paths = engine.run(engine.transit_stages(in_iface, out_iface), start_mask=1 << tos)
    judge = _Judge(packet)
    return _choose(paths, judge), judge


def trace_ios(config: IosConfig, packet: t.Mapping[str, t.Any]) -> dict:
    """Trace one packet; returns a JSON-serialisable dict.

    packet: in_interface (required), out_interface, protocol (tcp/udp/icmp/
    number), src, dst, sport, dport, tos (arriving DS byte: int or "0x04"),
    nbar (class-map names or `match protocol` texts to treat as matched;
    default none), rate (conform/exceed/violate, default conform),
    tcp_flags (e.g. "SA": `established` needs A or R), has_route (default
    true).

    Returns: fate (forwarded / policy-routed / dropped / null-routed),
    tos_in, tos_out, steps (file, line, text, what, tos_before, tos_after,
    depends_on_dscp), assumptions, unmodeled, and `unmarked`: the same
    packet arriving with DS byte 0, with `because_of_dscp` telling whether
    the router treats the two differently.
    """
    pkt = Packet.from_mapping(packet)
    engine = Engine(config)
    in_iface = engine.interface(pkt.in_interface)
    out_iface = engine.interface(pkt.out_interface) if pkt.out_interface else None
    path, judge = _run(engine, pkt, pkt.tos)
    steps = []
    unmodeled = []
    current = pkt.tos
    for step in _concrete_steps(engine, judge, path.steps):
        before = current
        if step.rewrite is not None:
            current = step.rewrite.apply(current)
        entry = step.as_dict()
        entry.pop("rewrite", None)
        entry["tos_before"] = before
        entry["tos_after"] = current
        steps.append(entry)
        if step.unmodeled:
            unmodeled.append("%s:%d: %s" % (step.source.file, step.source.line, step.source.text))
    assumptions = list(judge.assumptions)
    if in_iface.shutdown:
        assumptions.insert(0, "interface %s is shut down: no packet arrives there" % in_iface.name)
    if out_iface is None:
        assumptions.append("no out_interface given: output ACLs and policies of the egress interface not applied")
    unmarked_path, _j = _run(engine, pkt, 0) if pkt.tos else (path, judge)
    unmarked_out = unmarked_path.ds_out(0)
    because = (unmarked_path.action != path.action or unmarked_path.keep != path.keep
               or unmarked_path.value != path.value or unmarked_path.police != path.police)
    return {
        "router": config.hostname,
        "file": config.file,
        "in_interface": in_iface.name,
        "out_interface": out_iface.name if out_iface else None,
        "packet": {
            "protocol": pkt.protocol, "src": packet.get("src"), "dst": packet.get("dst"),
            "sport": pkt.sport, "dport": pkt.dport, "nbar": sorted(pkt.nbar), "rate": pkt.rate,
        },
        "fate": path.action,
        "egress": path.egress,
        "tos_in": pkt.tos,
        "tos_out": current,
        "dscp_in": pkt.tos >> 2,
        "dscp_out": current >> 2,
        "describe_in": dsfield.describe_byte(pkt.tos),
        "describe_out": dsfield.describe_byte(current),
        "classes": list(path.classes),
        "police": list(path.police),
        "steps": steps,
        "assumptions": assumptions,
        "unmodeled": unmodeled,
        "unmarked": {"fate": unmarked_path.action, "tos_out": unmarked_out},
        "because_of_dscp": because,
    }


