# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.remediation_bundle: findings + collections -> change bundles on disk."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import write_bundles
from ansible_collections.diffserv.audit.plugins.plugin_utils.collections import audited_hosts, registered_results


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        hosts = audited_hosts(task_vars, args["hosts"], args["register_name"])
        dscp = args["dscp"]
        if dscp is None and task_vars.get("diffserv_dscp") is not None:
            dscp = self._templar.template(task_vars["diffserv_dscp"])
        collections = {host: (registered or {}).get("diffserv_collection")
                       for host, registered in registered_results(task_vars, hosts, args["register_name"]).items()}
        options = {"dscp": dscp, "strategies": args["strategies"], "boundary_policy": args["boundary_policy"]}
        summary = write_bundles(args["findings"], collections, args["report_dir"], options,
                                write=not self._task.check_mode)
        return {"changed": True, "bundle": summary}
