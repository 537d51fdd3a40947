# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.trace: validate, call the core, shape the result."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import trace_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, trace
from ansible_collections.diffserv.audit.plugins.module_utils.loader import readable_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_text


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        given = [name for name in ("iptables", "nftables", "ios") if args.get(name)]
        if len(given) != 1:
            raise AnsibleActionFail("give exactly one of 'iptables' (a dump), 'nftables' (an nft ruleset) or 'ios' "
                                    "(a running-config)")
        if given == ["iptables"]:
            result = self._trace_iptables(args)
        elif given == ["nftables"]:
            result = self._trace_nftables(args)
        else:
            result = self._trace_ios(args)
        result["changed"] = False
        return result

    def _read(self, path):
        full = self._loader.path_dwim(path)
        return full, read_text(full, path)

    def _trace_iptables(self, args):
        full, text = self._read(args["iptables"])
        ruleset = readable_ruleset(text, args["iptables"])
        program = Program(ruleset, args["backend"], args["tos_semantics"])
        results = []
        for index, given in enumerate(args["packets"]):
            wanted = {key: value for key, value in given.items() if value is not None}
            try:
                packet = Packet.from_dict(wanted, ruleset.family)
            except (DiffservError, ValueError) as error:
                raise AnsibleActionFail("packets[%d]: %s" % (index, error)) from None
            results.append(trace(ruleset, packet, program=program).as_dict())
        return {
            "packets": results,
            "file": full,
            "diagnostics": [str(diagnostic) for diagnostic in ruleset.diagnostics],
        }

    def _trace_nftables(self, args):
        full, text = self._read(args["nftables"])
        document = read_ruleset(text, args["nftables"])
        families = document.families() or [4]
        programs = {}
        results = []
        for index, given in enumerate(args["packets"]):
            wanted = {key: value for key, value in given.items() if value is not None}
            # The view the packet crosses: IPv6 when it carries an IPv6 address (or the ruleset sees only IPv6).
            family = 6 if any(":" in str(wanted.get(key, "")) for key in ("src", "dst")) or families == [6] else 4
            view = document.view(family)
            try:
                packet = Packet.from_dict(wanted, family)
            except (DiffservError, ValueError) as error:
                raise AnsibleActionFail("packets[%d]: %s" % (index, error)) from None
            if family not in programs:
                programs[family] = Program(view, args["backend"], args["tos_semantics"])
            results.append(trace(view, packet, program=programs[family]).as_dict())
        return {
            "packets": results,
            "file": full,
            "diagnostics": [str(diagnostic) for diagnostic in document.diagnostics],
        }

    def _trace_ios(self, args):
        full, text = self._read(args["ios"])
        config = parse_ios(text, args["ios"])
        results = []
        for index, given in enumerate(args["packets"]):
            wanted = {key: value for key, value in given.items() if value is not None}
            try:
                results.append(trace_ios(config, wanted))
            except (DiffservError, ValueError) as error:
                raise AnsibleActionFail("packets[%d]: %s" % (index, error)) from None
        return {
            "packets": results,
            "file": full,
            "diagnostics": [str(diagnostic) for diagnostic in config.diagnostics],
        }
