# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strategy ``remove_policy``: take out what treats the marked traffic differently.

The route-map clause that policy-routes it, the ACL entry that denies it, the policy class that
drops, polices or re-marks it; then whatever only fed that mechanism (the router's own marking
of the same codepoint), detaching before deleting and keeping anything still used elsewhere.
It says which protection goes with it (`protections_lost`), and which objects stay and why.

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    Acl, AclEntry, PolicyClass, PolicyMap, RouteMap, RouteMapClause, RouteMapSet,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    Action, Codepoint, HostChange, Planned, Stage, Strategy, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Fleet
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.router import (
    RouterModel, acl_kind, by_router, class_action_words, criteria_words, filter_words, markers,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import ConfigText

if t.TYPE_CHECKING:  # pragma: no cover - annotations only (the registry imports this module)
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options


class _Removal:
    """Remove mechanisms from one router, cascading to what only they used; detach before delete."""

    def __init__(self, model: RouterModel) -> None:
        self.model = model
        self.actions: list[Action] = []
        self.lost: list[str] = []
        self.kept: list[str] = []
        self.notes: list[str] = []
        # Route-maps taken off an interface, in order: the window between detaching and deleting
        # says what they would do to every packet meanwhile.
        self.detached_route_maps: list[RouteMap] = []

    @property
    def text(self) -> ConfigText:
        return self.model.text

    def _lines(self, numbers: t.Iterable[int]) -> tuple[tuple[int, str], ...]:
        return tuple((n, self.text.line(n)) for n in sorted(numbers))

    def _delete(self, numbers: t.Iterable[int]) -> None:
        numbers = list(numbers)
        self.text.delete(numbers)
        self.model.removed.update(("line", n) for n in numbers)

    def _delete_block(self, number: int) -> list[int]:
        block = self.text.delete_block(number)
        self.model.removed.update(("line", n) for n in block)
        return block

    def detach(self, kind: str, name: str) -> None:
        attachments = self.model.attachments(kind, name)
        route_map = self.model.config.route_maps.get(name) if kind == "route-map" and attachments else None
        if route_map is not None and route_map not in self.detached_route_maps:
            self.detached_route_maps.append(route_map)
        for iface, _direction, line, _text in attachments:
            self._delete([line])
            self.actions.append(Action("detach", "%s %s from %s" % (kind, name, iface), self._lines([line]),
                                       "nothing may be deleted while an interface still uses it"))

    # -------------------------------------------------------------- access lists
    def maybe_remove_acl(self, name: str, family: int = 4) -> None:
        kind = "acl6" if family == 6 else "acl"
        if (kind, name) in self.model.removed:
            return
        acl = (self.model.config.acls6 if family == 6 else self.model.config.acls).get(name)
        if acl is None:
            return
        users = self.model.users(kind, name)
        if users:
            self.kept.append("%s %s: still used by %s" % (_list_words(acl), name, ", ".join(users)))
            return
        lines = self.model.acl_lines(acl)
        self.actions.append(Action("remove", "%s %s" % (_list_words(acl), name), self._lines(lines),
                                   "only the removed policy used it"))
        self._delete(lines)
        self.model.removed.add((kind, name))

    def remove_entry(self, acl: Acl, entry: AclEntry, dscp: int) -> None:
        if ("line", entry.source.line) in self.model.removed:
            return
        places = self.model.attachments(acl_kind(acl), acl.name)
        self._delete([entry.source.line])
        self.actions.append(Action("remove", "entry of %s %s" % (_list_words(acl), acl.name),
                                   self._lines([entry.source.line]), "it %s DSCP %d" % (
                                       "denies" if entry.action == "deny" else "permits", dscp)))
        self.lost.append("%s %s on %s: packets with DSCP %s are no longer %s there" % (
            _list_words(acl), acl.name, ", ".join("%s %s" % (i, d) for i, d, _l, _t in places) or "(not applied)",
            dsfield.dscp_label(dscp), "denied" if entry.action == "deny" else "matched"))
        if all(("line", e.source.line) in self.model.removed for e in acl.entries):
            # An applied list left empty would let everything through: take it out whole.
            self.detach(acl_kind(acl), acl.name)
            self.maybe_remove_acl(acl.name, acl.family)

    # -------------------------------------------------------------- route-maps
    def remove_clause(self, rm: RouteMap, clause: RouteMapClause, dscp: int) -> None:
        key = ("clause", rm.name, clause.seq)
        if key in self.model.removed:
            return
        places = self.model.attachments("route-map", rm.name)
        sets = ", ".join(s.source.text for s in clause.sets) or "no set clause"
        acls = [(ref, 6 if match.family == 6 else 4) for match in clause.matches if match.kind == "acl"
                for ref in match.refs]
        self.lost.append("route-map %s %s %d (%s) on %s: packets matching %s (DSCP %s) are no longer "
                         "policy-routed by it" % (rm.name, "permit" if clause.permit else "deny", clause.seq, sets,
                                                  ", ".join(p[0] for p in places) or "(not applied)",
                                                  ", ".join("%saccess-list %s" % ("ipv6 " if family == 6 else "", name)
                                                            for name, family in acls) or "no access-list",
                                                  dsfield.dscp_label(dscp)))
        others = [c for c in rm.clauses if ("clause", rm.name, c.seq) not in self.model.removed and c is not clause]
        if not others:
            # The route-map goes with its last clause: interfaces let go of it first.
            self.detach("route-map", rm.name)
            external = self.model.config.references.get(("route-map", rm.name), ())
            if external:
                self.kept.append("route-map %s: still named by %s; only clause %d is removed" % (
                    rm.name, ", ".join(e.text for e in external), clause.seq))
            else:
                self.model.removed.add(("route-map", rm.name))
        block = self._delete_block(clause.source.line)
        self.model.removed.add(key)
        self.actions.append(Action("remove", "route-map %s %d" % (rm.name, clause.seq), self._lines(block),
                                   "it policy-routes DSCP %d (%s)" % (dscp, sets)))
        for name, family in acls:
            self.maybe_remove_acl(name, family)

    # -------------------------------------------------------------- policies
    def maybe_remove_class_map(self, name: str) -> None:
        if ("class-map", name) in self.model.removed:
            return
        cm = self.model.config.class_maps.get(name)
        if cm is None:
            return
        users = self.model.users("class-map", name)
        if users:
            self.kept.append("class-map %s: still used by %s" % (name, ", ".join(users)))
            return
        block = self._delete_block(cm.source.line)
        self.model.removed.add(("class-map", name))
        self.actions.append(Action("remove", "class-map %s" % name, self._lines(block), "no policy uses it any more"))
        for crit in cm.criteria:
            if crit.kind == "acl" and crit.ref:
                # `match access-group` names a list of either family.
                self.maybe_remove_acl(crit.ref, 4)
                self.maybe_remove_acl(crit.ref, 6)
            elif crit.kind == "class-map" and crit.ref:
                self.maybe_remove_class_map(crit.ref)

    def remove_class(self, pm: PolicyMap, cls: PolicyClass, why: str) -> None:
        key = ("class", pm.name, cls.name)
        if key in self.model.removed:
            return
        self.model.removed.add(key)
        remaining = [c for c in pm.classes if ("class", pm.name, c.name) not in self.model.removed
                     and (c.name != "class-default" or c.actions)]
        if not remaining and not self.model.config.references.get(("policy-map", pm.name)):
            # Nothing left in the policy: interfaces let go of it, then it goes whole.
            self.detach("policy-map", pm.name)
            for other in self.model.config.policy_maps.values():
                for other_cls in other.classes:
                    for action in other_cls.actions:
                        if action.kind == "service-policy" and action.ref == pm.name:
                            self._delete([action.source.line])
            block = self._delete_block(pm.source.line)
            self.model.removed.add(("policy-map", pm.name))
            self.actions.append(Action("remove", "policy-map %s" % pm.name, self._lines(block),
                                       "its only class goes: %s" % why))
        else:
            block = self._delete_block(cls.source.line)
            self.actions.append(Action("remove", "class %s of policy-map %s" % (cls.name, pm.name),
                                       self._lines(block), why))
        if cls.name != "class-default":
            self.maybe_remove_class_map(cls.name)

    def remove_marker(self, pm: PolicyMap, cls: PolicyClass, action_line: int, dscp: int, fed: str) -> None:
        cm = self.model.config.class_maps.get(cls.name)
        places = self.model.attachments("policy-map", pm.name)
        self.lost.append("policy-map %s class %s on %s (%s): traffic it matches is no longer marked DSCP %s; with %s "
                         "this was %s, and what it caught is now forwarded like any other traffic" % (
                             pm.name, cls.name, ", ".join("%s %s" % (p[0], p[1]) for p in places) or "(not applied)",
                             criteria_words(cm), dsfield.dscp_label(dscp), fed, filter_words(cm)))
        others = [a for a in cls.actions if a.source.line != action_line]
        if others:
            self._delete([action_line])
            self.actions.append(Action("remove", "marking in class %s of policy-map %s" % (cls.name, pm.name),
                                       self._lines([action_line]), "nothing on this router tests DSCP %d any more"
                                       % dscp))
        else:
            self.remove_class(pm, cls, "it only marked DSCP %d, which nothing on this router tests any more" % dscp)


def _mechanisms(model: RouterModel, conflict: Conflict) -> list[tuple[t.Any, ...]]:
    """What on the conflict's path treats the byte: clauses, ACL entries, policy classes."""
    lines = [step.line for step in conflict.treatment.lines]
    found: list[tuple[t.Any, ...]] = []
    for number in lines:
        if number in model.entries:
            acl, entry = model.entries[number]
            if not entry.tests_ds:
                continue
            clause = next((model.rm_matches[n] for n in lines if n in model.rm_matches
                           and any(m.kind == "acl" and acl.name in m.refs and (m.family == 6) == (acl.family == 6)
                                   for m in model.rm_matches[n][1].matches)),
                          None)
            crit_class = next((n for n in lines if n in model.criteria and model.criteria[n][1].kind == "acl"
                               and model.criteria[n][1].ref == acl.name), None)
            if clause is not None:
                found.append(("clause",) + clause)
            elif crit_class is not None:
                cm = model.criteria[crit_class][0]
                found.extend(("class",) + model.classes[n] for n in lines
                             if n in model.classes and model.classes[n][1].name == cm.name)
            else:
                found.append(("entry", acl, entry))
        elif number in model.criteria:
            cm, crit = model.criteria[number]
            if crit.kind not in ("dscp", "precedence"):
                continue
            found.extend(("class",) + model.classes[n] for n in lines
                         if n in model.classes and model.classes[n][1].name == cm.name)
    return found


def plan(fleet: Fleet, conflicts: t.Sequence[Conflict], options: Options) -> Planned:
    """Per router on a conflict's path: its mechanisms removed, then the marking that only fed them."""
    changes: list[HostChange] = []
    windows: list[Window] = []
    for router, here in by_router(fleet, conflicts):
        host = router.host.host
        text = ConfigText(router.host.text)
        model = RouterModel(router, text)
        removal = _Removal(model)
        dscps = sorted({c.dscp for c in here})
        seen: set[tuple[t.Any, ...]] = set()
        for conflict in here:
            mechanisms = _mechanisms(model, conflict)
            if not mechanisms:
                removal.notes.append("DSCP %d %s on %s: no line on its path tests the DS byte in a way this plan "
                                     "can remove; left as it is" % (conflict.dscp, conflict.treatment.action,
                                                                    conflict.treatment.interface))
            for mechanism in mechanisms:
                key = (mechanism[0], id(mechanism[1]), id(mechanism[2]))
                if key in seen:
                    continue
                seen.add(key)
                if mechanism[0] == "clause":
                    removal.remove_clause(mechanism[1], mechanism[2], conflict.dscp)
                elif mechanism[0] == "entry":
                    removal.remove_entry(mechanism[1], mechanism[2], conflict.dscp)
                else:
                    pm, cls = mechanism[1], mechanism[2]
                    removal.lost.append("policy-map %s class %s (%s) no longer %s traffic with DSCP %s" % (
                        pm.name, cls.name, criteria_words(model.config.class_maps.get(cls.name)),
                        class_action_words(cls), dsfield.dscp_label(conflict.dscp)))
                    removal.remove_class(pm, cls, "it %s DSCP %d" % (class_action_words(cls), conflict.dscp))
        # The router's own marking of the same codepoint only fed what just went: it goes too,
        # unless something left on this router still tests that codepoint.
        for dscp in dscps:
            if model.tests(dscp):
                for line, line_text in model.tests(dscp):
                    removal.kept.append("DSCP %d marking kept: line %d still tests it (%s)" % (dscp, line, line_text))
                continue
            fed = "the %s removed above" % ("policy routing" if any(a.what.startswith("route-map") for a in
                                                                    removal.actions) else "drop")
            for pm, cls, line in markers(model, dscp):
                removal.remove_marker(pm, cls, line, dscp, fed)
        candidate = text.render(0)
        stages = (Stage("detach the policy from the interfaces, then delete what only it used", candidate),) \
            if candidate != router.host.text else ()
        change = HostChange(host, "ios", router.host.managed, router.host.source, router.host.text, stages,
                            actions=tuple(removal.actions), protections_lost=tuple(dict.fromkeys(removal.lost)),
                            kept=tuple(dict.fromkeys(removal.kept)), notes=tuple(removal.notes))
        changes.append(change)
        windows.extend(_windows(change, removal.detached_route_maps))
    return Planned(tuple(changes), tuple(windows))


def _list_words(acl: Acl) -> str:
    return "ipv6 access-list" if acl.family == 6 else "access-list"


def routing_words(route_maps: t.Sequence[RouteMap]) -> str:
    """What the route-maps do to a packet their clauses match, in words: 'to Null0', 'to next hop 192.0.2.9'.

    Only permit clauses that match an access list count (a missing list makes exactly those
    clauses match every packet); set clauses for routing protocols change nothing for policy
    routing and are left out.
    """
    said: list[str] = []
    for route_map in route_maps:
        for clause in route_map.clauses:
            if not clause.permit or not any(match.kind == "acl" for match in clause.matches):
                continue
            parts = [words for words in (_set_words(item) for item in clause.sets) if words]
            sets = " and ".join(parts) or "routed as the routing table says (no set clause that policy-routes)"
            said.append("route-map %s: %s" % (route_map.name, sets) if len(route_maps) > 1 else sets)
    return "; ".join(dict.fromkeys(said)) or "routed as the routing table says (no permit clause matching a list)"


def _set_words(item: RouteMapSet) -> str | None:
    """One set clause as what it does to the packet (None: nothing policy routing does)."""
    targets = " or ".join(item.args)
    if item.kind == "interface":
        return "to %s" % targets
    if item.kind == "next-hop":
        return "to next hop %s" % targets
    if item.kind == "default-interface":
        return "to %s where the routing table has no route" % targets
    if item.kind == "default-next-hop":
        return "to next hop %s where the routing table has no route" % targets
    if item.kind == "rewrite":
        return "re-marked by `%s`" % item.source.text.strip()
    if item.kind == "routing":
        return None
    return "with `%s` applied (not modeled)" % item.source.text.strip()


def _windows(change: HostChange, detached_route_maps: t.Sequence[RouteMap]) -> list[Window]:
    """The moments between this router's commands, and the order that keeps each of them safe."""
    windows = []
    detached = [a for a in change.actions if a.verb == "detach"]
    removed = [a for a in change.actions if a.verb == "remove"]
    pbr = [a for a in detached if a.what.startswith("route-map")]
    marking = [a for a in detached if a.what.startswith("policy-map")]
    if detached and removed:
        dangers = []
        if pbr:
            # Say what the route-map really sets: the founding incident's sends to Null0, another
            # may set a next hop or only re-mark.
            dangers.append("a route-map matching a missing access list matches every packet, so every packet "
                           "arriving on the interface would be policy-routed (%s here) until the interface "
                           "line goes" % routing_words(detached_route_maps))
        if marking:
            dangers.append("IOS refuses to delete a policy-map (or a class-map a policy names) while it is "
                           "attached, and the remaining commands would run against a half-removed policy")
        windows.append(Window(
            between="%s, between detaching (%s) and deleting (%s)" % (
                change.host, "; ".join(a.what for a in detached), "; ".join(a.what for a in removed)),
            meanwhile="deleted the other way round, an interface would still use a missing object: %s"
                      % "; ".join(dangers or ["an access list applied to an interface would vanish under it"]),
            order="interfaces let go first (`no ip policy route-map`, `no service-policy`); then route-maps "
                  "and policy-maps; then the class-maps and access lists they named"))
    elif removed:
        windows.append(Window(
            between="%s: %s" % (change.host, "; ".join(a.what for a in removed)),
            meanwhile="each command removes one line of a definition that stays in use: the treatment of the "
                      "marked traffic changes at that command, nothing else does",
            order="entries leave an access list by sequence number inside `ip access-list`, never with "
                  "`no access-list N ...`, which deletes the whole numbered list"))
    if pbr and marking:
        windows.append(Window(
            between="%s, between the two interface lines" % change.host,
            meanwhile="after the policy routing is detached and before the marking policy is, traffic the "
                      "marking class catches is still marked but no longer dropped: already the new treatment",
            order="either order is safe; the commands detach in running-config order"))
    return windows


def risks(changes: t.Sequence[HostChange], codepoints: t.Sequence[Codepoint]) -> list[str]:
    """Every protection that goes with the removed policy, per host."""
    return ["%s: %s" % (change.host, lost) for change in changes for lost in change.protections_lost]


STRATEGY = Strategy("remove_policy", "Remove the policy that drops the marked traffic",
                    "takes out the treatment that depends on the DS byte", plan, risks)
