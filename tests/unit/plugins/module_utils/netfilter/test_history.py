"""Merged writer histories: the indexed queries give what expanding every sub-class gives."""

import pathlib
import random
import sys

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter import history
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset

from tests.kernel import rulegen

BENCH = pathlib.Path(__file__).parents[5] / "bench"


def _brute_meeting(masks, found_history):
    for part_masks, part_writers in found_history.parts:
        inside = tuple(a & b for a, b in zip(masks, part_masks))
        if all(inside):
            yield inside, part_writers


def _brute_expand(masks, writers):
    if not writers or not isinstance(writers[0], history.History):
        return [(masks, writers)]
    return [(sub, sub_writers + writers[1:]) for inside, part_writers in _brute_meeting(masks, writers[0])
            for sub, sub_writers in _brute_expand(inside, part_writers)]


def _maps():
    for seed in range(40):
        rng = random.Random(seed)
        text = rulegen.random_ruleset(rng, filter_table=seed % 2 == 0, degenerate=seed % 5 == 0)
        yield "rulegen-%d" % seed, marking_map(parse_ruleset(text, "r.rules"), interfaces=["eth0", "eth1"])
    sys.path.insert(0, str(BENCH))
    try:
        from gen_iptables import generate
    finally:
        sys.path.remove(str(BENCH))
    text = generate(3000)
    # The mangle table's histories (with the nat table, translated classes are checked against the trace in
    # test_nat.py: a history's parts hold the header as it was before a translation).
    yield "kube-like-3000", marking_map(parse_ruleset(text, "kube.rules"), interfaces=["eth0"], tables=("mangle",))
    yield "kube-like-3000-nat", marking_map(parse_ruleset(text, "kube.rules"), interfaces=["eth0"])


MAPS = dict(_maps())


def _histories(marks):
    found = {}

    def walk(writers):
        for writer in writers:
            if isinstance(writer, history.History) and id(writer) not in found:
                found[id(writer)] = writer
                for _masks, part_writers in writer.parts:
                    walk(part_writers)
    for raw in marks._classes:
        walk(raw[4])
    return list(found.values())


def test_the_maps_hold_merged_histories_to_check():
    # Not vacuous: the generated dumps do merge classes, nested ones among them.
    nested = [h for marks in MAPS.values() for h in _histories(marks) if h.index.nested]
    assert sum(len(_histories(marks)) for marks in MAPS.values()) > 50 and nested


def _order(item):
    masks, sequence = item
    return masks, tuple(event if isinstance(event, int) else -id(event) for event in sequence)


@pytest.mark.parametrize("name", sorted(MAPS))
def test_indexed_queries_are_the_expansion(name):
    marks = MAPS[name]
    for raw in marks._classes:
        masks, writers = raw[6], raw[4]
        expanded = _brute_expand(masks, writers)
        if history.translated(writers):
            # Parts before a translation are met with the dimensions it changed as they were (expand_events).
            expanded = [(wire, sequence) for wire, _arrived, sequence in history.expand_events(masks, writers)]
        assert sorted(history.expand_writers(masks, writers), key=_order) == sorted(expanded, key=_order)
        # Sequences hold nat translations besides lines (a kube-like dump's DNATs): the line queries skip them.
        union = {line for _sub, sequence in expanded for line in sequence if isinstance(line, int)}
        assert history.writer_lines(masks, writers) == union
        if writers and isinstance(writers[0], history.History):
            assert list(history.meeting_parts(masks, writers[0])) == list(_brute_meeting(masks, writers[0]))


def test_a_class_meeting_no_part_has_no_sub_class_and_no_line_from_the_history():
    parts = [((0b01, 0b01), (5,)), ((0b10, 0b01), (6,))]
    merged = history.History(parts)
    assert history.expand_writers((0b11, 0b10), (merged, 9)) == []
    assert history.writer_lines((0b11, 0b10), (merged, 9)) == {9}
    assert merged.lines == {5, 6}


def test_a_derived_history_moves_its_parts_when_first_read_and_answers_as_an_eager_one():
    leaf = ((0b01, 0b1), (5,))
    other = ((0b10, 0b1), (6, 7))
    origin = history.History([leaf, other])
    calls = []

    def moved(writers):
        calls.append(writers)
        return tuple(line + 1 if line > 5 else line for line in writers)

    derived = history.History.derived(origin, moved)
    assert calls == [] and derived.translated is False  # nothing read yet
    eager = history.History([((0b01, 0b1), (5,)), ((0b10, 0b1), (7, 8))])
    assert history.expand_writers((0b11, 0b1), (derived, 9)) == history.expand_writers((0b11, 0b1), (eager, 9))
    assert derived.lines == eager.lines == frozenset({5, 7, 8})
    assert len(calls) == 2  # each part moved once, however often it is read
    assert origin.parts == [leaf, other]  # the running map's history is untouched
