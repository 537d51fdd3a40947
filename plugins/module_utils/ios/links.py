# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which definitions an applied place reaches, and what is wrong with the references.

A definition only treats packets when something applied reaches it: an
interface's `ip access-group`, `service-policy` or `ip policy route-map`,
or the global `ip local policy route-map`.  Everything else is unused for
DS fates, whatever its contents say.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Evidence, IosConfig, Unused

KINDS = ("acl", "class-map", "policy-map", "route-map")


@dataclasses.dataclass
class Reach:
    """Names reached from applied places, with the first line that reaches each."""

    acl: dict[str, Evidence] = dataclasses.field(default_factory=dict)
    class_map: dict[str, Evidence] = dataclasses.field(default_factory=dict)
    policy_map: dict[str, Evidence] = dataclasses.field(default_factory=dict)
    route_map: dict[str, Evidence] = dataclasses.field(default_factory=dict)
    # PBR route-maps and the interface/global line applying them: their match and
    # set clauses are read with policy-routing semantics.
    pbr: dict[str, Evidence] = dataclasses.field(default_factory=dict)
    # `ipv6 access-list` names (a namespace of their own) reached from `ipv6 traffic-filter`, `match ipv6
    # address` of an applied route-map, or a class-map's `match access-group` (read in both families).
    acl6: dict[str, Evidence] = dataclasses.field(default_factory=dict)


def reachable(config: IosConfig) -> Reach:
    reach = Reach()

    def policy(name: str, via: Evidence, depth: int = 0) -> None:
        if name in reach.policy_map or depth > 8:
            return
        reach.policy_map[name] = via
        pm = config.policy_maps.get(name)
        if pm is None:
            return
        for cls in pm.classes:
            if cls.name != "class-default":
                class_map(cls.name, cls.source)
            for action in cls.actions:
                if action.kind == "service-policy" and action.ref:
                    policy(action.ref, action.source, depth + 1)

    def class_map(name: str, via: Evidence, depth: int = 0) -> None:
        if name in reach.class_map or depth > 8:
            return
        reach.class_map[name] = via
        cm = config.class_maps.get(name)
        if cm is None:
            return
        for crit in cm.criteria:
            if crit.kind == "acl" and crit.ref:
                reach.acl.setdefault(crit.ref, crit.source)
                if crit.ref in config.acls6:
                    reach.acl6.setdefault(crit.ref, crit.source)
            elif crit.kind == "class-map" and crit.ref:
                class_map(crit.ref, crit.source, depth + 1)

    def route_map(name: str, via: Evidence) -> None:
        reach.pbr.setdefault(name, via)
        if name in reach.route_map:
            return
        reach.route_map[name] = via
        rm = config.route_maps.get(name)
        if rm is None:
            return
        for clause in rm.clauses:
            for match in clause.matches:
                if match.kind == "acl":
                    for ref in match.refs:
                        (reach.acl6 if match.family == 6 else reach.acl).setdefault(ref, match.source)

    for iface in config.interfaces.values():
        for attachment in (iface.acl_in, iface.acl_out):
            if attachment:
                reach.acl.setdefault(attachment.name, attachment.source)
        for attachment in (iface.policy_in, iface.policy_out):
            if attachment:
                policy(attachment.name, attachment.source)
        if iface.pbr:
            route_map(iface.pbr.name, iface.pbr.source)
    if config.local_policy:
        route_map(config.local_policy.name, config.local_policy.source)
    for iface in config.interfaces.values():
        for attachment in (iface.acl6_in, iface.acl6_out):
            if attachment:
                reach.acl6.setdefault(attachment.name, attachment.source)
        if iface.pbr6:
            # Applied (`ipv6 policy route-map`), so not unused; its clauses are read for
            # IPv6 policy routing, not for `ip policy`: not a PBR route-map of `reach.pbr`.
            reach.route_map.setdefault(iface.pbr6.name, iface.pbr6.source)
            rm = config.route_maps.get(iface.pbr6.name)
            for clause in rm.clauses if rm is not None else ():
                for match in clause.matches:
                    if match.kind == "acl" and match.family == 6:
                        for ref in match.refs:
                            reach.acl6.setdefault(ref, match.source)
    return reach


def undefined_acl_reason(class_map: str, acl: str) -> str:
    """One wording for the Diagnostic, the fate table's condition and the trace's may-match."""
    return "class-map %s matches ACL %s, which is not defined (may-match)" % (class_map, acl)


def link_diagnostics(config: IosConfig) -> list[Diagnostic]:
    """Dangling references and policy-routing clauses the model cannot read."""
    out: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()

    def add(via: Evidence, reason: str) -> None:
        out.append(Diagnostic(via.file, via.line, via.text, reason))

    def once(kind: str, name: str) -> bool:
        key = (kind, name)
        if key in seen:
            return False
        seen.add(key)
        return True

    for iface in config.interfaces.values():
        for attachment in (iface.acl_in, iface.acl_out):
            if attachment is None:
                continue
            name = attachment.name
            acl = config.acls.get(name)
            if acl is None:
                add(attachment.source, "access-list %s is not defined: IOS lets every packet through" % name)
            elif acl.kind == "other":
                add(attachment.source, "access-list %s is not an IPv4 standard/extended list: "
                                       "not modelled (treated as may-drop)" % name)
            elif not acl.entries:
                add(attachment.source, "access-list %s has no entries: read as not defined (every packet passes)" % name)
        for attachment in (iface.policy_in, iface.policy_out):
            if attachment and attachment.name not in config.policy_maps:
                add(attachment.source, "policy-map %s is not defined (IOS refuses this; ignored)" % attachment.name)
        if iface.pbr and iface.pbr.name not in config.route_maps:
            add(iface.pbr.source, "route-map %s is not defined: packets are routed normally" % iface.pbr.name)
    local = config.local_policy
    if local and local.name not in config.route_maps:
        add(local.source, "route-map %s is not defined: packets are routed normally" % local.name)

    reach = reachable(config)
    for name in reach.policy_map:
        pm = config.policy_maps.get(name)
        if pm is None:
            continue
        for cls in pm.classes:
            if cls.name != "class-default" and cls.name not in config.class_maps and once("class-map", cls.name):
                add(cls.source, "class-map %s is not defined (class treated as may-match)" % cls.name)
            for action in cls.actions:
                if action.kind == "service-policy" and action.ref not in config.policy_maps:
                    add(action.source, "policy-map %s is not defined (nested policy ignored)" % action.ref)
    for name in reach.class_map:
        cm = config.class_maps.get(name)
        if cm is None:
            continue
        if not cm.criteria:
            add(cm.source, "class-map %s has no match statement: it matches no packet" % name)
        for crit in cm.criteria:
            ref = crit.ref or ""
            if crit.kind == "acl" and ref not in config.acls:
                add(crit.source, undefined_acl_reason(name, ref))
            if crit.kind == "class-map" and ref not in config.class_maps and once("class-map", ref):
                add(crit.source, "class-map %s is not defined (criterion treated as may-match)" % ref)
    for name in reach.pbr:
        rm = config.route_maps.get(name)
        if rm is None:
            continue
        for clause in rm.clauses:
            for match in clause.matches:
                if match.kind == "acl" and match.family == 6:
                    # `match ipv6 address` under `ip policy`: read as before, may-match.
                    add(match.source, "route-map %s: match clause not modelled for policy routing "
                                      "(treated as may-match)" % name)
                elif match.kind == "acl":
                    for ref in match.refs:
                        if ref not in config.acls:
                            add(match.source, "access-list %s is not defined: route-map %s %d matches every packet"
                                % (ref, name, clause.seq))
                elif match.kind == "unknown":
                    add(match.source, "route-map %s: match clause not modelled for policy routing "
                                      "(treated as may-match)" % name)
            for item in clause.sets:
                if item.kind == "unknown" or item.family == 6:
                    add(item.source, "route-map %s: unknown set clause (kept, treated as may-drop)" % name)
    return out


def unused_definitions(config: IosConfig) -> list[Unused]:
    """ACLs, class-maps, policy-maps and route-maps no applied place reaches."""
    reach = reachable(config)
    out: list[Unused] = []
    groups: t.Iterable[tuple[str, t.Mapping[str, t.Any], dict[str, Evidence]]] = (
        ("acl", config.acls, reach.acl),
        ("class-map", {k: v for k, v in config.class_maps.items() if v.type == "qos"}, reach.class_map),
        ("policy-map", config.policy_maps, reach.policy_map),
        ("route-map", config.route_maps, reach.route_map),
    )
    for kind, definitions, reached in groups:
        for name, definition in definitions.items():
            if name not in reached:
                out.append(Unused(kind, name, definition.source, config.references.get((kind, name), ())))
    out.sort(key=lambda u: u.source.line)
    return out
