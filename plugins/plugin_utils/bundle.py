# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change bundles: one folder per strategy, ready for change control.

    summary = write_bundles(findings, collections, report_dir, {"dscp": None})

writes, under `<report_dir>/changes/`:

    summary.json                  every strategy: clean or not, hosts, files (what a playbook reads)
    <strategy>/CHANGE.md          summary, evidence chain, the options compared, steps,
                                  pre-checks, post-checks, rollback
    <strategy>/plan.json          the same plan as data: commands, rollback, checks per host
    <strategy>/<host>.commands    configuration commands, in the order to apply them (managed hosts)
    <strategy>/<host>.rollback    commands that restore today's configuration (managed hosts)
    <strategy>/<host>.diff        unified diff of the configuration, before and after
    <strategy>/<host>.candidate   the whole configuration after the change (for review and diff only)
    <strategy>/<host>.request.md  for a host we do not manage: the request to its owner

The plan comes from the pure core (module_utils/remediation/plan.py), the IOS commands from
hier_config through hier.py, the text from the Jinja2 templates in roles/remediate/templates, found
through templates.templates_dir (which get finished data: no arithmetic there).  Every file passes through redact() on its way
out, although the collected texts are already redacted.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import typing as t

import jinja2

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield, platforms
from ansible_collections.diffserv.audit.plugins.module_utils.errors import QUOTE_LIMIT, quote
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Findings, as_findings
from ansible_collections.diffserv.audit.plugins.module_utils.forking import computed_shared, worth_forking
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact, redact_data, redact_derived, redact_sealed
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.plugin_utils import hier
from ansible_collections.diffserv.audit.plugins.plugin_utils.templates import templates_dir

TEMPLATES = templates_dir("remediate")
SUFFIXES = ("commands", "rollback", "diff", "candidate")


def environment(templates: str | os.PathLike[str] = TEMPLATES) -> jinja2.Environment:
    """The Jinja2 environment of the bundle templates (strict: a missing value is an error)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def hosts_from_collections(collections: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, core.HostText]:
    """`diffserv_collection` results (plugins/action/collect.py) -> the texts the plan reads."""
    hosts: dict[str, core.HostText] = {}
    for host, collection in collections.items():
        if not collection:
            continue
        # The item the strategies plan from: the running-config, the (IPv4) iptables-save dump, or an
        # IPv6-only firewall's ip6tables-save dump; a host with both dumps has its IPv6 one beside (`ipv6`).
        driver = platforms.driver(collection["platform"])
        item = driver.planned_item(collection.get("files", []))
        if item is not None:
            managed = bool(collection.get("managed", True))
            companion = driver.companion_item(collection.get("files", []))
            # Redacted again unless the text still carries collect's seal (redact_sealed): a belt for texts
            # that did not come from collect as they are.
            ipv6 = core.HostText(host, collection["platform"], _redacted(companion), companion["source"], managed) \
                if companion is not None else None
            hosts[host] = core.HostText(host, collection["platform"], _redacted(item), item["source"], managed, ipv6)
    return hosts


def _redacted(item: t.Mapping[str, t.Any]) -> str:
    """A collected file's text as the plan may read it."""
    return redact_sealed(item["text"], item.get("redacted"))


def options_from(given: t.Mapping[str, t.Any] | None) -> core.Options:
    """Task arguments or role variables -> plan options (None means the default)."""
    given = {key: value for key, value in (given or {}).items() if value is not None}
    dscp = given.get("dscp")
    if dscp is not None and not isinstance(dscp, int):
        dscp = dsfield.parse_dscp(str(dscp))
    strategies = tuple(given.get("strategies") or core.STRATEGIES)
    unknown = [s for s in strategies if s not in core.STRATEGIES]
    if unknown:
        raise core.PlanError("unknown strategy %s (known: %s)" % (", ".join(unknown), ", ".join(core.STRATEGIES)))
    return core.Options(dscp=dscp, strategies=strategies,
                        boundary_policy=given.get("boundary_policy", core.Options.boundary_policy),
                        backend=given.get("backend", "auto"), tos_semantics=given.get("tos_semantics", "auto"))


def plan_all(findings: Findings, hosts: t.Mapping[str, core.HostText],
             options: core.Options, fleet: t.Any = None) -> tuple[core.Plan, ...]:
    """Every strategy, with hier_config's commands for the IOS hosts (on `fleet`, the audited models, when given)."""
    return core.plan_remediation(findings, hosts, options, hier.staged_commands, fleet=fleet)


# ---------------------------------------------------------------------- context (finished data)
def _numbered(lines: t.Iterable[tuple[int | None, str]]) -> list[str]:
    # Quoted input lines are bounded: CHANGE.md names a rule, it does not copy its 50 MiB comment.
    return ["%4s  %s" % (number if number is not None else "", quote(text.rstrip(), exact=True))
            for number, text in lines]


def _shown_commands(commands: t.Iterable[str]) -> list[str]:
    """Commands as CHANGE.md, request.md and plan.json show them: each line bounded.  The files
    `<host>.commands` and `<host>.rollback` hold them whole; they are what is applied."""
    return [_prose(command) for command in commands]


def _prose(text: str) -> str:
    """One sentence or command of the plan as shown: it may quote an input line, so it is bounded."""
    return quote(text, 4 * QUOTE_LIMIT, exact=True)


def _said(texts: t.Iterable[str]) -> list[str]:
    """The planner's notes as shown, each bounded."""
    return [_prose(text) for text in texts]


def _conflict_title(conflict: t.Mapping[str, t.Any]) -> str:
    treatment = conflict.treatment
    return "DSCP %s %s on %s %s (%s)" % (
        dsfield.dscp_label(conflict.dscp), treatment.action, treatment.host, treatment.interface,
        conflict.severity)


def _evidence(findings: Findings) -> list[dict[str, t.Any]]:
    chains = []
    for conflict in findings.conflicts:
        marker, treatment = conflict.marker, conflict.treatment
        chains.append({
            "title": _conflict_title(conflict),
            "marker": "%s, `%s` line %d (table %s, chain %s; %s backend, %s TOS semantics)" % (
                marker.host, marker.file, marker.line, marker.table, marker.chain,
                marker.backend, marker.tos_semantics),
            "rule": marker.rule,
            "byte": conflict.describe,
            "flows": [flow.words for flow in conflict.flows],
            "router": "%s, packets entering %s%s: **%s**; the same flow unmarked is %s" % (
                treatment.host, treatment.interface,
                " (leaving by %s)" % ", ".join(treatment.out_interfaces) if treatment.out_interfaces else "",
                treatment.action, treatment.unmarked_action),
            "lines": _numbered((line.line, line.text) for line in treatment.lines),
            "file": treatment.file,
            "assumed": conflict.path_assumed,
        })
    return chains


def _problem(findings: Findings) -> list[str]:
    groups: dict[tuple, list[int]] = {}
    for conflict in findings.conflicts:
        key = (conflict.marker.host, conflict.describe, conflict.treatment.host,
               conflict.treatment.interface, conflict.treatment.action)
        groups.setdefault(key, []).append(conflict.marker.line)
    return ["%s writes %s (rule line%s %s); %s reads it as a DSCP and the traffic is %s on %s, where the same "
            "traffic unmarked is forwarded" % (fw, describe, "s" if len(lines) > 1 else "",
                                               ", ".join(map(str, sorted(lines))), router, action, interface)
            for (fw, describe, router, interface, action), lines in groups.items()]


def _recheck_text(recheck: core.Recheck | None, refused: str | None) -> str:
    if refused:
        return "not planned: %s" % refused
    if recheck is None:
        return "not re-audited"
    if recheck.clean:
        return "clean: no conflict and no error"
    parts = ["%s remaining" % _count(len(recheck.conflicts), "conflict")] if recheck.conflicts else []
    if recheck.errors:
        parts.append("%s" % _count(len(recheck.errors), "error"))
    return "not clean: " + ", ".join(parts)


def _count(number: int, word: str) -> str:
    return "%d %s%s" % (number, word, "" if number == 1 else "s")


def _both_dumps(plan: core.Plan, change: core.HostChange) -> bool:
    """Whether the change is one of two in the plan for its host: a firewall collected with both dumps, each
    changed."""
    return sum(1 for other in plan.changes if other.host == change.host) > 1


def stem(plan: core.Plan, change: core.HostChange) -> str:
    """What a change's files are called: its host, or `<host>.ipv6` for the IPv6 dump of a firewall collected with
    both dumps whose two dumps both change in this plan (the IPv4 one keeps the host's name)."""
    if change.family == 6 and _both_dumps(plan, change):
        return "%s.ipv6" % change.host
    return change.host


def _shown_host(plan: core.Plan, change: core.HostChange) -> str:
    """A change's host as CHANGE.md names it: the host, and which dump where it has two changes."""
    return change.host if stem(plan, change) == change.host else "%s (IPv6 dump, ip6tables)" % change.host


def _files(plan: core.Plan, change: core.HostChange) -> list[str]:
    if not change.changed:
        return []
    name = stem(plan, change)
    if change.managed:
        return ["%s.%s" % (name, suffix) for suffix in SUFFIXES]
    return ["%s.request.md" % name, "%s.diff" % name, "%s.candidate" % name]


def _check_rows(checks: t.Iterable[core.Check], phase: str) -> list[dict[str, t.Any]]:
    return [{"command": _prose(check.command), "expect": _said(check.expect), "why": check.why}
            for check in checks if check.phase == phase]


def _change_rows(plan: core.Plan) -> list[dict[str, t.Any]]:
    rows = []
    for change in plan.changes:
        purposes = [stage.purpose for stage in change.stages]
        blocks = list(change.command_blocks)
        stages = []
        for index, block in enumerate(blocks):
            stages.append({"number": index + 1, "purpose": purposes[index] if index < len(purposes) else "",
                           "commands": _shown_commands(block)})
        rows.append({
            "host": _shown_host(plan, change),
            "stem": stem(plan, change),
            "platform": change.platform,
            "managed": change.managed,
            "changed": change.changed,
            "apply": change.apply,
            "source": change.source,
            "actions": [{"verb": action.verb, "what": _prose(action.what), "why": _prose(action.why),
                         "lines": _numbered(action.lines)} for action in change.actions],
            "lost": _said(change.protections_lost),
            "kept": _said(change.kept),
            "notes": _said(change.notes),
            "stages": stages,
            "commands": _shown_commands(change.commands),
            "rollback": _shown_commands(change.rollback),
            "pre": _check_rows(change.checks, core.PRE),
            "post": _check_rows(change.checks, core.POST),
            "files": _files(plan, change),
        })
    return rows


def _option_rows(plans: t.Sequence[core.Plan], current: core.Plan) -> list[dict[str, t.Any]]:
    return [{
        "strategy": plan.strategy,
        "title": plan.title,
        "this": plan.strategy == current.strategy,
        "fixes": plan.fixes if not plan.refused else "not planned: %s" % plan.refused,
        "risks": list(plan.risks),
        "windows": [{"between": w.between, "meanwhile": w.meanwhile, "order": w.order} for w in plan.windows],
        "recheck": _recheck_text(plan.recheck, plan.refused),
        "recheck_managed": _recheck_text(plan.recheck_managed, plan.refused),
        "hosts": ", ".join(dict.fromkeys(change.host for change in plan.changes if change.changed)) or "none",
    } for plan in plans]


def change_context(plan: core.Plan, plans: t.Sequence[core.Plan], findings: Findings) -> dict[str, t.Any]:
    """Everything CHANGE.md shows, as finished strings and lists."""
    remaining = [_conflict_title(c) for c in (plan.recheck.conflicts if plan.recheck else ())]
    remaining += ["%s: %s" % (e.host or "-", e.reason) for e in (plan.recheck.errors if plan.recheck else ())]
    return {
        "strategy": plan.strategy,
        "title": plan.title,
        "audited": ", ".join(sorted(set(findings.firewalls) | set(findings.routers))) or "none",
        "conflict_count": _count(len(findings.conflicts), "conflict"),
        "problem": _problem(findings),
        "fixes": plan.fixes,
        "refused": plan.refused,
        "clean": plan.clean,
        "recheck": _recheck_text(plan.recheck, plan.refused),
        "recheck_managed": _recheck_text(plan.recheck_managed, plan.refused),
        "remaining": remaining,
        "stage_problems": list(plan.stage_problems),
        "evidence": _evidence(findings),
        "options": _option_rows(plans, plan),
        "changes": _change_rows(plan),
        "codepoints": [{"old": dsfield.dscp_label(c.old), "new": dsfield.dscp_label(c.new) if c.new is not None else None,
                        "reasons": _said(c.reasons), "residual": _said(c.residual), "override": c.override,
                        "refused": c.refused} for c in plan.codepoints],
        "windows": [{"between": w.between, "meanwhile": w.meanwhile, "order": w.order} for w in plan.windows],
        "risks": list(plan.risks),
    }


def request_context(plan: core.Plan, change: core.HostChange, findings: Findings) -> dict[str, t.Any]:
    """What the owner of a host we do not manage needs: which rule, why, the replacement, how to check and undo."""
    conflicts = [c for c in findings.conflicts if change.host in (c.marker.host, c.treatment.host)]
    if _both_dumps(plan, change):
        # One request for each dump of a firewall with both: the rules and effects of that dump's family.
        conflicts = [c for c in conflicts if c.family == change.family]
    effects = sorted({"%s, %s: traffic arriving with %s is %s; the same traffic unmarked is %s" % (
        c.treatment.host, c.treatment.interface, c.describe, c.treatment.action,
        c.treatment.unmarked_action) for c in conflicts})
    return {
        "host": change.host,
        "strategy": plan.strategy,
        "title": plan.title,
        "platform": change.platform,
        "source": change.source,
        "rules": sorted({"%4d  %s" % (c.marker.line, c.marker.rule) for c in conflicts
                         if c.marker.host == change.host}),
        "router_lines": list(dict.fromkeys(line for c in conflicts if c.treatment.host == change.host
                                           for line in _numbered((step.line, step.text)
                                                                 for step in c.treatment.lines))),
        "effects": effects,
        "flows": sorted({flow.words for c in conflicts for flow in c.flows}),
        "actions": [{"verb": a.verb, "what": _prose(a.what), "why": _prose(a.why),
                     "lines": _numbered(a.lines)} for a in change.actions],
        "notes": _said(change.notes),
        "commands": _shown_commands(change.commands),
        "rollback": _shown_commands(change.rollback),
        "diff": core.unified_diff(change.running, change.candidate, change.host),
        "pre": _check_rows(change.checks, core.PRE),
        "post": _check_rows(change.checks, core.POST),
    }


# ---------------------------------------------------------------------- files
def render_bundle(plan: core.Plan, plans: t.Sequence[core.Plan], findings: Findings,
                  env: jinja2.Environment | None = None, data: dict[str, t.Any] | None = None) -> dict[str, str]:
    """File name -> content for one strategy's folder (nothing written); `data` is plan_data(plan) when made already."""
    env = env or environment()
    files: dict[str, str] = {"CHANGE.md": env.get_template("CHANGE.md.j2").render(change_context(plan, plans, findings))}
    # The text each candidate was made from: redaction reads the candidate where it differs (redact_derived).
    made_from: dict[str, str] = {}
    for change in plan.changes:
        if not change.changed:
            continue
        name = stem(plan, change)
        files["%s.diff" % name] = core.unified_diff(change.running, change.candidate, name)
        files["%s.candidate" % name] = change.candidate if change.candidate.endswith("\n") \
            else change.candidate + "\n"
        made_from["%s.candidate" % name] = change.running
        if change.managed:
            template = env.get_template("%s/commands.j2" % change.platform)
            files["%s.commands" % name] = template.render(lines=list(change.commands))
            files["%s.rollback" % name] = template.render(lines=list(change.rollback))
        else:
            files["%s.request.md" % name] = env.get_template("request.md.j2").render(
                request_context(plan, change, findings))
    files["plan.json"] = json.dumps(data if data is not None else plan_data(plan), indent=2, sort_keys=True) + "\n"
    # Belt and braces: the texts were redacted when collected.
    return {name: redact_derived(text, made_from[name]) if name in made_from else redact(text)
            for name, text in files.items()}


def plan_data(plan: core.Plan) -> dict[str, t.Any]:
    """A plan as JSON-ready data: what a remediate playbook needs to apply or check it."""
    return redact_data({
        "strategy": plan.strategy,
        "title": plan.title,
        "clean": plan.clean,
        "refused": plan.refused,
        "fixes": plan.fixes,
        "recheck": _recheck_data(plan.recheck),
        "recheck_managed": _recheck_data(plan.recheck_managed),
        "stage_problems": list(plan.stage_problems),
        "codepoints": [{"old": c.old, "new": c.new, "override": c.override, "refused": c.refused}
                       for c in plan.codepoints],
        "hosts": _hosts_data(plan),
    })


def _host_data(plan: core.Plan, change: core.HostChange) -> dict[str, t.Any]:
    return {
        "platform": change.platform,
        "managed": change.managed,
        "changed": change.changed,
        "apply": change.apply,
        # Shown bounded; the .commands/.rollback files (in `files`) hold every line whole.
        "commands": _shown_commands(change.commands) if change.managed else [],
        "rollback": _shown_commands(change.rollback) if change.managed else [],
        "request": [] if change.managed else _shown_commands(change.commands),
        "stages": [stage.purpose for stage in change.stages],
        "checks": [{"phase": c.phase, "command": _prose(c.command), "expect": _said(c.expect), "why": c.why}
                   for c in change.checks],
        "files": _files(plan, change),
    }


def _hosts_data(plan: core.Plan) -> dict[str, dict[str, t.Any]]:
    """Per host, its change; a firewall whose two dumps both change: the IPv4 one's, with the IPv6 one's under
    `ipv6` (its own commands, rollback and checks) and the host's flags and files covering both."""
    hosts: dict[str, dict[str, t.Any]] = {}
    for change in plan.changes:
        entry = _host_data(plan, change)
        known = hosts.get(change.host)
        hosts[change.host] = entry if known is None else dict(
            known, changed=known["changed"] or entry["changed"], apply=known["apply"] or entry["apply"],
            files=known["files"] + entry["files"], ipv6=entry)
    return hosts


def _recheck_data(recheck: core.Recheck | None) -> dict[str, t.Any] | None:
    if recheck is None:
        return None
    return {"scope": recheck.scope, "clean": recheck.clean, "conflicts": len(recheck.conflicts),
            "errors": [e.get("reason") for e in recheck.errors]}


def _render_cost(plan: core.Plan) -> int:
    """What a folder costs to render, roughly: the texts of its changed hosts (diffs, candidates, redaction)."""
    return sum(len(change.running) + len(change.candidate) for change in plan.changes if change.changed) + 1


# What a task result's bundle summary leaves to changes/summary.json with result_findings=summary: the lists per
# host and per file (a 1,000-device fleet's summary is 640 KB; Ansible copies a result into later tasks' variables).
SUMMARY_ONLY_IN_FILE = ("hosts", "files")


def result_summary(summary: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """changes/summary.json without its per-host and per-file lists: the folder, the conflicts, and each
    strategy's title, folder, re-audits, stage problems and refusal, what the reports say of a bundle."""
    kept = {key: value for key, value in summary.items() if key not in SUMMARY_ONLY_IN_FILE}
    kept["strategies"] = {name: {key: value for key, value in strategy.items() if key not in SUMMARY_ONLY_IN_FILE}
                          for name, strategy in (summary.get("strategies") or {}).items()}
    return kept


def write_bundles(findings: Findings | t.Mapping[str, t.Any], collections: t.Mapping[str, t.Mapping[str, t.Any]],
                  report_dir: str, options: t.Mapping[str, t.Any] | None = None, *, write: bool = True,
                  loaded: t.Any = None) -> dict[str, t.Any]:
    """Plan every strategy for the audited fleet and write one bundle folder per strategy.

    `findings`: what analysis.analyze returned, typed or as the analyze action's `findings` data.
    `collections`: host -> the `diffserv_collection` the collect action returned.
    `options`: dscp (override, `diffserv_dscp`), strategies, boundary_policy, backend, tos_semantics.
    `write=False` plans and renders but writes nothing (check mode).
    `loaded`: the loader.Fleet the audit built, so the planner parses nothing again.
    Returns the summary also written to `<report_dir>/changes/summary.json`.
    """
    findings = as_findings(findings)
    hosts = hosts_from_collections(collections)
    fleet = core.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls, loaded.joins) \
        if loaded is not None else None
    plans = plan_all(findings, hosts, options_from(options), fleet)
    root = os.path.join(report_dir, "changes")
    env = environment()
    summary: dict[str, t.Any] = {
        "folder": root,
        "conflicts": len(findings.conflicts),
        "hosts": {name: {"platform": h.platform, "managed": h.managed} for name, h in sorted(hosts.items())},
        "strategies": {},
    }

    def render(plan: core.Plan) -> dict[str, t.Any]:
        """One strategy's folder rendered (and written unless in check mode); its summary entry."""
        data = plan_data(plan)
        files = render_bundle(plan, plans, findings, env, data)
        folder = os.path.join(root, plan.strategy)
        if write:
            os.makedirs(folder, mode=0o750, exist_ok=True)
            for name, text in files.items():
                with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                    handle.write(text)
        return {
            "title": plan.title,
            "folder": folder,
            "clean": plan.clean,
            "refused": plan.refused,
            "recheck": data["recheck"],
            "recheck_managed": data["recheck_managed"],
            "stage_problems": data["stage_problems"],
            "files": sorted(files),
            "hosts": {name: {key: host[key] for key in ("platform", "managed", "changed", "apply", "files")}
                      for name, host in data["hosts"].items()},
        }

    # A fleet's bundles are rendered on two cores: a forked child and this process each take the next folder nobody
    # has taken, costliest first (the texts of the hosts each changes), and the child hands back its summary
    # entries (a failed child's folders are rendered here).  Taken as they come, not in fixed shares: a folder's
    # cost is more than its texts (a 1,000-device fleet's remark_boundary renders 1.4 s, 14 MB of CHANGE.md and
    # 10 MB of plan.json), and fixed shares of equal texts ended 0.8 s apart.
    by_name = {plan.strategy: plan for plan in plans}
    if worth_forking(len(hosts), len(plans), sum(len(host.text) for host in hosts.values())):
        costliest_first = [plan.strategy for plan in sorted(plans, key=_render_cost, reverse=True)]
        entries = computed_shared(costliest_first, lambda name: render(by_name[name]),
                                  lambda _name, entry: isinstance(entry, dict))
    else:
        entries = {name: render(plan) for name, plan in by_name.items()}
    for plan in plans:
        summary["strategies"][plan.strategy] = entries[plan.strategy]
    if write:
        os.makedirs(root, mode=0o750, exist_ok=True)
        with open(os.path.join(root, "summary.json"), "w", encoding="utf-8") as handle:
            handle.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
