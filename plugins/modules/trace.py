#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the trace action plugin (plugins/action/trace.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: trace
short_description: Follow packets through a Linux firewall's rules (iptables or nftables) and say which DS byte each leaves with
description:
  - Reads an C(iptables-save) or C(ip6tables-save) dump and follows each given packet through the
    chains of its path, as the Linux kernel does, through the raw, mangle and filter tables.
  - Or reads a native nftables ruleset (O(nftables)) and follows each packet through every base chain
    of each hook of its path in ascending priority (numbers or names such as C(mangle + 5)), as the
    kernel runs them; C(accept) ends only its own base chain (the next one on the hook still runs),
    C(drop) and C(reject) end everything, the last DS write wins. A statement written before a match
    in one rule runs even when the match then fails, as in the kernel. Packets with an IPv6 address
    cross the C(ip6) and C(inet) tables, the others the C(ip) and C(inet) ones. nat chains are not
    evaluated (they see a connection's first packet only); NAT statements are listed under C(diagnostics).
  - C(forward) crosses PREROUTING, FORWARD and POSTROUTING; C(output) (generated on the firewall
    itself, e.g. a mail server's SYN/ACK) crosses OUTPUT and POSTROUTING; C(input) crosses PREROUTING
    and INPUT.
  - Returns the outgoing DS byte (the old TOS byte) with its DSCP and ECN readings, the verdict, and
    every rule that changed the byte, with its file line, before and after.
  - The semantics follow the backend that loaded the rules. C(legacy) runs the xt matches as written.
    C(nft) is iptables-nft 1.8.9, which compiles a rule holding exactly two negated single ports,
    C(! --sport A ! --dport B), into NOT(sport == A and dport == B); such a step carries a C(note)
    saying where the kernel and the rule text part ways. A written C(! --sport 0:65535) never matches
    on iptables-legacy, yet iptables-save prints that rule with no port match at all (the dump hides
    it); iptables-nft loads the same written rule as match-all, so there the dump is right.
  - A dump written by iptables 1.2/1.3 (its header says so) is read with the 2.4/2.6 kernel's TOS
    target (revision 0) for a bare C(--set-tos V), which keeps precedence, clears the ECN bits and writes only on
    change. Modern dumps use revision 1, new = (old & ~mask) ^ value.
  - A match the packet cannot decide (a field left out of the packet, or a match module the
    collection does not model, such as C(-m conntrack)) is assumed to hold and is listed under
    C(uncertain); a truncated dump (a table without C(COMMIT)) fails the task with file and line.
  - Runs on the controller (an action plugin); the dump is read from the controller's disk.
version_added: 0.1.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  iptables:
    description:
      - Path to an C(iptables-save) or C(ip6tables-save) dump, relative to the playbook directory
        (or the current directory for ad hoc commands).
    type: path
  ios:
    description:
      - Path to a Cisco IOS C(show running-config). The packets then need C(in_interface) (path
        C(forward)) or path C(output) for traffic the router generates; each result gives C(fate)
        (forwarded, policy-routed, dropped, null-routed), C(tos_out), and C(steps) with line numbers,
        following IOS's order of operations (input ACL, input marking, policing, policy routing, then the
        egress interface's output ACL and policy).
      - Give one of O(iptables), O(nftables) or O(ios).
    type: path
  nftables:
    description:
      - Path to a native nftables ruleset, as C(nft list ruleset) prints it (or its JSON form, C(nft -j list
        ruleset)); the packets take the same options as for O(iptables). Each step names the table
        (C(inet fw)), the chain, the base chain's priority and the line.
    type: path
  packets:
    description:
      - The packets to follow, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Which chains the packet crosses.
        type: str
        choices: [forward, output, input]
        default: forward
      in_interface:
        description: Interface the packet arrives on (not for C(output)).
        type: str
      out_interface:
        description: Interface the packet leaves by (not for C(input)).
        type: str
      protocol:
        description: C(tcp), C(udp), another protocol name, or its number.
        type: str
        default: tcp
      src:
        description: Source address. Left out, address matches are assumed to hold (and said so).
        type: str
      dst:
        description: Destination address. Left out, address matches are assumed to hold (and said so).
        type: str
      sport:
        description: Source port.
        type: int
      dport:
        description: Destination port.
        type: int
      tos:
        description: The DS byte the packet arrives with, as an integer (0x04 is 4).
        type: int
        default: 0
      nbar:
        description:
          - IOS only. NBAR class-map names or C(match protocol) texts to treat as matched; by default no
            NBAR match holds (and the result says so).
        type: list
        elements: str
      rate:
        description: IOS only. Where the packet falls against policers.
        type: str
        choices: [conform, exceed, violate]
      tcp_flags:
        description: IOS only. TCP flags, for C(established) ACL entries (for example C(SA)).
        type: str
      has_route:
        description: IOS only. Whether the routing table has a route for the destination.
        type: bool
  backend:
    description:
      - Which kernel backend loaded the rules. C(auto) reads the dump's header
        (C(iptables-nft-save ... (nf_tables)) means C(nft); otherwise C(legacy)).
      - Native nftables tables always run as written; the option then concerns only iptables-nft tables.
    type: str
    choices: [auto, legacy, nft]
    default: auto
  tos_semantics:
    description:
      - Which TOS target revision a bare C(--set-tos V) runs with. C(auto) takes C(old) for dumps
        written by iptables 1.2/1.3 and C(modern) otherwise.
    type: str
    choices: [auto, old, modern]
    default: auto
notes:
  - The netfilter semantics implemented here are checked against the Linux kernel by the collection's
    kernel-differential test (packets sent through network namespaces, bytes read on arrival).
  - The nat table is not evaluated; addresses and ports are taken as the mangle rules see them.
seealso:
  - module: diffserv.audit.marking_map
    description: The same semantics for all packets at once.
  - name: RFC 2474 (the DS field)
    description: DSCP is the upper six bits of the byte.
    link: https://www.rfc-editor.org/rfc/rfc2474
  - name: RFC 3168 (ECN)
    description: The lower two bits of the byte are ECN; a legacy TOS 0x02 claims ECT(0).
    link: https://www.rfc-editor.org/rfc/rfc3168
  - name: RFC 1349 (Type of Service)
    description: The legacy TOS values (0x10, 0x08, 0x04, 0x02) that old firewalls write.
    link: https://www.rfc-editor.org/rfc/rfc1349
  - name: RFC 8622 (Lower-Effort PHB)
    description: DSCP 1, which legacy TOS 0x04 produces, is the LE codepoint.
    link: https://www.rfc-editor.org/rfc/rfc8622
  - name: IANA DSCP registry
    description: The codepoint names and pools.
    link: https://www.iana.org/assignments/dscp-registry/dscp-registry.xhtml
"""

EXAMPLES = r"""
- name: The partner's SYN/ACK in the founding incident
  diffserv.audit.trace:
    iptables: files/partner-fw.rules
    packets:
      - path: forward
        in_interface: eth1
        out_interface: eth0
        protocol: tcp
        sport: 25
        dport: 28680
        tos: 0
  register: traced

- name: Show the DSCP it leaves with
  ansible.builtin.debug:
    msg: "{{ traced.packets[0].dscp }} by line {{ traced.packets[0].steps | map(attribute='line') | list }}"

- name: What the border router does with it when it arrives on the uplink
  diffserv.audit.trace:
    ios: files/border-router.cfg
    packets:
      - in_interface: GigabitEthernet0/0
        protocol: tcp
        sport: 25
        dport: 28680
        tos: 4

- name: The same incident on a firewall that runs native nftables
  diffserv.audit.trace:
    nftables: files/partner-fw.nft
    packets:
      - path: output
        out_interface: eth0
        protocol: tcp
        sport: 25
        dport: 28680

# Ad hoc, from the repository root:
# ansible localhost -m diffserv.audit.trace \
#   -a '{"iptables": "inventories/example/files/partner-fw.rules",
#        "packets": [{"in_interface": "eth1", "out_interface": "eth0", "sport": 25, "dport": 28680}]}'
"""

RETURN = r"""
packets:
  description:
    - One result for each packet given, in the same order.
    - For O(ios), each result has C(fate), C(tos_in), C(tos_out), C(steps) (file, line, text, what,
      tos_before, tos_after), C(assumptions), C(unmodeled), and C(unmarked) (the same packet arriving with
      byte 0, and whether the router treats the two differently). The keys below are the iptables ones.
    - For O(ios), C(may_match) lists the lines the configuration alone cannot decide for this packet
      (C(match cos), a class-map naming an undefined ACL, an unmodelled interface line), each with file,
      line, text and reason; C(may) the other outcomes they could lead to (fate, tos_out, the condition).
      The C(fate) given is the one with those conditions false.
    - For O(ios), C(remarked_unknown) is true when a policer or class re-marks by a table or map
      (C(set-dscp-transmit dscp table T)), which is a re-mark, never a drop, to a value the configuration
      does not name; C(tos_out), C(dscp_out) and the steps' C(tos_after) are then null.
  returned: success
  type: list
  elements: dict
  contains:
    tos:
      description: The DS byte the packet leaves with, as an integer.
      type: int
      sample: 4
    tos_in:
      description: The DS byte the packet arrived with.
      type: int
      sample: 0
    dscp:
      description: The DSCP it leaves with (upper six bits).
      type: int
      sample: 1
    ecn:
      description: The ECN bits it leaves with (lower two bits).
      type: int
      sample: 0
    describe:
      description: The byte in words.
      type: str
      sample: 0x04 = DSCP 1 (LE), ECN Not-ECT
    verdict:
      description: C(accept) or C(drop) (a DROP or REJECT rule, or a DROP policy).
      type: str
      sample: accept
    steps:
      description: Every rule that changed the byte or decided the verdict, in order.
      type: list
      elements: dict
      contains:
        line:
          description: Line of the rule in the dump.
          type: int
          sample: 35
        hook:
          description: The netfilter hook.
          type: str
          sample: POSTROUTING
        table:
          description: The table (for nftables, its family and name, such as C(inet fw)).
          type: str
          sample: mangle
        priority:
          description: The priority of the base chain the step ran in (iptables' tables have theirs, mangle -150).
          type: int
          sample: -150
        chain:
          description: The chain holding the rule (a user chain when jumped to).
          type: str
          sample: POSTROUTING
        rule:
          description: The rule's text.
          type: str
          sample: -A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04
        action:
          description: C(write), C(accept), C(drop), C(return), C(jump), C(match) or C(policy DROP).
          type: str
          sample: write
        tos_before:
          description: The byte before the rule.
          type: int
          sample: 0
        tos_after:
          description: The byte after the rule.
          type: int
          sample: 4
        note:
          description: Which semantics applied, or where the kernel and the rule text part ways.
          type: str
          returned: when there is something to say
    uncertain:
      description: Matches the trace had to assume (unmodeled modules, fields the packet left out).
      type: list
      elements: str
    backend:
      description: The backend whose semantics were applied (C(legacy) or C(nft)).
      type: str
      sample: legacy
    tos_semantics:
      description: The TOS target revision applied to bare C(--set-tos) (C(old) or C(modern)).
      type: str
      sample: old
diagnostics:
  description: Rules the collection does not fully model, with file and line.
  returned: always
  type: list
  elements: str
file:
  description: The dump that was read.
  returned: always
  type: str
"""
