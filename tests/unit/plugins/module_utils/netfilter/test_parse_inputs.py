"""Files nobody on the team wrote: what iptables-restore accepts is read, what was cut short is refused.

Every valid sample (tests/fixtures/inputs/) is also given to `{ip,ip6}tables-{legacy,nft}-restore --test`
in a throwaway network namespace when the tests run as root, so each test proves its file is one the
kernel tools load (or, where the backends disagree, which one refuses it).  Where a hand-written file
can be loaded for real, the rules iptables-save prints back are parsed too and must mean the same.
"""

import os
import pathlib
import shutil
import subprocess
import time
import tracemalloc
import uuid

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import (
    RESTORE_LINE_MAX, RESTORE_WORDS_MAX, AddrCond, IfaceCond, Jump, Opaque, PortCond, ProtoCond, SetDscp, SetTos,
    Verdict, parse_dumps, parse_ruleset,
)

INPUTS = pathlib.Path(__file__).resolve().parents[4] / "fixtures" / "inputs"
BACKENDS = ("legacy", "nft")
MANGLE = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
          ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")


def sample(name):
    return (INPUTS / name).read_text(encoding="utf-8")


def _kernel_tools_missing():
    if os.geteuid() != 0:
        return "not root: cannot make a network namespace to ask iptables-restore"
    for tool in ("ip", "iptables-legacy-restore", "iptables-nft-restore", "ip6tables-legacy-restore",
                 "ip6tables-nft-restore"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


class Namespace:
    """A network namespace of our own: the host's tables are never touched, and it is deleted after."""

    def __init__(self):
        self.name = "dsparse-%s" % uuid.uuid4().hex[:8]

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        return self

    def __exit__(self, *_exc):
        subprocess.run(["ip", "netns", "delete", self.name], check=False, capture_output=True)

    def run(self, command, text):
        return subprocess.run(["ip", "netns", "exec", self.name] + command, input=text, capture_output=True,
                              text=True, timeout=60)


def restore_test(text, family=4):
    """{backend: None when `--test` accepts the text, else what the tool said}; skips unless root."""
    missing = _kernel_tools_missing()
    if missing:
        pytest.skip(missing)
    tool = "ip6tables" if family == 6 else "iptables"
    said = {}
    with Namespace() as netns:
        for backend in BACKENDS:
            done = netns.run(["%s-%s-restore" % (tool, backend), "--test"], text)
            said[backend] = None if done.returncode == 0 else (done.stderr or done.stdout).strip()
    return said


def assert_restore_accepts(text, family=4):
    assert restore_test(text, family) == {"legacy": None, "nft": None}


def saved_by_kernel(text, family=4, backend="legacy"):
    """What `iptables-save -c` prints after `iptables-restore` loaded the text for real in a fresh namespace."""
    missing = _kernel_tools_missing()
    if missing:
        pytest.skip(missing)
    tool = "ip6tables" if family == 6 else "iptables"
    with Namespace() as netns:
        loaded = netns.run(["%s-%s-restore" % (tool, backend)], text)
        assert loaded.returncode == 0, loaded.stderr
        saved = netns.run(["%s-%s-save" % (tool, backend), "-c"], "")
        assert saved.returncode == 0, saved.stderr
    return saved.stdout


def meaning(ruleset):
    """Per table and chain, what each rule does, in order: the same whatever way the rule was spelt."""
    def target(rule):
        if isinstance(rule.target, SetTos):
            return ("TOS", rule.target.value, rule.target.mask)
        if isinstance(rule.target, SetDscp):
            return ("DSCP", rule.target.dscp)
        return rule.target

    found = {}
    for table in ruleset.tables.values():
        for chain in table.chains:
            rules = table.rules(chain)
            if rules:
                found[(table.name, chain)] = [(frozenset(r.conditions), target(r), r.counters or (0, 0)) for r in rules]
    return found


def assert_kernel_reads_it_the_same(text, family=4):
    for backend in BACKENDS:
        saved = saved_by_kernel(text, family, backend)
        assert meaning(parse_ruleset(text, "written", family)) == meaning(parse_ruleset(saved, "saved", family)), saved


# ---------------------------------------------------------------------------
# 1. Integrity: iptables-save's header must be closed by its trailer


def test_cut_after_the_filter_tables_commit_is_refused_at_that_commit():
    text = sample("filter-then-mangle.cut-after-filter-commit.v4")
    with pytest.raises(ParseError) as raised:
        parse_ruleset(text, "fw.v4")
    assert str(raised.value).startswith("fw.v4:8: dump truncated after table filter's COMMIT")
    assert "'# Completed on'" in str(raised.value)
    with pytest.raises(ParseError, match=r"^fw.v4:8: "):
        parse_dumps(text, "fw.v4")
    # iptables-restore itself cannot tell: it loads the cut file as if it were whole.
    assert_restore_accepts(text)


def test_cut_right_after_the_mangle_tables_header_is_refused_at_that_header():
    text = sample("filter-then-mangle.cut-after-mangle-header.v4")
    with pytest.raises(ParseError, match=r"^fw.v4:10: '# Generated by' with no table after it"):
        parse_ruleset(text, "fw.v4")
    assert_restore_accepts(text)


def test_the_whole_dump_is_read():
    text = sample("filter-then-mangle.v4")
    ruleset = parse_ruleset(text, "fw.v4")
    assert list(ruleset.tables) == ["filter", "mangle"] and ruleset.family == 4
    assert [r.line for r in ruleset.tables["mangle"].rules("POSTROUTING")] == [17, 18]
    assert ruleset.lines == (1, 20) and ruleset.diagnostics == []
    assert_restore_accepts(text)


def test_a_trailer_lost_before_the_next_header_is_a_cut_at_the_commit():
    text = sample("filter-then-mangle.v4").replace("# Completed on Sat Dec  5 18:08:03 2026\n", "", 1)
    with pytest.raises(ParseError, match=r"^fw.v4:8: dump truncated after table filter's COMMIT.*next '# Generated by' on line 9"):
        parse_ruleset(text, "fw.v4")


def test_hand_written_files_without_header_comments_need_no_trailer():
    ruleset = parse_ruleset(MANGLE + "-A POSTROUTING -j DSCP --set-dscp 1\nCOMMIT\n", "f")
    assert ruleset.tables["mangle"].rules("POSTROUTING")[0].target == SetDscp(1, "--set-dscp 1")


def test_headers_a_person_edited_prove_nothing_about_trailers():
    # Batfish's host2.iptables: headers without " on <date>", one with it, no trailer at all.
    text = ("# Generated by iptables-save v1.4.7 \n" + MANGLE + "COMMIT\n\n"
            "# Generated by iptables-save v1.4.7 on Thu Dec 5 07:40:27 2013\n*filter\n:INPUT DROP [0:0]\nCOMMIT\n")
    assert list(parse_ruleset(text, "f").tables) == ["mangle", "filter"]
    assert_restore_accepts(text)
    # The same dump as iptables-save writes it, cut after its first table, is refused.
    as_written = text.replace("v1.4.7 \n", "v1.4.7 on Thu Dec 5 07:40:27 2013\n").split("\n\n")[0] + "\n"
    with pytest.raises(ParseError, match=r"^f:8: dump truncated after table mangle's COMMIT"):
        parse_ruleset(as_written, "f")


# ---------------------------------------------------------------------------
# 2. What iptables-restore accepts


def test_built_in_chains_without_their_declaration_line():
    text = sample("no-chain-lines.rules")
    ruleset = parse_ruleset(text, "batfish.rules")
    mangle = ruleset.tables["mangle"]
    assert mangle.chains["POSTROUTING"].builtin and mangle.chains["POSTROUTING"].policy == "ACCEPT"
    assert [r.target for r in mangle.rules("POSTROUTING")] == [SetTos(0x10, 0xFF, "--set-tos 0x10", True),
                                                               SetDscp(1, "--set-dscp 1")]
    assert ruleset.tables["filter"].chains["INPUT"].policy == "DROP"
    notes = [str(d).splitlines()[0] for d in ruleset.diagnostics]
    assert notes == ["batfish.rules:3: built-in chain POSTROUTING has no ':POSTROUTING' line: iptables-restore leaves "
                     "its policy as the kernel had it (ACCEPT on a fresh table); read as ACCEPT",
                     "batfish.rules:9: built-in chain FORWARD has no ':FORWARD' line: iptables-restore leaves "
                     "its policy as the kernel had it (ACCEPT on a fresh table); read as ACCEPT"]
    assert_restore_accepts(text)
    assert_kernel_reads_it_the_same(text)


def test_a_declaration_after_the_rules_replaces_the_assumed_chain_and_its_note():
    text = "*filter\n-A INPUT -j ACCEPT\n:INPUT DROP [0:0]\nCOMMIT\n"
    ruleset = parse_ruleset(text, "f")
    assert ruleset.tables["filter"].chains["INPUT"].policy == "DROP" and ruleset.diagnostics == []
    assert_restore_accepts(text)


def test_long_options_abbreviations_and_equals_signs():
    text = sample("long-options.rules")
    ruleset = parse_ruleset(text, "long.rules")
    mangle = ruleset.tables["mangle"]
    first, second = mangle.rules("FORWARD")
    assert set(first.conditions) == {
        IfaceCond("in", "eth1", False), IfaceCond("out", "eth0", False), ProtoCond(6, False),
        AddrCond("src", ((0xC0000200, 0xC00002FF),), False), AddrCond("dst", ((0xC6336407, 0xC6336407),), False),
        PortCond("dport", ((25, 25),), False)}
    assert first.target == Jump("QOS", False) and second.target == Jump("QOS", True)
    tos = mangle.rules("POSTROUTING")[0]
    assert PortCond("dport", ((587, 587),), False) in tos.conditions and tos.counters == (10, 20)
    assert mangle.rules("POSTROUTING")[1].conditions[0].text == "-f"
    assert [(r.line, r.target.dscp, r.counters) for r in mangle.rules("QOS")] == [(13, 4, (5, 6)), (14, 2, None)]
    assert_restore_accepts(text)
    assert_kernel_reads_it_the_same(text)


@pytest.mark.parametrize("rule", ["-A POSTROUTING -s1.2.3.4 -j ACCEPT", "-A POSTROUTING --source=1.2.3.4 -j ACCEPT",
                                  "-A POSTROUTING -ptcp -j ACCEPT", "-A POSTROUTING -jACCEPT"])
def test_values_glued_to_options_iptables_reads_whole_are_refused(rule):
    with pytest.raises(ParseError, match=r"^f:7: -[spj] takes its value as the next word"):
        parse_ruleset(MANGLE + rule + "\nCOMMIT\n", "f")
    said = restore_test(MANGLE + rule + "\nCOMMIT\n")
    assert said["legacy"] is not None  # iptables-nft-restore --test lets `-jACCEPT` through


def test_an_abbreviation_two_options_share_is_not_guessed():
    # `--in` could be --in-interface or --insert: getopt refuses it, and so do we.
    text = MANGLE + "-A PREROUTING --in eth0 -j ACCEPT\nCOMMIT\n"
    rule = parse_ruleset(text, "f").tables["mangle"].rules("PREROUTING")[0]
    assert rule.conditions == (Opaque("--in eth0", "unknown option outside any module"),)
    assert restore_test(text)["legacy"] is not None


def test_a_user_chain_with_a_word_where_its_counters_go():
    text = sample("user-chain-extra-word.rules")
    ruleset = parse_ruleset(text, "f")
    assert ruleset.tables["filter"].chains["LOGGING"].policy is None
    assert [r.target for r in ruleset.tables["filter"].rules("LOGGING")][-1] == Verdict("DROP", "drop")
    assert [str(d).splitlines()[0] for d in ruleset.diagnostics] == [
        "f:7: unmodeled: 'DROP' after the policy of chain LOGGING is not a counter [packets:bytes]; "
        "iptables-restore ignores it"]
    assert_restore_accepts(text)


def test_a_user_chain_with_a_policy_word():
    text = sample("user-chain-policy-word.rules")
    ruleset = parse_ruleset(text, "f")
    assert ruleset.tables["filter"].chains["LOGGING"].policy is None
    assert [str(d).splitlines()[0] for d in ruleset.diagnostics] == [
        "f:7: unmodeled: user chain LOGGING declared with policy 'DROP': user chains have no policy; "
        "iptables-nft-restore ignores it, iptables-legacy-restore refuses the line"]
    said = restore_test(text)
    assert said["nft"] is None and "Can't set policy `DROP' on `LOGGING'" in said["legacy"]


def test_counters_anywhere_in_a_rule():
    text = sample("counters-anywhere.rules")
    mangle = parse_ruleset(text, "f").tables["mangle"]
    post = mangle.rules("POSTROUTING")
    assert [r.counters for r in post] == [(10, 20), (30, 40), (50, 60)]
    # A mid-rule -c is no option of the tcp match before it: --sport after it still is.
    assert post[0].conditions == (ProtoCond(6, False), PortCond("dport", ((25, 25),), False),
                                  PortCond("sport", ((1024, 65535),), False))
    assert post[2].target == SetDscp(1, "--set-dscp 1")
    assert mangle.rules("OUTPUT")[0].counters == (70, 80)
    assert_restore_accepts(text)
    assert_kernel_reads_it_the_same(text)


@pytest.mark.parametrize("rule, reason", [
    ("-A OUTPUT -c 1 -j ACCEPT", "-c counters must be numbers"),
    ("-A OUTPUT -c 1", "-c needs packet and byte counters"),
    ("-A OUTPUT ! -c 1 2 -j ACCEPT", "cannot have ! before -c"),
])
def test_bad_counters_are_refused_as_iptables_refuses_them(rule, reason):
    with pytest.raises(ParseError, match="^f:7: " + reason):
        parse_ruleset(MANGLE + rule + "\nCOMMIT\n", "f")
    assert restore_test(MANGLE + rule + "\nCOMMIT\n")["legacy"] is not None


def test_insert_new_chain_and_policy_commands():
    text = sample("insert-new-chain-policy.rules")
    mangle = parse_ruleset(text, "f").tables["mangle"]
    assert [(r.index, r.line) for r in mangle.rules("POSTROUTING")] == [(1, 7), (2, 5), (3, 6), (4, 8)]
    assert mangle.chains["QOS"].builtin is False and mangle.chains["FORWARD"].policy == "ACCEPT"
    assert_restore_accepts(text)
    assert_kernel_reads_it_the_same(text)


def test_an_insert_past_the_end_of_the_chain_is_refused():
    text = MANGLE + "-I POSTROUTING 2 -j ACCEPT\nCOMMIT\n"
    with pytest.raises(ParseError, match=r"^f:7: -I POSTROUTING 2: the chain holds 0 rules here"):
        parse_ruleset(text, "f")
    assert restore_test(text)["legacy"] is not None


def test_rules_marked_for_one_family():
    text = sample("family-marked.rules")
    v4 = parse_ruleset(text, "f").tables["mangle"].rules("POSTROUTING")
    v6 = parse_ruleset(text, "f", family=6).tables["mangle"].rules("POSTROUTING")
    assert [(r.index, r.target.dscp) for r in v4] == [(1, 1), (2, 3)]
    assert [(r.index, r.target.dscp) for r in v6] == [(1, 2), (2, 3)]
    assert "f:9: rule marked -6 (IPv6 only): iptables-restore skips it in an IPv4 dump" in \
        str(parse_ruleset(text, "f").diagnostics[0])
    assert_restore_accepts(text, 4)
    assert_restore_accepts(text, 6)
    assert_kernel_reads_it_the_same(text, 4)
    assert_kernel_reads_it_the_same(text, 6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_iptables_save_then_ip6tables_save_in_one_file(backend):
    text = sample("iptables-save-then-ip6tables-save.%s" % backend)
    v4, v6 = parse_dumps(text, "both.rules")
    assert (v4.family, v4.lines, v6.family, v6.lines) == (4, (1, 20), 6, (21, 38))
    assert (v4.header.tool.startswith("iptables"), v6.header.tool.startswith("ip6tables")) == (True, True)
    assert (v4.header.backend, v6.header.backend) == (backend, backend)
    assert v6.tables["mangle"].rules("POSTROUTING")[0].line == 28
    assert v6.tables["mangle"].rules("POSTROUTING")[0].target == SetDscp(46, "--set-dscp 0x2e")
    assert [c.line for c in v6.comments] == [21, 30, 31, 38]
    with pytest.raises(ParseError, match=r"^both.rules:21: a second dump \(ip6tables.*-save output\) starts here: "
                                         r"read a file of several dumps with parse_dumps"):
        parse_ruleset(text, "both.rules")
    lines = text.split("\n")
    assert_restore_accepts("\n".join(lines[:20]) + "\n", 4)
    assert_restore_accepts("\n".join(lines[20:]), 6)


def test_a_repeated_table_starts_the_next_dump_with_its_header():
    # Two dumps under one tool name: the repeat of *mangle, and the header just before it, start the second.
    first = "# Generated by iptables-save v1.8.9 on x\n" + MANGLE + "COMMIT\n# Completed on x\n"
    second = first.replace("COMMIT", "-A OUTPUT -d 2001:db8::1 -j DSCP --set-dscp 1\nCOMMIT")
    dumps = parse_dumps(first + second, "f")
    assert [(d.lines, d.family, d.header.line) for d in dumps] == [((1, 9), 4, 1), ((10, 19), 6, 10)]
    assert "f:10: the header says iptables-save but every address in this dump is IPv6 (first on line 17)" in \
        str(dumps[1].diagnostics[0])
    with pytest.raises(ParseError, match=r"^f:11: table mangle appears twice: a second dump starts here"):
        parse_ruleset(first + second, "f")


def test_an_ip6tables_header_over_ipv4_addresses_is_an_ipv4_dump():
    text = sample("rules.v4-with-ip6tables-header")
    ruleset = parse_ruleset(text, "rules.v4")
    assert ruleset.family == 4
    assert [str(d).splitlines()[0] for d in ruleset.diagnostics] == [
        "rules.v4:1: the header says ip6tables-save but every address in this dump is IPv4 (first on line 7): "
        "read as an IPv4 dump"]
    assert_restore_accepts(text, 4)


def test_a_header_one_address_agrees_with_decides_and_the_other_is_an_error():
    text = ("# Generated by ip6tables-save v1.8.9 on x\n" + MANGLE + "-A OUTPUT -d 192.0.2.1 -j ACCEPT\n"
            "-A OUTPUT -d 2001:db8::1 -j ACCEPT\nCOMMIT\n# Completed on x\n")
    with pytest.raises(ParseError, match=r"^f:8: IPv4 address '192.0.2.1' in an IPv6 dump"):
        parse_ruleset(text, "f")


def test_a_given_family_is_not_second_guessed():
    text = sample("rules.v4-with-ip6tables-header")
    with pytest.raises(ParseError, match=r"^f:18: IPv4 address '198.51.100.7/32' in an IPv6 dump"):
        parse_ruleset(text, "f", family=6)


@pytest.mark.parametrize("rule, word, family", [
    ("-A INPUT -p icmpv6 -m icmp6 --icmpv6-type 133 -j ACCEPT", "-m icmp6", 6),
    ("-A INPUT -p tcp -j REJECT --reject-with icmp6-port-unreachable", "--reject-with icmp6-port-unreachable", 6),
    ("-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT", "-m icmp", 4),
    ("-A INPUT -p tcp -j REJECT --reject-with icmp-port-unreachable", "--reject-with icmp-port-unreachable", 4),
    ("-A INPUT -p icmpv6 --icmpv6-type 133 -j ACCEPT", "-m icmp6", 6),  # the implicit match of -p icmpv6
])
def test_words_only_one_family_loads_decide_a_dump_without_addresses_and_refuse_the_other(rule, word, family):
    text = "*filter\n:INPUT ACCEPT [0:0]\n" + rule + "\nCOMMIT\n"
    assert parse_ruleset(text, "f").family == family
    assert_restore_accepts(text, family)
    other = 10 - family
    address = "192.0.2.1" if other == 4 else "2001:db8::1"
    mixed = text.replace("COMMIT", "-A INPUT -s %s -j ACCEPT\nCOMMIT" % address)
    # Refused as the dump is loaded, whichever table holds the line (only lines with "icmp" are looked at;
    # the table itself is read rule by rule when first used).
    with pytest.raises(ParseError) as raised:
        parse_ruleset(mixed, "f")
    assert str(raised.value).startswith("f:3: %s is IPv%d only: ip%stables-restore refuses it in this IPv%d dump"
                                        % (word, family, "6" if other == 6 else "", other))
    assert restore_test(mixed, other)["legacy"] is not None
    # Marked for its family before the word, the rule is skipped before its matches load; after it, too late.
    marked = mixed.replace("-A INPUT -p", "-A INPUT -%d -p" % family)
    assert len(parse_ruleset(marked, "f").tables["filter"].rules("INPUT")) == 1
    assert_restore_accepts(marked, other)
    late = mixed.replace(rule, rule + " -%d" % family)
    with pytest.raises(ParseError, match="^f:3: "):
        parse_ruleset(late, "f").diagnostics
    assert restore_test(late, other)["legacy"] is not None


# ---------------------------------------------------------------------------
# 3. Text that still starts with a byte order mark


def test_a_str_that_still_starts_with_a_byte_order_mark():
    text = "\ufeff" + sample("filter-then-mangle.v4").replace("\n", "\r\n")
    ruleset = parse_ruleset(text, "notepad.rules")
    assert ruleset.header.tool == "iptables-save" and ruleset.header.line == 1
    assert [d.family for d in parse_dumps(text, "notepad.rules")] == [4]
    assert ruleset.tables["mangle"].rules("POSTROUTING")[0].text.endswith("--set-tos 0x04/0xff")


# ---------------------------------------------------------------------------
# 4. Output blow-up: huge lines cost what they weigh, and no more


BIG = 50 * 1024 * 1024


@pytest.mark.parametrize("where", ["rule", "garbage", "chain", "table"])
def test_a_50_mib_garbage_line_is_refused_quickly_and_briefly(where):
    garbage = "x " * (BIG // 2)
    line = {"rule": "-A OUTPUT " + garbage, "garbage": garbage, "chain": ":" + garbage, "table": "*" + garbage}[where]
    text = MANGLE + line + "\nCOMMIT\n"
    started = time.perf_counter()
    with pytest.raises(ParseError) as raised:
        parse_ruleset(text, "f")
    assert time.perf_counter() - started < 2.0
    message = str(raised.value)
    assert message.startswith("f:7: " if where != "table" else "f:1: ") and len(message) < 1000, message[:1000]


def test_the_longest_line_iptables_restore_reads_is_read_and_one_more_character_is_not():
    rule = "-A OUTPUT -j ACCEPT"
    longest = MANGLE + rule + " " * (RESTORE_LINE_MAX - len(rule)) + "\nCOMMIT\n"
    assert parse_ruleset(longest, "f").tables["mangle"].rule_count == 1
    assert_restore_accepts(longest)
    too_long = longest.replace(rule, rule + " ")
    with pytest.raises(ParseError, match=r"^f:7: line of 10240 characters: iptables-restore reads lines of at most 10239"):
        parse_ruleset(too_long, "f")
    assert restore_test(too_long)["legacy"] is not None


def test_the_most_words_iptables_restore_reads_in_a_rule():
    most = MANGLE + "-A OUTPUT " + "-v " * (RESTORE_WORDS_MAX - 4) + "-j ACCEPT\nCOMMIT\n"
    assert parse_ruleset(most, "f").tables["mangle"].rules("OUTPUT")[0].target == Verdict("ACCEPT", "accept")
    assert_restore_accepts(most)
    one_more = most.replace("-A OUTPUT ", "-A OUTPUT -v ")
    with pytest.raises(ParseError, match=r"^f:7: rule of 252 words: iptables-restore reads at most 251"):
        parse_ruleset(one_more, "f")
    assert restore_test(one_more)["legacy"] is not None


def test_a_50_mib_comment_costs_memory_linear_in_the_input():
    text = "# " + "c" * BIG + "\n" + MANGLE + "-A OUTPUT -j DSCP --set-dscp 1\nCOMMIT\n"
    tracemalloc.start()
    try:
        ruleset = parse_ruleset(text, "f")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The line list and the stripped comment: two copies of the input, nothing per character.
    assert peak < 2.5 * len(text), peak / len(text)
    assert ruleset.tables["mangle"].rules("OUTPUT")[0].target == SetDscp(1, "--set-dscp 1")
    note = ruleset.diagnostics[0]
    assert (note.line, note.reason) == (1, "comment line of %d characters: iptables-restore reads lines of at most "
                                           "10239 and would refuse this file" % (BIG + 2))
    assert len(note.text) < 300 and note.text.endswith("... (%d more characters)" % (BIG + 2 - 200))


# ---------------------------------------------------------------------------
# Address lists and host names, as iptables-restore reads them

LISTS = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         ":POSTROUTING ACCEPT [0:0]\n"
         "-A POSTROUTING -o eth0 -s 10.0.0.0/8,10.1.0.0/16 -d 192.0.2.1,192.0.2.2 -p tcp -j TOS --set-tos 0x04/0x00\n"
         "COMMIT\n")


def test_address_lists_are_one_rule_per_pair_sources_outer_as_the_kernel_loads_them():
    assert_restore_accepts(LISTS)
    # iptables-save prints the four rules the kernel holds; the parser must hold the same four, in order.
    assert_kernel_reads_it_the_same(LISTS)
    rules = parse_ruleset(LISTS, "lists").tables["mangle"].rules("POSTROUTING")
    assert [r.line for r in rules] == [7, 7, 7, 7] and [r.index for r in rules] == [1, 2, 3, 4]


def test_a_packet_two_listed_sources_match_meets_the_target_twice():
    # 10.1.2.3 is in 10.0.0.0/8 and in 10.1.0.0/16: the xor of 0x04 runs twice and the byte is unchanged,
    # while 10.2.2.3 (in the first only) leaves with 0x04.  A union of the sources would say 0x04 for both.
    ruleset = parse_ruleset(LISTS, "lists")
    both = trace(ruleset, Packet.from_dict({"path": "forward", "out_interface": "eth0", "protocol": "tcp",
                                                    "src": "10.1.2.3", "dst": "192.0.2.1", "tos": 0}))
    one = trace(ruleset, Packet.from_dict({"path": "forward", "out_interface": "eth0", "protocol": "tcp",
                                                   "src": "10.2.2.3", "dst": "192.0.2.1", "tos": 0}))
    assert (both.tos, one.tos) == (0x00, 0x04)


def test_a_negated_address_list_is_refused_as_iptables_refuses_it():
    text = LISTS.replace("-s 10.0.0.0/8,10.1.0.0/16", "! -s 10.0.0.0/8,10.1.0.0/16")
    said = restore_test(text) if not _kernel_tools_missing() else None
    if said is not None:
        assert all("! not allowed with multiple" in words for words in said.values())
    with pytest.raises(ParseError, match="lists:7: ! not allowed with multiple source or destination IP addresses"):
        parse_ruleset(text, "lists").tables["mangle"].rules("POSTROUTING")


def test_a_host_name_is_kept_as_may_match_with_a_note_not_refused():
    text = LISTS.replace("-s 10.0.0.0/8,10.1.0.0/16", "-s mail.example.com")
    ruleset = parse_ruleset(text, "names")
    (rule,) = [r for r in ruleset.tables["mangle"].rules("POSTROUTING") if r.index == 1]
    assert any("host name" in d.reason and d.line == 7 for d in ruleset.diagnostics)
    assert len(ruleset.tables["mangle"].rules("POSTROUTING")) == 2  # one per destination


# ---------------------------------------------------------------------------
# The tos match as the kernel runs it

TOS_OUTSIDE = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
               ":POSTROUTING ACCEPT [0:0]\n"
               "-A POSTROUTING -o eth0 -m tos --tos 0x14/0x0f -j DSCP --set-dscp 0x0a\n"
               "-A POSTROUTING -o eth0 -m tos ! --tos 0x14/0x0f -j TOS --set-tos 0x04/0x0f\n"
               "COMMIT\n")


def test_a_tos_value_with_bits_outside_its_mask_is_kept_as_written_and_never_matches():
    # xt_tos compares (byte & mask) == value: 0x14 has bit 0x10 outside 0x0f, so no byte matches,
    # and the negation matches every byte.  Masking the value first (0x04/0x0f) would match 0x04.
    assert_restore_accepts(TOS_OUTSIDE)
    assert "--tos 0x14/0x0f" in saved_by_kernel(TOS_OUTSIDE)  # the kernel keeps the value as written
    ruleset = parse_ruleset(TOS_OUTSIDE, "tos")
    (first, second) = ruleset.tables["mangle"].rules("POSTROUTING")
    assert (first.conditions[-1].value, first.conditions[-1].mask) == (0x14, 0x0F)
    for arriving in (0x00, 0x04, 0x14, 0xFF):
        result = trace(ruleset, Packet.from_dict({"path": "forward", "out_interface": "eth0", "protocol": "tcp",
                                                   "tos": arriving}))
        assert result.tos == (arriving & 0xF0) ^ 0x04, hex(arriving)  # only the negated rule ran
