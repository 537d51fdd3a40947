# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.marking_map: validate, call the core, shape the result."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.loader import readable_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_text


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        if bool(args.get("iptables")) == bool(args.get("nftables")):
            raise AnsibleActionFail("give exactly one of 'iptables' (a dump) or 'nftables' (an nft ruleset)")
        if args.get("iptables"):
            path = self._loader.path_dwim(args["iptables"])
            ruleset = readable_ruleset(read_text(path, args["iptables"]), args["iptables"])
        else:
            path = self._loader.path_dwim(args["nftables"])
            document = read_ruleset(read_text(path, args["nftables"]), args["nftables"])
            # The IPv4 view (ip and inet tables), the one the join reads; IPv6 when nothing else is there.
            ruleset = document.view(6 if document.families() == [6] else 4)
        marks = marking_map(ruleset, args["backend"], args["tos_semantics"], interfaces=args["interfaces"])
        return dict(
            changed=False,
            markings=marks.summary(include_untouched=args["include_untouched"]),
            deciders=marks.deciders(),
            class_count=marks.class_count,
            backend=marks.program.backend,
            tos_semantics=marks.program.era,
            diagnostics=[str(diagnostic) for diagnostic in ruleset.diagnostics],
        )
