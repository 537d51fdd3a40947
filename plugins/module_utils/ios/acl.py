# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IOS access-list entries: the words of one `permit`/`deny` line -> AclEntry.

Standard entries match the source address only.  Extended entries follow
the IOS grammar `protocol src [ports] dst [ports] [options]`, where the
options that look at the DS byte are folded into one byte mask:

- `dscp N`       byte >> 2 == N          (bytes 4N..4N+3: ECN is ignored)
- `precedence P` byte >> 5 == P
- `tos T`        (byte >> 1) & 0xF == T  (RFC 1349 bits 4-1: `tos max-reliability`
                 is 2 and matches bytes 0x04/0x05 under any precedence, not 0x06)
- `ecn E`        byte & 3 == E

Several DS options in one entry must all hold.  A word we cannot read is
kept in `unknown` so the caller can report it and treat the entry as
"may match" rather than guess.

>>> from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Evidence
>>> e = parse_entry("permit ip any any dscp 1".split(), "106", "extended", Evidence("f", 1, ""))
>>> (e.action, e.tests_ds, e.unconditional)
('permit', True, True)
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import functools
import socket

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import (
    ALL_BYTES,
    ANY_ADDRESS,
    DSCP_BYTES,
    ECN_BYTES,
    PRECEDENCE_BYTES,
    TOS4_BYTES,
    AclEntry,
    Address,
    Evidence,
    Ports,
    Service,
)

PROTOCOLS: dict[str, int | None] = {
    "ip": None,
    "icmp": 1,
    "igmp": 2,
    "ipinip": 4,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ahp": 51,
    "eigrp": 88,
    "ospf": 89,
    "nos": 94,
    "pim": 103,
    "pcp": 108,
    "sctp": 132,
}
PROTOCOL_NAMES: dict[int, str] = {v: k for k, v in PROTOCOLS.items() if v is not None}

# The port keywords IOS accepts and prints (Cisco IOS Security Command Reference).
TCP_PORTS: dict[str, int] = {
    "bgp": 179, "chargen": 19, "cmd": 514, "daytime": 13, "discard": 9, "domain": 53,
    "drip": 3949, "echo": 7, "exec": 512, "finger": 79, "ftp": 21, "ftp-data": 20,
    "gopher": 70, "hostname": 101, "ident": 113, "irc": 194, "klogin": 543, "kshell": 544,
    "login": 513, "lpd": 515, "msrpc": 135, "nntp": 119, "onep-plain": 15001,
    "onep-tls": 15002, "pim-auto-rp": 496, "pop2": 109, "pop3": 110, "smtp": 25,
    "sunrpc": 111, "tacacs": 49, "talk": 517, "telnet": 23, "time": 37, "uucp": 540,
    "whois": 43, "www": 80,
}
UDP_PORTS: dict[str, int] = {
    "biff": 512, "bootpc": 68, "bootps": 67, "discard": 9, "dnsix": 195, "domain": 53,
    "echo": 7, "isakmp": 500, "mobile-ip": 434, "nameserver": 42, "netbios-dgm": 138,
    "netbios-ns": 137, "netbios-ss": 139, "non500-isakmp": 4500, "ntp": 123,
    "pim-auto-rp": 496, "rip": 520, "ripv6": 521, "snmp": 161, "snmptrap": 162,
    "sunrpc": 111, "syslog": 514, "tacacs": 49, "talk": 517, "tftp": 69, "time": 37,
    "who": 513, "xdmcp": 177,
}
_PORT_OPS = frozenset(("eq", "neq", "lt", "gt", "range"))

ICMP_NAMES = frozenset((
    "administratively-prohibited", "alternate-address", "conversion-error",
    "dod-host-prohibited", "dod-net-prohibited", "echo", "echo-reply",
    "general-parameter-problem", "host-isolated", "host-precedence-unreachable",
    "host-redirect", "host-tos-redirect", "host-tos-unreachable", "host-unknown",
    "host-unreachable", "information-reply", "information-request", "mask-reply",
    "mask-request", "mobile-redirect", "net-redirect", "net-tos-redirect",
    "net-tos-unreachable", "net-unreachable", "network-unknown", "no-room-for-option",
    "option-missing", "packet-too-big", "parameter-problem", "port-unreachable",
    "precedence-unreachable", "protocol-unreachable", "reassembly-timeout", "redirect",
    "router-advertisement", "router-solicitation", "source-quench", "source-route-failed",
    "time-exceeded", "timestamp-reply", "timestamp-request", "traceroute", "ttl-exceeded",
    "unreachable",
))
IGMP_NAMES = frozenset((
    "dvmrp", "host-query", "host-report", "mtrace-resp", "mtrace-route", "pim", "trace",
    "v2-leave", "v2-report", "v3-report",
))
TCP_FLAG_WORDS = frozenset(("ack", "fin", "psh", "rst", "syn", "urg"))
# Options that end an entry's option list with no DS meaning and no packet test.
_LOG_WORDS = frozenset(("log", "log-input"))
_OPTION_WORDS = frozenset((
    "dscp", "precedence", "tos", "ecn", "log", "log-input", "established", "fragments",
    "time-range", "ttl", "option", "match-all", "match-any", "reflect", "timeout",
)) | TCP_FLAG_WORDS


class AclSyntaxError(ValueError):
    """An entry whose fixed part (protocol, addresses) cannot be read."""


@functools.lru_cache(maxsize=65536)
def parse_ipv4(text: str) -> int:
    # 10,000-entry lists are common: a strict dotted quad goes through the C converter
    # (inet_pton takes exactly four decimal octets, no leading zeros, no hex).
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        pass
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        # Leading zeros: IOS reads each octet as decimal.
        a, b, c, d = (int(p) for p in parts)
        if (a | b | c | d) <= 255:
            return (a << 24) | (b << 16) | (c << 8) | d
    raise AclSyntaxError("%r is not an IPv4 address" % text)


@functools.lru_cache(maxsize=65536)
def parse_ipv6(text: str) -> int:
    """An IPv6 address as a 128-bit integer (any form inet_pton takes, `::ffff:1.2.3.4` included)."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        raise AclSyntaxError("%r is not an IPv6 address" % text) from None


def _is_ipv4(text: str) -> bool:
    return text[:1].isdigit() and text.count(".") == 3


@functools.lru_cache(maxsize=65536)
def _network(address: str, wildcard: str) -> Address:
    # Wildcards and server addresses repeat across thousands of entries: share them.
    network = parse_ipv4(address)
    mask = parse_ipv4(wildcard)
    return Address(network & ~mask & 0xFFFFFFFF, mask, None, address + " " + wildcard)


@functools.lru_cache(maxsize=65536)
def _host(address: str) -> Address:
    return Address(parse_ipv4(address), 0, None, "host " + address)


def _address(words: list[str], i: int, standard: bool = False) -> tuple[Address, int]:
    if i >= len(words):
        raise AclSyntaxError("address missing")
    word = words[i]
    if word == "any":
        return ANY_ADDRESS, i + 1
    if word == "host":
        if i + 1 >= len(words):
            raise AclSyntaxError("host address missing")
        return _host(words[i + 1]), i + 2
    if word in ("object-group", "addrgroup"):
        if i + 1 >= len(words):
            raise AclSyntaxError("object-group name missing")
        return Address(0, 0, words[i + 1], "object-group " + words[i + 1]), i + 2
    if i + 1 < len(words) and _is_ipv4(words[i + 1]):
        return _network(word, words[i + 1]), i + 2
    if standard:
        # A standard entry may give a bare address: IOS reads it as a host.
        return _host(word), i + 1
    parse_ipv4(word)
    raise AclSyntaxError("wildcard missing after %r" % word)


def _port_value(word: str, names: dict[str, int]) -> int | None:
    if word.isdigit():
        value = int(word)
        return value if value <= 65535 else None
    return names.get(word)


def _ports(words: list[str], i: int, names: dict[str, int]) -> tuple[Ports | None, int]:
    if i >= len(words) or words[i] not in _PORT_OPS:
        return None, i
    op = words[i]
    start = i
    i += 1
    values: list[int] = []
    if op == "range":
        for _bound in range(2):
            value = _port_value(words[i], names) if i < len(words) else None
            if value is None:
                raise AclSyntaxError("bad port range in %r" % " ".join(words[start:i + 1]))
            values.append(value)
            i += 1
    else:
        while i < len(words):
            value = _port_value(words[i], names)
            if value is None:
                break
            values.append(value)
            i += 1
            if op in ("lt", "gt"):
                break
        if not values:
            raise AclSyntaxError("port missing after %r" % op)
    return _port_match(op, tuple(values), " ".join(words[start:i])), i


@functools.lru_cache(maxsize=4096)
def _port_match(op: str, values: tuple[int, ...], text: str) -> Ports:
    # A few services (www, smtp, domain...) recur across thousands of entries.
    return Ports(op, values, text)


def parse_entry(words: list[str], acl: str, kind: str, source: Evidence, seq: int | None = None) -> AclEntry:
    """Words from the action on (`permit tcp any host 10.0.0.1 eq www dscp ef`)."""
    opaque: list[str] = []
    i = 0
    if words and words[0] == "dynamic":
        # Lock-and-key: the entry exists only after a user authenticates.
        opaque.append("dynamic " + (words[1] if len(words) > 1 else ""))
        i = 2
        if i < len(words) and words[i] == "timeout":
            i += 2
    if i >= len(words) or words[i] not in ("permit", "deny"):
        raise AclSyntaxError("expected permit or deny")
    action = words[i]
    i += 1
    if kind == "standard":
        src, i = _address(words, i, standard=True)
        return AclEntry(
            source=source, acl=acl, seq=seq, action=action, protocol=None, protocol_text="ip",
            src=src, dst=ANY_ADDRESS, opaque=tuple(opaque), unknown=tuple(w for w in words[i:] if w not in _LOG_WORDS),
        )
    if i >= len(words):
        raise AclSyntaxError("protocol missing")
    proto_text = words[i]
    i += 1
    if proto_text in PROTOCOLS:
        protocol = PROTOCOLS[proto_text]
    elif proto_text.isdigit() and int(proto_text) <= 255:
        protocol = int(proto_text)
        if protocol == 0:
            protocol = None  # IOS shows protocol 0 as `ip`
    elif proto_text == "object-group":
        # `permit object-group SVC src dst`: protocol and ports come from the service group,
        # resolved with the whole configuration read (parse.py, resolve_entry).
        if i >= len(words):
            raise AclSyntaxError("object-group name missing")
        protocol = None
        proto_text = "object-group " + words[i]
        i += 1
    else:
        raise AclSyntaxError("unknown protocol %r" % proto_text)
    port_names = TCP_PORTS if protocol == 6 else UDP_PORTS if protocol == 17 else None
    has_ports = port_names is not None or protocol == 132
    n = len(words)
    # `any` and absent ports are the common case: decided here without a call.
    if i < n and words[i] == "any":
        src, i = ANY_ADDRESS, i + 1
    else:
        src, i = _address(words, i)
    sport = dport = None
    if has_ports and i < n and words[i] in _PORT_OPS:
        sport, i = _ports(words, i, port_names or {})
    if i < n and words[i] == "any":
        dst, i = ANY_ADDRESS, i + 1
    else:
        dst, i = _address(words, i)
    if has_ports and i < n and words[i] in _PORT_OPS:
        dport, i = _ports(words, i, port_names or {})

    ds_mask = ALL_BYTES
    ds_text: list[str] = []
    established = False
    unknown: list[str] = []
    if protocol in (1, 2) and i < n:
        # ICMP/IGMP message: a name, or a type number with an optional code.
        names = ICMP_NAMES if protocol == 1 else IGMP_NAMES
        if words[i] in names:
            opaque.append("%s %s" % (proto_text, words[i]))
            i += 1
        elif words[i].isdigit():
            j = i + 1
            if protocol == 1 and j < n and words[j].isdigit():
                j += 1
            opaque.append("%s %s" % (proto_text, " ".join(words[i:j])))
            i = j
    while i < n:
        word = words[i]
        arg = words[i + 1] if i + 1 < n else None
        try:
            if word == "dscp" and arg is not None:
                ds_mask &= DSCP_BYTES[dsfield.parse_dscp(arg)]
                ds_text.append("dscp " + arg)
                i += 2
                continue
            if word == "precedence" and arg is not None:
                ds_mask &= PRECEDENCE_BYTES[dsfield.parse_precedence(arg)]
                ds_text.append("precedence " + arg)
                i += 2
                continue
            if word == "tos" and arg is not None:
                ds_mask &= TOS4_BYTES[dsfield.parse_ios_tos(arg)]
                ds_text.append("tos " + arg)
                i += 2
                continue
            if word == "ecn" and arg is not None and arg.isdigit() and int(arg) <= 3:
                ds_mask &= ECN_BYTES[int(arg)]
                ds_text.append("ecn " + arg)
                i += 2
                continue
        except dsfield.DSFieldError:
            unknown.append("%s %s" % (word, arg))
            i += 2
            continue
        if word in _LOG_WORDS:
            i += 1
            # `log <cookie>`: a free word after log tags the syslog message.
            if i < n and words[i] not in _OPTION_WORDS:
                i += 1
            continue
        if word == "established" and protocol == 6:
            established = True
            i += 1
            continue
        if word == "fragments":
            opaque.append("fragments (non-initial fragments only)")
            i += 1
            continue
        if word in ("time-range", "option", "reflect") and arg is not None:
            opaque.append("%s %s" % (word, arg))
            i += 2
            continue
        if word == "timeout" and arg is not None:
            i += 2
            continue
        if word == "ttl" and arg is not None:
            j = i + 3 if arg == "range" else i + 2
            opaque.append(" ".join(words[i:j + 1]))
            i = j + 1
            continue
        if word in ("match-all", "match-any"):
            j = i + 1
            while j < n and words[j][:1] in "+-" and len(words[j]) > 1:
                j += 1
            opaque.append("tcp flags " + " ".join(words[i:j]))
            i = j
            continue
        if word in TCP_FLAG_WORDS and protocol == 6:
            opaque.append("tcp flag " + word)
            i += 1
            continue
        unknown.append(word)
        i += 1
    # Positional: this runs once per entry of every list.
    return AclEntry(
        source, acl, seq, action, protocol, proto_text, src, dst, sport, dport, ds_mask,
        " ".join(ds_text), established, tuple(opaque), tuple(unknown),
    )


# ICMP message names IOS accepts, as (type, code); code None = any code of the type
# (RFC 792, RFC 1812; the names of the IOS `permit icmp` command reference).
ICMP_TYPES: dict[str, tuple[int, int | None]] = {
    "echo-reply": (0, None), "unreachable": (3, None), "net-unreachable": (3, 0),
    "host-unreachable": (3, 1), "protocol-unreachable": (3, 2), "port-unreachable": (3, 3),
    "packet-too-big": (3, 4), "source-route-failed": (3, 5), "network-unknown": (3, 6),
    "host-unknown": (3, 7), "host-isolated": (3, 8), "dod-net-prohibited": (3, 9),
    "dod-host-prohibited": (3, 10), "net-tos-unreachable": (3, 11), "host-tos-unreachable": (3, 12),
    "administratively-prohibited": (3, 13), "host-precedence-unreachable": (3, 14),
    "precedence-unreachable": (3, 15), "source-quench": (4, None), "redirect": (5, None),
    "net-redirect": (5, 0), "host-redirect": (5, 1), "net-tos-redirect": (5, 2), "host-tos-redirect": (5, 3),
    "alternate-address": (6, None), "echo": (8, None), "router-advertisement": (9, None),
    "router-solicitation": (10, None), "time-exceeded": (11, None), "ttl-exceeded": (11, 0),
    "reassembly-timeout": (11, 1), "parameter-problem": (12, None), "general-parameter-problem": (12, 0),
    "option-missing": (12, 1), "no-room-for-option": (12, 2), "timestamp-request": (13, None),
    "timestamp-reply": (14, None), "information-request": (15, None), "information-reply": (16, None),
    "mask-request": (17, None), "mask-reply": (18, None), "traceroute": (30, None),
    "conversion-error": (31, None), "mobile-redirect": (32, None),
}
# ICMPv6 message names of `ipv6 access-list` entries (RFC 4443, RFC 4861).
ICMP6_TYPES: dict[str, tuple[int, int | None]] = {
    "unreachable": (1, None), "no-route": (1, 0), "admin-unreachable": (1, 1), "beyond-scope": (1, 2),
    "destination-unreachable": (1, None), "address-unreachable": (1, 3), "port-unreachable": (1, 4),
    "packet-too-big": (2, None), "time-exceeded": (3, None), "hop-limit": (3, 0), "reassembly-timeout": (3, 1),
    "parameter-problem": (4, None), "header": (4, 0), "next-header": (4, 1), "parameter-option": (4, 2),
    "echo-request": (128, None), "echo-reply": (129, None), "mld-query": (130, None), "mld-report": (131, None),
    "mld-reduction": (132, None), "router-solicitation": (133, None), "router-advertisement": (134, None),
    "nd-ns": (135, None), "nd-na": (136, None), "redirect": (137, None), "router-renumbering": (138, None),
}


def icmp_message(words: list[str], i: int, names: dict[str, tuple[int, int | None]]) -> tuple[tuple[int, int | None] | None, int]:
    """`echo`, `3`, `3 4` at words[i]: the (type, code) and the next index; None when no message is given."""
    if i >= len(words):
        return None, i
    word = words[i]
    if word in names:
        return names[word], i + 1
    if word.isdigit() and int(word) <= 255:
        if i + 1 < len(words) and words[i + 1].isdigit() and int(words[i + 1]) <= 255:
            return (int(word), int(words[i + 1])), i + 2
        return (int(word), None), i + 1
    return None, i


def prefix_wildcard(length: int, bits: int = 32) -> int:
    """The wildcard of a /length prefix."""
    if not 0 <= length <= bits:
        raise AclSyntaxError("prefix length /%d out of range" % length)
    return (1 << (bits - length)) - 1


def mask_to_wildcard(mask: int) -> int:
    """A subnet mask (object groups write `10.0.0.0 255.255.255.0`) as a wildcard; contiguous masks only."""
    wildcard = ~mask & 0xFFFFFFFF
    if wildcard & (wildcard + 1):
        raise AclSyntaxError("%s is not a subnet mask" % ".".join(str((mask >> s) & 255) for s in (24, 16, 8, 0)))
    return wildcard


def range_blocks(low: int, high: int, bits: int = 32) -> list[tuple[int, int]]:
    """The smallest list of aligned (network, wildcard) blocks covering low..high exactly."""
    if low > high:
        raise AclSyntaxError("range start above its end")
    out: list[tuple[int, int]] = []
    top = (1 << bits) - 1
    while low <= high:
        size = low & -low if low else 1 << bits
        while size - 1 > high - low:
            size >>= 1
        out.append((low, size - 1))
        low += size
        if low > top:
            break
    return out


def parse_network_member(words: list[str]) -> list[tuple[int, int]]:
    """One line of an `object-group network` (not `group-object`): its (network, wildcard) pairs.

    `host A`, `A MASK` (a subnet mask, as the guide's examples write it), `A/len` or
    `A /len`, `range A B`, `any`.  Raises AclSyntaxError for what IOS would not accept.
    """
    head = words[0]
    if head == "any" and len(words) == 1:
        return [(0, 0xFFFFFFFF)]
    if head == "host" and len(words) == 2:
        return [(parse_ipv4(words[1]), 0)]
    if head == "range" and len(words) == 3:
        return range_blocks(parse_ipv4(words[1]), parse_ipv4(words[2]))
    if "/" in head and len(words) == 1:
        address, _slash, length = head.partition("/")
        wildcard = prefix_wildcard(int(length)) if length.isdigit() else -1
        if wildcard < 0:
            raise AclSyntaxError("bad prefix %r" % head)
        return [(parse_ipv4(address) & ~wildcard & 0xFFFFFFFF, wildcard)]
    if len(words) == 2 and words[1].startswith("/") and words[1][1:].isdigit():
        wildcard = prefix_wildcard(int(words[1][1:]))
        return [(parse_ipv4(head) & ~wildcard & 0xFFFFFFFF, wildcard)]
    if len(words) == 2 and _is_ipv4(words[1]):
        wildcard = mask_to_wildcard(parse_ipv4(words[1]))
        return [(parse_ipv4(head) & ~wildcard & 0xFFFFFFFF, wildcard)]
    if len(words) == 1 and _is_ipv4(head):
        # A bare address is a host (IOS XE accepts and prints `host A`; older trains the bare form).
        return [(parse_ipv4(head), 0)]
    raise AclSyntaxError("cannot read network object %r" % " ".join(words))


def parse_service_member(words: list[str]) -> list[Service]:
    """One line of an `object-group service` (not `group-object`): the services it adds.

    `tcp|udp|tcp-udp [source OP PORT...] [OP PORT...]` (the ports without `source` are
    destination ports), `icmp [MESSAGE]`, a protocol by name or number.
    """
    head = words[0]
    text = " ".join(words)
    if head in ("tcp", "udp", "tcp-udp"):
        protocols = (6, 17) if head == "tcp-udp" else (PROTOCOLS[head],)
        names = TCP_PORTS if head == "tcp" else UDP_PORTS if head == "udp" else {
            k: v for k, v in TCP_PORTS.items() if UDP_PORTS.get(k) == v}
        i = 1
        sport = dport = None
        if i < len(words) and words[i] == "source":
            sport, i = _ports(words, i + 1, names)
            if sport is None:
                raise AclSyntaxError("port operator missing after 'source' in %r" % text)
        if i < len(words):
            dport, i = _ports(words, i, names)
            if dport is None:
                raise AclSyntaxError("cannot read %r" % " ".join(words[i:]))
        if i < len(words):
            raise AclSyntaxError("cannot read %r" % " ".join(words[i:]))
        return [Service(p, sport, dport, None, text) for p in protocols]
    if head == "icmp":
        message, i = icmp_message(words, 1, ICMP_TYPES)
        if i < len(words):
            raise AclSyntaxError("unknown ICMP message %r" % " ".join(words[1:]))
        return [Service(1, None, None, message, text)]
    if len(words) == 1 and (head in PROTOCOLS or (head.isdigit() and int(head) <= 255)):
        number = PROTOCOLS[head] if head in PROTOCOLS else int(head)
        return [Service(number or None, None, None, None, text)]
    raise AclSyntaxError("cannot read service object %r" % text)


# `ipv6 access-list` protocol words (Cisco IOS IPv6 Command Reference, `permit (IPv6)`):
# `ipv6` is any protocol, `icmp` is ICMPv6.
PROTOCOLS6: dict[str, int | None] = {
    "ipv6": None, "icmp": 58, "tcp": 6, "udp": 17, "sctp": 132, "ahp": 51, "esp": 50, "pcp": 108,
    "gre": 47, "eigrp": 88, "ospf": 89, "pim": 103, "nos": 94,
}
ANY_WILDCARD6 = (1 << 128) - 1


def _address6(words: list[str], i: int) -> tuple[Address, int]:
    if i >= len(words):
        raise AclSyntaxError("address missing")
    word = words[i]
    if word == "any":
        return ANY_ADDRESS, i + 1
    if word == "host":
        if i + 1 >= len(words):
            raise AclSyntaxError("host address missing")
        return Address(parse_ipv6(words[i + 1]), 0, None, "host " + words[i + 1]), i + 2
    if word == "object-group":
        raise AclSyntaxError("IPv6 object-group %s not modelled" % (words[i + 1] if i + 1 < len(words) else ""))
    address, slash, length = word.partition("/")
    if not slash or not length.isdigit():
        raise AclSyntaxError("%r is not an IPv6 prefix" % word)
    wildcard = prefix_wildcard(int(length), 128)
    return Address(parse_ipv6(address) & ~wildcard & ANY_WILDCARD6, wildcard, None, word), i + 1


def parse_entry6(words: list[str], acl: str, source: Evidence, seq: int | None = None) -> AclEntry:
    """One `ipv6 access-list` entry, from the action on, `sequence N` (before or after) removed by the caller.

    `permit|deny PROTO SRC[/LEN] [PORTS] DST[/LEN] [PORTS] [ICMPV6-MESSAGE] [dscp D]
    [established] [log] ...` (Cisco IOS IPv6 Command Reference, `permit (IPv6)`,
    `deny (IPv6)`).  `dscp` compares the upper six bits of the Traffic Class, as
    `dscp` does in an IPv4 entry.
    """
    if not words or words[0] not in ("permit", "deny"):
        raise AclSyntaxError("expected permit or deny")
    action = words[0]
    i = 1
    if i >= len(words):
        raise AclSyntaxError("protocol missing")
    proto_text = words[i]
    i += 1
    if proto_text in PROTOCOLS6:
        protocol = PROTOCOLS6[proto_text]
    elif proto_text.isdigit() and int(proto_text) <= 255:
        protocol = int(proto_text) or None
    else:
        raise AclSyntaxError("unknown protocol %r" % proto_text)
    port_names = TCP_PORTS if protocol == 6 else UDP_PORTS if protocol == 17 else None
    has_ports = port_names is not None or protocol == 132
    n = len(words)
    src, i = _address6(words, i)
    sport = dport = None
    if has_ports and i < n and words[i] in _PORT_OPS:
        sport, i = _ports(words, i, port_names or {})
    dst, i = _address6(words, i)
    if has_ports and i < n and words[i] in _PORT_OPS:
        dport, i = _ports(words, i, port_names or {})
    icmp = None
    if protocol == 58:
        icmp, i = icmp_message(words, i, ICMP6_TYPES)
    ds_mask = ALL_BYTES
    ds_text: list[str] = []
    established = False
    opaque: list[str] = []
    unknown: list[str] = []
    while i < n:
        word = words[i]
        arg = words[i + 1] if i + 1 < n else None
        if word == "dscp" and arg is not None:
            try:
                ds_mask &= DSCP_BYTES[dsfield.parse_dscp(arg)]
                ds_text.append("dscp " + arg)
            except dsfield.DSFieldError:
                unknown.append("dscp " + arg)
            i += 2
            continue
        if word in _LOG_WORDS:
            i += 1
            continue
        if word == "established" and protocol == 6:
            established = True
            i += 1
            continue
        if word in ("fragments", "routing", "undetermined-transport", "hbh", "auth"):
            opaque.append(word)
            i += 1
            continue
        if word in ("flow-label", "time-range", "reflect", "routing-type", "dest-option-type", "mobility-type",
                    "timeout") and arg is not None:
            if word != "timeout":
                opaque.append("%s %s" % (word, arg))
            i += 2
            continue
        if word in TCP_FLAG_WORDS and protocol == 6:
            opaque.append("tcp flag " + word)
            i += 1
            continue
        unknown.append(word)
        i += 1
    return AclEntry(
        source, acl, seq, action, protocol, proto_text, src, dst, sport, dport, ds_mask,
        " ".join(ds_text), established, tuple(opaque), tuple(unknown), None, 6, icmp,
    )


def implicit_entries6(acl: str, source: Evidence) -> tuple[AclEntry, ...]:
    """What every IPv6 access list ends with before its implicit deny: neighbor discovery passes.

    Cisco IOS IPv6 configuration guide, "IPv6 Access Control Lists": each IPv6 ACL
    has implicit `permit icmp any any nd-na` and `permit icmp any any nd-ns` entries
    ahead of the implicit `deny ipv6 any any`; an explicit `deny ipv6 any any` (which
    comes first) blocks neighbor discovery.
    """
    out = []
    for name in ("nd-na", "nd-ns"):
        implicit = Evidence(source.file, source.line, source.text, "implicit permit icmp any any %s" % name)
        out.append(AclEntry(implicit, acl, None, "permit", 58, "icmp", ANY_ADDRESS, ANY_ADDRESS, family=6,
                            icmp=ICMP6_TYPES[name]))
    return tuple(out)


def clear_caches() -> None:
    """Start cold: each parse builds its own address cache (bounded, and benchmarks stay honest)."""
    parse_ipv4.cache_clear()
    parse_ipv6.cache_clear()
    _network.cache_clear()
    _host.cache_clear()
    _port_match.cache_clear()


def numbered_acl_kind(number: int) -> str:
    """IOS numbered ranges: standard IP 1-99 and 1300-1999; extended IP 100-199 and 2000-2699."""
    if 1 <= number <= 99 or 1300 <= number <= 1999:
        return "standard"
    if 100 <= number <= 199 or 2000 <= number <= 2699:
        return "extended"
    return "other"
