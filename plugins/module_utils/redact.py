# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where device configurations keep secrets, and the one function that removes them.

Every file the collection writes (reports, bundles, backups of what was collected) passes
through `redact()`.  Redaction is a model, not a list of whole-line patterns: a word that
introduces a secret (`password`, `secret`, `key`, `key-string`, `pre-shared-key`, `server-key`,
`psk`, `shared-secret`, `authentication-key`, `message-digest-key N md5`, the `auth` and `priv`
of `snmp-server user`, a URL's `user:pass@`, ...) redacts the value that follows it wherever it
sits on the line, after the words IOS puts between keyword and value (an encryption type
0/5/6/7/8/9, `ascii`, `hex`, `md5`, `sha`, `des`, `aes 128`, `level 15`, ...).  Blocks of key
material are folded line for line (certificate chains, private keys), and under sections known
to hold secrets (`crypto keyring`, `radius server`, `key chain`, `sip-ua`, `wlan`, ...) any word
that looks like a secret's keyword redacts what follows it.  A community, a key or a password is
redacted whatever its value, reserved word or not (netconan keeps `snmp-server community
private`; Oxidized's IOS model keeps `ntp authentication-key`).

What the DSCP analysis reads is never touched: ACLs, class-maps, policy-maps, route-maps
(`set community` included), interfaces, `service-policy`, and the words that only talk about
secrets (`key chain NAME`, a key chain's `key 1`, `authentication key-chain NAME`,
`crypto key generate`, `service password-encryption`, `password encryption aes`).

iptables rules keep their meaning: a `-m comment --comment` or `-m string --string` /
`--hex-string` value that carries a secret's word is replaced whole, quoted, so the rule
still parses.

>>> redact("snmp-server community private RW 99")
'snmp-server community <redacted:snmp-community#1> RW 99'
>>> redact(" ntp authentication-key 1 md5 0822455D0A16 7")
' ntp authentication-key 1 md5 <redacted:ntp-key#1> 7'
>>> redact_line("snmp-server user u g v3 auth sha A1 priv aes 128 P2 access 10")
'snmp-server user u g v3 auth sha <redacted:snmp-user-auth> priv aes 128 <redacted:snmp-user-priv> access 10'
>>> redact_line("-A INPUT -m comment --comment \\"vpn psk=abc\\" -j ACCEPT")
'-A INPUT -m comment --comment "<redacted:iptables-comment>" -j ACCEPT'
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import functools
import hashlib
import os
import re
import threading
import typing as t

MARK = "<redacted:%s>"
_MARK_START = "<redacted:"

# Cheap prefilter, on the lowered line: a line with none of these substrings carries no secret
# we know of.  Substring tests run at memory speed (a 50 MiB line costs milliseconds), where a
# regex alternation would cost a second.
_HINTS = ("pass", "secret", "key", "communit", "auth", "priv", "psk", "text", "spi", "://", "hmac",
          "environment", "pwd", "token", "credential", "snmp-server", "syscon", "pin", "bearer")
# What makes an iptables comment or string match worth hiding (on the lowered value).
_IPTABLES_HINTS = ("pass", "pwd", "secret", "token", "communit", "psk", "credential", "key=", "key:", "key =",
                   "api key", "apikey", "api-key", "api_key", "private key", "bearer")

# Words that introduce a secret wherever they sit on a line.
_DIRECT = frozenset((
    "password", "secret", "key", "key-string", "pre-shared-key", "server-key", "psk", "wpa-psk", "set-key",
    "shared-secret", "shared-secondary-secret", "authentication-key", "message-digest-key", "passphrase",
    "passwd", "area-password", "domain-password", "hello-authentication-key", "snmp-community", "key-hash",
    "user-pin", "so-pin",
))
# Words that introduce a secret only in a given context (checked by _secret_after).
_CONTEXTUAL = frozenset(("community", "community-map", "auth", "priv", "authentication", "text", "hmac-sha-256",
                         "spi", "session-key"))
_KEYWORDS = _DIRECT | _CONTEXTUAL
# Words IOS prints between a keyword and its value: skipped when a value still follows them.
_SKIP = frozenset((
    "0", "5", "6", "7", "8", "9", "ascii", "hex", "md5", "sha", "sha1", "sha-1", "sha256", "sha512", "des", "3des",
    "aes", "aes-cbc", "hmac-sha1", "hmac-sha2-256", "hmac-sha-256", "cmac-aes-128", "encrypted", "unencrypted",
    "fallback", "local", "remote", "ssh-rsa",
))
# `enable secret level 15 5 X`, WEP `key 1 size 128bit 7 X`, `ip msdp password peer A 7 X`
_SKIP_WITH_ARGUMENT = frozenset(("level", "size", "index", "peer"))
_AES_SIZES = frozenset(("128", "192", "256"))
# After these keywords, the next word names something else: no secret on this line from them.
_NOT_A_VALUE = {
    "password": frozenset(("encryption", "restriction", "required", "option", "rollover", "policy")),
    "key": frozenset(("chain", "generate", "zeroize", "import", "export", "pubkey-chain", "storage", "move",
                      "encrypt", "decrypt", "config-key")),
    "pre-shared-key": frozenset(("address", "hostname", "key-chain", "key")),
    "secret": frozenset(("hidden",)),
}
# Lines the DSCP analysis reads (or that only name things): left alone, whatever words they hold.
_PROTECTED_HEADS = frozenset((
    "access-list", "class-map", "policy-map", "route-map", "match", "class", "service-policy", "interface",
    "permit", "deny", "evaluate", "dynamic", "police", "priority", "bandwidth", "shape", "hostname",
))
_PROTECTED_IP = frozenset(("access-list", "access-group", "policy", "traffic-filter", "prefix-list",
                           "community-list", "as-path"))
_WEAK_HEADS = frozenset(("description", "remark"))  # free text: only an explicit password/secret counts there
_STRONG = frozenset(("password", "secret", "passphrase", "passwd"))
# Sections whose unknown lines are redacted conservatively: any secret-looking keyword hides what follows.
_SECRET_SECTIONS = (
    "crypto keyring", "crypto isakmp client configuration group", "crypto isakmp profile", "crypto ikev2 keyring",
    "crypto ikev2 profile", "crypto ipsec client ezvpn", "crypto pki trustpoint", "crypto map",
    "aaa server radius dynamic-author", "aaa group server", "radius server", "tacacs server", "ldap server",
    "key chain", "sip-ua", "dot11 ssid", "wlan", "dot1x credentials", "l2tp-class", "voice register",
    "eap profile", "wireless profile", "ip sla",
)
_SECTION_WORD = re.compile(r"pass|secret|psk|pwd|^key$|-key$|^key-|credential|token|shared", re.IGNORECASE)
_SECTION_NOT = frozenset(("key-chain", "key-management", "keyring", "nopassword", "password-encryption", "key-hash",
                          "transmit-key", "trusted-key", "credentials", "key-exchange"))
_EEM_SECRET = re.compile(r"pass|secret|key|pw|token|communit|psk|cred", re.IGNORECASE)
_CERT_CHAIN = re.compile(r"crypto\s+(?:pki|ca)\s+certificate\s+chain\b", re.IGNORECASE)
_PRIVATE_HEADER = re.compile(r"^\s*crypto\s+pki\s+.*private", re.IGNORECASE)
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_WORD = re.compile(r"\S+")
# `password=X`, `psk:X` inside a word (free text, an iptables option quoted in a message): the X.
_ASSIGNED = re.compile(r"(?i)(?:password|passwd|passphrase|pwd|secret|psk|token|community|api[_-]?key|key)[=:]"
                       r"([^\s\"',;<]+)")
_HEX_KEY = re.compile(r"[0-9a-fA-F]{8,}$")
# scheme://user:password@ -> the password.  Scanned from each "://" found by str.find, so a long
# line costs one pass; the classes exclude "/" so a scan never runs past the next "://".
_USERINFO = re.compile(r"[^\s/@:]*:([^\s/@]+)@")
# iptables: an option and its argument, quoted (possessive: no backtracking on a 50 MiB value,
# an unterminated quote runs to the end of the line) or a bare word.
_IPTABLES_ARG = re.compile(r'(?<!\S)(--comment|--string|--hex-string)\s+(?:"((?:[^"\\]++|\\.)*+)("?)|([^\s"]\S*))')
# A line longer than this is not a configuration command: if it holds a secret's keyword at all,
# everything after the first one is redacted (bounded work whatever the line holds).
_LONG_LINE = 65536
_LONG_LINE_HITS = 10000

Span = t.Tuple[int, int, str]


# ---------------------------------------------------------------------------
# Finding secrets in one line


def _hinted(low: str) -> bool:
    return any(hint in low for hint in _HINTS)


def _head(low_words: list[str]) -> int:
    """Index of the first meaningful word (`no` skipped)."""
    return 1 if low_words and low_words[0] == "no" and len(low_words) > 1 else 0


def _protected(low_words: list[str], section: str) -> bool:
    h = _head(low_words)
    if h >= len(low_words):
        return False
    first = low_words[h]
    if first == "set":
        # a route-map's `set community` stays; a crypto map's `set session-key` does not
        return not (section.startswith("crypto") or (len(low_words) > h + 1 and low_words[h + 1] == "session-key"))
    if first in _PROTECTED_HEADS or first.isdigit():
        return True
    return first in ("ip", "ipv6") and len(low_words) > h + 1 and low_words[h + 1] in _PROTECTED_IP


def _weak(low_words: list[str]) -> bool:
    """Free text (a description, an ACL remark: the analysis reads neither): only explicit secrets go."""
    h = _head(low_words)
    first = low_words[h] if h < len(low_words) else ""
    return first in _WEAK_HEADS or ("remark" in low_words[h + 1:h + 3] and (first == "access-list" or first.isdigit()))


def _value_index(low: list[str], j: int) -> int:
    """Skip the words IOS puts before a secret (encryption type, algorithm, ...) while a value still follows."""
    n = len(low)
    while j < n - 1:
        word = low[j]
        if word in _SKIP_WITH_ARGUMENT and j < n - 2:
            j += 2
        elif word in ("aes", "aes-cbc") and low[j + 1] in _AES_SIZES and j < n - 2:
            j += 2
        elif word in _SKIP:
            j += 1
        elif word.isdigit() and low[j + 1] in ("size", "md5", "sha", "sha1", "hmac-sha-256", "hmac-sha1",
                                               "hmac-sha2-256", "cmac-aes-128"):
            j += 1  # a key number: `message-digest-key 1 md5 X`, WEP `key 1 size 128bit X`
        else:
            break
    return j


def _kind(keyword: str, low: list[str], section: str) -> str:
    """The mark's name: what the secret is, from the keyword and the line's first words."""
    h = _head(low)
    first = low[h] if h < len(low) else ""
    second = low[h + 1] if h + 1 < len(low) else ""
    if first == "enable":
        return "enable-secret"
    if first == "username":
        return "user-password"
    if first == "ntp":
        return "ntp-key"
    if first in ("standby", "vrrp", "glbp"):
        return {"standby": "hsrp-key", "vrrp": "vrrp-key", "glbp": "glbp-key"}[first]
    if first in ("ip", "ipv6") and second == "nhrp":
        return "nhrp-key"
    if first == "ppp":
        return "ppp-password"
    if first == "l2tp" or section.startswith("l2tp-class"):
        return "l2tp-password"
    if first in ("isis",) or keyword in ("area-password", "domain-password"):
        return "isis-password"
    if keyword in ("password", "secret"):
        if first == "password":
            return "line-password"
        if first == "neighbor":
            return "bgp-password"
        if first == "ip" and second in ("ftp", "http"):
            return "ftp-password"
        return keyword
    if keyword == "key":
        if first == "crypto" and second == "isakmp":
            return "isakmp-key"
        if first == "pre-shared-key":
            return "pre-shared-key"
        if first in ("tacacs-server", "radius-server", "server-private") or section.startswith(
                ("radius server", "tacacs server", "aaa group server")):
            return "server-key"
        if first == "tunnel":
            return "tunnel-key"
        return "key"
    if keyword == "authentication-key":
        return "ospf-key" if first in ("ip", "ipv6") and second == "ospf" else "authentication-key"
    if keyword == "message-digest-key":
        return "ospf-md5-key"
    if keyword in ("psk", "wpa-psk", "set-key"):
        return "wpa-psk"
    if keyword in ("spi", "session-key"):
        return "ipsec-key"
    if keyword == "community-map":
        return "snmp-community"
    if keyword == "hmac-sha-256":
        return "eigrp-key"
    if keyword in ("shared-secret", "shared-secondary-secret"):
        return "shared-secret"
    if keyword in ("community", "auth", "priv"):
        return {"community": "snmp-community", "auth": "snmp-user-auth", "priv": "snmp-user-priv"}[keyword]
    return keyword


def _secret_after(i: int, low: list[str], section: str, weak: bool) -> int | None:
    """Index of the secret introduced by the keyword at i, or None when the keyword introduces none here."""
    keyword = low[i]
    n = len(low)
    if i + 1 >= n:
        return None
    h = _head(low)
    first = low[h]
    second = low[h + 1] if h + 1 < n else ""
    previous = low[i - 1] if i > 0 else ""
    if weak and keyword not in _STRONG:
        return None
    if keyword in _CONTEXTUAL:
        if keyword in ("community", "community-map") and not (first == "snmp-server" and i <= h + 2):
            return None
        if keyword in ("auth", "priv") and not (first == "snmp-server" and second == "user"):
            return None
        if keyword == "authentication":
            if not (first in ("standby", "vrrp", "glbp") or (first in ("ip", "ipv6") and second == "nhrp")):
                return None
            if low[i + 1] in ("md5", "text", "key-chain", "key-string"):
                return None  # `md5 key-string X` and `text X` are their own keywords
        if keyword == "text" and previous != "authentication":
            return None
        if keyword == "hmac-sha-256" and previous != "mode":
            return None
        if keyword in ("spi", "session-key"):
            return None  # handled by _ipsec_spans: several keys may follow
    if keyword in _NOT_A_VALUE and low[i + 1] in _NOT_A_VALUE[keyword]:
        return None
    if keyword == "key":
        if previous == "crypto":
            return None  # crypto key generate/import/zeroize/pubkey-chain
        if previous == "tunnel" or first == "ntp":
            return None  # a GRE key is sent in clear in every header; `ntp server A key 1` names a key
        # a key chain's `key 1`: an entry number, unless the section says otherwise
        if i == h and n == h + 2 and low[i + 1].isdigit() and len(low[i + 1]) <= 10 and (
                not section or section.startswith("key chain")):
            return None
    if keyword == "password" and previous == "aaa":
        return None  # aaa password restriction
    if keyword == "secret" and previous == "shared":
        return None
    j = _value_index(low, i + 1)
    if j >= n:
        return None
    if low[j] in _KEYWORDS and low[j] != keyword and j + 1 < n:
        return None  # `psk set-key ascii 0 X`: the next keyword takes the value
    return j


def _snmp_host(low: list[str]) -> int | None:
    """snmp-server host A [vrf V] [informs|traps] [version 1|2c|3 [auth|noauth|priv]] COMMUNITY ..."""
    n = len(low)
    j = _head(low) + 3  # after `[no] snmp-server host A`
    while j < n:
        if low[j] == "vrf" and j + 1 < n:
            j += 2
        elif low[j] in ("informs", "traps", "inform", "trap"):  # the singular as older images print it
            j += 1
        elif low[j] == "version" and j + 1 < n:
            j += 2
            if low[j - 1] == "3" and j < n and low[j] in ("auth", "noauth", "priv"):
                j += 1
        else:
            return j
    return None


def _strip_quotes(start: int, end: int, line: str) -> tuple[int, int]:
    """A value inside a quoted EEM command (`"enable secret X"`): the quote stays outside the mark."""
    while end - start > 1 and line[end - 1] == '"':
        end -= 1
    while end - start > 1 and line[start] == '"':
        start += 1
    return start, end


def _ios_spans(line: str, section: str) -> list[Span]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(line)]
    if not words:
        return []
    low = [line[s:e].lower() for s, e in words]
    weak = _weak(low)
    if not weak and _protected(low, section):
        return []
    h = _head(low)
    first = low[h] if h < len(low) else ""
    spans: list[Span] = []
    taken: set[int] = set()
    j: int | None  # a word's index; None where _snmp_host or _secret_after finds no value

    def take(j: int, kind: str) -> None:
        if j in taken or line.startswith(_MARK_START, words[j][0]) or line.startswith('"' + _MARK_START, words[j][0]):
            return
        taken.add(j)
        start, end = _strip_quotes(words[j][0], words[j][1], line)
        spans.append((start, end, kind))

    if first == "key" and len(low) > h + 2 and low[h + 1] == "config-key":
        # key config-key password-encrypt X: the master key of every type-6 secret
        for j in range(h + 2, len(low)):
            if low[j] != "password-encrypt":
                take(j, "config-key")
        return spans
    if first == "event" and low[h + 1:h + 3] == ["manager", "environment"] and len(low) > h + 4:
        if _EEM_SECRET.search(low[h + 3]):
            start = words[h + 4][0]
            if not line.startswith(_MARK_START, start):
                spans.append((start, words[-1][1], "eem-environment"))
        return spans
    if first == "syscon" and len(low) > h + 3 and low[h + 1] == "address":
        take(h + 3, "syscon-password")
        return spans
    if first == "snmp-server" and len(low) > h + 2 and low[h + 1] == "host":
        j = _snmp_host(low)
        if j is not None:
            take(j, "snmp-host-community")
        return spans
    secretish = bool(section) and section.startswith(_SECRET_SECTIONS) and not weak
    for i, word in enumerate(low):
        if i in taken or word.startswith(_MARK_START):
            continue  # a mark is no keyword: redacting twice changes nothing
        if word in _KEYWORDS or (word.endswith(("password", "secret")) and word != "nopassword"):
            j = _secret_after(i, low, section, weak)
            if j is not None:
                take(j, _kind(word, low, section))
                continue
            if word in ("spi", "session-key"):
                _ipsec_spans(i, low, take)
                continue
        if secretish and word not in _SECTION_NOT and _SECTION_WORD.search(word) and i + 1 < len(low):
            # A section known to hold secrets: a secret-looking word hides what follows it.
            if word == "key" and _secret_after(i, low, section, weak) is None:
                continue
            if word in _NOT_A_VALUE and low[i + 1] in _NOT_A_VALUE[word]:
                continue
            j = _value_index(low, i + 1)
            if j < len(low) and low[j] not in _KEYWORDS:
                take(j, "section-secret")
    return spans


def _ipsec_spans(i: int, low: list[str], take: t.Callable[[int, str], None]) -> None:
    """Manual IPsec keys: every key after the SPI number.

    `ipv6 ospf authentication ipsec spi 256 md5 KEY`, `spi 1001 esp aes-cbc 128 KEY sha1 KEY2`,
    `set session-key inbound ah 256 KEY`, `set session-key outbound esp 256 cipher KEY authenticator KEY2`.
    """
    for j in range(i + 2, len(low)):
        if low[j - 1] in ("ah", "esp") and low[j].isdigit():
            continue  # the SPI
        if _HEX_KEY.match(low[j]) or (low[j - 1] in ("md5", "sha1", "0", "7", "cipher", "authenticator")
                                      and low[j] not in _SKIP):
            take(j, "ipsec-key")


def _url_spans(line: str) -> list[Span]:
    spans: list[Span] = []
    position = line.find("://")
    while position >= 0:
        match = _USERINFO.match(line, position + 3)
        if match is not None and not match.group(1).startswith(_MARK_START):
            spans.append((match.start(1), match.end(1), "url-password"))
        position = line.find("://", position + 3)
    return spans


def _hex_string_text(value: str) -> str:
    """iptables --hex-string `|70 61|ss`: the bytes it matches, as text, to look for secret words."""
    parts = value.split("|")
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            digits = "".join(part.split())
            try:
                out.append(bytes.fromhex(digits).decode("latin-1"))
            except ValueError:
                out.append(part)
        else:
            out.append(part)
    return "".join(out)


def _iptables_spans(line: str) -> list[Span]:
    """The comment or string match arguments of a rule that carry a secret's word: replaced whole, quotes kept."""
    spans: list[Span] = []
    for match in _IPTABLES_ARG.finditer(line):
        option = match.group(1)
        quoted = match.group(2) is not None
        value = match.group(2) if quoted else match.group(4)
        if value.startswith(_MARK_START):
            continue
        seen = _hex_string_text(value) if option == "--hex-string" else value
        lowered = seen.lower()
        if any(hint in lowered for hint in _IPTABLES_HINTS):
            kind = "iptables-" + option[2:]
            # the mark goes inside the quotes: the rule stays one token to iptables-restore and to our parser
            spans.append((match.start(2), match.end(2), kind) if quoted else (match.start(4), match.end(4), kind + '"'))
    return spans


def _long_line_spans(line: str, low: str) -> list[Span]:
    """A line too long to be a command: everything after the first secret keyword goes (bounded work)."""
    first = len(line)
    for hint in _HINTS:
        position = low.find(hint, 0, first)
        seen = 0
        while 0 <= position < first:
            seen += 1
            if seen > _LONG_LINE_HITS:
                first = position  # crafted to be slow: redact from here rather than look further
                break
            window = max(0, position - 64)
            start = max(low.rfind(" ", window, position), low.rfind("\t", window, position)) + 1
            if start == 0 and window > 0:
                position = low.find(hint, position + 1, first)  # a 64-character word is no keyword
                continue
            # The word around the hint: the first run of non-space from `start`; other whitespace
            # (a U+00A0 before the keyword) is skipped, not read as part of the word.
            matched = _WORD.search(low, start)
            if matched is None:
                break
            end = matched.end()
            word = low[matched.start():end]
            if word in _KEYWORDS or word.endswith(("password", "secret")) or hint == "://":
                first = min(first, end)
                break
            position = low.find(hint, end, first)
    if first + 1 >= len(line):
        return []
    return [(first + 1, len(line), "long-line")]


def _spans(line: str, section: str = "") -> list[Span]:
    """Every secret of one line as (start, end, kind), sorted, not overlapping."""
    if line.lstrip().startswith("-"):
        # An iptables rule: only a comment or a string match can carry a secret.  A hex string
        # hides its words from the prefilter, so it is decoded first.
        if "--hex-string" in line or (("--comment" in line or "--string" in line) and _hinted(line.lower())):
            return _iptables_spans(line)
        return []
    low = line.lower()
    if not _hinted(low):
        # a hex string hides its words from the prefilter (a message may quote the option)
        return _iptables_spans(line) if "--hex-string" in line else []
    if len(line) > _LONG_LINE:
        return _long_line_spans(line, low)
    spans = _ios_spans(line, section)
    if "://" in line:
        spans.extend(_url_spans(line))
    if "=" in line or ":" in line:
        low_words = low.split()
        if _weak(low_words) or not _protected(low_words, section):
            spans.extend((m.start(1), m.end(1), "assigned-secret") for m in _ASSIGNED.finditer(line))
    if "--comment" in line or "--string" in line or "--hex-string" in line:
        # an iptables option quoted in a message (a diagnostic naming the match it did not model)
        spans.extend(_iptables_spans(line))
    spans.sort()
    kept: list[Span] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _apply(line: str, spans: list[Span], numbering: dict[str, int] | None) -> str:
    out = []
    position = 0
    for start, end, kind in spans:
        out.append(line[position:start])
        # A kind ending in a double quote marks a bare iptables argument: its mark is quoted.
        quote = '"' if kind.endswith('"') else ""
        kind = kind.rstrip('"')
        if numbering is not None:
            number = numbering.setdefault(line[start:end], len(numbering) + 1)
            out.append('%s<redacted:%s#%d>%s' % (quote, kind, number, quote))
        else:
            out.append(quote + MARK % kind + quote)
        position = end
    out.append(line[position:])
    return "".join(out)


def redact_line(line: str, numbering: dict[str, int] | None = None, section: str = "") -> str:
    """One line with its secrets replaced.

    With `numbering` (secret -> number, shared across a text), each distinct secret gets its own
    mark (`<redacted:snmp-community#2>`), so two lines that differed only by their secret stay
    different: configuration tools (hier_config) refuse duplicate lines.  The numbers say which
    secrets were equal within one text, never what they were.  `section` is the configuration
    section the line sits in (its column-0 parent), when known: `redact()` passes it.
    """
    spans = _spans(line, section)
    return _apply(line, spans, numbering) if spans else line


# ---------------------------------------------------------------------------
# Whole texts: sections and folded blocks


class _Walker:
    """Reads a text line by line, knowing the section and the key-material block each line sits in."""

    def __init__(self) -> None:
        self.section = ""
        self.block: str | None = None  # "certificate" | "private-key" | "private-section"

    def step(self, line: str) -> str | None:
        """The kind to fold this whole line into, or None to redact it word by word."""
        indented = line[:1] in (" ", "\t")
        if self.block == "private-key":
            if "-----END" in line:
                self.block = None
            return "private-key-block"
        if self.block in ("certificate", "private-section"):
            if indented or (self.block == "private-section" and line.startswith("-----")):
                if _PEM_BEGIN.search(line):
                    self.block = "private-key"
                    return "private-key-block"
                stripped = line.strip()
                if self.block == "certificate" and (stripped == "quit" or stripped.startswith("certificate")):
                    return None  # the structure stays; the numbers and serials are not key material
                return "certificate" if self.block == "certificate" else "private-key-block"
            self.block = None
        if _PEM_BEGIN.search(line):
            self.block = "private-key" if "-----END" not in line[line.find("-----BEGIN") + 10:] else None
            return "private-key-block"
        if line and not indented and line[0] != "!":
            self.section = line.strip().lower()
            if _CERT_CHAIN.match(line):
                self.block = "certificate"
            elif _PRIVATE_HEADER.match(line):
                self.block = "private-section"
        return None


def _fold(line: str, kind: str, numbering: dict[str, int] | None) -> str:
    """A line of key material replaced whole; its indentation kept so the hierarchy reads the same."""
    if not line.strip() or line.lstrip().startswith(_MARK_START):
        return line  # folded already: the same text redacted twice reads the same
    indent = line[:len(line) - len(line.lstrip())]
    if numbering is None:
        return indent + MARK % kind
    number = numbering.setdefault(line.strip(), len(numbering) + 1)
    return indent + "<redacted:%s#%d>" % (kind, number)


# Every substring that lets _spans() find anything: the prefilter's hints and the hex-string option.
_ANY_HINTS = tuple(sorted(set(_HINTS) | {"--hex-string"}))


def _walk_needed(low: str) -> bool:
    """Whether a lowered text may hold key material that folds whole lines (a PEM private key, a
    certificate chain, a private section): a superset of the walker's tests, by substring."""
    return "private key-----" in low or ("crypto" in low and ("certificate" in low or "private" in low))


def _hinted_lines(text: str, low: str) -> list[tuple[int, int]]:
    """(start, end) of every line holding a hint, in order: one substring scan a hint, at memory speed."""
    starts: set[int] = set()
    for hint in _ANY_HINTS:
        position = low.find(hint)
        while position >= 0:
            start = text.rfind("\n", 0, position) + 1
            starts.add(start)
            end = text.find("\n", position)
            if end < 0:
                break
            position = low.find(hint, end)
    found = []
    for start in sorted(starts):
        end = text.find("\n", start)
        found.append((start, len(text) if end < 0 else end))
    return found


def _column_zero(line: str) -> bool:
    """Whether a line opens a section: _section_of reads it as the section of the lines under it."""
    return bool(line) and line[0] not in (" ", "\t", "!")


def _section_of(text: str, start: int) -> str:
    """The walker's section for the line starting at `start`: itself at column 0, else the last such line before it."""
    while True:
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if _column_zero(line):
            return line.strip().lower()
        if start == 0:
            return ""
        start = text.rfind("\n", 0, start - 1) + 1


def _redact_sparse(text: str) -> str:
    """redact() of an ASCII text with no key-material block: only the lines holding a hint can change.

    Substring scans of the lowered text find them (lowering ASCII keeps every offset); each is redacted
    as the walk would redact it, with its section and the shared numbering in line order, and the
    text between them is copied as it is.  A 100,000-rule dump with a handful of hinted lines is
    redacted in the time of one lower() and a scan a hint, not a Python step per line.
    """
    low = text.lower()
    numbering: dict[str, int] = {}
    out: list[str] = []
    copied = 0
    for start, end in _hinted_lines(text, low):
        line = text[start:end]
        redacted = redact_line(line, numbering, _section_of(text, start))
        if redacted != line:
            out.append(text[copied:start])
            out.append(redacted)
            copied = end
    if not out:
        return text
    out.append(text[copied:])
    return "".join(out)


def redact(text: str) -> str:
    """Every secret in a configuration text replaced by `<redacted:kind#N>`; everything else kept, line for line."""
    if text.isascii() and not _walk_needed(text.lower()):
        return _known_clean(_redact_sparse(text))
    return _known_clean(_redact_walk(text))


# The texts this process has redacted or found sealed, by id, oldest first: redact_derived() compares a text made
# from one of them with it instead of reading all of it.  Held (so no other object takes the id) and trusted by
# identity: only these very objects.  redact() keeps what it gave of _DERIVE_MIN characters or more (the 13.8 MB
# dump, once collected); redact_sealed(), the planner's way in for every collected text, what it gave of _BASE_MIN
# or more (a fleet's 1,000 running texts, the bases of its candidates).
_CLEAN: dict[int, str] = {}
_CLEAN_KEPT = 4096
_DERIVE_MIN = 1 << 20
_BASE_MIN = 1 << 12
# A text is compared with its base in slices of this many characters.
_SLICE = 1 << 16


# collect redacts live texts in a pool of threads: the registry changes under a lock.
_CLEAN_LOCK = threading.Lock()


def _known_clean(text: str, least: int | None = None) -> str:
    if len(text) >= (_DERIVE_MIN if least is None else least) and _CLEAN.get(id(text)) is not text:
        with _CLEAN_LOCK:
            _CLEAN[id(text)] = text
            if len(_CLEAN) > _CLEAN_KEPT:
                del _CLEAN[next(iter(_CLEAN))]
    return text


def _common_prefix(a: str, b: str) -> int:
    """How many leading characters a and b share (slice by slice, then by halves: memory speed)."""
    limit = min(len(a), len(b))
    start = 0
    while start < limit and a[start:start + _SLICE] == b[start:start + _SLICE]:
        start += _SLICE
    low, high = start, min(limit, start + _SLICE)
    while low < high:
        middle = (low + high + 1) // 2
        if a[start:middle] == b[start:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many trailing characters a and b share, at most `limit`."""
    end = 0
    while end < limit and a[len(a) - min(end + _SLICE, limit):len(a) - end] == b[len(b) - min(end + _SLICE, limit):len(b) - end]:
        end = min(end + _SLICE, limit)
    low, high = end, min(limit, end + _SLICE)
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle:len(a) - end] == b[len(b) - middle:len(b) - end]:
            low = middle
        else:
            high = middle - 1
    return low


def _unchanged_from(text: str, base: str) -> bool:
    """Whether redact(text) is `text` itself, read from `base` (a text redact() left as it was) where they differ.

    The sparse redaction changes only lines holding a hint, each by its own words and its section (the last line at
    column 0 before it).  With `text` = prefix + new + suffix and `base` = prefix + old + suffix, line for line:
    - the prefix's lines are the base's, under the base's sections: the base kept them, so would the text;
    - the new lines hold no hint, and neither they nor the old ones hold what makes a text need the walk (key
      material), which the whole text must not hold either;
    - the suffix's lines after its first line at column 0 keep their sections; those before it (whose section
      the new lines may change) hold no hint.
    Anything else (a hint among the new lines, a non-ASCII text, a long section cut) answers False: redact it.
    """
    if not (text.isascii() and base.isascii()):
        return False
    prefix = _common_prefix(text, base)
    prefix = text.rfind("\n", 0, prefix) + 1
    suffix = _common_suffix(text, base, min(len(text), len(base)) - prefix)
    if suffix and not all(len(each) == suffix or each[len(each) - suffix - 1] == "\n" for each in (text, base)):
        # The suffix starts after a newline of its own (both texts hold it), so its lines are whole.
        cut = text.find("\n", len(text) - suffix)
        suffix = 0 if cut < 0 else len(text) - cut - 1
    new = text[prefix:len(text) - suffix].lower()
    old = base[prefix:len(base) - suffix].lower()
    if len(new) + len(old) > len(text) // 4:
        return False
    if any(hint in new for hint in _ANY_HINTS):
        return False
    if any(word in part for part in (new, old) for word in ("private", "crypto", "certificate")):
        return False
    if _walk_needed(text.lower()):
        return False
    start = len(text) - suffix
    window = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if _column_zero(line):
            return True
        low = line.lower()
        if any(hint in low for hint in _ANY_HINTS):
            return False
        window += 1
        if window > 10000:
            return False
        start = end + 1
    return True


def redact_derived(text: str, base: str) -> str:
    """redact(text) for a text made from `base` by changing a few lines (a candidate from the running text): where
    `base` is a text this process redacted and _unchanged_from() can tell, without reading all of `text` again."""
    if len(text) >= _BASE_MIN and _CLEAN.get(id(base)) is base and _unchanged_from(text, base):
        return text
    return redact(text)


# What a seal vouches for: this file's own bytes, so any change to the rules breaks every older seal.
_RULES_DIGEST: list[str | None] = []


def _rules_digest() -> str | None:
    """The digest of this module's source (None where it cannot be read, e.g. from a zip: nothing is sealed)."""
    if not _RULES_DIGEST:
        try:
            with open(os.path.splitext(__file__)[0] + ".py", "rb") as handle:
                _RULES_DIGEST.append(hashlib.sha256(handle.read()).hexdigest()[:16])
        except (OSError, NameError):
            _RULES_DIGEST.append(None)
    return _RULES_DIGEST[0]


def seal(text: str) -> str | None:
    """A mark a redacted text travels with (the collect action's files carry it as `redacted`): these rules' digest
    and the text's.  redact_sealed() trusts a text whose seal still matches and redacts any other.

    Not a defence against someone who writes the collection (they hold the configuration anyway): it lets a 13 MB
    dump that collect redacted skip a second redaction (0.2 s), and is broken by any edit of the text or of this
    module, by which the text would have to be redacted again.
    """
    rules = _rules_digest()
    if rules is None:
        return None
    return "%s:%s" % (rules, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def redact_sealed(text: str, sealed: str | None) -> str:
    """redact(text), skipped where `sealed` is the seal() of this very text under these very rules."""
    if sealed is not None and sealed == seal(text):
        return _known_clean(text, _BASE_MIN)
    return _known_clean(redact(text), _BASE_MIN)


def _redact_walk(text: str) -> str:
    """redact() line by line, following sections and key-material blocks (the reference _redact_sparse meets)."""
    out: list[str] = []
    numbering: dict[str, int] = {}
    walker = _Walker()
    for line in text.split("\n"):
        fold = walker.step(line)
        if fold is not None:
            out.append(_fold(line, fold, numbering))
        else:
            out.append(redact_line(line, numbering, walker.section))
    return "\n".join(out)


# A line of data this long or shorter is redacted once per process (redact_line_once): a fleet's plans and findings
# quote the same rules and router lines in every strategy, host after host.
_SHORT = 1024


@functools.lru_cache(maxsize=1 << 16)
def redact_line_once(line: str) -> str:
    """redact_line(line), remembered: for short lines that recur (quotes in messages and evidence, data lines)."""
    return redact_line(line)


def secrets_in(text: str) -> list[tuple[int, str, str]]:
    """(line, kind, secret) for every secret still present: what a scan of an artifact reports."""
    found: list[tuple[int, str, str]] = []
    walker = _Walker()
    for number, line in enumerate(text.split("\n"), 1):
        fold = walker.step(line)
        if fold is not None:
            if line.strip() and not line.strip().startswith(_MARK_START):
                found.append((number, fold, line.strip()))
            continue
        for start, end, kind in _spans(line, walker.section):
            found.append((number, kind.rstrip('"'), line[start:end]))
    return found


def redact_data(value: t.Any) -> t.Any:
    """Redact every string inside a JSON-like structure (what findings.json holds)."""
    if isinstance(value, str):
        if "\n" in value:
            return redact(value)
        return redact_line_once(value) if len(value) <= _SHORT else redact_line(value)
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_data(item) for item in value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    return value
