"""Atoms of a dimension: a mask of atoms read back as the intervals of values it holds."""

from hypothesis import given, settings, strategies as st

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.atoms import Intervals

TOPS = (65535, 2 ** 32 - 1, 2 ** 128 - 1)


def _values_of(space, mask):
    """Reference: atom by atom, each atom's values, adjacent ones joined."""
    found = []
    for index in range(space.size):
        if mask >> index & 1:
            low = space.starts[index]
            high = space.starts[index + 1] - 1 if index + 1 < space.size else space.top
            if found and found[-1][1] + 1 == low:
                found[-1] = (found[-1][0], high)
            else:
                found.append((low, high))
    return found


@st.composite
def spaces_and_masks(draw):
    top = draw(st.sampled_from(TOPS))
    cuts = draw(st.lists(st.tuples(st.integers(0, top), st.integers(0, 3000)), max_size=40))
    ranges = [(low, min(top, low + width)) for low, width in cuts]
    if draw(st.booleans()):
        ranges += [(0, 0), (top, top)]
    space = Intervals(top, ranges, ["eth0 address"] if draw(st.booleans()) else [])
    whole = space.size + len(space.extras)
    mask = draw(st.one_of(st.just(0), st.just(space.full), st.just(space.real), st.integers(0, (1 << whole) - 1)))
    return space, mask


@settings(max_examples=400, deadline=None)
@given(spaces_and_masks())
def test_a_mask_reads_back_as_the_intervals_of_its_atoms(drawn):
    space, mask = drawn
    found = space.ranges(mask)
    assert found == _values_of(space, mask)
    # Read back, the intervals give the same atoms (an interface's address, no interval, is left out).
    assert space.mask(tuple(found)) == mask & space.real if found else mask & space.real == 0


def test_a_big_dumps_mask_of_every_other_atom():
    # 20,000 atoms, every other one: 10,000 intervals, none joined.
    space = Intervals(2 ** 32 - 1, [(value * 4, value * 4 + 1) for value in range(10000)])
    mask = int("01" * (space.size // 2), 2) if space.size % 2 == 0 else int("1" + "01" * (space.size // 2), 2)
    found = space.ranges(mask)
    assert found == _values_of(space, mask) and len(found) == bin(mask).count("1")
