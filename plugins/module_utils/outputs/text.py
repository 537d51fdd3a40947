# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words every report uses for the values findings.json holds: never a Python repr.

>>> flow_terms({"protocols": ["tcp"], "sport": "any", "dport": ["512-65535"], "classes": 8})
'protocol tcp, source ports any, destination ports 512-65535; 8 classes'
>>> packet_words({"protocol": "tcp", "sport": 0, "dport": 512, "tos": 4, "in_interface": "Gi0/0"})
'a tcp packet from port 0 to port 512 with DS byte 0x04, entering Gi0/0'
>>> tos_meaning(0x04)
'precedence 0 (routine), TOS 2: maximize reliability'
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield

JSON = t.Dict[str, t.Any]

# RFC 1349 section 4: the four TOS bits (bits 4-1 of the byte) as one value; only these five are defined.
_RFC1349 = {0: "normal service", 8: "minimize delay", 4: "maximize throughput", 2: "maximize reliability",
            1: "minimize monetary cost"}
_PRECEDENCE = {value: name for name, value in dsfield.PRECEDENCE_NAMES.items()}
# The packet fields a router trace names, in the order a sentence reads them.
_PACKET_ORDER = ("path", "protocol", "src", "sport", "dst", "dport", "tos", "dscp", "in_interface", "out_interface")


def plural(count: int, one: str, many: str | None = None) -> str:
    """'1 conflict', '3 conflicts'."""
    return "%d %s" % (count, one if count == 1 else (many or one + "s"))


def values(value: t.Any) -> str:
    """A findings value that is a list or a word: 'tcp, udp', 'any'; never brackets or quotes."""
    if value is None:
        return "any"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def where(evidence: t.Mapping[str, t.Any]) -> str:
    """'file:line' of one evidence line (the file alone when the line is unknown)."""
    line = evidence.get("line")
    return "%s:%s" % (evidence.get("file"), line) if line else str(evidence.get("file"))


def evidence_words(evidence: t.Mapping[str, t.Any]) -> str:
    """'file:line `text`', the one way a report names a source line."""
    return "%s `%s`" % (where(evidence), evidence.get("text", ""))


def flow_terms(flow: t.Mapping[str, t.Any]) -> str:
    """The match terms of one flow of a conflict, in words."""
    terms = "protocol%s %s, source ports %s, destination ports %s" % (
        "s" if isinstance(flow.get("protocols"), list) and len(flow["protocols"]) > 1 else "",
        values(flow.get("protocols")), values(flow.get("sport")), values(flow.get("dport")))
    for key, name in (("src", "from"), ("dst", "to")):
        if flow.get(key) not in (None, "any"):
            terms += ", %s %s" % (name, values(flow[key]))
    return "%s; %s" % (terms, plural(int(flow.get("classes", 1)), "class", "classes"))


def packet_words(packet: t.Mapping[str, t.Any]) -> str:
    """A router trace's example packet as a phrase."""
    if not packet:
        return "no example packet"
    words = "a %s packet" % packet.get("protocol", "IP")
    for address, port, word in (("src", "sport", "from"), ("dst", "dport", "to")):
        parts = []
        if packet.get(address) is not None:
            parts.append(str(packet[address]))
        if packet.get(port) is not None:
            parts.append("port %s" % packet[port])
        if parts:
            words += " %s %s" % (word, " ".join(parts))
    if "tos" in packet:
        words += " with DS byte 0x%02x" % int(packet["tos"])
    elif "dscp" in packet:
        words += " with DSCP %s" % packet["dscp"]
    if packet.get("in_interface"):
        words += ", entering %s" % packet["in_interface"]
    if packet.get("out_interface"):
        words += ", leaving by %s" % packet["out_interface"]
    rest = [key for key in sorted(packet) if key not in _PACKET_ORDER]
    if rest:
        words += " (%s)" % ", ".join("%s %s" % (key.replace("_", " "), values(packet[key])) for key in rest)
    return words


def tos_meaning(ds_byte: int) -> str:
    """What RFC 791 and RFC 1349 read in the byte: precedence and the 4-bit TOS value."""
    precedence = ds_byte >> 5
    tos = (ds_byte >> 1) & 0x0F
    meaning = _RFC1349.get(tos, "not an RFC 1349 value (RFC 1349 defines 0, 1, 2, 4 and 8)")
    words = "precedence %d (%s), TOS %d: %s" % (precedence, _PRECEDENCE.get(precedence, "?"), tos, meaning)
    if ds_byte & 0x01:
        words += "; the must-be-zero bit is set"
    return words


def dscp_words(dscp: int) -> str:
    """'1 (LE)'."""
    return dsfield.dscp_label(dscp)


def conflict_kind(conflict: t.Mapping[str, t.Any]) -> str:
    """What happens to the marked packets, as one word a rule or a heading can carry:
    null-routed, dropped, policy-routed; policed (forwarded under a policer the unmarked flow escapes);
    re-marked (forwarded with another byte); else the fate itself.

    >>> conflict_kind({"severity": "medium", "ds_byte": 4, "treatment": {"action": "forwarded", "tos_out": 32}})
    're-marked'
    """
    treatment = conflict["treatment"]
    action = str(treatment["action"])
    if action != "forwarded":
        return action
    if conflict.get("severity") == "high":
        return "policed"
    if treatment.get("tos_out") != conflict.get("ds_byte"):
        return "re-marked"
    return action
