# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merged writer histories of a marking map, and the queries that walk them without forming products.

Between hooks, the marking map (markmap.py) merges classes that end a table in the same state
into fewer cubes; the writers of each merged part stay recoverable in a `History`.  A class whose
writers start with a history stands for as many sub-classes as the parts it meets, recursively:
on a 100,000-rule dump, 9,587 held classes leaving by one interface stand for 3.2 million.

Each query intersects a class with the parts of a history.  A history indexes its parts once, per
dimension, by their distinct masks (a merge joins parts that differ in one dimension, so a
history of 1,872 parts holds a handful of distinct masks a dimension): which parts meet a class
is then a few big-integer ANDs over bitsets of parts, not a test of every part; and the union of
writing lines skips a history whose every line is found already.

>>> leaf = ((0b01, 0b1), (5,))
>>> other = ((0b10, 0b1), (6,))
>>> history = History([leaf, other])
>>> expand_writers((0b10, 0b1), (history, 9))
[((2, 1), (6, 9))]
>>> sorted(writer_lines((0b11, 0b1), (history, 9)))
[5, 6, 9]
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t


Masks = t.Tuple[int, ...]
Part = t.Tuple[Masks, t.Tuple[t.Any, ...]]


class _PartIndex:
    """A history's parts by dimension: (distinct mask, bitset of the parts holding it) pairs."""

    __slots__ = ("everything", "by_dim", "leaves", "nested", "leaf_writers")
    by_dim: list[tuple[int, list[tuple[int, int]]]]

    def __init__(self, parts: t.Sequence[Part]) -> None:
        self.everything = (1 << len(parts)) - 1
        dims = len(parts[0][0]) if parts else 0
        by_dim: list[list[tuple[int, int]]] = []
        for dim in range(dims):
            groups: dict[int, int] = {}
            for index, (masks, _writers) in enumerate(parts):
                groups[masks[dim]] = groups.get(masks[dim], 0) | (1 << index)
            by_dim.append(list(groups.items()))
        # Tested cheapest first: the byte, interfaces, protocol and ports are small masks; addresses
        # of a big dump are masks of thousands of atoms.
        self.by_dim = sorted(enumerate(by_dim), key=lambda item: (item[0] in (3, 4), len(item[1])))
        leaves = 0
        leaf_writers: dict[tuple[t.Any, ...], int] = {}
        self.nested: list[int] = []
        for index, (_masks, writers) in enumerate(parts):
            if writers and isinstance(writers[0], History):
                self.nested.append(index)
            else:
                leaves |= 1 << index
                leaf_writers[writers] = leaf_writers.get(writers, 0) | (1 << index)
        self.leaves = leaves
        # The lines of each distinct leaf sequence (a sequence may hold translations besides lines).
        self.leaf_writers = [(writers if all(isinstance(w, int) for w in writers)
                              else tuple(w for w in writers if isinstance(w, int)), bits)
                             for writers, bits in leaf_writers.items()]

    def meeting(self, masks: Masks) -> int:
        """Bitset of the parts that meet `masks` in every dimension."""
        found = self.everything
        for dim, groups in self.by_dim:
            mask = masks[dim]
            if len(groups) == 1:
                if not groups[0][0] & mask:
                    return 0
                continue
            meets = 0
            for value, parts in groups:
                if value & mask:
                    meets |= parts
            found &= meets
            if not found:
                return 0
        return found


class History:
    """Earlier stages' classes that were merged into one: each part keeps its own cube and writes.

    Between hooks, classes that end a table in the same state (same rewrite, same assumptions)
    are merged into fewer cubes, so that later rules split a few classes instead of the product of
    every earlier partition (the founding dump's PREROUTING sport rules times its POSTROUTING dport
    rules).  The exact writers of any sub-class stay recoverable: `expand_writers` intersects.
    """

    __slots__ = ("_parts", "_index", "_lines", "translated", "_derived")

    def __init__(self, parts: list[Part]) -> None:
        self._parts: list[Part] | None = parts
        self._derived: tuple[History, t.Callable[[tuple[t.Any, ...]], tuple[t.Any, ...]]] | None = None
        self._index: _PartIndex | None = None
        self._lines: frozenset[int] | None = None
        # Whether a part's sequence holds a translation (a nat rule): such parts may overlap others.
        self.translated = any(translated(writers) for _masks, writers in parts)

    @classmethod
    def derived(cls, origin: "History", moved: t.Callable[[tuple[t.Any, ...]], tuple[t.Any, ...]]) -> "History":
        """`origin` with `moved` applied to each part's writers, when the parts are first read: a candidate's map
        renumbers the lines of every history it takes over (markmap._LineShift), and reads few of them."""
        history = cls.__new__(cls)
        history._parts = None
        history._derived = (origin, moved)
        history._index = None
        history._lines = None
        # `moved` renumbers lines only: a translation stays one.
        history.translated = origin.translated
        return history

    @property
    def parts(self) -> list[Part]:
        if self._parts is None:
            origin, moved = t.cast(t.Tuple[History, t.Callable[[t.Tuple[t.Any, ...]], t.Tuple[t.Any, ...]]], self._derived)
            self._parts = [(masks, moved(writers)) for masks, writers in origin.parts]
            self._derived = None
        return self._parts

    @property
    def lines(self) -> frozenset[int]:
        """Every writing line any part holds, at any depth, whatever class meets it."""
        if self._lines is None:
            found: set[int] = set()
            for _masks, writers in self.parts:
                for writer in writers:
                    if isinstance(writer, History):
                        found |= writer.lines
                    elif isinstance(writer, int):
                        found.add(writer)
            self._lines = frozenset(found)
        return self._lines

    @property
    def index(self) -> _PartIndex:
        if self._index is None:
            self._index = _PartIndex(self.parts)
        return self._index


def translated(writers: tuple[t.Any, ...]) -> bool:
    """Whether a sequence holds a translation, itself or in a history it opens."""
    for writer in writers:
        if isinstance(writer, History):
            if writer.translated:
                return True
        elif not isinstance(writer, int):
            return True
    return False


def _bits(bitset: int) -> t.Iterator[int]:
    """The indexes of the set bits, lowest first."""
    while bitset:
        low = bitset & -bitset
        yield low.bit_length() - 1
        bitset ^= low


def meeting_parts(masks: Masks, history: History) -> t.Iterator[Part]:
    """The parts of a history that meet a class, each cut to the class."""
    parts = history.parts
    if len(masks) == 8:
        # The marking map's eight dimensions, unrolled: this builds every sub-class of a big map.
        m0, m1, m2, m3, m4, m5, m6, m7 = masks
        for index in _bits(history.index.meeting(masks)):
            (p0, p1, p2, p3, p4, p5, p6, p7), part_writers = parts[index]
            yield (m0 & p0, m1 & p1, m2 & p2, m3 & p3, m4 & p4, m5 & p5, m6 & p6, m7 & p7), part_writers
        return
    for index in _bits(history.index.meeting(masks)):
        part_masks, part_writers = parts[index]
        yield tuple(a & b for a, b in zip(masks, part_masks)), part_writers


def _befores(events: tuple[t.Any, ...]) -> dict[int, int]:
    """The dimensions the translations among `events` changed, each as it was before the first of them.

    A translation (markmap.Translation, a nat rule) carries `before`: (dimension, mask) pairs.  The
    parts of a history that opens a sequence hold the header as it was when they were merged, so a
    class whose sequence translates a dimension later meets them with that dimension as it was."""
    found: dict[int, int] = {}
    for event in events:
        if isinstance(event, (int, History)):
            continue
        for dim, before in getattr(event, "before", ()):
            found.setdefault(dim, before)
    return found


def _inner(masks: Masks, befores: dict[int, int]) -> Masks:
    if not befores:
        return masks
    inner = list(masks)
    for dim, before in befores.items():
        inner[dim] = before
    return tuple(inner)


def expand_writers(masks: Masks, writers: tuple[t.Any, ...]) -> list[tuple[Masks, tuple[int, ...]]]:
    """(sub-class, full sequence of writing lines) for a class whose writers may start with a history.

    A sequence may hold events besides lines (markmap.Translation: a nat rule that changed the header);
    they pass through as they are, and the line queries below skip them."""
    if not writers or not isinstance(writers[0], History):
        return [(masks, writers)]
    later = writers[1:]
    for event in later:
        if not isinstance(event, int):
            return [(sub, sequence) for sub, _origin, sequence in expand_events(masks, writers)]
    found: list[tuple[Masks, tuple[int, ...]]] = []
    _expand_into(masks, writers[0], later, found)
    return found


def _expand_into(masks: Masks, history: History, later: tuple[t.Any, ...],
                 found: list[tuple[Masks, tuple[int, ...]]]) -> None:
    """expand_writers' sub-classes of the class `masks` through `history`, each sequence followed by `later`
    (what the enclosing levels wrote after it), appended to `found` depth first: a nested history's sub-classes
    are not gathered in a list of their own and copied into the enclosing level's."""
    for inside, part_writers in meeting_parts(masks, history):
        if not part_writers or not isinstance(part_writers[0], History):
            found.append((inside, part_writers + later))
            continue
        nested = part_writers[1:]
        if any(not isinstance(event, int) for event in nested):
            found.extend((sub, sequence + later) for sub, _origin, sequence in expand_events(inside, part_writers))
        else:
            _expand_into(inside, part_writers[0], nested + later, found)


def expand_events(masks: Masks, writers: tuple[t.Any, ...]) -> list[tuple[Masks, Masks, tuple[t.Any, ...]]]:
    """(sub-class, the sub-class as it arrived, full sequence) for a class whose sequence may start with a
    history and may hold translations: a translated dimension of a sub-class is the class's (the header
    on the wire), its arrival the part's as it was before the translation."""
    if not writers or not isinstance(writers[0], History):
        befores = _befores(writers) if any(not isinstance(w, int) for w in writers) else {}
        return [(masks, _inner(masks, befores), writers)]
    later = writers[1:]
    befores = _befores(later) if any(not isinstance(w, int) for w in later) else {}
    found: list[tuple[Masks, Masks, tuple[t.Any, ...]]] = []
    for inside, part_writers in meeting_parts(_inner(masks, befores), writers[0]):
        for sub, origin, sequence in expand_events(inside, part_writers):
            if befores:
                wire = list(sub)
                for dim in befores:
                    wire[dim] = masks[dim]
                sub = tuple(wire)
            found.append((sub, origin, sequence + later))
    return found


def writer_lines(masks: Masks, writers: tuple[t.Any, ...], into: set[int] | None = None) -> set[int]:
    """Every writing line of every sub-class of a class (the union of expand_writers' sequences)."""
    found = set() if into is None else into
    for position, writer in enumerate(writers):
        if not isinstance(writer, History):
            if isinstance(writer, int):
                found.add(writer)
            continue
        # A history only ever opens a sequence; what follows it is written by every sub-class.
        # When every line the history could give is found already, which parts meet cannot add one.
        later = writers[position + 1:]
        if any(not isinstance(w, int) for w in later):
            masks = _inner(masks, _befores(later))
        index = writer.index
        meeting = 0 if writer.lines <= found else index.meeting(masks)
        if meeting:
            for leaf_writers, parts in index.leaf_writers:
                if meeting & parts:
                    found.update(leaf_writers)
            for nested in index.nested:
                if meeting >> nested & 1:
                    part_masks, part_writers = writer.parts[nested]
                    if t.cast(History, part_writers[0]).lines <= found:
                        found.update(w for w in part_writers[1:] if isinstance(w, int))
                        continue
                    writer_lines(tuple(a & b for a, b in zip(masks, part_masks)), part_writers, found)
        found.update(w for w in writers[position + 1:] if isinstance(w, int))
        return found
    return found
