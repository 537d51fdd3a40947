# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`show running-config` of IOS / IOS-XE -> IosConfig, keeping file line numbers.

One pass over the lines.  The hierarchy comes from indentation, as IOS
prints it; a hand-written file that puts sub-commands at column 0
(`class http-hacks` right under `policy-map ...`, as in blog posts and
Cisco's own examples) is read the way IOS reads a pasted file: a word
that is no global command but belongs to an open section goes there.

What could change a DS byte or a packet's fate and is not understood is
never dropped: it becomes a Diagnostic with file:line, and the model keeps
it as a "may match / may act" condition.  Lines with nothing to do with
DS fates (hostname aside: snmp, aaa, line vty, ...) are read past.

>>> cfg = parse_ios('''hostname r1
... access-list 106 permit ip any any dscp 1
... end
... ''', "r1.cfg")
>>> cfg.acls["106"].entries[0].source.line
2
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.ios import acl as aclmod
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import link_diagnostics
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    ANY_ADDRESS,
    DSCP_BYTES,
    PRECEDENCE_BYTES,
    Acl,
    AclEntry,
    Attachment,
    ClassAction,
    ClassMap,
    Criterion,
    Evidence,
    Interface,
    IosConfig,
    ObjectGroup,
    Police,
    PoliceAction,
    PolicyClass,
    PolicyMap,
    RouteMap,
    RouteMapClause,
    RouteMapMatch,
    RouteMapSet,
    Service,
    gc_paused,
    rewrite_dscp,
    rewrite_precedence,
    rewrite_tos4,
    rewrite_unknown,
    Unmodeled,
)
from ansible_collections.diffserv.audit.plugins.module_utils.textdecode import decode_config as decode_text

# C0 control characters a text config must not hold.  Allowed: tab, LF, CR,
# form feed, ESC, and ^C, which IOS banners use as their delimiter when stored raw.
_BINARY_CHARS = tuple(chr(c) for c in range(32) if chr(c) not in "\t\n\r\x0c\x1b\x03")


class _Ctx:
    """Parse state shared by the section handlers."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.acls: dict[str, _AclB] = {}
        self.class_maps: dict[str, _ClassMapB] = {}
        self.policy_maps: dict[str, _PolicyB] = {}
        self.route_maps: dict[str, _RouteMapB] = {}
        self.interfaces: dict[str, _InterfaceB] = {}
        self.object_groups: dict[str, _ObjectGroupB] = {}
        self.acls6: dict[str, _Acl6B] = {}
        self.local_policy: Attachment | None = None
        # Catalyst switch QoS: the `mls qos` line when it is on, and the shared policers
        # `police aggregate NAME` takes its actions from (line, text, action words).
        self.mls_qos: Evidence | None = None
        self.aggregate_policers: dict[str, tuple[int, str, list[str]]] = {}
        self.hostname: str | None = None
        self.version: str | None = None
        self.references: dict[tuple[str, str], list[Evidence]] = {}

    def ev(self, lineno: int, text: str) -> Evidence:
        return Evidence(self.file, lineno, text)

    def diag(self, lineno: int, text: str, reason: str) -> None:
        self.diagnostics.append(Diagnostic(self.file, lineno, text, reason))

    def refer(self, kind: str, name: str, lineno: int, text: str) -> None:
        self.references.setdefault((kind, name), []).append(self.ev(lineno, text))

    def scan_references(self, words: list[str], lineno: int, text: str) -> None:
        """Mentions of ACLs, route-maps, policy-maps from places we do not model."""
        last = len(words) - 1
        for i, word in enumerate(words):
            if i == last:
                break
            if word in ("access-class", "access-group", "list", "distribute-list"):
                nxt = words[i + 1]
                if nxt in ("peer", "serve", "serve-only", "query-only", "ipv6", "mac") and i + 2 <= last:
                    nxt = words[i + 2]
                self.refer("acl", nxt, lineno, text)
            elif word == "route-map":
                self.refer("route-map", words[i + 1], lineno, text)
            elif word == "service-policy":
                self.refer("policy-map", words[-1], lineno, text)


class _Handler:
    """A section being read: receives its (indented or flat) children."""

    # First words this section accepts when a hand-written file puts them at column 0.
    FLAT: t.ClassVar[frozenset[str]] = frozenset()

    def accepts_flat(self, words: list[str]) -> bool:
        return words[0] in self.FLAT

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        return None


class _Ignore(_Handler):
    pass


IGNORE = _Ignore()


class _Watch(_Handler):
    """A section we do not model whose children may still matter (control-plane, zone-pair...)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        ctx.scan_references(words, lineno, text)
        if words[0] == "service-policy":
            ctx.diag(lineno, text, "%s: service-policy here is not modelled (may drop or re-mark)" % self.what)
        return IGNORE


class _RefScan(_Handler):
    """Children that may name ACLs or route-maps (router bgp, line vty): references only."""

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        ctx.scan_references(words, lineno, text)
        return self


REFSCAN = _RefScan()


# ---------------------------------------------------------------- access lists
def _names_group(entry: AclEntry) -> bool:
    return entry.src.group is not None or entry.dst.group is not None or entry.protocol_text.startswith("object-group ")


class _AclB(_Handler):
    FLAT = frozenset(("permit", "deny", "remark", "evaluate", "dynamic"))

    def __init__(self, name: str, kind: str, source: Evidence) -> None:
        self.name = name
        self.kind = kind
        self.source = source
        self.entries: list[AclEntry] = []
        self.seqs: list[int] = []
        self.explicit_seq = False
        self.uses_groups = False

    def accepts_flat(self, words: list[str]) -> bool:
        return words[0] in self.FLAT or words[0].isdigit()

    def add(self, ctx: _Ctx, lineno: int, words: list[str], text: str, seq: int | None) -> None:
        if not words or words[0] == "remark":
            return
        source = ctx.ev(lineno, text)
        if seq is None:
            seq_value = (self.seqs[-1] + 10) if self.seqs else 10
        else:
            seq_value = seq
            self.explicit_seq = True
        if self.kind == "other":
            return
        if words[0] == "evaluate":
            # Reflexive ACL: permits whatever the reflect entries recorded.
            entry = AclEntry(
                source=source, acl=self.name, seq=seq, action="permit", protocol=None, protocol_text="ip",
                src=ANY_ADDRESS, dst=ANY_ADDRESS, opaque=("evaluate " + " ".join(words[1:2]),),
            )
        else:
            try:
                entry = aclmod.parse_entry(words, self.name, self.kind, source, seq)
            except aclmod.AclSyntaxError as exc:
                action = "deny" if "deny" in words[:3] else "permit"
                ctx.diag(lineno, text, "access-list %s: %s (kept, treated as may-match)" % (self.name, exc))
                entry = AclEntry(
                    source=source, acl=self.name, seq=seq, action=action, protocol=None, protocol_text="ip",
                    src=ANY_ADDRESS, dst=ANY_ADDRESS, unknown=(str(exc),),
                )
            else:
                if entry.unknown:
                    ctx.diag(
                        lineno, text,
                        "access-list %s: unknown option %s (kept, treated as may-match)"
                        % (self.name, " ".join(repr(u) for u in entry.unknown)),
                    )
        if _names_group(entry):
            self.uses_groups = True
        self.entries.append(entry)
        self.seqs.append(seq_value)

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        seq = None
        if words[0].isdigit():
            seq = int(words[0])
            words = words[1:]
        if not words:
            return IGNORE
        if words[0] in ("permit", "deny", "evaluate", "dynamic", "remark"):
            self.add(ctx, lineno, words, text, seq)
        else:
            ctx.diag(lineno, text, "access-list %s: unknown line (ignored)" % self.name)
        return IGNORE

    def freeze(self, ctx: _Ctx | None = None, groups: t.Mapping[str, ObjectGroup] | None = None) -> Acl:
        entries = self.entries
        if self.uses_groups and ctx is not None and groups is not None:
            entries = [_resolve_entry(ctx, e, groups) if _names_group(e) else e for e in entries]
        if self.explicit_seq:
            # IOS keeps entries in sequence order whatever order they were typed in.
            order = sorted(range(len(entries)), key=lambda k: self.seqs[k])
            entries = [entries[k] for k in order]
        return Acl(self.name, self.kind, self.source, tuple(entries))


# ---------------------------------------------------------------- object groups
class _ObjectGroupB(_Handler):
    """`object-group network|service NAME` and its member lines, read when the file is done.

    Cisco IOS XE Security Configuration Guide (Data Plane), "Object Groups
    for ACLs": members are hosts, subnets with their mask, ranges, `any`
    and nested `group-object`s (network), or protocols, TCP/UDP ports and
    ICMP messages and nested groups (service).  Resolved after the whole
    file is read (`_resolve_groups`), since a saved file may define a group
    after the list that uses it.
    """

    def __init__(self, name: str, kind: str, source: Evidence) -> None:
        self.name = name
        self.kind = kind
        self.source = source
        self.members: list[tuple[int, str, list[str]]] = []

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        if words[0] != "description":
            self.members.append((lineno, text, words))
        return IGNORE


def _top_object_group(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) < 3 or words[1] not in ("network", "service"):
        # `object-group v6-network`, `security`, `fqdn`...: not modelled; an ACL naming
        # one says so on its own line (the group is then not defined for the model).
        return IGNORE
    name = words[2]
    found = ctx.object_groups.get(name)
    if found is None or found.kind != words[1]:
        found = ctx.object_groups[name] = _ObjectGroupB(name, words[1], ctx.ev(lineno, text))
    return found


def _resolve_groups(ctx: _Ctx) -> dict[str, ObjectGroup]:
    """Every object group with its nested groups flattened; a broken one keeps its reason in `error`."""
    done: dict[str, ObjectGroup] = {}
    said: set[tuple[int, str]] = set()

    def diag(lineno: int, text: str, reason: str) -> None:
        if (lineno, reason) not in said:
            said.add((lineno, reason))
            ctx.diag(lineno, text, reason)

    def resolve(name: str, trail: tuple[str, ...]) -> ObjectGroup:
        found = done.get(name)
        if found is not None:
            return found
        builder = ctx.object_groups[name]
        addresses: list[tuple[int, int]] = []
        services: list[Service] = []
        error: str | None = None
        for lineno, text, words in builder.members:
            if words[0] == "group-object" and len(words) == 2:
                inner = words[1]
                where = "%s:%d" % (ctx.file, lineno)
                if inner in trail or inner == name:
                    error = error or "object-group %s nests back into itself through %s (%s)" % (
                        inner, " -> ".join(trail + (name, inner)), where)
                    diag(lineno, text, "object-group %s: group-object %s makes a cycle (IOS refuses it; "
                                       "entries using the group are treated as may-match)" % (name, inner))
                    continue
                nested = ctx.object_groups.get(inner)
                if nested is None or nested.kind != builder.kind:
                    error = error or "nested object-group %s is not a defined %s group (%s)" % (inner, builder.kind, where)
                    diag(lineno, text, "object-group %s: group-object %s is not a defined %s object-group "
                                       "(entries using the group are treated as may-match)" % (name, inner, builder.kind))
                    continue
                sub = resolve(inner, trail + (name,))
                error = error or sub.error
                addresses.extend(sub.addresses)
                services.extend(sub.services)
                continue
            try:
                if builder.kind == "network":
                    addresses.extend(aclmod.parse_network_member(words))
                else:
                    services.extend(aclmod.parse_service_member(words))
            except (aclmod.AclSyntaxError, ValueError) as exc:
                error = error or "%s:%d: %s" % (ctx.file, lineno, exc)
                diag(lineno, text, "object-group %s: %s (entries using the group are treated as may-match)"
                     % (name, exc))
        group = ObjectGroup(name, builder.kind, builder.source, tuple(dict.fromkeys(addresses)),
                            tuple(dict.fromkeys(services)), error)
        # A group met again inside its own cycle is resolved from the outermost call only.
        if not trail or error is None:
            done[name] = group
        return group

    for name in ctx.object_groups:
        if name not in done:
            done[name] = resolve(name, ())
    return done


def _group_reason(groups: t.Mapping[str, ObjectGroup], name: str, kind: str) -> str | None:
    """Why an entry cannot use object-group `name` as a `kind` group (None: it can)."""
    group = groups.get(name)
    if group is None:
        return "object-group %s is not defined" % name
    if group.kind != kind:
        return "object-group %s is a %s group, used here as a %s group" % (name, group.kind, kind)
    if group.error is not None:
        return "object-group %s cannot be resolved: %s" % (name, group.error)
    return None


def _resolve_entry(ctx: _Ctx, entry: AclEntry, groups: t.Mapping[str, ObjectGroup]) -> AclEntry:
    """An entry naming object groups, with the groups' members in place (or may-match, said on its line)."""
    reasons: list[str] = []
    changes: dict[str, t.Any] = {}
    for field in ("src", "dst"):
        address = getattr(entry, field)
        if address.group is None:
            continue
        reason = _group_reason(groups, address.group, "network")
        if reason is None:
            changes[field] = dataclasses.replace(address, members=groups[address.group].addresses)
        else:
            reasons.append(reason)
    if entry.protocol_text.startswith("object-group "):
        name = entry.protocol_text.split(None, 1)[1]
        reason = _group_reason(groups, name, "service")
        if reason is None:
            changes["services"] = groups[name].services
        else:
            reasons.append(reason)
    if reasons:
        ctx.diag(entry.source.line, entry.source.text, "access-list %s: %s (kept, treated as may-match)"
                 % (entry.acl, "; ".join(reasons)))
        changes["unknown"] = entry.unknown + tuple(reasons)
    return dataclasses.replace(entry, **changes) if changes else entry


class _Acl6B(_AclB):
    """`ipv6 access-list NAME`: entries with `sequence N` (IOS prints it last), ND permits implied."""

    FLAT = _AclB.FLAT | frozenset(("sequence",))

    def accepts_flat(self, words: list[str]) -> bool:
        return words[0] in self.FLAT

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        seq = None
        if len(words) >= 2 and words[0] == "sequence" and words[1].isdigit():
            seq, words = int(words[1]), words[2:]
        elif len(words) >= 3 and words[-2] == "sequence" and words[-1].isdigit():
            seq, words = int(words[-1]), words[:-2]
        if not words or words[0] == "remark":
            return IGNORE
        if words[0] not in ("permit", "deny"):
            ctx.diag(lineno, text, "ipv6 access-list %s: unknown line (ignored)" % self.name)
            return IGNORE
        source = ctx.ev(lineno, text)
        if seq is None:
            seq_value = (self.seqs[-1] + 10) if self.seqs else 10
        else:
            seq_value = seq
            self.explicit_seq = True
        try:
            entry = aclmod.parse_entry6(words, self.name, source, seq)
        except aclmod.AclSyntaxError as exc:
            ctx.diag(lineno, text, "ipv6 access-list %s: %s (kept, treated as may-match)" % (self.name, exc))
            entry = AclEntry(source=source, acl=self.name, seq=seq, action=words[0], protocol=None,
                             protocol_text="ipv6", src=ANY_ADDRESS, dst=ANY_ADDRESS, unknown=(str(exc),), family=6)
        else:
            if entry.unknown:
                ctx.diag(lineno, text, "ipv6 access-list %s: unknown option %s (kept, treated as may-match)"
                         % (self.name, " ".join(repr(u) for u in entry.unknown)))
        self.entries.append(entry)
        self.seqs.append(seq_value)
        return IGNORE


def _top_ipv6(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) >= 3 and words[1] == "access-list" and words[2] not in ("log-update", "cache", "logging"):
        name = words[2]
        found = ctx.acls6.get(name)
        if found is None:
            found = ctx.acls6[name] = _Acl6B(name, "ipv6", ctx.ev(lineno, text))
        return found
    if len(words) >= 5 and words[1:4] == ["local", "policy", "route-map"]:
        ctx.diag(lineno, text, "ipv6 local policy: router-generated IPv6 traffic is not modelled")
    return IGNORE


def _acl(ctx: _Ctx, name: str, kind: str, lineno: int, text: str) -> _AclB:
    found = ctx.acls.get(name)
    if found is None:
        found = ctx.acls[name] = _AclB(name, kind, ctx.ev(lineno, text))
    return found


# ---------------------------------------------------------------- class-maps
_OTHER_CRITERIA = frozenset((
    "input-interface", "packet", "mpls", "fr-de",
    "fr-dlci", "atm", "source-address", "destination-address", "vlan", "frame-relay", "metadata",
    "security-group", "application", "traffic-category", "traffic-class", "group-object",
    "user-group", "ethertype", "port-type", "flow", "activity",
))


# Criteria on a field the IP packet does not carry and the configuration does not give:
# the 802.1p CoS of the arriving frame (AutoQoS matches `cos 5` for voice from a phone),
# its inner tag, or an internal label an earlier policy sets (`set qos-group` on input,
# matched on output by AutoQoS for Catalyst 4500).  On a switch CoS is also derived from
# the DSCP by the dscp-cos map, so a `match cos` class can decide a DSCP's fate: may-match,
# named as a condition, and reported (Diagnostic), never "does not match".
_LABEL_CRITERIA = {
    "cos": "the 802.1p CoS of the arriving frame, a layer-2 field the configuration does not give",
    "cos-inner": "the inner 802.1p CoS of the arriving frame, a layer-2 field the configuration does not give",
    "qos-group": "a qos-group an earlier policy sets, an internal label the model does not follow",
    "discard-class": "a discard-class an earlier policy sets, an internal label the model does not follow",
}


def _ds_values(values: list[str], parse: t.Callable[[str], int], masks: tuple[int, ...]) -> tuple[int, list[str]]:
    mask = 0
    bad = []
    for value in values:
        if value in ("ipv4", "ipv6"):
            continue
        try:
            mask |= masks[parse(value)]
        except dsfield.DSFieldError:
            bad.append(value)
    return mask, bad


class _ClassMapB(_Handler):
    FLAT = frozenset(("match",))

    def __init__(self, name: str, match_all: bool, kind: str, source: Evidence) -> None:
        self.name = name
        self.match_all = match_all
        self.type = kind
        self.source = source
        self.criteria: list[Criterion] = []

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        if words[0] == "description":
            return IGNORE
        if words[0].isdigit() and len(words) > 2:
            # Some IOS-XE releases print sequence-numbered match statements
            # (` 10 match ip dscp ef`): the number orders the lines, which the
            # file order already does; the statement reads like the unnumbered one.
            words = words[1:]
        if words[0] != "match" or len(words) < 2:
            ctx.diag(lineno, text, "class-map %s: unknown command (ignored)" % self.name)
            return IGNORE
        self.criteria.append(self.criterion(ctx, lineno, words[1:], text))
        return IGNORE

    def criterion(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> Criterion:
        source = ctx.ev(lineno, text)
        negate = False
        if words[0] == "not" and len(words) > 1:
            negate = True
            words = words[1:]
        head = words[0]
        rest = words[1:]
        # `match ip dscp` / `match ip precedence` match IPv4 packets only; without `ip`,
        # IPv4 and IPv6 (Cisco IOS QoS Command Reference, `match dscp` usage guidelines:
        # "To match DSCP values for IPv4 packets only, use the ip keyword. Without the ip
        # keyword the match occurs on both IPv4 and IPv6 packets"; `match precedence` alike).
        family = None
        if head == "ip" and rest and rest[0] in ("dscp", "precedence"):
            head, rest = rest[0], rest[1:]
            family = 4
        if head in ("dscp", "precedence") and rest:
            if head == "dscp":
                mask, bad = _ds_values(rest, dsfield.parse_dscp, DSCP_BYTES)
            else:
                mask, bad = _ds_values(rest, dsfield.parse_precedence, PRECEDENCE_BYTES)
            if bad or not mask:
                ctx.diag(lineno, text, "class-map %s: unreadable %s value %s (treated as may-match)"
                         % (self.name, head, " ".join(bad) or "(none)"))
                return Criterion(source, "unknown", negate, text=" ".join(words))
            return Criterion(source, head, negate, ds_mask=mask, text=" ".join(words), family=family)
        if head == "access-group" and rest:
            if rest[0] == "name" and len(rest) > 1:
                return Criterion(source, "acl", negate, ref=rest[1], text=" ".join(words))
            if rest[0] == "ipv6":
                ctx.diag(lineno, text, "class-map %s: IPv6 access-group not modelled (treated as may-match)" % self.name)
                return Criterion(source, "unknown", negate, text=" ".join(words))
            return Criterion(source, "acl", negate, ref=rest[0], text=" ".join(words))
        if head == "any" and not rest:
            return Criterion(source, "any", negate, text="any")
        if head == "class-map" and rest:
            return Criterion(source, "class-map", negate, ref=rest[0], text=" ".join(words))
        if head == "protocol" and rest:
            # NBAR: deep packet inspection, not a function of the DS byte.
            return Criterion(source, "nbar", negate, text=" ".join(words))
        label = _LABEL_CRITERIA.get("cos-inner" if head == "cos" and rest[:1] == ["inner"] else head)
        if label is not None and rest:
            ctx.diag(lineno, text, "class-map %s: match %s%s tests %s (treated as may-match)"
                     % (self.name, "not " if negate else "", " ".join(words), label))
            return Criterion(source, "label", negate, text=" ".join(words))
        if head in _OTHER_CRITERIA or (head == "ip" and rest and rest[0] == "rtp"):
            return Criterion(source, "other", negate, text=" ".join(words))
        ctx.diag(lineno, text, "class-map %s: unknown match criterion (kept, treated as may-match)" % self.name)
        return Criterion(source, "unknown", negate, text=" ".join(words))

    def freeze(self) -> ClassMap:
        return ClassMap(self.name, self.match_all, self.source, tuple(self.criteria), self.type)


# ---------------------------------------------------------------- policy-maps
# Queueing and congestion management: which queue and how much of the link, not whether
# or with which byte a packet leaves.  `random-detect [dscp-based]` (WRED) and `dbl`
# (Catalyst 4500 dynamic buffer limiting, in AutoQoS output policies) drop only under
# congestion, where a full queue would drop anyway: no per-DSCP fate, no Diagnostic.
_QUEUE_ACTIONS = frozenset((
    "priority", "bandwidth", "shape", "queue-limit", "random-detect", "fair-queue",
    "queue-buffers", "estimate", "compress", "account", "max-reserved-bandwidth", "dbl",
))
# `set` targets outside the IP header's DS byte (layer 2, MPLS, internal labels).
_SET_OTHER = frozenset((
    "cos", "cos-inner", "qos-group", "discard-class", "mpls", "atm-clp", "fr-de", "vlan-inner",
    "traffic-class", "srp-priority", "ip-cos",
))
_POLICE_NEEDS_ARG = frozenset((
    "set-dscp-transmit", "set-prec-transmit", "set-qos-transmit", "set-cos-transmit",
    "set-discard-class-transmit", "set-mpls-exp-imposition-transmit", "set-mpls-exp-topmost-transmit",
    "set-dscp-tunnel-transmit", "set-prec-tunnel-transmit", "set-cos-inner-transmit",
))
_POLICE_NO_DS = frozenset((
    "set-qos-transmit", "set-cos-transmit", "set-discard-class-transmit",
    "set-mpls-exp-imposition-transmit", "set-mpls-exp-topmost-transmit", "set-frde-transmit",
    "set-clp-transmit", "set-dscp-tunnel-transmit", "set-prec-tunnel-transmit",
    "set-cos-inner-transmit",
))
_ACTION_WORDS = {"conform-action": "conform", "exceed-action": "exceed", "violate-action": "violate"}


# Police actions that transmit with a DSCP (precedence) taken from a table or map the
# model does not read: `set-dscp-transmit dscp table policed-dscp` (AutoQoS on Catalyst
# 3850/9000), `set-prec-transmit precedence table T`, `policed-dscp-transmit` (the
# Catalyst policed-DSCP map, `mls qos map policed-dscp`).  They re-mark, they never drop:
# Cisco document 10118 ("Compare Class-Based Policing and Committed Access Rate",
# conform and exceed actions): traffic over the rate "is dropped or sent with a different
# priority", the set-*-transmit actions being the latter; drop is the only discarding
# action.  The byte written is unknown to us, so "may re-mark" to an unknown value
# (Rewrite.unknown), never a drop.
_POLICE_TABLE_KEEP = {"set-dscp-transmit": 0x03, "policed-dscp-transmit": 0x03, "set-prec-transmit": 0x1F}


def _police_action(ctx: _Ctx, lineno: int, text: str, words: list[str]) -> PoliceAction:
    source = ctx.ev(lineno, text)
    label = " ".join(words)
    if not words:
        return PoliceAction("unknown", label, source)
    word = words[0]
    if word == "transmit":
        return PoliceAction("transmit", label, source)
    if word == "drop":
        return PoliceAction("drop", label, source)
    try:
        if word == "set-dscp-transmit" and len(words) == 2:
            return PoliceAction("rewrite", label, source, rewrite_dscp(dsfield.parse_dscp(words[1]), label))
        if word == "set-prec-transmit" and len(words) == 2:
            return PoliceAction("rewrite", label, source, rewrite_precedence(dsfield.parse_precedence(words[1]), label))
    except dsfield.DSFieldError:
        pass
    if word in _POLICE_TABLE_KEEP:
        ctx.diag(lineno, text, "police: %r re-marks by a table or map the model does not read "
                               "(may re-mark to an unknown value; never drops)" % label)
        return PoliceAction("rewrite", label, source, rewrite_unknown(_POLICE_TABLE_KEEP[word], label))
    if word in _POLICE_NO_DS:
        return PoliceAction("transmit", label, source)
    ctx.diag(lineno, text, "police: unknown action %r (kept, treated as may-drop)" % label)
    return PoliceAction("unknown", label, source)


class _PoliceB(_Handler):
    FLAT = frozenset(_ACTION_WORDS)

    def __init__(self, source: Evidence, rate: str) -> None:
        self.source = source
        self.rate = rate
        self.colors: dict[str, list[PoliceAction]] = {"conform": [], "exceed": [], "violate": []}

    def add_actions(self, ctx: _Ctx, lineno: int, text: str, words: list[str]) -> None:
        i = 0
        n = len(words)
        while i < n:
            color = _ACTION_WORDS.get(words[i])
            if color is None:
                ctx.diag(lineno, text, "police: unexpected word %r (ignored)" % words[i])
                i += 1
                continue
            j = i + 2 if i + 1 < n and words[i + 1] in _POLICE_NEEDS_ARG else i + 1
            # `set-dscp-transmit dscp table T` maps through a table-map: read all of it.
            while j + 1 < n and words[j + 1] not in _ACTION_WORDS and words[j] in (
                    "dscp", "precedence", "table", "cos", "qos-group", "discard-class"):
                j += 1
            self.colors[color].append(_police_action(ctx, lineno, text, words[i + 1:j + 1]))
            i = j + 1

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        if words[0] in _ACTION_WORDS:
            self.add_actions(ctx, lineno, text, words)
        else:
            ctx.diag(lineno, text, "police: unknown command (color-aware or platform policing is not modelled)")
        return IGNORE

    def freeze(self) -> Police:
        def default(kind: str) -> tuple[PoliceAction, ...]:
            return (PoliceAction(kind, kind + " (default)", self.source),)

        # IOS defaults: conform transmits, exceed drops; without a violate action
        # the exceed action covers everything over the limit.
        return Police(
            self.source,
            self.rate,
            tuple(self.colors["conform"]) or default("transmit"),
            tuple(self.colors["exceed"]) or default("drop"),
            tuple(self.colors["violate"]),
        )


class _PolicyClassB(_Handler):
    FLAT = frozenset(("set", "police", "drop", "service-policy")) | _QUEUE_ACTIONS

    def __init__(self, policy: str, name: str, source: Evidence) -> None:
        self.policy = policy
        self.name = name
        self.source = source
        self.actions: list[ClassAction | _PoliceB] = []

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        head = words[0]
        source = ctx.ev(lineno, text)
        where = "policy-map %s class %s" % (self.policy, self.name)
        if head == "set":
            self.actions.append(self.set_action(ctx, lineno, words, text, where))
            return IGNORE
        if head == "police" and len(words) == 3 and words[1] == "aggregate":
            # The actions of a shared policer are on its `mls qos aggregate-policer` line.
            police = _PoliceB(source, " ".join(words[1:]))
            found = ctx.aggregate_policers.get(words[2])
            if found is None:
                ctx.diag(lineno, text, "%s: no `mls qos aggregate-policer %s` before this line "
                                       "(IOS defaults read: exceed drops, so may-drop)" % (where, words[2]))
            else:
                police.add_actions(ctx, found[0], found[1], found[2])
            self.actions.append(police)
            return IGNORE
        if head == "police":
            starts = [k for k, w in enumerate(words) if w in _ACTION_WORDS]
            rate_words = words[1:starts[0]] if starts else words[1:]
            police = _PoliceB(source, " ".join(rate_words))
            if starts:
                police.add_actions(ctx, lineno, text, words[starts[0]:])
            self.actions.append(police)
            return police
        if head == "drop":
            self.actions.append(ClassAction(source, "drop"))
            return IGNORE
        if head in _QUEUE_ACTIONS:
            self.actions.append(ClassAction(source, "queue"))
            return IGNORE
        if head == "service-policy" and len(words) >= 2:
            self.actions.append(ClassAction(source, "service-policy", ref=words[-1]))
            return IGNORE
        if head == "description":
            return IGNORE
        if head == "trust" and len(words) == 2:
            # Catalyst MQC `trust dscp` classifies by the DSCP as it arrived and keeps it;
            # `trust cos` / `trust precedence` derive the DSCP from the CoS-to-DSCP or
            # IP-precedence-to-DSCP map (Cisco document 91862, "Configure Catalyst 3750
            # QoS": port trust and QoS map tables): a re-mark by a map.
            if words[1] == "dscp":
                self.actions.append(ClassAction(source, "queue"))
                return IGNORE
            ctx.diag(lineno, text, "%s: %s derives the DSCP from a switch QoS map (may re-mark to an unknown value)"
                     % (where, " ".join(words)))
            self.actions.append(ClassAction(source, "rewrite", rewrite=rewrite_unknown(0x03, " ".join(words))))
            return IGNORE
        ctx.diag(lineno, text, "%s: unknown action (kept, treated as may-drop or re-mark)" % where)
        self.actions.append(ClassAction(source, "unknown"))
        return IGNORE

    def set_action(self, ctx: _Ctx, lineno: int, words: list[str], text: str, where: str) -> ClassAction:
        source = ctx.ev(lineno, text)
        args = words[1:]
        # `set ip dscp` / `set ip precedence` mark IPv4 packets only; `set dscp` and
        # `set precedence` mark IPv4 and IPv6 (Cisco IOS QoS Command Reference, `set dscp`
        # and `set ip dscp`; "IPv6 QoS: MQC Packet Marking/Remarking").
        family = None
        if args and args[0] == "ip" and len(args) > 1 and args[1] in ("dscp", "precedence"):
            args = args[1:]
            family = 4
        if len(args) >= 2 and args[0] in ("dscp", "precedence"):
            if args[1] == "tunnel":
                # Marks the tunnel's outer header only; the packet's own byte is kept.
                return ClassAction(source, "queue")
            if len(args) == 2:
                try:
                    if args[0] == "dscp":
                        rewrite = rewrite_dscp(dsfield.parse_dscp(args[1]), " ".join(words))
                    else:
                        rewrite = rewrite_precedence(dsfield.parse_precedence(args[1]), " ".join(words))
                    return ClassAction(source, "rewrite", rewrite=rewrite, family=family)
                except dsfield.DSFieldError:
                    pass
            # `set dscp dscp table T`, `set dscp cos table T`, `set precedence qos-group`...:
            # the field is written (IOS marks every packet of the class), with a value
            # derived through a table-map the model does not read.
            ctx.diag(lineno, text, "%s: DS value derived from another field or table "
                                   "(may re-mark to an unknown value)" % where)
            keep = 0x03 if args[0] == "dscp" else 0x1F
            return ClassAction(source, "rewrite", rewrite=rewrite_unknown(keep, " ".join(words)), family=family)
        if args and args[0] in _SET_OTHER:
            return ClassAction(source, "queue")
        ctx.diag(lineno, text, "%s: unknown set clause (kept, treated as may re-mark)" % where)
        return ClassAction(source, "unknown")

    def freeze(self, implicit: bool = False) -> PolicyClass:
        actions = []
        for action in self.actions:
            if isinstance(action, _PoliceB):
                police = action.freeze()
                actions.append(ClassAction(police.source, "police", police=police))
            else:
                actions.append(action)
        return PolicyClass(self.name, self.source, tuple(actions), implicit)


class _PolicyB(_Handler):
    FLAT = frozenset(("class",))

    def __init__(self, name: str, kind: str, source: Evidence) -> None:
        self.name = name
        self.type = kind
        self.source = source
        self.classes: list[_PolicyClassB] = []

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        if words[0] == "class" and len(words) >= 2:
            name = words[-1]
            for existing in self.classes:
                if existing.name == name:
                    return existing
            cls = _PolicyClassB(self.name, name, ctx.ev(lineno, text))
            self.classes.append(cls)
            return cls
        if words[0] == "description":
            return IGNORE
        ctx.diag(lineno, text, "policy-map %s: unknown command (ignored)" % self.name)
        return IGNORE

    def freeze(self) -> PolicyMap:
        classes = [c.freeze() for c in self.classes if c.name != "class-default"]
        default = [c for c in self.classes if c.name == "class-default"]
        if default:
            classes.append(default[0].freeze())
        else:
            # Every policy ends in class-default, written or not: unmatched traffic passes untouched.
            classes.append(PolicyClass("class-default", self.source, (), implicit=True))
        return PolicyMap(self.name, self.source, tuple(classes), self.type)


# ---------------------------------------------------------------- route-maps
_RM_ROUTING_SETS = frozenset((
    "metric", "local-preference", "community", "as-path", "origin", "weight", "tag",
    "metric-type", "extcommunity", "comm-list", "level", "dampening", "automatic-tag",
    "large-community", "route-type", "traffic-index", "mpls-label", "aigp-metric",
))


class _ClauseB(_Handler):
    FLAT = frozenset(("match", "set", "continue"))

    def __init__(self, route_map: str, seq: int, permit: bool, source: Evidence) -> None:
        self.route_map = route_map
        self.seq = seq
        self.permit = permit
        self.source = source
        self.matches: list[RouteMapMatch] = []
        self.sets: list[RouteMapSet] = []

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        source = ctx.ev(lineno, text)
        head = words[0]
        args = words[1:]
        if head == "match":
            if len(args) >= 3 and args[0] == "ip" and args[1] == "address" and args[2] != "prefix-list":
                self.matches.append(RouteMapMatch(source, "acl", tuple(args[2:]), family=4))
            elif len(args) >= 3 and args[0] == "ipv6" and args[1] == "address" and args[2] != "prefix-list":
                # IPv6 policy routing (`ipv6 policy route-map`): an IPv6 access list.
                self.matches.append(RouteMapMatch(source, "acl", tuple(args[2:]), family=6))
            elif len(args) == 3 and args[0] == "length":
                self.matches.append(RouteMapMatch(source, "length", tuple(args[1:])))
            else:
                # Routing-protocol matches are normal here; link_diagnostics reports
                # them only when the route-map is used for policy routing.
                self.matches.append(RouteMapMatch(source, "unknown", tuple(args)))
            return IGNORE
        if head == "set":
            self.sets.append(self.set_clause(source, args))
            return IGNORE
        if head in ("description", "continue"):
            return IGNORE
        self.sets.append(RouteMapSet(source, "unknown", tuple(words)))
        return IGNORE

    @staticmethod
    def set_clause(source: Evidence, args: list[str]) -> RouteMapSet:
        try:
            if len(args) >= 2 and args[0] == "interface":
                return RouteMapSet(source, "interface", tuple(args[1:]))
            if len(args) >= 3 and args[:2] == ["ip", "next-hop"]:
                return RouteMapSet(source, "next-hop", tuple(args[2:]), family=4)
            if len(args) >= 4 and args[:3] == ["ip", "default", "next-hop"]:
                return RouteMapSet(source, "default-next-hop", tuple(args[3:]), family=4)
            if len(args) >= 3 and args[:2] == ["ipv6", "next-hop"]:
                return RouteMapSet(source, "next-hop", tuple(args[2:]), family=6)
            if len(args) >= 4 and args[:3] == ["ipv6", "default", "next-hop"]:
                return RouteMapSet(source, "default-next-hop", tuple(args[3:]), family=6)
            if len(args) == 3 and args[:2] == ["ipv6", "precedence"]:
                rewrite = rewrite_precedence(dsfield.parse_precedence(args[2]), "set " + " ".join(args))
                return RouteMapSet(source, "rewrite", tuple(args), rewrite, family=6)
            if len(args) >= 3 and args[:2] == ["default", "interface"]:
                return RouteMapSet(source, "default-interface", tuple(args[2:]))
            if len(args) == 3 and args[:2] == ["ip", "precedence"]:
                rewrite = rewrite_precedence(dsfield.parse_precedence(args[2]), "set " + " ".join(args))
                return RouteMapSet(source, "rewrite", tuple(args), rewrite, family=4)
            if len(args) == 3 and args[:2] == ["ip", "tos"]:
                rewrite = rewrite_tos4(dsfield.parse_ios_tos(args[2]), "set " + " ".join(args))
                return RouteMapSet(source, "rewrite", tuple(args), rewrite, family=4)
            if len(args) == 3 and args[:2] == ["ip", "dscp"]:
                rewrite = rewrite_dscp(dsfield.parse_dscp(args[2]), "set " + " ".join(args))
                return RouteMapSet(source, "rewrite", tuple(args), rewrite, family=4)
        except dsfield.DSFieldError:
            return RouteMapSet(source, "unknown", tuple(args))
        if args and args[0] in _RM_ROUTING_SETS:
            return RouteMapSet(source, "routing", tuple(args))
        return RouteMapSet(source, "unknown", tuple(args))


class _RouteMapB:
    def __init__(self, name: str, source: Evidence) -> None:
        self.name = name
        self.source = source
        self.clauses: dict[int, _ClauseB] = {}

    def freeze(self) -> RouteMap:
        clauses = []
        for seq in sorted(self.clauses):
            c = self.clauses[seq]
            clauses.append(RouteMapClause(c.seq, c.permit, c.source, tuple(c.matches), tuple(c.sets)))
        return RouteMap(self.name, self.source, tuple(clauses))


# ---------------------------------------------------------------- interfaces
class _InterfaceB(_Handler):
    FLAT = frozenset(("service-policy", "shutdown", "description", "ip", "no", "rate-limit"))

    def __init__(self, name: str, source: Evidence) -> None:
        self.name = name
        self.source = source
        self.description: str | None = None
        self.shutdown = False
        self.addresses: list[str] = []
        self.acl_in: Attachment | None = None
        self.acl_out: Attachment | None = None
        self.policy_in: Attachment | None = None
        self.policy_out: Attachment | None = None
        self.pbr: Attachment | None = None
        self.unmodeled: list[Unmodeled] = []
        self.trusted = False
        self.acl6_in: Attachment | None = None
        self.acl6_out: Attachment | None = None
        self.pbr6: Attachment | None = None

    def may(self, ctx: _Ctx, lineno: int, text: str, direction: str, effects: tuple[str, ...], reason: str,
            families: tuple[int, ...] = (4, 6)) -> None:
        """A line that may drop or re-mark: a stage of the pipeline and a Diagnostic, one reason."""
        reason = "interface %s: %s" % (self.name, reason)
        ctx.diag(lineno, text, reason)
        self.unmodeled.append(Unmodeled(ctx.ev(lineno, text), direction, effects, reason, families))

    def accepts_flat(self, words: list[str]) -> bool:
        head = words[0]
        if head == "ip":
            return len(words) > 1 and words[1] in ("policy", "access-group", "address")
        if head == "no":
            return len(words) > 1 and words[1] == "shutdown"
        return head in self.FLAT

    def child(self, ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        head = words[0]
        n = len(words)
        if head == "ip" and n >= 2:
            sub = words[1]
            if sub == "access-group" and n >= 3:
                direction = words[3] if n >= 4 else "out"
                attachment = Attachment(words[2], ctx.ev(lineno, text))
                if direction == "in":
                    self.acl_in = attachment
                elif direction == "out":
                    self.acl_out = attachment
                else:
                    ctx.diag(lineno, text, "interface %s: unknown access-group direction" % self.name)
            elif sub == "policy" and n >= 4 and words[2] == "route-map":
                self.pbr = Attachment(words[3], ctx.ev(lineno, text))
            elif sub == "address" and n >= 3:
                self.addresses.append(" ".join(words[2:]))
            return IGNORE
        if head == "service-policy" and n >= 3:
            rest = words[1:]
            if rest[0] == "type" and len(rest) >= 2:
                if rest[1] != "qos":
                    where = rest[2] if len(rest) > 2 and rest[2] in ("input", "output") else "both"
                    self.may(ctx, lineno, text, {"input": "in", "output": "out"}.get(where, "both"), ("drop",),
                             "service-policy type %s not modelled (may drop)" % rest[1])
                    return IGNORE
                rest = rest[2:]
            if len(rest) >= 2 and rest[0] in ("input", "output"):
                attachment = Attachment(rest[-1], ctx.ev(lineno, text))
                if rest[0] == "input":
                    self.policy_in = attachment
                else:
                    self.policy_out = attachment
            return IGNORE
        if head == "shutdown":
            self.shutdown = True
            return IGNORE
        if head == "no" and n >= 2 and words[1] == "shutdown":
            self.shutdown = False
            return IGNORE
        if head == "description":
            self.description = text.split(None, 1)[1] if n > 1 else ""
            return IGNORE
        if head == "ipv6" and n >= 3 and words[1] == "traffic-filter":
            # IPv6 packets only: the IPv6 fate tables (family 6) run it as the interface's
            # access list.  The IPv4 tables keep the stage they always had (may-drop, the
            # reading from before IPv6 was modelled), so IPv4 results do not move.
            direction = "out" if words[-1] == "out" else "in"
            attachment = Attachment(words[2], ctx.ev(lineno, text))
            if direction == "in":
                self.acl6_in = attachment
            else:
                self.acl6_out = attachment
            self.may(ctx, lineno, text, direction, ("drop",),
                     "IPv6 access list %s acts on IPv6 packets only (modelled in the IPv6 fate tables; "
                     "a may-drop stage of the IPv4 tables)" % words[2], families=(4,))
            return IGNORE
        if head == "ipv6" and n >= 4 and words[1] == "policy" and words[2] == "route-map":
            self.pbr6 = Attachment(words[3], ctx.ev(lineno, text))
            self.may(ctx, lineno, text, "in", ("drop", "remark"),
                     "IPv6 policy routing by route-map %s acts on IPv6 packets only (modelled in the IPv6 fate "
                     "tables; may null-route or re-mark in the IPv4 tables)" % words[3], families=(4,))
            return IGNORE
        if head == "rate-limit":
            # Committed access rate: `rate-limit input|output [access-group N] bps burst burst
            # conform-action A exceed-action A`, actions drop, transmit, set-prec-transmit,
            # set-dscp-transmit, continue... (Cisco IOS QoS configuration guide 15.2M&T,
            # "Configuring Committed Access Rate"; document 10118).
            effects = tuple(e for e, present in (
                ("drop", "drop" in words),
                ("remark", any(w.startswith(("set-prec", "set-dscp")) for w in words)),
            ) if present) or ("drop",)
            self.may(ctx, lineno, text, "out" if n > 1 and words[1] == "output" else "in", effects,
                     "committed access rate (CAR) is not modelled (may %s)" % " or ".join(
                         {"drop": "drop", "remark": "re-mark"}[e] for e in effects))
            return IGNORE
        if words[:3] == ["mls", "qos", "trust"] or words[:2] == ["qos", "trust"]:
            self.trusted = True
            state = words[3 if head == "mls" else 2:]
            if state[:1] == ["dscp"]:
                # A port trusting DSCP keeps the arriving DSCP (Cisco document 91862,
                # "Configure Catalyst 3750 QoS", port trust configuration): no re-mark.
                return IGNORE
            self.may(ctx, lineno, text, "in", ("remark",),
                     "switch QoS trust state %s derives the DSCP from a map (may re-mark)" % (" ".join(state) or "default"))
            return IGNORE
        if head == "zone-member":
            self.may(ctx, lineno, text, "both", ("drop",), "zone-based firewall is not modelled (may drop)")
            return IGNORE
        # Read past without a Diagnostic, because none of them decides a DS byte's fate:
        # `auto qos ...` (the macro's generated class-maps, policy-maps, trust and
        # service-policy lines are in the running-config themselves and read there:
        # "the auto qos voip interface configuration command and the generated
        # configuration are added to the running configuration", Catalyst 2950/2955
        # software configuration guide, "Configuring Auto-QoS"),
        # `srr-queue ...`, `priority-queue out`, `bandwidth`, `queue-set` (egress queue
        # weights and thresholds: which queue, not whether or with which byte a packet
        # leaves), `ip nbar protocol-discovery` (statistics only).
        if head in ("service-instance", "pvc", "frame-relay"):
            return _Watch("interface %s %s" % (self.name, " ".join(words)))
        return IGNORE

    def freeze(self) -> Interface:
        return Interface(
            name=self.name,
            source=self.source,
            description=self.description,
            shutdown=self.shutdown,
            addresses=tuple(self.addresses),
            acl_in=self.acl_in,
            acl_out=self.acl_out,
            policy_in=self.policy_in,
            policy_out=self.policy_out,
            pbr=self.pbr,
            unmodeled=tuple(self.unmodeled),
            acl6_in=self.acl6_in,
            acl6_out=self.acl6_out,
            pbr6=self.pbr6,
        )


# ---------------------------------------------------------------- top level
_FLAT_WORDS = (
    _AclB.FLAT | _ClassMapB.FLAT | _PoliceB.FLAT | _PolicyClassB.FLAT | _PolicyB.FLAT
    | _ClauseB.FLAT | _InterfaceB.FLAT
)
_BANNER_TYPES = frozenset(("motd", "login", "exec", "incoming", "slip-ppp", "prompt-timeout", "config-save"))


def _top_access_list(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) < 3 or not words[1].isdigit():
        if len(words) >= 2 and words[1] in ("compiled", "logging", "log-update"):
            return IGNORE
        ctx.diag(lineno, text, "access-list: cannot read this line (ignored)")
        return IGNORE
    name = words[1]
    acl = ctx.acls.get(name)
    if acl is None:
        acl = _acl(ctx, name, aclmod.numbered_acl_kind(int(name)), lineno, text)
    acl.add(ctx, lineno, words[2:], text, None)
    return IGNORE


# `ip ...` globals that can name an ACL or a route-map (`ip nat inside source list 10`,
# `ip route ... route-map`: no; `ip wccp web-cache redirect-list 120`...).  Static routes and
# prefix-lists, the bulk of big files, name neither.
_IP_REFERENCING = frozenset(("nat", "dhcp", "sla", "flow-export", "wccp", "multicast", "pim", "ssh", "http", "igmp", "sdr"))
# `ip <second word>` lines the parser reads (globals, and interface lines a flat file
# puts at column 0); every other `ip ...` line is skipped without a full split.
_IP_SECTIONS = _IP_REFERENCING | frozenset(("access-list", "local", "policy", "access-group", "address", "telnet"))


def _top_ip(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    n = len(words)
    if n < 2:
        return IGNORE
    sub = words[1]
    if sub == "access-list" and n >= 4 and words[2] in ("extended", "standard"):
        return _acl(ctx, words[3], words[2], lineno, text)
    if sub == "access-list" and n >= 4 and words[2] not in ("resequence", "logging", "log-update"):
        # `ip access-list role-based ...` and friends: read past, but say so if applied.
        return _acl(ctx, words[3], "other", lineno, text)
    if sub == "local" and n >= 5 and words[2] == "policy" and words[3] == "route-map":
        ctx.local_policy = Attachment(words[4], ctx.ev(lineno, text))
        return IGNORE
    if sub == "telnet" and n >= 4 and words[2] == "tos":
        # Marks the telnet sessions the router itself opens or answers: its own traffic,
        # which no fate table of transit traffic covers; said, not silently read past.
        ctx.diag(lineno, text, "ip telnet tos: the router's own telnet packets leave with TOS %s "
                               "(router-generated traffic, not modelled)" % words[3])
        return IGNORE
    if sub in _IP_REFERENCING:
        ctx.scan_references(words, lineno, text)
    return IGNORE


def _top_class_map(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    args = words[1:]
    kind = "qos"
    if len(args) >= 2 and args[0] == "type":
        kind = args[1]
        args = args[2:]
    match_all = True
    if args and args[0] in ("match-all", "match-any", "match-none"):
        match_all = args[0] == "match-all"
        if args[0] == "match-none":
            ctx.diag(lineno, text, "class-map: match-none is not modelled (treated as match-any)")
        args = args[1:]
    if not args:
        ctx.diag(lineno, text, "class-map: name missing (ignored)")
        return IGNORE
    name = args[0]
    found = ctx.class_maps.get(name)
    if found is None:
        found = ctx.class_maps[name] = _ClassMapB(name, match_all, kind, ctx.ev(lineno, text))
    return found


def _top_policy_map(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    args = words[1:]
    kind = "qos"
    if len(args) >= 2 and args[0] == "type":
        kind = args[1]
        args = args[2:]
    if not args:
        ctx.diag(lineno, text, "policy-map: name missing (ignored)")
        return IGNORE
    if kind != "qos":
        # Inspect/control policies do not attach with `service-policy input|output`:
        # kept out of the QoS namespace; zone-pair lines report where they apply.
        return IGNORE
    name = args[-1]
    found = ctx.policy_maps.get(name)
    if found is None:
        found = ctx.policy_maps[name] = _PolicyB(name, kind, ctx.ev(lineno, text))
    return found


def _top_route_map(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) < 2:
        ctx.diag(lineno, text, "route-map: name missing (ignored)")
        return IGNORE
    name = words[1]
    permit = True
    seq = 10
    rest = words[2:]
    if rest and rest[0] in ("permit", "deny"):
        permit = rest[0] == "permit"
        rest = rest[1:]
    if rest and rest[0].isdigit():
        seq = int(rest[0])
    rm = ctx.route_maps.get(name)
    if rm is None:
        rm = ctx.route_maps[name] = _RouteMapB(name, ctx.ev(lineno, text))
    clause = rm.clauses.get(seq)
    if clause is None:
        clause = rm.clauses[seq] = _ClauseB(name, seq, permit, ctx.ev(lineno, text))
    return clause


def _top_interface(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) < 2:
        return IGNORE
    name = "".join(words[1:]) if len(words) == 3 and words[2][:1].isdigit() else " ".join(words[1:])
    found = ctx.interfaces.get(name)
    if found is None:
        found = ctx.interfaces[name] = _InterfaceB(name, ctx.ev(lineno, text))
    return found


def _top_hostname(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) >= 2:
        ctx.hostname = words[1]
    return IGNORE


def _top_version(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if len(words) >= 2:
        ctx.version = words[1]
    return IGNORE


# Catalyst `mls qos map` tables that produce a DSCP: re-marks through them (`trust cos`,
# `policed-dscp-transmit`, mutation on a trusted port) are unknown values to the model.
# `dscp-cos` only feeds the CoS and the egress queues: no DS byte changes.
_MLS_UNTRUSTED = "mls qos: switch QoS is on: ports that trust nothing may rewrite the DSCP (to 0 by default; not modelled)"
_MLS_DSCP_MAPS = frozenset(("policed-dscp", "dscp-mutation", "cos-dscp", "ip-prec-dscp"))


def _top_mls(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    if words == ["mls", "qos"]:
        # With QoS on, a Catalyst port that trusts nothing rewrites the DSCP of what it
        # receives (to 0 unless a policy classifies it: Cisco document 91862, "Configure
        # Catalyst 3750 QoS", port trust configuration).  Every such interface gets a may
        # re-mark stage citing this line (Interface.unmodeled), and this one Diagnostic.
        ctx.mls_qos = ctx.ev(lineno, text)
        ctx.diag(lineno, text, _MLS_UNTRUSTED)
    elif len(words) >= 5 and words[1:3] == ["qos", "aggregate-policer"]:
        starts = [k for k, w in enumerate(words) if w in _ACTION_WORDS]
        if starts:
            ctx.aggregate_policers[words[3]] = (lineno, text, words[starts[0]:])
        else:
            ctx.diag(lineno, text, "mls qos aggregate-policer %s: no action read (classes using it may drop)" % words[3])
    elif len(words) >= 4 and words[1:3] == ["qos", "map"] and words[3] in _MLS_DSCP_MAPS:
        ctx.diag(lineno, text, "mls qos map %s: a switch DSCP map is not modelled (re-marks through it are "
                               "treated as unknown values)" % words[3])
    # `mls qos srr-queue ...`, `mls qos queue-set ...`, `mls qos map dscp-cos`: queueing only.
    return IGNORE


def _top_refs(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    ctx.scan_references(words, lineno, text)
    return REFSCAN


def _top_snmp(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
    # snmp-server community NAME RO|RW [view V] [ipv6 X] [ACL]
    if len(words) >= 5 and words[1] == "community" and words[3] in ("RO", "RW", "ro", "rw"):
        last = words[-1]
        if last not in ("RO", "RW", "ro", "rw") and words[-2] != "view":
            ctx.refer("acl", last, lineno, text)
    return IGNORE


def _top_watch(what: str) -> t.Callable[[_Ctx, int, list[str], str], _Handler | None]:
    def handler(ctx: _Ctx, lineno: int, words: list[str], text: str) -> _Handler | None:
        return _Watch(what)

    return handler


_TOP: dict[str, t.Callable[[_Ctx, int, list[str], str], _Handler | None]] = {
    "interface": _top_interface,
    "access-list": _top_access_list,
    "ip": _top_ip,
    "class-map": _top_class_map,
    "policy-map": _top_policy_map,
    "route-map": _top_route_map,
    "hostname": _top_hostname,
    "version": _top_version,
    "mls": _top_mls,
    "line": _top_refs,
    "router": _top_refs,
    "ntp": _top_refs,
    "snmp-server": _top_snmp,
    "control-plane": _top_watch("control-plane policing (traffic to the router itself)"),
    "zone-pair": _top_watch("zone-based firewall zone-pair"),
    "object-group": _top_object_group,
    "ipv6": _top_ipv6,
}


def _banner_delimiter(words: list[str], text: str) -> tuple[str | None, bool]:
    """The delimiter of `banner [type] <d>text<d>` and whether the banner closes on this line."""
    rest = text.split(None, 1)[1] if len(words) > 1 else ""
    if len(words) > 1 and words[1] in _BANNER_TYPES:
        rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    rest = rest.lstrip()
    if not rest:
        return None, True
    delim = "^C" if rest.startswith("^C") else rest[0]
    return delim, delim in rest[len(delim):]


def _check_text(text: str, file: str) -> None:
    nul = text.find("\x00")
    if nul >= 0:
        raise ParseError(file, text.count("\n", 0, nul) + 1, "binary data (NUL byte): not a configuration text file")
    # One substring search per forbidden character runs at memory speed; a regex
    # character class over a 2 MB file costs tens of milliseconds.
    hits = [(text.find(char), char) for char in _BINARY_CHARS if char in text]
    if hits:
        index, char = min(hits)
        raise ParseError(
            file, text.count("\n", 0, index) + 1,
            "binary data (control character 0x%02x): not a configuration text file" % ord(char),
        )


def decode_config(data: bytes, file: str) -> tuple[str, list[Diagnostic]]:
    """Bytes -> text as a person saved it (textdecode: BOM, UTF-16, Latin-1 with a note); control bytes: ParseError."""
    text, notes = decode_text(data, file)
    _check_text(text, file)
    return text, notes


def load_ios(path: str, *, require_end: bool = True) -> IosConfig:
    """Read and parse a saved `show running-config`."""
    with open(path, "rb") as handle:
        data = handle.read()
    text, diags = decode_config(data, path)
    config = parse_ios(text, path, require_end=require_end)
    if diags:
        config = dataclasses.replace(config, diagnostics=tuple(diags) + config.diagnostics)
    return config


def parse_ios(text: str, file: str = "<string>", *, require_end: bool = True) -> IosConfig:
    """Parse running-config text.

    `require_end`: a saved `show running-config` ends with `end`; without it
    the file was probably cut short and a ParseError says so.  Pass False
    for hand-written snippets: the missing `end` is then a Diagnostic.
    """
    with gc_paused():
        return _parse(text, file, require_end)


def _parse(text: str, file: str, require_end: bool) -> IosConfig:
    _check_text(text, file)
    aclmod.clear_caches()
    ctx = _Ctx(file)
    stack: list[tuple[int, _Handler]] = []
    lines = text.split("\n")
    banner: str | None = None
    macro = False
    ended_at = 0
    last_line = 0
    top = _TOP
    flat_words = _FLAT_WORDS
    ignore_top = (0, IGNORE)
    for index, raw in enumerate(lines):
        if not raw:
            continue
        line = raw.rstrip() if raw[-1] in " \r\t" else raw
        if not line:
            continue
        if banner is not None or macro:
            if banner is not None:
                if banner in line:
                    banner = None
            elif line.strip() == "@":
                macro = False
            continue
        first = line[0]
        if first == "!":
            continue
        lineno = index + 1
        if first == " " or first == "\t":
            stripped = line.lstrip()
            if stripped[0] == "!":
                continue
            indent = len(line) - len(stripped)
        else:
            stripped = line
            indent = 0
        if ended_at:
            ctx.diag(lineno, stripped, "text after 'end' (ignored)")
            break
        last_line = lineno
        if indent and stack:
            # The common case inside a section: hand the line to its parent.
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if stack:
                parent = stack[-1][1]
                if parent is IGNORE:
                    continue
                words = stripped.split()
                head = words[0]
                if head == "exit" and len(words) == 1:
                    stack.pop()
                    continue
                sub = parent.child(ctx, lineno, words, stripped)
                stack.append((indent, sub or IGNORE))
                continue
        if not indent and stripped.startswith("ip "):
            # Static routes and prefix-lists are most of a big file: decide on two words.
            parts = stripped.split(None, 2)
            if len(parts) > 1 and parts[1] not in _IP_SECTIONS:
                stack.clear()
                stack.append(ignore_top)
                continue
        words = stripped.split()
        head = words[0]
        if len(words) == 1 and (head == "end" or head == "exit"):
            if head == "end":
                ended_at = lineno
            elif stack:
                stack.pop()
            continue
        if stack and head in flat_words:
            # A sub-command at column 0: IOS gives it to the innermost open mode
            # that accepts it, as when a hand-written file is pasted.
            handled = False
            for depth in range(len(stack) - 1, -1, -1):
                handler = stack[depth][1]
                if handler is not IGNORE and handler.accepts_flat(words):
                    del stack[depth + 1:]
                    sub = handler.child(ctx, lineno, words, stripped)
                    stack.append((indent, sub or IGNORE))
                    handled = True
                    break
            if handled:
                continue
        stack.clear()
        func = top.get(head)
        if func is not None:
            sub = func(ctx, lineno, words, stripped)
            stack.append((indent, sub) if sub is not None and sub is not IGNORE else (indent, IGNORE))
            continue
        if head == "banner":
            delim, closed = _banner_delimiter(words, stripped)
            if not closed:
                banner = delim
            continue
        if head == "macro" and len(words) >= 3 and words[1] == "name":
            macro = True
            continue
        stack.append(ignore_top if indent == 0 else (indent, IGNORE))
    if banner is not None:
        raise ParseError(file, last_line or 1,
                         "configuration ends inside a banner (delimiter %r never closed): truncated?" % banner)
    if not last_line and not ended_at:
        # An empty file would read as a router that treats nothing: say so instead.
        raise ParseError(file, None, "empty configuration: no command in the file")
    if not ended_at:
        reason = "configuration ends without 'end': truncated?"
        if stack and stack[-1][0] > 0:
            reason += " (the last line is inside a section)"
        last_text = lines[last_line - 1].strip() if last_line else ""
        if require_end:
            raise ParseError(file, last_line or None, reason, last_text or None)
        ctx.diag(last_line, last_text, reason)
    if ctx.mls_qos is not None:
        untrusted = Unmodeled(ctx.mls_qos, "in", ("remark",), _MLS_UNTRUSTED)
        for builder in ctx.interfaces.values():
            if not builder.trusted and not builder.name.lower().startswith(("null", "loopback")):
                builder.unmodeled.append(untrusted)
    groups = _resolve_groups(ctx) if ctx.object_groups else {}
    config = IosConfig(
        file=file,
        hostname=ctx.hostname,
        version=ctx.version,
        line_count=len(lines),
        acls={name: b.freeze(ctx, groups) for name, b in ctx.acls.items()},
        class_maps={name: b.freeze() for name, b in ctx.class_maps.items()},
        policy_maps={name: b.freeze() for name, b in ctx.policy_maps.items()},
        route_maps={name: b.freeze() for name, b in ctx.route_maps.items()},
        interfaces={name: b.freeze() for name, b in ctx.interfaces.items()},
        local_policy=ctx.local_policy,
        diagnostics=(),
        references={k: tuple(v) for k, v in ctx.references.items()},
        ended=bool(ended_at),
        object_groups=groups,
        acls6={name: b.freeze() for name, b in ctx.acls6.items()},
    )
    diagnostics = ctx.diagnostics + link_diagnostics(config)
    return dataclasses.replace(config, diagnostics=tuple(diagnostics))
