# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strategy ``remark_boundary``: clear the DS field where traffic enters from outside.

On the router, `set dscp default` in class-default of the interface's input policy, before
anything acts on the byte (IOS marks before it policy-routes): merged into the policy attached,
into a copy of it when other interfaces share it, or in a new policy when none is attached.  On
a firewall we manage (or as a request to one we do not), a clearing placed after every write on the
way out, written by the firewall platform's writer (platforms/base.py `firewall_writer`): a
`DSCP --set-dscp 0` rule in mangle POSTROUTING (iptables.py), an `ip dscp set cs0` chain on the
postrouting hook at a priority after every writing base chain (nftables.py); each writer proves its
placement with the marking map of the changed ruleset.

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import PolicyMap
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import iptables as ipt
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    Action, Codepoint, HostChange, Planned, Stage, Strategy, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Firewall, Fleet, Router
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.router import RouterModel, by_router
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import ConfigText, dscp_clear_syntax

if t.TYPE_CHECKING:  # pragma: no cover - annotations only (the registry imports this module)
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options


def _boundary_ios(router: Router, interfaces: t.Sequence[str], options: Options,
                  dscps: t.Sequence[int], families: t.Collection[int] = (4,)) -> HostChange:
    text = ConfigText(router.host.text)
    model = RouterModel(router, text)
    config = router.config
    actions: list[Action] = []
    notes: list[str] = []
    kept: list[str] = []
    for name in interfaces:
        iface = config.interface(name)
        attached = iface.policy_in
        if iface.acl_in is not None:
            acl = config.acls.get(iface.acl_in.name)
            testing = [e for e in (acl.entries if acl else ()) if e.tests_ds]
            if testing:
                notes.append("%s: input access-list %s tests the DS byte (line %d) before any input policy can "
                             "clear it (IOS order of operations): this boundary cannot protect that line" % (
                                 iface.name, acl.name if acl else "?", testing[0].source.line))
        if attached is not None and attached.name in config.policy_maps:
            pm = config.policy_maps[attached.name]
            block_lines = [text.line(n) for n in text.block(pm.source.line)]
            syntax = dscp_clear_syntax(router.host.text, block_lines, families)
            elsewhere = [u for u in model.users("policy-map", pm.name) if not u.startswith("%s in " % iface.name)]
            for cls in pm.classes:
                for action in cls.actions:
                    rewrite = action.rewrite
                    if cls.name != "class-default" and rewrite is not None and rewrite.value >> 2 in dscps:
                        kept.append(
                            "class %s of policy-map %s still marks DSCP %d: a packet matches one class only, so the "
                            "traffic it catches keeps its marking and its treatment (the protection stays), while "
                            "class-default catches everything else and clears it before policy routing" % (
                                cls.name, pm.name, rewrite.value >> 2))
            if elsewhere:
                _boundary_copy(text, iface, pm, syntax, elsewhere, actions)
            else:
                _boundary_merge(text, pm, syntax, actions, iface.name)
        else:
            _boundary_new(text, model, iface, options, actions, families)
    candidate = text.render(0)
    stages = (Stage("clear the DS field of traffic entering from outside, before anything acts on it", candidate),)
    return HostChange(router.host.host, "ios", router.host.managed, router.host.source, router.host.text, stages,
                      actions=tuple(actions), kept=tuple(kept), notes=tuple(notes))


def _boundary_merge(text: ConfigText, pm: PolicyMap, syntax: str, actions: list[Action], iface: str) -> None:
    """class-default of the attached policy gets `set dscp default` (replacing a DS write there)."""
    default = next((c for c in pm.classes if c.name == "class-default" and not c.implicit), None)
    if default is not None:
        rewrite = next((a for a in default.actions if a.kind == "rewrite"), None)
        if rewrite is not None:
            raw = text.line(rewrite.source.line)
            indent = raw[:ConfigText.indent_of(raw)]
            text.replace(rewrite.source.line, indent + syntax)
            actions.append(Action("change", "class-default of policy-map %s (input of %s)" % (pm.name, iface),
                                  ((rewrite.source.line, raw.strip()),),
                                  "class-default now clears the DS field instead"))
            return
        last = text.block(default.source.line)[-1]
        indent = " " * text.child_indent(default.source.line)
        text.insert_after(last, [indent + syntax])
        actions.append(Action("add", "%s in class-default of policy-map %s (input of %s)" % (syntax, pm.name, iface),
                              ((default.source.line, text.line(default.source.line).strip()),),
                              "traffic no other class matches leaves class-default with DSCP 0"))
        return
    block = text.block(pm.source.line)
    class_indent = text.child_indent(pm.source.line)
    set_indent = class_indent + 1
    if len(block) > 2:
        set_indent = text.indent_of(text.line(block[2])) if text.indent_of(text.line(block[2])) > class_indent \
            else class_indent + 1
    text.insert_after(block[-1], [" " * class_indent + "class class-default", " " * set_indent + syntax])
    actions.append(Action("add", "class class-default / %s in policy-map %s (input of %s)" % (syntax, pm.name, iface),
                          ((pm.source.line, pm.source.text),),
                          "an interface takes one input policy: the clearing is merged into the one attached"))


def _boundary_copy(text: ConfigText, iface: t.Any, pm: PolicyMap, syntax: str, elsewhere: list[str],
                   actions: list[Action]) -> None:
    """The attached policy is shared: a copy with the clearing, for this interface only."""
    name = "%s-%s" % (pm.name, re.sub(r"[^A-Za-z0-9]+", "-", iface.name).strip("-"))
    block = text.block(pm.source.line)
    copied = [text.line(n) for n in block]
    copied[0] = copied[0].replace(pm.name, name, 1)
    # Re-use the merge logic on a scratch text of the copy.
    scratch = ConfigText("\n".join(copied))
    scratch_pm = dataclasses.replace(pm, source=pm.source._replace(line=1), classes=tuple(
        dataclasses.replace(c, source=c.source._replace(line=c.source.line - pm.source.line + 1),
                            actions=tuple(dataclasses.replace(a, source=a.source._replace(
                                line=a.source.line - pm.source.line + 1)) for a in c.actions))
        for c in pm.classes if not c.implicit))
    _boundary_merge(scratch, scratch_pm, syntax, [], iface.name)
    text.insert_after(block[-1], ["!"] + scratch.render(0).split("\n"))
    line = iface.policy_in.source.line
    raw = text.line(line)
    text.replace(line, raw.replace(pm.name, name))
    actions.append(Action("add", "policy-map %s (a copy of %s with class-default clearing the DS field)" % (
        name, pm.name), ((pm.source.line, pm.source.text),),
        "%s is also used by %s, where clearing the DS field was not asked for" % (pm.name, ", ".join(elsewhere))))
    actions.append(Action("change", "input policy of %s" % iface.name, ((line, raw.strip()),),
                          "attach the copy instead"))


def _boundary_new(text: ConfigText, model: RouterModel, iface: t.Any, options: Options, actions: list[Action],
                  families: t.Collection[int] = (4,)) -> None:
    """No input policy yet: a new one with only class-default clearing the DS field."""
    name = options.boundary_policy
    while name in model.config.policy_maps:
        name += "-1"
    syntax = dscp_clear_syntax("\n".join(text.lines), (), families)
    first_interface = next(n for n, raw in enumerate(text.lines, 1) if raw.startswith("interface "))
    text.insert_before(first_interface, ["policy-map %s" % name, " class class-default", "  %s" % syntax, "!"])
    last = text.block(iface.source.line)[-1]
    text.insert_after(last, [" service-policy input %s" % name])
    actions.append(Action("add", "policy-map %s (class-default: %s)" % (name, syntax), (),
                          "%s has no input policy: a new one, created before it is attached" % iface.name))
    actions.append(Action("add", "service-policy input %s on %s" % (name, iface.name),
                          ((iface.source.line, iface.source.text),), "attach the new policy"))


# The lines a firewall rule follows, as ranges (remediation/iptables.py writes them in its actions).
_ranges = ipt.line_ranges


def plan(fleet: Fleet, conflicts: t.Sequence[Conflict], options: Options) -> Planned:
    """The routers on a conflict's path clear the byte on the way in; the marking firewalls on the way out."""
    changes = _changes(fleet, conflicts, options)
    return Planned(tuple(changes), _windows(changes))


def _changes(fleet: Fleet, conflicts: t.Sequence[Conflict], options: Options) -> list[HostChange]:
    changes: list[HostChange] = []
    for router, here in by_router(fleet, conflicts):
        interfaces = sorted({c.treatment.interface for c in here})
        changes.append(_boundary_ios(router, interfaces, options, sorted({c.dscp for c in here}),
                                     {c.family for c in here}))
    for host in sorted({c.marker.host for c in conflicts}):
        firewall = fleet.firewalls.get(host)
        if firewall is None:
            continue
        here = [c for c in conflicts if c.marker.host == host]
        egresses: set[str | None] = set()
        for conflict in here:
            egress = str(conflict.link.source).partition(":")[2]
            if egress and egress != "*":
                egresses.add(egress)
            else:
                for flow in conflict.flows:
                    outs = flow.out_interfaces
                    # Literal names only; "any other", "eth+ (other)" and the like stand for
                    # interfaces no rule names: then the rule takes no -o and clears every egress.
                    if isinstance(outs, list) and all(" " not in name and "(" not in name for name in outs):
                        egresses.update(outs)
                    else:
                        egresses.add(None)
        # The platform's writer plans the firewall's part (remediation/iptables.py, remediation/nftables.py): on
        # each dump whose family has conflicts here, the IPv4 and the IPv6 one of a host collected with both
        # (a family with no dump of its own to plan from is planned on the host's text, as it was audited).
        writer = platforms.driver(firewall.host.platform).firewall_writer()
        for dump, conflicts_there in _by_dump(firewall, here):
            changes.append(writer.boundary_change(dump, conflicts_there, egresses, fleet))
    return changes


def _by_dump(firewall: Firewall, here: t.Sequence[Conflict]) -> list[tuple[Firewall, list[Conflict]]]:
    """A firewall's conflicts by the dump that clears them: the one of their family beside the host's text
    (Firewall.beside), else the host's own text, which comes first."""
    dumps: dict[int | None, tuple[Firewall, list[Conflict]]] = {None: (firewall, [])}
    for conflict in here:
        beside = firewall.beside(conflict.family)
        dumps.setdefault(conflict.family if beside is not None else None, (beside or firewall, []))[1].append(conflict)
    return [(dump, conflicts_there) for dump, conflicts_there in dumps.values() if conflicts_there]


def _windows(changes: t.Sequence[HostChange]) -> tuple[Window, ...]:
    """Per host: none (one line or one rule), or between creating or copying a policy and attaching it (once per
    host: a firewall's two dumps open the same window)."""
    windows = []
    for change in changes:
        if not change.changed:
            continue
        if platforms.is_firewall(change.platform):
            windows.append(platforms.driver(change.platform).firewall_writer().boundary_window(change))
            continue
        if any(a.what.startswith("input policy of") for a in change.actions):
            windows.append(Window(
                between="%s, between `no service-policy input` and `service-policy input` of the copy" % change.host,
                meanwhile="no input policy: the router's own marking pauses (its filter lets that traffic through) "
                          "while traffic arriving marked is treated the old way",
                order="the copy is created before the interface switches to it; the switch is two commands"))
        elif any(a.what.startswith("policy-map ") and "class-default" in a.what for a in change.actions):
            windows.append(Window(
                between="%s, between creating the policy and attaching it" % change.host,
                meanwhile="nothing changes until the attach command; IOS refuses to attach a missing policy",
                order="the policy-map is created first, then attached"))
        else:
            windows.append(Window(between="%s, one line in class-default" % change.host,
                                  meanwhile="no window: the policy already attached gains one line",
                                  order="the line takes effect when typed"))
    return tuple(dict.fromkeys(windows))


def risks(changes: t.Sequence[HostChange], codepoints: t.Sequence[Codepoint]) -> list[str]:
    """Every partner marking cleared at the boundary, what the router keeps, and requests we cannot apply."""
    found: list[str] = []
    for change in changes:
        if platforms.is_router(change.platform) and change.changed:
            found.append("%s: every packet entering there that no other class matches loses its DSCP, including "
                         "markings a partner sets on purpose (EF for voice, for example): RFC 2474 leaves the "
                         "meaning of a codepoint to each domain, so this is the boundary doing its job, but it "
                         "is a visible change" % change.host)
            found.extend("%s: %s" % (change.host, kept) for kept in change.kept)
        if platforms.is_firewall(change.platform) and change.changed and not change.managed:
            found.append("%s is not ours: its part is a request to its owner and takes effect only if they "
                         "apply it" % change.host)
    return found


STRATEGY = Strategy("remark_boundary", "Clear the DS field at the administrative boundary",
                    "clears the DS field of traffic entering from outside before anything acts on it", plan, risks)
