# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DS field (RFC 2474/3168) and its legacy readings (RFC 791/1349).

One byte, many names: the second byte of the IPv4 header (IPv6: Traffic
Class) is read as DSCP (upper six bits) plus ECN (lower two), as IP
precedence (upper three bits) plus an RFC 1349 TOS value (bits 4-1), or
as the raw byte that iptables' TOS target writes.  Everything here is
pure arithmetic and tables; nothing else in the collection converts.

>>> ds = DSByte(0x04)
>>> (ds.dscp, ds.ecn, ds.precedence, ds.tos4)
(1, 0, 0, 2)
>>> dscp_name(1)
'LE'
>>> parse_tos_spec("Maximize-Reliability")
(4, 63)
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError

BYTE_MASK = 0xFF
ECN_MASK = 0x03
DSCP_MASK = 0xFC

# RFC 1349 section 4: the TOS field is bits 4-1 of the byte (a 4-bit value).
TOS_NAMES_IPTABLES: dict[str, int] = {
    "minimize-delay": 0x10,
    "maximize-throughput": 0x08,
    "maximize-reliability": 0x04,
    "minimize-cost": 0x02,
    "normal-service": 0x00,
}
# Written with a symbolic name, iptables uses mask 0x3f: precedence survives.
TOS_NAME_MASK = 0x3F

# RFC 1349's own names for the 4-bit value, as IOS ACLs spell them.
IOS_TOS_NAMES: dict[str, int] = {
    "min-delay": 8,
    "max-throughput": 4,
    "max-reliability": 2,
    "min-monetary-cost": 1,
    "normal": 0,
}

# RFC 791 precedence names, as IOS prints them.
PRECEDENCE_NAMES: dict[str, int] = {
    "routine": 0,
    "priority": 1,
    "immediate": 2,
    "flash": 3,
    "flash-override": 4,
    "critical": 5,
    "internet": 6,
    "network": 7,
}

# IANA "Differentiated Services Field Codepoints" registry.
# Pool 1: RFC 2474 (CS), RFC 2597 (AF), RFC 3246 (EF), RFC 5865 (VOICE-ADMIT).
# Pool 3 (xxxx01) became Standards Action with RFC 8436: LE = 1 (RFC 8622) and
# NQB = 45 (the Non-Queue-Building PHB, assigned by IANA in the 2025 update).
DSCP_NAMES: dict[str, int] = {
    "CS0": 0, "CS1": 8, "CS2": 16, "CS3": 24, "CS4": 32, "CS5": 40, "CS6": 48, "CS7": 56,
    "AF11": 10, "AF12": 12, "AF13": 14,
    "AF21": 18, "AF22": 20, "AF23": 22,
    "AF31": 26, "AF32": 28, "AF33": 30,
    "AF41": 34, "AF42": 36, "AF43": 38,
    "VOICE-ADMIT": 44, "EF": 46,
    "LE": 1, "NQB": 45,
}
# Spellings users and IOS write that are not registry names.
DSCP_ALIASES: dict[str, int] = {"DEFAULT": 0, "BE": 0, "VA": 44}
_DSCP_BY_VALUE: dict[int, str] = {}
for _name, _value in DSCP_NAMES.items():
    # CS0 and "default" are one codepoint; the registry's own name wins.
    _DSCP_BY_VALUE.setdefault(_value, _name)

# RFC 1349 TOS values a legacy stack writes (as bytes, precedence 0).
RFC1349_TOS_BYTES: tuple[int, ...] = (0x00, 0x02, 0x04, 0x08, 0x10)


class DSFieldError(DiffservError, ValueError):
    """A DSCP, TOS or precedence spelling that cannot be read (a core error: a task given one fails with
    its message, like any other input the core refuses)."""


@dataclasses.dataclass(frozen=True)
class DSByte:
    """One DS byte with every reading of it."""

    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value <= BYTE_MASK:
            raise DSFieldError("DS byte %r out of range 0-255" % (self.value,))

    @property
    def dscp(self) -> int:
        return self.value >> 2

    @property
    def ecn(self) -> int:
        return self.value & ECN_MASK

    @property
    def precedence(self) -> int:
        return self.value >> 5

    @property
    def tos4(self) -> int:
        """RFC 1349 4-bit TOS value (bits 4-1), as IOS `tos` matches it."""
        return (self.value >> 1) & 0x0F

    def describe(self) -> str:
        return describe_byte(self.value)


def dscp_of(ds_byte: int) -> int:
    return ds_byte >> 2


def ecn_of(ds_byte: int) -> int:
    return ds_byte & ECN_MASK


def byte_of(dscp: int, ecn: int = 0) -> int:
    if not 0 <= dscp <= 63:
        raise DSFieldError("DSCP %r out of range 0-63" % (dscp,))
    if not 0 <= ecn <= 3:
        raise DSFieldError("ECN %r out of range 0-3" % (ecn,))
    return (dscp << 2) | ecn


def dscp_pool(dscp: int) -> int:
    """IANA pool: 1 (xxxxx0, standards), 2 (xxxx11, EXP/LU), 3 (xxxx01)."""
    if dscp & 1 == 0:
        return 1
    return 2 if dscp & 3 == 3 else 3


def dscp_name(dscp: int) -> str | None:
    """The registry name of a codepoint, or None when it has none."""
    return _DSCP_BY_VALUE.get(dscp)


def dscp_label(dscp: int) -> str:
    """'1 (LE)', '3 (pool 2, unassigned)': what a report shows."""
    name = dscp_name(dscp)
    if name:
        return "%d (%s)" % (dscp, name)
    return "%d (pool %d, unassigned)" % (dscp, dscp_pool(dscp))


ECN_LABELS = ("Not-ECT", "ECT(1)", "ECT(0)", "CE")


def describe_byte(ds_byte: int) -> str:
    """'0x04 = DSCP 1 (LE), ECN Not-ECT'."""
    return "0x%02x = DSCP %s, ECN %s" % (
        ds_byte,
        dscp_label(ds_byte >> 2),
        ECN_LABELS[ds_byte & ECN_MASK],
    )


def dscps_from_rfc1349() -> frozenset[int]:
    """Every DSCP an RFC 1349 TOS value can produce under any precedence: 8p + {0,1,2,4}."""
    return frozenset(8 * p + (tos >> 2) for p in range(8) for tos in RFC1349_TOS_BYTES)


def _int(text: str) -> int:
    """iptables reads numbers with strtoul(base 0): 0x.., 0.., decimal."""
    text = text.strip()
    lowered = text.lower()
    if lowered.startswith("0x"):
        return int(lowered, 16)
    if len(lowered) > 1 and lowered.startswith("0") and lowered.isdigit():
        return int(lowered, 8)
    return int(lowered, 10)


def parse_number(text: str, limit: int, what: str) -> int:
    try:
        value = _int(text)
    except ValueError:
        raise DSFieldError("%s %r is not a number" % (what, text)) from None
    if not 0 <= value <= limit:
        raise DSFieldError("%s %r out of range 0-%d" % (what, text, limit))
    return value


def parse_tos_spec(text: str) -> tuple[int, int]:
    """An iptables TOS value as written: `0x04`, `4`, `0x04/0xff`, `Minimize-Delay`.

    Returns (value, mask).  A bare number means mask 0xff, a symbolic name
    mask 0x3f (iptables keeps the precedence bits for names).
    """
    spec = text.strip()
    named = TOS_NAMES_IPTABLES.get(spec.lower())
    if named is not None:
        return named, TOS_NAME_MASK
    value_text, slash, mask_text = spec.partition("/")
    value = parse_number(value_text, BYTE_MASK, "TOS value")
    mask = parse_number(mask_text, BYTE_MASK, "TOS mask") if slash else BYTE_MASK
    return value, mask


def parse_dscp(text: str) -> int:
    """A DSCP as users write it: `1`, `0x2e`, `ef`, `AF11`, `cs1`, `default`, `le`."""
    spec = text.strip()
    upper = spec.upper()
    if upper in DSCP_NAMES:
        return DSCP_NAMES[upper]
    if upper in DSCP_ALIASES:
        return DSCP_ALIASES[upper]
    return parse_number(spec, 63, "DSCP")


def parse_precedence(text: str) -> int:
    spec = text.strip().lower()
    if spec in PRECEDENCE_NAMES:
        return PRECEDENCE_NAMES[spec]
    return parse_number(spec, 7, "IP precedence")


def parse_ios_tos(text: str) -> int:
    """IOS ACL `tos` keyword argument: 0-15 or an RFC 1349 name."""
    spec = text.strip().lower()
    if spec in IOS_TOS_NAMES:
        return IOS_TOS_NAMES[spec]
    return parse_number(spec, 15, "TOS")


def parse_ds_byte(text: str | int) -> int:
    """A DS byte given as an integer, `0x04`, or a TOS name (mask ignored)."""
    if isinstance(text, int):
        return DSByte(text).value
    value, _mask = parse_tos_spec(str(text))
    return value


class TosRewrite(t.NamedTuple):
    """new = (old & ~mask) ^ value: the kernel's TOS target revision 1 (xt_DSCP.c)."""

    value: int
    mask: int

    def apply(self, old: int) -> int:
        return (old & ~self.mask & BYTE_MASK) ^ self.value


def dscp_rewrite(dscp: int) -> TosRewrite:
    """The DSCP target writes the upper six bits and keeps ECN."""
    return TosRewrite(value=(dscp << 2) & BYTE_MASK, mask=DSCP_MASK)


def legacy_tos_apply(old: int, value: int) -> int:
    """ipt_TOS.c (Linux 2.4-2.6.24): precedence kept, ECN cleared, only on change."""
    if (old & 0x1E) != value:
        return (old & 0xE0) | value
    return old
