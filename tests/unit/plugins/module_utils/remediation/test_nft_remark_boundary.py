# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remark_boundary on an nft host: the clearing chain's priority, proved by the changed ruleset's marking map."""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import nftables as nft
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import remark_boundary
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import build_fleet
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options

from .scenarios import BY_NAME, read

ROOT = pathlib.Path(__file__).resolve().parents[5]
FOUNDING = (ROOT / "tests" / "fixtures" / "inputs" / "nft" / "partner-fw.nft").read_text()
FIREWALL = "partner-fw"
POST_WRITER = """table inet partner {
\tchain post {
\t\ttype filter hook postrouting priority mangle; policy accept;
\t\toifname "eth0" tcp dport 512-65535 ip dscp set lephb
\t}
}
"""


def leaving_marked(text, egress="eth0", family=4):
    """Classes leaving by the egress whose DSCP may not be 0, in the text as the nftables reader reads it."""
    marks = marking_map(read_ruleset(text, "candidate.nft").view(family), interfaces=[egress])
    return nft.still_marked(marks, egress)


def test_the_founding_incident_in_nft_gets_a_chain_after_its_mangle_chain_and_is_proved_clean():
    placed = nft.place_clear_chain(FOUNDING, "partner-fw.nft", ["eth0"])
    assert placed.priority == -140  # after `priority mangle` (-150): the last base chain that writes the byte
    assert [(s.table, s.chain, s.priority) for s in placed.follows] == [("inet partner", "postrouting", -150)]
    assert placed.candidate == FOUNDING + "\n".join([
        "table inet diffserv_audit {", "\tchain postrouting {",
        "\t\ttype filter hook postrouting priority mangle + 10; policy accept;",
        '\t\toifname "eth0" ip dscp set cs0', '\t\toifname "eth0" ip6 dscp set cs0', "\t}", "}"]) + "\n"
    assert leaving_marked(FOUNDING) and not leaving_marked(placed.candidate)
    assert "leave with DSCP 0" in placed.proof and "inet partner postrouting (mangle)" in placed.proof
    assert placed.writers == (4, 5, 6, 7, 8, 13, 14, 15, 16)


def test_a_chain_listed_first_with_a_higher_priority_is_followed_not_the_last_one_listed():
    # Listed first, it runs last (priority 300): the clearing goes after it, whatever the text order.
    late = """table inet late {
\tchain post {
\t\ttype filter hook postrouting priority 300; policy accept;
\t\toifname "eth0" udp dport 4000-4100 ip dscp set lephb
\t}
}
"""
    placed = nft.place_clear_chain(late + POST_WRITER, "fw.nft", ["eth0"])
    assert placed.priority == 310 and nft.priority_text(310) == "310"
    assert [s.table for s in placed.follows] == ["inet partner", "inet late"]
    assert leaving_marked(late + POST_WRITER) and not leaving_marked(placed.candidate)


def test_a_re_mark_the_writer_does_not_see_refuses_the_first_priority_and_the_proof_places_it_later():
    # The chain at 300 writes nothing itself: it jumps to a regular chain that does. The first try (after
    # the last base chain whose own rules write, mangle + 10) leaves packets marked, so the marking map
    # of that candidate refuses it, and the chain goes after every base chain on the hook.
    hidden = """table inet late {
\tchain post {
\t\ttype filter hook postrouting priority 300; policy accept;
\t\tjump remark
\t}

\tchain remark {
\t\toifname "eth0" tcp dport 8000-8100 ip dscp set lephb
\t}
}
"""
    text = POST_WRITER + hidden
    placed = nft.place_clear_chain(text, "fw.nft", ["eth0"])
    assert placed.priority == 310
    assert "after the last base chain that writes the byte: priority mangle + 10 is refused, packets leave still " \
           "marked by line(s) 14" in placed.proof
    assert text.split("\n")[13].strip() == 'oifname "eth0" tcp dport 8000-8100 ip dscp set lephb'
    early = nft.with_chain(text, ["eth0"], -140)
    assert leaving_marked(early) and not leaving_marked(placed.candidate)


def test_equal_priority_runs_the_chain_created_last_first_so_an_equal_re_marker_pushes_ours_later():
    # An existing chain at mangle + 10 jumps to a writer: ours at the same priority, created last, would
    # run first (semantics.md); the proof refuses mangle + 10 and places it after every chain.
    same = """table inet same {
\tchain post {
\t\ttype filter hook postrouting priority mangle + 10; policy accept;
\t\tjump remark
\t}

\tchain remark {
\t\toifname "eth0" ip dscp set lephb
\t}
}
"""
    placed = nft.place_clear_chain(POST_WRITER + same, "fw.nft", ["eth0"])
    assert placed.priority == -130
    assert "priority mangle + 10 is refused" in placed.proof


def test_nothing_can_follow_a_re_marker_at_the_largest_priority_so_the_change_is_refused():
    last = """table inet last {
\tchain post {
\t\ttype filter hook postrouting priority 2147483647; policy accept;
\t\tjump remark
\t}

\tchain remark {
\t\toifname "eth0" ip dscp set lephb
\t}
}
"""
    with pytest.raises(nft.PlacementError) as refused:
        nft.place_clear_chain(POST_WRITER + last, "fw.nft", ["eth0"])
    assert "no priority on the postrouting hook clears DSCP" in str(refused.value)
    assert "beyond the kernel's largest" in str(refused.value) and "is refused" in str(refused.value)


def test_a_table_of_ours_already_there_is_not_changed_again():
    placed = nft.place_clear_chain(POST_WRITER, "fw.nft", ["eth0"])
    with pytest.raises(nft.PlacementError, match="table inet diffserv_audit exists already"):
        nft.place_clear_chain(placed.candidate, "fw.nft", ["eth0"])


IPTABLES_NFT = """# Warning: table ip mangle is managed by iptables-nft, do not touch!
table ip mangle {
\tchain POSTROUTING {
\t\ttype filter hook postrouting priority mangle; policy accept;
\t\toifname "eth0" tcp dport 512-65535 counter packets 0 bytes 0 ip6 dscp set 0x01
\t}
}
"""
DUMP = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04/0xff
COMMIT
"""


def test_iptables_nft_tables_without_their_dump_are_not_proved_from_nft_translation():
    # nft 1.0.6 lists iptables-nft's `--set-tos 0x04/0xff` as `ip6 dscp set 0x01` (seen in the kernel lab).
    with pytest.raises(nft.PlacementError, match=r"iptables-nft tables \(ip mangle\) and their iptables-save dump"):
        nft.place_clear_chain(IPTABLES_NFT + POST_WRITER, "fw.nft", ["eth0"])


def test_with_the_dump_beside_the_listing_the_proof_reads_iptables_rules_on_their_hook():
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View
    from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset

    text = IPTABLES_NFT + POST_WRITER.replace("tcp dport 512-65535", "udp dport 4000")
    view = View(read_ruleset(text, "fw.nft"), 4, iptables=parse_ruleset(DUMP, "fw.rules"))
    placed = nft.place_clear_chain(text, "fw.nft", ["eth0"], view=view)
    # The iptables table mangle (-150) and the native chain (mangle) both write: ours follows both.
    assert placed.priority == -140 and {s.table for s in placed.follows} == {"mangle", "inet partner"}
    assert placed.writers == (7, 11)  # the dump's rule (fw.rules:7) and the native rule (fw.nft:11)
    candidate = View(read_ruleset(placed.candidate, "fw.nft"), 4, iptables=parse_ruleset(DUMP, "fw.rules"))
    assert not nft.still_marked(marking_map(candidate, interfaces=["eth0"]), "eth0")


def test_no_known_egress_clears_every_interface_in_both_families():
    placed = nft.place_clear_chain(POST_WRITER, "fw.nft", [None])
    assert placed.commands[2:] == ("add rule inet diffserv_audit postrouting ip dscp set cs0",
                                   "add rule inet diffserv_audit postrouting ip6 dscp set cs0")
    assert "leaving by any interface" in placed.proof


def test_priorities_print_as_nft_lists_them():
    assert [nft.priority_text(v) for v in (-300, -290, -160, 0, -10, 50, 100, 111, -100)] == \
        ["raw", "raw + 10", "mangle - 10", "filter", "filter - 10", "security", "srcnat", "111", "-100"]


def test_what_the_device_lists_after_the_load_is_checked_against_the_plan():
    placed = nft.place_clear_chain(POST_WRITER, "fw.nft", ["eth0"])
    assert nft.applied_problem(placed.candidate, placed.candidate, "fw") is None
    assert "is not listed" in nft.applied_problem(placed.candidate, POST_WRITER, "fw")
    moved = placed.candidate.replace("priority mangle + 10", "priority filter")
    assert "not as planned" in nft.applied_problem(placed.candidate, moved, "fw")


def test_drift_compares_rules_not_counters_nor_nft_warnings():
    counted = POST_WRITER.replace("ip dscp set lephb", "counter packets 12 bytes 900 ip dscp set lephb")
    assert nft.rules_only(counted) == nft.rules_only(
        "# Warning: table ip mangle is managed by iptables-nft, do not touch!\n" +
        counted.replace("packets 12 bytes 900", "packets 0 bytes 0"))
    assert nft.rules_only(counted) != nft.rules_only(POST_WRITER)


# ------------------------------------------------------------------ through remark_boundary and the plan
def nft_fleet(managed=True):
    texts = {FIREWALL: core.HostText(FIREWALL, "nftables", FOUNDING, "partner-fw.nft", managed),
             "border-rtr1": core.HostText("border-rtr1", "ios", read("border-rtr1.cfg"), "border-rtr1.cfg")}
    seed = {"summary": {"firewalls": [FIREWALL], "routers": ["border-rtr1"]},
            "links": [{"from": "%s:eth0" % FIREWALL, "to": "border-rtr1:GigabitEthernet0/0", "assumed": False}],
            "conflicts": []}
    findings = core.audit_texts(core.build_fleet(seed, texts, core.Options()), {})
    return texts, findings


def test_the_driver_names_the_writer_remark_boundary_uses():
    assert platforms.driver("nftables").firewall_writer() is nft
    assert platforms.driver("iptables").firewall_writer().APPLY == "iptables-restore"
    assert nft.APPLY == "nft -f" and platforms.driver("ios").firewall_writer() is None


def test_remark_boundary_plans_an_nft_chain_for_an_nft_host_and_the_fleet_re_audits_clean():
    texts, findings = nft_fleet()
    assert any(c.marker.host == FIREWALL for c in findings.conflicts)
    (plan,) = core.plan_remediation(findings, texts, Options(strategies=("remark_boundary",)))
    change = {c.host: c for c in plan.changes}[FIREWALL]
    assert change.platform == "nftables" and change.apply
    assert change.commands == (
        "add table inet diffserv_audit",
        "add chain inet diffserv_audit postrouting { type filter hook postrouting priority -140; policy accept; }",
        'add rule inet diffserv_audit postrouting oifname "eth0" ip dscp set cs0',
        'add rule inet diffserv_audit postrouting oifname "eth0" ip6 dscp set cs0')
    assert change.rollback == ("delete table inet diffserv_audit",)
    assert plan.clean and plan.recheck.clean and plan.recheck_managed.clean
    (window,) = [w for w in plan.windows if w.between.startswith(FIREWALL)]
    assert window.between == "%s, one nft -f transaction" % FIREWALL
    (add,) = [a for a in change.actions if a.verb == "add"]
    assert add.lines == ((12, "type filter hook postrouting priority mangle; policy accept;"),)
    # The firewall's part alone clears it too: the re-audit of our changes only.
    firewall_only = core.audit_texts(build_fleet(findings, texts, Options()), {FIREWALL: change.candidate})
    assert not [c for c in firewall_only.conflicts if c.marker.host == FIREWALL]


def test_an_unmanaged_nft_host_gets_a_request_in_nft_syntax():
    from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import render_bundle

    texts, findings = nft_fleet(managed=False)
    plans = core.plan_remediation(findings, texts, Options(strategies=("remark_boundary",)))
    files = render_bundle(plans[0], plans, findings)
    request = files["%s.request.md" % FIREWALL]
    assert "%s.commands" % FIREWALL not in files
    assert "    add chain inet diffserv_audit postrouting { type filter hook postrouting priority -140; " \
           "policy accept; }" in request
    assert "    delete table inet diffserv_audit" in request and "nft -f FILE" in request
    assert "+table inet diffserv_audit {" in files["%s.diff" % FIREWALL]


def test_a_managed_nft_host_gets_its_nft_file_and_rollback_in_the_bundle():
    from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import render_bundle

    texts, findings = nft_fleet()
    plans = core.plan_remediation(findings, texts, Options(strategies=("remark_boundary",)))
    files = render_bundle(plans[0], plans, findings)
    assert files["%s.commands" % FIREWALL].startswith("add table inet diffserv_audit\nadd chain inet diffserv_audit")
    assert files["%s.rollback" % FIREWALL] == "delete table inet diffserv_audit\n"


def test_the_iptables_scenarios_still_get_the_iptables_rule():
    from .scenarios import build

    hosts, findings = build(BY_NAME["founding"], firewall_managed=True)
    result = remark_boundary.plan(build_fleet(findings, hosts, Options()), findings.conflicts, Options())
    (firewall,) = [c for c in result.changes if c.host == "partner-fw"]
    assert firewall.commands == ("iptables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0",)
