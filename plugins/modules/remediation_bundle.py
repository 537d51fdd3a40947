#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the remediation_bundle action plugin (plugins/action/remediation_bundle.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: remediation_bundle
short_description: Write change-control bundles that fix every DSCP/TOS conflict found
description:
  - Runs once, on the controller, after M(diffserv.audit.analyze). Plans four strategies for every
    conflict and writes one folder per strategy under C(<report_dir>/changes/).
  - "C(remove_policy): take out what drops, polices or re-marks the marked traffic (route-map clause,
    ACL entry, policy class), then what only fed it; interfaces let go before definitions are deleted,
    anything still used elsewhere is kept, and the protection that goes with it is named."
  - "C(change_dscp): move the router's internal codepoint, and every line matching it, to a codepoint of
    pool 2 (xxxx11) that no RFC 1349 TOS value produces and that no audited device marks or matches, in
    stages (new matches, then the marking, then the old matches go). O(dscp) chooses it, checked the
    same way."
  - "C(remark_boundary): clear the DS field where traffic enters (C(set dscp default) in class-default of
    the interface's input policy, in the syntax the router uses) and, on firewalls, a C(DSCP --set-dscp 0)
    rule placed after every write on the way out."
  - "C(exempt_flows): exempt exactly the conflicting flows, as the router sees them (after the firewall's
    NAT), from what catches them, and nothing else: entries matching those flows with their DSCP, inserted
    by sequence number before the access-list entry that catches them (C(deny) in a list a route-map or
    class-map matches, C(permit) in a filter), or, where a class-map matches the DSCP itself, a
    C(match not access-group) beside that criterion (in a match-all class-map of its own, for a match-any
    one). Every other packet keeps its treatment; not planned (and said why) where the flows take more
    than 32 entries or the list also serves the other way."
  - Every candidate configuration is audited again; a strategy is clean when the fleet with its candidates
    has no conflict and no error, and no intermediate stage adds one.
  - "Each folder holds C(CHANGE.md) (summary, evidence chain, the options compared, steps, pre- and
    post-checks, rollback), C(plan.json), and per host C(<host>.commands), C(<host>.rollback),
    C(<host>.diff), C(<host>.candidate). A host whose collection says C(managed: false) gets
    C(<host>.request.md), a request to its owner, instead of commands. A firewall collected with both
    C(iptables-save) and C(ip6tables-save) whose two dumps both change has the IPv6 part's files as
    C(<host>.ipv6.commands) and so on."
  - IOS commands and rollback come from hier_config with a driver that edits numbered ACLs by sequence
    number inside C(ip access-list extended N) and detaches before it deletes.
  - Writes nothing in check mode; the result still says what would be written.
version_added: 0.1.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  findings:
    description: The findings M(diffserv.audit.analyze) returned.
    type: dict
    required: true
  report_dir:
    description: The report folder; the bundles go into its C(changes) sub-folder.
    type: str
    required: true
  dscp:
    description:
      - The codepoint for C(change_dscp), a number or a name. Default C(diffserv_dscp), else the lowest
        safe codepoint. An unsafe one is refused, with the reason, in that strategy's C(CHANGE.md).
    type: str
  strategies:
    description: The strategies to plan.
    type: list
    elements: str
    choices: [remove_policy, change_dscp, remark_boundary, exempt_flows]
  boundary_policy:
    description: The name of the input policy C(remark_boundary) creates where an interface has none.
    type: str
    default: diffserv-boundary-in
  hosts:
    description: The hosts whose collections to read. Default every host of C(linux_firewalls) and C(ios_routers).
    type: list
    elements: str
  register_name:
    description: The variable the M(diffserv.audit.collect) result was registered in (batch or per host).
    type: str
    default: diffserv_collect
notes:
  - The C(.candidate) files are redacted; they are for review and diff, never for C(configure replace).
"""

EXAMPLES = r"""
- name: Write the change bundles next to the report
  diffserv.audit.remediation_bundle:
    findings: "{{ diffserv_analysis.findings }}"
    report_dir: "{{ diffserv_report_folder }}"
  register: diffserv_bundles
"""

RETURN = r"""
bundle:
  description: What was written (or would be, in check mode), as in C(changes/summary.json).
  returned: success
  type: dict
  contains:
    folder:
      description: The C(changes) folder.
      type: str
    conflicts:
      description: How many conflicts the findings hold.
      type: int
    hosts:
      description: The hosts read, with their platform and whether we manage them.
      type: dict
    strategies:
      description:
        - Per strategy, C(clean), C(refused) (the reason, or null), the re-audit with every candidate
          (C(recheck)) and with ours only (C(recheck_managed)), C(stage_problems), the C(files), and per
          host C(changed), C(managed), C(apply) (ours to apply) and its files.
      type: dict
"""
