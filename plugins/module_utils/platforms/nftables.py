# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables driver: `nft list ruleset` text or `nft -j list ruleset` JSON, read into marking maps.

Each family's view of the ruleset (`ip` and `inet` tables for IPv4, `ip6` and `inet` for IPv6) is what
the join reads, through the same marking map as an iptables dump (netfilter/markmap.py walks the base
chains each hook declares, in priority order), each joined with the routers' tables of its family.

>>> DRIVER.detect('table inet filter {\\n\\tchain input {\\n\\t}\\n}\\n'), DRIVER.detect('{"nftables": []}')
(True, True)
>>> DRIVER.detect('*mangle\\n:PREROUTING ACCEPT [0:0]\\nCOMMIT\\n')
False
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.analysis import FirewallInput, with_family
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_dumps
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import looks_like_json, read_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.platforms.base import FIREWALL, Driver, LiveCommand, Loaded

# A listing (or an `nft -f` file of the block form) opens with a table, after comments, blank lines,
# `flush ruleset`, `define`s and one-line commands on tables (`delete table filter`).
_TEXT_START = re.compile(r"\A(?:\ufeff)?(?:\s*(?:#[^\n]*|flush\s+ruleset\s*;?|define\s[^\n]*|"
                         r"(?:add|delete|destroy|flush)\s+table\s[^\n{]*)?\n)*\s*"
                         r"table\s+(?:(?:ip|ip6|inet|arp|bridge|netdev)\s+)?\S+\s*\{")


class NftablesDriver(Driver):
    name = "nftables"
    role = FIREWALL
    session = "linux"
    live_commands = (LiveCommand("nft-ruleset", "nft list ruleset"),)
    saved_item = "nft-ruleset"
    analysed_items = ("nft-ruleset",)

    def detect(self, text: str) -> bool:
        head = text[:4096]
        return bool(_TEXT_START.match(head)) or looks_like_json(head)

    def check(self, name: str, text: str, source: str) -> dict[str, t.Any]:
        document = read_ruleset(text, source)
        return {"tables": [table.key for table in document.tables], "rules": document.rule_count,
                "families": document.families(), "backend": "nft", "tos_semantics": "modern",
                "diagnostics": [str(d) for d in document.diagnostics]}

    def load(self, host: str, item: t.Mapping[str, t.Any], managed: bool, egresses: t.Sequence[str],
             backend: str, tos_semantics: str) -> Loaded:
        if item["name"] not in self.analysed_items or not item["text"]:
            return Loaded(None)
        document = read_ruleset(item["text"], item["source"])
        notes: list[dict[str, t.Any]] = [dict(note.as_dict(), host=host) for note in document.diagnostics]
        # The host's iptables-save dumps, when it runs both (collect names them the item's companions): the
        # tables iptables-nft manages are read from them, on their hooks beside the native chains.
        dumps = {ruleset.family: ruleset for companion in item.get("iptables") or () if companion.get("text")
                 for ruleset in parse_dumps(companion["text"], companion["source"],
                                            family=6 if companion["name"] == "ip6tables-save" else None)}
        firewall = None
        for family in sorted(set(document.families()) | set(dumps)):
            view = View(document, family, iptables=dumps[family]) if family in dumps else document.view(family)
            if family in dumps:
                notes.extend(dict(note.as_dict(), host=host) for note in view.order_notes)
                shared = _shared_lines(view)
                if shared:
                    notes.append({"host": host, "file": item["source"], "line": min(shared), "text": "",
                                  "reason": "iptables-save and nft list ruleset hold rules on the same line numbers "
                                            "(%s): a finding citing one of those lines names one of the two rules"
                                            % ", ".join(str(line) for line in sorted(shared)[:10])})
            # Each family's view (ip and inet tables for IPv4, ip6 and inet for IPv6) with its own marking map,
            # joined with the routers' tables of that family; the IPv4 one leads (analysis.with_family).
            marks = marking_map(view, backend, tos_semantics, interfaces=list(egresses))
            notes.extend({"host": host, "file": item["source"], "line": document.lines[0], "text": "",
                          "reason": note} for note in marks.notes)
            firewall = with_family(firewall, FirewallInput(host, document.evidence_file, t.cast(t.Any, view), marks,
                                                           managed, family))
        return Loaded(firewall, tuple(notes))


def _shared_lines(view: View) -> set[int]:
    """Lines that hold a rule both in the dump's tables and in the listing's native ones (writers are lines)."""
    native: set[int] = set()
    dumped: set[int] = set()
    for name, table in view.tables.items():
        into = native if getattr(table, "native", False) else dumped
        for chain in table.chains:
            into.update(rule.line for rule in table.rules(chain))
    return native & dumped


DRIVER = NftablesDriver()
