# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one list of secrets a device configuration may carry, and the one function that removes them.

Every file the collection writes (reports, bundles, backups of what was collected) passes
through `redact()`.  The list starts from netconan's and Oxidized's (both RANCID-derived) and
closes their known gaps: netconan keeps `snmp-server community private` because `private` is
one of its reserved words; Oxidized's IOS model keeps `ntp authentication-key`.  A community,
a key or a password is redacted whatever its value, reserved word or not.

>>> redact("snmp-server community private RW 99")
'snmp-server community <redacted:snmp-community#1> RW 99'
>>> redact(" ntp authentication-key 1 md5 0822455D0A16 7")
' ntp authentication-key 1 md5 <redacted:ntp-key#1> 7'
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import typing as t

_SECRET = r"(?P<secret>\S+)"
_ENC = r"(?:(?:0|5|6|7|8|9)\s+)?"  # an IOS encryption type before the secret

# (kind, pattern): each pattern matches a whole line (leading spaces allowed) and names the
# secret as the group "secret".  Order matters only for readability.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("enable-secret", r"^\s*enable\s+(?:secret|password)\s+(?:level\s+\d+\s+)?" + _ENC + _SECRET),
    ("user-password", r"^\s*username\s+\S+(?:\s+\S+)*?\s+(?:password|secret)\s+" + _ENC + _SECRET),
    ("line-password", r"^\s*password\s+" + _ENC + _SECRET),
    ("snmp-community", r"^\s*snmp-server\s+community\s+" + _SECRET),
    ("snmp-host-community",
     r"^\s*snmp-server\s+host\s+\S+(?:\s+(?:informs|traps|vrf\s+\S+))*(?:\s+version\s+(?:1|2c|3\s+\S+))?\s+"
     + _SECRET),
    ("snmp-user-auth", r"^\s*snmp-server\s+user\s+.*?\bauth\s+\S+\s+" + _SECRET),
    ("snmp-user-priv", r"^\s*snmp-server\s+user\s+.*?\bpriv\s+(?:\S+\s+)?(?:\d+\s+)?" + _SECRET + r"\s*$"),
    ("ntp-key", r"^\s*ntp\s+authentication-key\s+\d+\s+\S+\s+" + _SECRET),
    ("key-string", r"^\s*key-string\s+" + _ENC + _SECRET),
    ("server-key", r"^\s*(?:tacacs-server|radius-server)\s+(?:host\s+\S+\s+(?:.*?\s+)?)?key\s+" + _ENC + _SECRET),
    # `key 7 X` in a radius/tacacs server block; not `key chain NAME` nor a key chain's `key 1`
    ("server-key", r"^\s*key\s+(?!chain\b|config-key\b|\d+\s*$)" + _ENC + _SECRET),
    ("server-key", r"^\s*server-private\s+\S+\s+(?:.*?\s+)?key\s+" + _ENC + _SECRET),
    ("isakmp-key", r"^\s*crypto\s+isakmp\s+key\s+" + _ENC + _SECRET),
    ("pre-shared-key", r"^\s*pre-shared-key\s+(?:(?:local|remote)\s+)?(?:address|hostname)\s+.*?\bkey\s+"
     + _ENC + _SECRET),
    ("pre-shared-key", r"^\s*pre-shared-key\s+(?:(?:local|remote)\s+)?(?!address\b|hostname\b)" + _ENC + _SECRET),
    ("ospf-key", r"^\s*ip\s+ospf\s+authentication-key\s+" + _ENC + _SECRET),
    ("ospf-md5-key", r"^\s*ip\s+ospf\s+message-digest-key\s+\d+\s+md5\s+" + _ENC + _SECRET),
    ("bgp-password", r"^\s*neighbor\s+\S+\s+password\s+" + _ENC + _SECRET),
    ("hsrp-key", r"^\s*standby\s+(?:\d+\s+)?authentication\s+(?:md5\s+key-string\s+|text\s+)?" + _ENC + _SECRET),
    ("vrrp-key", r"^\s*vrrp\s+\d+\s+authentication\s+(?:md5\s+key-string\s+|text\s+)?" + _ENC + _SECRET),
    ("ppp-password", r"^\s*ppp\s+(?:chap|pap)\s+(?:password|sent-username\s+\S+\s+password)\s+" + _ENC + _SECRET),
    ("isis-password", r"^\s*(?:isis\s+password|area-password|domain-password)\s+" + _SECRET),
    ("wpa-psk", r"^\s*wpa-psk\s+(?:ascii|hex)\s+" + _ENC + _SECRET),
    ("ftp-password", r"^\s*ip\s+(?:ftp|http\s+client)\s+password\s+" + _ENC + _SECRET),
    ("config-key", r"^\s*key\s+config-key\s+password-encrypt\s+" + _SECRET),
    ("authentication-key", r"\bauthentication-key\s+(?:\d+\s+)?(?:md5\s+)?" + _ENC + _SECRET),
    ("authentication-key", r"^\s*authentication\s+(?:text|key-string|md5\s+key-string)\s+" + _ENC + _SECRET),
    ("l2tp-password", r"^\s*l2tp\s+tunnel\s+(?:\S+\s+)?password\s+" + _ENC + _SECRET),
    ("iptables-comment-secret", r"""--comment\s+"?[^"]*\b(?:password|passwd|secret)\s*[=:]\s*(?P<secret>[^\s"]+)"""),
)

_COMPILED: tuple[tuple[str, "re.Pattern[str]"], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in PATTERNS
)
# Lines that carry key material in the following indented block: certificates and public keys
# are not secrets, but a private key block is, and a key-chain block holds key-strings.
_BLOCK_SECRET = re.compile(r"^\s*(?:crypto\s+pki\s+.*private|-----BEGIN [A-Z ]*PRIVATE KEY-----)", re.IGNORECASE)
MARK = "<redacted:%s>"
# Cheap prefilter: a line with none of these words carries no secret we know of.
_KEYWORDS = re.compile(r"secret|password|community|key|snmp-server|authentication|pre-shared|wpa-psk|"
                       r"passwd", re.IGNORECASE)


def redact_line(line: str, numbering: dict[str, int] | None = None) -> str:
    """One line with its secrets replaced.

    With `numbering` (secret -> number, shared across a text), each distinct secret gets its own
    mark (`<redacted:snmp-community#2>`), so two lines that differed only by their secret stay
    different: configuration tools (hier_config) refuse duplicate lines.  The numbers say which
    secrets were equal within one text, never what they were.
    """
    if not _KEYWORDS.search(line):
        return line
    # A line may hold several secrets (an SNMPv3 user's auth and priv passwords): every
    # pattern gets its turn on the line as the earlier ones left it.
    for kind, pattern in _COMPILED:
        match = pattern.search(line)
        if match is not None and not match.group("secret").startswith("<redacted:"):
            start, end = match.span("secret")
            mark = MARK % kind
            if numbering is not None:
                number = numbering.setdefault(match.group("secret"), len(numbering) + 1)
                mark = "<redacted:%s#%d>" % (kind, number)
            line = line[:start] + mark + line[end:]
    return line


def redact(text: str) -> str:
    """Every secret in a configuration text replaced by `<redacted:kind>`; everything else kept."""
    out: list[str] = []
    numbering: dict[str, int] = {}
    in_private_block = False
    for line in text.split("\n"):
        if in_private_block:
            if line.startswith(" ") or line.startswith("-----") or (line and not line[0].isalpha()):
                out.append(MARK % "private-key-block" if line.strip() else line)
                if "-----END" in line:
                    in_private_block = False
                continue
            in_private_block = False
        if _BLOCK_SECRET.search(line):
            in_private_block = True
            out.append(line if line.lstrip().startswith("crypto") else MARK % "private-key-block")
            continue
        out.append(redact_line(line, numbering))
    return "\n".join(out)


def secrets_in(text: str) -> list[tuple[int, str, str]]:
    """(line, kind, secret) for every secret still present: what a scan of an artifact reports."""
    found: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not _KEYWORDS.search(line):
            continue
        for kind, pattern in _COMPILED:
            match = pattern.search(line)
            if match is not None and not match.group("secret").startswith("<redacted:"):
                found.append((number, kind, match.group("secret")))
    return found


def redact_data(value: t.Any) -> t.Any:
    """Redact every string inside a JSON-like structure (what findings.json holds)."""
    if isinstance(value, str):
        return redact(value) if "\n" in value else redact_line(value)
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_data(item) for item in value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    return value
