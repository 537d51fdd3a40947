"""Real nft rulesets (tests/fixtures/real/nft, see SOURCES): recognised, read whole, what is not modelled listed."""

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset

REAL = pathlib.Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "real" / "nft"
FILES = sorted(path for path in REAL.iterdir() if path.suffix in (".nft", ".json"))


def test_there_are_at_least_three_real_rulesets_with_their_sources():
    assert len(FILES) >= 4 and "GPL-2" in (REAL / "SOURCES").read_text()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_each_real_ruleset_is_recognised_read_and_mapped_without_error(path):
    text = path.read_text()
    assert platforms.detect(text) == "nftables"
    summary = platforms.driver("nftables").check("nft-ruleset", text, path.name)
    document = read_ruleset(text, path.name)
    for family in document.families():
        view = document.view(family)
        marks = marking_map(view, interfaces=["eth0"])
        assert marks.class_count >= 1
    assert summary["tables"] == [table.key for table in document.tables]
    for note in summary["diagnostics"]:
        assert note.startswith("%s:" % path.name)


def test_the_workstation_accepts_loopback_and_names_the_ct_state_it_assumes_for_the_rest():
    view = read_ruleset((REAL / "debian-workstation.nft").read_text(), "ws.nft").view(4)
    lo = Packet.from_dict({"path": "input", "in_interface": "lo", "protocol": "tcp", "dport": 22})
    ssh = Packet.from_dict({"path": "input", "in_interface": "eth0", "protocol": "tcp", "dport": 22})
    assert trace(view, lo).verdict == "accept" and [s.line for s in trace(view, lo).steps] == [10]
    traced = trace(view, ssh)
    assert traced.verdict == "accept" and traced.uncertain == ("ws.nft:13: assumed ct state established,related matches",)
    # The marking map keeps both outcomes, each with what it assumed: accepted if established, else dropped (line 23).
    marks = marking_map(view, interfaces=["eth0"])
    outcomes = sorted((m.verdict, m.assumptions[0].split(":")[0]) for m in marks.packet_marking(ssh))
    assert outcomes == [("accept", "matched"), ("drop", "not matched")]


def test_unmodelled_parts_of_the_real_rulesets_are_listed_with_their_lines():
    listed = read_ruleset((REAL / "debian-all-in-one.listed.nft").read_text(), "aio.nft")
    assert [(d.line, d.reason.split(" is not read")[0]) for d in listed.diagnostics] == [
        (31, "unmodelled: netdev table filter"), (124, "unmodelled: arp table filter"),
        (133, "unmodelled: bridge table filter")]
    helpers = read_ruleset((REAL / "debian-ct-helpers.nft").read_text(), "ct.nft")
    assert [d.line for d in helpers.diagnostics] == [18, 22, 26, 33]
    sets = read_ruleset((REAL / "debian-sets-and-maps.nft").read_text(), "sm.nft")
    assert [d.line for d in sets.diagnostics] == [22]  # `delete table filter`: a command, not read


def test_the_json_listing_reads_like_the_text_listing():
    text = read_ruleset((REAL / "debian-all-in-one.listed.nft").read_text(), "aio.nft")
    as_json = read_ruleset((REAL / "debian-all-in-one.listed.json").read_text(), "aio.json")
    def shape(document):
        return [(t.key, sorted((c.name, c.hook, c.type, c.priority, c.policy) for c in t.chains.values()))
                for t in document.tables]
    assert shape(text) == shape(as_json)
