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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("remediation_bundle"))
        hostvars = task_vars.get("hostvars", {})
        groups = task_vars.get("groups", {})
        hosts = args["hosts"] or sorted(set(groups.get("linux_firewalls", [])) | set(groups.get("ios_routers", [])))
        dscp = args["dscp"]
        if dscp is None and task_vars.get("diffserv_dscp") is not None:
            dscp = self._templar.template(task_vars["diffserv_dscp"])
        # The same two places analyze reads: one batch result on this host, or one result per host.
        batch = task_vars.get(args["register_name"])
        collections = {}
        for host in hosts:
            if isinstance(batch, dict) and "collections" in batch:
                collections[host] = batch["collections"].get(host)
            else:
                registered = hostvars.get(host, {}).get(args["register_name"]) or {}
                collections[host] = registered.get("diffserv_collection")
        options = {"dscp": dscp, "strategies": args["strategies"], "boundary_policy": args["boundary_policy"]}
        try:
            summary = write_bundles(args["findings"], collections, args["report_dir"], options,
                                    write=not self._task.check_mode)
        except DiffservError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(changed=True, bundle=summary)
        return result
