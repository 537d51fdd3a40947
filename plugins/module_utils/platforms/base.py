# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a platform driver is: one small interface, everything platform-specific behind it.

A driver says which role its devices play in the join (a firewall writes DS bytes, a router
decides their fate), recognises its text, parses and checks it (file:line kept), loads it into the
model the join reads (a marking map or a fate model), and names how it is collected live (the
session flavour and the show commands) and what its saved file is called in a collection.
Adding a platform is a new driver module plus one registry line (platforms/__init__.py) and its
tests; nothing else in the collection asks which platform a host is.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import importlib
import typing as t

FIREWALL, ROUTER = "firewall", "router"


@dataclasses.dataclass(frozen=True)
class Loaded:
    """One host's collection as the join reads it: its model (or None), and notes on what is not joined."""

    model: t.Any  # analysis.FirewallInput or analysis.RouterInput
    notes: tuple[dict[str, t.Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class LiveCommand:
    """A command that prints the configuration, and the name its output has in a collection."""

    name: str
    command: str
    family: int | None = None  # the address family the output holds, where the command says it


class Driver:
    """The interface; each platform module gives one instance of a subclass."""

    name: str = ""
    role: str = ""  # FIREWALL or ROUTER
    session: str = ""  # the live session flavour (plugin_utils/session.py): "linux" or "ios"
    live_commands: tuple[LiveCommand, ...] = ()
    # What a saved file is called in a collection, and which collected items the join reads.
    saved_item: str = ""
    analysed_items: tuple[str, ...] = ()

    def detect(self, text: str) -> bool:
        """Whether a text is this platform's configuration (a saved file of unknown kind)."""
        raise NotImplementedError

    def check(self, name: str, text: str, source: str) -> dict[str, t.Any]:
        """Parse once to prove the text whole (ParseError with file:line otherwise); a short summary."""
        raise NotImplementedError

    def load(self, host: str, item: t.Mapping[str, t.Any], managed: bool, egresses: t.Sequence[str],
             backend: str, tos_semantics: str) -> Loaded:
        """One collected item -> the model the join reads (None when this item is not joined)."""
        raise NotImplementedError

    def saved_item_name(self, family: int | None) -> str:
        """The collection item a saved file becomes (family 6: the IPv6 form where the platform has one)."""
        return self.saved_item

    def planned_item(self, files: t.Iterable[t.Mapping[str, t.Any]]) -> t.Mapping[str, t.Any] | None:
        """The collected item the strategies plan from: the first analysed item the host has (the IPv4 dump;
        an IPv6-only firewall's ip6tables-save dump), None when it has none."""
        files = list(files)
        for name in self.analysed_items:
            for item in files:
                if item.get("name") == name and item.get("text"):
                    return item
        return None

    def companion_item(self, files: t.Iterable[t.Mapping[str, t.Any]]) -> t.Mapping[str, t.Any] | None:
        """The IPv6 dump the strategies plan from beside the planned item, when that is the IPv4 one: a host
        collected with both (`iptables-save` and `ip6tables-save`); None otherwise (one item holds every family
        the platform plans, or the host has one dump)."""
        files = list(files)
        planned = self.planned_item(files)
        ipv6 = self.saved_item_name(6)
        if planned is None or ipv6 == self.saved_item or planned.get("name") != self.saved_item \
                or ipv6 not in self.analysed_items:
            return None
        return next((item for item in files if item.get("name") == ipv6 and item.get("text")), None)

    # The module of remediation/ that plans this firewall platform's changes (remediation/iptables.py:
    # its `boundary_change`, `boundary_window` and `APPLY`); None: the module named like the driver.
    writer: str | None = None

    def firewall_writer(self) -> t.Any:
        """The module remark_boundary asks to plan a DS-clearing change on this platform's firewalls (None for
        a router platform).  Imported when first asked: the remediation package imports this registry."""
        if self.role != FIREWALL:
            return None
        return importlib.import_module("ansible_collections.diffserv.audit.plugins.module_utils.remediation.%s"
                                       % (self.writer or self.name))
