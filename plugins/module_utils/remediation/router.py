# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One router as the strategies see it: its parsed configuration indexed by line, with who uses what.

A `RouterModel` pairs the parsed configuration with the text being edited and the set of objects
a strategy has decided to remove so far (`removed`); every question it answers (who still uses
this access list? which lines an applied place still reaches test DSCP 1?) takes those
removals into account, which is what lets a removal cascade safely.  The word helpers say
what a class or a filter does in the terms a reviewer recognises.

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import reachable
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    Acl, AclEntry, Attachment, ClassMap, Criterion, PolicyClass, PolicyMap, RouteMap, RouteMapClause,
)
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Fleet, Router
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import ConfigText


def class_action_words(cls: PolicyClass) -> str:
    kinds = []
    for action in cls.actions:
        if action.kind == "drop":
            kinds.append("drops")
        elif action.kind == "police":
            kinds.append("polices (%s)" % action.police.rate if action.police else "polices")
        elif action.kind == "rewrite" and action.rewrite is not None:
            kinds.append("re-marks (%s)" % action.source.text)
    return ", ".join(kinds) or "treats"


def criteria_words(cm: ClassMap | None) -> str:
    if cm is None:
        return "no such class-map"
    return "; ".join(c.text for c in cm.criteria) or "no match statement"


def filter_words(cm: ClassMap | None) -> str:
    """What kind of filter a class-map is, in words a reviewer recognises."""
    if cm is not None and any(c.kind == "nbar" and "http url" in c.text for c in cm.criteria):
        return "an NBAR filter on HTTP URLs (the Code-Red recipe of Cisco document 27842)"
    return "a filter"


def acl_kind(acl: Acl) -> str:
    """The namespace an access list lives in: "acl" (IPv4) or "acl6" (`ipv6 access-list`, its own names)."""
    return "acl6" if acl.family == 6 else "acl"


class RouterModel:
    """One router's parsed configuration, indexed by line, with who uses what.

    Access lists are named per family: kind "acl" (IPv4: `ip access-group`, `match ip address`) and "acl6"
    (`ipv6 traffic-filter`, `match ipv6 address`); a class-map's `match access-group` reads both.
    """

    def __init__(self, router: Router, text: ConfigText) -> None:
        self.host = router.host
        self.config = router.config
        self.text = text
        config = router.config
        self.entries: dict[int, tuple[Acl, AclEntry]] = {}
        for acl in (*config.acls.values(), *config.acls6.values()):
            for entry in acl.entries:
                self.entries[entry.source.line] = (acl, entry)
        self.criteria: dict[int, tuple[ClassMap, Criterion]] = {}
        for cm in config.class_maps.values():
            for crit in cm.criteria:
                self.criteria[crit.source.line] = (cm, crit)
        self.classes: dict[int, tuple[PolicyMap, PolicyClass]] = {}
        for pm in config.policy_maps.values():
            for cls in pm.classes:
                if not cls.implicit:
                    self.classes[cls.source.line] = (pm, cls)
        self.clauses: dict[int, tuple[RouteMap, RouteMapClause]] = {}
        self.rm_matches: dict[int, tuple[RouteMap, RouteMapClause]] = {}
        for rm in config.route_maps.values():
            for clause in rm.clauses:
                self.clauses[clause.source.line] = (rm, clause)
                for match in clause.matches:
                    self.rm_matches[match.source.line] = (rm, clause)
        self.reach = reachable(config)
        self.removed: set[tuple[t.Any, ...]] = set()

    # -------------------------------------------------------------- who uses what
    def attachments(self, kind: str, name: str) -> list[tuple[str, str, int, str]]:
        """(interface, direction, line, text) of every applied reference to a definition."""
        found = []
        for iface in self.config.interfaces.values():
            pairs: tuple[tuple[str, Attachment | None], ...]
            if kind == "acl":
                pairs = (("in", iface.acl_in), ("out", iface.acl_out))
            elif kind == "acl6":
                pairs = (("in", iface.acl6_in), ("out", iface.acl6_out))
            elif kind == "policy-map":
                pairs = (("in", iface.policy_in), ("out", iface.policy_out))
            else:
                # One route-map namespace for `ip policy route-map` and `ipv6 policy route-map`.
                pairs = (("in", iface.pbr), ("in", iface.pbr6))
            for direction, attachment in pairs:
                if attachment is not None and attachment.name == name and ("line", attachment.source.line) \
                        not in self.removed:
                    found.append((iface.name, direction, attachment.source.line, attachment.source.text))
        local = self.config.local_policy
        if kind == "route-map" and local is not None and local.name == name and ("line", local.source.line) \
                not in self.removed:
            found.append(("(local)", "out", local.source.line, local.source.text))
        return found

    def users(self, kind: str, name: str) -> list[str]:
        """Everything (not being removed) that still names a definition, in words."""
        found = ["%s %s (line %d)" % (iface, direction, line) for iface, direction, line, _text
                 in self.attachments(kind, name)]
        config = self.config
        if kind in ("acl", "acl6"):
            six = kind == "acl6"
            for rm in config.route_maps.values():
                for clause in rm.clauses:
                    if ("clause", rm.name, clause.seq) in self.removed:
                        continue
                    if any(match.kind == "acl" and name in match.refs and (match.family == 6) == six
                           for match in clause.matches):
                        found.append("route-map %s %d (line %d)" % (rm.name, clause.seq, clause.source.line))
            for cm in config.class_maps.values():
                if ("class-map", cm.name) in self.removed:
                    continue
                for crit in cm.criteria:
                    if crit.kind == "acl" and crit.ref == name:
                        found.append("class-map %s (line %d)" % (cm.name, crit.source.line))
        elif kind == "class-map":
            for pm in config.policy_maps.values():
                if ("policy-map", pm.name) in self.removed:
                    continue
                for cls in pm.classes:
                    if cls.name == name and ("class", pm.name, cls.name) not in self.removed:
                        found.append("policy-map %s (line %d)" % (pm.name, cls.source.line))
            for cm in config.class_maps.values():
                if ("class-map", cm.name) not in self.removed:
                    for crit in cm.criteria:
                        if crit.kind == "class-map" and crit.ref == name:
                            found.append("class-map %s (line %d)" % (cm.name, crit.source.line))
        elif kind == "policy-map":
            for pm in config.policy_maps.values():
                if ("policy-map", pm.name) in self.removed:
                    continue
                for cls in pm.classes:
                    for action in cls.actions:
                        if action.kind == "service-policy" and action.ref == name \
                                and ("line", action.source.line) not in self.removed:
                            found.append("policy-map %s class %s (line %d)" % (pm.name, cls.name, action.source.line))
        found.extend("%s (line %d)" % (evidence.text, evidence.line)
                     for evidence in config.references.get((kind, name), ()))
        return found

    def numbered_acl_lines(self, name: str) -> list[int]:
        prefix = "access-list %s " % name
        return [n for n, raw in enumerate(self.text.lines, 1) if raw.startswith(prefix)]

    def acl_lines(self, acl: Acl) -> list[int]:
        if acl.family == 4 and acl.source.text.startswith("access-list "):
            return self.numbered_acl_lines(acl.name)
        return self.text.block(acl.source.line)

    def live(self) -> tuple[set[tuple[str, str]], set[str]]:
        """Access lists ((kind, name): "acl" or "acl6") and class-maps an applied place still reaches once the
        removals so far are done."""
        config, removed = self.config, self.removed
        acls: set[tuple[str, str]] = set()
        class_maps: set[str] = set()

        def policy(name: str, depth: int = 0) -> None:
            pm = config.policy_maps.get(name)
            if pm is None or ("policy-map", name) in removed or depth > 8:
                return
            for cls in pm.classes:
                if ("class", pm.name, cls.name) in removed:
                    continue
                if cls.name != "class-default":
                    class_map(cls.name)
                for action in cls.actions:
                    if action.kind == "service-policy" and action.ref and ("line", action.source.line) not in removed:
                        policy(action.ref, depth + 1)

        def class_map(name: str, depth: int = 0) -> None:
            cm = config.class_maps.get(name)
            if cm is None or name in class_maps or depth > 8:
                return
            class_maps.add(name)
            for crit in cm.criteria:
                if crit.kind == "acl" and crit.ref:
                    acls.update((("acl", crit.ref), ("acl6", crit.ref)))  # read in both families
                elif crit.kind == "class-map" and crit.ref:
                    class_map(crit.ref, depth + 1)

        def route_map(name: str) -> None:
            rm = config.route_maps.get(name)
            if rm is None or ("route-map", name) in removed:
                return
            for clause in rm.clauses:
                if ("clause", name, clause.seq) not in removed:
                    acls.update(("acl6" if match.family == 6 else "acl", ref) for match in clause.matches
                                if match.kind == "acl" for ref in match.refs)

        def acl4(name: str) -> None:
            acls.add(("acl", name))

        def acl6(name: str) -> None:
            acls.add(("acl6", name))

        for iface in config.interfaces.values():
            for attachment, use in ((iface.acl_in, acl4), (iface.acl_out, acl4), (iface.acl6_in, acl6),
                                    (iface.acl6_out, acl6), (iface.policy_in, policy), (iface.policy_out, policy),
                                    (iface.pbr, route_map), (iface.pbr6, route_map)):
                if attachment is not None and ("line", attachment.source.line) not in removed:
                    use(attachment.name)
        if config.local_policy is not None and ("line", config.local_policy.source.line) not in removed:
            route_map(config.local_policy.name)
        return acls, class_maps

    def tests(self, dscp: int) -> list[tuple[int, str]]:
        """Lines an applied place still reaches that treat DSCP `dscp` differently from DSCP 0."""
        byte = dscp << 2
        acls, class_maps = self.live()
        found = []
        for line, (acl, entry) in self.entries.items():
            if entry.tests_ds and ("line", line) not in self.removed and (acl_kind(acl), acl.name) in acls \
                    and (entry.ds_mask >> byte & 1) != (entry.ds_mask & 1):
                found.append((line, entry.source.text))
        for line, (cm, crit) in self.criteria.items():
            if crit.kind in ("dscp", "precedence") and ("line", line) not in self.removed \
                    and cm.name in class_maps and (crit.ds_mask >> byte & 1) != (crit.ds_mask & 1):
                found.append((line, crit.source.text))
        return sorted(found)


def by_router(fleet: Fleet, conflicts: t.Sequence[Conflict]) -> t.Iterator[tuple[Router, list[Conflict]]]:
    """Each audited router on a conflict's path, in name order, with the conflicts it treats."""
    for host in sorted({c.treatment.host for c in conflicts}):
        router = fleet.routers.get(host)
        if router is not None:
            yield router, [c for c in conflicts if c.treatment.host == host]


def markers(model: RouterModel, dscp: int) -> list[tuple[PolicyMap, PolicyClass, int]]:
    """Policy classes (not being removed) that write exactly DSCP `dscp`: the router's own marking."""
    found = []
    for pm in model.config.policy_maps.values():
        if ("policy-map", pm.name) in model.removed:
            continue
        for cls in pm.classes:
            if ("class", pm.name, cls.name) in model.removed:
                continue
            for action in cls.actions:
                rewrite = action.rewrite
                if action.kind == "rewrite" and rewrite is not None and rewrite.keep == 0x03 \
                        and rewrite.value == dscp << 2 and ("line", action.source.line) not in model.removed:
                    found.append((pm, cls, action.source.line))
    return found
