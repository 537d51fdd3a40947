"""Which platform a Linux firewall runs, told from what iptables-save, ip6tables-save and nft printed."""

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.plugin_utils.session import Collected, shared_commands, what_runs

ROOT = pathlib.Path(__file__).resolve().parents[4]
DUMP = (ROOT / "inventories" / "example" / "files" / "partner-fw.rules").read_text()
NATIVE = (ROOT / "tests" / "fixtures" / "inputs" / "nft" / "partner-fw.nft").read_text()
# What nft 1.0.6 lists on a host whose only tables iptables-nft made (seen in the lab; stderr kept).
IPTABLES_NFT_ONLY = """# Warning: table ip mangle is managed by iptables-nft, do not touch!
table ip mangle {
\tchain POSTROUTING {
\t\ttype filter hook postrouting priority mangle; policy accept;
\t\toifname "eth0" tcp dport 512-65535 counter packets 0 bytes 0 ip6 dscp set 0x01
\t}
}
"""


def collected(v4="", v6="", nft=None):
    found = [Collected("iptables-save", v4, "iptables-save"), Collected("ip6tables-save", v6, "ip6tables-save")]
    if nft is not None:
        found.append(Collected("nft-ruleset", nft, "nft list ruleset"))
    return found


def test_a_firewall_is_asked_every_firewall_drivers_commands_its_own_first():
    commands = shared_commands(platforms.driver("iptables"), platforms.DRIVERS.values())
    assert [c.command for c in commands] == ["iptables-save", "ip6tables-save", "nft list ruleset"]
    assert [c.command for c in shared_commands(platforms.driver("ios"), platforms.DRIVERS.values())] == \
        ["show running-config"]


def test_iptables_rules_and_only_iptables_nft_tables_in_the_listing_are_an_iptables_host():
    running = what_runs(collected(DUMP, "", IPTABLES_NFT_ONLY), "iptables")
    assert running.platform == "iptables" and [i.name for i in running.items] == ["iptables-save", "ip6tables-save"]
    assert running.companions == () and running.notes == ()


def test_a_host_without_nft_is_an_iptables_host():
    assert what_runs(collected(DUMP), "iptables").platform == "iptables"


def test_native_tables_and_no_iptables_rule_are_an_nftables_host():
    running = what_runs(collected("", "", NATIVE), "iptables")
    assert running.platform == "nftables" and [i.name for i in running.items] == ["nft-ruleset"]
    assert running.notes == ("nft list ruleset: native nft tables (inet partner); iptables shows no rule",)


def test_native_tables_beside_iptables_rules_are_analysed_together_and_said():
    running = what_runs(collected(DUMP, "", IPTABLES_NFT_ONLY + NATIVE), "iptables")
    assert running.platform == "nftables"
    assert [i.name for i in running.items] == ["iptables-save", "nft-ruleset"]
    assert [i.name for i in running.companions] == ["iptables-save"]
    assert running.notes == ("nft list ruleset: native nft tables (inet partner) run beside iptables tables "
                             "(mangle; nft lists them as ip mangle): both are analysed, each base chain on its hook "
                             "in priority order",)


def test_a_command_sudo_refused_is_said():
    found = collected(DUMP) + [Collected("nft-ruleset", "", "nft list ruleset", refused="sudo on fw does not allow it")]
    running = what_runs(found, "iptables")
    assert running.platform == "iptables"
    assert running.notes == ("nft list ruleset: not collected: sudo on fw does not allow it (rules it holds are not seen)",)


def test_a_listing_of_only_tables_nft_warns_iptables_nft_manages_is_not_parsed(monkeypatch):
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables import nftjson

    monkeypatch.setattr(nftjson, "read_ruleset", lambda *args: pytest.fail("parsed"))
    assert what_runs(collected(DUMP, "", IPTABLES_NFT_ONLY), "iptables").platform == "iptables"


def test_a_listing_the_reader_refuses_leaves_an_iptables_host_as_it_was_and_says_so():
    broken = IPTABLES_NFT_ONLY.replace("# Warning: table ip mangle is managed by iptables-nft, do not touch!\n", "") \
        + "table inet odd {\n\tchain c {\n"
    running = what_runs(collected(DUMP, "", broken), "iptables")
    assert running.platform == "iptables" and [i.name for i in running.items] == ["iptables-save", "ip6tables-save"]
    assert running.notes[0].startswith("nft list ruleset: not read (nft list ruleset:")
    assert running.notes[0].endswith("native nft tables, if the host has any, are not analysed")


def test_a_listing_the_reader_refuses_fails_a_host_with_no_iptables_rule():
    from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError

    with pytest.raises(ParseError):
        what_runs(collected("", "", "table inet odd {\n\tchain c {\n"), "iptables")
