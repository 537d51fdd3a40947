# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One nft rule -> matches and statements (`Item`s) -> the rules netfilter/evaluate.py runs.

An nft rule runs its expressions left to right: a match that fails stops the rule, a statement
runs when reached (so `ip dscp set cs1 tcp dport 22 accept` writes the byte of every packet and
accepts only port 22: seen in the kernel). The evaluator's rule is "conditions, then one target",
so a rule becomes one evaluator rule per statement that matters, each with the conditions written
before it: the write above becomes (no condition -> SetDscp), then (tcp, dport 22 -> accept). A
match on the DS byte written before a write and re-checked after it cannot be expressed that way;
it is kept as a may-match (Opaque) with a note. A verdict map becomes one rule per element.

The conditions and targets are netfilter/parse.py's (IfaceCond, ProtoCond, AddrCond, PortCond,
TosCond, Opaque; SetDscp, SetTos, Jump, Verdict) and evaluate.py's (AnyOfCond, TosSetCond,
NeverCond), so the trace and the marking map read nft exactly as they read iptables.

>>> from ansible_collections.diffserv.audit.plugins.module_utils.nftables.text import parse_nft
>>> doc = parse_nft('table inet t {\\n chain c {\\n  type filter hook postrouting priority 0;\\n'
...                 '  ip dscp set cs1 tcp dport { 22, 80-90 } accept\\n }\\n}\\n', "t.nft")
>>> [(type(r.target).__name__, len(r.conditions)) for r in doc.view(4).tables["inet t"].rules("c")]
[('SetDscp', 0), ('Verdict', 2)]
>>> [type(c).__name__ for c in doc.view(6).tables["inet t"].rules("c")[0].conditions]
['NeverCond']
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import ipaddress
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Evidence
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import (
    AnyOfCond, InlineJump, NeverCond, TosSetCond,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import (
    PROTOCOL_NUMBERS, AddrCond, IfaceCond, Jump, Opaque, OtherTarget, PortCond, ProtoCond, Rule, SetDscp, SetTos,
    TosCond, Verdict,
)
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.text import Group, Tok

if t.TYPE_CHECKING:  # pragma: no cover - annotations only
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import NftTable, RawRule

# `nft describe ip dscp` (nft 1.0.6): the names it accepts and prints.
DSCP_NAMES = {
    "cs0": 0, "cs1": 8, "cs2": 16, "cs3": 24, "cs4": 32, "cs5": 40, "cs6": 48, "cs7": 56, "df": 0, "be": 0,
    "lephb": 1, "af11": 10, "af12": 12, "af13": 14, "af21": 18, "af22": 20, "af23": 22, "af31": 26, "af32": 28,
    "af33": 30, "af41": 34, "af42": 36, "af43": 38, "va": 44, "ef": 46,
}
ECN_NAMES = {"not-ect": 0, "ect1": 1, "ect0": 2, "ce": 3}
# The service names nft resolves through /etc/services that rulesets use most (numbers always work).
SERVICES = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67, "bootpc": 68,
    "tftp": 69, "http": 80, "www": 80, "kerberos": 88, "pop3": 110, "sunrpc": 111, "ntp": 123, "netbios-ns": 137,
    "netbios-dgm": 138, "netbios-ssn": 139, "imap": 143, "imap2": 143, "snmp": 161, "snmp-trap": 162, "bgp": 179,
    "ldap": 389, "https": 443, "microsoft-ds": 445, "submissions": 465, "smtps": 465, "isakmp": 500, "syslog": 514,
    "submission": 587, "ldaps": 636, "rsync": 873, "imaps": 993, "pop3s": 995, "openvpn": 1194, "ms-sql-s": 1433,
    "mysql": 3306, "ipsec-nat-t": 4500, "sip": 5060, "postgresql": 5432, "http-alt": 8080, "mdns": 5353,
    "dhcpv6-client": 546, "dhcpv6-server": 547, "nfs": 2049, "rdp": 3389, "ms-wbt-server": 3389,
}
PROTOCOLS = dict(PROTOCOL_NUMBERS, **{"ipv6-icmp": 58, "icmpv6": 58, "ip": 0, "esp": 50, "ah": 51, "comp": 108,
                                      "l2tp": 115, "egp": 8, "rsvp": 46})
_PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33}
_L4_HEADERS = dict(_PORT_PROTOCOLS, icmp=1, icmpv6=58, igmp=2, ah=51, esp=50, comp=108)
_FAMILY_HEADERS = {"ip": 4, "ip6": 6, "icmp": 4, "icmpv6": 6, "igmp": 4}
_META_KEYS = ("mark", "iif", "oif", "iifname", "oifname", "iiftype", "oiftype", "skuid", "skgid", "nftrace",
              "rtclassid", "ibrname", "obrname", "pkttype", "cpu", "iifgroup", "oifgroup", "cgroup", "random",
              "ipsec", "iifkind", "oifkind", "time", "day", "hour", "priority", "l4proto", "nfproto", "protocol",
              "length", "secmark", "sdif", "sdifname", "broute")
_BARE_META = ("iifname", "oifname", "iif", "oif", "mark", "iiftype", "oiftype", "skuid", "skgid", "rtclassid",
              "ibrname", "obrname", "pkttype", "cpu", "iifgroup", "oifgroup", "cgroup", "ipsec")
_PAYLOAD_HEADERS = ("ip", "ip6", "tcp", "udp", "udplite", "sctp", "dccp", "th", "icmp", "icmpv6", "igmp", "ether",
                    "vlan", "arp", "ah", "esp", "comp", "ipcomp", "frag", "hbh", "dst", "mh", "srh", "rt", "rt0",
                    "rt2", "rt4", "vxlan", "gre", "geneve")
_OPAQUE_EXPRESSIONS = ("fib", "socket", "osf", "numgen", "jhash", "symhash", "exthdr", "ipsec", "xfrm", "tunnel")
_VERDICTS = {"accept": "accept", "drop": "drop", "reject": "drop", "return": "return", "queue": "queue"}
_STATEMENTS = ("counter", "log", "comment", "limit", "quota", "accept", "drop", "reject", "return", "continue",
               "queue", "jump", "goto", "snat", "dnat", "masquerade", "redirect", "notrack", "tproxy", "dup",
               "fwd", "synproxy", "flow", "add", "update", "delete", "reset", "last", "xt")
_NAT = ("snat", "dnat", "masquerade", "redirect")
_OPERATORS = {"==": "eq", "eq": "eq", "!=": "ne", "ne": "ne", "<": "lt", "lt": "lt", ">": "gt", "gt": "gt",
              "<=": "le", "le": "le", ">=": "ge", "ge": "ge"}
_HEADS = frozenset(_STATEMENTS + _PAYLOAD_HEADERS + _OPAQUE_EXPRESSIONS + _BARE_META + ("meta", "ct"))
# Statements that set something other than the DS byte and do not end the rule.
_PASSIVE_SETS = ("mark", "meta mark", "ct mark", "meta priority", "ct zone", "ct helper", "meta nftrace", "ct event",
                 "ct label", "ct expectation", "meta secmark", "ct secmark", "meta pkttype", "ct timeout")


@dataclasses.dataclass(frozen=True)
class FamilyCond:
    """The packet is IPv4 (4) or IPv6 (6): implied by `ip ...`/`ip6 ...` in an inet table, or `meta nfproto`."""

    families: frozenset[int]


@dataclasses.dataclass(frozen=True)
class Selector:
    """What a match or a set statement reads: `tcp dport`, `ip saddr`, `oifname`, `ct state`, ..."""

    kind: str  # iface, proto, family, addr, port, dscp, ecn, rawth, opaque, whole (match and value in one)
    text: str
    direction: str | None = None
    family: int | None = None  # the packet family it implies
    proto: int | None = None  # the layer-4 protocol it implies


@dataclasses.dataclass(frozen=True)
class Element:
    """One element of a set or map: its key (nodes, concatenated fields split by '.'), a map's value."""

    key: tuple[tuple[t.Any, ...], ...]
    value: tuple[t.Any, ...] | None
    line: int


@dataclasses.dataclass(frozen=True)
class Item:
    """One thing a rule does, in order: kind cond, write, verdict, vmap, wmap (dscp set from a map), note."""

    kind: str
    conditions: tuple[t.Any, ...] = ()
    target: t.Any = None
    selectors: tuple[Selector, ...] = ()
    elements: tuple[tuple[tuple[t.Any, ...], t.Any], ...] = ()  # (key conditions, target) per element
    text: str = ""
    reason: str = ""
    family: int | None = None


def read_elements(raw: list[list[t.Any]]) -> tuple[Element, ...]:
    """A set's or map's `{ ... }` elements: keys split on ' . ', a map's value after ' : '."""
    found = []
    for nodes in raw:
        nodes = _strip_element_options(nodes)
        if not nodes:
            continue
        words = list(nodes)
        colon = next((i for i, node in enumerate(words) if isinstance(node, Tok) and node.value == ":"), None)
        key_nodes = words if colon is None else words[:colon]
        value = None if colon is None else tuple(words[colon + 1:])
        fields: list[tuple[t.Any, ...]] = [()]
        for node in key_nodes:
            if isinstance(node, Tok) and node.kind == "w" and node.value == ".":
                fields.append(())
            else:
                fields[-1] = fields[-1] + (node,)
        line = nodes[0].line if isinstance(nodes[0], (Tok, Group)) else 0
        found.append(Element(tuple(fields), value, line))
    return tuple(found)


def _strip_element_options(nodes: list[t.Any]) -> list[t.Any]:
    kept: list[t.Any] = []
    skip = 0
    for node in nodes:
        if skip:
            skip -= 1
            continue
        if isinstance(node, Tok) and node.kind == "w" and node.value in ("timeout", "expires", "comment"):
            skip = 1
            continue
        if isinstance(node, Tok) and node.kind == "w" and node.value == "counter":
            skip = 4 if len(nodes) > 1 else 0  # counter packets N bytes N
            continue
        kept.append(node)
    return kept


class _RuleReader:
    """Reads one rule's nodes into Items."""

    def __init__(self, raw: "RawRule", table: "NftTable") -> None:
        self.nodes = raw.tokens
        self.source = raw.source
        self.table = table
        self.pos = 0
        self.items: list[Item] = []
        self.dynamic_sets: set[str] = set()

    def error(self, reason: str) -> ParseError:
        return ParseError(self.source.file, self.source.line, reason, self.source.text)

    def peek(self, offset: int = 0) -> t.Any:
        index = self.pos + offset
        return self.nodes[index] if index < len(self.nodes) else None

    def word(self, offset: int = 0) -> str | None:
        node = self.peek(offset)
        return node.value if isinstance(node, Tok) and node.kind == "w" else None

    def take(self) -> t.Any:
        node = self.peek()
        if node is None:
            raise self.error("rule ends where a value was expected")
        self.pos += 1
        return node

    def take_word(self) -> str:
        node = self.take()
        if not isinstance(node, Tok) or node.kind not in ("w", "s"):
            raise self.error("expected a word, found %s" % _text(node))
        return node.value

    def until_head(self) -> list[t.Any]:
        """Nodes up to the next statement or expression head (what an unmodelled part spans)."""
        taken: list[t.Any] = []
        while self.peek() is not None and not (self.word() in _HEADS and taken):
            taken.append(self.take())
        return taken

    def read(self) -> list[Item]:
        while self.peek() is not None:
            word = self.word()
            if word is None:
                node = self.take()
                if isinstance(node, Tok) and node.kind == ",":
                    raise self.error("unexpected ','")
                raise self.error("unexpected %s" % _text(node))
            if word in _STATEMENTS:
                self.statement(word)
            else:
                self.expression()
        return self.items

    # -- statements ------------------------------------------------------------------

    def statement(self, word: str) -> None:
        start = self.pos
        self.pos += 1
        if word in ("accept", "drop", "return", "continue"):
            if word != "continue":
                self.items.append(Item("verdict", target=Verdict(word, _VERDICTS[word])))
        elif word in ("jump", "goto"):
            self.items.append(Item("verdict", target=Jump(self.take_word(), word == "goto")))
        elif word in ("reject", "queue"):
            rest = self.nodes[self.pos:]
            self.pos = len(self.nodes)
            self.items.append(Item("verdict", target=Verdict(" ".join([word] + [_text(n) for n in rest]), _VERDICTS[word])))
        elif word in _NAT:
            rest = self.nodes[self.pos:]
            self.pos = len(self.nodes)
            text = " ".join([word] + [_text(n) for n in rest])
            self.items.append(Item("nat", text=text, reason="NAT statement recorded, not modelled in the join "
                                                            "(the packet leaves with the translated address)"))
        elif word == "comment":
            self.take()
        elif word == "counter":
            if self.word() == "name":
                self.pos += 2
            elif self.word() == "packets":
                self.pos += 4
        elif word == "log":
            while self.word() in ("prefix", "level", "flags", "group", "snaplen", "queue-threshold"):
                self.pos += 2
                while isinstance(self.peek(), Tok) and self.peek().kind == ",":
                    self.pos += 2
        elif word in ("limit", "quota", "last"):
            rest = self.until_head()
            text = " ".join([word] + [_text(n) for n in rest])
            if word == "last":
                return
            self.items.append(Item("cond", conditions=(Opaque(text, "%s: decided by rates seen at run time" % word),)))
        elif word == "notrack":
            return
        elif word == "xt":
            rest = self.until_head()
            text = " ".join([word] + [_text(n) for n in rest])
            self.items.append(Item("note", text=text, reason="unmodelled iptables-nft extension %r: this rule was "
                                   "loaded by iptables-nft; read its table from iptables-save (the iptables driver)"
                                   % text))
            if rest[:1] and _raw(rest[0]) == "match":
                self.items.append(Item("cond", conditions=(Opaque(text, "iptables extension match"),)))
        elif word in ("add", "update", "delete"):
            rest = self.until_head()
            for node in rest:
                if isinstance(node, Tok) and node.value.startswith("@"):
                    self.dynamic_sets.add(node.value[1:])
        elif word == "flow":
            rest = self.until_head()
            text = " ".join([word] + [_text(n) for n in rest])
            self.items.append(Item("note", text=text, reason="unmodelled flowtable offload: once a connection is "
                                   "offloaded its packets skip the forward and postrouting chains, so DS writes there "
                                   "apply to its first packets only"))
        else:
            rest = self.until_head()
            text = " ".join([word] + [_text(n) for n in rest])
            self.items.append(Item("note", text=text, reason="unmodelled statement %r: assumed to leave the byte "
                                                             "alone and the rule going" % word))
        del start

    # -- expressions -----------------------------------------------------------------

    def selector(self) -> Selector:
        head = self.take_word()
        if head in ("iifname", "oifname", "iif", "oif"):
            return _iface_selector(head)
        if head == "meta":
            key = self.take_word()
            if key in ("iifname", "oifname", "iif", "oif"):
                return _iface_selector(key, "meta ")
            if key == "l4proto":
                return Selector("proto", "meta l4proto")
            if key in ("nfproto", "protocol"):
                return Selector("family", "meta " + key)
            return Selector("opaque", "meta " + key)
        if head in _BARE_META:
            return Selector("opaque", head)
        if head == "ct":
            key = self.take_word()
            if key in ("original", "reply"):
                key += " " + self.take_word()
            return Selector("opaque", "ct " + key)
        if head in _PAYLOAD_HEADERS:
            field = self.take_word()
            family = _FAMILY_HEADERS.get(head)
            proto = _L4_HEADERS.get(head)
            text = "%s %s" % (head, field)
            if field == "option" or head in ("ip6",) and field == "exthdr":
                extra: list[t.Any] = []
                while len(extra) < 2 and self.word() not in (None, "set", "vmap", "exists", "missing") \
                        and self.word() not in _OPERATORS and self.word() not in _HEADS:
                    extra.append(self.take())
                return Selector("opaque", " ".join([text] + [_text(n) for n in extra]), family=family, proto=proto)
            if head in ("ip", "ip6") and field in ("saddr", "daddr"):
                return Selector("addr", text, "src" if field == "saddr" else "dst", family)
            if head in ("ip", "ip6") and field == "dscp":
                return Selector("dscp", text, family=family)
            if head in ("ip", "ip6") and field == "ecn":
                return Selector("ecn", text, family=family)
            if head == "ip" and field == "protocol":
                return Selector("proto", text, family=4)
            if head == "ip6" and field == "nexthdr":
                return Selector("proto", text, family=6)
            if field in ("sport", "dport") and (head in _PORT_PROTOCOLS or head == "th"):
                return Selector("port", text, field, proto=proto)
            return Selector("opaque", text, family=family, proto=proto)
        if head.startswith("@th,"):
            # nft merges adjacent transport-header compares (`th sport 993 th dport 1024`) into one and
            # lists it raw: `@th,0,32 0x3e10400`. Offsets 0 and 16, 16 bits each: the two ports.
            try:
                offset, length = (int(part) for part in head.split(",")[1:3])
            except ValueError:
                return Selector("opaque", head)
            if (offset, length) in ((0, 16), (16, 16), (0, 32)):
                return Selector("rawth", head, "%d,%d" % (offset, length))
            return Selector("opaque", head)
        if head.startswith("@"):
            return Selector("opaque", head)
        if head in _OPAQUE_EXPRESSIONS:
            # fib daddr type local, fib saddr . mark . iif oif missing, socket transparent 1, ...: the
            # expression, its comparison and value, up to the next statement; a may-match as a whole.
            extra = []
            while self.peek() is not None and self.word() not in _STATEMENTS:
                extra.append(self.take())
            return Selector("whole", " ".join([head] + [_text(n) for n in extra]))
        raise self.error("unknown expression %r" % head)

    def expression(self) -> None:
        selectors = [self.selector()]
        if selectors[0].kind == "whole":
            self.items.append(Item("cond", conditions=(Opaque(selectors[0].text, "match not modelled: may or may not "
                                                                                 "hold"),)))
            return
        while self.word() == ".":
            self.pos += 1
            selectors.append(self.selector())
        word = self.word()
        if word == "set":
            self.pos += 1
            self.set_statement(selectors)
            return
        if word == "vmap":
            self.pos += 1
            self.items.append(self.map_item("vmap", selectors, self.take()))
            return
        if word in ("&", "|", "^", "and", "or", "xor", ">>", "<<"):
            rest = self.until_head()
            text = " ".join([s.text for s in selectors] + [_text(n) for n in rest])
            self.items.append(Item("cond", conditions=_dependencies(selectors) + (Opaque(text, "bitwise expression not modelled"),)))
            return
        op = "eq"
        if word in _OPERATORS:
            op = _OPERATORS[word]
            self.pos += 1
        value = self.value()
        self.items.append(Item("cond", conditions=self.match(selectors, op, value)))

    def value(self) -> list[t.Any]:
        """A value as written: one node, fields joined by '.', items joined by ',', a '/ mask' tail."""
        nodes = [self.take()]
        while True:
            word = self.word()
            if word == "." or word == "/":
                nodes.append(self.take())
                nodes.append(self.take())
            elif isinstance(self.peek(), Tok) and self.peek().kind == ",":
                nodes.append(self.take())
                nodes.append(self.take())
            else:
                return nodes

    def set_statement(self, selectors: list[Selector]) -> None:
        target = selectors[0]
        name = target.text
        if len(selectors) == 1 and target.kind in ("dscp", "ecn"):
            node = self.peek()
            if self.word() in _HEADS and self.word(1) is not None:
                # ip dscp set tcp dport map { 22 : cs1 }
                keys = [self.selector()]
                while self.word() == ".":
                    self.pos += 1
                    keys.append(self.selector())
                if self.word() == "map":
                    self.pos += 1
                    self.items.append(self.map_item("wmap", keys, self.take(), target))
                    return
                rest = self.until_head()
                self.items.append(Item("note", text="%s set %s %s" % (name, " . ".join(k.text for k in keys),
                                                                      " ".join(_text(n) for n in rest)),
                                       reason="unmodelled: the byte is set from an expression"))
                self.items.append(Item("cond", conditions=(Opaque(name + " set <expression>",
                                                                  "DS byte set from an expression"),)))
                return
            self.pos += 1
            self.items.append(Item("write", target=self.write_target(target, node), family=target.family))
            return
        rest = self.until_head() if self.word() not in _HEADS else [self.take()] + self.until_head()
        text = "%s set %s" % (name, " ".join(_text(n) for n in rest))
        if name in _PASSIVE_SETS:
            return
        if target.kind == "opaque" and name.startswith(("ip ", "ip6 ")):
            reason = "unmodelled header write %r (not the DS field): assumed to leave the byte alone" % name
        else:
            reason = "unmodelled statement %r: assumed to leave the byte alone and the rule going" % text
        self.items.append(Item("note", text=text, reason=reason))

    def write_target(self, target: Selector, node: t.Any) -> t.Any:
        text = _raw(node)
        if target.kind == "dscp":
            dscp = self.dscp_value(text)
            return SetDscp(dscp, "%s set %s" % (target.text, text))
        ecn = ECN_NAMES.get(text)
        if ecn is None:
            ecn = self.number(text, 3, "ECN value")
        return SetTos(ecn, 0x03, "%s set %s" % (target.text, text), False)

    def map_item(self, kind: str, selectors: list[Selector], node: t.Any, target: Selector | None = None) -> Item:
        elements = self.elements_of(node, want_map=True)
        if elements is None:
            text = "%s %s %s" % (" . ".join(s.text for s in selectors), kind, _text(node))
            return Item("cond", conditions=(Opaque(text, "map changed at run time: not modelled"),))
        built = []
        for element in elements:
            keys = self.element_conditions(selectors, element.key)
            if element.value is None:
                raise self.error("map element without ' : value'")
            if kind == "vmap":
                verdict = self.verdict_of(element.value)
                built.append((keys, verdict))
            else:
                if target is None:
                    raise self.error("a data map with no statement to write its value")
                value = element.value[0] if element.value else None
                built.append((keys, self.write_target(target, value)))
        return Item(kind, selectors=tuple(selectors), elements=tuple(built),
                    conditions=_dependencies(selectors), family=target.family if target else None)

    def verdict_of(self, nodes: tuple[t.Any, ...]) -> t.Any:
        words = [_text(node) for node in nodes]
        if not words:
            raise self.error("verdict map element without a verdict")
        if words[0] in ("jump", "goto") and len(words) == 2:
            return Jump(words[1], words[0] == "goto")
        if words[0] in _VERDICTS:
            return Verdict(" ".join(words), _VERDICTS[words[0]])
        if words[0] == "continue":
            return None
        raise self.error("unknown verdict %r in a verdict map" % " ".join(words))

    def elements_of(self, node: t.Any, want_map: bool = False) -> tuple[Element, ...] | None:
        """The elements a value names: a `{ ... }`, or `@set` (None when the set changes at run time)."""
        if isinstance(node, Group):
            return read_elements(node.elements)
        if isinstance(node, Tok) and node.kind == "w" and node.value.startswith("@"):
            name = node.value[1:]
            named = self.table.sets.get(name)
            if named is None:
                raise self.error("set @%s is not defined in table %s %s" % (name, self.table.family, self.table.name))
            if "dynamic" in named.flags or "timeout" in named.flags or name in self.table_dynamic_sets():
                return None
            return named.elements
        return None

    def table_dynamic_sets(self) -> set[str]:
        return self.table.dynamic_sets

    def match(self, selectors: list[Selector], op: str, value: list[t.Any]) -> tuple[t.Any, ...]:
        deps = _dependencies(selectors)
        negated = op == "ne"
        text = "%s %s%s" % (" . ".join(s.text for s in selectors), "!= " if negated else "", _joined(value))
        if any(s.kind == "opaque" for s in selectors):
            return deps + (Opaque(text, "match not modelled: may or may not hold"),)
        if op in ("lt", "gt", "le", "ge"):
            if len(selectors) != 1 or len(value) != 1:
                return deps + (Opaque(text, "comparison not modelled"),)
            return deps + self.compare(selectors[0], op, _raw(value[0]), text)
        if len(value) == 1:
            elements = self.elements_of(value[0])
            if elements is None and isinstance(value[0], Tok) and value[0].value.startswith("@"):
                return deps + (Opaque(text, "set changed at run time: may or may not hold"),)
            if elements is None:
                elements = (Element(((value[0],),), None, value[0].line),)
        else:
            elements = self.inline_elements(value)
        if len(selectors) > 1:
            if any(s.kind in ("dscp", "ecn", "family") for s in selectors):
                return deps + (Opaque(text, "concatenation with a DS or family field not modelled"),)
            alternatives = tuple(self.element_conditions(selectors, element.key) for element in elements)
            return deps + (AnyOfCond(alternatives, negated),)
        return deps + self.single(selectors[0], elements, negated, text)

    def inline_elements(self, value: list[t.Any]) -> tuple[Element, ...]:
        """`established,related` or `1.2.3.4 . 22` written without braces."""
        groups: list[list[t.Any]] = [[]]
        for node in value:
            if isinstance(node, Tok) and node.kind == ",":
                groups.append([])
            else:
                groups[-1].append(node)
        return read_elements(groups)

    def element_conditions(self, selectors: list[Selector], key: tuple[tuple[t.Any, ...], ...]) -> tuple[t.Any, ...]:
        if len(key) != len(selectors):
            raise self.error("element with %d field(s) for a key of %d" % (len(key), len(selectors)))
        found: list[t.Any] = []
        for selector, field in zip(selectors, key):
            if len(field) != 1:
                raise self.error("element field %r not understood" % " ".join(_text(n) for n in field))
            text = _raw(field[0])
            found.extend(self.single(selector, (Element(((field[0],),), None, 0),), False, text))
        return tuple(found)

    def single(self, selector: Selector, elements: tuple[Element, ...], negated: bool, text: str) -> tuple[t.Any, ...]:
        values = []
        for element in elements:
            if len(element.key) != 1 or len(element.key[0]) != 1:
                shown = " . ".join(" ".join(_text(n) for n in f) for f in element.key)
                raise self.error("element %r for a one-field key" % shown)
            values.append(_raw(element.key[0][0]))
        kind = selector.kind
        if kind == "iface":
            patterns = [_iface_pattern(value) for value in values]
            # `iif`/`oif` read like `iifname`/`oifname`: where the packet has no such device (no input device on
            # the output path), the kernel loads index 0 (nft_meta.c, nft_meta_store_ifindex), which no device
            # has, so `iif != "lo"` holds there, as `iifname != "lo"` does on the empty name (the kernel here,
            # 6.18, is the oracle: tests/kernel/test_nft_kernel_differential.py).
            if negated:
                return tuple(IfaceCond(selector.direction or "in", p, True) for p in patterns)
            if len(patterns) == 1:
                return (IfaceCond(selector.direction or "in", patterns[0], False),)
            return (AnyOfCond(tuple((IfaceCond(selector.direction or "in", p, False),) for p in patterns), False),)
        if kind == "proto":
            numbers = [self.protocol(value) for value in values]
            if negated:
                return tuple(ProtoCond(number, True) for number in numbers)
            if len(numbers) == 1:
                return (ProtoCond(numbers[0], False),)
            return (AnyOfCond(tuple((ProtoCond(number, False),) for number in numbers), False),)
        if kind == "family":
            families = frozenset(self.family_value(value) for value in values)
            if negated:
                families = frozenset({4, 6}) - families
            return (FamilyCond(families),)
        if kind == "addr":
            ranges = tuple(self.address_range(value, selector.family or 4) for value in values)
            return (AddrCond(selector.direction or "src", ranges, negated),)
        if kind == "port":
            ranges = tuple(self.port_range(value) for value in values)
            return (PortCond(selector.direction or "dport", ranges, negated),)
        if kind == "rawth":
            numbers = [self.number(value, 0xFFFFFFFF if selector.direction == "0,32" else 0xFFFF, "raw value")
                       for value in values]
            if selector.direction == "0,32":
                alternatives = tuple((PortCond("sport", ((n >> 16, n >> 16),), False),
                                      PortCond("dport", ((n & 0xFFFF, n & 0xFFFF),), False)) for n in numbers)
                return (AnyOfCond(alternatives, negated),)
            direction = "sport" if selector.direction == "0,16" else "dport"
            return (PortCond(direction, tuple((n, n) for n in numbers), negated),)
        if kind in ("dscp", "ecn"):
            codes: set[int] = set()
            for value in values:
                low, high = self.ds_range(selector.kind, value)
                codes.update(range(low, high + 1))
            if kind == "dscp":
                if len(codes) == 1:
                    return (TosCond(codes.pop() << 2, 0xFC, negated),)
                return (TosSetCond(frozenset(n << 2 for n in codes), 0xFC, negated),)
            return (TosSetCond(frozenset(codes), 0x03, negated),)
        return (Opaque(text, "match not modelled: may or may not hold"),)

    def compare(self, selector: Selector, op: str, value: str, text: str) -> tuple[t.Any, ...]:
        if selector.kind == "port":
            number, top = self.port_range(value)[0], 65535
        elif selector.kind == "dscp":
            number, top = self.dscp_value(value), 63
        else:
            return (Opaque(text, "comparison not modelled"),)
        low, high = {"lt": (0, number - 1), "le": (0, number), "gt": (number + 1, top), "ge": (number, top)}[op]
        if low > high:
            return (NeverCond("%s matches no value" % text),)
        if selector.kind == "port":
            return (PortCond(selector.direction or "dport", ((low, high),), False),)
        return (TosSetCond(frozenset(n << 2 for n in range(low, high + 1)), 0xFC, False),)

    # -- values ----------------------------------------------------------------------

    def number(self, text: str, top: int, what: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise self.error("%s %r is not a number" % (what, text)) from None
        if not 0 <= value <= top:
            raise self.error("%s %r out of range 0-%d" % (what, text, top))
        return value

    def dscp_value(self, text: str) -> int:
        if text in DSCP_NAMES:
            return DSCP_NAMES[text]
        return self.number(text, 63, "DSCP value")

    def ds_range(self, kind: str, text: str) -> tuple[int, int]:
        names = DSCP_NAMES if kind == "dscp" else ECN_NAMES
        top = 63 if kind == "dscp" else 3
        if text in names:
            return names[text], names[text]
        low, _dash, high = text.partition("-")
        first = names[low] if low in names else self.number(low, top, "DS value")
        last = first if not _dash else (names[high] if high in names else self.number(high, top, "DS value"))
        return first, last

    def protocol(self, text: str) -> int:
        if text in PROTOCOLS:
            return PROTOCOLS[text]
        return self.number(text, 255, "protocol")

    def family_value(self, text: str) -> int:
        if text in ("ipv4", "ip"):
            return 4
        if text in ("ipv6", "ip6"):
            return 6
        raise self.error("unknown family %r (ipv4, ipv6)" % text)

    def port_range(self, text: str) -> tuple[int, int]:
        low, dash, high = text.partition("-")
        first = self.port(low)
        last = self.port(high) if dash else first
        if last < first:
            raise self.error("port range %r runs backwards" % text)
        return first, last

    def port(self, text: str) -> int:
        if text in SERVICES:
            return SERVICES[text]
        return self.number(text, 65535, "port")

    def address_range(self, text: str, family: int) -> tuple[int, int]:
        try:
            if "/" in text:
                network = ipaddress.ip_network(text, strict=False)
                if network.version != family:
                    raise ValueError("family")
                return int(network.network_address), int(network.broadcast_address)
            if "-" in text:
                low, _dash, high = text.partition("-")
                first, last = ipaddress.ip_address(low), ipaddress.ip_address(high)
                if first.version != family or last.version != family or int(last) < int(first):
                    raise ValueError("range")
                return int(first), int(last)
            address = ipaddress.ip_address(text)
            if address.version != family:
                raise ValueError("family")
            return int(address), int(address)
        except ValueError:
            raise self.error("%r is not an IPv%d address, prefix or range" % (text, family)) from None


def _iface_selector(key: str, prefix: str = "") -> Selector:
    direction = "in" if key.startswith("i") else "out"
    return Selector("iface", prefix + key, direction)


def _iface_pattern(value: str) -> str:
    # nft's wildcard: a trailing '*' (a name ending in a literal star is written '\*').
    if value.endswith("*") and not value.endswith("\\*"):
        return value[:-1] + "+"
    return value.replace("\\*", "*")


def _dependencies(selectors: list[Selector] | tuple[Selector, ...]) -> tuple[t.Any, ...]:
    """What nft adds in front of a payload match: the family (inet) and the layer-4 protocol."""
    found: list[t.Any] = []
    for selector in selectors:
        if selector.family is not None and FamilyCond(frozenset({selector.family})) not in found:
            found.append(FamilyCond(frozenset({selector.family})))
        if selector.proto is not None and ProtoCond(selector.proto, False) not in found:
            found.append(ProtoCond(selector.proto, False))
    return tuple(found)


def _text(node: t.Any) -> str:
    """A node as nft prints it (strings quoted)."""
    if isinstance(node, Group):
        return "{ %s }" % ", ".join(_joined(element) for element in node.elements)
    if isinstance(node, Tok):
        return '"%s"' % node.value if node.kind == "s" else node.value
    return str(node)


def _joined(nodes: t.Iterable[t.Any]) -> str:
    return " ".join(_text(node) for node in nodes).replace(" , ", ",")


def _raw(node: t.Any) -> str:
    """A node's value as nft reads it (a string without its quotes)."""
    if isinstance(node, Tok):
        return node.value
    return _text(node)


# ---------------------------------------------------------------------------
# Items -> evaluator rules, per family


def rule_items(raw: "RawRule", table: "NftTable") -> list[Item]:
    cached = getattr(raw, "items", None)
    if cached is None:
        cached = _RuleReader(raw, table).read()
        raw.items = cached  # type: ignore[attr-defined]
    return t.cast("list[Item]", cached)


def _resolve(conditions: t.Iterable[t.Any], family: int) -> list[t.Any] | None:
    """Family conditions decided for this view: None when one excludes it."""
    found = []
    for condition in conditions:
        if isinstance(condition, FamilyCond):
            if family not in condition.families:
                return None
            continue
        found.append(condition)
    return found


def _byte_dependent(condition: t.Any) -> bool:
    return isinstance(condition, (TosCond, TosSetCond))


def compile_chain(table: "NftTable", chain: str, family: int,
                  file: str) -> tuple[tuple[Rule, ...], list[Diagnostic], dict[str, tuple[Rule, ...]]]:
    """The evaluator rules of one chain as an address family sees it, notes on what is not modelled, and the
    chains made of the rest of a rule (`chain#index.position`, entered by an InlineJump)."""
    rules: list[Rule] = []
    notes: list[Diagnostic] = []
    extra: dict[str, tuple[Rule, ...]] = {}
    key = "%s %s" % (table.family, table.name)
    chain_obj = table.chains.get(chain)
    nat_chain = chain_obj is not None and chain_obj.type == "nat"
    for index, raw in enumerate(table.raw.get(chain, []), 1):
        items = rule_items(raw, table)
        _compile_items(items, raw.source, key, chain, index, family, rules, extra, notes, "%s#%d" % (chain, index))
        if nat_chain and any(item.kind in ("write", "wmap") or item.kind == "verdict"
                             and getattr(item.target, "kind", "") == "drop" for item in items):
            _note(notes, raw.source, raw.source.text, "unmodelled: a nat chain runs for the first packet of a "
                                                      "connection only; its DS writes and drops are not in the analysis")
    return tuple(rules), notes, extra


def _note(notes: list[Diagnostic], source: Evidence, text: str, reason: str) -> None:
    notes.append(Diagnostic(source.file, source.line, source.text, reason if text in reason else "%s: %s" % (reason, text)))


_EMITTING = ("cond", "write", "verdict", "vmap", "wmap")


def _compile_items(items: list[Item], source: Evidence, key: str, rule_chain: str, index: int, family: int,
                   rules: list[Rule], extra: dict[str, tuple[Rule, ...]], notes: list[Diagnostic], name: str) -> None:
    """One rule's items -> evaluator rules appended to `rules` (each statement with the conditions before it)."""

    def emit(conditions: list[t.Any] | None, target: t.Any) -> None:
        if target is None:
            return
        if conditions is None:
            conditions = [NeverCond("IPv%d packets never match this rule" % family)]
        # netfilter/parse.py's Condition union does not list evaluate.py's AnyOfCond, TosSetCond and
        # NeverCond; the evaluator and the marking map read them all (see the module docstring).
        # An inline chain's rules belong to the nft chain that holds the rule (`post#3.1`: post).
        rules.append(Rule(source, key, rule_chain, index, t.cast(t.Any, tuple(conditions)), target, (), None))

    conditions: list[t.Any] | None = []
    for position, item in enumerate(items):
        if item.kind == "cond":
            for condition in item.conditions:
                if isinstance(condition, Opaque):
                    _note(notes, source, condition.text, "unmodelled match (%s)" % condition.reason)
            resolved = _resolve(item.conditions, family)
            if conditions is not None:
                conditions = None if resolved is None else conditions + resolved
            continue
        if item.kind in ("write", "wmap") and conditions is not None and any(_byte_dependent(c) for c in conditions) \
                and any(later.kind in _EMITTING for later in items[position + 1:]):
            # The rule matched the DS byte, writes it, and goes on: what follows must not check the
            # earlier matches again on the new byte. The rest of the rule runs as a chain of its own,
            # entered once, when the matches held on the byte as it was.
            inline = "%s.%d" % (name, position)
            inner: list[Rule] = []
            _compile_items(items[position:], source, key, rule_chain, index, family, inner, extra, notes, inline)
            extra[inline] = tuple(inner)
            emit(conditions, InlineJump(inline, False))
            return
        if item.kind == "write":
            if item.family is not None and item.family != family and conditions is not None:
                conditions = None  # `ip dscp set` in an inet table: IPv4 only
            emit(conditions, item.target)
        elif item.kind == "verdict":
            emit(conditions, item.target)
            return
        elif item.kind in ("vmap", "wmap"):
            base = None if conditions is None else _resolve(item.conditions, family)
            if item.kind == "wmap" and item.family is not None and item.family != family:
                base = None
            if conditions is not None and base is not None:
                union = []
                for keys, target in item.elements:
                    resolved = _resolve(keys, family)
                    if resolved is None:
                        continue
                    emit(conditions + base + resolved, target)
                    union.append(tuple(resolved))
                    if item.kind == "vmap" and isinstance(target, Jump) and any(
                            s.kind in ("dscp", "ecn") for s in item.selectors):
                        _note(notes, source, source.text, "unmodelled: a verdict map keyed on the DS byte whose "
                                                          "chain may rewrite it (the next keys are checked again)")
                if item.kind == "wmap":
                    # A key the map lacks stops the rule: what follows runs only for the keys it has.
                    conditions = conditions + base + [_union(union)]
            elif item.kind == "wmap":
                conditions = None
            if item.kind == "vmap":
                return
        elif item.kind in ("nat", "note"):
            _note(notes, source, item.text, item.reason)


def _union(alternatives: list[tuple[t.Any, ...]]) -> t.Any:
    if not alternatives:
        return NeverCond("no map key matches")
    if any(_byte_dependent(c) for alternative in alternatives for c in alternative):
        return Opaque("map key", "a DS-keyed map before a DS write: not modelled")
    return AnyOfCond(tuple(alternatives), False)


__all__ = ["DSCP_NAMES", "Element", "FamilyCond", "Item", "Selector", "compile_chain", "read_elements", "rule_items",
           "OtherTarget", "Evidence"]
