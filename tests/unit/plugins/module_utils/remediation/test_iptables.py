# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DSCP-clearing rule goes where it wins, proven with the marking map."""

from __future__ import annotations

import doctest

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import iptables as ipt

from .scenarios import read

HEAD = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        ":POSTROUTING ACCEPT [0:0]\n")


# A TOS write in FORWARD, then an ACCEPT in POSTROUTING before a later write: no single place clears both.
NO_POSITION_WINS = HEAD + ("-A FORWARD -o eth0 -p tcp -m tcp --dport 25 -j TOS --set-tos 0x10/0xff\n"
                           "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j ACCEPT\n"
                           "-A POSTROUTING -o eth0 -j TOS --set-tos 0x04/0xff\n"
                           "COMMIT\n")


def test_docstring_examples_run():
    assert doctest.testmod(ipt).failed == 0


def test_founding_dump_gets_the_rule_at_the_end_of_postrouting():
    placed = ipt.place_clear_rule(read("partner-fw.rules"), "partner-fw.rules", "eth0")
    assert placed.appended and placed.position == 14 and placed.after_line == 35
    assert placed.writers[0] == 9 and placed.writers[-1] == 35  # PREROUTING and POSTROUTING writes, all before it
    marks = marking_map(parse_ruleset(placed.candidate, "candidate"), interfaces=["eth0"])
    assert ipt.still_marked(marks, "eth0") == []
    before = marking_map(parse_ruleset(read("partner-fw.rules"), "x"), interfaces=["eth0"])
    assert ipt.still_marked(before, "eth0")


def test_an_accept_after_a_write_moves_the_rule_before_it():
    dump = HEAD + ("-A POSTROUTING -o eth0 -j TOS --set-tos 0x04/0xff\n"
                   "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 25 -j ACCEPT\n"
                   "COMMIT\n")
    placed = ipt.place_clear_rule(dump, "fw.rules", "eth0")
    assert (placed.position, placed.appended, placed.after_line) == (2, False, 7)
    assert ipt.clear_commands(placed)[0] == ("iptables -t mangle -I POSTROUTING 2 -o eth0 -j DSCP --set-dscp 0",)


def test_no_single_position_can_win_and_it_says_why():
    dump = NO_POSITION_WINS + PROXY
    with pytest.raises(ipt.PlacementError, match="no position in mangle POSTROUTING"):
        ipt.place_clear_rule(dump, "fw.rules", "eth0")


def test_a_dump_without_mangle_gets_one():
    dump = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    placed = ipt.place_clear_rule(dump, "fw.rules", "eth0")
    ruleset = parse_ruleset(placed.candidate, "candidate")
    assert [rule.text for rule in ruleset.tables["mangle"].rules("POSTROUTING")] == [
        "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00"]


def test_counters_style_is_kept():
    dump = HEAD + "[12:3400] -A POSTROUTING -o eth0 -j TOS --set-tos 0x04/0xff\nCOMMIT\n"
    placed = ipt.place_clear_rule(dump, "fw.rules", "eth0")
    assert "[0:0] -A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in placed.candidate.split("\n")


def test_ecn_bits_survive_the_clearing():
    dump = HEAD + "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x01\nCOMMIT\n"
    placed = ipt.place_clear_rule(dump, "fw.rules", "eth0")
    marks = marking_map(parse_ruleset(placed.candidate, "c"), interfaces=["eth0"])
    (marking,) = [m for m in marks.leaving("eth0", path="forward") if m.writers]
    assert marking.keep & 0x03 == 0x03 and marking.set == 0  # the DSCP target keeps ECN (RFC 3168)


def test_chain_listing_is_what_iptables_save_prints():
    listing = ipt.chain_listing(read("partner-fw.rules"), "x")
    assert listing[0] == "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 110 -j TOS --set-tos 0x04"
    assert len(listing) == 13


def test_ip6tables_commands_for_an_ipv6_dump():
    placed = ipt.place_clear_rule(HEAD + "COMMIT\n", "fw.rules", "eth0")
    assert ipt.clear_commands(placed, family=6)[1] == (
        "ip6tables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0",)


@pytest.fixture
def big_enough(monkeypatch, forks):
    """Every dump counts as big (a forked child walks the writer lines); the children forked are counted."""
    from ansible_collections.diffserv.audit.plugins.module_utils import forking
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "")
    monkeypatch.setattr(forking, "FORK_MIN_BYTES", 1)
    monkeypatch.setattr(forking, "worth_forking", lambda hosts, pieces, size=0: size >= forking.FORK_MIN_BYTES)
    return forking, forks


# The founding dump with a transparent proxy: a REDIRECT moves the out interface of the packets it takes, so the
# lines that write the byte of packets leaving by eth0 are walked through the map's histories, not read from the
# writes (MarkingMap.writes_reach_the_end).
PROXY = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
         "-A PREROUTING -i eth1 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3128\nCOMMIT\n")
REDIRECTED = read("partner-fw.rules") + PROXY


def test_a_big_dumps_writer_lines_walked_beside_give_the_same_placement(big_enough, monkeypatch):
    forking, pids = big_enough
    assert not marking_map(parse_ruleset(REDIRECTED, "fw.rules"), interfaces=["eth0"]).writes_reach_the_end
    forked = ipt.place_clear_rule(REDIRECTED, "fw.rules", "eth0")
    assert len(pids) == 1
    monkeypatch.setattr(forking, "FORK_MIN_BYTES", 1 << 40)
    alone = ipt.place_clear_rule(REDIRECTED, "fw.rules", "eth0")
    assert len(pids) == 1 and forked.writers == alone.writers and forked.writers[:1] == (9,)
    assert (forked.candidate, forked.position, forked.proof) == (alone.candidate, alone.position, alone.proof)
    # The same lines as read from the writes of the dump without the proxy (it writes no byte), with no child.
    plain = ipt.place_clear_rule(read("partner-fw.rules"), "partner-fw.rules", "eth0")
    assert plain.writers == alone.writers and len(pids) == 1

    def broken(*_args, **_kwargs):
        raise RuntimeError("the child cannot pickle")

    # A child that fails costs nothing but time: the lines are walked here.
    monkeypatch.setattr(forking, "FORK_MIN_BYTES", 1)
    monkeypatch.setattr(forking.pickle, "dumps", broken)
    assert ipt.place_clear_rule(REDIRECTED, "fw.rules", "eth0").writers == alone.writers
    assert len(pids) == 2


def test_a_refused_placement_reaps_the_child_it_started(big_enough):
    _forking, pids = big_enough
    dump = NO_POSITION_WINS + PROXY
    with pytest.raises(ipt.PlacementError, match="no position in mangle POSTROUTING"):
        ipt.place_clear_rule(dump, "fw.rules", "eth0")
    assert len(pids) == 1
    with pytest.raises(ChildProcessError):
        import os
        os.waitpid(pids[0], 0)  # already reaped: no zombie left behind
