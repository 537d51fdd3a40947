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
        opaque.append("service object-group " + words[i])
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


def clear_caches() -> None:
    """Start cold: each parse builds its own address cache (bounded, and benchmarks stay honest)."""
    parse_ipv4.cache_clear()
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
