#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the remediate action plugin (plugins/action/remediate.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: remediate
short_description: Apply one remediation strategy to the routers and firewalls we manage, with drift check, verification and rollback
description:
  - Plans one strategy (C(remove_policy), C(change_dscp), C(remark_boundary) or C(exempt_flows)) for the findings of the
    same run, exactly as the audit's change bundles do, and applies it to every managed host it changes.
  - "In check mode (C(--check --diff)) it shows, per host, the running configuration as audited
    against the candidate, in Ansible's own diff output, and connects to no device: no configuration
    command is sent anywhere."
  - "Otherwise, per device, through netmiko: the running configuration must still be the audited one
    (drift stops that host and lists the lines that moved); a backup is written (secrets redacted); the
    commands are sent; a line the device refuses, or a re-audit of the fleet with the configuration read
    back that still finds the conflict, sends the rollback commands and fails the host with the
    device's own words. O(save) (or C(diffserv_save)) writes memory afterwards."
  - A second run finds no conflict, plans nothing and reports C(changed=false).
  - Hosts marked C(diffserv_managed=false) (a partner's firewall) are never changed; they are listed
    under C(requests) (the audit's bundle holds the request to their owner).
  - "A managed iptables firewall gets the changed table only (mangle), loaded with one atomic
    C(iptables-restore -T mangle) from a private file, with the same drift check (rules compared,
    counters ignored), backup, verification and rollback (the table as it was, restored the same way)."
  - "A managed nftables firewall (C(remark_boundary)) gets a table C(inet diffserv_audit) whose
    postrouting chain clears the DSCP (C(ip dscp set cs0), C(ip6 dscp set cs0)) at a priority after
    every base chain that writes the byte, proved with the marking map of the changed ruleset. It is
    one C(nft -f) file (C(add table), C(add chain), C(add rule)) loaded as one transaction from a
    private file, after C(nft -c -f) checked it: drift check against the audited C(nft list ruleset)
    (rules compared, counter values ignored), a backup of the listing, the listing read back and
    checked (the table, its chain at the planned priority, its rules) and re-audited, and on any
    failure the rollback file (C(delete table inet diffserv_audit)), loaded the same way. Through
    sudo when the user is not root: its sudoers must allow C(nft -f) for that."
version_added: 0.1.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  strategy:
    description: The strategy to apply.
    type: str
    required: true
    choices: [remove_policy, change_dscp, remark_boundary, exempt_flows]
  findings:
    description: The findings M(diffserv.audit.analyze) returned in the same run.
    type: dict
    required: true
  dscp:
    description: The codepoint for C(change_dscp); checked as the bundles check it.
    type: str
  hosts:
    description: The hosts whose collections to read. Default every host of C(linux_firewalls) and C(ios_routers).
    type: list
    elements: str
  register_name:
    description: The variable the M(diffserv.audit.collect) result was registered in.
    type: str
    default: diffserv_collect
  save:
    description: Write memory after a verified change. Default C(diffserv_save), then false.
    type: bool
  backup_dir:
    description:
      - Where the backups of the running configurations (and firewall rulesets) go. Default C(backups/) in the
        current directory.
    type: path
notes:
  - No Cisco image runs in this collection's tests; apply, drift, refusal and rollback are tested against
    the lab's IOS SSH simulator, which keeps configuration state and records every command.
"""

EXAMPLES = r"""
- name: Dry run, with Ansible's diff of every device's configuration
  diffserv.audit.remediate:
    strategy: change_dscp
    findings: "{{ diffserv_analysis.findings }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
strategy:
  description: The strategy planned.
  returned: always
  type: str
hosts:
  description: Host -> the commands and rollback commands planned for it.
  returned: always
  type: dict
requests:
  description: Hosts the strategy changes but that are not ours (a request to their owner is in the bundle).
  returned: always
  type: list
  elements: str
applied:
  description: Host -> what was sent and whether memory was written.
  returned: when applied
  type: dict
failures:
  description: Host -> why it was not changed, or was rolled back.
  returned: on failure
  type: dict
"""
