# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work shared with a forked child on a machine of two cores or more: the audit's joins, the planner's
strategies and the bundles' rendering of a fleet.

The child is forked, so it reads the parent's parsed models without copying them (copy-on-write); it hands
back only its result, pickled through a pipe.  A child that fails costs nothing but time: `result()` is None
and the caller does that work itself.  Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import functools
import os
import pickle
import threading
import typing as t

# Below this many audited hosts one process does the work (a small fleet takes milliseconds) ...
FORK_MIN_HOSTS = 16
# ... unless their texts are this big: the bundles of a 10,000-rule dump (1.3 MB) take 0.30 s on two cores
# against 0.37 s in one, a 50,000-line router's (2.6 MB) 3.0 against 3.18 s, a 100,000-rule dump's (13 MB) a
# fifth less, the pickled plans (19 MB) included.
FORK_MIN_BYTES = 1 << 20


def worth_forking(hosts: int, pieces: int, size: int = 0) -> bool:
    """Whether work in `pieces` over a fleet of `hosts` whose texts hold `size` characters is shared with a
    forked child (2 cores or more, DIFFSERV_SERIAL_PLANNING unset: set, everything runs in one process)."""
    if pieces < 2 or (hosts < FORK_MIN_HOSTS and size < FORK_MIN_BYTES):
        return False
    return two_cores()


def two_cores() -> bool:
    """Whether this process may fork a child to share work with: fork exists, two cores or more are ours, and
    DIFFSERV_SERIAL_PLANNING is unset."""
    if not hasattr(os, "fork"):
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        cores = os.cpu_count() or 1
    return cores > 1 and os.environ.get("DIFFSERV_SERIAL_PLANNING", "") == ""


class Forked:
    """What a forked child computed: result() is the value it returned, or None when it failed (the caller
    then does that work itself).

    A thread drains the pipe while the caller works on: a child whose result is bigger than the pipe's buffer
    (a fleet's models run to megabytes) would otherwise wait, blocked on its write, until result() is called.
    """

    def __init__(self, pid: int, reader: int) -> None:
        self.pid, self.reader = pid, reader
        self.chunks: list[bytes] = []
        self.drain = threading.Thread(target=self._read, name="forked-%d" % pid, daemon=True)
        self.drain.start()

    def _read(self) -> None:
        with os.fdopen(self.reader, "rb") as pipe:
            while True:
                chunk = pipe.read(1 << 20)
                if not chunk:
                    break
                self.chunks.append(chunk)

    def result(self) -> t.Any:
        self.drain.join()
        _pid, status = os.waitpid(self.pid, 0)
        if status != 0 or not self.chunks:
            return None
        try:
            return pickle.loads(b"".join(self.chunks))
        except Exception:  # pylint: disable=broad-except
            return None
        finally:
            self.chunks = []


def fork_call(work: t.Callable[[], t.Any]) -> Forked | None:
    """`work()` in a forked child (copy-on-write: it reads the parent's models without copying them), its value
    handed back pickled through a pipe; None when the fork itself fails."""
    reader, writer = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        return None
    if pid == 0:  # pragma: no cover - the child's lines run in the child (coverage does not follow a fork)
        code = 1
        try:
            os.close(reader)
            data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(data)
            code = 0
        finally:
            os._exit(code)  # no atexit handlers, no flushing of the parent's buffers twice
    os.close(writer)
    return Forked(pid, reader)


Value = t.TypeVar("Value")
Key = t.TypeVar("Key", bound=t.Hashable)


def computed_apart(keys: t.Iterable[Key], compute: t.Callable[[Key], Value], groups: t.Sequence[t.Sequence[Key]],
                   valid: t.Callable[[Key, t.Any], bool]) -> dict[Key, Value]:
    """compute(key) for every key: each of `groups` in a forked child of its own, the other keys here (in order)
    while the children work.  A child that fails, or hands back for a key a value `valid` refuses (a wrong or
    missing one), costs time, never a value: that key is computed here then.  No group: all in this process."""
    children = [(group, fork_call(functools.partial(_compute_each, compute, group))) for group in groups if group]
    away = {key for group, child in children if child is not None for key in group}
    values = {key: compute(key) for key in keys if key not in away}
    for group, child in children:
        if child is None:
            continue  # the fork itself failed: the group was computed above
        handed = child.result()
        for key in group:
            values[key] = _handed_or_computed(handed, key, compute, valid)
    return values


_MISSING = object()


def _handed_or_computed(handed: t.Any, key: Key, compute: t.Callable[[Key], Value],
                        valid: t.Callable[[Key, t.Any], bool]) -> Value:
    """The value a child handed back for `key` (a dict by key, or None when it failed), or, where it did not or
    `valid` refuses it, the value computed here."""
    value = handed.get(key, _MISSING) if isinstance(handed, dict) else _MISSING
    return t.cast(Value, value) if value is not _MISSING and valid(key, value) else compute(key)


def computed_shared(keys: t.Sequence[Key], compute: t.Callable[[Key], Value],
                    valid: t.Callable[[Key, t.Any], bool]) -> dict[Key, Value]:
    """compute(key) for every key, on two cores: a forked child and this process each take the next key nobody
    has taken yet, in the order given (costliest first is best), until none is left, so neither waits while work
    is left for it.  Static shares cannot do that when the costs depend on the input: the four strategies cost
    9.0, 7.2, 4.3 and 3.3 s on a 1,000-device fleet, and 0.35, 0.33, 0.16 and 0.01 s on one 100,000-rule dump.

    The keys wait in a pipe, one byte each: a read of one byte takes one, atomically between the two
    processes.  A child that fails costs time, never a value: whatever it took and did not hand back (or handed
    back as a value `valid` refuses) is computed here.  Up to 255 keys; more, or one core: all here, in order."""
    keys = list(keys)
    if len(keys) < 2 or len(keys) > 255 or not two_cores():
        return {key: compute(key) for key in keys}
    queue, feed = os.pipe()
    try:
        os.write(feed, bytes(range(len(keys))))
    finally:
        os.close(feed)  # closed before the fork: once the queue is empty, each side reads the end of it
    try:
        child = fork_call(functools.partial(_take_each, keys, compute, queue))
        values = _take_each(keys, compute, queue)
    finally:
        os.close(queue)
    handed = child.result() if child is not None else None
    for key in keys:
        if key not in values:
            values[key] = _handed_or_computed(handed, key, compute, valid)
    return {key: values[key] for key in keys}


def _take_each(keys: t.Sequence[Key], compute: t.Callable[[Key], Value], queue: int) -> dict[Key, Value]:
    """Take keys from the queue one at a time, each computed before the next is taken."""
    values: dict[Key, Value] = {}
    while True:
        taken = os.read(queue, 1)
        if not taken:
            return values
        values[keys[taken[0]]] = compute(keys[taken[0]])


def _compute_each(compute: t.Callable[[Key], Value], group: t.Sequence[Key]) -> dict[Key, Value]:
    """A forked child's share: each key's value."""
    return {key: compute(key) for key in group}


class Beside(t.Generic[Value]):
    """`work` started in a forked child when the text it reads holds `size` characters or more (FORK_MIN_BYTES,
    on two cores or more), so that the caller does other work meanwhile; else nothing starts until value().

    value() gives work's value: the child's, or, where no child ran or it failed, work() computed then (once,
    remembered).  close() reaps a child whose value was not asked for (the caller's own work raised)."""

    def __init__(self, work: t.Callable[[], Value], size: int) -> None:
        self.work = work
        self.forked = fork_call(work) if worth_forking(1, 2, size) else None
        self.known: list[Value] = []

    def value(self) -> Value:
        if not self.known:
            theirs = self.forked.result() if self.forked is not None else None
            self.forked = None
            self.known.append(t.cast(Value, theirs) if theirs is not None else self.work())
        return self.known[0]

    def close(self) -> None:
        if self.forked is not None:
            self.forked.result()
            self.forked = None
