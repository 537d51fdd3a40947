# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco IOS / IOS-XE: running-config -> model -> DS byte fates and packet traces.

Standard library only, no `import ansible`: importable and testable alone.

    config = load_ios("border.cfg")            # parse.py  (ParseError on bad input)
    config.diagnostics                         # what the model could not read, file:line
    fate_table(config, "Gi0/0", "in")          # fates.py: all 256 arriving bytes
    transit_table(config, "Gi0/0", "Gi0/1")    # in on one interface, out on another
    transit_tables(config, "Gi0/0")            # ... out on every interface that can forward
    fate_tables(config)                        # every interface, both directions
    unused(config)                             # definitions no applied place reaches
    trace_ios(config, {"in_interface": "Gi0/0", "tos": 4, ...})   # trace.py

Per address family: every table function takes `family=4` (default, IPv4) or
`family=6` (IPv6: `ipv6 traffic-filter`, `ipv6 policy route-map`, MQC with
each criterion's and marking's reach); `trace_ios` reads the family from the
packet (`"family": 6`, or IPv6 addresses).

    fate_table(config, "Gi0/0", "in", family=6)
    transit_tables(config, "Gi0/0", family=6)
    trace_ios(config, {"in_interface": "Gi0/0", "src": "2001:db8::1", "tos": 4, ...})

A class of packets rather than a byte (space.py): which fate do the packets a
firewall marks (protocols, address and port ranges, ICMP types) meet?

    for_packets(table, 0x04, PacketClass(family=4, protocols=frozenset({6}), sport=((25, 25),)))
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import (  # noqa: F401
    Engine,
    FateClass,
    FateTable,
    Path,
    Step,
    fate_table,
    fate_tables,
    transit_table,
    transit_tables,
    unused,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import IosConfig  # noqa: F401
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import load_ios, parse_ios  # noqa: F401
from ansible_collections.diffserv.audit.plugins.module_utils.ios.space import ClassFate, PacketClass, for_packets, restrict  # noqa: F401
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import Packet, trace_ios  # noqa: F401
