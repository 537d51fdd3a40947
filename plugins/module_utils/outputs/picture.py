# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The geometry of one conflict's path picture: boxes, their lines of text, the arrows between them.

The picture reads top to bottom: the firewall rule that writes the byte, the DS byte on the wire,
the link, the router interface with each deciding line, then the fate of the marked packets with
the fate of the same flow unmarked beside it. Everything is laid out here, in numbers, so the
template only prints `<rect>`, `<text>` and `<line>` elements (no arithmetic in Jinja2). Text is
set in a monospaced face, so a line's width is its length times one advance, and long lines are
wrapped here rather than cut off by the SVG viewport.

>>> box = text_box("fate", "Null-routed", ["the marked packets"], 20, 10, 300)
>>> (box["x"], box["y"], box["w"], box["h"], len(box["lines"]))
(20, 10, 300, 52, 1)
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import textwrap
import typing as t

JSON = t.Dict[str, t.Any]

WIDTH = 960
MARGIN = 20
PAD = 12
HEADING = 26      # from a box's top to its first body line's baseline
LINE = 16         # one body line (12 px monospaced text)
ADVANCE = 7.3     # the advance of one 12 px monospaced character (DejaVu Sans Mono: 0.602 em)
GAP = 34          # between boxes: room for an arrow and its label
MAX_LINES = 12    # a box lists at most this many wrapped lines of one item before it says how many more


def wrap(text: str, width_px: float) -> list[str]:
    """`text` broken into lines that fit `width_px` of 12 px monospaced text (long words broken too)."""
    columns = max(int((width_px - 2 * PAD) // ADVANCE), 10)
    # A continued line hangs under the text of its first line (a numbered source line stays readable).
    indent = len(text) - len(text.lstrip(" "))
    lines = textwrap.wrap(text, columns, break_long_words=True, break_on_hyphens=False,
                          subsequent_indent=" " * (indent + 7 if indent else 2)) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES - 1] + ["... (%d more lines)" % (len(lines) - MAX_LINES + 1)]
    return lines


def text_box(kind: str, heading: str, body: t.Sequence[str], x: int, y: int, w: int,
             emphasis: bool = False) -> JSON:
    """One box: its rectangle, its heading and its wrapped body lines, each with its baseline."""
    lines: list[JSON] = []
    baseline = y + HEADING + LINE
    for item in body:
        for piece in wrap(item, w):
            lines.append({"x": x + PAD, "y": baseline, "text": piece})
            baseline += LINE
    height = HEADING + LINE * (len(lines) + 1) - 6 if lines else HEADING + 10
    return {"kind": kind, "x": x, "y": y, "w": w, "h": height, "emphasis": emphasis,
            "heading": {"x": x + PAD, "y": y + 19, "text": heading}, "lines": lines}


def arrow(x: int, y1: int, y2: int, label: str, x2: int | None = None) -> JSON:
    """A downward arrow from (x, y1) to (x2 or x, y2), its label beside its middle."""
    end = x if x2 is None else x2
    return {"x1": x, "y1": y1, "x2": end, "y2": y2, "label": label,
            "lx": (x + end) // 2 + 10, "ly": (y1 + y2) // 2 + 4}


def path_picture(steps: t.Sequence[tuple[str, str, t.Sequence[str]]], labels: t.Sequence[str],
                 fate: tuple[str, t.Sequence[str]], unmarked: tuple[str, t.Sequence[str]]) -> JSON:
    """The whole picture: `steps` (kind, heading, body) stacked, joined by arrows labelled `labels`,
    then the marked fate and the unmarked fate side by side under the last step."""
    width = WIDTH - 2 * MARGIN
    boxes: list[JSON] = []
    arrows: list[JSON] = []
    y = MARGIN
    centre = WIDTH // 2
    for index, (kind, heading, body) in enumerate(steps):
        if index:
            arrows.append(arrow(centre, y - GAP, y, labels[index - 1] if index - 1 < len(labels) else ""))
        box = text_box(kind, heading, body, MARGIN, y, width)
        boxes.append(box)
        y += box["h"] + GAP
    half = (width - MARGIN) // 2
    marked = text_box("fate", fate[0], fate[1], MARGIN, y, half, emphasis=True)
    plain = text_box("unmarked", unmarked[0], unmarked[1], MARGIN + half + MARGIN, y, half)
    height = max(marked["h"], plain["h"])
    marked["h"] = plain["h"] = height
    last = y - GAP
    arrows.append(arrow(centre, last, y, labels[len(steps) - 1] if len(steps) - 1 < len(labels) else "",
                        x2=MARGIN + half // 2))
    arrows.append(arrow(centre, last, y, labels[len(steps)] if len(steps) < len(labels) else "",
                        x2=MARGIN + half + MARGIN + half // 2))
    # Both fate arrows start at one point: their labels go on the outer side of each.
    arrows[-2]["lx"] = MARGIN + half // 2 - 10
    arrows[-2]["anchor"] = "end"
    boxes.extend((marked, plain))
    return {"width": WIDTH, "height": y + height + MARGIN, "boxes": boxes, "arrows": arrows}
