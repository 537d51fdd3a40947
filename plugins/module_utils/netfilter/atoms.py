# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atom spaces: each header dimension cut into atoms at the boundaries the rules mention.

A set of values of one dimension is a bit mask of its atoms, so the
marking map (markmap.py) intersects and splits classes of packets with
integer operations.  `Intervals` cuts integers (addresses, ports) at
interval ends; `Interfaces` cuts names at literals and `prefix+` wildcards;
`Protocols` has one atom per protocol number named, plus "every other".

>>> ports = Intervals(65535, [(512, 65535), (25, 25)])
>>> ports.ranges(ports.mask(((512, 65535),)))
[(512, 65535)]
>>> Interfaces(["eth+"], ["eth0"]).names(Interfaces(["eth+"], ["eth0"]).mask("eth+"))
['eth0', 'eth+ (other)']
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import bisect
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import PROTOCOL_NUMBERS

# The name a hook passes when there is no interface (locally generated traffic has no input
# interface), and a representative no rule can name: the atom of every other interface.
EMPTY_IFACE = ""
OTHER_IFACE = "\x02other"
PROTOCOL_NAMES = {number: name for name, number in sorted(PROTOCOL_NUMBERS.items(), reverse=True)}


class Intervals:
    """A dimension over integers [0, top] cut at the given interval starts."""

    def __init__(self, top: int, ranges: t.Iterable[tuple[int, int]], extras: t.Sequence[str] = ()) -> None:
        cuts = {0}
        for low, high in ranges:
            cuts.add(low)
            if high < top:
                cuts.add(high + 1)
        self.starts = sorted(cuts)
        self.top = top
        self.size = len(self.starts)
        # Values that are no integer of the dimension: an interface's address, which a dump does not give
        # (MASQUERADE's source, REDIRECT's destination).  One atom each, after the integers' atoms; no
        # interval ever holds one.
        self.extras = tuple(extras)
        self.real = (1 << self.size) - 1
        self.full = (1 << (self.size + len(self.extras))) - 1
        self._cache: dict[tuple[tuple[int, int], ...], int] = {}

    def extra_atom(self, name: str) -> int:
        return 1 << (self.size + self.extras.index(name))

    def extra_names(self, mask: int) -> list[str]:
        return [name for index, name in enumerate(self.extras) if mask >> (self.size + index) & 1]

    def mask(self, ranges: tuple[tuple[int, int], ...]) -> int:
        cached = self._cache.get(ranges)
        if cached is not None:
            return cached
        result = 0
        for low, high in ranges:
            first = bisect.bisect_right(self.starts, low) - 1
            last = bisect.bisect_right(self.starts, high) - 1
            result |= ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)
        self._cache[ranges] = result
        return result

    def atom(self, value: int) -> int:
        return 1 << (bisect.bisect_right(self.starts, value) - 1)

    def ranges(self, mask: int) -> list[tuple[int, int]]:
        """The atoms of a mask as merged inclusive intervals."""
        found: list[tuple[int, int]] = []
        mask &= self.real
        # Run by run of adjacent atoms, not bit by bit: a big dump's address masks hold thousands of atoms, and
        # shifting such a mask once per atom costs the square of its length (0.6 s for a 100,000-rule dump's join).
        # Adding a run's lowest bit carries through the run: the sum's lowest set bit is the first atom after it.
        while mask:
            lowest = mask & -mask
            carried = mask + lowest
            after = carried & -carried
            first, end = lowest.bit_length() - 1, after.bit_length() - 1
            found.append((self.starts[first], self.starts[end] - 1 if end < self.size else self.top))
            mask &= carried
        return found


class Interfaces:
    """Interface names cut into atoms: each literal name, each `prefix+`, the empty name, the rest.

    A prefix atom stands for names that start with the prefix, are not a
    literal, and start with no longer prefix: every name in one atom meets
    exactly the same `-i`/`-o` conditions.
    """

    def __init__(self, patterns: t.Iterable[str], extra_names: t.Iterable[str]) -> None:
        literals: set[str] = set(extra_names)
        prefixes: set[str] = set()
        for pattern in patterns:
            if pattern.endswith("+"):
                prefixes.add(pattern[:-1])
            else:
                literals.add(pattern)
        literals.discard(EMPTY_IFACE)
        self.literals = sorted(literals)
        self.prefixes = sorted(prefixes)
        # representative name per atom, and what a person reads for it
        self.representatives: list[str] = [EMPTY_IFACE] + self.literals
        self.labels: list[str] = ["(none: locally generated)"] + self.literals
        for prefix in self.prefixes:
            self.representatives.append(prefix + "\x01")
            self.labels.append("%s+ (other)" % prefix if prefix else "any other")
        self.representatives.append(OTHER_IFACE)
        self.labels.append("any other")
        self.size = len(self.representatives)
        self.full = (1 << self.size) - 1
        self.empty_atom = 1
        self._cache: dict[str, int] = {}

    def mask(self, pattern: str) -> int:
        cached = self._cache.get(pattern)
        if cached is not None:
            return cached
        result = 0
        for index, name in enumerate(self.representatives):
            if pattern.endswith("+"):
                hit = name.startswith(pattern[:-1]) and name != OTHER_IFACE or pattern == "+"
            else:
                hit = name == pattern
            if hit:
                result |= 1 << index
        self._cache[pattern] = result
        return result

    def atom(self, name: str) -> int:
        if name == EMPTY_IFACE:
            return 1
        if name in self.literals:
            return 1 << self.representatives.index(name)
        best = None
        for prefix in self.prefixes:
            if name.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        if best is not None:
            return 1 << self.representatives.index(best + "\x01")
        return 1 << (self.size - 1)

    def names(self, mask: int) -> list[str]:
        return [self.labels[i] for i in range(self.size) if mask >> i & 1]


class Protocols:
    def __init__(self, numbers: t.Iterable[int]) -> None:
        self.numbers = sorted(set(numbers))
        self.size = len(self.numbers) + 1  # the last atom: every other protocol
        self.full = (1 << self.size) - 1

    def mask(self, number: int) -> int:
        return 1 << self.numbers.index(number)

    def atom(self, number: int) -> int:
        if number in self.numbers:
            return 1 << self.numbers.index(number)
        return 1 << (self.size - 1)

    def names(self, mask: int) -> list[str]:
        found = [PROTOCOL_NAMES.get(n, str(n)) for i, n in enumerate(self.numbers) if mask >> i & 1]
        if mask >> (self.size - 1) & 1:
            found.append("other")
        return found
