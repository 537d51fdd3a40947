# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fate value objects: paths, byte classes and the fate table of one pipeline.

A `Path` is one way through an interface's pipeline for a set of arriving
DS bytes; a `FateClass` is the bytes that take the same paths; a
`FateTable` is all 256 bytes of one interface and direction.  `engine.py`
computes them; `analysis.py` and the reports read them.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.dsfield import dscp_label
from ansible_collections.diffserv.audit.plugins.module_utils.ios.decisions import Condition, Step
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import bytes_of

# Final actions, from the most to the least harmful.
NULL_ROUTED = "null-routed"
DROPPED = "dropped"
POLICY_ROUTED = "policy-routed"
FORWARDED = "forwarded"

# How a summary names a path that leaves with a DS field the configuration does not
# give (a table-map, a switch QoS map, an unmodelled line that may re-mark): the path
# is forwarded, its `unknown` bits are set, and this is what "may re-mark" reads as.
REMARKED_UNKNOWN = "re-marked to an unknown value"


@dataclasses.dataclass(frozen=True, slots=True)
class Path:
    """One way through the pipeline for the arriving bytes in `mask`.

    Within a byte class, paths are ordered: the first whose conditions all
    hold applies.  The byte leaving is `(arriving & keep) | value`.
    """

    mask: int
    conditions: tuple[Condition, ...]
    steps: tuple[Step, ...]
    action: str
    keep: int
    value: int
    classes: tuple[str, ...]
    police: tuple[str, ...]
    egress: str | None
    unmodeled: bool
    # Bits of the leaving byte written with a value the configuration does not give
    # (0: the byte leaving is known).  A path with unknown bits is "may re-mark".
    unknown: int = 0

    def ds_out(self, arriving: int) -> int | None:
        """The byte leaving; None when a table or map wrote bits the model does not know."""
        if self.unknown:
            return None
        return (arriving & self.keep) | self.value

    @property
    def rewrites(self) -> bool:
        return self.keep != 0xFF

    @property
    def is_default(self) -> bool:
        """Taken by a plain packet: every condition at its default value."""
        return all(c.default for c in self.conditions)

    def treatment(self) -> tuple[t.Any, ...]:
        """What the router does, independent of the arriving byte's own bits."""
        return (tuple(map(id, self.conditions)), self.action, self.keep, self.value,
                self.egress, self.police, self.unmodeled, self.unknown)

    def describe_rewrite(self) -> str | None:
        if not self.rewrites:
            return None
        if self.unknown:
            what = "DSCP" if self.unknown == 0xFC else "precedence" if self.unknown == 0xE0 else "bits 0x%02x" % self.unknown
            return "an unknown value (%s written by a table or map the model does not read)" % what
        if self.keep == 0x03:
            return "DSCP %s (ECN kept)" % dscp_label(self.value >> 2)
        if self.keep == 0x00:
            return "byte 0x%02x" % self.value
        if self.keep == 0x1F:
            return "precedence %d (low DSCP bits and ECN kept)" % (self.value >> 5)
        if self.keep == 0xE1:
            return "TOS %d (precedence and last bit kept)" % (self.value >> 1)
        return "bits 0x%02x set to 0x%02x (others kept)" % (~self.keep & 0xFF, self.value)

    def as_dict(self, arriving: t.Iterable[int] | None = None) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "action": self.action,
            "conditions": [c.as_dict() for c in self.conditions],
            "rewrite": None if not self.rewrites else dict({
                "keep": self.keep, "value": self.value, "text": self.describe_rewrite(),
            }, **({"unknown": self.unknown} if self.unknown else {})),
            "classes": list(self.classes),
            "police": list(self.police),
            "egress": self.egress,
            "unmodeled": self.unmodeled,
            "steps": [s.as_dict() for s in self.steps],
        }
        if arriving is not None:
            out["ds_out"] = None if self.unknown else sorted({(b & self.keep) | self.value for b in arriving})
        return out


def _path_maker() -> t.Callable[..., Path]:
    """`Path(...)` by position, at half the cost: a transit table builds hundreds of thousands.

    The frozen dataclass's __init__ looks `object.__setattr__` up again for
    every field; this sets the same slots through their descriptors, bound
    once.  The same object, the same fields: no __post_init__ to skip.
    """
    names = [field.name for field in dataclasses.fields(Path)]
    if names != ["mask", "conditions", "steps", "action", "keep", "value", "classes", "police", "egress", "unmodeled",
                 "unknown"]:
        raise AssertionError("Path's fields changed: update new_path")
    (set_mask, set_conditions, set_steps, set_action, set_keep, set_value, set_classes, set_police, set_egress,
     set_unmodeled, set_unknown) = (getattr(Path, name).__set__ for name in names)
    allocate = object.__new__

    def make(mask: int, conditions: tuple[Condition, ...], steps: tuple[Step, ...], action: str, keep: int, value: int,
             classes: tuple[str, ...], police: tuple[str, ...], egress: str | None, unmodeled: bool, unknown: int) -> Path:
        path = allocate(Path)
        set_mask(path, mask)
        set_conditions(path, conditions)
        set_steps(path, steps)
        set_action(path, action)
        set_keep(path, keep)
        set_value(path, value)
        set_classes(path, classes)
        set_police(path, police)
        set_egress(path, egress)
        set_unmodeled(path, unmodeled)
        set_unknown(path, unknown)
        return path

    return make


new_path = _path_maker()


@dataclasses.dataclass(frozen=True, slots=True)
class FateClass:
    """Arriving DS bytes that take the same paths."""

    mask: int
    paths: tuple[Path, ...]
    # Compared with unmarked traffic (byte 0).  because_of_dscp: the paths differ
    # (conservative: a redundant line testing the byte can make it true with the
    # same outcomes).  fate_differs: certainly different, the plain packet's
    # outcome or the set of possible outcomes changes.
    because_of_dscp: bool = False
    fate_differs: bool = False
    queue_differs: bool = False
    # Per path: no path of unmarked traffic has this treatment.
    path_differs: tuple[bool, ...] = ()

    @property
    def bytes(self) -> list[int]:
        return bytes_of(self.mask)

    @property
    def dscps(self) -> list[int]:
        """DSCPs whose four bytes (all ECN values) are all in this class."""
        return [d for d in range(64) if (self.mask >> (4 * d)) & 0xF == 0xF]

    @property
    def default(self) -> Path:
        for path in self.paths:
            if path.is_default:
                return path
        return self.paths[-1]

    @property
    def fate(self) -> str:
        """The plain packet's fate; `actions` lists what conditions can lead to."""
        return self.default.action

    @property
    def actions(self) -> list[str]:
        return sorted({p.action for p in self.paths})

    @property
    def policed(self) -> bool:
        return any(p.police for p in self.paths)

    def summary(self) -> str:
        default = self.default
        text = default.action
        if default.rewrites:
            text += ", re-marked to " + (default.describe_rewrite() or "")
        others = sorted({p.action for p in self.paths if p is not default and p.action != default.action}
                        | {REMARKED_UNKNOWN for p in self.paths if p is not default and p.unknown and not default.unknown})
        if others:
            text += "; under conditions: " + ", ".join(others)
        if self.policed:
            text += "; policed"
        return text

    def as_dict(self) -> dict[str, t.Any]:
        arriving = self.bytes
        return {
            "bytes": arriving,
            "dscps": self.dscps,
            "fate": self.fate,
            "summary": self.summary(),
            "actions": self.actions,
            "policed": self.policed,
            "because_of_dscp": self.because_of_dscp,
            "fate_differs": self.fate_differs,
            "queue_differs": self.queue_differs,
            "paths": [dict(p.as_dict(arriving), differs_from_unmarked=bool(d))
                      for p, d in zip(self.paths, self.path_differs or (False,) * len(self.paths))],
        }


@dataclasses.dataclass(frozen=True)
class FateTable:
    """Every arriving DS byte's fate on one interface and direction.

    direction: "in" (input ACL, input policy, policy routing), "out"
    (output ACL, output policy), "transit" (in on `interface`, out on
    `out_interface`) or "local" (`ip local policy`: router-generated).
    """

    router: str | None
    file: str
    interface: str
    direction: str
    shutdown: bool
    stages: tuple[Step, ...]
    classes: tuple[FateClass, ...]
    out_interface: str | None = None
    # 4: IPv4 packets (DS byte); 6: IPv6 packets (Traffic Class, the same eight bits).
    family: int = 4

    @property
    def byte_class(self) -> tuple[int, ...]:
        """Index into `classes` for each arriving byte 0-255 (derived on first use)."""
        cached = self.__dict__.get("_byte_class")
        if cached is None:
            index = [0] * 256
            for position, cls in enumerate(self.classes):
                for byte in bytes_of(cls.mask):
                    index[byte] = position
            cached = tuple(index)
            object.__setattr__(self, "_byte_class", cached)
        return cached

    def for_byte(self, byte: int) -> FateClass:
        cached: tuple[int, ...] | None = self.__dict__.get("_byte_class")
        if cached is None:
            # One byte asked of a table not indexed yet (a router's advisories ask each of 754 tables for DSCP 1):
            # its class found by its mask, without indexing all 256 bytes.
            return next(each for each in self.classes if each.mask >> byte & 1)
        return self.classes[cached[byte]]

    def for_dscp(self, dscp: int) -> list[FateClass]:
        """The classes of DSCP's four bytes; more than one when ECN/TOS bits matter."""
        seen: list[int] = []
        for byte in range(dscp << 2, (dscp << 2) + 4):
            index = self.byte_class[byte]
            if index not in seen:
                seen.append(index)
        return [self.classes[i] for i in seen]

    def because_of_dscp(self, byte: int) -> bool:
        return self.for_byte(byte).because_of_dscp

    @property
    def paths(self) -> list[Path]:
        seen: dict[int, Path] = {}
        for cls in self.classes:
            for path in cls.paths:
                seen.setdefault(id(path), path)
        return list(seen.values())

    def markings(self) -> list[tuple[Step, tuple[Condition, ...]]]:
        """Every rewrite the router performs on this pipeline, with the conditions of its path."""
        out: list[tuple[Step, tuple[Condition, ...]]] = []
        seen: set[tuple[int, tuple[int, ...]]] = set()
        for path in self.paths:
            for step in path.steps:
                if step.rewrite is not None:
                    key = (id(step), tuple(id(c) for c in path.conditions))
                    if key not in seen:
                        seen.add(key)
                        out.append((step, path.conditions))
        return out

    def by_dscp(self) -> list[dict[str, t.Any]]:
        rows = []
        for dscp in range(64):
            classes = self.for_dscp(dscp)
            rows.append({
                "dscp": dscp,
                "label": dscp_label(dscp),
                "classes": [self.classes.index(c) for c in classes],
                "fate": classes[0].fate if len(classes) == 1 else "/".join(
                    "%s (ECN %d)" % (self.for_byte((dscp << 2) | e).fate, e) for e in range(4)),
                "ecn_dependent": len(classes) > 1,
                "because_of_dscp": any(c.because_of_dscp for c in classes),
                "fate_differs": any(c.fate_differs for c in classes),
            })
        return rows

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "router": self.router,
            "file": self.file,
            "interface": self.interface,
            "out_interface": self.out_interface,
            "direction": self.direction,
            "shutdown": self.shutdown,
            "stages": [s.as_dict() for s in self.stages],
            "classes": [c.as_dict() for c in self.classes],
            "by_dscp": self.by_dscp(),
            **({"family": 6} if self.family == 6 else {}),
        }
