"""Random native nftables rulesets for the kernel-differential test (test_nft_kernel_differential.py).

``random_ruleset(rng)`` returns a ruleset ``nft -f`` (1.0.6) loads, reaching the corners the driver
models: several tables (``inet``, ``ip``, ``ip6``) whose base chains share hooks at different
priorities, numeric and named (``mangle + 5``, ``filter - 3``, ``raw``, ``srcnat``), sometimes equal;
``accept`` in an early base chain and a DS write in a later one; ``drop`` and ``policy drop``;
regular chains reached by ``jump``/``goto`` with ``return``; anonymous and named sets, intervals,
``!=``, ``<``/``>``, concatenations, verdict maps; ``ip dscp`` matches by number, name, range and
set; ``ip dscp set`` / ``ip6 dscp set`` / ``ip ecn set``; statements placed before matches;
``iifname``/``oifname`` with wildcards and ``iif``/``oif``; ``th`` ports; ports and addresses
outside every range as well as inside. Ports, addresses and bytes come from rulegen.py's pools,
which its ``random_packets`` also draws from, so rules hit the packets.

Not generated, with the reason: ``ip dscp set <key> map { ... }`` (nft 1.0.6 refuses it: "Value 2
exceeds valid range 0-0"), ``ct``/``limit``/``fib`` (may-match by design: the trace says uncertain),
nat chains (not evaluated). The same rulesets are run with IPv4 packets (``ip6`` tables and ``ip6 ...``
rules must leave them alone) and with IPv6 packets (``ip`` tables and ``ip ...`` rules must leave those
alone).

Pure function of the ``random.Random`` it gets.
"""

from __future__ import annotations

import random

from .rulegen import ADDRESSES, PORT_POOL, PORT_RANGES

HOOKS = ("prerouting", "forward", "postrouting", "output", "postrouting", "forward")
PRIORITY_NAMES = ("raw", "mangle", "dstnat", "filter", "security", "srcnat")
DSCP_NAMES = ("cs0", "cs1", "cs2", "cs3", "cs4", "cs5", "cs6", "cs7", "lephb", "af11", "af12", "af13", "af21",
              "af22", "af31", "af41", "af43", "ef", "va", "be", "df")
DSCP_NUMBERS = (0, 1, 2, 3, 4, 8, 10, 14, 18, 26, 34, 46, 48, 63)
IFACES = ('"eth0"', '"eth1"', '"eth*"', '"lo"', '"dummy9"', '"e*"')
DEVICES = ('"eth0"', '"eth1"', '"lo"')  # iif/oif need a device that exists
# The IPv6 lab's client net 2001:db8:1::/64 and server 2001:db8:2::2 (test_nft_kernel_differential.py), and others.
V6_ADDRESSES = ("2001:db8::1", "2001:db8::/32", "fe80::/10", "::1", "2001:db8:1::/64", "2001:db8:2::2",
                "2001:db8:1::2-2001:db8:1::10", "2001:db8:2::/64", "2001:db8:1::77")


def _priority(rng: random.Random, hook: str) -> str:
    kind = rng.random()
    if kind < 0.35:
        return str(rng.choice((-300, -200, -150, -145, -100, -5, 0, 0, 5, 10, 100, 150, 300)))
    # nft 1.0.6 takes dstnat only on prerouting and srcnat only on postrouting (input/output too: not used).
    names = [n for n in PRIORITY_NAMES if (n, hook) not in _NOT_HERE]
    name = rng.choice(names)
    if kind < 0.7:
        return name
    return "%s %s %d" % (name, rng.choice("+-"), rng.choice((1, 5, 10, 20)))


_NOT_HERE = {("dstnat", h) for h in ("forward", "postrouting", "output")} | {
    ("srcnat", h) for h in ("forward", "prerouting", "output")}


def _dscp(rng: random.Random) -> str:
    return rng.choice(DSCP_NAMES) if rng.random() < 0.5 else str(rng.choice(DSCP_NUMBERS))


def _port_value(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return str(rng.choice(PORT_POOL))
    if kind < 0.7:
        return rng.choice(PORT_RANGES).replace(":", "-")
    items = sorted({rng.choice(PORT_POOL) for _ in range(rng.randint(2, 4))})
    if rng.random() < 0.4:
        low = rng.choice((1, 1000, 28000, 60000))
        items = [i for i in items if not low <= i <= low + 500]
        return "{ %s }" % ", ".join([str(i) for i in items] + ["%d-%d" % (low, low + 500)])
    return "{ %s }" % ", ".join(str(i) for i in items)


def _addr_value(rng: random.Random, six: bool) -> str:
    if six:
        return rng.choice(V6_ADDRESSES)
    kind = rng.random()
    if kind < 0.6:
        return rng.choice(ADDRESSES).replace("0.0.0.0/0", "0.0.0.0/1")
    if kind < 0.75:
        return rng.choice(("192.0.2.1-192.0.2.100", "198.51.100.2-198.51.100.80", "203.0.113.0-203.0.113.9"))
    # an anonymous set: nft refuses overlapping intervals, so pick disjoint ones
    return rng.choice(("{ 192.0.2.2, 198.51.100.0/28 }", "{ 192.0.2.128/25, 203.0.113.0/24 }",
                       "{ 10.0.0.0/8, 198.51.100.77, 192.0.2.2 }"))


def _op(rng: random.Random, p: float = 0.25) -> str:
    return "!= " if rng.random() < p else ""


class _Table:
    def __init__(self, rng: random.Random, index: int, family: str) -> None:
        self.rng = rng
        self.family = family
        self.name = "t%d" % index
        self.base: list[tuple[str, str, str, list[str]]] = []  # name, hook, priority, rules
        self.regular: list[tuple[str, list[str]]] = []
        self.port_set = rng.random() < 0.4
        self.addr_set = family != "ip6" and rng.random() < 0.4

    def flavour(self) -> str:
        """Which address family a rule's ip fields speak (never both in one rule: nft refuses)."""
        if self.family == "inet":
            return "ip6" if self.rng.random() < 0.2 else "ip"
        return self.family

    def match(self, flavour: str, proto: list[str]) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.16:
            which = rng.choice(("iifname", "oifname", "iifname", "oifname", "iif", "oif"))
            if which in ("iif", "oif"):
                return "%s %s%s" % (which, _op(rng), rng.choice(DEVICES))
            if rng.random() < 0.2:
                return "%s %s{ %s }" % (which, _op(rng), ", ".join(sorted({rng.choice(IFACES[:4]) for _ in range(2)})))
            return "%s %s%s" % (which, _op(rng), rng.choice(IFACES))
        if kind < 0.5:
            if not proto:
                proto.append(rng.choice(("tcp", "udp", "tcp", "th")))
            field = rng.choice(("sport", "dport"))
            if rng.random() < 0.12:
                return "%s %s %s %d" % (proto[0], field, rng.choice(("<", ">", "<=", ">=")), rng.choice(PORT_POOL))
            if self.port_set and rng.random() < 0.25:
                return "%s %s %s@ports" % (proto[0], field, _op(rng))
            return "%s %s %s%s" % (proto[0], field, _op(rng), _port_value(rng))
        if kind < 0.62:
            if proto:
                return "counter"
            if rng.random() < 0.3:
                proto.append("th")
                return "meta l4proto { tcp, udp }"
            proto.append(rng.choice(("tcp", "udp")))
            if flavour == "ip" and rng.random() < 0.5:
                return "ip protocol %s%s" % (_op(rng, 0.1), proto[0]) if True else ""
            return "meta l4proto %s" % proto[0]
        if kind < 0.78:
            field = rng.choice(("saddr", "daddr"))
            if flavour == "ip" and self.addr_set and rng.random() < 0.3:
                return "ip %s %s@hosts" % (field, _op(rng))
            return "%s %s %s%s" % (flavour, field, _op(rng), _addr_value(rng, flavour == "ip6"))
        if kind < 0.95:
            value = rng.random()
            if value < 0.6:
                shown = _dscp(rng)
            elif value < 0.8:
                low = rng.choice((0, 1, 2, 8, 10))
                shown = "%d-%d" % (low, low + rng.choice((1, 3, 8)))
            else:
                shown = "{ %s }" % ", ".join(sorted({_dscp(rng) for _ in range(3)}, key=str))
                if len(set(shown.split(", "))) < 2 or any(n in shown for n in ("be", "df")) and "cs0" in shown:
                    shown = "{ cs1, af11, ef }"
            return "%s dscp %s%s" % (flavour, _op(rng), shown)
        if flavour == "ip" and not proto:
            proto.append("tcp")
            return rng.choice(("ip saddr . tcp dport { 192.0.2.2 . 25, 198.51.100.2 . 1000-2000, 192.0.2.0/25 . 443 }",
                               "ip daddr . tcp sport != { 198.51.100.2 . 25, 192.0.2.2 . 80 }"))
        return "counter"

    def statement(self, flavour: str) -> str:
        rng = self.rng
        if flavour == "ip" and rng.random() < 0.08:
            return "ip ecn set %s" % rng.choice(("not-ect", "ect0", "ect1", "ce"))
        return "%s dscp set %s" % (flavour, _dscp(rng))

    def rule(self, chain: str, regular: bool, later: list[str]) -> str:
        rng = self.rng
        flavour = self.flavour()
        proto: list[str] = []
        parts: list[str] = []
        if rng.random() < 0.15:
            parts.append(self.statement(flavour))  # a statement before the matches: runs whatever follows
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            parts.append(self.match(flavour, proto))
        roll = rng.random()
        if roll < 0.5:
            parts.append(self.statement(flavour))
            if rng.random() < 0.2:
                parts.append("counter")
            roll = rng.random() * 1.4
        if roll < 0.12 and later:
            parts.append("%s %s" % (rng.choice(("jump", "jump", "goto")), rng.choice(later)))
        elif roll < 0.22 and later and not proto:
            targets = [str(p) for p in rng.sample(PORT_POOL, 3)]
            verdicts = ["accept", "drop", "jump %s" % rng.choice(later)]
            rng.shuffle(verdicts)
            parts.append("tcp dport vmap { %s }" % ", ".join("%s : %s" % pair for pair in zip(targets, verdicts)))
        elif roll < 0.42:
            parts.append("accept")
        elif roll < 0.46:
            parts.append("drop")
        elif roll < 0.6 and regular:
            parts.append("return")
        if not parts:
            parts.append("counter")
        return " ".join(parts)

    def build(self) -> list[str]:
        rng = self.rng
        names = ["sub%d" % i for i in range(rng.choice((0, 1, 1, 2)))]
        for position, name in enumerate(names):
            rules = [self.rule(name, True, names[position + 1:]) for _ in range(rng.randint(1, 4))]
            self.regular.append((name, rules))
        for index in range(rng.choice((1, 2, 2, 3))):
            hook = rng.choice(HOOKS)
            rules = [self.rule("b%d" % index, False, names) for _ in range(rng.randint(0, 5))]
            self.base.append(("b%d" % index, hook, _priority(rng, hook), rules))
        lines = ["table %s %s {" % (self.family, self.name)]
        if self.port_set:
            lines += ["\tset ports {", "\t\ttype inet_service", "\t\tflags interval",
                      "\t\telements = { 25, 443, 1000-2000 }", "\t}"]
        if self.addr_set:
            lines += ["\tset hosts {", "\t\ttype ipv4_addr", "\t\tflags interval",
                      "\t\telements = { 192.0.2.2, 198.51.100.0/28 }", "\t}"]
        for name, hook, priority, rules in self.base:
            policy = "drop" if rng.random() < 0.05 else "accept"
            lines += ["\tchain %s {" % name,
                      "\t\ttype filter hook %s priority %s; policy %s;" % (hook, priority, policy)]
            lines += ["\t\t" + rule for rule in rules]
            lines.append("\t}")
        for name, rules in self.regular:
            lines += ["\tchain %s {" % name] + ["\t\t" + rule for rule in rules] + ["\t}"]
        lines.append("}")
        return lines


def random_ruleset(rng: random.Random) -> str:
    lines: list[str] = []
    for index in range(rng.choice((1, 2, 2, 3))):
        family = rng.choice(("inet", "inet", "ip", "ip6"))
        lines += _Table(rng, index, family).build()
    return "\n".join(lines) + "\n"
