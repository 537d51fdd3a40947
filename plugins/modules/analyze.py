#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the analyze action plugin (plugins/action/analyze.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: analyze
short_description: Find every DSCP/TOS conflict between the collected firewalls and routers
description:
  - Runs once, on the controller, over what M(diffserv.audit.collect) registered for every host.
  - "Conflicts are firewall marking maps crossed with router fate tables along the paths between them: a
    marking conflicts with a router when the flow's fate there differs from the fate of the same flow
    arriving unmarked (dropped, null-routed, policed or re-marked because of the byte the firewall wrote)."
  - "Paths come from O(links) (or the variable C(diffserv_links)), a list of C({from: host:interface,
    to: host:interface}) meaning packets leaving the first enter the second. Without it, every firewall
    egress is assumed to reach every router interface, and each finding says the path was assumed."
  - Each conflict carries both ends of its evidence chain, the firewall rule (file, line, text) that
    wrote the byte and the router lines (file, line, text) that decide its fate on which interface,
    and is confirmed by a router trace of a concrete packet of the flow, marked and unmarked.
  - Advisories flag a router that drops or null-routes DSCP 1 (now Lower-Effort, RFC 8622), legacy TOS
    values that write ECN bits, and internal markers on codepoints that RFC 1349 TOS values produce.
  - Every configuration line that could affect the byte or its fate but that the model does not
    understand is listed under C(unmodeled), with file and line.
  - A host that could not be collected or parsed is listed under C(errors) with the reason.
version_added: 0.1.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  hosts:
    description:
      - The hosts to analyse. Default the hosts the batch collection saw, or else every inventory host whose
        platform is known (groups C(linux_firewalls)/C(ios_routers), C(diffserv_platform), C(ansible_network_os)).
    type: list
    elements: str
  links:
    description: The paths between firewalls and routers. Default C(diffserv_links).
    type: list
    elements: dict
  register_name:
    description:
      - The variable the M(diffserv.audit.collect) result was registered in. In batch mode (collect with
        C(hosts)) it is read on the host running this task; otherwise on each host.
    type: str
    default: diffserv_collect
  findings_file:
    description:
      - Also write the findings, as JSON, to this file (its folder is created). The audit role writes
        C(findings.json) this way.
    type: path
  result_findings:
    description:
      - What the task result's RV(findings) holds. V(full), every finding. V(summary), only C(summary), C(errors),
        C(not_audited) and C(links), for a run that reads the rest from O(findings_file) (which it then needs).
        With V(summary), RV(bundle) also leaves out the per-host and per-file lists (C(hosts), C(files)) that
        C(changes/summary.json) holds.
      - Ansible copies a task result from its worker to the controller's main process and into every later task's
        variables, and a 1,000-device fleet's findings are 18 MB, seconds each time. The audit role asks for
        V(summary); its reports read C(findings.json).
    type: str
    choices: [full, summary]
    default: full
  backend:
    description: Override the iptables backend read from each dump's header.
    type: str
    choices: [auto, legacy, nft]
    default: auto
  tos_semantics:
    description: Override the TOS target revision read from each dump's header.
    type: str
    choices: [auto, old, modern]
    default: auto
  bundles_dir:
    description:
      - Also plan the change bundles of every conflict and write them under C(<bundles_dir>/changes/), as
        M(diffserv.audit.remediation_bundle) does, from the models this task already loaded (nothing is
        parsed twice). A planning failure is returned as C(bundle_error); the findings stand. The audit
        role sets it to its report folder when C(diffserv_write_bundles) is true and there is a conflict.
    type: path
  dscp:
    description: The new codepoint for the C(change_dscp) bundle (C(diffserv_dscp)); default chosen and explained.
    type: raw
  strategies:
    description:
      - The strategies whose change bundles are written (C(diffserv_strategies)); default every one, broad to narrow.
      - Each is planned and re-audited for the whole fleet; on 1,000 devices C(exempt_flows) costs about 5 s of one core.
    type: list
    elements: str
    choices: [remove_policy, change_dscp, remark_boundary, exempt_flows]
notes:
  - The IOS side is modelled from the configuration text; no Cisco image runs in this collection's tests.
  - "What the network observed is read from inventory variables: C(diffserv_captures), a list of C({file: PATH,
    point: host:interface}) (pcap or pcapng taken at that interface; a relative file is read from the inventory's
    folder) gives C(observations), C(contradictions) and C(capture_diff); a router's C(diffserv_show_outputs), a
    mapping from C(show access-lists), C(show route-map), C(show policy-map interface), C(show ip interface) to a
    file of what it printed, and a dump saved with C(iptables-save -c) or nft C(counter) statements give each
    conflict its C(observed) packets and bytes. A file that cannot be read is an error naming it; the rest reports."
seealso:
  - module: diffserv.audit.collect
    description: What this analyses.
  - module: diffserv.audit.marking_map
    description: One firewall's marking map.
  - module: diffserv.audit.trace
    description: Follow one packet through a firewall dump or a router configuration.
  - name: RFC 2474 (the DS field)
    description: DSCP is the upper six bits of the byte.
    link: https://www.rfc-editor.org/rfc/rfc2474
  - name: RFC 8622 (Lower-Effort PHB)
    description: DSCP 1, which legacy TOS 0x04 produces, is the LE codepoint.
    link: https://www.rfc-editor.org/rfc/rfc8622
  - name: IANA DSCP registry
    description: The codepoint names and pools.
    link: https://www.iana.org/assignments/dscp-registry/dscp-registry.xhtml
"""

EXAMPLES = r"""
- name: Analyse what every host registered as diffserv_collect
  diffserv.audit.analyze:
    links:
      - from: partner-fw:eth0
        to: border-rtr1:GigabitEthernet0/0
  register: diffserv_analysis
"""

RETURN = r"""
findings:
  description: The findings, with every secret redacted (with O(result_findings=summary), only C(summary), C(errors),
    C(not_audited) and C(links); the rest is in O(findings_file)).
  returned: success
  type: dict
  contains:
    summary:
      description: Counts by severity, the hosts, whether paths were assumed.
      type: dict
    conflicts:
      description:
        - One per (firewall rule, DS byte, router interface, outcome), most severe first, with C(dscp),
          C(ds_byte), C(severity) (null-route or drop critical, police high, re-mark or queueing medium),
          C(marker) (host, file, line, rule, chain), C(treatment) (host, interface, direction, action,
          the deciding lines) and C(flows) (protocol, ports, path, in plain words).
      type: list
      elements: dict
    advisories:
      description: Risks that are not conflicts yet (DSCP 1 dropped, legacy TOS writing ECN bits, ...).
      type: list
      elements: dict
    errors:
      description:
        - One per host that could not be collected, parsed or analysed (C(host), C(stage), C(reason), bounded
          and redacted), and per unusable link (C(host) null). A link naming a failed host is listed under
          that host's C(links), not as a second error.
      type: list
      elements: dict
    not_audited:
      description:
        - Inventory hosts with no platform the collection reads (no group, C(diffserv_platform) or
          C(ansible_network_os) names one), each with C(host) and C(reason).
      type: list
      elements: dict
    unmodeled:
      description: Lines that could matter but that the model does not understand, with file and line.
      type: list
      elements: dict
    unused:
      description: Router definitions (ACLs, class-maps, policy-maps, route-maps) applied nowhere.
      type: list
      elements: dict
    links:
      description: The paths analysed.
      type: list
      elements: dict
    observations:
      description:
        - With C(diffserv_captures), one per conversation direction worth reporting, with C(capture), C(point),
          C(flow), C(ds_byte) (or C(ds_bytes)), C(frames) (1-based, as Wireshark counts), C(symptom)
          (handshake-stalled, retransmitted, reset, no-reply, ok, ...), C(predicted_ds_byte), C(marker) (the rule
          that wrote the observed byte) and C(treatment) (what the linked router does with it), and a C(text).
      type: list
      elements: dict
    contradictions:
      description: With C(diffserv_captures), captures that disagree with the audited configuration.
      type: list
      elements: dict
    capture_diff:
      description: Header fields that differ between a working and a failing capture of one conversation at one point.
      type: list
      elements: dict
bundle:
  description: With O(bundles_dir), what was written, as in C(changes/summary.json) (with
    O(result_findings=summary), without its C(hosts) and C(files) lists).
  returned: when bundles were planned
  type: dict
bundle_error:
  description: With O(bundles_dir), why the bundles could not be planned (the findings are still written).
  returned: when planning failed
  type: str
timings:
  description: Seconds spent parsing and mapping what was collected, analysing, and redacting the findings.
  returned: success
  type: dict
"""
