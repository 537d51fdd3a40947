"""The configuration state of a simulated Cisco IOS router: parse, render, apply one command.

An own small indented tree rather than hier_config: the simulator must *execute* commands the way
IOS does (``no access-list 106 ...`` deletes the whole list, ``no 10`` inside ``ip access-list
extended 106`` deletes one entry, ``no policy-map X`` is refused while X is attached), keep the
text of ``show running-config`` in IOS order with its ``!`` separators, banner and version line,
and must not share the code it is meant to test (the collection plans its changes with
hier_config).

Model:
    * top-level nodes in running-config order: plain lines, sections (with children), ``!``
      separators, banners, and one holder node per *numbered* access list whose entries render as
      ``access-list N <entry>`` lines;
    * access-list entries (numbered and named) carry sequence numbers internally (10, 20, ...)
      so ``ip access-list extended N`` / ``no 10`` / ``15 permit ...`` work; running-config
      prints them without numbers (IOS 12.x/15 style), ``show access-lists`` with them;
    * a command is tried in the current sub-mode and, if that mode does not know it, in the
      parent modes (IOS falls back the same way: ``access-list ...`` typed under an interface runs
      in global configuration and leaves the interface).

Example::

    >>> cfg = IOSConfig("hostname r1\\n!\\naccess-list 106 permit ip any any dscp 1\\n!\\nend\\n")
    >>> cfg.apply((), "access-list 106 deny ip any any").status
    'ok'
    >>> cfg.apply((), "no access-list 106 deny ip any any").changed
    True
    >>> cfg.lines()
    ['hostname r1', '!', '!']
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Node", "Outcome", "IOSConfig", "Packet", "Counters", "forward", "mode_of", "expand_interface"]


@dataclass(eq=False, slots=True)
class Node:
    """One configuration line; ``kind`` is line | section | sep | banner | acl (numbered ACL holder)."""

    text: str
    children: list["Node"] = field(default_factory=list)
    kind: str = "line"
    mode: str | None = None  # the configuration sub-mode a section opens (config-if, ...)
    seq: int | None = None  # access-list entry sequence number


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one configuration command did."""

    status: str  # ok | invalid | incomplete | ambiguous | refused
    path: tuple[Node, ...]  # the sub-mode path after the command
    output: str = ""  # text IOS prints (without the caret line for invalid input)
    changed: bool = False
    error_col: int = 0  # where the caret goes, as an offset in the command line


class Ambiguous(Exception):
    """A keyword prefix that matches more than one keyword."""


# --------------------------------------------------------------------------- vocabularies

# First words accepted in global configuration mode (besides the section commands).
_GLOBAL_WORDS = (
    "aaa access-list alias archive banner boot boot-start-marker boot-end-marker call-home cdp "
    "class-map clock control-plane crypto default dot11 enable errdisable file hostname interface "
    "ip ipv6 key license line logging login mac memory-size mls multilink no ntp object-group "
    "parser policy-map privilege radius-server redundancy route-map router security service "
    "snmp-server spanning-tree tacacs-server track username version vlan vtp"
).split()

_IF_WORDS = (
    "arp auto bandwidth carrier-delay cdp channel-group clock crypto default delay description "
    "dialer duplex encapsulation fair-queue hold-queue ip ipv6 keepalive load-interval logging "
    "mac-address media-type mls mtu negotiation no ppp pppoe priority-queue qos random-detect "
    "service-policy shutdown snmp spanning-tree speed standby storm-control switchport tunnel "
    "vrf vrrp zone-member"
).split()
# ``ip <word>`` under an interface; any other ``ip ...`` falls back to global configuration.
_IF_IP_WORDS = (
    "access-group accounting address authentication directed-broadcast dhcp flow hello-interval "
    "helper-address igmp mroute-cache mtu nat nbar ospf pim policy proxy-arp redirects "
    "route-cache split-horizon summary-address tcp unnumbered unreachables verify "
    "virtual-reassembly vrf"
).split()
_ACL_WORDS = ("permit", "deny", "remark", "evaluate", "dynamic")
_CMAP_WORDS = ("match", "description")
_PMAP_WORDS = ("class", "description")
_PMAPC_WORDS = (
    "bandwidth compress drop fair-queue police priority queue-limit random-detect "
    "service-policy set shape trust"
).split()
_RMAP_WORDS = ("match", "set", "description", "continue")
_LINE_WORDS = (
    "absolute-timeout access-class autoselect databits escape-character exec exec-banner "
    "exec-timeout flowcontrol history length logging login modem motd-banner parity password "
    "privilege rotary session-timeout speed stopbits timeout transport width"
).split()
_ROUTER_WORDS = (
    "address-family area auto-summary bgp default-information distance distribute-list "
    "log-adjacency-changes maximum-paths neighbor network passive-interface redistribute "
    "router-id timers version"
).split()
_CP_WORDS = ("service-policy",)

_MODE_WORDS: dict[str, tuple[str, ...]] = {
    "config-if": tuple(_IF_WORDS),
    "config-subif": tuple(_IF_WORDS),
    "config-ext-nacl": _ACL_WORDS,
    "config-std-nacl": _ACL_WORDS,
    "config-cmap": _CMAP_WORDS,
    "config-pmap": _PMAP_WORDS,
    "config-pmap-c": tuple(_PMAPC_WORDS),
    "config-route-map": _RMAP_WORDS,
    "config-line": tuple(_LINE_WORDS),
    "config-router": tuple(_ROUTER_WORDS),
    "config-cp": _CP_WORDS,
    # Object groups (IOS XE "Object Groups for ACLs") and IPv6 access lists; a member that is an
    # address or a protocol number starts with a digit and is taken as it is typed.
    "config-network-group": ("host", "range", "any", "group-object", "description"),
    "config-service-group": ("tcp", "udp", "tcp-udp", "icmp", "ip", "esp", "gre", "ahp", "ospf", "eigrp", "pim",
                             "group-object", "description"),
    "config-ipv6-acl": ("permit", "deny", "remark", "sequence"),
}

# Lines whose newer value replaces the older one (same key), per mode.
_REPLACE: dict[str, tuple[re.Pattern[str], ...]] = {
    "config": tuple(
        re.compile(p)
        for p in (
            r"hostname\b",
            r"enable secret\b",
            r"enable password\b",
            r"ip domain[ -]name\b",
            r"ip default-gateway\b",
            r"logging buffered\b",
            r"version\b",
            r"snmp-server location\b",
            r"snmp-server contact\b",
            r"snmp-server community (\S+)",
            r"username (\S+)",
        )
    ),
    "config-if": tuple(
        re.compile(p)
        for p in (
            r"description\b",
            r"ip address(?!.* secondary$)",
            r"duplex\b",
            r"speed\b",
            r"bandwidth\b",
            r"mtu\b",
            r"encapsulation\b",
            r"ip policy route-map\b",
            r"service-policy (input|output)\b",
            r"ip access-group \S+ (in|out)$",
        )
    ),
    "config-pmap-c": tuple(
        re.compile(p)
        for p in (
            r"set (?:ip )?dscp\b",
            r"set (?:ip )?precedence\b",
            r"police\b",
            r"bandwidth\b",
            r"priority\b",
            r"shape \S+",
            r"queue-limit\b",
            r"service-policy\b",
        )
    ),
    "config-route-map": (re.compile(r"description\b"),),
    "config-cmap": (re.compile(r"description\b"),),
    "config-line": tuple(
        re.compile(p)
        for p in (
            r"password\b",
            r"exec-timeout\b",
            r"transport input\b",
            r"access-class \S+ (in|out)$",
            r"login\b",
            r"privilege level\b",
        )
    ),
}
_REPLACE["config-subif"] = _REPLACE["config-if"]

# Route-map lines that IOS merges into one line (``match ip address 106 107``).
_MERGE = re.compile(r"^(match ip address|set interface|match interface)\s+(.+)$")

# ``no X`` on these (absent) lines is kept in running-config as ``no X`` (they default to on).
_DEFAULT_ON = {
    "config": {
        "ip domain lookup", "ip domain-lookup", "ip http server", "ip http secure-server",
        "service pad", "ip source-route", "cdp run", "ip bootp server", "service config",
        "ip finger", "aaa new-model", "ip subnet-zero", "ip classless", "ip cef",
    },
    "config-if": {
        "ip address", "ip unreachables", "ip redirects", "ip proxy-arp", "cdp enable",
        "keepalive", "ip route-cache", "mop enabled", "ip directed-broadcast",
    },
}
_DEFAULT_ON["config-subif"] = _DEFAULT_ON["config-if"]

_IF_TYPES = (
    "GigabitEthernet", "FastEthernet", "TenGigabitEthernet", "Ethernet", "Serial", "Loopback",
    "Tunnel", "Vlan", "Null", "Port-channel", "Dialer", "Virtual-Template", "BVI", "Multilink",
)
_VIRTUAL_IF = ("Loopback", "Tunnel", "Vlan", "Port-channel", "Dialer", "Virtual-Template", "BVI")

# Where a new top-level item goes, by rank (the order IOS prints running-config in).
_RANKS: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"version\b", 1),
        (r"service\b", 2),
        (r"hostname\b", 3),
        (r"boot", 4),
        (r"logging\b", 5),
        (r"enable\b", 6),
        (r"username\b", 7),
        (r"(no )?aaa\b", 8),
        (r"(no )?ip (subnet-zero|cef|domain|name-server|dhcp|ssh)", 9),
        (r"object-group\b", 9.5),
        (r"class-map\b", 10),
        (r"policy-map\b", 11),
        (r"interface\b", 20),
        (r"router\b", 25),
        (r"ip classless|ip route\b|ip forward-protocol", 26),
        (r"(no )?ip http\b", 27),
        (r"ip access-list\b", 28),
        (r"access-list\b", 29),
        (r"ipv6 access-list\b", 29.5),
        (r"snmp-server\b", 30),
        (r"route-map\b", 31),
        (r"control-plane\b", 32),
        (r"banner\b", 33),
        (r"line\b", 34),
        (r"ntp\b", 35),
    )
)


# --------------------------------------------------------------------------- helpers


def expand_keyword(word: str, vocab: tuple[str, ...] | list[str]) -> str | None:
    """The keyword ``word`` abbreviates (IOS: any unique prefix); None if none; Ambiguous if many."""
    lw = word.lower()
    if lw in vocab:
        return lw
    hits = [k for k in vocab if k.startswith(lw)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise Ambiguous(word)
    return None


def expand_interface(name: str) -> str:
    """``gi0/0`` -> ``GigabitEthernet0/0``; ``GigabitEthernet 0/0`` -> ``GigabitEthernet0/0``."""
    name = name.replace(" ", "")
    m = re.match(r"([A-Za-z-]+)(.*)$", name)
    if not m:
        return name
    prefix, rest = m.group(1).lower(), m.group(2)
    hits = [t for t in _IF_TYPES if t.lower().startswith(prefix)]
    if len(hits) >= 1:
        # IOS resolves "E" to Ethernet ahead of longer names; take the shortest match.
        return min(hits, key=len) + rest
    return name


def _norm(line: str) -> str:
    return " ".join(line.split())


def _fmt_ace(text: str) -> str:
    """IOS pads ``deny`` to the width of ``permit`` in access-list entries."""
    if text.startswith("deny "):
        return "deny   " + text[5:]
    return text


# The order IOS prints interface sub-commands in (roughly): new lines go before higher ranks.
_IF_ORDER: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"description\b", 1),
        (r"(no )?ip address\b", 2),
        (r"ip policy\b", 4),
        (r"(no )?ip\b", 3),
        (r"(no )?shutdown\b", 5),
        (r"(duplex|speed)\b", 6),
        (r"service-policy\b", 9),
    )
)


def _is_default(word: str) -> bool:
    """``default`` or an abbreviation of it (``def``)."""
    return len(word) >= 3 and "default".startswith(word.lower())


def _if_rank(text: str) -> int:
    for pattern, r in _IF_ORDER:
        if pattern.match(text):
            return r
    return 7


def _col(line: str, index: int) -> int:
    """Offset of the ``index``-th word of ``line`` (where IOS puts its caret)."""
    starts = [m.start() for m in re.finditer(r"\S+", line)]
    return starts[index] if index < len(starts) else len(line)


def _acl_is_standard(number: str) -> bool:
    n = int(number)
    return 1 <= n <= 99 or 1300 <= n <= 1999


def _rank(node: Node) -> float | None:
    if node.kind == "sep":
        return None
    text = node.text
    if node.kind == "acl":
        return 29 + int(text.split()[1]) / 1e6
    for pattern, r in _RANKS:
        if pattern.match(text):
            return r
    return None


def _section_mode(header: str, parent_mode: str) -> str | None:
    """The sub-mode that ``header`` opens inside ``parent_mode`` (None: not a section header)."""
    if parent_mode == "config":
        if header.startswith("interface "):
            return "config-subif" if "." in header.split()[1] else "config-if"
        m = re.match(r"ip access-list (extended|standard) \S+$", header)
        if m:
            return "config-ext-nacl" if m.group(1) == "extended" else "config-std-nacl"
        if header.startswith("class-map "):
            return "config-cmap"
        if header.startswith("policy-map "):
            return "config-pmap"
        if header.startswith("route-map "):
            return "config-route-map"
        if header.startswith("line "):
            return "config-line"
        if header.startswith("router "):
            return "config-router"
        if header == "control-plane":
            return "config-cp"
        m = re.match(r"object-group (network|service) \S+$", header)
        if m:
            return "config-network-group" if m.group(1) == "network" else "config-service-group"
        if re.match(r"ipv6 access-list \S+$", header):
            return "config-ipv6-acl"
        return None
    if parent_mode == "config-pmap" and header.startswith("class "):
        return "config-pmap-c"
    return None


def mode_of(path: tuple[Node, ...]) -> str:
    """The IOS mode name (as in the prompt) of a configuration sub-mode path."""
    if not path:
        return "config"
    node = path[-1]
    if node.kind == "acl":
        return "config-std-nacl" if _acl_is_standard(node.text.split()[1]) else "config-ext-nacl"
    return node.mode or "config"


# --------------------------------------------------------------------------- the model


class IOSConfig:
    """A running configuration: parse IOS text, apply configuration commands, render it back."""

    def __init__(self, text: str = "") -> None:
        self.root: list[Node] = []
        self._parse(text)

    # ------------------------------------------------------------------ parse and render

    def _parse(self, text: str) -> None:
        lines = text.splitlines()
        i = 0
        # Skip the "show running-config" preamble.
        while i < len(lines) and (
            not lines[i].strip()
            or lines[i].startswith("Building configuration")
            or lines[i].startswith("Current configuration")
            or lines[i].startswith("Using ")
        ):
            i += 1
        stack: list[tuple[int, Node]] = []
        while i < len(lines):
            raw = lines[i].rstrip()
            i += 1
            if not raw.strip():
                continue
            indent = len(raw) - len(raw.lstrip(" "))
            s = raw.strip()
            if indent == 0:
                stack = []
                if s == "end":
                    break
                if s.startswith("!"):
                    self.root.append(Node(s, kind="sep"))
                    continue
                if s.startswith("banner "):
                    body, i = self._read_banner(s, lines, i)
                    self.root.append(Node(body, kind="banner"))
                    continue
                m = re.match(r"access-list (\d+) (.+)$", s)
                if m:
                    holder = self._numbered_acl(m.group(1), create=True, insert=False)
                    self._acl_append(holder, _norm(m.group(2)))
                    continue
                mode = _section_mode(s, "config")
                node = Node(s, kind="section" if mode else "line", mode=mode)
                self.root.append(node)
                stack = [(0, node)]
                continue
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if not stack:  # indented line without a parent: keep it as a top-level line
                self.root.append(Node(s))
                continue
            parent = stack[-1][1]
            parent_mode = parent.mode or "config-generic"
            if parent.kind == "line":
                parent.kind = "section"
            if parent_mode in ("config-ext-nacl", "config-std-nacl"):
                m = re.match(r"(\d+) (.+)$", s)
                if m:
                    self._acl_insert(parent, int(m.group(1)), _norm(m.group(2)))
                else:
                    self._acl_append(parent, _norm(s))
                continue
            mode = _section_mode(s, parent_mode)
            child = Node(s, kind="section" if mode else "line", mode=mode)
            parent.children.append(child)
            stack.append((indent, child))

    @staticmethod
    def _read_banner(first: str, lines: list[str], i: int) -> tuple[str, int]:
        """A banner from ``banner motd ^C`` to the closing delimiter, kept verbatim."""
        m = re.match(r"banner \S+ (\^C|\S)(.*)$", first)
        if not m:
            return first, i
        delim, rest = m.group(1), m.group(2)
        if delim in rest:
            return first, i
        body = [first]
        while i < len(lines):
            body.append(lines[i].rstrip("\r"))
            i += 1
            if delim in body[-1]:
                break
        return "\n".join(body), i

    def lines(self) -> list[str]:
        """The configuration as running-config lines (without preamble and ``end``)."""
        out: list[str] = []
        for node in self.root:
            if node.kind == "acl":
                out.extend(f"{node.text} {_fmt_ace(e.text)}" for e in node.children)
            elif node.kind == "banner":
                out.extend(node.text.split("\n"))
            else:
                out.append(node.text)
                self._render_children(node, 1, out)
        return out

    def _render_children(self, node: Node, depth: int, out: list[str]) -> None:
        is_acl = node.mode in ("config-ext-nacl", "config-std-nacl")
        for child in node.children:
            out.append(" " * depth + (_fmt_ace(child.text) if is_acl else child.text))
            self._render_children(child, depth + 1, out)

    def body(self) -> str:
        """running-config text from the first line to ``end`` (what IOS counts as its size)."""
        return "\n".join(self.lines() + ["end"]) + "\n"

    def running_config(self) -> str:
        """The text ``show running-config`` prints."""
        body = self.body()
        return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n{body}"

    @property
    def hostname(self) -> str:
        for node in self.root:
            if node.kind == "line" and node.text.startswith("hostname "):
                return node.text.split()[1]
        return "Router"

    def banner(self, kind: str = "motd") -> str | None:
        """The text of ``banner <kind>`` (without its delimiters), or None."""
        for node in self.root:
            if node.kind == "banner" and node.text.startswith(f"banner {kind} "):
                m = re.match(r"banner \S+ (\^C|\S)(.*)$", node.text, re.S)
                if not m:
                    return None
                delim, rest = m.group(1), m.group(2)
                return rest.split(delim)[0].strip("\n")
        return None

    # ------------------------------------------------------------------ queries

    def find_section(self, header: str) -> Node | None:
        for node in self.root:
            if node.kind == "section" and node.text == header:
                return node
        return None

    def access_lists(self) -> list[tuple[str, bool, list[tuple[int, str]]]]:
        """Every access list: (name, is_standard, [(seq, entry)]), in running-config order."""
        result = []
        for node in self.root:
            if node.kind == "acl":
                name = node.text.split()[1]
                result.append((name, _acl_is_standard(name), [(e.seq or 0, e.text) for e in node.children]))
            elif node.mode in ("config-ext-nacl", "config-std-nacl"):
                name = node.text.split()[3]
                result.append((name, node.mode == "config-std-nacl", [(e.seq or 0, e.text) for e in node.children]))
        return result

    def interfaces(self) -> list[Node]:
        return [n for n in self.root if n.mode in ("config-if", "config-subif")]

    def policy_map_users(self, name: str) -> list[str]:
        """Where policy-map ``name`` is attached (interfaces, control-plane, parent policies)."""
        users = []
        pat = re.compile(rf"service-policy (?:(?:input|output) )?{re.escape(name)}$")
        for node in self.root:
            for child in node.children:
                if pat.match(child.text):
                    users.append(node.text)
                for grandchild in child.children:
                    if pat.match(grandchild.text):
                        users.append(f"{node.text} / {child.text}")
        return users

    # ------------------------------------------------------------------ structure edits

    def _numbered_acl(self, number: str, *, create: bool, insert: bool = True) -> Node | None:
        header = f"access-list {number}"
        for node in self.root:
            if node.kind == "acl" and node.text == header:
                return node
        if not create:
            return None
        node = Node(header, kind="acl")
        if insert:
            self._insert_top(node)
        else:
            self.root.append(node)
        return node

    def _named_acl(self, name: str) -> Node | None:
        for node in self.root:
            if node.mode in ("config-ext-nacl", "config-std-nacl") and node.text.split()[3] == name:
                return node
        return None

    @staticmethod
    def _acl_append(acl: Node, text: str) -> bool:
        if any(e.text == text for e in acl.children):
            return False  # IOS ignores a duplicate entry
        if text.startswith("remark "):
            # Remarks take no sequence number: they stay attached to the entry that follows.
            acl.children.append(Node(text))
            return True
        last = max((e.seq or 0 for e in acl.children), default=0)
        acl.children.append(Node(text, seq=last + 10))
        return True

    @staticmethod
    def _acl_insert(acl: Node, seq: int, text: str) -> bool:
        entry = Node(text, seq=seq)
        for idx, e in enumerate(acl.children):
            if (e.seq or 0) > seq:
                acl.children.insert(idx, entry)
                return True
        acl.children.append(entry)
        return True

    def _insert_top(self, node: Node) -> None:
        """Insert a new top-level item where IOS would print it."""
        rank = _rank(node)
        if rank is None:
            # No idea where IOS would print it: at the end, before "end".
            self.root.append(node)
            if node.kind in ("section", "banner"):
                self.root.append(Node("!", kind="sep"))
            return
        after = None
        if rank is not None:
            for idx, other in enumerate(self.root):
                r = _rank(other)
                if r is not None and r <= rank:
                    after = idx
        if after is None:
            first = next(
                (i for i, o in enumerate(self.root) if (_rank(o) or 0) > (rank or 0)), len(self.root)
            )
            pos = first
        else:
            pos = after + 1
            # Keep a section's trailing "!" with it: insert after the separators that follow.
            if self.root[after].kind in ("section", "acl", "banner"):
                while pos < len(self.root) and self.root[pos].kind == "sep":
                    pos += 1
                    break
        self.root.insert(pos, node)
        if node.kind in ("section", "banner"):
            if pos + 1 >= len(self.root) or self.root[pos + 1].kind != "sep":
                self.root.insert(pos + 1, Node("!", kind="sep"))
            if pos > 0 and self.root[pos - 1].kind not in ("sep",):
                self.root.insert(pos, Node("!", kind="sep"))

    def _remove_top(self, node: Node) -> None:
        idx = self.root.index(node)
        del self.root[idx]
        # Two separators left side by side where a section went: keep one.
        if (
            node.kind in ("section", "banner")
            and 0 < idx < len(self.root)
            and self.root[idx - 1].kind == "sep"
            and self.root[idx].kind == "sep"
        ):
            del self.root[idx]

    @staticmethod
    def _replace_key(mode: str, text: str) -> tuple | None:
        for idx, pattern in enumerate(_REPLACE.get(mode, ())):
            m = pattern.match(text)
            if m:
                return (idx, m.groups())
        return None

    def _add_line(self, siblings: list[Node], mode: str, text: str) -> bool:
        """Add a line to a mode's lines, as IOS does: dedupe, replace, merge, drop ``no X``."""
        if any(n.text == text and n.kind != "sep" for n in siblings):
            return False
        if text in _DEFAULT_ON.get(mode, ()):
            # Turning a default-on feature back on removes its "no X" line; IOS shows no "X".
            hits = [n for n in siblings if n.text == "no " + text]
            for n in hits:
                siblings.remove(n)
            return bool(hits)
        if mode == "config-route-map":
            m = _MERGE.match(text)
            if m:
                for n in siblings:
                    n_m = _MERGE.match(n.text)
                    if n_m and n_m.group(1) == m.group(1):
                        have = n_m.group(2).split()
                        new = [w for w in m.group(2).split() if w not in have]
                        if not new:
                            return False
                        n.text = f"{n_m.group(1)} {' '.join(have + new)}"
                        return True
        key = self._replace_key(mode, text)
        replaced = [
            n
            for n in siblings
            if n.kind == "line"
            and (
                (key is not None and self._replace_key(mode, n.text) == key)
                # "ip address X" replaces "no ip address"
                or (n.text.startswith("no ") and (text == n.text[3:] or text.startswith(n.text[3:] + " ")))
            )
        ]
        if replaced:
            # Replace in place: the line keeps its position in the section.
            replaced[0].text = text
            for n in replaced[1:]:
                siblings.remove(n)
            return True
        node = Node(text)
        if siblings is self.root:
            self._insert_top(node)
        elif mode in ("config-if", "config-subif"):
            rank = _if_rank(text)
            pos = next((i for i, n in enumerate(siblings) if _if_rank(n.text) > rank), len(siblings))
            siblings.insert(pos, node)
        else:
            siblings.append(node)
        return True

    def _remove_lines(self, siblings: list[Node], mode: str, target: str, default: bool = False) -> bool:
        """``no <target>``: remove the exact line, else every line it is a word-prefix of.

        ``default <target>`` removes them too, and a ``no <target>`` line, without leaving one.
        """
        exact = [n for n in siblings if n.text == target and n.kind in ("line", "section")]
        hits = exact or [
            n for n in siblings if n.kind in ("line", "section") and n.text.startswith(target + " ")
        ]
        if default:
            hits += [n for n in siblings if n.kind == "line" and n.text == "no " + target]
            for n in hits:
                if siblings is self.root:
                    self._remove_top(n)
                else:
                    siblings.remove(n)
            return bool(hits)
        if hits and siblings is not self.root and target in _DEFAULT_ON.get(mode, ()):
            # "no ip address" takes the place of the address line it removes.
            hits[0].text, hits[0].kind, hits[0].children = "no " + target, "line", []
            for n in hits[1:]:
                siblings.remove(n)
            return True
        for n in hits:
            if siblings is self.root:
                self._remove_top(n)
            else:
                siblings.remove(n)
        if target in _DEFAULT_ON.get(mode, ()):
            # A default-on feature turned off is shown as "no X" (e.g. "no ip domain lookup").
            return self._add_line(siblings, mode, "no " + target) or bool(hits)
        return bool(hits)

    # ------------------------------------------------------------------ commands

    def apply(self, path: tuple[Node, ...], line: str) -> Outcome:
        """Apply one configuration-mode command typed in sub-mode ``path``.

        The command is tried in the innermost mode first, then in each parent (IOS falls back
        the same way, and the mode changes to the one that accepted the command).
        """
        words = line.split()
        if not words:
            return Outcome("ok", path)
        # A sub-mode path may hold nodes another session has deleted: cut it there.
        live: list[Node] = []
        siblings = self.root
        for node in path:
            if node not in siblings:
                break
            live.append(node)
            siblings = node.children
        path = tuple(live)
        for depth in range(len(path), 0, -1):
            result = self._apply_sub(path[:depth], words)
            if result is not None:
                return result
        return self._apply_global(words, line)

    # -- sub-modes

    def _apply_sub(self, path: tuple[Node, ...], words: list[str]) -> Outcome | None:
        node = path[-1]
        mode = mode_of(path)
        vocab = _MODE_WORDS.get(mode)
        if vocab is None:
            return None
        default = _is_default(words[0])
        negate = words[0].lower() == "no" or default
        rest = words[1:] if negate else words
        if not rest:
            return Outcome("incomplete", path, output="% Incomplete command.\n") if negate else None
        if mode in ("config-ext-nacl", "config-std-nacl"):
            return self._apply_acl(path, node, negate, rest)
        try:
            word = expand_keyword(rest[0], vocab)
        except Ambiguous:
            return None
        if word is None and mode in ("config-network-group", "config-service-group") and rest[0][:1].isdigit():
            word = rest[0]
        if word is None:
            return None
        if mode in ("config-if", "config-subif") and word == "ip":
            if len(rest) < 2 or rest[1] not in _IF_IP_WORDS:
                return None  # "ip route ...", "ip access-list ...": global commands
        text = _norm(" ".join([word] + rest[1:]))
        if mode == "config-pmap" and word == "class":
            if len(rest) < 2:
                return Outcome("incomplete", path, output="% Incomplete command.\n")
            header = f"class {rest[1]}"
            existing = next((c for c in node.children if c.text == header), None)
            if negate:
                if existing is not None:
                    node.children.remove(existing)
                return Outcome("ok", path, changed=existing is not None)
            if existing is None:
                existing = Node(header, kind="section", mode="config-pmap-c")
                node.children.append(existing)
            return Outcome("ok", path + (existing,), changed=True)
        if negate:
            changed = self._remove_lines(node.children, mode, text, default=default)
            return Outcome("ok", path, changed=changed)
        changed = self._add_line(node.children, mode, text)
        if node.kind == "line":
            node.kind = "section"
        return Outcome("ok", path, changed=changed)

    def _apply_acl(self, path: tuple[Node, ...], acl: Node, negate: bool, rest: list[str]) -> Outcome | None:
        first = rest[0].lower()
        if first.isdigit():
            seq = int(first)
            if negate:
                hit = [e for e in acl.children if e.seq == seq]
                for e in hit:
                    acl.children.remove(e)
                return Outcome("ok", path, changed=bool(hit))
            if len(rest) < 2:
                return Outcome("incomplete", path, output="% Incomplete command.\n")
            try:
                action = expand_keyword(rest[1], _ACL_WORDS)
            except Ambiguous:
                action = None
            if action is None:
                return Outcome("invalid", path, error_col=-2)
            if any(e.seq == seq for e in acl.children):
                return Outcome("refused", path, output="% Duplicate sequence number\n")
            self._acl_insert(acl, seq, _norm(" ".join([action] + rest[2:])))
            return Outcome("ok", path, changed=True)
        try:
            action = expand_keyword(first, _ACL_WORDS)
        except Ambiguous:
            return None
        if action is None:
            return None
        text = _norm(" ".join([action] + rest[1:]))
        if negate:
            hit = [e for e in acl.children if e.text == text]
            for e in hit:
                acl.children.remove(e)
            return Outcome("ok", path, changed=bool(hit))
        return Outcome("ok", path, changed=self._acl_append(acl, text))

    # -- global configuration

    def _apply_global(self, words: list[str], line: str) -> Outcome:
        default = _is_default(words[0])
        negate = words[0].lower() == "no" or default
        rest = words[1:] if negate else words
        if not rest:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        col = _col(line, 1 if negate else 0)
        try:
            word = expand_keyword(rest[0], _GLOBAL_WORDS)
        except Ambiguous:
            return Outcome("ambiguous", (), output=f'% Ambiguous command:  "{line.strip()}"\n')
        if word is None or (negate and word in ("no", "default")):
            return Outcome("invalid", (), error_col=col)
        args = rest[1:]
        if default and word == "interface" and args:
            # "default interface X": the interface keeps only its name.
            node = self.find_section(f"interface {expand_interface(''.join(args))}")
            if node is not None and node.children:
                node.children.clear()
                return Outcome("ok", (), changed=True)
            return Outcome("ok", ())
        handler = getattr(self, "_g_" + word.replace("-", "_"), None)
        if handler is not None:
            return handler(negate, args, line)
        text = _norm(" ".join([word] + args))
        if word == "ip" and args[:1] and args[0].lower() == "access-list":
            return self._g_ip_access_list(negate, args[1:], line)
        section = _section_mode(text, "config") if word in ("object-group", "ipv6") else None
        if section is not None:
            # `object-group network|service NAME`, `ipv6 access-list NAME`: enter (or remove) the section.
            if negate:
                node = self.find_section(text)
                if node is not None:
                    self._remove_top(node)
                return Outcome("ok", (), changed=node is not None)
            return self._enter(text, section)
        if negate:
            return Outcome("ok", (), changed=self._remove_lines(self.root, "config", text, default=default))
        if len(args) == 0 and word in ("ip", "access-list", "interface", "username", "logging"):
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        return Outcome("ok", (), changed=self._add_line(self.root, "config", text))

    def _enter(self, header: str, mode: str) -> Outcome:
        node = self.find_section(header)
        changed = False
        if node is None:
            node = Node(header, kind="section", mode=mode)
            self._insert_top(node)
            changed = True
        return Outcome("ok", (node,), changed=changed)

    def _g_interface(self, negate: bool, args: list[str], line: str) -> Outcome:
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        name = expand_interface("".join(args))
        header = f"interface {name}"
        if negate:
            node = self.find_section(header)
            if node is None:
                return Outcome("ok", ())
            if not name.startswith(_VIRTUAL_IF) and "." not in name:
                # Physical interfaces cannot be deleted.
                return Outcome("invalid", (), error_col=line.find(args[0]))
            self._remove_top(node)
            return Outcome("ok", (), changed=True)
        return self._enter(header, "config-subif" if "." in name else "config-if")

    def _g_access_list(self, negate: bool, args: list[str], line: str) -> Outcome:
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        number = args[0]
        if not number.isdigit():
            return Outcome("invalid", (), error_col=line.find(number))
        if negate:
            # IOS: "no access-list N <anything>" deletes the whole numbered list.
            node = self._numbered_acl(number, create=False)
            if node is not None:
                self._remove_top(node)
            return Outcome("ok", (), changed=node is not None)
        if len(args) < 2:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        try:
            action = expand_keyword(args[1], _ACL_WORDS)
        except Ambiguous:
            action = None
        if action is None:
            return Outcome("invalid", (), error_col=line.find(args[1], line.find(number) + len(number)))
        holder = self._numbered_acl(number, create=True)
        assert holder is not None
        changed = self._acl_append(holder, _norm(" ".join([action] + args[2:])))
        return Outcome("ok", (), changed=changed)

    def _g_ip_access_list(self, negate: bool, args: list[str], line: str) -> Outcome:
        if len(args) < 2:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        kind = args[0].lower()
        if kind not in ("extended", "standard"):
            return Outcome("invalid", (), error_col=line.find(args[0]))
        name = args[1]
        if name.isdigit():
            node = self._numbered_acl(name, create=False)
            if negate:
                if node is not None:
                    self._remove_top(node)
                return Outcome("ok", (), changed=node is not None)
            if node is None:
                node = self._numbered_acl(name, create=True)
                assert node is not None
            return Outcome("ok", (node,), changed=False)
        existing = self._named_acl(name)
        if negate:
            if existing is not None:
                self._remove_top(existing)
            return Outcome("ok", (), changed=existing is not None)
        if existing is not None:
            return Outcome("ok", (existing,))
        return self._enter(f"ip access-list {kind} {name}", "config-ext-nacl" if kind == "extended" else "config-std-nacl")

    def _g_class_map(self, negate: bool, args: list[str], line: str) -> Outcome:
        match_type = None
        if args and args[0] in ("match-any", "match-all"):
            match_type, args = args[0], args[1:]
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        name = args[0]
        existing = next(
            (n for n in self.root if n.mode == "config-cmap" and n.text.split()[-1] == name), None
        )
        if negate:
            if existing is not None:
                self._remove_top(existing)
            return Outcome("ok", (), changed=existing is not None)
        header = f"class-map {match_type or 'match-all'} {name}"
        if existing is not None:
            if match_type and existing.text != header:
                existing.text = header
                return Outcome("ok", (existing,), changed=True)
            return Outcome("ok", (existing,))
        return self._enter(header, "config-cmap")

    def _g_policy_map(self, negate: bool, args: list[str], line: str) -> Outcome:
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        name = args[-1]
        header = f"policy-map {name}"
        if negate:
            node = self.find_section(header)
            if node is None:
                return Outcome("ok", ())
            if self.policy_map_users(name):
                # IOS refuses to delete an attached policy-map.
                return Outcome("refused", (), output=f"Policy map {name} is being used\n")
            self._remove_top(node)
            return Outcome("ok", (), changed=True)
        return self._enter(header, "config-pmap")

    def _g_route_map(self, negate: bool, args: list[str], line: str) -> Outcome:
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        name = args[0]
        action = args[1].lower() if len(args) > 1 else None
        if action is not None and action not in ("permit", "deny"):
            return Outcome("invalid", (), error_col=line.find(args[1], line.find(name) + len(name)))
        seq = args[2] if len(args) > 2 else None
        if seq is not None and not seq.isdigit():
            return Outcome("invalid", (), error_col=line.rfind(seq))
        clauses = [n for n in self.root if n.mode == "config-route-map" and n.text.split()[1] == name]
        if negate:
            hits = clauses if seq is None else [c for c in clauses if c.text.split()[3] == seq]
            for c in hits:
                self._remove_top(c)
            return Outcome("ok", (), changed=bool(hits))
        if seq is None:
            if len(clauses) > 1:
                return Outcome("refused", (), output="% Please specify the entry by its sequence\n")
            seq = clauses[0].text.split()[3] if clauses else "10"
        header = f"route-map {name} {action or 'permit'} {seq}"
        for c in clauses:
            if c.text.split()[3] == seq:
                changed = c.text != header
                c.text = header
                return Outcome("ok", (c,), changed=changed)
        node = Node(header, kind="section", mode="config-route-map")
        # Keep the clauses of one route-map together and in sequence order.
        before = [c for c in clauses if int(c.text.split()[3]) < int(seq)]
        if before:
            idx = self.root.index(before[-1]) + 1
            if idx < len(self.root) and self.root[idx].kind == "sep":
                idx += 1
            self.root[idx:idx] = [node, Node("!", kind="sep")]
        elif clauses:
            idx = self.root.index(clauses[0])
            self.root[idx:idx] = [node, Node("!", kind="sep")]
        else:
            self._insert_top(node)
        return Outcome("ok", (node,), changed=True)

    def _g_line(self, negate: bool, args: list[str], line: str) -> Outcome:
        if negate or not args:
            return Outcome("invalid" if negate else "incomplete", (), output="" if negate else "% Incomplete command.\n")
        return self._enter(_norm("line " + " ".join(args)), "config-line")

    def _g_router(self, negate: bool, args: list[str], line: str) -> Outcome:
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        header = _norm("router " + " ".join(args))
        if negate:
            node = self.find_section(header)
            if node is not None:
                self._remove_top(node)
            return Outcome("ok", (), changed=node is not None)
        return self._enter(header, "config-router")

    def _g_control_plane(self, negate: bool, args: list[str], line: str) -> Outcome:
        if negate:
            return Outcome("invalid", (), error_col=line.find("control"))
        return self._enter("control-plane", "config-cp")

    def _g_hostname(self, negate: bool, args: list[str], line: str) -> Outcome:
        if negate:
            args = ["Router"]
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        return Outcome("ok", (), changed=self._add_line(self.root, "config", f"hostname {args[0]}"))

    def _g_banner(self, negate: bool, args: list[str], line: str) -> Outcome:
        """``no banner motd``; setting a banner (multi-line input) goes through ``set_banner``."""
        if not args:
            return Outcome("incomplete", (), output="% Incomplete command.\n")
        if negate:
            node = next(
                (n for n in self.root if n.kind == "banner" and n.text.startswith(f"banner {args[0]} ")), None
            )
            if node is not None:
                self._remove_top(node)
            return Outcome("ok", (), changed=node is not None)
        m = re.match(r"\s*banner\s+(\S+)\s+(\^C|\S)(.*)$", line)
        if m and m.group(2) in m.group(3):
            self.set_banner(m.group(1), m.group(3).split(m.group(2))[0], m.group(2))
            return Outcome("ok", (), changed=True)
        return Outcome("incomplete", (), output="% Incomplete command.\n")

    def set_banner(self, kind: str, text: str, delim: str = "^C") -> None:
        """Set ``banner <kind>`` to ``text`` (running-config shows it between ``^C``)."""
        node = Node(f"banner {kind} ^C{text}^C" if "\n" not in text else f"banner {kind} ^C\n{text}\n^C", kind="banner")
        if "\n" not in text:
            node.text = f"banner {kind} ^C{text}^C"
        for idx, other in enumerate(self.root):
            if other.kind == "banner" and other.text.startswith(f"banner {kind} "):
                self.root[idx] = node
                return
        self._insert_top(node)


# --------------------------------------------------------------------------- packet semantics
#
# What the simulated router does with one packet, read straight off the configuration tree: an
# implementation of its own (it shares no code with the collection, which it is used to check;
# tests/lab/test_ios_semantics_differential.py compares the two on random configurations).
# The sources, per rule:
#   * order of operations: Cisco document 22141 ("QoS Packet Marking ... order of operations"):
#     inbound access list, input service-policy (classify, mark, drop), policy routing (which
#     sees the byte as marked: Cisco document 27842), routing; outbound access list, output
#     service-policy.
#   * access lists: Cisco IOS Security Command Reference, `access-list (IP extended)`, `permit`
#     (first match wins, implicit deny at the end; wildcard bits set = "don't care", so a
#     non-contiguous wildcard tests exactly the bits it clears; `dscp` the upper six bits,
#     `precedence` the upper three, `tos` the four RFC 1349 bits; `eq` takes up to ten ports,
#     `neq`/`lt`/`gt`/`range`); an interface naming a list that does not exist passes everything.
#   * object groups: Cisco IOS XE Security Configuration Guide, "Object Groups for ACLs": network
#     groups hold hosts, subnets given with a subnet mask, ranges, any, nested groups; service
#     groups hold tcp/udp/tcp-udp with `source` and destination port operators, icmp messages,
#     protocols, nested groups; an entry with a group matches when any member does.
#   * IPv6: IOS IPv6 configuration guide, "IPv6 Access Control Lists" (`ipv6 access-list`,
#     `ipv6 traffic-filter`, `sequence`, implicit `permit icmp any any nd-na`/`nd-ns` before the
#     implicit `deny ipv6 any any`), "IPv6 Policy-Based Routing" (`ipv6 policy route-map`,
#     `match ipv6 address`, `set ipv6 next-hop`).
#   * MQC: Cisco IOS QoS Command Reference: class-map `match-all` (the default) / `match-any`,
#     `match not`; `match dscp` matches IPv4 and IPv6, `match ip dscp` IPv4 only (`match dscp`
#     usage guidelines), `match precedence` / `match ip precedence` alike; `set dscp` and
#     `set precedence` mark both families, `set ip dscp` / `set ip precedence` IPv4 only; a DSCP
#     write keeps the two ECN bits (RFC 3168), a precedence write the five bits below it.
#   * policy routing: a route-map clause with no match line matches every packet; `match ip
#     address A B` any of the lists; a deny clause routes normally; `set interface Null0` discards,
#     `set ip next-hop` / `set ipv6 next-hop` policy-routes; no clause matched: routed normally.

_DSCP_NAMES = {"default": 0, "ef": 46, **{f"cs{n}": 8 * n for n in range(8)},
               **{f"af{x}{y}": 8 * x + 2 * y for x in range(1, 5) for y in range(1, 4)}}
_PREC_NAMES = {"routine": 0, "priority": 1, "immediate": 2, "flash": 3, "flash-override": 4,
               "critical": 5, "internet": 6, "network": 7}
_TOS_NAMES = {"normal": 0, "min-monetary-cost": 1, "max-reliability": 2, "max-throughput": 4, "min-delay": 8}
_PORT_NAMES = {"www": 80, "smtp": 25, "domain": 53, "telnet": 23, "ftp": 21, "ftp-data": 20, "bgp": 179,
               "pop3": 110, "ntp": 123, "snmp": 161, "tftp": 69, "syslog": 514, "isakmp": 500}
_PROTO_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "gre": 47, "esp": 50, "ahp": 51, "ospf": 89, "eigrp": 88,
                "pim": 103, "sctp": 132}
_ICMP4 = {"echo": (8, None), "echo-reply": (0, None), "unreachable": (3, None), "time-exceeded": (11, None),
          "port-unreachable": (3, 3), "packet-too-big": (3, 4), "redirect": (5, None)}
_ICMP6 = {"echo-request": (128, None), "echo-reply": (129, None), "nd-ns": (135, None), "nd-na": (136, None),
          "packet-too-big": (2, None), "time-exceeded": (3, None), "unreachable": (1, None)}


def _value(word: str, names: dict[str, int]) -> int:
    return int(word) if word.isdigit() else names[word.lower()]


def _ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


@dataclass(frozen=True)
class Packet:
    """One packet for `IOSConfig.forward`: family 4 or 6, addresses as text, tos the DS byte."""

    in_interface: str
    out_interface: str
    family: int
    protocol: int
    src: str
    dst: str
    tos: int
    sport: int = 0
    dport: int = 0
    icmp_type: int | None = None
    length: int = 0  # the IP total length, what byte counters add up (0: not counted in bytes)
    url: str | None = None  # the URL of the HTTP request the packet carries (None: no HTTP request)


@dataclass
class Counters:
    """What the router counted, keyed as the show commands print it (see `forward(..., counters)`).

    ace: (list, sequence) -> matches (`show access-lists`: the entry that decided, in filtering and
    in policy routing); route_map: (route-map, sequence) -> [packets, bytes] (`show route-map`,
    "Policy routing matches"); classes: (interface, input|output, policy-map, class) -> [packets,
    bytes] (`show policy-map interface`, a class's own counter); matches: the same + the index of
    the match line in a match-any class -> [packets, bytes] (the line that classified it);
    marked: the same + the set as IOS prints it (`dscp 1`) -> packets marked; policy_routed:
    interface -> [packets, bytes] policy-routed (matched a permit clause that set something).
    """

    ace: dict[tuple[str, int], int] = field(default_factory=dict)
    route_map: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    classes: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    matches: dict[tuple[str, str, str, str, int], list[int]] = field(default_factory=dict)
    marked: dict[tuple[str, str, str, str, str], int] = field(default_factory=dict)

    def clear(self) -> None:
        for table in (self.ace, self.route_map, self.classes, self.matches, self.marked):
            table.clear()

    @staticmethod
    def _add(table: dict[Any, list[int]], key: Any, length: int) -> None:
        row = table.setdefault(key, [0, 0])
        row[0] += 1
        row[1] += length


class _Refuse(Exception):
    """A configuration construct this model does not evaluate (the test generator avoids them)."""


def _port_test(words: list[str], i: int) -> tuple[Any, int]:
    """A port operator at words[i] -> (test(port) -> bool, next index); (None, i) if there is none."""
    op = words[i] if i < len(words) else ""
    if op not in ("eq", "neq", "lt", "gt", "range"):
        return None, i
    if op == "range":
        lo, hi = _value(words[i + 1], _PORT_NAMES), _value(words[i + 2], _PORT_NAMES)
        return (lambda p: lo <= p <= hi), i + 3
    j = i + 1
    values = []
    while j < len(words) and (words[j].isdigit() or words[j] in _PORT_NAMES) and (op in ("eq", "neq") or not values):
        values.append(_value(words[j], _PORT_NAMES))
        j += 1
    if op == "eq":
        return (lambda p: p in values), j
    if op == "neq":
        return (lambda p: p not in values), j
    if op == "lt":
        return (lambda p: p < values[0]), j
    return (lambda p: p > values[0]), j


class _Semantics:
    """The packet semantics of one configuration (see the block comment above)."""

    def __init__(self, cfg: "IOSConfig", counters: Counters | None = None) -> None:
        self.cfg = cfg
        self.counters = counters
        self.acl4_seq: dict[str, list[int]] = {}
        self.acl4: dict[str, list[str]] = {}
        self.acl6: dict[str, list[str]] = {}
        self.groups: dict[str, tuple[str, list[str]]] = {}
        self.class_maps: dict[str, tuple[bool, list[str]]] = {}
        self.policies: dict[str, list[tuple[str, list[str]]]] = {}
        self.route_maps: dict[str, list[tuple[int, bool, list[str]]]] = {}
        self.interfaces: dict[str, list[str]] = {}
        for name, _standard, entries in cfg.access_lists():
            self.acl4[name] = [text for _seq, text in entries]
            self.acl4_seq[name] = [seq for seq, _text in entries]
        for node in cfg.root:
            words = node.text.split()
            if words[:2] == ["ipv6", "access-list"] and len(words) == 3:
                self.acl6[words[2]] = [c.text for c in node.children]
            elif words[:1] == ["object-group"] and len(words) == 3:
                self.groups[words[2]] = (words[1], [c.text for c in node.children])
            elif words[:1] == ["class-map"]:
                match_any = "match-any" in words
                self.class_maps[words[-1]] = (not match_any, [c.text for c in node.children])
            elif words[:1] == ["policy-map"]:
                self.policies[words[-1]] = [(c.text.split()[-1], [g.text for g in c.children]) for c in node.children
                                            if c.text.startswith("class ")]
            elif words[:1] == ["route-map"]:
                seq = int(words[3]) if len(words) > 3 else 10
                clauses = self.route_maps.setdefault(words[1], [])
                clauses.append((seq, len(words) < 3 or words[2] == "permit", [c.text for c in node.children]))
                clauses.sort(key=lambda c: c[0])
            elif words[:1] == ["interface"]:
                self.interfaces[expand_interface(" ".join(words[1:]))] = [c.text for c in node.children]

    # -- addresses and services
    def _network_members(self, name: str, depth: int = 0) -> list[tuple[int, int]]:
        kind, lines = self.groups[name]
        if kind != "network" or depth > 16:
            raise _Refuse(f"object-group {name}")
        out = []
        for line in lines:
            w = line.split()
            if w[0] == "host":
                out.append((_ip(w[1]), 0))
            elif w[0] == "range":
                lo, hi = _ip(w[1]), _ip(w[2])
                out.extend((a, 0) for a in range(lo, hi + 1))
            elif w[0] == "any":
                out.append((0, 0xFFFFFFFF))
            elif w[0] == "group-object":
                out.extend(self._network_members(w[1], depth + 1))
            elif w[0] == "description":
                continue
            elif len(w) == 2 and "." in w[1]:
                mask = _ip(w[1])
                out.append((_ip(w[0]) & mask, ~mask & 0xFFFFFFFF))
            else:
                raise _Refuse(line)
        return out

    def _address(self, words: list[str], i: int, family: int) -> tuple[Any, int]:
        """Address at words[i] -> (test(address text) -> bool, next index)."""
        word = words[i]
        if word == "any":
            return (lambda a: True), i + 1
        if word == "host":
            target = _ip(words[i + 1])
            return (lambda a: _ip(a) == target), i + 2
        if word == "object-group":
            members = self._network_members(words[i + 1])
            return (lambda a: any((_ip(a) & ~w) == (n & ~w) for n, w in members)), i + 2
        if family == 6:
            net, length = word.split("/")
            shift = 128 - int(length)
            return (lambda a: _ip(a) >> shift == _ip(net) >> shift), i + 1
        net, wild = _ip(word), _ip(words[i + 1])
        return (lambda a: (_ip(a) & ~wild & 0xFFFFFFFF) == (net & ~wild & 0xFFFFFFFF)), i + 2

    def _services(self, name: str, depth: int = 0) -> list[Any]:
        kind, lines = self.groups[name]
        if kind != "service" or depth > 16:
            raise _Refuse(f"object-group {name}")
        out: list[Any] = []
        for line in lines:
            w = line.split()
            if w[0] == "group-object":
                out.extend(self._services(w[1], depth + 1))
            elif w[0] == "description":
                continue
            elif w[0] in ("tcp", "udp", "tcp-udp"):
                protos = {"tcp": (6,), "udp": (17,), "tcp-udp": (6, 17)}[w[0]]
                i = 1
                src_test = dst_test = None
                if i < len(w) and w[i] == "source":
                    src_test, i = _port_test(w, i + 1)
                dst_test, i = _port_test(w, i)
                out.append(lambda p, protos=protos, s=src_test, d=dst_test: p.protocol in protos
                           and (s is None or s(p.sport)) and (d is None or d(p.dport)))
            elif w[0] == "icmp":
                icmp = _ICMP4[w[1]] if len(w) > 1 else None
                out.append(lambda p, icmp=icmp: p.protocol == 1 and (icmp is None or p.icmp_type == icmp[0]))
            else:
                proto = _value(w[0], _PROTO_NAMES)
                out.append(lambda p, proto=proto: p.protocol == proto)
        return out

    # -- access lists
    def _entry(self, text: str, p: Packet, standard: bool) -> str | None:
        """'permit' / 'deny' if the entry matches the packet, else None."""
        w = text.split()
        if w[0] in ("remark",):
            return None
        action = w[0]
        if standard:
            test, _i = self._address(w, 1, 4) if w[1] in ("any", "host") or len(w) > 2 else (
                (lambda a, t=_ip(w[1]): _ip(a) == t), 2)
            return action if test(p.src) else None
        if p.family == 6 and w[-2:-1] == ["sequence"]:
            w = w[:-2]
        proto_word = w[1]
        i = 2
        if proto_word == "object-group":
            services = self._services(w[2])
            i = 3
            proto_ok = any(s(p) for s in services)
        elif proto_word in ("ip", "ipv6"):
            proto_ok = True
        else:
            number = 58 if (p.family == 6 and proto_word == "icmp") else _value(proto_word, _PROTO_NAMES)
            proto_ok = p.protocol == number
        ports = proto_word in ("tcp", "udp")
        src, i = self._address(w, i, p.family)
        sport = dport = None
        if ports:
            sport, i = _port_test(w, i)
        dst, i = self._address(w, i, p.family)
        if ports:
            dport, i = _port_test(w, i)
        ok = proto_ok and src(p.src) and dst(p.dst)
        ok = ok and (sport is None or sport(p.sport)) and (dport is None or dport(p.dport))
        if proto_word == "icmp" and i < len(w) and not w[i].isdigit() and w[i] not in ("dscp", "precedence", "tos", "log"):
            names = _ICMP6 if p.family == 6 else _ICMP4
            ok = ok and p.icmp_type == names[w[i]][0]
            i += 1
        while i < len(w):
            key = w[i]
            if key == "dscp":
                ok = ok and (p.tos >> 2) == _value(w[i + 1], _DSCP_NAMES)
            elif key == "precedence":
                ok = ok and (p.tos >> 5) == _value(w[i + 1], _PREC_NAMES)
            elif key == "tos":
                ok = ok and ((p.tos >> 1) & 0xF) == _value(w[i + 1], _TOS_NAMES)
            elif key == "log":
                i += 1
                continue
            else:
                raise _Refuse(text)
            i += 2
        return action if ok else None

    def _count_ace(self, name: str, seq: int, count: bool) -> None:
        if count and self.counters is not None:
            self.counters.ace[(name, seq)] = self.counters.ace.get((name, seq), 0) + 1

    def acl_permits(self, name: str, p: Packet, filtering: bool, count: bool = False) -> bool | None:
        """True permit, False deny (implicit included); None: no such list.  `count`: the deciding
        entry's match counter counts the packet (an interface filter, a policy-routing match)."""
        if p.family == 6:
            entries = self.acl6.get(name)
            if entries is None:
                return None
            seq = 0
            for text in entries:
                w = text.split()
                seq = int(w[1]) if w[0] == "sequence" else seq + 10
                if w[0] == "sequence":
                    text = " ".join(w[2:])
                hit = self._entry(text, p, False)
                if hit:
                    self._count_ace(name, seq, count)
                    return hit == "permit"
            if filtering and p.protocol == 58 and p.icmp_type in (135, 136):
                return True  # the implicit neighbor-discovery permits
            return False
        entries = self.acl4.get(name)
        if entries is None:
            return None
        standard = name.isdigit() and (1 <= int(name) <= 99 or 1300 <= int(name) <= 1999)
        if not name.isdigit():
            node = next((n for n in self.cfg.root if n.mode in ("config-ext-nacl", "config-std-nacl")
                         and n.text.split()[3] == name), None)
            standard = node is not None and node.mode == "config-std-nacl"
        for seq, text in zip(self.acl4_seq.get(name, []), entries):
            hit = self._entry(text, p, standard)
            if hit:
                self._count_ace(name, seq, count)
                return hit == "permit"
        return False

    # -- MQC
    def class_matches(self, name: str, p: Packet, byte: int, depth: int = 0) -> bool:
        if name == "class-default":
            return True
        match_all, lines = self.class_maps[name]
        results = [self._match_line(line, p, byte, depth) for line in lines]
        return all(results) if match_all else any(results)

    def _match_line(self, line: str, p: Packet, byte: int, depth: int = 0) -> bool:
        """One `match` line of a class-map."""
        w = line.split()[1:]
        negate = w[0] == "not"
        if negate:
            w = w[1:]
        ipv4_only = w[0] == "ip"
        if ipv4_only:
            w = w[1:]
        if w[0] == "dscp":
            hit = (not ipv4_only or p.family == 4) and (byte >> 2) in [_value(v, _DSCP_NAMES) for v in w[1:]]
        elif w[0] == "precedence":
            hit = (not ipv4_only or p.family == 4) and (byte >> 5) in [_value(v, _PREC_NAMES) for v in w[1:]]
        elif w[0] == "access-group":
            acl = w[2] if w[1] == "name" else w[1]
            # A list of the other family matches no packet of this one.
            hit = bool(self.acl_permits(acl, p, False)) if acl in (self.acl6 if p.family == 6 else self.acl4) else False
        elif w[0] == "any":
            hit = True
        elif w[0] == "class-map":
            hit = self.class_matches(w[1], p, byte, depth + 1)
        elif w[:3] == ["protocol", "http", "url"] and len(w) == 4:
            # NBAR (Cisco IOS QoS Command Reference, `match protocol http`): the URL of an HTTP
            # request, `*` and `?` as wildcards, case-insensitive. A packet without an HTTP
            # request (every SYN/ACK) never matches.
            hit = p.protocol == 6 and p.url is not None and fnmatch.fnmatch(p.url.lower(), w[3].strip('"').lower())
        else:
            raise _Refuse(line)
        return hit != negate

    def _count_class(self, where: tuple[str, str] | None, name: str, cls: str, p: Packet, byte: int) -> None:
        """A class's counter and, in a match-any class, the counter of the match line that classified it."""
        if self.counters is None or where is None:
            return
        key = (where[0], where[1], name, cls)
        Counters._add(self.counters.classes, key, p.length)
        if cls == "class-default" or cls not in self.class_maps:
            return
        match_all, lines = self.class_maps[cls]
        if match_all:
            return  # IOS prints per-line counters under match-any classes only
        for index, line in enumerate(lines):
            if self._match_line(line, p, byte):
                Counters._add(self.counters.matches, key + (index,), p.length)
                return

    def policy(self, name: str, p: Packet, byte: int, where: tuple[str, str] | None = None) -> tuple[str | None, int]:
        """Run a policy-map: ('dropped' or None, the byte after marking).  `where`: (interface,
        input|output) the policy is attached to, for its counters."""
        classes = self.policies[name]
        for cls, actions in classes + [("class-default", [])]:
            if not self.class_matches(cls, p, byte):
                continue
            self._count_class(where, name, cls, p, byte)
            for action in actions:
                w = action.split()
                if w[0] == "drop":
                    return "dropped", byte
                if w[0] == "set":
                    ipv4_only = w[1] == "ip"
                    field, value = (w[2], w[3]) if ipv4_only else (w[1], w[2])
                    if ipv4_only and p.family == 6:
                        continue
                    if field == "dscp":
                        byte = (_value(value, _DSCP_NAMES) << 2) | (byte & 0x03)
                    elif field == "precedence":
                        byte = (_value(value, _PREC_NAMES) << 5) | (byte & 0x1F)
                    else:
                        raise _Refuse(action)
                    if self.counters is not None and where is not None:
                        key = (where[0], where[1], name, cls, f"{field} {value}")
                        self.counters.marked[key] = self.counters.marked.get(key, 0) + 1
                elif w[0] in ("bandwidth", "priority", "shape"):
                    continue
                else:
                    raise _Refuse(action)
            return None, byte
        return None, byte

    def route_map(self, name: str, p: Packet, byte: int) -> str | None:
        """Policy routing: 'null-routed', 'policy-routed', or None (routed normally)."""
        family_word = "ipv6" if p.family == 6 else "ip"
        for seq, permit, lines in self.route_maps.get(name, []):
            matched = True
            for line in lines:
                w = line.split()
                if w[0] != "match":
                    continue
                if w[1:3] == [family_word, "address"]:
                    q = dataclasses.replace(p, tos=byte)
                    matched = matched and any(self.acl_permits(acl, q, False, count=True) is not False
                                              for acl in w[3:])
                elif w[1:3] in (["ip", "address"], ["ipv6", "address"]):
                    matched = False  # a list of the other family: no packet of this one matches
                else:
                    raise _Refuse(line)
            if not matched:
                continue
            if self.counters is not None:
                Counters._add(self.counters.route_map, (name, seq), p.length)
            if not permit:
                return None
            sets = [line.split() for line in lines if line.startswith("set ")]
            for w in sets:
                if w[1:3] == [family_word, "next-hop"]:
                    return "policy-routed"
            for w in sets:
                if w[1] == "interface":
                    return "null-routed" if w[2].lower().startswith("null") else "policy-routed"
            return None
        return None

    # -- the router
    def forward(self, p: Packet) -> tuple[str, int]:
        """(fate, DS byte leaving) of a packet entering on `in_interface`, routed to `out_interface`."""
        byte = p.tos
        inside = self.interfaces.get(expand_interface(p.in_interface), [])
        outside = self.interfaces.get(expand_interface(p.out_interface), [])
        filter_word = ("ipv6", "traffic-filter") if p.family == 6 else ("ip", "access-group")
        policy_word = ("ipv6", "policy") if p.family == 6 else ("ip", "policy")

        def lines(iface: list[str], *head: str) -> list[list[str]]:
            return [line.split() for line in iface if tuple(line.split()[:len(head)]) == head]

        into, out_of = expand_interface(p.in_interface), expand_interface(p.out_interface)
        for w in lines(inside, *filter_word):
            if w[-1] == "in" and self.acl_permits(w[2], dataclasses.replace(p, tos=byte), True, count=True) is False:
                return "dropped", byte
        for w in lines(inside, "service-policy", "input"):
            fate, byte = self.policy(w[2], dataclasses.replace(p, tos=byte), byte, (into, "input"))
            if fate:
                return fate, byte
        route = None
        for w in lines(inside, *policy_word):
            route = self.route_map(w[3], dataclasses.replace(p, tos=byte), byte)
        if route == "null-routed":
            return route, byte
        for w in lines(outside, *filter_word):
            if w[-1] == "out" and self.acl_permits(w[2], dataclasses.replace(p, tos=byte), True, count=True) is False:
                return "dropped", byte
        for w in lines(outside, "service-policy", "output"):
            fate, byte = self.policy(w[2], dataclasses.replace(p, tos=byte), byte, (out_of, "output"))
            if fate:
                return fate, byte
        return route or "forwarded", byte


def forward(cfg: "IOSConfig", packet: Packet, counters: Counters | None = None) -> tuple[str, int]:
    """What the router whose configuration is ``cfg`` does with ``packet``: (fate, DS byte leaving).

    fate: forwarded, dropped, null-routed (policy routing to Null0) or policy-routed.  Raises
    ValueError for constructs this model does not evaluate (policers, NBAR other than an HTTP URL,
    CoS...).  ``counters``: the router's counters, which count the packet as IOS would (the deciding
    access-list entry of an interface filter or a policy-routing match, the route-map clause that
    matched, the service-policy class and match line that classified it, the packets a set marked);
    a packet the model refuses counts nowhere.
    """
    try:
        if counters is None:
            return _Semantics(cfg).forward(packet)
        # Counted on a copy first: a packet refused half way leaves the counters as they were.
        trial = Counters()
        result = _Semantics(cfg, trial).forward(packet)
        for name in ("ace", "marked"):
            mine, theirs = getattr(counters, name), getattr(trial, name)
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        for name in ("route_map", "classes", "matches"):
            mine, theirs = getattr(counters, name), getattr(trial, name)
            for key, (packets, length) in theirs.items():
                row = mine.setdefault(key, [0, 0])
                row[0] += packets
                row[1] += length
        return result
    except (_Refuse, KeyError, IndexError) as exc:
        raise ValueError(f"not evaluated by the lab model: {exc}") from None
