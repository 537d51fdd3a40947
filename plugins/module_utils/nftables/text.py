# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`nft list ruleset` text -> a Document (model.py), every table, chain, set and rule with file:line.

Reads what nft 1.0.6 prints, and hand-written `nft -f` files of the same block form (with
`flush ruleset`, `define NAME = value` and `$NAME`, comments, `;` between statements, rules
continued over lines inside `{ }`). Commands a listing never holds (`add rule ...`, `include`)
are noted as not read, never dropped in silence. Input nft itself would refuse (an unclosed
brace, a chain outside a table, a base chain with no priority) raises a ParseError naming the
file and line.

>>> doc = parse_nft('table ip mangle {\\n chain post {\\n  type filter hook postrouting priority mangle; policy accept;\\n'
...                 '  oifname "eth0" tcp dport 512-65535 counter ip dscp set lephb\\n }\\n}\\n', "fw.nft")
>>> chain = doc.tables[0].chains["post"]
>>> chain.hook, chain.priority, chain.policy, [r.source.line for r in doc.tables[0].raw["post"]]
('postrouting', -150, 'ACCEPT', [4])
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Evidence
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import (
    FAMILIES, HOOKS, PRIORITY_NAMES, UNMODELLED_FAMILIES, Document, NftChain, NftSet, NftTable, RawRule,
    iptables_nft_tables,
)
from ansible_collections.diffserv.audit.plugins.module_utils.textdecode import BOM_CHAR

# Words the listing puts before a table's first brace, and nft's keywords for named objects.
_TABLE_OBJECTS = ("chain", "set", "map", "flowtable", "counter", "quota", "limit", "ct", "secmark", "synproxy")
_WARNING_RE = re.compile(r"^# Warning: table (ip6?) (\S+) is managed by iptables-nft", re.MULTILINE)
_PRIORITY_RE = re.compile(r"^(?:(?P<name>[a-z]+)|(?P<number>-?\d+))(?:(?P<sign>[+-])(?P<offset>\d+))?$")
# Commands a file for `nft -f` may hold that a listing never does.
_COMMANDS = ("add", "create", "insert", "replace", "delete", "destroy", "flush", "list", "reset", "rename",
             "include", "describe", "monitor", "export", "import")


class Tok(t.NamedTuple):
    """A word, a quoted string (kind "s"), or punctuation ("{", "}", ";", ",", "\\n")."""

    kind: str  # "w", "s", or the punctuation itself
    value: str
    line: int


class Group(t.NamedTuple):
    """`{ a, b : c, ... }`: its elements, each the list of nodes between commas."""

    elements: list[list[t.Any]]
    line: int
    end_line: int


def tokenize(text: str, file: str) -> list[Tok]:
    """nft's lexical level: words, strings, punctuation, newlines; comments and line continuations dropped."""
    tokens: list[Tok] = []
    line = 1
    i = 0
    n = len(text)
    if text.startswith(BOM_CHAR):
        i = 1
    while i < n:
        c = text[i]
        if c == "\n":
            tokens.append(Tok("\n", "\n", line))
            line += 1
            i += 1
        elif c in " \t\r\f\v":
            i += 1
        elif c == "\\" and text[i + 1:i + 2] == "\n":
            line += 1
            i += 2
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c == '"':
            start_line = line
            j = i + 1
            chars: list[str] = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    chars.append(text[j + 1])
                    j += 2
                    continue
                if text[j] == "\n":
                    raise ParseError(file, start_line, "unterminated string", text[i:j])
                chars.append(text[j])
                j += 1
            if j >= n:
                raise ParseError(file, start_line, "unterminated string", text[i:j])
            tokens.append(Tok("s", "".join(chars), start_line))
            i = j + 1
        elif c in "{};,":
            tokens.append(Tok(c, c, line))
            i += 1
        else:
            j = i
            raw_payload = text.startswith(("@nh,", "@th,", "@ll,", "@ih,"), i)
            while j < n and not text[j].isspace() and (raw_payload or text[j] not in '{};,"#'):
                j += 1
            tokens.append(Tok("w", text[i:j], line))
            i = j
    return tokens


class _Reader:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = text.split("\n")
        self.tokens = tokenize(text, file)
        self.pos = 0
        self.defines: dict[str, list[t.Any]] = {}
        self.document = Document(file)
        self.chain_order = 0

    # -- low level ------------------------------------------------------------------

    def peek(self) -> Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def line_text(self, first: int, last: int | None = None) -> str:
        last = first if last is None else last
        return " ".join(part.strip() for part in self.lines[first - 1:last] if part.strip())

    def error(self, line: int, reason: str) -> ParseError:
        return ParseError(self.file, line, reason, self.line_text(line) if 0 < line <= len(self.lines) else None)

    def group(self, opening: Tok) -> Group:
        """After a `{`: the nodes up to its `}`, split on commas (newlines inside do not count)."""
        elements: list[list[t.Any]] = []
        current: list[t.Any] = []
        while True:
            token = self.peek()
            if token is None:
                raise self.error(opening.line, "'{' is never closed")
            self.pos += 1
            if token.kind == "}":
                if current:
                    elements.append(current)
                return Group(elements, opening.line, token.line)
            if token.kind in ("\n", ";"):
                continue
            if token.kind == ",":
                if current:
                    elements.append(current)
                current = []
                continue
            if token.kind == "{":
                current.append(self.group(token))
                continue
            current.extend(self.substitute(token))

    def substitute(self, token: Tok) -> list[t.Any]:
        if token.kind == "w" and token.value.startswith("$"):
            found = self.defines.get(token.value[1:])
            if found is None:
                raise self.error(token.line, "undefined variable %s" % token.value)
            return list(found)
        return [token]

    def statement(self, block_words: tuple[str, ...] = ()) -> tuple[list[t.Any], bool] | None:
        """The nodes of one statement and whether it opens a block (`chain x {`); None at `}` or the end.

        A `{` opens a block when the statement starts with one of `block_words`; otherwise it is a
        set or map written in the statement (a group).
        """
        nodes: list[t.Any] = []
        while True:
            token = self.peek()
            if token is None or token.kind == "}":
                return (nodes, False) if nodes else None
            self.pos += 1
            if token.kind in ("\n", ";"):
                if nodes:
                    return nodes, False
                continue
            if token.kind == "{":
                first = nodes[0] if nodes else None
                if isinstance(first, Tok) and first.value in block_words:
                    return nodes, True
                nodes.append(self.group(token))
                continue
            if token.kind == ",":
                nodes.append(token)
                continue
            nodes.extend(self.substitute(token))

    def close(self, opening_line: int) -> None:
        token = self.peek()
        if token is None or token.kind != "}":
            raise self.error(opening_line, "block opened here is never closed")
        self.pos += 1

    def skip_block(self, opening_line: int) -> None:
        depth = 1
        while depth:
            token = self.peek()
            if token is None:
                raise self.error(opening_line, "block opened here is never closed")
            self.pos += 1
            if token.kind == "{":
                depth += 1
            elif token.kind == "}":
                depth -= 1

    def note(self, line: int, reason: str, last: int | None = None) -> None:
        self.document.notes.append(Diagnostic(self.file, line, self.line_text(line, last), reason))

    # -- grammar --------------------------------------------------------------------

    def read(self) -> Document:
        for match in _WARNING_RE.finditer("\n".join(self.lines)):
            self.document.warned.add("%s %s" % (match.group(1), match.group(2)))
        while True:
            found = self.statement(("table",))
            if found is None:
                token = self.peek()
                if token is None:
                    break
                raise self.error(token.line, "'}' without a block to close")
            nodes, opens = found
            head = _word(nodes[0])
            line = nodes[0].line
            if head == "table":
                if not opens:
                    raise self.error(line, "table without a body")
                self.table(nodes, line)
            elif head == "define":
                if len(nodes) < 3 or _word(nodes[2]) != "=" or opens:
                    raise self.error(line, "define: expected 'define NAME = VALUE'")
                self.defines[_word(nodes[1])] = nodes[3:]
            elif head == "flush" and [_word(node) for node in nodes[1:]] == ["ruleset"]:
                continue  # what `nft -f` files start with: the file is the whole ruleset
            elif head in _COMMANDS:
                if opens:
                    self.skip_block(line)
                self.note(line, "unmodelled: nft command '%s' is not read (only the block form of a listing "
                                "is); the ruleset it builds may differ from what is analysed" % head)
            else:
                raise self.error(line, "expected 'table', found %s" % _shown(nodes[0]))
        last = self.tokens[-1].line if self.tokens else 1
        self.document.lines = (1, last)
        for key in sorted(iptables_nft_tables(self.document)):
            table = next(table for table in self.document.tables if table.key == key)
            self.document.notes.append(Diagnostic(
                self.file, table.source.line, table.source.text,
                "table %s is iptables-nft's: nft lists its rules translated, and the translation can be wrong "
                "(nft 1.0.6 prints '-j TOS --set-tos 0x04/0xff' as 'ip6 dscp set 0x01'); read as listed here, "
                "exactly from iptables-save" % key))
        return self.document

    def table(self, nodes: list[t.Any], line: int) -> None:
        words = [_word(node) for node in nodes[1:]]
        if len(words) == 1:
            family, name = "ip", words[0]
        elif len(words) == 2:
            family, name = words
        else:
            raise self.error(line, "table: expected 'table [FAMILY] NAME {'")
        if family not in FAMILIES and family not in UNMODELLED_FAMILIES:
            raise self.error(line, "unknown table family %r (ip, ip6, inet, arp, bridge, netdev)" % family)
        table = self.document.table(family, name)
        if table is None:
            table = NftTable(family, name, Evidence(self.file, line, self.line_text(line)))
            self.document.tables.append(table)
        if family in UNMODELLED_FAMILIES:
            start = self.pos
            self.skip_block(line)
            end = self.tokens[self.pos - 1].line if self.pos > start else line
            self.note(line, "unmodelled: %s table %s is not read (%d lines): the %s family does not see routed "
                            "IP packets the way the ip/ip6/inet hooks do" % (family, name, end - line + 1, family))
            return
        while True:
            found = self.statement(_TABLE_OBJECTS)
            if found is None:
                break
            inner, opens = found
            head = _word(inner[0])
            inner_line = inner[0].line
            if head == "chain" and opens:
                self.chain(table, inner, inner_line)
            elif head in ("set", "map") and opens:
                self.named_set(table, head == "map", inner, inner_line)
            elif opens:
                self.skip_block(inner_line)
                if head != "counter":
                    self.note(inner_line, "unmodelled: %s object in table %s %s is not read"
                              % (" ".join(_word(node) for node in inner[:2]), family, name))
            elif head == "flags" and "dormant" in [_word(node) for node in inner[1:]]:
                self.note(inner_line, "unmodelled: table %s %s is dormant (its chains do not run) but is analysed "
                                      "as if it ran" % (family, name))
            elif head in ("flags", "comment"):
                continue
            else:
                raise self.error(inner_line, "unexpected %s in table %s %s" % (_shown(inner[0]), family, name))
        self.close(line)
        for rules in table.raw.values():
            for rule in rules:
                for before, node in zip(rule.tokens, rule.tokens[1:]):
                    if _word(before) in ("add", "update", "delete") and _word(node).startswith("@"):
                        table.dynamic_sets.add(_word(node)[1:])

    def chain(self, table: NftTable, nodes: list[t.Any], line: int) -> None:
        if len(nodes) != 2:
            raise self.error(line, "chain: expected 'chain NAME {'")
        name = _word(nodes[1])
        hook = chain_type = priority = policy = None
        source = Evidence(self.file, line, self.line_text(line))
        rules = table.raw.setdefault(name, [])
        while True:
            found = self.statement()
            if found is None:
                break
            inner, _opens = found
            head = _word(inner[0])
            inner_line = inner[0].line
            last_line = _last_line(inner)
            if head == "type":
                hook, chain_type, priority = self.base_chain(inner, inner_line, table)
                source = Evidence(self.file, inner_line, self.line_text(inner_line))
            elif head == "policy":
                value = _word(inner[1]) if len(inner) == 2 else ""
                if value not in ("accept", "drop"):
                    raise self.error(inner_line, "chain policy must be accept or drop")
                policy = value.upper()
            elif head == "comment" and len(inner) == 2:
                continue
            elif head in ("devices", "device"):
                continue
            else:
                rules.append(RawRule(Evidence(self.file, inner_line, self.line_text(inner_line, last_line)), inner))
        self.close(line)
        order = 0
        if hook is not None:
            self.chain_order += 1
            order = self.chain_order
            if policy is None:
                policy = "ACCEPT"
        table.chains[name] = NftChain(name, source, hook, chain_type, priority, policy if hook else None, order)

    def base_chain(self, nodes: list[t.Any], line: int, table: NftTable) -> tuple[str, str, int]:
        words = [_word(node) if not isinstance(node, Group) else "{}" for node in nodes]
        try:
            chain_type = words[1]
            hook_at = words.index("hook")
            hook = words[hook_at + 1]
            priority_at = words.index("priority")
        except (ValueError, IndexError):
            raise self.error(line, "base chain: expected 'type TYPE hook HOOK priority PRIORITY'") from None
        if chain_type not in ("filter", "route", "nat"):
            raise self.error(line, "unknown chain type %r (filter, route, nat)" % chain_type)
        spec = "".join(words[priority_at + 1:])
        match = _PRIORITY_RE.match(spec)
        if not match:
            raise self.error(line, "priority %r: expected a number or a name (raw, mangle, dstnat, filter, security, "
                                   "srcnat) with an optional offset" % spec)
        if match.group("name"):
            if match.group("name") not in PRIORITY_NAMES:
                raise self.error(line, "unknown priority name %r" % match.group("name"))
            priority = PRIORITY_NAMES[match.group("name")]
        else:
            priority = int(match.group("number"))
        if match.group("offset"):
            offset = int(match.group("offset"))
            priority += offset if match.group("sign") == "+" else -offset
        if hook not in HOOKS:
            self.note(line, "unmodelled: %s hook %s: packets on the ip/ip6 hooks the analysis follows never "
                            "cross it" % (table.family, hook))
        return hook, chain_type, priority

    def named_set(self, table: NftTable, is_map: bool, nodes: list[t.Any], line: int) -> None:
        if len(nodes) != 2:
            raise self.error(line, "%s: expected '%s NAME {'" % (("map",) * 2 if is_map else ("set",) * 2))
        name = _word(nodes[1])
        keys: tuple[str, ...] = ()
        value_type = None
        flags: tuple[str, ...] = ()
        elements: list[list[t.Any]] = []
        while True:
            found = self.statement()
            if found is None:
                break
            inner, _opens = found
            head = _word(inner[0])
            if head in ("type", "typeof"):
                words = [_word(node) for node in inner[1:] if not isinstance(node, Group)]
                key_words, _colon, value_words = " ".join(words).partition(" : ")
                keys = tuple(part.strip() for part in key_words.split(" . "))
                value_type = value_words.strip() or None
                if head == "typeof":
                    keys = tuple("typeof " + key for key in keys)
            elif head == "flags":
                flags = tuple(_word(node) for node in inner[1:] if isinstance(node, Tok) and node.kind == "w")
            elif head == "elements":
                if len(inner) != 3 or _word(inner[1]) != "=" or not isinstance(inner[2], Group):
                    raise self.error(inner[0].line, "elements: expected 'elements = { ... }'")
                elements.extend(inner[2].elements)
        self.close(line)
        from ansible_collections.diffserv.audit.plugins.module_utils.nftables.expr import read_elements
        table.sets[name] = NftSet(name, Evidence(self.file, line, self.line_text(line)), keys, is_map, value_type, flags,
                                  read_elements(elements))


def _word(node: t.Any) -> str:
    if isinstance(node, Tok) and node.kind in ("w", "s"):
        return node.value
    if isinstance(node, Group):
        return "{...}"
    return str(node.value) if isinstance(node, Tok) else "?"


def _shown(node: t.Any) -> str:
    return repr(_word(node))


def _last_line(nodes: list[t.Any]) -> int:
    last = nodes[-1]
    return last.end_line if isinstance(last, Group) else last.line


def parse_nft(text: str, file: str = "<string>") -> Document:
    """Read an nft ruleset (listing or `nft -f` file of the block form); ParseError with file:line if it cannot be."""
    return _Reader(text, file).read()
