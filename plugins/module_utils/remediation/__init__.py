# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remediation, the pure core: conflicts -> strategies -> intended configurations, checked.

Standard library only, no `import ansible`, no hier_config (that is plugins/plugin_utils/hier.py,
which turns the intended configurations into IOS commands and rollback).

    plans = plan_remediation(findings, hosts, Options())       # plan.py: three strategies
    plans[0].changes[0].stages[-1].text                        # the candidate configuration
    plans[0].recheck.clean                                     # re-audited: no conflict, no error
    place_clear_rule(dump, "fw.rules", "eth0")                 # iptables.py: DSCP 0 where it wins
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type
