# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.marking_map: validate, call the core, shape the result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.loader import readable_ruleset
from ansible_collections.diffserv.audit.plugins.plugin_utils.argspec import argument_spec
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_text


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("marking_map"))
        path = self._loader.path_dwim(args["iptables"])
        try:
            ruleset = readable_ruleset(read_text(path, args["iptables"]), args["iptables"])
            marks = marking_map(ruleset, args["backend"], args["tos_semantics"], interfaces=args["interfaces"])
        except DiffservError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(
            changed=False,
            markings=marks.summary(include_untouched=args["include_untouched"]),
            deciders=marks.deciders(),
            class_count=marks.class_count,
            backend=marks.program.backend,
            tos_semantics=marks.program.era,
            diagnostics=[str(diagnostic) for diagnostic in ruleset.diagnostics],
        )
        return result
