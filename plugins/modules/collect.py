#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the collect action plugin (plugins/action/collect.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: collect
short_description: Collect one host's firewall rules or router configuration, live or from a saved file
description:
  - Collects what the analysis needs from one host, on the controller.
  - From a saved file when O(config_file) (or the host variable C(diffserv_config_file)) is set; no
    connection is made. A partner mails its C(iptables-save) dump; a backup system holds the router's.
  - Live through netmiko otherwise. Firewalls (device type C(linux)) run C(iptables-save),
    C(ip6tables-save) and C(nft list ruleset), each where the host has the tool (asked in one round
    trip), through sudo when the user is not root. Routers (device type C(cisco_ios)) get
    C(terminal length 0) and C(show running-config), after C(enable) with the become password when
    the session starts in user EXEC mode. Only show commands are sent.
  - A firewall's platform comes from what it runs (unless C(diffserv_platform) or O(platform) forces
    one; then only that platform's commands are sent). Native nft tables (tables C(nft list ruleset)
    shows that iptables-nft does not manage) make it an C(nftables) host; if it also has iptables
    rules (iptables-nft or legacy), both are analysed, each base chain on its hook in priority order,
    the dumps kept with the nft item (C(iptables)) and a note in the findings saying so. Without
    native tables it is an C(iptables) host, as before. When the host's sudo allows C(iptables-save)
    but not C(nft list ruleset), the host is still collected and the findings say what was not seen.
  - With the host variable C(diffserv_counters) true, the same session then reads the counters (show
    commands only) - on IOS C(show access-lists), C(show route-map), C(show policy-map interface) and
    C(show ip interface); on Linux C(iptables-save -c) (and C(ip6tables-save -c)) and C(nft list ruleset)
    where the configuration came from those tools, through sudo as above - and
    C(diffserv_counter_interval) (seconds, at most 600) reads them a second time that long after, so the
    audit reports what grew in between. Each output is one more item of C(files), named by its command,
    redacted, with a C(counters) entry (C(command), C(reading), C(at), C(offset_seconds), C(refused)).
  - Connection data come from the usual inventory variables (C(ansible_host), C(ansible_port),
    C(ansible_user), C(ansible_password) or C(ansible_ssh_private_key_file), C(ansible_become_password));
    the options below override them. Host keys are checked unless the inventory turns that off
    (C(ansible_host_key_checking) or Ansible's C(host_key_checking)).
  - Every collection is parsed on the controller before it is returned; a collection cut short (a
    table without C(COMMIT), a configuration without C(end)) fails the host with the file and line,
    and is never analysed as if it were whole. An unreachable device fails that host only.
  - The returned text has every secret (passwords, secrets, keys, SNMP communities) redacted, line
    for line, so the line numbers still match the device.
  - The platform comes from C(diffserv_platform), the host's group (C(linux_firewalls), C(ios_routers)) or
    C(ansible_network_os) (C(cisco.ios.ios), C(ios), C(cisco.ios.iosxe) mean IOS).
version_added: 0.1.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  hosts:
    description:
      - Batch mode, run once on the controller (C(run_once) or a play on C(localhost)). Collects every
        listed inventory host with its own variables; live sessions run in a thread pool of O(workers),
        saved files are read in turn. A host that fails is reported under C(errors) and the others go on.
      - One action for a fleet costs far less than one Ansible task a host, which forks a worker each.
    type: list
    elements: str
  workers:
    description: Concurrent live sessions in batch mode.
    type: int
    default: 20
  platform:
    description:
      - C(iptables), C(nftables) or C(ios). Default from C(diffserv_platform) or the host's group.
      - Given (or set as C(diffserv_platform)), it forces the driver; a firewall from group
        C(linux_firewalls) is read by the driver what it runs names.
    type: str
    choices: [iptables, nftables, ios]
  config_file:
    description: A saved dump or running-config to read instead of connecting.
    type: path
  family:
    description: With O(config_file) on a firewall, whether the file is an IPv4 or IPv6 dump.
    type: int
    choices: [4, 6]
    default: 4
  host:
    description: Address to connect to. Default C(ansible_host), then the inventory name.
    type: str
  port:
    description: SSH port. Default C(ansible_port), then 22.
    type: int
  username:
    description: SSH user. Default C(ansible_user).
    type: str
  password:
    description:
      - SSH password. Default C(ansible_password).
      - A secret; the collection never returns it nor writes it into a report.
    type: str
  private_key_file:
    description: SSH private key. Default C(ansible_ssh_private_key_file).
    type: path
  become_password:
    description:
      - The sudo password on Linux, the enable secret on IOS. Default C(ansible_become_password).
      - A secret; the collection never returns it nor writes it into a report.
    type: str
  host_key_checking:
    description: Check the device's host key. Default from the inventory or Ansible's configuration.
    type: bool
  known_hosts:
    description: An extra known_hosts file (for example a lab's). Default C(diffserv_known_hosts).
    type: path
  timeout:
    description:
      - Seconds to wait for the connection, the login, and each command's output.
      - Default C(diffserv_collect_timeout), then 30.
    type: int
  retries:
    description:
      - Further connection attempts after a timeout (not after a refused login).
      - Default C(diffserv_collect_retries), then 2.
    type: int
  ipv6:
    description: On firewalls, also collect C(ip6tables-save) where it is installed.
    type: bool
    default: true
  check:
    description:
      - Parse what was collected here, so a cut-short collection fails the host in this task. The audit
        playbook turns it off because its analyze task parses every text anyway, and fails such a host
        there with the same message, so a run parses each text once.
    type: bool
    default: true
notes:
  - Runs on the controller (an action plugin); netmiko must be installed there.
  - No Cisco image runs in this collection's CI; the IOS side is tested against an SSH device
    simulator that keeps real configuration state.
seealso:
  - module: diffserv.audit.analyze
    description: Finds the conflicts in what was collected.
"""

EXAMPLES = r"""
- name: Collect every firewall and router (live, or from diffserv_config_file where set)
  diffserv.audit.collect:
  register: diffserv_collection

- name: Collect the whole fleet in one action, live sessions in parallel threads
  diffserv.audit.collect:
    hosts: "{{ groups['linux_firewalls'] + groups['ios_routers'] }}"
  run_once: true
  register: diffserv_collect

- name: Read a dump a partner mailed us
  diffserv.audit.collect:
    platform: iptables
    config_file: files/partner-fw.rules
"""

RETURN = r"""
collections:
  description: Batch mode. Inventory host -> what was collected (the same shape as C(diffserv_collection)).
  returned: batch mode
  type: dict
errors:
  description: Batch mode. Inventory host -> C(reason) (and C(unreachable)) for every host that failed.
  returned: batch mode
  type: dict
not_audited:
  description:
    - Batch mode, without O(platform). Inventory host -> why it is not audited (no platform known from
      C(diffserv_platform), the groups C(linux_firewalls)/C(ios_routers) or C(ansible_network_os)).
  returned: batch mode
  type: dict
failed_hosts:
  description: Batch mode. The hosts that could not be collected.
  returned: batch mode
  type: list
  elements: str
diffserv_collection:
  description: What was collected, with every secret redacted.
  returned: success
  type: dict
  contains:
    host:
      description: The inventory name.
      type: str
    platform:
      description: C(iptables), C(nftables) or C(ios).
      type: str
    origin:
      description: C(file) or C(live).
      type: str
    collected_at:
      description: When, in UTC (ISO 8601).
      type: str
    managed:
      description: False when the inventory says the host is not ours to change (C(diffserv_managed)).
      type: bool
    files:
      description:
        - One entry per collected text (C(iptables-save), C(ip6tables-save), C(nft-ruleset), C(running-config)),
          then, with C(diffserv_counters), one per counter reading (C(show access-lists), C(iptables-save -c), ...).
      type: list
      elements: dict
      contains:
        name:
          description: What it is.
          type: str
        source:
          description: The file, or user@host:port and the command.
          type: str
        text:
          description: The text, secrets redacted line for line.
          type: str
        redacted:
          description:
            - The seal of the redacted text, a digest of the redaction code and of the text. The analysis trusts a
              text whose seal still matches and redacts any other again (an edited text, an older collection).
          type: str
        summary:
          description: What the controller's parse found (tables and rules, or interfaces; diagnostics).
          type: dict
        notes:
          description: Notes on how the text was read or chosen (they reach the findings' C(unmodeled)).
          type: list
          elements: dict
        iptables:
          description:
            - On the C(nft-ruleset) item of a host that runs native nft tables and iptables rules, the
              iptables dumps (C(name), C(source), C(text)) analysed with the native tables.
          type: list
          elements: dict
diffserv_error:
  description: Why the host could not be collected or parsed.
  returned: failure
  type: str
"""
