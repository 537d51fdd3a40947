# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`nft -j list ruleset` JSON -> the same Document the listing gives (one reader of rules: text.py, expr.py).

Each table, chain, set and rule object is rendered back into nft's own syntax and read by the text
reader, then its evidence is pointed at the JSON: the line where its object starts when every rule
has a line of its own (pretty-printed JSON); otherwise (nft prints the whole document on one line)
the line in the listing the JSON renders to, under the file name "<file> (as nft list ruleset)",
so that a finding never names two rules by one line. The rule's handle is in its text.

>>> doc = read_ruleset('{"nftables": [{"table": {"family": "ip", "name": "m", "handle": 1}}, '
...     '{"chain": {"family": "ip", "table": "m", "name": "post", "handle": 1, "type": "filter", '
...     '"hook": "postrouting", "prio": -150, "policy": "accept"}}, {"rule": {"family": "ip", "table": "m", '
...     '"chain": "post", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, '
...     '"right": "eth0"}}, {"mangle": {"key": {"payload": {"protocol": "ip", "field": "dscp"}}, "value": "lephb"}}]}}]}',
...     "fw.json")
>>> rule = doc.view(4).tables["ip m"].rules("post")[0]
>>> rule.source.file, rule.source.line, rule.target.dscp, rule.source.text
('fw.json', 1, 1, 'meta oifname "eth0" ip dscp set lephb  # handle 2')
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import json
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Evidence
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import Document
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.text import parse_nft

_JSON_START = re.compile(r'\A(?:\ufeff)?\s*\{\s*"nftables"\s*:\s*\[')
_WORD = re.compile(r"^[A-Za-z0-9_.:/*@-]+$")


def looks_like_json(text: str) -> bool:
    return bool(_JSON_START.match(text))


def read_ruleset(text: str, file: str) -> Document:
    """A listing or its JSON form, whichever the text is."""
    if looks_like_json(text):
        return parse_nft_json(text, file)
    return parse_nft(text, file)


def _objects(text: str, file: str) -> t.Iterator[tuple[dict[str, t.Any], int]]:
    decoder = json.JSONDecoder()
    match = _JSON_START.match(text)
    if match is None:
        raise ParseError(file, 1, 'not nft JSON: expected {"nftables": [')
    position = match.end()
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise ParseError(file, text.count("\n", 0, position) + 1, "nft JSON ends inside the nftables array")
        if text[position] == "]":
            return
        line = text.count("\n", 0, position) + 1
        try:
            found, position = decoder.raw_decode(text, position)
        except ValueError as error:
            raise ParseError(file, line, "bad JSON: %s" % error) from None
        if not isinstance(found, dict):
            raise ParseError(file, line, "nft JSON: expected an object in the nftables array")
        yield found, line


def parse_nft_json(text: str, file: str) -> Document:
    tables: dict[tuple[str, str], dict[str, t.Any]] = {}
    order: list[tuple[str, str]] = []
    for found, line in _objects(text, file):
        kind = next(iter(found), None)
        body = found.get(kind) if kind else None
        if kind == "metainfo" or not isinstance(body, dict):
            continue
        key = (str(body.get("family", "ip")), str(body.get("table" if kind != "table" else "name", "")))
        if key not in tables:
            tables[key] = {"line": line, "chains": {}, "sets": [], "rules": {}, "handle": body.get("handle")}
            order.append(key)
        entry = tables[key]
        try:
            if kind == "table":
                entry["line"] = line
            elif kind == "chain":
                entry["chains"][body["name"]] = (body, line)
                entry["rules"].setdefault(body["name"], [])
            elif kind in ("set", "map"):
                entry["sets"].append((kind, body, line))
            elif kind == "rule":
                text_of = " ".join(_statement(expr) for expr in body.get("expr", []))
                if body.get("comment"):
                    text_of += " comment %s" % _string(body["comment"])
                entry["rules"].setdefault(body["chain"], []).append((text_of.strip(), line, body.get("handle")))
        except (KeyError, TypeError, ValueError) as error:
            raise ParseError(file, line, "nft JSON %s object not understood: %s" % (kind, error)) from None
    # Render, read, then point every line back at the JSON.
    lines: list[str] = []
    where: list[tuple[int, str | None]] = []  # per rendered line: JSON line, handle note

    def put(rendered: str, line: int, note: str | None = None) -> None:
        lines.append(rendered)
        where.append((line, note))

    for family, name in order:
        entry = tables[(family, name)]
        put("table %s %s {" % (family, _name(name)), entry["line"])
        for kind, body, line in entry["sets"]:
            put("%s %s {" % (kind, _name(body["name"])), line)
            types = body.get("type")
            key_type = " . ".join(types) if isinstance(types, list) else str(types)
            put("type %s%s" % (key_type, " : %s" % body["map"] if kind == "map" else ""), line)
            if body.get("flags"):
                flags = body["flags"] if isinstance(body["flags"], list) else [body["flags"]]
                put("flags %s" % ",".join(flags), line)
            if body.get("elem"):
                put("elements = { %s }" % ", ".join(_element(item) for item in body["elem"]), line)
            put("}", line)
        for chain, (body, line) in entry["chains"].items():
            put("chain %s {" % _name(chain), line)
            if body.get("hook"):
                put("type %s hook %s priority %s; policy %s;" % (body.get("type", "filter"), body["hook"],
                                                                 body.get("prio", 0), body.get("policy", "accept")),
                    line)
            for rendered, rule_line, handle in entry["rules"].get(chain, []):
                put(rendered, rule_line, None if handle is None else "handle %s" % handle)
            put("}", line)
        for chain, rules in entry["rules"].items():
            if chain not in entry["chains"]:
                raise ParseError(file, rules[0][1] if rules else entry["line"],
                                 "rule for chain %s, which the JSON never declares" % chain)
        put("}", entry["line"])
    rendered_text = "\n".join(lines) + "\n"
    try:
        document = parse_nft(rendered_text, file)
    except ParseError as error:
        line = where[error.line - 1][0] if error.line and error.line <= len(where) else 1
        rendered_line = lines[error.line - 1] if error.line and error.line <= len(lines) else None
        raise ParseError(file, line, error.reason, rendered_line) from None

    # Findings name a rule by its line: when the JSON gives every rule a line of its own (pretty-printed),
    # that line; when rules share one (`nft -j` prints the whole document on one line), the line of the
    # rule in the listing the JSON renders to, in a file named for it, the rule's handle in its text.
    rule_lines = [where[rule.source.line - 1][0] for table in document.tables for rules in table.raw.values()
                  for rule in rules]
    own_lines = len(set(rule_lines)) == len(rule_lines)
    rendered = "%s (as nft list ruleset)" % file

    def moved(source: Evidence) -> Evidence:
        line, note = where[source.line - 1]
        text = source.text + ("  # %s" % note if note else "")
        return Evidence(file, line, text) if own_lines else Evidence(rendered, source.line, text)

    document.notes = [dataclasses.replace(note, line=where[note.line - 1][0]) if own_lines else
                      dataclasses.replace(note, file=rendered) for note in document.notes]
    for table in document.tables:
        table.source = moved(table.source)
        for name, chain in list(table.chains.items()):
            table.chains[name] = dataclasses.replace(chain, source=moved(chain.source))
        for name, named in list(table.sets.items()):
            table.sets[name] = dataclasses.replace(named, source=moved(named.source))
        for rules in table.raw.values():
            for rule in rules:
                rule.source = moved(rule.source)
    document.lines = (1, text.count("\n") + 1)
    document.evidence_file = file if own_lines else rendered
    return document


def _name(name: str) -> str:
    return name if _WORD.match(name) and "." not in name else _string(name)


def _string(value: t.Any) -> str:
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def _value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value if _WORD.match(value) else _string(value)
    if isinstance(value, list):
        return ",".join(_value(item) for item in value)
    if isinstance(value, dict):
        kind, body = next(iter(value.items()))
        if kind == "set":
            items = body if isinstance(body, list) else [body]
            return "{ %s }" % ", ".join(_element(item) for item in items)
        if kind == "range":
            return "%s-%s" % (_value(body[0]), _value(body[1]))
        if kind == "prefix":
            return "%s/%s" % (body["addr"], body["len"])
        if kind == "concat":
            return " . ".join(_value(item) for item in body)
        if kind == "elem":
            return _value(body["val"])
        if kind == "map":
            return "%s map %s" % (_left(body["key"]), _value(body["data"]))
        if kind in ("accept", "drop", "return", "continue"):
            return str(kind)
        if kind in ("jump", "goto"):
            return "%s %s" % (kind, _name(body["target"]))
        return _left(value)
    raise ValueError("value %r" % (value,))


def _element(item: t.Any) -> str:
    if isinstance(item, list) and len(item) == 2:
        return "%s : %s" % (_value(item[0]), _value(item[1]))
    return _value(item)


def _left(expr: t.Any) -> str:
    if not isinstance(expr, dict):
        return _value(expr)
    kind, body = next(iter(expr.items()))
    if kind == "payload":
        if "protocol" in body:
            return "%s %s" % (body["protocol"], body["field"])
        return "@%s,%s,%s" % (body.get("base", "nh"), body.get("offset", 0), body.get("len", 0))
    if kind == "meta":
        return "meta %s" % body["key"]
    if kind == "ct":
        return "ct %s%s" % ("%s " % body["dir"] if body.get("dir") else "", body["key"])
    if kind == "concat":
        return " . ".join(_left(item) for item in body)
    if kind == "fib":
        return "fib %s %s" % (" . ".join(body.get("flags", [])), body.get("result", ""))
    if kind in ("&", "|", "^", "<<", ">>"):
        return "%s %s %s" % (_left(body[0]), kind, _value(body[1]))
    # Anything else reads as an unmodelled meta key, named, so it becomes a may-match with its line.
    return "meta json-%s" % kind


def _statement(expr: dict[str, t.Any]) -> str:
    kind, body = next(iter(expr.items()))
    if kind == "match":
        op = body.get("op", "==")
        shown = {"==": "", "in": ""}.get(op, op + " ")
        left = _left(body["left"])
        right = body["right"]
        # Interface names print quoted, as in the listing.
        value = _string(right) if isinstance(right, str) and left.endswith("name") else _value(right)
        return "%s %s%s" % (left, shown, value)
    if kind in ("accept", "drop", "return", "continue", "notrack"):
        return kind
    if kind in ("jump", "goto"):
        return "%s %s" % (kind, _name(body["target"]))
    if kind in ("reject", "queue"):
        return kind
    if kind == "counter":
        return "counter"
    if kind == "log":
        return "log" + (" prefix %s" % _string(body["prefix"]) if isinstance(body, dict) and body.get("prefix") else "")
    if kind == "mangle":
        return "%s set %s" % (_left(body["key"]), _value(body["value"]))
    if kind == "vmap":
        return "%s vmap %s" % (_left(body["key"]), _value(body["data"]))
    if kind in ("snat", "dnat", "masquerade", "redirect"):
        parts = [kind]
        if isinstance(body, dict) and body.get("addr") is not None:
            parts.append("to %s" % _value(body["addr"]))
        return " ".join(parts)
    if kind == "limit":
        return "limit rate %s/%s" % (body.get("rate"), body.get("per", "second"))
    if kind == "quota":
        return "quota %s %s" % (body.get("val"), body.get("val_unit", "bytes"))
    if kind == "set":
        return "%s %s { %s }" % (body.get("op", "add"), body.get("set"), _value(body.get("elem")))
    if kind == "xt":
        return "xt %s %s" % (body.get("type", "target"), _string(body.get("name", "?")))
    return "xt json %s" % _string(kind)
