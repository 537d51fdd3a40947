#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate a large synthetic IOS running-config for the benchmark.

Shaped like a big aggregation router: 300 interfaces (physical and dot1Q
sub-interfaces, some shut), 200 class-maps, 100 policy-maps, 20 route-maps
used for policy routing, 10,000 access-list entries in numbered and named
lists, and the routing/management bulk that makes up most of a real file
(static routes, prefix-lists, BGP neighbors), padded to the target length.
Deterministic for a given seed.

    python bench/gen_ios_config.py --lines 50000 > big.cfg
"""

from __future__ import annotations

import argparse
import random
import sys

DSCP_NAMES = ["ef", "af11", "af21", "af31", "af41", "cs1", "cs2", "cs3", "cs5", "default", "1", "3", "8", "46"]
PORTS = ["www", "smtp", "domain", "22", "443", "ftp", "ftp-data", "pop3", "123", "8080", "range 1024 65535"]
NBAR = ['http url "*default.ida*"', "citrix", "rtp audio", "skype", "bittorrent", 'http host "*.example.com"']


def ip(rng: random.Random, first: int = 10) -> str:
    return "%d.%d.%d.%d" % (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def acl_entry(rng: random.Random, index: int, total: int) -> str:
    """One extended entry body: anti-spoofing denies first, services, a catch-all last."""
    if index == total - 1:
        return rng.choice(["deny ip any any log", "permit ip any any", "deny ip any any"])
    roll = rng.random()
    if index < 3:
        return "deny ip %s 0.0.255.255 any" % ip(rng, rng.choice([10, 172, 192]))
    if roll < 0.05:
        return "permit ip any any dscp %s" % rng.choice(DSCP_NAMES)
    if roll < 0.07:
        return "permit ip any any precedence %s" % rng.choice(["critical", "flash", "5", "routine"])
    if roll < 0.08:
        return "permit ip any any tos %s" % rng.choice(["max-reliability", "min-delay", "4"])
    if roll < 0.15:
        return "deny tcp any host %s eq %s" % (ip(rng), rng.choice(PORTS[:-1]))
    proto = rng.choice(["tcp", "tcp", "udp"])
    port = rng.choice(PORTS) if proto == "tcp" else rng.choice(["domain", "ntp", "snmp"])
    return "permit %s %s 0.0.0.255 host %s %s%s" % (
        proto, ip(rng), ip(rng), port if port.startswith("range") else "eq " + port,
        " log" if rng.random() < 0.1 else "")


def generate(lines_target: int = 50000, interfaces: int = 300, class_maps: int = 200, policy_maps: int = 100,
             route_maps: int = 20, acl_entries: int = 10000, seed: int = 2006) -> str:
    rng = random.Random(seed)
    out: list[str] = [
        "Building configuration...", "", "Current configuration : 1843201 bytes", "!",
        "version 15.4", "service timestamps debug datetime msec", "service timestamps log datetime msec",
        "service password-encryption", "!", "hostname bench-agg1", "!", "boot-start-marker", "boot-end-marker",
        "!", "enable secret 5 $1$abcd$0123456789abcdefABCDEF", "!", "aaa new-model",
        "aaa authentication login default local", "!", "ip cef", "no ip domain lookup", "!",
    ]
    # Access lists: 150 lists; numbered for half, named (with sequence numbers) for the rest.
    acl_names: list[str] = []
    lists = 150
    per_list = acl_entries // lists
    extra = acl_entries - per_list * lists
    for n in range(lists):
        count = per_list + (1 if n < extra else 0)
        # IOS refuses a duplicate entry in one list (and so does hier_config).
        bodies: list[str] = []
        seen: set[str] = set()
        while len(bodies) < count:
            body = acl_entry(rng, len(bodies), count)
            if body not in seen:
                seen.add(body)
                bodies.append(body)
        if n % 2 == 0:
            name = str(100 + n // 2) if n // 2 < 100 else str(2000 + n // 2)
            acl_names.append(name)
            out.append("access-list %s remark generated list %d" % (name, n))
            out.extend("access-list %s %s" % (name, body) for body in bodies)
        else:
            name = "ACL-%03d" % n
            acl_names.append(name)
            out.append("ip access-list extended %s" % name)
            out.extend(" %d %s" % ((k + 1) * 10, body) for k, body in enumerate(bodies))
        out.append("!")
    # Class-maps.
    cm_names = []
    for n in range(class_maps):
        name = "CM-%03d" % n
        cm_names.append(name)
        out.append("class-map %s %s" % (rng.choice(["match-any", "match-all"]), name))
        roll = rng.random()
        if roll < 0.5:
            out.append(" match ip dscp %s" % " ".join(rng.sample(DSCP_NAMES, rng.randint(1, 3))))
        elif roll < 0.6:
            out.append(" match ip precedence %d" % rng.randrange(8))
        elif roll < 0.85:
            out.append(" match access-group name %s" % rng.choice(acl_names[1::2]))
        else:
            out.append(" match protocol %s" % rng.choice(NBAR))
        if rng.random() < 0.3:
            out.append(" match access-group %s" % rng.choice(acl_names[0::2]))
        out.append("!")
    # Policy-maps: 4-5 classes each; marking, policing, queueing; a few nested.
    pm_names = []
    for n in range(policy_maps):
        name = "PM-%03d" % n
        pm_names.append(name)
        out.append("policy-map %s" % name)
        for cm in rng.sample(cm_names, rng.randint(4, 5)):
            out.append(" class %s" % cm)
            roll = rng.random()
            if roll < 0.35:
                out.append("  set ip dscp %s" % rng.choice(DSCP_NAMES))
            elif roll < 0.55:
                out.append("  police cir %d" % (rng.randint(1, 100) * 64000))
                out.append("   conform-action transmit")
                out.append("   exceed-action %s" % rng.choice(["drop", "set-dscp-transmit default", "set-prec-transmit 1"]))
            elif roll < 0.65:
                out.append("  police %d 8000 conform-action set-dscp-transmit af11 exceed-action drop" % (rng.randint(1, 100) * 8000))
            elif roll < 0.8:
                out.append("  priority percent %d" % rng.randint(5, 30))
            elif roll < 0.9:
                out.append("  bandwidth percent %d" % rng.randint(5, 30))
            else:
                out.append("  drop")
        out.append(" class class-default")
        out.append("  %s" % rng.choice(["set dscp default", "fair-queue", "random-detect dscp-based", "set ip precedence 0"]))
        out.append("!")
    # Route-maps for policy routing.
    rm_names = []
    for n in range(route_maps):
        name = "PBR-%02d" % n
        rm_names.append(name)
        for seq in (10, 20, 30):
            out.append("route-map %s %s %d" % (name, "deny" if seq == 30 and n % 3 == 0 else "permit", seq))
            out.append(" match ip address %s" % rng.choice(acl_names))
            roll = rng.random()
            if roll < 0.3:
                out.append(" set interface Null0")
            elif roll < 0.7:
                out.append(" set ip next-hop %s" % ip(rng))
            else:
                out.append(" set ip precedence %s" % rng.choice(["critical", "routine", "flash"]))
            out.append("!")
    # Interfaces.
    for n in range(interfaces):
        slot, port = divmod(n // 4, 8)
        name = "GigabitEthernet%d/%d" % (slot, port) if n % 4 == 0 else "GigabitEthernet%d/%d.%d" % (slot, port, 100 + n % 4)
        out.append("interface %s" % name)
        out.append(" description generated link %d" % n)
        if n % 4:
            out.append(" encapsulation dot1Q %d" % (100 + n % 4))
        out.append(" ip address 10.%d.%d.1 255.255.255.0" % (n // 256, n % 256))
        if rng.random() < 0.5:
            out.append(" ip access-group %s in" % rng.choice(acl_names))
        if rng.random() < 0.3:
            out.append(" ip access-group %s out" % rng.choice(acl_names))
        out.append(" ip nbar protocol-discovery")
        if rng.random() < 0.05:
            out.append(" ip policy route-map %s" % rng.choice(rm_names))
        if rng.random() < 0.4:
            out.append(" service-policy input %s" % rng.choice(pm_names))
        if rng.random() < 0.4:
            out.append(" service-policy output %s" % rng.choice(pm_names))
        if rng.random() < 0.1:
            out.append(" shutdown")
        out.append("!")
    # Routing and management bulk up to the target length.
    out.append("router bgp 64500")
    for n in range(200):
        peer = ip(rng, 172)
        out.append(" neighbor %s remote-as %d" % (peer, 64600 + n))
        out.append(" neighbor %s route-map %s in" % (peer, rng.choice(["RM-IN", "RM-OUT"])))
    out.append("!")
    tail = ["line con 0", " logging synchronous", "line vty 0 4", " access-class 10 in", " transport input ssh", "!",
            "ntp server 192.0.2.123", "end"]
    seq = 5
    routes = 0
    while len(out) + len(tail) < lines_target:
        if rng.random() < 0.6:
            out.append("ip prefix-list PL-CUSTOMERS seq %d permit %s/24" % (seq, ip(rng, 100)))
            seq += 5
        else:
            routes += 1
            out.append("ip route 100.%d.%d.0 255.255.255.0 %s" % (routes // 256, routes % 256, ip(rng, 10)))
    out.extend(tail)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=2006)
    args = parser.parse_args(argv)
    sys.stdout.write(generate(args.lines, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
