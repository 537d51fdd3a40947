# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conflicts -> four strategies -> intended configurations, staged, re-audited.

For every conflict the audit finds, four ways out, each planned for every host it touches:

* ``remove_policy`` (remove_policy.py): take out the mechanism that treats the marked traffic
  differently (the route-map clause that null-routes it, the ACL entry that denies it, the
  policy class that drops, polices or re-marks it), then whatever only fed that mechanism (the
  router's own marking of the same codepoint), detaching before deleting and keeping anything
  still used elsewhere.  Says which protection goes with it.
* ``change_dscp`` (change_dscp.py): move the router's internal codepoint, and every line
  matching it, to a codepoint nobody else uses: pool 2 (xxxx11, experimental/local use),
  produced by no RFC 1349 TOS value with any precedence, marked and matched nowhere in the
  audited fleet.  Staged so no moment is worse than before or after: new matches first, then
  the marking, then the old matches go.
* ``remark_boundary`` (remark_boundary.py): clear the DS field where traffic enters from
  outside, before anything acts on it: `set dscp default` in class-default of the interface's
  input policy (IOS marks before it policy-routes), and on managed firewalls a
  `DSCP --set-dscp 0` rule placed after every write on the way out (iptables.py).
* ``exempt_flows`` (exempt_flows.py): exempt exactly the conflicting flows, as the router sees
  them, from what catches them (entries before the ACL entry, or `match not access-group` beside a
  class-map's own `match dscp`), and nothing else.

A plan is a list of `HostChange`s (model.py): the running text, the intended text after each
stage (the last one is the candidate) and, once `attach_commands` has been given hier_config's
output (plugins/plugin_utils/hier.py), the commands and rollback (checks.py).  Every candidate
is re-audited with `analysis.analyze` (reaudit.py; semantics.md, "What counts as a conflict"):
a plan is *clean* when the fleet with its candidates has no conflict and no error.
Intermediate stages are audited too: none may hold a conflict the running fleet did not have,
nor a reference to a missing object.

This module is the entry: it runs the registered strategies (strategies.py) and finishes their
changes; the names the action plugins, the bundle writer and the tests import stay importable
from here.

    plans = plan_remediation(findings, hosts, Options(), hier.staged_commands)

Standard library only; no `import ansible`, no hier_config.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import functools
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.forking import (
    FORK_MIN_HOSTS, computed_apart, computed_shared, worth_forking,
)
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Findings, as_findings
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.change_dscp import (
    choose_codepoint, codepoint_problems,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.checks import (
    IosPlanner, StagedCommandsLike, acl_sequence_checks, attach_commands, ios_checks,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    POST, PRE, Action, Check, Codepoint, HostChange, HostText, Plan, PlanError, Recheck, Stage, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import (
    Fleet, audit_texts, build_fleet, dangling_references, fleet_from_loaded, recheck, split_texts, stage_problems,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import (
    REGISTRY, STRATEGIES, TITLES, Options, strategy as registered,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import (
    ConfigText, unified_diff,
)

# What plugins/action/remediate.py, plugins/plugin_utils/bundle.py and the tests import from here.
__all__ = [
    "POST", "PRE", "REGISTRY", "STRATEGIES", "TITLES", "Action", "Check", "Codepoint", "ConfigText", "Fleet",
    "HostChange", "HostText", "IosPlanner", "Options", "Plan", "PlanError", "Recheck", "Stage",
    "StagedCommandsLike", "Window", "acl_sequence_checks", "attach_commands", "audit_texts", "build_fleet", "fleet_from_loaded",
    "choose_codepoint", "codepoint_problems", "dangling_references", "ios_checks", "plan_remediation",
    "plan_strategy", "recheck", "split_texts", "stage_problems", "unified_diff",
]

# The names this module had before it was split, for code that still uses them.
_Text = ConfigText
_Fleet = Fleet


def _fleet(findings: t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText], options: Options) -> Fleet:
    """Deprecated: build_fleet is the public way (plugins/action/remediate.py still calls this name)."""
    return build_fleet(findings, hosts, options)


def _fixes(does: str, recheck_all: Recheck | None, original: int) -> str:
    remaining = len(recheck_all.conflicts) if recheck_all is not None else original
    return "%s: %d of %d conflict(s) gone on re-audit" % (does, original - remaining, original)


def _risks(risks: t.Iterable[str], changes: t.Sequence[HostChange]) -> tuple[str, ...]:
    """The strategy's own risks, then every note that says a part cannot be done or was not moved."""
    found = list(risks)
    for change in changes:
        found.extend("%s: %s" % (change.host, note) for note in change.notes
                     if "cannot" in note or "not moved" in note or "not planned" in note)
    return tuple(dict.fromkeys(found))


def plan_strategy(strategy: str, fleet: Fleet, findings: Findings | t.Mapping[str, t.Any], options: Options,
                  ios_planner: IosPlanner | None = None) -> Plan:
    """One strategy for the whole fleet: changes per host, commands (if a planner is given), re-audit."""
    chosen = registered(strategy)
    conflicts = list(as_findings(findings).conflicts)
    planned = chosen.plan(fleet, conflicts, options)
    finished = []
    for change in planned.changes:
        if platforms.is_router(change.platform):
            change = dataclasses.replace(change, checks=ios_checks(change))
            if ios_planner is not None and change.changed:
                change = attach_commands(change, ios_planner(change.running, [s.text for s in change.stages]),
                                         fleet.config)
        finished.append(change)
    # Every audited host appears in the bundle, changed or not: a reviewer sees what stays as it is.
    planned_hosts = {change.host for change in finished}
    for name in fleet.audited:
        host = fleet.hosts.get(name)
        if host is not None and name not in planned_hosts:
            finished.append(HostChange(name, host.platform, host.managed, host.source, host.text, ()))
    recheck_all = recheck_managed = None
    problems: tuple[str, ...] = ()
    if planned.refused is None:
        recheck_all = recheck(fleet, finished, "all")
        recheck_managed = recheck(fleet, finished, "managed")
        problems = stage_problems(fleet, finished, conflicts)
    return Plan(strategy, chosen.title, tuple(finished), _fixes(chosen.does, recheck_all, len(conflicts)),
                _risks(chosen.risks(finished, planned.codepoints), finished), planned.windows, planned.codepoints,
                planned.refused, recheck_all, recheck_managed, problems)


# Below this many characters of text (and 16 hosts), each strategy but the first is planned in a child of its own.
SPREAD_MAX_BYTES = 8 << 20
# The order strategies are taken in when a child and this process share them: the costliest (on a fleet) first.
COSTLIEST_FIRST = ("change_dscp", "remark_boundary", "exempt_flows", "remove_policy")


def plan_remediation(findings: Findings | t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText],
                     options: Options | None = None, ios_planner: IosPlanner | None = None,
                     fleet: Fleet | None = None) -> tuple[Plan, ...]:
    """Every strategy asked for, planned for every host it touches and re-audited.

    `findings` is what analysis.analyze returned; `hosts` the collected texts of the audited
    hosts; `ios_planner(running, stage_texts)` returns IOS commands (hier.staged_commands);
    `fleet` the audited models when the caller already has them (reaudit.fleet_from_loaded).
    """
    options = options or Options()
    findings = as_findings(findings)
    fleet = fleet or build_fleet(findings, hosts, options)
    unknown = [name for name in options.strategies if name not in REGISTRY]
    if unknown:
        raise PlanError("unknown strategy %s (one of %s)" % (", ".join(unknown), ", ".join(STRATEGIES)))
    names = list(options.strategies)
    # Strategies are planned on both cores by forked children (they read the audited models without copying
    # them) that hand their plans back pickled. Which strategy costs most depends on the input, and each child
    # copies the pages of the heap it touches:
    # - a few hosts of a few MB (one 50,000-line router, 2.6 MB: remove_policy's re-audit 2.0 s, the others
    #   0.8 s together): each strategy but the first gets a child of its own, so none waits behind another
    #   (2.8 -> 2.0 s);
    # - bigger (a 100,000-rule dump, 13 MB) and fleets (1,000 devices): one child and this process each take
    #   the next strategy nobody has taken, costliest first (computed_shared): on the fleet change_dscp 9.0 s,
    #   remark_boundary 7.2, exempt_flows 4.3, remove_policy 3.3 end at 12.3 s on both sides, where the
    #   fixed halves (change_dscp and exempt_flows in the child) ended at 13.3; on the dump change_dscp (0.35 s)
    #   and remark_boundary (0.33 s) go first, one each, and whoever ends first takes exempt_flows (0.16 s).
    kind = "serial"
    size = sum(len(host.text) for host in fleet.hosts.values())
    if worth_forking(len(fleet.audited), len(names), size):
        kind = "spread" if len(fleet.audited) < FORK_MIN_HOSTS and size < SPREAD_MAX_BYTES else "shared"
    plan_one = functools.partial(_plan_or_refusal, fleet=fleet, findings=findings, options=options,
                                 ios_planner=ios_planner)

    def valid(name: str, plan: t.Any) -> bool:
        return isinstance(plan, Plan) and plan.strategy == name

    # A child that failed: its strategies are planned here, so a failure never loses a plan.
    if kind == "shared":
        costliest_first = sorted(names, key=lambda name: COSTLIEST_FIRST.index(name) if name in COSTLIEST_FIRST
                                 else len(COSTLIEST_FIRST))
        planned = computed_shared(costliest_first, plan_one, valid)
    else:
        planned = computed_apart(names, plan_one, [[name] for name in names[1:]] if kind == "spread" else [], valid)
    return tuple(planned[name] for name in names)


def _plan_or_refusal(name: str, fleet: Fleet, findings: Findings, options: Options,
                     ios_planner: IosPlanner | None) -> Plan:
    try:
        return plan_strategy(name, fleet, findings, options, ios_planner)
    except DiffservError as error:
        # One strategy that cannot be planned (no free ACL sequence number, a candidate that does
        # not parse) must not take the other two with it: it is reported as not planned.
        return Plan(name, REGISTRY[name].title, (), "not planned", refused=str(error))
