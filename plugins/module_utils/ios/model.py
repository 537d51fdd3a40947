# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Cisco IOS running-config says about the DS byte, as frozen value objects.

`parse.py` builds these from text; `fates.py` reads them.  Every object
carries the `Evidence` (file, line, text) of the line that defined it, so
any fate can cite the configuration that decides it.

Only what bears on a packet's DS byte or its fate is modelled: access
lists, class-maps, policy-maps, route-maps used for policy routing, and
the interface lines that attach them.  Everything else is read past.

>>> e = Evidence("border.cfg", 12, "access-list 106 permit ip any any dscp 1")
>>> str(e)
'border.cfg:12: access-list 106 permit ip any any dscp 1'
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import contextlib
import dataclasses
import gc
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Evidence as Evidence  # pylint: disable=useless-import-alias  # re-exported

# A set of DS byte values (0-255) is a 256-bit integer: bit b set = byte b
# is in the set.  Every DS test of the model is one of these masks, so a
# whole ACL can be evaluated for all 256 bytes with a handful of big-int ops.
ALL_BYTES = (1 << 256) - 1

ANY_WILDCARD = 0xFFFFFFFF


def _build_masks() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    dscp = [0] * 64
    prec = [0] * 8
    tos4 = [0] * 16
    ecn = [0] * 4
    for byte in range(256):
        bit = 1 << byte
        dscp[byte >> 2] |= bit
        prec[byte >> 5] |= bit
        tos4[(byte >> 1) & 0x0F] |= bit
        ecn[byte & 0x03] |= bit
    return tuple(dscp), tuple(prec), tuple(tos4), tuple(ecn)


# DSCP_BYTES[d]: bytes whose DSCP is d (4d..4d+3); PRECEDENCE_BYTES[p]: byte>>5 == p;
# TOS4_BYTES[t]: (byte>>1)&0xF == t, the RFC 1349 field IOS ACL `tos` compares;
# ECN_BYTES[e]: byte&3 == e.
DSCP_BYTES, PRECEDENCE_BYTES, TOS4_BYTES, ECN_BYTES = _build_masks()


def bytes_of(mask: int) -> list[int]:
    """The byte values in a mask, ascending."""
    # One C-level conversion beats a Python loop over set bits for dense masks.
    bits = bin(mask)[:1:-1]
    return [i for i, bit in enumerate(bits) if bit == "1"]


# Evidence (one configuration line: where it is and what it says) is findings.Evidence, the one
# evidence type of the collection; it is imported above and re-exported from here.


@dataclasses.dataclass(frozen=True, slots=True)
class Address:
    """`any`, `host A`, `A W` (IOS wildcard, may be non-contiguous) or an object-group.

    An `object-group network` is resolved when the configuration is read
    (parse.py): `members` holds its (network, wildcard) pairs, nested groups
    and ranges flattened, and the address matches when any member does.
    `members` None = not resolved (an undefined group: the entry says so).
    IPv6 addresses are the same objects over 128-bit integers (`ANY_ADDRESS`
    matches both families).
    """

    network: int = 0
    wildcard: int = ANY_WILDCARD
    group: str | None = None
    text: str = "any"
    members: tuple[tuple[int, int], ...] | None = None

    @property
    def is_any(self) -> bool:
        return self.group is None and self.wildcard == ANY_WILDCARD

    def matches(self, address: int | None) -> bool | None:
        """None when the answer is unknown (an unresolved object-group, or no address given)."""
        if self.is_any:
            return True
        if address is None:
            return None
        if self.group is not None:
            if self.members is None:
                return None
            for network, wildcard in self.members:
                if (address | wildcard) == (network | wildcard):
                    return True
            return False
        return (address | self.wildcard) == (self.network | self.wildcard)


ANY_ADDRESS = Address()


@dataclasses.dataclass(frozen=True, slots=True)
class Ports:
    """eq (one or more ports), neq, lt, gt or range, as IOS writes them."""

    op: str
    values: tuple[int, ...]
    text: str

    def matches(self, port: int | None) -> bool | None:
        if port is None:
            return None
        op, values = self.op, self.values
        if op == "eq":
            return port in values
        if op == "neq":
            return port not in values
        if op == "lt":
            return port < values[0]
        if op == "gt":
            return port > values[0]
        return values[0] <= port <= values[1]


@dataclasses.dataclass(frozen=True, slots=True)
class Service:
    """One member of an `object-group service`, nested groups flattened.

    protocol None = any IP protocol (`ip`); `icmp` = (type, code or None)
    for an ICMP message member.  Cisco IOS XE "Object Groups for ACLs",
    "Objects Allowed in Service Object Groups": source and destination
    ports (TCP, UDP, TCP-UDP), ICMP message types, top-level protocols by
    name or number, and other service object groups.
    """

    protocol: int | None
    sport: Ports | None = None
    dport: Ports | None = None
    icmp: tuple[int, int | None] | None = None
    text: str = ""

    def matches(self, packet: t.Any) -> bool | None:
        verdict: bool | None = True
        if self.protocol is not None:
            if packet.protocol is None:
                verdict = None
            elif packet.protocol != self.protocol:
                return False
        tests: list[bool | None] = []
        if self.sport is not None:
            tests.append(self.sport.matches(packet.sport))
        if self.dport is not None:
            tests.append(self.dport.matches(packet.dport))
        if self.icmp is not None:
            icmp_type = getattr(packet, "icmp_type", None)
            icmp_code = getattr(packet, "icmp_code", None)
            if icmp_type is None:
                tests.append(None)
            elif icmp_type != self.icmp[0]:
                return False
            elif self.icmp[1] is not None:
                tests.append(None if icmp_code is None else icmp_code == self.icmp[1])
        for test in tests:
            if test is False:
                return False
            if test is None:
                verdict = None
        return verdict


@dataclasses.dataclass(frozen=True, slots=True)
class AclEntry:
    """One `permit`/`deny` line of an access list.

    The DS part (`dscp`, `precedence`, `tos`, `ecn`) is folded into
    `ds_mask`, the set of DS bytes it accepts; everything else is the
    entry's non-DS condition, evaluated against a concrete packet by
    `matches_packet`.  `opaque` holds conditions we read but cannot decide
    from a packet's 5-tuple (fragments, time-range, ttl, ...); `unknown`
    holds words we could not read at all.
    """

    source: Evidence
    acl: str
    seq: int | None
    action: str
    protocol: int | None
    protocol_text: str
    src: Address
    dst: Address
    sport: Ports | None = None
    dport: Ports | None = None
    ds_mask: int = ALL_BYTES
    ds_text: str = ""
    established: bool = False
    opaque: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    # `permit object-group SVC ...`: the entry's protocol and ports are any of these
    # (protocol is None and sport/dport are None then); None = no service group.
    services: tuple[Service, ...] | None = None
    # 4 (an IPv4 access list) or 6 (`ipv6 access-list`).
    family: int = 4
    # ICMP (ICMPv6 in an IPv6 list) message the entry names by number: (type, code or None).
    icmp: tuple[int, int | None] | None = None

    @property
    def tests_ds(self) -> bool:
        return self.ds_mask != ALL_BYTES

    @property
    def unconditional(self) -> bool:
        """True when every IP packet whose DS byte is in ds_mask matches."""
        return (
            self.protocol is None
            and self.src.is_any
            and self.dst.is_any
            and self.sport is None
            and self.dport is None
            and not self.established
            and not self.opaque
            and not self.unknown
            and self.services is None
            and self.icmp is None
        )

    def matches_packet(self, packet: t.Any) -> bool | None:
        """The non-DS part against a packet (see trace.Packet); None = cannot tell."""
        if self.opaque or self.unknown:
            return None
        verdict: bool | None = True
        if self.protocol is not None:
            if packet.protocol is None:
                verdict = None
            elif packet.protocol != self.protocol:
                return False
        if self.services is not None:
            # Any member of the service group: the first that surely matches decides.
            found: bool | None = False
            for service in self.services:
                test = service.matches(packet)
                if test:
                    found = True
                    break
                if test is None:
                    found = None
            if found is False:
                return False
            if found is None:
                verdict = None
        if self.icmp is not None:
            icmp_type = getattr(packet, "icmp_type", None)
            if icmp_type is None:
                verdict = None
            elif icmp_type != self.icmp[0]:
                return False
            elif self.icmp[1] is not None:
                icmp_code = getattr(packet, "icmp_code", None)
                if icmp_code is None:
                    verdict = None
                elif icmp_code != self.icmp[1]:
                    return False
        for test in (
            self.src.matches(packet.src),
            self.dst.matches(packet.dst),
            self.sport.matches(packet.sport) if self.sport else True,
            self.dport.matches(packet.dport) if self.dport else True,
        ):
            if test is False:
                return False
            if test is None:
                verdict = None
        if self.established:
            flags = packet.tcp_flags
            if flags is None:
                return None if verdict else verdict
            if not ({"A", "R"} & set(flags.upper())):
                return False
        return verdict

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "source": self.source.as_dict(),
            "seq": self.seq,
            "action": self.action,
            "protocol": self.protocol_text,
            "src": self.src.text,
            "sport": self.sport.text if self.sport else None,
            "dst": self.dst.text,
            "dport": self.dport.text if self.dport else None,
            "ds": self.ds_text or None,
            "established": self.established,
            "opaque": list(self.opaque),
            "unknown": list(self.unknown),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectGroup:
    """An `object-group network` or `object-group service`, nested groups flattened.

    Cisco IOS XE Security Configuration Guide, "Object Groups for ACLs"
    ("Objects Allowed in Network Object Groups": a host, a subnet given
    with its mask, a range of addresses, any, other network object groups;
    "Objects Allowed in Service Object Groups": see `Service`).  `error`
    says why a group cannot be resolved (a nested group that is not
    defined, is of the other kind, or nests back into itself); an entry
    using such a group is kept as may-match with a Diagnostic, like any
    line the model cannot read.
    """

    name: str
    kind: str
    source: Evidence
    addresses: tuple[tuple[int, int], ...] = ()
    services: tuple[Service, ...] = ()
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Acl:
    """A standard or extended IPv4 access list (numbered or named); `other` = non-IP; `ipv6` = `ipv6 access-list`."""

    name: str
    kind: str
    source: Evidence
    entries: tuple[AclEntry, ...] = ()

    @property
    def family(self) -> int:
        return 6 if self.kind == "ipv6" else 4

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source.as_dict(),
            "entries": [entry.as_dict() for entry in self.entries],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Criterion:
    """One `match` line of a class-map.

    kind: dscp | precedence | acl | any | class-map | nbar | label | other | unknown.
    `other` is a criterion IOS documents that does not look at the DS byte
    (input-interface, packet length, ...): an opaque condition of the packet,
    not an error.  `label` tests a field the IP packet does not carry and the
    configuration does not give (802.1p CoS of the frame, `cos inner`, a
    qos-group or discard-class set elsewhere): may-match, with a Diagnostic.
    `unknown` is one we could not read.
    """

    source: Evidence
    kind: str
    negate: bool = False
    ds_mask: int = ALL_BYTES
    ref: str | None = None
    text: str = ""
    # 4: an IPv4-only criterion (`match ip dscp`, `match ip precedence`); None: both families.
    family: int | None = None

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "source": self.source.as_dict(),
            "kind": self.kind,
            "negate": self.negate,
            "ref": self.ref,
            "text": self.text,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ClassMap:
    name: str
    match_all: bool
    source: Evidence
    criteria: tuple[Criterion, ...] = ()
    type: str = "qos"

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "match": "match-all" if self.match_all else "match-any",
            "type": self.type,
            "source": self.source.as_dict(),
            "criteria": [c.as_dict() for c in self.criteria],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Rewrite:
    """new = (old & keep) | value, with value & keep == 0.

    `set dscp D` keeps the ECN bits (keep 0x03); `set precedence P` keeps
    the low five bits (keep 0x1f); route-map `set ip tos T` keeps
    precedence and the last bit (keep 0xe1).  [doc, to verify on a router:
    that software IOS keeps ECN on `set dscp` (RFC 3168 routers must) and
    the low DSCP bits on `set precedence`; Catalyst hardware may clear them.]
    """

    keep: int
    value: int
    text: str = ""
    # The bits outside `keep` are written with a value the configuration does not
    # give (a table-map, the policed-DSCP map, a CoS-to-DSCP map): `value` is 0 and
    # the byte leaving is known only in the `keep` bits.
    unknown: bool = False

    def apply(self, byte: int) -> int:
        """The byte written; for an `unknown` rewrite, the known bits only (the others read as 0)."""
        return (byte & self.keep) | self.value

    def as_dict(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"keep": self.keep, "value": self.value, "text": self.text}
        if self.unknown:
            out["unknown"] = True
        return out


def rewrite_dscp(dscp: int, text: str = "") -> Rewrite:
    return Rewrite(keep=0x03, value=dscp << 2, text=text or "DSCP %d" % dscp)


def rewrite_precedence(precedence: int, text: str = "") -> Rewrite:
    return Rewrite(keep=0x1F, value=precedence << 5, text=text or "precedence %d" % precedence)


def rewrite_tos4(tos4: int, text: str = "") -> Rewrite:
    return Rewrite(keep=0xE1, value=tos4 << 1, text=text or "TOS %d" % tos4)


def rewrite_unknown(keep: int, text: str) -> Rewrite:
    """A re-mark whose value comes from a table or map the model does not read.

    keep 0x03 for a DSCP (ECN kept), 0x1f for a precedence: the same bits the
    known forms keep, so only the value is unknown, never whether it is written.
    """
    return Rewrite(keep=keep, value=0, text=text, unknown=True)


@dataclasses.dataclass(frozen=True, slots=True)
class PoliceAction:
    """One conform/exceed/violate action. kind: transmit | drop | rewrite | unknown."""

    kind: str
    text: str
    source: Evidence
    rewrite: Rewrite | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Police:
    source: Evidence
    rate: str
    conform: tuple[PoliceAction, ...]
    exceed: tuple[PoliceAction, ...]
    violate: tuple[PoliceAction, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ClassAction:
    """One action line under a policy-map class.

    kind: rewrite (set dscp/precedence) | police | drop | queue (bandwidth,
    priority, shape, ...: no effect on the byte, recorded for the fate's
    queue) | service-policy (nested policy, `ref`) | unknown.
    """

    source: Evidence
    kind: str
    rewrite: Rewrite | None = None
    police: Police | None = None
    ref: str | None = None
    # 4: marks IPv4 packets only (`set ip dscp`, `set ip precedence`); None: both families.
    family: int | None = None

    def as_dict(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"source": self.source.as_dict(), "kind": self.kind}
        if self.rewrite is not None:
            out["rewrite"] = self.rewrite.as_dict()
        if self.ref is not None:
            out["ref"] = self.ref
        if self.police is not None:
            out["police"] = {
                "rate": self.police.rate,
                "conform": [a.text for a in self.police.conform],
                "exceed": [a.text for a in self.police.exceed],
                "violate": [a.text for a in self.police.violate],
            }
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyClass:
    name: str
    source: Evidence
    actions: tuple[ClassAction, ...] = ()
    implicit: bool = False

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "source": self.source.as_dict(),
            "implicit": self.implicit,
            "actions": [a.as_dict() for a in self.actions],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyMap:
    """A QoS policy-map; `classes` always ends with class-default (implicit if absent)."""

    name: str
    source: Evidence
    classes: tuple[PolicyClass, ...] = ()
    type: str = "qos"

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "type": self.type,
            "source": self.source.as_dict(),
            "classes": [c.as_dict() for c in self.classes],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class RouteMapMatch:
    """kind: acl (refs = ACL names, any of them) | length | unknown.

    family: 4 for `match ip address`, 6 for `match ipv6 address`, None otherwise.
    """

    source: Evidence
    kind: str
    refs: tuple[str, ...] = ()
    family: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RouteMapSet:
    """kind: interface | next-hop | default-next-hop | default-interface | rewrite | routing | unknown.

    `routing` = a set clause for routing protocols (metric, community, ...):
    no effect on policy routing.
    """

    source: Evidence
    kind: str
    args: tuple[str, ...] = ()
    rewrite: Rewrite | None = None
    # 4: `set ip ...` (IPv4 packets only); 6: `set ipv6 ...`; None: both (`set interface`).
    family: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RouteMapClause:
    seq: int
    permit: bool
    source: Evidence
    matches: tuple[RouteMapMatch, ...] = ()
    sets: tuple[RouteMapSet, ...] = ()

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "seq": self.seq,
            "action": "permit" if self.permit else "deny",
            "source": self.source.as_dict(),
            "matches": [{"kind": m.kind, "refs": list(m.refs), "source": m.source.as_dict()} for m in self.matches],
            "sets": [{"kind": s.kind, "args": list(s.args), "source": s.source.as_dict()} for s in self.sets],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class RouteMap:
    name: str
    source: Evidence
    clauses: tuple[RouteMapClause, ...] = ()

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "source": self.source.as_dict(),
            "clauses": [c.as_dict() for c in self.clauses],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Attachment:
    """A reference from where it is applied: `ip access-group 101 in` names 101."""

    name: str
    source: Evidence

    def as_dict(self) -> dict[str, t.Any]:
        return {"name": self.name, "source": self.source.as_dict()}


@dataclasses.dataclass(frozen=True, slots=True)
class Unmodeled:
    """An interface line that can drop or re-mark packets in a way the model does not compute.

    `rate-limit` (CAR), `ipv6 traffic-filter`, `zone-member security`, a switch's
    trust state...: kept in the pipeline of its direction ("in", "out" or "both")
    as a may-drop and/or may-re-mark stage, so the fate table, the trace and the
    Diagnostic say the same thing.  `effects`: "drop" and/or "remark";
    `reason` is the Diagnostic's.
    """

    source: Evidence
    direction: str
    effects: tuple[str, ...]
    reason: str
    # The families whose pipelines carry the stage.
    families: tuple[int, ...] = (4, 6)

    def as_dict(self) -> dict[str, t.Any]:
        return {"source": self.source.as_dict(), "direction": self.direction, "effects": list(self.effects),
                "reason": self.reason}


@dataclasses.dataclass(frozen=True, slots=True)
class Interface:
    name: str
    source: Evidence
    description: str | None = None
    shutdown: bool = False
    addresses: tuple[str, ...] = ()
    acl_in: Attachment | None = None
    acl_out: Attachment | None = None
    policy_in: Attachment | None = None
    policy_out: Attachment | None = None
    pbr: Attachment | None = None
    unmodeled: tuple[Unmodeled, ...] = ()
    # IPv6: `ipv6 traffic-filter NAME in|out`, `ipv6 policy route-map NAME`.
    acl6_in: Attachment | None = None
    acl6_out: Attachment | None = None
    pbr6: Attachment | None = None

    def as_dict(self) -> dict[str, t.Any]:
        def ref(attachment: Attachment | None) -> dict[str, t.Any] | None:
            return attachment.as_dict() if attachment else None

        out = {
            "name": self.name,
            "source": self.source.as_dict(),
            "description": self.description,
            "shutdown": self.shutdown,
            "addresses": list(self.addresses),
            "acl_in": ref(self.acl_in),
            "acl_out": ref(self.acl_out),
            "service_policy_input": ref(self.policy_in),
            "service_policy_output": ref(self.policy_out),
            "ip_policy_route_map": ref(self.pbr),
            "unmodeled": [u.as_dict() for u in self.unmodeled],
        }
        # Only when present: IPv4-only configurations keep the dictionary they always had.
        for key, attachment in (("ipv6_traffic_filter_in", self.acl6_in), ("ipv6_traffic_filter_out", self.acl6_out),
                                ("ipv6_policy_route_map", self.pbr6)):
            if attachment is not None:
                out[key] = attachment.as_dict()
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Unused:
    """A definition no applied place reaches: it treats no packet."""

    kind: str
    name: str
    source: Evidence
    other_uses: tuple[Evidence, ...] = ()

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "source": self.source.as_dict(),
            "other_uses": [e.as_dict() for e in self.other_uses],
        }


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class IosConfig:
    """One router's running-config, as far as DS fates go.

    `references` maps ("acl" | "route-map" | "policy-map", name) to lines
    outside the modelled places that mention it (line vty access-class,
    BGP neighbor route-map, control-plane service-policy, ...): evidence
    that an unused definition is not simply dead.
    """

    file: str
    hostname: str | None
    version: str | None
    line_count: int
    acls: t.Mapping[str, Acl]
    class_maps: t.Mapping[str, ClassMap]
    policy_maps: t.Mapping[str, PolicyMap]
    route_maps: t.Mapping[str, RouteMap]
    interfaces: t.Mapping[str, Interface]
    local_policy: Attachment | None
    diagnostics: tuple[Diagnostic, ...]
    references: t.Mapping[tuple[str, str], tuple[Evidence, ...]]
    ended: bool = True
    object_groups: t.Mapping[str, ObjectGroup] = dataclasses.field(default_factory=dict)
    # `ipv6 access-list NAME`: a namespace of its own (an IPv4 fate table never reads it).
    acls6: t.Mapping[str, Acl] = dataclasses.field(default_factory=dict)

    def interface(self, name: str) -> Interface:
        """Look an interface up by full or abbreviated name (`Gi0/0`, `se0/0`)."""
        found = find_interface(self.interfaces, name)
        if found is None:
            raise KeyError("%s: no interface %r (have: %s)" % (self.file, name, ", ".join(self.interfaces) or "none"))
        return found

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "file": self.file,
            "hostname": self.hostname,
            "version": self.version,
            "line_count": self.line_count,
            "acls": {k: v.as_dict() for k, v in self.acls.items()},
            "class_maps": {k: v.as_dict() for k, v in self.class_maps.items()},
            "policy_maps": {k: v.as_dict() for k, v in self.policy_maps.items()},
            "route_maps": {k: v.as_dict() for k, v in self.route_maps.items()},
            "interfaces": {k: v.as_dict() for k, v in self.interfaces.items()},
            "local_policy": self.local_policy.as_dict() if self.local_policy else None,
            "diagnostics": [d.as_dict() for d in self.diagnostics],
            **({"acls6": {k: v.as_dict() for k, v in self.acls6.items()}} if self.acls6 else {}),
        }


def _split_interface_name(name: str) -> tuple[str, str]:
    index = 0
    while index < len(name) and (name[index].isalpha() or name[index] == "-"):
        index += 1
    return name[:index].lower(), name[index:].strip().lower()


def find_interface(interfaces: t.Mapping[str, Interface], name: str) -> Interface | None:
    """Exact name first, then IOS-style abbreviation of the type (`Gi0/0.10`)."""
    if name in interfaces:
        return interfaces[name]
    lowered = name.lower().replace(" ", "")
    for key, value in interfaces.items():
        if key.lower().replace(" ", "") == lowered:
            return value
    kind, number = _split_interface_name(lowered)
    if not kind:
        return None
    candidates = []
    for key, value in interfaces.items():
        key_kind, key_number = _split_interface_name(key)
        if key_number == number and key_kind.startswith(kind):
            candidates.append(value)
    return candidates[0] if len(candidates) == 1 else None


def same_interface(a: str, b: str) -> bool:
    """`Tu0` and `Tunnel0` are the same interface; `Gi0/0` and `Gi0/0.10` are not."""
    a_kind, a_number = _split_interface_name(a.lower().replace(" ", ""))
    b_kind, b_number = _split_interface_name(b.lower().replace(" ", ""))
    if a_number != b_number or not a_kind or not b_kind:
        return False
    return a_kind.startswith(b_kind) or b_kind.startswith(a_kind)


@contextlib.contextmanager
def gc_paused() -> t.Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Parsing a 50,000-line file allocates a few hundred thousand small
    objects; each allocation burst triggers collections that scan them all
    again for cycles they cannot have, about a third of the run time.
    Reference counting still frees everything; the collector's previous
    state is restored on exit, and cyclic garbage is still found by the
    next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                # Hand the new objects straight to the oldest generation (an O(1) list
                # splice): otherwise the first allocation after enable() would scan
                # all of them in a young collection.  Skipped if the caller uses freeze.
                gc.freeze()
                gc.unfreeze()
            gc.enable()
