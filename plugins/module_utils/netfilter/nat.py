# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nat table's targets as the kernel applies them to the first packet of a connection.

parse.py reads SNAT, DNAT, MASQUERADE, REDIRECT and NETMAP as accepting verdicts and keeps their
options as written; `nat_target(rule, family)` reads those options into a `NatTarget`, and
`apply(target, ...)` gives what one packet becomes (evaluate.trace), while markmap.py applies the
same target to a class of packets.

What the kernel does (nf_nat_core.c get_unique_tuple, nf_nat_masquerade.c, xt_NETMAP.c,
nf_nat_redirect.c), for a NEW connection whose translated tuple is not in use already:

- SNAT `--to-source A[-B][:p1[-p2]]`: the source becomes A (one of A..B: the kernel picks by a
  hash, so a range is "one of"); the source port is kept when it lies in p1..p2 (or when no port
  range is given), else one of p1..p2 is picked at random.  MASQUERADE does the same with the
  address of the egress interface, which a dump does not give (`IfaceAddress`).
- DNAT `--to-destination A[-B][:p1[-p2]]`: the destination becomes A (one of A..B); the destination
  port is kept when it lies in p1..p2, else p1 (DNAT searches the range from its start).
  REDIRECT: the destination becomes the address of the incoming interface (127.0.0.1 or ::1 for
  locally generated packets), ports as DNAT's with `--to-ports`.
- NETMAP `--to N/L`: the upper L bits replaced by N's, the host part kept: exact per address.
  On PREROUTING and OUTPUT it maps the destination, on POSTROUTING and INPUT the source.
- Ports are translated for TCP, UDP, SCTP, DCCP and UDP-Lite only.
- Only the first packet of a connection meets the nat table; the others (and the replies, which
  conntrack de-NATs) carry the translation that first packet got.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import ipaddress
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import PORT_PROTOCOLS, Rule

NAT_TARGETS = ("SNAT", "DNAT", "MASQUERADE", "REDIRECT", "NETMAP")
# Which header a hook's nat binding changes: the destination before routing, the source after it.
HOOK_MANIP = {"PREROUTING": "dst", "OUTPUT": "dst", "POSTROUTING": "src", "INPUT": "src"}
LOOPBACK = {4: int(ipaddress.ip_address("127.0.0.1")), 6: 1}
PER_CONNECTION_NOTE = ("NAT is per connection: this is the first packet of a NEW connection; later packets "
                       "carry its translation, replies are de-NATed by conntrack")


@dataclasses.dataclass(frozen=True)
class IfaceAddress:
    """The (primary) address of an interface, which an iptables dump does not give."""

    interface: str  # as the marking map labels it ("eth0", "eth+ (other)")

    def __str__(self) -> str:
        return "address of %s" % (self.interface or "(no interface)")


@dataclasses.dataclass(frozen=True)
class NatTarget:
    """One NAT target as the kernel applies it."""

    kind: str  # SNAT, DNAT, MASQUERADE, REDIRECT, NETMAP
    manip: str  # "src" or "dst" (NETMAP: the hook decides; this is PREROUTING's "dst" until bound)
    addresses: tuple[int, int] | None  # inclusive range; None: the interface's address (MASQUERADE, REDIRECT)
    ports: tuple[int, int] | None  # inclusive range; None: ports kept
    prefix: int | None  # NETMAP's prefix length (addresses[0] is the network)
    random: bool  # --random / --random-fully: a port is picked at random even when the old one fits
    written: str  # the target's options as written

    def for_hook(self, hook: str) -> "NatTarget":
        """NETMAP maps the destination on PREROUTING/OUTPUT and the source on POSTROUTING/INPUT."""
        manip = HOOK_MANIP.get(hook, self.manip)
        return self if manip == self.manip else dataclasses.replace(self, manip=manip)

    def netmap(self, address: int, bits: int) -> int:
        if self.addresses is None or self.prefix is None:
            raise DiffservError("NETMAP without a prefix to map to")
        host = (1 << (bits - self.prefix)) - 1
        return (address & host) | (self.addresses[0] & ~host & ((1 << bits) - 1))

    def describe(self, family: int = 4) -> str:
        if self.kind == "NETMAP" and self.addresses is not None:
            return "NETMAP to %s/%d" % (_address(self.addresses[0], family), self.prefix or 0)
        parts = []
        if self.addresses is not None:
            low, high = self.addresses
            parts.append(_address(low, family) if low == high else "%s-%s" % (_address(low, family),
                                                                              _address(high, family)))
        elif self.kind == "MASQUERADE":
            parts.append("the egress interface's address")
        elif self.kind == "REDIRECT":
            parts.append("the incoming interface's address")
        if self.ports is not None:
            low, high = self.ports
            parts.append("port %d" % low if low == high else "ports %d-%d" % (low, high))
        return "%s to %s" % (self.kind, " ".join(parts)) if parts else self.kind


def _address(value: int, family: int) -> str:
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


def _parse_ports(spec: str, rule: Rule) -> tuple[int, int]:
    low, _dash, high = spec.replace(":", "-").partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise ParseError(rule.source.file, rule.line, "bad NAT port range %r" % spec, rule.text) from None
    if not (0 <= first <= 65535 and 0 <= last <= 65535) or first > last:
        raise ParseError(rule.source.file, rule.line, "bad NAT port range %r" % spec, rule.text)
    return first, last


def _parse_address(text: str, family: int, rule: Rule) -> int:
    try:
        parsed = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise ParseError(rule.source.file, rule.line, "bad NAT address %r" % text, rule.text) from None
    if parsed.version != family:
        raise ParseError(rule.source.file, rule.line, "IPv%d NAT address %r in an IPv%d dump"
                         % (parsed.version, text, family), rule.text)
    return int(parsed)


def _parse_range(spec: str, family: int, rule: Rule) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """`A[-B][:p1[-p2]]` (IPv6: `[A][-[B]][:p1[-p2]]`, or bare `A[-B]`)."""
    ports = None
    addresses = spec
    if family == 4:
        if ":" in spec:
            addresses, _colon, port_text = spec.partition(":")
            ports = _parse_ports(port_text, rule)
    elif "]" in spec:
        close = spec.rindex("]")
        rest = spec[close + 1:]
        addresses = spec[:close + 1]
        if rest.startswith(":"):
            ports = _parse_ports(rest[1:], rule)
        elif rest:
            raise ParseError(rule.source.file, rule.line, "bad NAT range %r" % spec, rule.text)
    if not addresses:
        return None, ports
    low_text, dash, high_text = addresses.partition("-") if family == 4 else _split_v6(addresses)
    low = _parse_address(low_text, family, rule)
    high = _parse_address(high_text, family, rule) if dash else low
    return (min(low, high), max(low, high)), ports


def _split_v6(text: str) -> tuple[str, str, str]:
    if "]-[" in text:
        low, high = text.split("]-[", 1)
        return low + "]", "-", "[" + high
    return text.partition("-")


def nat_target(rule: Rule, family: int) -> NatTarget | None:
    """The NAT target of a rule (None when its target is none of SNAT, DNAT, MASQUERADE, REDIRECT, NETMAP)."""
    name = None
    for option in rule.options:
        if option.name in ("-j", "-g") and option.args:
            name = option.args[0]
    if name not in NAT_TARGETS:
        return None
    options = {option.name: option for option in rule.options
               if option.module is not None and option.module == "target:" + name}
    random = "--random" in options or "--random-fully" in options
    written = " ".join(" ".join((option.name,) + option.args) for option in options.values())

    def value(*names: str) -> str | None:
        for option_name in names:
            option = options.get(option_name)
            if option is not None and option.args:
                return option.args[0]
        return None

    if name in ("SNAT", "DNAT"):
        spec = value("--to-source", "--to") if name == "SNAT" else value("--to-destination", "--to")
        if spec is None:
            raise ParseError(rule.source.file, rule.line, "%s needs --to-%s" % (
                name, "source" if name == "SNAT" else "destination"), rule.text)
        addresses, ports = _parse_range(spec, family, rule)
        return NatTarget(name, "src" if name == "SNAT" else "dst", addresses, ports, None, random, written)
    if name in ("MASQUERADE", "REDIRECT"):
        spec = value("--to-ports")
        ports = _parse_ports(spec, rule) if spec is not None else None
        return NatTarget(name, "src" if name == "MASQUERADE" else "dst", None, ports, None, random, written)
    spec = value("--to")
    if spec is None:
        raise ParseError(rule.source.file, rule.line, "NETMAP needs --to", rule.text)
    try:
        network = ipaddress.ip_network(spec, strict=False)
    except ValueError:
        raise ParseError(rule.source.file, rule.line, "bad NETMAP network %r" % spec, rule.text) from None
    if network.version != family:
        raise ParseError(rule.source.file, rule.line, "IPv%d NETMAP network in an IPv%d dump"
                         % (network.version, family), rule.text)
    return NatTarget("NETMAP", "dst", (int(network.network_address), int(network.broadcast_address)), None,
                     network.prefixlen, False, written)


# ---------------------------------------------------------------------------
# One packet

AddressValue = t.Union[int, IfaceAddress, t.Tuple[int, int], None]
PortValue = t.Union[int, t.Tuple[int, int], None]


def new_port(target: NatTarget, protocol: int, port: int | None) -> PortValue:
    """The port after translation: kept, one value, or a range the kernel picks one of."""
    if protocol not in PORT_PROTOCOLS:
        return port
    if target.ports is None:
        if not target.random or target.manip == "dst" or port is None:
            return port
        return random_band(port)
    low, high = target.ports
    if low == high:
        return low
    if port is not None and low <= port <= high and not target.random:
        return port
    if target.manip == "dst" and not target.random:
        return low
    return (low, high)


# Where --random / --random-fully without a port range picks a source port (nf_nat_l4proto_unique_tuple).
RANDOM_BANDS = ((0, 511, (1, 511)), (512, 1023, (600, 1023)), (1024, 65535, (1024, 65535)))


def random_band(port: int) -> tuple[int, int]:
    for low, high, band in RANDOM_BANDS:
        if low <= port <= high:
            return band
    return (1024, 65535)


def new_address(target: NatTarget, address: int | None, interface: str, family: int, hook: str) -> AddressValue:
    """The address after translation (the one `target.manip` names)."""
    if target.kind == "NETMAP":
        return None if address is None else target.netmap(address, 32 if family == 4 else 128)
    if target.addresses is not None:
        low, high = target.addresses
        return low if low == high else (low, high)
    if target.kind == "REDIRECT" and hook == "OUTPUT":
        return LOOPBACK[family]
    return IfaceAddress(interface)
