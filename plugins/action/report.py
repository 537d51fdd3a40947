# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.report: findings.json -> report.md, report.html, SARIF, JUnit, baseline."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import functools
import json
import os
import time
import zipfile

import yaml

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.forking import fork_call, worth_forking
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.baseline import compare
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.junit import junit_xml
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.sarif import sarif_log, sarif_text
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.view import report_view, run_view
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact_data
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.templates import COLLECTION_ROOT, environment

FILES = {"md": "report.md", "html": "report.html", "sarif": "findings.sarif", "junit": "junit.xml"}


def collection_version():
    try:
        with open(COLLECTION_ROOT / "galaxy.yml", encoding="utf-8") as handle:
            return str(yaml.safe_load(handle).get("version") or "0.0.0")
    except (OSError, yaml.YAMLError, AttributeError):
        return "0.0.0"


def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise DiffservError("%s %s cannot be read: %s" % (what, path, error.strerror or error)) from None
    except ValueError as error:
        raise DiffservError("%s %s is not JSON: %s" % (what, path, error)) from None


def write(path, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as handle:
        handle.write(data)
    os.chmod(path, 0o640)


def collected_sources(batch_or_hostvars, wanted):
    """file -> its (redacted) lines, for the files in `wanted`, from what the collection returned."""
    found = {}
    for collection in batch_or_hostvars:
        for item in (collection or {}).get("files", []):
            if item.get("source") in wanted and item.get("text") is not None:
                found[item["source"]] = item["text"].splitlines()
    return found


def archive_bundles(report_dir, report_html):
    """changes/<strategy>.zip for each bundle folder: one file to attach to a change request."""
    changes = os.path.join(report_dir, "changes")
    made = {}
    if not os.path.isdir(changes):
        return made
    for name in sorted(os.listdir(changes)):
        folder = os.path.join(changes, name)
        if not os.path.isdir(folder):
            continue
        path = folder + ".zip"
        # Stored, not deflated: a scan of the report folder for secrets reads the members' text as it is.
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for root, _dirs, files in os.walk(folder):
                for file_name in sorted(files):
                    full = os.path.join(root, file_name)
                    archive.write(full, os.path.join(name, os.path.relpath(full, folder)))
            if report_html and os.path.isfile(report_html):
                archive.write(report_html, os.path.join(name, "report.html"))
        os.chmod(path, 0o640)
        made[name] = path
    return made


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        started = time.perf_counter()
        findings_file = args["findings_file"]
        findings = read_json(findings_file, "findings")
        report_dir = args["report_dir"] or os.path.dirname(findings_file) or "."
        os.makedirs(report_dir, mode=0o750, exist_ok=True)
        result = {"changed": True, "files": {}, "timings": {}}
        baseline = None
        if args["baseline"]:
            earlier = read_json(args["baseline"], "baseline")
            baseline = redact_data(compare(earlier, findings, args["baseline"]))
            findings["baseline"] = baseline
            # findings.json carries the comparison too: a pipeline reads one file.
            write(findings_file, json.dumps(findings, indent=2, sort_keys=True) + "\n")
            result["baseline"] = baseline
        result["new_conflicts"] = baseline["counts"]["new"] if baseline else len(findings.get("conflicts", []))
        wanted = {c["marker"]["file"] for c in findings.get("conflicts", []) if len(c["marker"].get("writers", [])) > 1}
        sources = {}
        if wanted:
            registered = task_vars.get(args["register_name"])
            if isinstance(registered, dict) and "collections" in registered:
                collections = list(registered["collections"].values())
            else:
                hostvars = task_vars.get("hostvars", {})
                collections = [(hostvars.get(host, {}).get(args["register_name"]) or {}).get("diffserv_collection")
                               for host in hostvars]
            sources = collected_sources(collections, wanted)
        view = report_view(findings, sources)
        result["timings"]["view_seconds"] = round(time.perf_counter() - started, 3)
        check_mode = bool(self._task.check_mode)
        written = [FILES[fmt] for fmt in FILES if fmt in args["formats"]] + ["findings.json"]
        run = run_view(report_dir, written, check_mode=check_mode, bundle=args["bundle"],
                       bundle_error=args["bundle_error"], baseline=baseline,
                       bundles_skipped=check_mode and args["bundle"] is not None, notes=args["notes"])
        env = environment("audit")

        def render(formats):
            """Each format's file written; its path and seconds."""
            done = {}
            for fmt in formats:
                began = time.perf_counter()
                path = os.path.join(report_dir, FILES[fmt])
                if fmt == "md":
                    data = env.get_template("report.md.j2").render(view=view, run=run)
                elif fmt == "html":
                    data = env.get_template("report.html.j2").render(view=view, run=run)
                elif fmt == "sarif":
                    data = sarif_text(sarif_log(findings, collection_version()))
                else:
                    data = junit_xml(findings)
                write(path, data)
                done[fmt] = (path, round(time.perf_counter() - began, 3))
            return done

        # A fleet's machine formats (SARIF, JUnit: from the findings alone) are written by a forked child while
        # the pages for people (from the view) are written here.
        machine = [fmt for fmt in args["formats"] if fmt in ("sarif", "junit")]
        people = [fmt for fmt in args["formats"] if fmt not in machine]
        counted = findings.get("summary", {})
        audited = len(counted.get("firewalls", [])) + len(counted.get("routers", []))
        forked = fork_call(functools.partial(render, machine)) \
            if machine and people and worth_forking(audited, 2) else None
        done = render(people if forked is not None else args["formats"])
        if forked is not None:
            theirs = forked.result()
            done.update(theirs if isinstance(theirs, dict) and set(theirs) == set(machine) else render(machine))
        for fmt in args["formats"]:
            result["files"][fmt], result["timings"]["%s_seconds" % fmt] = done[fmt]
        if args["archives"] and not check_mode:
            result["archives"] = archive_bundles(report_dir, result["files"].get("html"))
        summary = env.get_template("summary.j2").render(view=view, run=run)
        result["summary"] = summary.strip().split("\n")
        if check_mode:
            result["check_mode_note"] = ("check mode: the reports were written all the same (controller-side files "
                                         "the run was asked for)")
        return result
