"""Random iptables-restore rulesets and random packets for the kernel-differential test.

``random_ruleset(rng)`` returns text that both ``iptables-nft-restore`` and
``iptables-legacy-restore`` (1.8.9) accept: a ``*mangle`` table and sometimes a ``*filter``
table, with the forms real firewalls carry (user chains reached with ``-j``/``-g``, RETURN,
ACCEPT, rare DROP, port/multiport/address/interface/tos/dscp/comment matches with ``!``, TOS,
DSCP, MARK, CONNMARK and LOG targets, rules without a target). Ports, addresses and TOS values
come from small pools shared with ``random_packets`` so that rules actually hit the packets.

``random_packets(rng, n)`` returns packet dicts for ``FirewallLab.send``; every dict carries
all keys, ``src`` and ``dst`` included, so a packet is self-describing for an evaluator.

Both are pure functions of the ``random.Random`` they get: same seed, same text.

Example::

    rng = random.Random(7)
    text = random_ruleset(rng)
    packets = random_packets(rng, 50)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = [
    "PORT_POOL",
    "TOS_POOL",
    "random_ruleset",
    "random_packets",
    "PAIR_NEGATION_SHARE",
]

# Ports in real mail/web/ftp/dns rulesets, the founding dump's ranges, and the divergence case.
PORT_POOL = (20, 21, 22, 25, 53, 80, 110, 443, 465, 512, 993, 1000, 1024, 2000, 3000, 28680,
             65535)
PORT_RANGES = ("512:65535", "1:1023", "1000:2000", "1024:65535", "20:21", "25:25", "2000:3000",
               "28000:29000", "0:1023", "443:1000")
TOS_POOL = (0x00, 0x04, 0x08, 0x10, 0x02, 0xB8, 0x03, 0x01, 0x0C, 0x1C, 0xE0, 0xFC, 0x28)
MASK_POOL = (0xFF, 0x3F, 0xFC, 0x1E, 0x03, 0xE0, 0x1C, 0x0F, 0xF0, 0x00)
TOS_NAMES = ("Minimize-Delay", "Maximize-Throughput", "Maximize-Reliability", "Minimize-Cost",
             "Normal-Service")
DSCP_CLASSES = ("CS0", "CS1", "CS2", "CS3", "CS4", "CS5", "CS6", "CS7", "AF11", "AF12", "AF13",
                "AF21", "AF22", "AF23", "AF31", "AF32", "AF33", "AF41", "AF42", "AF43", "EF")
DSCP_POOL = (0, 1, 2, 3, 4, 8, 10, 14, 18, 26, 34, 46, 48, 63)
INTERFACES = ("eth0", "eth1", "eth+", "lo", "dummy9")
ADDRESSES = ("192.0.2.2", "192.0.2.2/32", "192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25",
             "192.0.2.77/24", "192.0.2.1", "198.51.100.2", "198.51.100.2/31", "198.51.100.0/24",
             "198.51.100.1", "198.51.100.0/28", "198.51.100.64/26", "198.51.100.77",
             "203.0.113.0/24", "10.0.0.0/8", "192.0.0.0/8", "0.0.0.0/0")
COMMENTS = ("mail to partner", "bulk ftp", "interactive ssh", "voice EF", "web: low delay",
            "code red workaround", "legacy TOS #42", "partner link")
USER_CHAIN_NAMES = ("MAIL_TOS", "web-dscp", "classify_out", "fwd_marks", "LOCAL_OUT", "qos1",
                    "ToS_fix", "partner", "INBOUND_QOS", "lowdelay")

# Packet pools (kept in step with tests/kernel/netns_lab.py's addressing).
FORWARD_SRC = ("192.0.2.2", "192.0.2.2", "192.0.2.200", "192.0.2.77", "203.0.113.5")
FORWARD_DST = ("198.51.100.2", "198.51.100.2", "198.51.100.77", "198.51.100.200", "203.0.113.9")
OUTPUT_SRC = ("198.51.100.1", "198.51.100.1", "192.0.2.1")
REVERSE_SRC = ("198.51.100.2", "198.51.100.2", "198.51.100.77", "203.0.113.5")
REVERSE_DST = ("192.0.2.2", "192.0.2.2", "192.0.2.200")
# Same values as netns_lab.DEFAULT_SRC/DEFAULT_DST (the self-check asserts it); copied so this
# module imports without the lab.
DEFAULT_SRC = {"forward": "192.0.2.2", "output": "198.51.100.1", "reverse": "198.51.100.2"}
DEFAULT_DST = {"forward": "198.51.100.2", "output": "198.51.100.2", "reverse": "192.0.2.2"}
TOS_BIAS = (0x00, 0x00, 0x00, 0x04, 0x10, 0xB8, 0x03)

PAIR_NEGATION_SHARE = 0.12
"""Share of port matches written ``! --sport A ! --dport B`` (the form iptables-nft 1.8.9
compiles into one 4-byte compare)."""

IN_BUILTINS = frozenset({"PREROUTING", "INPUT", "FORWARD"})  # may carry -i
OUT_BUILTINS = frozenset({"FORWARD", "OUTPUT", "POSTROUTING"})  # may carry -o
TABLE_BUILTINS = {
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}


@dataclass
class _Chain:
    name: str
    builtin: bool
    n_rules: int
    # rule index -> ("-j" | "-g", target chain name)
    jumps: dict[int, tuple[str, str]] = field(default_factory=dict)
    reach: set[str] = field(default_factory=set)  # built-ins that reach this chain
    edge_interfaces: bool = False  # ignore reach when choosing -i/-o (loads; see docstring)

    def may_in(self) -> bool:
        if self.builtin:
            return self.name in IN_BUILTINS
        return self.edge_interfaces or bool(self.reach) and self.reach <= IN_BUILTINS

    def may_out(self) -> bool:
        if self.builtin:
            return self.name in OUT_BUILTINS
        return self.edge_interfaces or bool(self.reach) and self.reach <= OUT_BUILTINS


def _hex_or_dec(rng: random.Random, v: int) -> str:
    return f"0x{v:02x}" if rng.random() < 0.6 else str(v)


def _port(rng: random.Random) -> int:
    return rng.choice(PORT_POOL) if rng.random() < 0.85 else rng.randint(1, 65535)


def _port_spec(rng: random.Random, degenerate: bool = False) -> str:
    if degenerate and rng.random() < 0.1:
        return "0:65535"
    r = rng.random()
    if r < 0.6:
        return str(_port(rng))
    if r < 0.9:
        return rng.choice(PORT_RANGES)
    if r < 0.95:
        return f"{rng.choice((512, 1024, 28000))}:"  # open upper end
    return f":{rng.choice((1023, 511, 25))}"  # open lower end


def _multiport_list(rng: random.Random) -> str:
    items: list[str] = []
    slots = 0
    for _ in range(rng.randint(1, 5)):
        if rng.random() < 0.25:
            a, b = sorted(rng.sample(PORT_POOL, 2))
            items.append(f"{a}:{b}")
            slots += 2
        else:
            items.append(str(_port(rng)))
            slots += 1
        if slots >= 13:
            break
    return ",".join(items)


def _neg(rng: random.Random, p: float) -> str:
    return "! " if rng.random() < p else ""


def _port_match(rng: random.Random, proto: str, degenerate: bool = False) -> list[str]:
    """Port/multiport options for ``-p proto`` (without the -p itself)."""
    out: list[str] = []
    explicit = rng.random() < 0.85  # iptables-save always writes -m tcp; hand-written may not
    r = rng.random()
    if r < PAIR_NEGATION_SHARE:
        # The nft pair form: two single ports, both negated.
        out += [f"-m {proto}"] if explicit else []
        out.append(f"! --sport {_port(rng)} ! --dport {_port(rng)}")
        return out
    if r < PAIR_NEGATION_SHARE + 0.2:
        kind = rng.choice(("--dports", "--dports", "--sports", "--ports"))
        out.append(f"-m multiport {_neg(rng, 0.25)}{kind} {_multiport_list(rng)}")
        return out
    out += [f"-m {proto}"] if explicit else []
    which = rng.choice(("sport", "dport", "dport", "both"))
    parts = []
    if which in ("sport", "both"):
        parts.append(f"{_neg(rng, 0.2)}--sport {_port_spec(rng, degenerate)}")
    if which in ("dport", "both"):
        parts.append(f"{_neg(rng, 0.2)}--dport {_port_spec(rng, degenerate)}")
    out.append(" ".join(parts))
    return out


def _tos_value(rng: random.Random) -> int:
    return rng.choice(TOS_POOL) if rng.random() < 0.75 else rng.randint(0, 255)


def _matches(rng: random.Random, chain: _Chain, degenerate: bool = False) -> list[str]:
    generic: list[str] = []
    if rng.random() < 0.25:
        generic.append(f"{_neg(rng, 0.25)}-s {rng.choice(ADDRESSES)}")
    if rng.random() < 0.25:
        generic.append(f"{_neg(rng, 0.25)}-d {rng.choice(ADDRESSES)}")
    if chain.may_in() and rng.random() < 0.35:
        generic.append(f"{_neg(rng, 0.25)}-i {rng.choice(INTERFACES)}")
    if chain.may_out() and rng.random() < 0.35:
        generic.append(f"{_neg(rng, 0.25)}-o {rng.choice(INTERFACES)}")
    for i, opt in enumerate(generic):  # never negate the catch-all prefix (see module notes)
        if opt.startswith("! ") and opt.endswith(" 0.0.0.0/0"):
            generic[i] = opt[2:]
    proto = None
    r = rng.random()
    if r < 0.65:
        proto = rng.choice(("tcp", "udp"))
        generic.append(f"-p {proto}")
    elif r < 0.72:
        generic.append(f"! -p {rng.choice(('tcp', 'udp'))}")
    if rng.random() < 0.15:
        rng.shuffle(generic)  # hand-written files do not keep iptables-save's order
    out = list(generic)
    if proto and rng.random() < 0.6:
        out += _port_match(rng, proto, degenerate)
    if rng.random() < 0.15:
        r = rng.random()
        if r < 0.5:
            mask = rng.choice(MASK_POOL[:-1])
            v = _tos_value(rng) & mask
            if mask != 0xFF and rng.random() < 0.3:
                # A value with bits outside its mask: the kernel compares it as written, so the rule
                # never matches (and its negation always does); a parser that masks it first is wrong.
                v |= 1 << rng.choice([bit for bit in range(8) if not mask >> bit & 1])
            spec = _hex_or_dec(rng, v) if mask == 0xFF and rng.random() < 0.5 else \
                f"{_hex_or_dec(rng, v)}/{_hex_or_dec(rng, mask)}"
        elif r < 0.8:
            spec = _hex_or_dec(rng, _tos_value(rng))
        else:
            spec = rng.choice(TOS_NAMES)
        out.append(f"-m tos {_neg(rng, 0.25)}--tos {spec}")
    if rng.random() < 0.12:
        if rng.random() < 0.6:
            out.append(f"-m dscp {_neg(rng, 0.25)}--dscp {_hex_or_dec(rng, rng.choice(DSCP_POOL))}")
        else:
            out.append(f"-m dscp {_neg(rng, 0.25)}--dscp-class {rng.choice(DSCP_CLASSES)}")
    if rng.random() < 0.1:
        out.append(f'-m comment --comment "{rng.choice(COMMENTS)}"')
    return out


def _mangle_target(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.14:
        return f"-j TOS --set-tos {_hex_or_dec(rng, _tos_value(rng))}"
    if r < 0.24:
        return (f"-j TOS --set-tos {_hex_or_dec(rng, _tos_value(rng))}/"
                f"{_hex_or_dec(rng, rng.choice(MASK_POOL))}")
    if r < 0.30:
        return f"-j TOS --set-tos {rng.choice(TOS_NAMES)}"
    if r < 0.35:
        op = rng.choice(("--and-tos", "--or-tos", "--xor-tos"))
        return f"-j TOS {op} {_hex_or_dec(rng, _tos_value(rng))}"
    if r < 0.45:
        return f"-j DSCP --set-dscp {_hex_or_dec(rng, rng.choice(DSCP_POOL))}"
    if r < 0.52:
        return f"-j DSCP --set-dscp-class {rng.choice(DSCP_CLASSES)}"
    if r < 0.57:
        return f"-j MARK --set-mark {rng.choice((1, 2, 0x10, 0x2e))}"
    if r < 0.60:
        return f"-j CONNMARK --set-mark {rng.choice((1, 7))}"
    if r < 0.64:
        return f'-j LOG --log-prefix "{rng.choice(("tos ", "dscp: ", "x "))}"'
    if r < 0.74:
        return ""  # no target: counts only
    if r < 0.84:
        return "-j ACCEPT"
    if r < 0.975:
        return "-j RETURN"
    return "-j DROP"


def _filter_target(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return "-j ACCEPT"
    if r < 0.65:
        return "-j RETURN"
    if r < 0.75:
        return '-j LOG --log-prefix "fw "'
    if r < 0.82:
        return f"-j MARK --set-mark {rng.choice((1, 2))}"
    if r < 0.93:
        return ""
    return "-j DROP"


def _skeleton(rng: random.Random, table: str, user_names: list[str]) -> list[_Chain]:
    builtins = [
        _Chain(name, True, rng.choice((0, 1, 2, 3, 4, 5, 6)) if name != "INPUT"
               else rng.choice((0, 0, 1, 2)))
        for name in TABLE_BUILTINS[table]
    ]
    users = [_Chain(name, False, rng.randint(1, 5), edge_interfaces=rng.random() < 0.25)
             for name in user_names]
    if users:
        for b in builtins:
            for i in range(b.n_rules):
                if rng.random() < 0.15:
                    b.jumps[i] = (_jump_kind(rng), rng.choice(users).name)
        for k, u in enumerate(users):
            later = users[k + 1:]
            if not later:
                break
            for i in range(u.n_rules):
                if rng.random() < 0.15:
                    u.jumps[i] = (_jump_kind(rng), rng.choice(later).name)
        # Make (almost) every user chain reachable: add a jump from a built-in.
        reached = {t for c in builtins + users for _, t in c.jumps.values()}
        for u in users:
            if u.name not in reached and rng.random() < 0.85:
                b = rng.choice(builtins)
                b.n_rules += 1
                b.jumps[rng.randrange(b.n_rules)] = (_jump_kind(rng), u.name)
    # Reach: built-ins first, then user chains in order (jumps only go to later chains).
    by_name = {c.name: c for c in builtins + users}
    for b in builtins:
        b.reach = {b.name}
    for c in builtins + users:
        for _, t in c.jumps.values():
            by_name[t].reach |= c.reach
    return builtins + users


def _jump_kind(rng: random.Random) -> str:
    return "-g" if rng.random() < 0.3 else "-j"


def _table(rng: random.Random, table: str, degenerate: bool = False) -> list[str]:
    k = rng.choice((0, 0, 1, 1, 2, 2, 3, 4))
    names = rng.sample(USER_CHAIN_NAMES, k)
    chains = _skeleton(rng, table, names)
    lines = [f"*{table}"]
    for c in chains:
        if c.builtin:
            policy = "ACCEPT"
            if table == "filter" and c.name in ("FORWARD", "OUTPUT") and rng.random() < 0.05:
                policy = "DROP"
            counters = "[0:0]" if rng.random() < 0.7 else \
                f"[{rng.randint(0, 10**6)}:{rng.randint(0, 10**9)}]"
            lines.append(f":{c.name} {policy} {counters}")
        else:
            lines.append(f":{c.name} - [0:0]")
    target_fn = _mangle_target if table == "mangle" else _filter_target
    for c in chains:
        for i in range(c.n_rules):
            parts = [f"-A {c.name}", *_matches(rng, c, degenerate)]
            if i in c.jumps:
                kind, target = c.jumps[i]
                parts.append(f"{kind} {target}")
            else:
                t = target_fn(rng)
                if t:
                    parts.append(t)
            lines.append(" ".join(p for p in parts if p))
    lines.append("COMMIT")
    return lines


def random_ruleset(rng: random.Random, *, filter_table: bool | None = None,
                   degenerate: bool = False) -> str:
    """A random iptables-restore text: ``*mangle`` (always) and ``*filter`` (about 30%, or as
    ``filter_table`` says). Loadable by iptables-nft-restore and iptables-legacy-restore 1.8.9.

    Notes on the forms:
      * ``-i`` in built-in OUTPUT/POSTROUTING and ``-o`` in PREROUTING/INPUT are refused by
        iptables, so they never appear there. In user chains iptables checks nothing: a chain
        only gets ``-i``/``-o`` if every built-in reaching it could carry it, except that a
        quarter of the user chains ignore that ("edge" chains) and so produce, e.g., ``-i eth1``
        in a chain called from POSTROUTING, where a forwarded packet still has its in-interface
        and a locally generated one has the empty name.
      * No jump loops: user chain k only jumps to chains declared after it.
      * ``! -s 0.0.0.0/0`` is never generated: iptables-nft-restore refuses it ("RULE_APPEND
        failed (Invalid argument)"); iptables-legacy loads it.
      * ``degenerate=True`` adds the full port range ``0:65535`` (about 1 port spec in 10,
        a fifth of them negated): ``! --sport 0:65535`` never matches on legacy, but
        iptables-legacy-save prints it without the port match (so the saved form matches every
        packet), and iptables-nft loads it as match-all. Off by default, because with it the
        saved form of a legacy ruleset no longer behaves like the written one.
      * No ``Generated by`` header, so no era or backend can be read from the text.
    """
    lines = [f"# rulegen {rng.randrange(1 << 30):08x}"]
    lines += _table(rng, "mangle", degenerate)
    if filter_table is None:
        filter_table = rng.random() < 0.3
    if filter_table:
        lines += _table(rng, "filter", degenerate)
    return "\n".join(lines) + "\n"


def random_packets(rng: random.Random, n: int,
                   paths: tuple[str, ...] = ("forward", "output")) -> list[dict]:
    """``n`` packet dicts for ``FirewallLab.send``: keys path, protocol, sport, dport, tos, src,
    dst (all present). ``paths`` may include "reverse" (server -> client through the firewall).
    """
    weights = {"forward": 0.55, "output": 0.3, "reverse": 0.25}
    pw = [weights[p] for p in paths]
    out = []
    for _ in range(n):
        path = rng.choices(paths, pw)[0]
        protocol = "tcp" if rng.random() < 0.6 else "udp"
        sport = _port(rng) if rng.random() < 0.75 else rng.randint(1024, 65535)
        dport = _port(rng) if rng.random() < 0.75 else rng.randint(1, 65535)
        tos = rng.choice(TOS_BIAS) if rng.random() < 0.5 else rng.randint(0, 255)
        src, dst = DEFAULT_SRC[path], DEFAULT_DST[path]
        if rng.random() < 0.25:
            if path == "forward":
                src, dst = rng.choice(FORWARD_SRC), rng.choice(FORWARD_DST)
            elif path == "output":
                src, dst = rng.choice(OUTPUT_SRC), rng.choice(FORWARD_DST)
            else:
                src, dst = rng.choice(REVERSE_SRC), rng.choice(REVERSE_DST)
        out.append({"path": path, "protocol": protocol, "sport": sport, "dport": dport,
                    "tos": tos, "src": src, "dst": dst})
    return out


# --------------------------------------------------------------------------- NAT
#
# random_nat_ruleset(rng): a mangle table (and sometimes a filter table) as above, plus a nat table
# whose rules translate to addresses the lab can observe: anything routed out of the firewall's eth0
# reaches the server's capture, 192.0.2.0/24 (but the firewall's own .1) the client's.  Matches before
# and after translation come from the shared pools (ADDRESSES holds the targets' networks), so mangle
# FORWARD/POSTROUTING and filter FORWARD rules meet translated packets.  nat OUTPUT translates to
# server-side addresses only: a DNAT that reroutes the firewall's own packet to another interface
# would show mangle OUTPUT a route the packet does not take, which the marking map does not model
# (the trace does, given the route).

NAT_DNAT_TARGETS = ("198.51.100.77", "198.51.100.2", "203.0.113.9", "192.0.2.200", "192.0.2.77",
                    "198.51.100.70-198.51.100.72", "203.0.113.5")
NAT_OUTPUT_DNAT_TARGETS = ("198.51.100.77", "203.0.113.9", "198.51.100.70-198.51.100.72")
NAT_SNAT_TARGETS = ("203.0.113.9", "203.0.113.10-203.0.113.12", "198.51.100.200", "192.0.2.250")
NAT_PORTS = ("8080", "25", "1000-2000", "20000-20100", "443")
NAT_NETMAPS = (("-d 203.0.113.0/28", "198.51.100.64/28"), ("-d 198.51.100.64/26", "203.0.113.64/26"),
               ("-d 198.51.100.0/28", "203.0.113.16/28"), ("-s 192.0.2.0/25", "203.0.113.0/25"),
               ("-s 198.51.100.0/28", "192.0.2.16/28"), ("-s 192.0.2.0/28", "203.0.113.32/28"))
NAT_BUILTINS = ("PREROUTING", "OUTPUT", "POSTROUTING")
NAT_USER_CHAINS = ("DNAT_IN", "snat-out", "KUBE-SVC-X")


def _nat_target(rng: random.Random, hook: str, proto: str | None) -> str:
    ports = proto is not None and rng.random() < 0.4
    r = rng.random()
    if hook in ("PREROUTING", "OUTPUT"):
        if r < 0.6:
            pool = NAT_DNAT_TARGETS if hook == "PREROUTING" else NAT_OUTPUT_DNAT_TARGETS
            spec = rng.choice(pool) + (":" + rng.choice(NAT_PORTS) if ports else "")
            return f"-j DNAT --to-destination {spec}" + (" --random" if ports and rng.random() < 0.1 else "")
        if r < 0.72 and hook == "PREROUTING" and proto is not None:
            return f"-j REDIRECT --to-ports {rng.choice(NAT_PORTS)}"
        if r < 0.85:
            match, net = rng.choice([m for m in NAT_NETMAPS if m[0].startswith("-d")])
            return f"{match} -j NETMAP --to {net}"
    else:
        if r < 0.45:
            spec = rng.choice(NAT_SNAT_TARGETS) + (":" + rng.choice(NAT_PORTS) if ports else "")
            return f"-j SNAT --to-source {spec}" + (" --random" if ports and rng.random() < 0.1 else "")
        if r < 0.75:
            out = "-j MASQUERADE"
            if ports:
                out += f" --to-ports {rng.choice(NAT_PORTS)}"
            elif rng.random() < 0.2:
                out += " --random-fully"
            return out
        if r < 0.85:
            match, net = rng.choice([m for m in NAT_NETMAPS if m[0].startswith("-s")])
            return f"{match} -j NETMAP --to {net}"
    return rng.choice(("-j ACCEPT", "-j RETURN", "-j RETURN", ""))


def _nat_table(rng: random.Random) -> list[str]:
    users = rng.sample(NAT_USER_CHAINS, rng.choice((0, 1, 1, 2)))
    lines = ["*nat"] + [f":{name} ACCEPT [0:0]" for name in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")]
    lines += [f":{name} - [0:0]" for name in users]
    user_hook = {name: rng.choice(NAT_BUILTINS) for name in users}
    body = []
    for hook in NAT_BUILTINS:
        chain = _Chain(hook, True, 0)
        chain.reach = {hook}
        for _ in range(rng.randint(0, 4)):
            parts = [f"-A {hook}"]
            matches = _nat_matches(rng, chain)
            proto = next((p.split()[1] for p in matches if p.startswith("-p ")), None)
            parts += matches
            callees = [name for name in users if user_hook[name] == hook]
            if callees and rng.random() < 0.25:
                parts.append(f"{_jump_kind(rng)} {rng.choice(callees)}")
            else:
                parts.append(_nat_target(rng, hook, proto))
            body.append(_one_address_each(" ".join(p for p in parts if p)))
    for name in users:
        hook = user_hook[name]
        chain = _Chain(name, False, 0)
        chain.reach = {hook}
        for _ in range(rng.randint(1, 4)):
            matches = _nat_matches(rng, chain)
            proto = next((p.split()[1] for p in matches if p.startswith("-p ")), None)
            body.append(_one_address_each(" ".join(p for p in [f"-A {name}", *matches, _nat_target(rng, hook, proto)]
                                                   if p)))
    return lines + body + ["COMMIT"]


def _one_address_each(rule: str) -> str:
    """A NETMAP brings its own -s/-d: drop an earlier one of the same kind (iptables refuses two)."""
    for flag in ("-s", "-d"):
        if rule.count(f"{flag} ") > 1:
            words = rule.split()
            first = words.index(flag)
            drop = first - 1 if first and words[first - 1] == "!" else first
            rule = " ".join(words[:drop] + words[first + 2:])
    return rule


def _nat_matches(rng: random.Random, chain: _Chain) -> list[str]:
    """Matches for a nat rule: as _matches, with the protocol given when ports are (a NAT port
    range needs -p tcp or -p udp)."""
    out = []
    if rng.random() < 0.3:
        out.append(f"{_neg(rng, 0.2)}-s {rng.choice(ADDRESSES[:-1])}")
    if rng.random() < 0.3:
        out.append(f"{_neg(rng, 0.2)}-d {rng.choice(ADDRESSES[:-1])}")
    if chain.may_in() and rng.random() < 0.3:
        out.append(f"{_neg(rng, 0.2)}-i {rng.choice(('eth0', 'eth1', 'eth+'))}")
    if chain.may_out() and rng.random() < 0.4:
        out.append(f"{_neg(rng, 0.2)}-o {rng.choice(('eth0', 'eth1', 'eth+'))}")
    if rng.random() < 0.7:
        proto = rng.choice(("tcp", "udp"))
        out.append(f"-p {proto}")
        if rng.random() < 0.5:
            out += _port_match(rng, proto)
    if rng.random() < 0.08:
        out.append(f"-m tos {_neg(rng, 0.25)}--tos {_hex_or_dec(rng, rng.choice(TOS_BIAS))}/0xff")
    return out


def random_nat_ruleset(rng: random.Random) -> str:
    """A mangle table, a nat table with SNAT, MASQUERADE, DNAT, REDIRECT and NETMAP (and ACCEPT,
    RETURN, user chains), and a filter table one time in three; loadable by iptables-nft-restore and
    iptables-legacy-restore 1.8.9."""
    lines = [f"# rulegen nat {rng.randrange(1 << 30):08x}"]
    lines += _table(rng, "mangle")
    lines += _nat_table(rng)
    if rng.random() < 0.35:
        lines += _table(rng, "filter")
    return "\n".join(lines) + "\n"


def unique_connections(packets: list[dict]) -> list[dict]:
    """Packets each of which opens its own connection: no two share protocol and port pair (either way
    round), so none is a reply to or a repeat of another, before or after any translation."""
    seen = set()
    found = []
    for packet in packets:
        key = (packet["protocol"], frozenset((packet["sport"], packet["dport"])))
        if key not in seen:
            seen.add(key)
            found.append(packet)
    return found


# IPv6 (ip6tables): the lab's IPv6 addresses (test_nat_kernel_differential.NatLab6): the firewall routes
# 2001:db8:3::/48 to the server and 2001:db8:4::/48 to the client, so translated packets arrive somewhere.
ADDRESSES6 = ("2001:db8:1::2", "2001:db8:1::/64", "2001:db8:2::2", "2001:db8:2::/64", "2001:db8:3::/48",
              "2001:db8:4::/48", "2001:db8::/32", "2001:db8:1::/120", "2001:db8:3::9")
NAT6_DNAT_TARGETS = ("2001:db8:3::9", "2001:db8:3::77", "2001:db8:4::5", "2001:db8:3::70-2001:db8:3::72")
NAT6_SNAT_TARGETS = ("2001:db8:5::9", "2001:db8:3::1", "2001:db8:5::10-2001:db8:5::12")
NAT6_NETMAPS = (("-d 2001:db8:2::/120", "2001:db8:3::/120"), ("-s 2001:db8:1::/120", "2001:db8:5::/120"))


def _v6(line: str, rng: random.Random) -> str:
    """A rule of the IPv4 generators with its IPv4 addresses replaced by IPv6 ones of the lab."""
    words = line.split()
    out: list[str] = []
    for index, word in enumerate(words):
        if index and words[index - 1] in ("-s", "-d") and ("." in word):
            out.append(rng.choice(ADDRESSES6))
        else:
            out.append(word)
    return " ".join(out)


def random_nat_ruleset6(rng: random.Random) -> str:
    """An ip6tables-restore text: the IPv4 generator's mangle table in IPv6 terms, and a nat table with
    SNAT, MASQUERADE, DNAT (bracketed `[addr]:port` forms), REDIRECT and NETMAP over the lab's IPv6 addresses."""
    lines = [f"# rulegen nat6 {rng.randrange(1 << 30):08x}"]
    lines += [_v6(line, rng) for line in _table(rng, "mangle")]
    nat = ["*nat"] + [f":{name} ACCEPT [0:0]" for name in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")]
    for hook in NAT_BUILTINS:
        chain = _Chain(hook, True, 0)
        chain.reach = {hook}
        for _ in range(rng.randint(0, 4)):
            matches = [_v6(m, rng) for m in _nat_matches(rng, chain) if not m.startswith("-m tos")]
            proto = next((p.split()[1] for p in matches if p.startswith("-p ")), None)
            ports = proto is not None and rng.random() < 0.4
            port = ":" + rng.choice(NAT_PORTS) if ports else ""
            r = rng.random()
            if hook in ("PREROUTING", "OUTPUT"):
                targets = NAT6_DNAT_TARGETS if hook == "PREROUTING" else NAT6_DNAT_TARGETS[:2]
                if r < 0.6:
                    address = rng.choice(targets)
                    spec = "[%s]%s" % (address, port) if port and "-" not in address else address
                    target = f"-j DNAT --to-destination {spec}"
                elif r < 0.75 and hook == "PREROUTING" and proto:
                    target = f"-j REDIRECT --to-ports {rng.choice(NAT_PORTS)}"
                elif r < 0.85:
                    match, net = NAT6_NETMAPS[0]
                    matches = [m for m in matches if not m.lstrip("! ").startswith("-d")] + [match]
                    target = f"-j NETMAP --to {net}"
                else:
                    target = rng.choice(("-j ACCEPT", "-j RETURN", ""))
            else:
                if r < 0.45:
                    address = rng.choice(NAT6_SNAT_TARGETS)
                    spec = "[%s]%s" % (address, port) if port and "-" not in address else address
                    target = f"-j SNAT --to-source {spec}"
                elif r < 0.75:
                    target = "-j MASQUERADE" + (f" --to-ports {rng.choice(NAT_PORTS)}" if ports else "")
                elif r < 0.85:
                    match, net = NAT6_NETMAPS[1]
                    matches = [m for m in matches if not m.lstrip("! ").startswith("-s")] + [match]
                    target = f"-j NETMAP --to {net}"
                else:
                    target = rng.choice(("-j ACCEPT", "-j RETURN", ""))
            nat.append(" ".join(p for p in [f"-A {hook}", *matches, target] if p))
    lines += nat + ["COMMIT"]
    return "\n".join(lines) + "\n"
