# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per interface and direction: the pipeline IOS applies, and every DS byte's fate.

Order of operations (Cisco document 22141; PBR placement from document
27842): inbound, the input ACL sees the byte as it arrived, then the
input policy classifies, marks and polices, then policy routing sees the
byte as re-marked, then routing.  Outbound: output ACL, output policy
(marking, policing, queueing).  The Code-Red recipe depends on this order:
its input policy writes DSCP 1 before its route-map null-routes DSCP 1.

How it is computed.  Every decision the router makes (an ACL, a class-map,
a route-map clause, a policer) is a *decision list*: ordered alternatives
`(byte mask, conditions, steps, value)`; the first alternative whose mask
holds the current DS byte and whose conditions hold for the packet wins.
Conditions are everything that is not the DS byte (addresses, ports, NBAR,
rate): they stay symbolic.  Each list is first compressed to one alternative
per outcome and byte class ("access-list 110 permits", see
DecisionCondition), so a pipeline branches once per outcome of each stage,
not once per line: a few paths per interface instead of a product of ACL
lengths.  Running the pipeline over all 256 bytes at once
(a mask is a 256-bit int) yields ordered *paths*; the bytes are then split
into classes that take the same paths.  For one byte, its paths are again
a decision list: the first whose conditions hold is what happens.

A rewrite keeps part of the byte (`set dscp` keeps ECN), so a path's mask
is always a set of *arriving* bytes: a later test on the rewritten byte is
pulled back through the rewrite (`Engine._preimage`).

The code lives in three modules, one a seam; this one keeps every name the
rest of the collection imports from it:

- decisions.py: evidence steps, conditions, decision lists (what IOS decides on);
- tables.py: the fate value objects (Path, FateClass, FateTable);
- engine.py: the Engine that runs pipelines, and the public functions.

>>> from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
>>> cfg = parse_ios('''interface Gi0/0
...  ip policy route-map nul
... access-list 106 permit ip any any dscp 1
... route-map nul permit 10
...  match ip address 106
...  set interface Null0
... end''', "r.cfg")
>>> table = fate_table(cfg, "Gi0/0", "in")
>>> (table.for_dscp(1)[0].fate, table.for_dscp(0)[0].fate)
('null-routed', 'forwarded')
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.diffserv.audit.plugins.module_utils.ios.decisions import (  # noqa: F401
    DL,
    UNDECIDABLE_KINDS,
    AclCondition,
    Alt,
    AnyOfCondition,
    Condition,
    DecisionCondition,
    NbarCondition,
    RateCondition,
    RouteCondition,
    Step,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.engine import (  # noqa: F401
    DIRECTIONS,
    Engine,
    SharedTransit,
    fate_table,
    fate_tables,
    interface_fate_tables,
    shared_transit_tables,
    transit_table,
    transit_tables,
    unused,
)
from ansible_collections.diffserv.audit.plugins.module_utils.ios.tables import (  # noqa: F401
    DROPPED,
    FORWARDED,
    NULL_ROUTED,
    POLICY_ROUTED,
    REMARKED_UNKNOWN,
    FateClass,
    FateTable,
    Path,
)

__all__ = [
    "DIRECTIONS", "DL", "DROPPED", "FORWARDED", "NULL_ROUTED", "POLICY_ROUTED", "REMARKED_UNKNOWN", "UNDECIDABLE_KINDS",
    "AclCondition", "Alt", "AnyOfCondition", "Condition", "DecisionCondition", "Engine", "FateClass", "FateTable",
    "NbarCondition", "Path", "RateCondition", "RouteCondition", "SharedTransit", "Step",
    "fate_table", "fate_tables", "interface_fate_tables", "shared_transit_tables", "transit_table", "transit_tables", "unused",
]
