#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the marking_map action plugin (plugins/action/marking_map.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: marking_map
short_description: Every class of packets a Linux firewall marks, with the DS byte it leaves with
description:
  - Reads an C(iptables-save) or C(ip6tables-save) dump, or a native nftables ruleset (C(nft list ruleset)
    or C(nft -j list ruleset)), and computes, for all packets at once, which DS byte (the old TOS byte)
    each class of packets leaves the firewall with, and which rules wrote it.
  - For nftables, every base chain (of type filter or route) of the IPv4 view (the C(ip) and C(inet)
    tables; the C(ip6) and C(inet) ones when the ruleset has only IPv6) runs on its hook in ascending
    priority, as the kernel runs them; nat chains, which see only a connection's first packet, are
    listed under C(diagnostics), not evaluated.
  - Header space (path, interfaces, protocol, addresses, ports, and the byte a packet arrived with) is
    partitioned along the mangle rules' own predicates; nothing is enumerated packet by packet.
  - The same semantics as M(diffserv.audit.trace), per backend (C(legacy) or C(nft)) and TOS era;
    the collection's tests check that both views agree on random packets and against the kernel.
  - Classes that depend on a match the collection does not model (for example C(-m conntrack)) are
    given both ways, each with the assumption it made, under C(assumptions).
  - Runs on the controller (an action plugin).
version_added: 0.1.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  iptables:
    description:
      - Path to an C(iptables-save) or C(ip6tables-save) dump.
      - Give either O(iptables) or O(nftables).
    type: path
  nftables:
    description:
      - Path to a native nftables ruleset, as C(nft list ruleset) prints it (or its JSON form, C(nft -j list
        ruleset)); hand-written C(nft -f) files of the same block form are read too.
    type: path
  interfaces:
    description:
      - Interface names to keep apart in the answer even when no rule names them (for example the
        firewall's uplink); names the rules mention are always kept apart.
    type: list
    elements: str
    default: []
  backend:
    description:
      - Which kernel backend loaded the rules; C(auto) reads the dump's header.
      - Native nftables tables always run as written; the option then concerns only iptables-nft tables.
    type: str
    choices: [auto, legacy, nft]
    default: auto
  tos_semantics:
    description: TOS target revision for a bare C(--set-tos V); C(auto) reads the dump's header.
    type: str
    choices: [auto, old, modern]
    default: auto
  include_untouched:
    description: Also list the classes that leave with the byte they arrived with.
    type: bool
    default: false
seealso:
  - module: diffserv.audit.trace
    description: Follow given packets rule by rule, with the byte before and after each.
  - module: diffserv.audit.analyze
    description: Cross the marking maps with the routers' fate tables.
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
- name: What does the partner's firewall write on its packets?
  diffserv.audit.marking_map:
    iptables: files/partner-fw.rules
    interfaces: [eth0, eth1]
  register: marks

- name: Every class that leaves with DSCP 1
  ansible.builtin.debug:
    msg: "{{ marks.markings | selectattr('dscp', 'equalto', 1) | list }}"
"""

RETURN = r"""
markings:
  description: One entry per outcome, with the classes of packets that get it.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: C(forward), C(output) or C(input).
      type: str
    verdict:
      description: C(accept) or C(drop).
      type: str
    ds_byte:
      description: The byte a packet leaves with when it arrived with 0 (null when 0 cannot arrive here).
      type: int
      sample: 4
    dscp:
      description: The DSCP of that byte.
      type: int
      sample: 1
    describe:
      description: The byte in words.
      type: str
      sample: 0x04 = DSCP 1 (LE), ECN Not-ECT
    depends_on_arrival:
      description: True when the rewrite keeps bits of the arriving byte (a TOS name, a DSCP target).
      type: bool
    rewrites:
      description:
        - The byte leaves as (arrived AND keep) XOR set; more than one when the rewrite depends on the
          arriving byte (the 2.4/2.6 kernel's TOS target writes only when the TOS bits differ).
      type: list
      elements: dict
    writers:
      description: Lines of the rules that wrote the byte, in order (the last one wins).
      type: list
      elements: int
      sample: [35]
    rules:
      description: The text of those rules.
      type: list
      elements: str
    assumptions:
      description: Unmodeled matches this outcome assumed, with file and line.
      type: list
      elements: str
    classes:
      description: The classes of packets (interfaces, protocols, addresses, port ranges) with this outcome.
      type: list
      elements: dict
deciders:
  description:
    - The short answer, for leaving packets (paths C(forward) and C(output)) that are accepted, one
      entry per rule that has the last word on their byte.
  returned: success
  type: list
  elements: dict
  contains:
    line:
      description: Line of the rule in the dump.
      type: int
      sample: 35
    rule:
      description: The rule's text.
      type: str
    chain:
      description: The chain holding it.
      type: str
    paths:
      description: The paths on which it decides.
      type: list
      elements: str
    out_interfaces:
      description: Interfaces the packets it decides leave by.
      type: list
      elements: str
    ds_bytes:
      description: Bytes it leaves on packets that arrived unmarked.
      type: list
      elements: int
      sample: [4]
    describe:
      description: Those bytes in words.
      type: list
      elements: str
    classes:
      description: How many classes of packets it decides.
      type: int
class_count:
  description: How many classes the partition produced.
  returned: success
  type: int
backend:
  description: The backend whose semantics were applied.
  returned: success
  type: str
tos_semantics:
  description: The TOS era applied to bare C(--set-tos).
  returned: success
  type: str
diagnostics:
  description: Rules the collection does not fully model, with file and line.
  returned: success
  type: list
  elements: str
"""
