# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediation, the pure core: conflicts -> strategies -> intended configurations, checked.

Standard library only, no `import ansible`, no hier_config (that is plugins/plugin_utils/hier.py,
which turns the intended configurations into IOS commands and rollback).

    plans = plan_remediation(findings, hosts, Options())       # plan.py: every registered strategy
    plans[0].changes[0].stages[-1].text                        # the candidate configuration
    plans[0].recheck.clean                                     # re-audited: no conflict, no error
    place_clear_rule(dump, "fw.rules", "eth0")                 # iptables.py: DSCP 0 where it wins

One module a concern, in the order a plan is made:

    plan.py             the entry: runs the strategies, finishes their changes (re-exports the rest)
    strategies.py       the registry (name -> Strategy) and Options: a strategy is one module, one line there
    remove_policy.py    take out what treats the marked traffic differently
    change_dscp.py      move the router's internal codepoint to a safe one
    remark_boundary.py  clear the DS field at the boundary (routers on the way in, firewalls out)
    router.py           one router indexed by line: who uses what, what still tests a codepoint
    text.py             edits keyed by the running text's line numbers, per stage; IOS line helpers
    iptables.py         the firewall's clearing rule, placed where the marking map proves it wins
    checks.py           pre- and post-checks; hier_config's commands attached
    reaudit.py          the fleet parsed once; the audit run again on candidates and stages
    model.py            the value objects (HostChange, Stage, Plan, Recheck, Strategy, ...)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
