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

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import QUOTE_LIMIT, error_entry, quote
from ansible_collections.diffserv.audit.plugins.module_utils.findings import (
    Advisory, Condition, Conflict, Evidence, Findings, Flow, HostError, LinkRef, Marker, Note, Treatment,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import (
    DROPPED, NULL_ROUTED, FateTable, fate_table, fate_tables, transit_tables,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import unused_definitions
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import IosConfig
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import trace_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import (
    DPORT, IIF, PROTO, SPORT, Marking, MarkingMap,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset

EPHEMERAL = (1024, 65535)


@dataclasses.dataclass(frozen=True)
class FirewallInput:
    host: str
    file: str
    ruleset: Ruleset
    marks: MarkingMap
    managed: bool = True


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
    return Flow(described["protocols"], described["sport"], described["dport"], described["src"], described["dst"],
                described["out_interfaces"], first.path, len(markings), _flow_words(union, described, firewall, router))


def _coverage(ranges: list[tuple[int, int]], low: int, high: int) -> float:
    covered = sum(max(0, min(b, high) - max(a, low) + 1) for a, b in ranges)
    return covered / float(high - low + 1)


def _flow_words(marking: Marking, described: dict[str, t.Any], firewall: str, router: str) -> str:
    space = marking.space
    protocols = described["protocols"]
    proto = "/".join(protocols).upper() if isinstance(protocols, list) else "IP"
    dports = space.intervals[DPORT].ranges(marking.masks[DPORT])
    origin = "sent by %s itself" % firewall if marking.path == "output" else "forwarded by %s" % firewall
    if described["dport"] != "any" and _coverage(dports, *EPHEMERAL) > 0.9:
        return ("%s to high ports, %s: replies to every connection the %s side opens (for example the "
                "SYN/ACK of a mail server answering a relay behind %s)" % (proto, origin, router, router))
    if described["dport"] != "any":
        return "%s to port(s) %s, %s: connections the %s side opens towards the %s side" % (
            proto, ", ".join(described["dport"]), origin, firewall, router)
    if described["sport"] != "any":
        return "%s from port(s) %s, %s: replies of those services" % (proto, ", ".join(described["sport"]), origin)
    return "all %s packets %s" % (proto, origin)


def _severity(action: str, policed: bool, rewritten: bool) -> str:
    if action in (NULL_ROUTED, DROPPED):
        return "critical"
    if policed:
        return "high"
    return "medium"


def _representative(marking: Marking) -> dict[str, t.Any]:
    """One concrete packet of a marking class, to confirm the conflict with a router trace.

    The protocol goes by number: the firewall may name protocols (icmpv6, sctp, ...) that IOS
    has no keyword for, and a number is what both sides agree on.
    """
    space = marking.space
    protocols = space.protocols
    numbers = [number for index, number in enumerate(protocols.numbers) if marking.masks[PROTO] >> index & 1]
    protocol: int | str
    if 6 in numbers or 17 in numbers:
        protocol = "tcp" if 6 in numbers else "udp"
    elif numbers:
        protocol = numbers[0]
    else:
        # "every other protocol": one the rules never name (GRE, or the first free number).
        protocol = next(number for number in (47, 253, 254, *range(256)) if number not in protocols.numbers)
    packet: dict[str, t.Any] = {"protocol": protocol}
    for key, dim in (("sport", SPORT), ("dport", DPORT)):
        ranges = space.intervals[dim].ranges(marking.masks[dim])
        if ranges and marking.masks[dim] != space.intervals[dim].full:
            packet[key] = ranges[0][0]
    return packet


def _shown(evidence: t.Any) -> Evidence:
    """A source line as findings show it: file, line and the text bounded and redacted (a rule may
    carry a 50 MiB comment; the evidence needs its first words, not every copy of them)."""
    return Evidence(evidence.file, evidence.line, quote(evidence.text, exact=True))


def _shown_condition(condition: t.Mapping[str, t.Any]) -> Condition:
    return Condition(condition.get("file"), condition.get("line"), quote(str(condition.get("text", "")), exact=True),
                     quote(str(condition.get("reason", "")), 2 * QUOTE_LIMIT))


def _class_lines(fate_class: t.Any) -> tuple[Evidence, ...]:
    """Without a confirming packet: the plain path's lines, then those of every path that treats these
    bytes otherwise than unmarked traffic (where the line that drops or re-marks under a condition is)."""
    differing = [path for path, differs in zip(fate_class.paths, fate_class.path_differs) if differs]
    seen: dict[tuple[str, int], Evidence] = {}
    for path in [fate_class.default] + differing:
        for step in path.steps:
            seen.setdefault((step.source.file, step.source.line), _shown(step.source))
    return tuple(seen.values())


def _deciding_lines(trace: dict[str, t.Any]) -> tuple[Evidence, ...]:
    return tuple(Evidence(step["file"], step["line"], quote(step["text"], exact=True), step["what"]) for step in trace["steps"])


def _new_conflict(link: Link, firewall: FirewallInput, router: RouterInput, table: FateTable,
                  fate_class: t.Any, marking: Marking, ds_byte: int) -> Conflict:
    """A conflict with its evidence, before the out interfaces and flows behind it are gathered."""
    # Confirm on a concrete packet of the class, marked and unmarked: the trace gives the lines.
    packet = dict(_representative(marking), in_interface=link.interface, out_interface=table.out_interface)
    marked = trace_ios(router.config, dict(packet, tos=ds_byte))
    plain = trace_ios(router.config, dict(packet, tos=0))
    # Confirmed only when the trace itself says the byte changed this packet's treatment: a packet
    # that both ways passes untouched leaves with the byte it came with, which is no confirmation.
    confirmed = bool(marked.get("because_of_dscp")) and (marked["fate"], marked["tos_out"]) != (plain["fate"], plain["tos_out"])
    action = marked["fate"] if confirmed else fate_class.fate
    writer = firewall.marks.rule_at(marking.writers[-1])
    marker = Marker(firewall.host, firewall.file, writer.line, quote(writer.text, exact=True), writer.chain, writer.table,
                    tuple(marking.writers), firewall.marks.program.backend, firewall.marks.program.era)
    treatment = Treatment(
        host=router.host, file=router.file, interface=link.interface, out_interfaces=(), direction="in",
        action=action, summary=fate_class.summary(), unmarked_action=plain["fate"], tos_out=marked["tos_out"],
        # What the configuration alone cannot decide on this path (CoS, an undefined ACL, an
        # unmodelled line), each with file:line; and whether a table re-marked to an unknown value.
        may_match=tuple(_shown_condition(condition) for condition in marked.get("may_match", [])),
        remarked_unknown=bool(marked.get("remarked_unknown")),
        lines=_deciding_lines(marked) if confirmed else _class_lines(fate_class),
        confirmed_by_trace=confirmed, example_packet=dict(packet, tos=ds_byte))
    return Conflict(ds_byte >> 2, ds_byte, dsfield.describe_byte(ds_byte),
                    _severity(action, bool(marked["police"]) or fate_class.policed, marked["tos_out"] != ds_byte),
                    marker, treatment, (), link.assumed, link.ref)


def conflicts_on_link(link: Link, firewall: FirewallInput, router: RouterInput,
                      tables: list[FateTable]) -> list[Conflict]:
    """The conflicts of one link: each marking class leaving the firewall there, against the router's tables."""
    found: dict[tuple[t.Any, ...], Conflict] = {}
    out_interfaces: dict[tuple[t.Any, ...], list[str]] = {}
    behind: dict[tuple[t.Any, ...], list[Marking]] = {}
    egress_atom = firewall.marks.interfaces.atom(link.egress) if link.egress else None
    # Only bytes some router table treats differently from unmarked traffic can conflict.
    suspect_mask = 0
    for table in tables:
        for fate_class in table.classes:
            if fate_class.fate_differs:
                suspect_mask |= fate_class.mask
    suspect = {byte for byte in range(1, 256) if suspect_mask >> byte & 1}
    for marking in firewall.marks.leaving(link.egress, ds_bytes=suspect):
        if not marking.writers or marking.path == "input":
            continue
        if egress_atom is not None and marking.path == "forward" and marking.masks[IIF] == egress_atom:
            # In and out by the same interface: hairpin forwarding, which routes rarely do; left out.
            continue
        ds_byte = marking.unmarked_byte
        if ds_byte is None or ds_byte == 0:
            continue
        for table in tables:
            fate_class = table.for_byte(ds_byte)
            if not fate_class.fate_differs:
                continue
            key = (marking.writers[-1], ds_byte, link.interface, fate_class.fate)
            if key not in found:
                found[key] = _new_conflict(link, firewall, router, table, fate_class, marking, ds_byte)
                out_interfaces[key] = []
            if table.out_interface and table.out_interface not in out_interfaces[key]:
                out_interfaces[key].append(table.out_interface)
            path_markings = behind.setdefault(key + (marking.path,), [])
            if not path_markings or path_markings[-1] is not marking:
                path_markings.append(marking)
    flows: dict[tuple[t.Any, ...], list[Flow]] = {}
    for key_path, markings in behind.items():
        flows.setdefault(key_path[:-1], []).append(_flow(markings, firewall.host, router.host))
    return [dataclasses.replace(conflict, flows=tuple(flows.get(key, ())), treatment=dataclasses.replace(
        conflict.treatment, out_interfaces=tuple(out_interfaces[key]))) for key, conflict in found.items()]


def router_advisories(router: RouterInput) -> list[Advisory]:
    """What one router does to DS bytes that deserves a word, conflict or not."""
    found: list[Advisory] = []
    legacy = dsfield.dscps_from_rfc1349()
    for table in fate_tables(router.config):
        name = table.interface
        if table.shutdown or name.lower().startswith(("null", "loopback")):
            continue
        fate_class = table.for_byte(1 << 2)
        if fate_class.fate in (NULL_ROUTED, DROPPED) and fate_class.fate_differs:
            found.append(Advisory(
                "drops-lower-effort", router.host, name, table.direction,
                "%s: DSCP 1 %s %s: DSCP 1 is now the Lower-Effort codepoint (RFC 8622), set on "
                "purpose by applications that yield; it should be deprioritised, not discarded"
                % (router.host, "arriving on" if table.direction == "in" else "leaving by", name),
                tuple(_shown(step.source) for step in fate_class.default.steps if step.depends_on_dscp)))
        for step, _conditions in table.markings():
            rewrite = step.rewrite
            # A re-mark by table or map writes a value no configuration line names: nothing to advise on.
            if rewrite is None or getattr(rewrite, "unknown", False) or getattr(rewrite, "keep", None) not in (0x03, 0x00):
                continue
            dscp = rewrite.value >> 2
            if dscp in legacy and dscp != 0:
                found.append(Advisory(
                    "internal-marker-on-legacy-codepoint", router.host, name, table.direction,
                    "%s marks DSCP %s, a codepoint legacy RFC 1349 TOS values produce (%s); "
                    "traffic from stacks that still write TOS can carry it too"
                    % (router.host, dsfield.dscp_label(dscp), _tos_origin(dscp)),
                    (_shown(step.source),)))
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


def advisories_for(firewalls: dict[str, FirewallInput], routers: dict[str, RouterInput],
                   errors: list[HostError] | None = None) -> list[Advisory]:
    """Every host's advisories; a host whose advisories cannot be computed gets an error entry instead."""
    found: list[Advisory] = []
    stages: list[tuple[str, t.Callable[[], list[Advisory]]]] = [
        (router.host, lambda router=router: router_advisories(router))  # type: ignore[misc]  # default binds each host
        for router in routers.values()]
    stages += [(firewall.host, lambda firewall=firewall: firewall_advisories(firewall))  # type: ignore[misc]  # as above
               for firewall in firewalls.values()]
    for host, stage in stages:
        try:
            found.extend(stage())
        except Exception as error:  # pylint: disable=broad-except
            if errors is None:
                raise
            errors.append(HostError.from_dict(error_entry(host, error, "looking for advisories on %s" % host)))
    return list(dict.fromkeys(found))


def _tos_origin(dscp: int) -> str:
    precedence, low = divmod(dscp, 8)
    tos_names = {0: "Normal-Service", 1: "Maximize-Reliability", 2: "Maximize-Throughput", 4: "Minimize-Delay"}
    return "precedence %d with %s, byte 0x%02x" % (precedence, tos_names.get(low, "?"), dscp << 2)


class JoinMemo:
    """Each link's conflicts, for the exact models they were computed on (the firewall's marking map,
    the router's configuration, compared by identity and held so they stay the same objects)."""

    def __init__(self) -> None:
        self._known: dict[Link, tuple[MarkingMap, IosConfig, tuple[Conflict, ...]]] = {}

    def get(self, link: Link, firewall: FirewallInput, router: RouterInput) -> tuple[Conflict, ...] | None:
        known = self._known.get(link)
        if known is not None and known[0] is firewall.marks and known[1] is router.config:
            return known[2]
        return None

    def put(self, link: Link, firewall: FirewallInput, router: RouterInput, conflicts: t.Sequence[Conflict]) -> None:
        self._known[link] = (firewall.marks, router.config, tuple(conflicts))


def analyze(firewalls: dict[str, FirewallInput], routers: dict[str, RouterInput],
            links: list[Link] | None = None, errors: t.Iterable[HostError | t.Mapping[str, t.Any]] = (),
            notes: t.Iterable[t.Mapping[str, t.Any]] = (), details: bool = True,
            joins: JoinMemo | None = None) -> Findings:
    """The findings: conflicts, advisories, unmodeled lines, errors (see the module docstring).

    `details=False` gives conflicts and errors only (no advisories, unmodeled lines or unused
    definitions): what a re-audit of a remediation candidate asks, at a fraction of the cost on
    a big router (advisories read every interface's fate table).
    `joins` remembers each link's conflicts for the models it was computed on: re-audits of
    candidates that change one host join only that host's links again.

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
    tables_cache: dict[tuple[str, str], list[FateTable]] = {}
    conflicts: list[Conflict] = []
    for link in links:
        firewall = firewalls.get(link.firewall)
        router = routers.get(link.router)
        if firewall is None or router is None:
            continue
        if joins is not None:
            remembered = joins.get(link, firewall, router)
            if remembered is not None:
                conflicts.extend(remembered)
                continue
        key = (link.router, link.interface)
        try:
            if key not in tables_cache:
                # In on the link, out on every interface that forwards; with no other interface, the
                # input side alone (policy routing to Null0 and input ACLs decide there).
                tables_cache[key] = transit_tables(router.config, link.interface) or [
                    fate_table(router.config, link.interface, "in")]
        except Exception as error:  # pylint: disable=broad-except
            failed(link.router, error, "building the fate tables of %s %s" % (link.router, link.interface), link)
            tables_cache[key] = []
            continue
        if not tables_cache[key]:
            continue  # the router side of this link failed above and is reported once
        try:
            found = conflicts_on_link(link, firewall, router, tables_cache[key])
            conflicts.extend(found)
            if joins is not None:
                joins.put(link, firewall, router, found)
        except Exception as error:  # pylint: disable=broad-except
            failed(link.firewall, error, "joining %s with %s" % (link.ref.source, link.ref.target), link)
    conflicts.sort(key=Conflict.sort_key)
    if not details:
        return Findings(tuple(conflicts), (), tuple(found_errors), (), (), tuple(link.ref for link in links),
                        tuple(sorted(firewalls)), tuple(sorted(routers)))
    unmodeled = [Note.from_dict(note) for note in notes]
    for firewall in firewalls.values():
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
    advisories = advisories_for(firewalls, routers, found_errors)
    return Findings(tuple(conflicts), tuple(advisories), tuple(found_errors), tuple(unmodeled), tuple(unused),
                    tuple(link.ref for link in links), tuple(sorted(firewalls)), tuple(sorted(routers)))
