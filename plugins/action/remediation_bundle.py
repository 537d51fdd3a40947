# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.remediation_bundle: findings + collections -> change bundles on disk."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.plugin_utils.argspec import argument_spec
from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import write_bundles
from ansible_collections.diffserv.audit.plugins.plugin_utils.collections import audited_hosts, registered_results


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("remediation_bundle"))
        hosts = audited_hosts(task_vars, args["hosts"], args["register_name"])
        dscp = args["dscp"]
        if dscp is None and task_vars.get("diffserv_dscp") is not None:
            dscp = self._templar.template(task_vars["diffserv_dscp"])
        collections = {host: (registered or {}).get("diffserv_collection")
                       for host, registered in registered_results(task_vars, hosts, args["register_name"]).items()}
        options = {"dscp": dscp, "strategies": args["strategies"], "boundary_policy": args["boundary_policy"]}
        try:
            summary = write_bundles(args["findings"], collections, args["report_dir"], options,
                                    write=not self._task.check_mode)
        except DiffservError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=True, bundle=summary)
        return result
