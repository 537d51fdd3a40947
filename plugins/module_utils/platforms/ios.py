# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Cisco IOS / IOS-XE driver: `show running-config`, read into the fate model."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.analysis import RouterInput
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.platforms.base import ROUTER, Driver, LiveCommand, Loaded

# Lines a running-config has near its top and an iptables dump never does.
_CONFIG_WORDS = re.compile(r"^(?:hostname |version \d|interface |Building configuration|Current configuration|!)", re.MULTILINE)


class IosDriver(Driver):
    name = "ios"
    role = ROUTER
    session = "ios"
    live_commands = (LiveCommand("running-config", "show running-config"),)
    saved_item = "running-config"
    analysed_items = ("running-config",)

    def detect(self, text: str) -> bool:
        return bool(_CONFIG_WORDS.search(text[:65536]))

    def check(self, name: str, text: str, source: str) -> dict[str, t.Any]:
        config = parse_ios(text, source)
        return {"interfaces": len(config.interfaces), "diagnostics": [str(d) for d in config.diagnostics]}

    def load(self, host: str, item: t.Mapping[str, t.Any], managed: bool, egresses: t.Sequence[str],
             backend: str, tos_semantics: str) -> Loaded:
        if item["name"] not in self.analysed_items:
            return Loaded(None)
        return Loaded(RouterInput(host, item["source"], parse_ios(item["text"], item["source"]), managed))


DRIVER = IosDriver()
