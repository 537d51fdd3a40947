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
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_text


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        if bool(args.get("iptables")) == bool(args.get("ios")):
            raise AnsibleActionFail("give exactly one of 'iptables' (a dump) or 'ios' (a running-config)")
        result = self._trace_iptables(args) if args.get("iptables") else self._trace_ios(args)
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
