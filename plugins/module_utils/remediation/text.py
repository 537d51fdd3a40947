# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Editing a configuration's text: edits keyed by the running text's line numbers, per stage.

The parser's evidence (file:line) addresses the running text; every edit refers to those lines,
so no edit renumbers another and stage k applies every edit of stages <= k.  The IOS helpers
below rewrite one line the way IOS prints it (a DSCP value swapped, an ACL entry given a free
sequence number, the `set dscp` spelling the router already uses).

>>> text = ConfigText("interface Gi0/0\\n ip policy route-map nul\\n!")
>>> text.delete([2], stage=1)
>>> text.insert_after(1, [" service-policy input clear"], stage=0)
>>> text.render(0).split("\\n")
['interface Gi0/0', ' service-policy input clear', ' ip policy route-map nul', '!']
>>> text.render(1).split("\\n")
['interface Gi0/0', ' service-policy input clear', '!']
>>> swap_values("access-list 106 permit ip any any dscp 1", "dscp", 1, 3, many=False)
'access-list 106 permit ip any any dscp 3'

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import difflib
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Acl, AclEntry
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import PlanError


class ConfigText:
    """A configuration text and edits keyed by its original line numbers (1-based), per stage.

    Edits never renumber: deletions, replacements and insertions all refer to the running
    text's lines, so the parser's evidence (file:line) addresses them directly, and the text
    after stage k applies every edit of stages <= k.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self._deleted: dict[int, int] = {}
        self._replaced: dict[int, tuple[int, str]] = {}
        self._before: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        self._after: dict[int, list[tuple[int, tuple[str, ...]]]] = {}

    def line(self, number: int) -> str:
        return self.lines[number - 1]

    @staticmethod
    def indent_of(raw: str) -> int:
        return len(raw) - len(raw.lstrip(" \t"))

    def block(self, number: int) -> list[int]:
        """A line and every following line indented deeper: a section with its children."""
        base = self.indent_of(self.line(number))
        found = [number]
        index = number + 1
        while index <= len(self.lines):
            raw = self.lines[index - 1]
            if not raw.strip() or self.indent_of(raw) <= base:
                break
            found.append(index)
            index += 1
        return found

    def child_indent(self, number: int, default_step: int = 1) -> int:
        """The indentation the children of the section at `number` use."""
        block = self.block(number)
        if len(block) > 1:
            return self.indent_of(self.line(block[1]))
        return self.indent_of(self.line(number)) + default_step

    def delete(self, numbers: t.Iterable[int], stage: int = 0) -> None:
        for number in numbers:
            self._deleted.setdefault(number, stage)

    def delete_block(self, number: int, stage: int = 0) -> list[int]:
        block = self.block(number)
        self.delete(block, stage)
        # A top-level section sits between `!` lines; keep one of the two.
        if self.indent_of(self.line(number)) == 0 and number > 1 and block[-1] < len(self.lines):
            before, after = self.line(number - 1).strip(), self.line(block[-1] + 1).strip()
            if before == "!" and after == "!":
                self.delete([block[-1] + 1], stage)
        return block

    def replace(self, number: int, text: str, stage: int = 0) -> None:
        self._replaced[number] = (stage, text)

    def insert_after(self, number: int, texts: t.Sequence[str], stage: int = 0) -> None:
        self._after.setdefault(number, []).append((stage, tuple(texts)))

    def insert_before(self, number: int, texts: t.Sequence[str], stage: int = 0) -> None:
        self._before.setdefault(number, []).append((stage, tuple(texts)))

    def insert_section(self, texts: t.Sequence[str], stage: int = 0) -> None:
        """A new top-level section (its `!` included) where IOS prints one of its kind in running-config: after
        the last section that comes no later (IOS_SECTION_ORDER), else before the first that comes later."""
        rank = ios_section_rank(texts[0])
        if rank is None:
            raise PlanError("no place in running-config order for a new %r section" % texts[0])
        after = before = None
        for number, raw in enumerate(self.lines, 1):
            if not raw or raw[0] in " \t!":
                continue
            other = ios_section_rank(raw)
            if other is None:
                continue
            if other <= rank:
                after = number
            elif before is None:
                before = number
        if after is not None:
            self.insert_after(self.block(after)[-1], ["!"] + list(texts[:-1] if texts[-1] == "!" else texts), stage)
        else:
            self.insert_before(before if before is not None else len(self.lines), texts, stage)

    def deleted(self, number: int) -> bool:
        return number in self._deleted

    def render(self, stage: int) -> str:
        out: list[str] = []
        for number, raw in enumerate(self.lines, 1):
            for at, texts in self._before.get(number, ()):
                if at <= stage:
                    out.extend(texts)
            gone = self._deleted.get(number)
            if gone is None or gone > stage:
                replaced = self._replaced.get(number)
                out.append(replaced[1] if replaced is not None and replaced[0] <= stage else raw)
            for at, texts in self._after.get(number, ()):
                if at <= stage:
                    out.extend(texts)
        return "\n".join(out)


# The order IOS prints running-config's top-level sections in (Cisco IOS configuration fundamentals: `show
# running-config`), for placing a new definition where the device will show it.
IOS_SECTION_ORDER: tuple[tuple[str, float], ...] = (
    ("object-group ", 9.5), ("class-map ", 10), ("policy-map ", 11), ("interface ", 20), ("router ", 25),
    ("ip route ", 26), ("ip access-list ", 28), ("access-list ", 29), ("ipv6 access-list ", 29.5),
    ("snmp-server ", 30), ("route-map ", 31), ("control-plane", 32), ("banner ", 33), ("line ", 34), ("end", 99),
)


def ios_section_rank(line: str) -> float | None:
    """Where a top-level line's kind comes in running-config (None: a kind this order does not place)."""
    return next((rank for prefix, rank in IOS_SECTION_ORDER if line.startswith(prefix)), None)


def unified_diff(before: str, after: str, name: str) -> str:
    """The configuration before and after, as a unified diff (what a reviewer reads), three lines of context.

    A candidate differs from the running text in a few lines: the lines both share at the start and at the end
    are set aside before difflib compares the rest (a 1,000-router fleet's bundles compared every line of every
    configuration, a fifth of their rendering).  Hunks are grouped and written as difflib writes them; where
    lines repeat, the changed lines may be aligned otherwise than difflib would over the whole texts, as validly
    (applied to the running text, the diff gives the candidate).

    >>> print(unified_diff("a\\nb\\nc\\nd\\ne\\nf\\n", "a\\nb\\nc\\nX\\nd\\ne\\nf\\n", "r1"), end="")
    --- r1 (running)
    +++ r1 (candidate)
    @@ -1,6 +1,7 @@
     a
     b
     c
    +X
     d
     e
     f
    """
    old, new = before.splitlines(), after.splitlines()
    if old == new:
        return ""
    shortest = min(len(old), len(new))
    head = 0
    while head < shortest and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < shortest - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    middle = difflib.SequenceMatcher(None, old[head:len(old) - tail], new[head:len(new) - tail]).get_opcodes()
    opcodes: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    opcodes.extend((tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle)
    if tail:
        opcodes.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    matcher = _Opcodes(opcodes)
    out = ["--- %s (running)" % name, "+++ %s (candidate)" % name]
    for group in matcher.get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        out.append("@@ -%s +%s @@" % (_hunk_range(first[1], last[2]), _hunk_range(first[3], last[4])))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in old[i1:i2])
                continue
            out.extend("-" + line for line in old[i1:i2])
            out.extend("+" + line for line in new[j1:j2])
    return "\n".join(out) + "\n"


Opcode = t.Tuple[t.Literal["replace", "delete", "insert", "equal"], int, int, int, int]


class _Opcodes(difflib.SequenceMatcher):  # type: ignore[type-arg]  # str lines; the stub's generic is not runtime
    """difflib's grouping of hunks over opcodes computed elsewhere (unified_diff's trimmed comparison)."""

    def __init__(self, opcodes: list[Opcode]) -> None:
        super().__init__(None, "", "")
        self.opcodes = opcodes

    def get_opcodes(self) -> list[Opcode]:
        return self.opcodes


def _hunk_range(start: int, stop: int) -> str:
    """A hunk's range as `diff -u` writes it (difflib's _format_range_unified)."""
    beginning = start + 1
    length = stop - start
    if length == 1:
        return "%d" % beginning
    if not length:
        beginning -= 1
    return "%d,%d" % (beginning, length)


def swap_values(text: str, keyword: str, old: int, new: int, many: bool) -> str:
    """`text` with the DSCP value(s) after `keyword` equal to `old` replaced by `new`; spacing kept."""
    tokens = list(re.finditer(r"\S+", text))
    out = text
    for index, token in enumerate(tokens):
        if token.group(0) != keyword:
            continue
        values = tokens[index + 1:] if many else tokens[index + 1:index + 2]
        for value in reversed(values):
            word = value.group(0)
            if word in ("ipv4", "ipv6"):
                continue
            try:
                if dsfield.parse_dscp(word) != old:
                    continue
            except dsfield.DSFieldError:
                break
            out = out[:value.start()] + str(new) + out[value.end():]
        break
    return out


# An entry line's sequence number: `10 permit ...` (IPv4), `sequence 10 permit ...` or `permit ... sequence 10`
# (`ipv6 access-list`), and a numbered list's `access-list 106 ` prefix.
_SEQUENCE6 = re.compile(r"^sequence \d+ | sequence \d+$")
_NUMBER4 = re.compile(r"^(?:access-list \S+ |\d+ )")


def entry_body(raw: str, family: int) -> str:
    """An access-list entry line without its list name or sequence number, spaces folded: what `show
    access-lists` prints beside the number.

    >>> entry_body("access-list 106 deny   tcp any any gt 511 dscp 1", 4), entry_body(" permit ipv6 any any sequence 20", 6)
    ('deny tcp any any gt 511 dscp 1', 'permit ipv6 any any')
    """
    return (_SEQUENCE6 if family == 6 else _NUMBER4).sub("", " ".join(raw.split()))


def spread_sequences(low: int, high: int, used: t.Collection[int], count: int) -> list[int] | None:
    """`count` sequence numbers between `low` and `high` that no entry holds, spread evenly over the free ones so
    that later entries still find room on either side; None when fewer are free.

    >>> spread_sequences(0, 10, (), 3), spread_sequences(0, 10, (), 10)
    ([3, 5, 7], None)
    """
    free = [seq for seq in range(low + 1, high) if seq not in used]
    if len(free) < count:
        return None
    return [free[(index + 1) * len(free) // (count + 1)] for index in range(count)]


def renumber_entry(raw: str, acl: Acl, entry: AclEntry) -> str:
    """An entry line with a sequence number free between `entry` and the next entry of its list."""
    used = {e.seq for e in acl.entries if e.seq is not None}
    later = sorted(seq for seq in used if seq > t.cast(int, entry.seq))
    low, high = t.cast(int, entry.seq), (later[0] if later else None)
    candidates = [low + 10] if high is None else [(low + high) // 2] + list(range(low + 1, high))
    free = next((seq for seq in candidates if seq not in used and (high is None or low < seq < high)), None)
    if free is None:
        family = "ipv6" if acl.family == 6 else "ip"
        raise PlanError("%s %s: no free sequence number after %d; resequence the list first "
                        "(%s access-list resequence %s 10 10)" % (
                            "ipv6 access-list" if acl.family == 6 else "access-list", acl.name, low, family, acl.name))
    # `10 permit ...` (IPv4); `sequence 10 permit ...` or `permit ... sequence 10` (`ipv6 access-list`).
    match = re.match(r"(\s*)\d+(\s.*)$", raw) or re.match(r"(\s*sequence\s+)\d+(\s.*)$", raw) \
        or re.match(r"(.*\ssequence\s+)\d+(\s*)$", raw)
    return "%s%d%s" % (match.group(1), free, match.group(2)) if match else raw


def dscp_clear_syntax(config_text: str, block: t.Iterable[str], families: t.Collection[int] = (4,)) -> str:
    """`set ip dscp` if the router writes it that way, else `set dscp`; always `set dscp` where IPv6 traffic
    must be cleared too (`set ip dscp` marks IPv4 packets only, Cisco's QoS packet marking guide)."""
    if 6 in families:
        return "set dscp default"
    if any(re.match(r"\s*set ip dscp\b", raw) for raw in block):
        return "set ip dscp default"
    if any(re.match(r"\s*set dscp\b", raw) for raw in block):
        return "set dscp default"
    if re.search(r"(?m)^\s*set ip dscp\b", config_text):
        return "set ip dscp default"
    return "set dscp default"
