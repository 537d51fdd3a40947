# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counters read live, through the session that collected the host (`diffserv_counters: true`).

After a host's configuration is collected, the same netmiko session runs the counter commands
(show commands only):

* a router (`show running-config` collected): `show access-lists`, `show route-map`,
  `show policy-map interface`, `show ip interface`;
* a Linux firewall: `iptables-save -c` (and `ip6tables-save -c`) where the host's `iptables-save`
  (`ip6tables-save`) gave a dump, `nft list ruleset` (its `counter` statements) where the host's
  listing was collected; through sudo when the user is not root, as the collection does.

With `diffserv_counter_interval: N` they run twice, N seconds apart, and the audit reports what grew
in between ("in the last 30 s, 412 SYN/ACKs matched ACL 106").  Each output is a `Reading`, which
the collect action hands over as one more item of the host's `diffserv_collection["files"]`
(`file_items`): named by its command, redacted like everything collected, never checked or loaded
as a configuration, with a `counters` entry (`command`, `reading`, `at`, `offset_seconds`,
`refused`).  plugins/plugin_utils/evidence.py reads them back (`live_readings`).

The session code calls back into this module (`reader`), so it stays one small hook there.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import datetime
import time
import typing as t

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.diffserv.audit.plugins.plugin_utils import session

# Host variables that turn it on (read per host, in batch mode too).
HOST_KEYS = ("diffserv_counters", "diffserv_counter_interval")
MAX_INTERVAL = 600.0  # an IOS exec-timeout is 10 minutes by default: the session must outlive the wait

IOS_COMMANDS = ("show access-lists", "show route-map", "show policy-map interface", "show ip interface")
# collected item -> the command that prints the same with counters (iptables-save(8) -c; nft(8) prints
# a rule's `counter` statement with its packets and bytes in every listing).
LINUX_COMMANDS = (("iptables-save", "iptables-save -c"), ("ip6tables-save", "ip6tables-save -c"),
                  ("nft-ruleset", "nft list ruleset"))
_REFUSED_BY_IOS = ("% Invalid input", "% Incomplete command", "% Ambiguous command")


@dataclasses.dataclass(frozen=True)
class Reading(session.Collected):
    """One counter command's output, in reading `reading` (1, or 2 after the interval)."""

    reading: int = 1
    at: str = ""  # UTC, ISO 8601, when the reading started
    offset: float = 0.0  # seconds after the first reading started


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to read: `interval` None reads once, else twice that many seconds apart."""

    interval: float | None = None


class PlanError(ValueError):
    """diffserv_counters / diffserv_counter_interval hold something unusable."""


def plan_from(host_vars: t.Mapping[str, t.Any]) -> Plan | None:
    """The host's counter plan from its variables; None when `diffserv_counters` is not true."""
    try:
        wanted = boolean(host_vars.get("diffserv_counters", False), strict=True)
    except TypeError as error:
        raise PlanError("diffserv_counters must be true or false: %s" % error) from None
    if not wanted:
        return None
    given = host_vars.get("diffserv_counter_interval")
    if given in (None, "", 0, "0"):
        return Plan()
    try:
        interval = float(given)
    except (TypeError, ValueError):
        raise PlanError("diffserv_counter_interval must be a number of seconds, not %r" % (given,)) from None
    if not 0 < interval <= MAX_INTERVAL:
        raise PlanError("diffserv_counter_interval must be between 0 and %d seconds, not %s" % (MAX_INTERVAL, given))
    return Plan(interval)


def commands_for(found: t.Sequence[session.Collected]) -> list[tuple[str, bool]]:
    """(command, privileged) to read on a host whose configuration items are `found`."""
    names = {item.name for item in found if item.text.strip() and not item.refused}
    if "running-config" in names:
        return [(command, False) for command in IOS_COMMANDS]
    return [(command, True) for name, command in LINUX_COMMANDS if name in names]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def take_readings(connection: t.Any, target: session.Target, found: t.Sequence[session.Collected], plan: Plan,
                  sleep: t.Callable[[float], None] = time.sleep) -> list[Reading]:
    """Run the counter commands on the open session, once or twice; a command the device refuses (a
    sudo rule without it, an IOS without the command) is a Reading with `refused` set, not a failure."""
    commands = commands_for(found)
    readings: list[Reading] = []
    started = time.monotonic()
    for number in ((1, 2) if plan.interval is not None else (1,)):
        if number == 2:
            sleep(plan.interval)
        at, offset = _now(), round(time.monotonic() - started, 3)
        for command, privileged in commands:
            refused = None
            try:
                # The session's own runners: sudo as the collection does it, the prompt it already knows.
                run = session._linux_privileged if privileged else session._run  # pylint: disable=protected-access
                text = run(connection, command, target)
            except session.CollectError as error:
                if error.unreachable or "sudo" not in str(error):
                    raise
                text, refused = "", str(error)
            if not privileged and text.lstrip().startswith(_REFUSED_BY_IOS):
                text, refused = "", "%s does not know `%s`: %s" % (target.host, command, text.strip().splitlines()[-1][:200])
            readings.append(Reading(command, text, command, refused, reading=number, at=at, offset=offset))
    return readings


def reader(plan: Plan | None) -> t.Callable[..., list[Reading]] | None:
    """The callback the session runs after collecting (None: counters not asked)."""
    if plan is None:
        return None

    def read(connection: t.Any, target: session.Target, found: t.Sequence[session.Collected]) -> list[Reading]:
        return take_readings(connection, target, found, plan)

    return read


def split(collected: t.Sequence[session.Collected]) -> tuple[list[session.Collected], list[Reading]]:
    """The configuration items and the counter readings of what a session returned."""
    return ([item for item in collected if not isinstance(item, Reading)],
            [item for item in collected if isinstance(item, Reading)])


def file_items(readings: t.Sequence[Reading], where: str) -> list[dict[str, t.Any]]:
    """The readings as items of `diffserv_collection["files"]` (texts already redacted by the caller)."""
    return [{"name": item.name, "source": "%s (%s)" % (where, item.command), "text": item.text,
             "summary": {"counters": True, "checked": False}, "notes": [],
             "counters": {"command": item.command, "reading": item.reading, "at": item.at,
                          "offset_seconds": item.offset, "refused": item.refused}}
            for item in readings]
