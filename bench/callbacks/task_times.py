# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: how long each task of a playbook run took, printed at the end.

Not part of the collection (it lives under bench/, outside plugins/): bench/e2e_bench.py enables it
for its own runs only, with

    ANSIBLE_CALLBACK_PLUGINS=bench/callbacks ANSIBLE_CALLBACKS_ENABLED=task_times

A task's time runs from its start to the start of the next task (or the end of the play): the
worker, the action, and the controller's handling of the result (registering it, the callbacks).
"start-up" is from this plugin's loading (after ansible-playbook has read its configuration) to the
first task. With DIFFSERV_BENCH_TASK_TIMES=<path>, the same figures are also written there as JSON.

Task results are read only with DIFFSERV_BENCH_TASK_RESULTS=1: then the JSON also holds the
`timings` an action returned (the analyze action's load/analyse/redact split), the exception of
a failed task (a task with ignore_errors fails silently otherwise) and any `*_error` an ok result
carries (the analyze action's `bundle_error` when the planner fails).  Off by default because it is
not free: ansible-core 2.19 gives every callback plugin that implements a v2_runner_on_* method its
own deep copy of each result, converted to native types when read (on a 500+500 fleet, whose
findings run to 18 MB, that is seconds a run).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: print each task's wall time (benchmark helper of diffserv.audit)
description:
  - Prints, at the end of the run, each task's wall time and the start-up before the first task.
  - Writes the figures as JSON to the file named by DIFFSERV_BENCH_TASK_TIMES when it is set.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=task_times
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    RESULT_HOOKS = frozenset(("v2_runner_on_ok", "v2_runner_on_failed", "v2_runner_on_skipped"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loaded = time.perf_counter()
        self._tasks = []  # [name, start, end, status]
        self._timings = {}
        self._failures = []

    def _init_callback_methods(self):
        # The task queue manager calls this once the plugin is loaded, to learn which methods to dispatch.
        super()._init_callback_methods()
        if not os.environ.get("DIFFSERV_BENCH_TASK_RESULTS"):
            # Not dispatched at all, so Ansible makes no copy of any result for this plugin.
            self._implemented_callback_methods = self._implemented_callback_methods - self.RESULT_HOOKS

    def _close_last(self, now):
        if self._tasks and self._tasks[-1][2] is None:
            self._tasks[-1][2] = now

    def v2_playbook_on_task_start(self, task, is_conditional):
        now = time.perf_counter()
        self._close_last(now)
        self._tasks.append([task.get_name().strip(), now, None, "started"])

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_play_start(self, play):
        # Between plays: the time until the next task belongs to the play's set-up, not the last task.
        self._close_last(time.perf_counter())

    def _result(self, result, status):
        if self._tasks:
            self._tasks[-1][3] = status
        data = getattr(result, "_result", {}) or {}
        timings = data.get("timings")
        if isinstance(timings, dict) and self._tasks:
            self._timings[self._tasks[-1][0]] = timings
        # A failure an action reports inside an ok result (the analyze action's `bundle_error`).
        for key in sorted(k for k in data if str(k).endswith("_error") and data[k]):
            self._failures.append({"task": "%s (%s)" % (self._tasks[-1][0] if self._tasks else "", key),
                                   "msg": str(data[key])[:2000], "exception": ""})
        if status == "failed":
            self._failures.append({"task": self._tasks[-1][0] if self._tasks else "",
                                   "msg": str(data.get("msg", ""))[:2000],
                                   "exception": str(data.get("exception", ""))[-6000:]})

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        end = time.perf_counter()
        self._close_last(end)
        first = self._tasks[0][1] if self._tasks else end
        rows = [{"task": name, "seconds": round(stop - start, 4), "status": status}
                for name, start, stop, status in self._tasks]
        self._display.display("TASK TIMES (wall, start of task to start of the next)")
        self._display.display("  %8.3f s  start-up (configuration read -> first task)" % (first - self._loaded))
        for row in rows:
            status = "" if row["status"] in ("ok", "started") else " (%s)" % row["status"]
            self._display.display("  %8.3f s  %s%s" % (row["seconds"], row["task"], status))
        self._display.display("  %8.3f s  total since the configuration was read" % (end - self._loaded))
        path = os.environ.get("DIFFSERV_BENCH_TASK_TIMES")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"startup": round(first - self._loaded, 4), "total": round(end - self._loaded, 4),
                           "tasks": rows, "timings": self._timings, "failures": self._failures}, handle, indent=1)
