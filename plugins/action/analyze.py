# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.analyze: everything collected -> findings, once, on the controller."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.diffserv.audit.plugins.module_utils.analysis import analyze
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, error_entry
from ansible_collections.diffserv.audit.plugins.module_utils.loader import load_fleet
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact_data
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import result_summary, write_bundles
from ansible_collections.diffserv.audit.plugins.plugin_utils.collections import audited_hosts, not_audited_hosts, registered_results
from ansible_collections.diffserv.audit.plugins.plugin_utils.evidence import (
    attach_evidence, captures_given, firewall_texts, show_outputs_given,
)


# What the result's findings keep with result_findings=summary: what the audit role's later tasks test.
SUMMARY_KEYS = ("summary", "errors", "not_audited", "links")


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        hostvars = task_vars.get("hostvars", {})
        hosts = audited_hosts(task_vars, args["hosts"], args["register_name"])
        links_given = args["links"]
        if links_given is None:
            links_given = task_vars.get("diffserv_links")
            if links_given is None:
                links_given = next((hostvars[h].get("diffserv_links") for h in hosts
                                    if h in hostvars and hostvars[h].get("diffserv_links") is not None), None)
            links_given = self._templar.template(links_given) if links_given is not None else None
        if args["result_findings"] == "summary" and not args["findings_file"]:
            raise DiffservError("result_findings=summary returns only the summary of the findings: give findings_file, "
                                "where all of them are written")
        started = time.perf_counter()
        results = registered_results(task_vars, hosts, args["register_name"])
        fetch_seconds = time.perf_counter() - started
        # Every host is loaded on its own: whatever one host's text does, the others are reported.
        fleet = load_fleet(results, links_given, args["backend"], args["tos_semantics"])
        loaded = time.perf_counter()
        # Each link's conflicts are remembered on the loaded models: the bundles' re-audits join only what changes.
        typed = analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes, joins=fleet.joins,
                        parallel=True)
        # Typed inside, data at the Ansible edge: findings.json and the task result are as_dict().
        findings = typed.with_not_audited(not_audited_hosts(task_vars, args["register_name"])).as_dict()
        # What the network observed (captures, counters), tied to the rules and lines of the findings.
        evidence_seconds = attach_evidence(findings, typed, fleet, captures_given(task_vars, hosts),
                                           show_outputs_given(task_vars, fleet.routers), firewall_texts(results))
        analysed = time.perf_counter()
        # Texts were redacted when collected; redact the findings once more as a belt to those braces.
        findings = redact_data(findings)
        if args["findings_file"]:
            # Written here rather than by a copy task: a fleet's findings run to megabytes, and
            # sending them through a module argument costs seconds.
            path = args["findings_file"]
            os.makedirs(os.path.dirname(path) or ".", mode=0o750, exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(findings, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.chmod(path, 0o640)
        if args["result_findings"] == "summary":
            # findings.json holds them all; the result carries what later tasks test (see the option).
            findings = {key: findings[key] for key in SUMMARY_KEYS if key in findings}
        result = dict(changed=bool(args["findings_file"]), findings=findings)
        redacted = time.perf_counter()
        if args["bundles_dir"] and typed.conflicts:
            # Planned here, on the models just loaded: a run parses each collected text once.
            dscp = args["dscp"] if args["dscp"] is not None else task_vars.get("diffserv_dscp")
            collections = {host: (registered or {}).get("diffserv_collection") for host, registered in results.items()}
            try:
                given = {"dscp": dscp, "strategies": args["strategies"]}
                result["bundle"] = write_bundles(typed, collections, args["bundles_dir"], given,
                                                 write=not self._task.check_mode, loaded=fleet)
                if args["result_findings"] == "summary":
                    # changes/summary.json holds the per-host and per-file lists (see the option).
                    result["bundle"] = result_summary(result["bundle"])
            except Exception as error:  # pylint: disable=broad-except
                # The findings stand on their own (findings.json is written): the summary says why
                # there is no bundle, whether the planner refused or failed.
                result["bundle_error"] = error_entry(None, error, "planning the change bundles")["reason"]
        result["timings"] = {
            "load_seconds": round(loaded - started, 3), "hostvars_seconds": round(fetch_seconds, 3),
            "analyse_seconds": round(analysed - loaded, 3), "redact_seconds": round(redacted - analysed, 3),
            "bundle_seconds": round(time.perf_counter() - redacted, 3)}
        result["timings"].update(evidence_seconds)
        return result
