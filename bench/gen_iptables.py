"""A kube-proxy-like iptables-save dump of a chosen size, for the netfilter benchmark.

The shape follows what large Linux firewalls carry: the nat and filter tables of kube-proxy
(KUBE-SERVICES -> KUBE-SVC-* -> KUBE-SEP-* with comments, statistic and DNAT; thousands of user
chains and jumps), and a mangle table of TOS/DSCP markings organised per tenant (POSTROUTING
jumps per interface, then per source subnet, into chains that mark by port, multiport, address
and protocol, a third of them behind a "trust EF" guard and 5% of the rules keyed on the byte
itself), plus a flat chain of per-port TOS rules in PREROUTING as old hand-written firewalls
have (the founding dump's shape: PREROUTING sport rules, POSTROUTING dport rules).

    python bench/gen_iptables.py 100000 > /tmp/big.rules
"""

from __future__ import annotations

import random
import sys

TOS_TARGETS = ("-j TOS --set-tos 0x10/0xff", "-j TOS --set-tos 0x08/0xff", "-j TOS --set-tos 0x04/0xff",
               "-j TOS --set-tos 0x10/0x3f", "-j DSCP --set-dscp 0x2e", "-j DSCP --set-dscp 0x0a",
               "-j DSCP --set-dscp 0x12", "-j TOS --set-tos 0x00/0xfc", "-j DSCP --set-dscp 0x00")


def mangle_rules(count: int, rng: random.Random) -> list[str]:
    lines = [":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", ":QOS_OUT - [0:0]", ":QOS_IN - [0:0]",
             ":LEGACY_TOS - [0:0]"]
    rules = ["-A POSTROUTING -o eth0 -j QOS_OUT", "-A POSTROUTING -o eth1 -j QOS_IN",
             "-A PREROUTING -i eth0 -j LEGACY_TOS"]
    flat = count // 10
    for index in range(flat):
        port = 1 + (index * 37) % 65000
        rules.append("-A LEGACY_TOS -p tcp -m tcp --sport %d -j TOS --set-tos 0x%02x/0xff"
                     % (port, rng.choice((0x04, 0x08, 0x10))))
    tenants = max(1, (count - flat) // 50)
    per_tenant = (count - flat) // tenants
    for tenant in range(tenants):
        chain = "TENANT_%03d" % tenant
        lines.append(":%s - [0:0]" % chain)
        parent = "QOS_OUT" if tenant % 2 == 0 else "QOS_IN"
        rules.append("-A %s -s 10.%d.%d.0/24 -j %s" % (parent, tenant // 250, tenant % 250, chain))
        if tenant % 3 == 0:
            # Trust the tenant's own voice marking: a DS-byte match as a guard, as QoS scripts do.
            rules.append("-A %s -m dscp --dscp-class EF -j RETURN" % chain)
        for position in range(per_tenant):
            choice = rng.random()
            if choice < 0.6:
                match = "-p tcp -m tcp --dport %d" % rng.choice((22, 25, 53, 80, 110, 443, 465, 993, 995, 3306,
                                                                  5432, 8080, 8443, rng.randint(1024, 65535)))
            elif choice < 0.75:
                match = "-p udp -m udp --dport %d:%d" % tuple(sorted((rng.randint(1, 65535), rng.randint(1, 65535))))
            elif choice < 0.85:
                match = "-p tcp -m multiport --dports 20,21,%d:%d" % (1000 + position, 2000 + position)
            elif choice < 0.95:
                match = "-d 172.16.%d.0/24" % position
            else:
                match = "-m tos --tos 0x%02x/0x3f" % rng.choice((0x04, 0x08, 0x10))
            rules.append("-A %s %s -m comment --comment \"tenant %d rule %d\" %s"
                         % (chain, match, tenant, position, rng.choice(TOS_TARGETS)))
        rules.append("-A %s -j RETURN" % chain)
    return ["*mangle"] + lines + rules + ["COMMIT"]


def kube_rules(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    nat_chains = [":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                  ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", ":KUBE-POSTROUTING - [0:0]",
                  ":KUBE-MARK-MASQ - [0:0]", ":KUBE-NODEPORTS - [0:0]"]
    nat = ["-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
           "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
           "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
           "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
           "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
           "-A KUBE-POSTROUTING -j MASQUERADE --random-fully"]
    filter_chains = [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                     ":KUBE-FIREWALL - [0:0]", ":KUBE-EXTERNAL-SERVICES - [0:0]"]
    filt = ["-A INPUT -j KUBE-FIREWALL", "-A OUTPUT -j KUBE-FIREWALL",
            "-A KUBE-FIREWALL -m comment --comment \"kubernetes firewall for dropping marked packets\" "
            "-m mark --mark 0x8000/0x8000 -j DROP"]
    service = 0
    while len(nat) + len(filt) < count:
        name = "%016X" % rng.getrandbits(64)
        svc, port = "ns%d/svc%d:http" % (service % 50, service), rng.choice((80, 443, 8080, 53, 9090))
        nat_chains.append(":KUBE-SVC-%s - [0:0]" % name)
        nat.append("-A KUBE-SERVICES -d 10.96.%d.%d/32 -p tcp -m comment --comment \"%s cluster IP\" "
                   "-m tcp --dport %d -j KUBE-SVC-%s" % (service // 250, service % 250, svc, port, name))
        endpoints = rng.randint(1, 4)
        for endpoint in range(endpoints):
            sep = "%016X" % rng.getrandbits(64)
            nat_chains.append(":KUBE-SEP-%s - [0:0]" % sep)
            if endpoint < endpoints - 1:
                nat.append("-A KUBE-SVC-%s -m comment --comment \"%s\" -m statistic --mode random "
                           "--probability %.11f -j KUBE-SEP-%s" % (name, svc, 1.0 / (endpoints - endpoint), sep))
            else:
                nat.append("-A KUBE-SVC-%s -m comment --comment \"%s\" -j KUBE-SEP-%s" % (name, svc, sep))
            address = "10.244.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254))
            nat.append("-A KUBE-SEP-%s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ" % (sep, address, svc))
            nat.append("-A KUBE-SEP-%s -p tcp -m comment --comment \"%s\" -m tcp -j DNAT --to-destination %s:%d"
                       % (sep, svc, address, port))
        if service % 4 == 0:
            filt.append("-A KUBE-EXTERNAL-SERVICES -d 192.0.2.%d/32 -p tcp -m comment --comment \"%s has no "
                        "endpoints\" -m tcp --dport %d -j REJECT --reject-with icmp-port-unreachable"
                        % (service % 250, svc, port))
        service += 1
    return (["*nat"] + nat_chains + nat + ["COMMIT"], ["*filter"] + filter_chains + filt + ["COMMIT"])


def generate(total_rules: int, mangle_share: float = 0.05, seed: int = 7) -> str:
    rng = random.Random(seed)
    mangle = mangle_rules(int(total_rules * mangle_share), rng)
    mangle_count = sum(1 for line in mangle if line.startswith("-A"))
    nat, filt = kube_rules(total_rules - mangle_count, rng)
    header = ["# Generated by iptables-nft-save v1.8.9 (nf_tables) on Sun Nov 29 12:00:00 2026"]
    footer = ["# Completed on Sun Nov 29 12:00:00 2026"]
    return "\n".join(header + mangle + nat + filt + footer) + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 100000))
