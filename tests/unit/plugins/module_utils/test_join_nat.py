"""The join after NAT: the router is asked about the packet on the wire (netfilter/markmap.py applies the nat table).

The founding marking (mangle POSTROUTING writes 0x04 on mail replies) on a firewall that masquerades or
SNATs its uplink: the router's ACL decides on the translated source, and the conflict's flow says so.
"""

import pathlib

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader

EXAMPLE = pathlib.Path(__file__).parents[4] / "inventories" / "example" / "files"
MANGLE = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -p tcp -m tcp --sport 25 --dport 1024:65535 "
          "-j TOS --set-tos 0x04/0xff\nCOMMIT\n")
NAT = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n%sCOMMIT\n"
# Null0 for DSCP 1 only from 192.0.2.0/24 (the firewall's public addresses).
ROUTER = """hostname edge
!
access-list 150 permit ip 192.0.2.0 0.0.0.255 any dscp 1
!
route-map null_public permit 10
 match ip address 150
 set interface Null0
!
interface GigabitEthernet0/0
 ip address 203.0.113.2 255.255.255.252
 ip policy route-map null_public
!
interface GigabitEthernet0/1
 ip address 198.51.100.1 255.255.255.0
!
end
"""


def _audit(nat_rules):
    dump = "*nat\n" if False else ""
    text = (NAT % nat_rules if nat_rules else "") + MANGLE
    results = {"fw": {"diffserv_collection": {"platform": "iptables", "managed": True, "files": [
                   {"name": "iptables-save", "source": "fw.rules", "text": text}]}},
               "edge": {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
                   {"name": "running-config", "source": "edge.cfg", "text": ROUTER}]}}}
    fleet = loader.load_fleet(results, [{"from": "fw:eth0", "to": "edge:GigabitEthernet0/0"}])
    return analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)


def test_snat_to_the_public_range_meets_the_routers_acl_on_the_translated_source():
    found = _audit("-A POSTROUTING -s 10.0.0.0/8 -o eth0 -j SNAT --to-source 192.0.2.9\n")
    assert [c.treatment.action for c in found.conflicts] == ["null-routed"]
    words = " ".join(flow.words for c in found.conflicts for flow in c.flows)
    assert "192.0.2.9" in words, words


def test_snat_outside_the_acls_range_is_no_conflict_for_the_translated_packets():
    found = _audit("-A POSTROUTING -o eth0 -j SNAT --to-source 203.0.113.9\n")
    assert found.conflicts == ()


def test_masquerade_asks_the_router_about_every_address_the_uplink_may_hold():
    # The dump does not say which address eth0 holds: the class is not empty, the router's ACL on
    # 192.0.2.0/24 meets part of it, and the conflict is found (never a silent "no conflict").
    found = _audit("-A POSTROUTING -o eth0 -j MASQUERADE\n")
    assert found.conflicts, "a masqueraded flow lost its conflict"
    assert {c.treatment.action for c in found.conflicts} == {"null-routed"}
