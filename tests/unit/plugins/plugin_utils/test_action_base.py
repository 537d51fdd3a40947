"""The action plugins' one base: validation against the module's DOCUMENTATION, core errors as failed tasks.

The plugins are built the way ansible's own unit tests build an action plugin (test/units/plugins/action):
the real class, with a stand-in task (args, check_mode, async_val), a connection whose shell has no
tmpdir, a PlayContext, a real DataLoader and Templar. The last tests run `ansible localhost -m ...` in a
subprocess, where the task executor turns what `run` raises into the result a user sees.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import subprocess
import sys
import types

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, ParseError
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction

ROOT = pathlib.Path(__file__).resolve().parents[4]
BIN = pathlib.Path(sys.executable).parent
EXAMPLE = ROOT / "inventories" / "example" / "files"
# A dump cut short after a table's header: the parser refuses it with file:line.
CUT = ROOT / "tests" / "fixtures" / "inputs" / "filter-then-mangle.cut-after-mangle-header.v4"
ACTIONS = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py") if p.stem != "__init__")
FORWARD_SMTP = {"path": "forward", "in_interface": "eth1", "out_interface": "eth0", "protocol": "tcp",
                "sport": 25, "dport": 28680, "tos": 0}


def build(plugin_class, args, check_mode=False, load_name="diffserv.audit.test", **extra):
    """One action plugin object, as the task executor would make it for a task with these args."""
    task = types.SimpleNamespace(args=dict(args), check_mode=check_mode, async_val=0, action=load_name,
                                 delegate_to=None)
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir=None))
    loader = DataLoader()
    loader.set_basedir(str(ROOT))
    plugin = plugin_class(task=task, connection=connection, play_context=PlayContext(), loader=loader,
                          templar=Templar(loader=loader), shared_loader_obj=None, **extra)
    # Set by ansible's plugin loader; the "Unsupported parameters" message names the plugin by it.
    plugin._load_name = load_name  # pylint: disable=protected-access
    return plugin


def action(name):
    return importlib.import_module("ansible_collections.diffserv.audit.plugins.action.%s" % name).ActionModule


class Echo(DiffservAction):
    """A plugin of the smallest kind: documented by trace's module file, returns what it was given."""

    DOCUMENTED_BY = "trace"

    def __init__(self, *args, raises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.raises = raises
        self.seen = None

    def run_core(self, args, task_vars):
        self.seen = (args, task_vars)
        if self.raises is not None:
            raise self.raises
        return {"changed": False, "echo": args["iptables"]}


# ------------------------------------------------------------------ the base, on its own
def test_run_core_gets_the_validated_arguments_with_their_documented_defaults():
    plugin = build(Echo, {"iptables": "fw.rules", "packets": [{"path": "forward"}]})
    result = plugin.run(task_vars=None)
    assert result == {"changed": False, "echo": "fw.rules"}
    args, task_vars = plugin.seen
    assert task_vars == {}
    # trace's DOCUMENTATION: backend and tos_semantics default to auto; packets' suboptions are filled.
    assert args["backend"] == "auto" and args["tos_semantics"] == "auto"
    assert args["packets"][0]["path"] == "forward" and "dport" in args["packets"][0]


def test_a_bad_argument_fails_before_run_core_naming_the_option_and_its_choices():
    plugin = build(Echo, {"iptables": "fw.rules", "packets": [{"path": "sideways"}]})
    with pytest.raises(AnsibleActionFail) as failure:
        plugin.run(task_vars={})
    assert "sideways" in failure.value.message and "forward" in failure.value.message
    assert plugin.seen is None


def test_an_undocumented_argument_is_refused_by_name():
    plugin = build(Echo, {"iptables": "fw.rules", "packets": [], "bogus": 1})
    with pytest.raises(AnsibleActionFail, match="Unsupported parameters .* bogus"):
        plugin.run(task_vars={})
    assert plugin.seen is None


def test_a_parse_error_fails_the_task_with_its_file_line_message_only():
    error = ParseError("fw.rules", 12, "unknown table 'nat2'", "*nat2")
    plugin = build(Echo, {"iptables": "fw.rules", "packets": []}, raises=error)
    with pytest.raises(AnsibleActionFail) as failure:
        plugin.run(task_vars={})
    assert failure.value.result == {"failed": True, "msg": "fw.rules:12: unknown table 'nat2'\n    *nat2"}
    # The message says it all: the core's traceback is not chained onto the task failure.
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_any_diffserv_error_fails_the_task_with_its_message():
    plugin = build(Echo, {"iptables": "fw.rules", "packets": []}, raises=DiffservError("DSCP 99 is out of range"))
    with pytest.raises(AnsibleActionFail) as failure:
        plugin.run(task_vars={})
    assert failure.value.result == {"failed": True, "msg": "DSCP 99 is out of range"}


def test_an_error_the_core_did_not_mean_is_not_dressed_as_a_task_failure():
    # A bug keeps its type and traceback (ansible reports it as an exception), so it gets noticed.
    plugin = build(Echo, {"iptables": "fw.rules", "packets": []}, raises=KeyError("oops"))
    with pytest.raises(KeyError):
        plugin.run(task_vars={})


def test_a_plugin_is_documented_by_the_module_of_its_own_name():
    assert build(action("trace"), {}).documented_by() == "trace"
    assert build(action("remediation_bundle"), {}).documented_by() == "remediation_bundle"
    assert build(Echo, {}).documented_by() == "trace"


@pytest.mark.parametrize("name", ACTIONS)
def test_every_action_plugin_stands_on_the_base_and_leaves_run_to_it(name):
    plugin_class = action(name)
    assert issubclass(plugin_class, DiffservAction)
    assert "run" not in vars(plugin_class) and "run_core" in vars(plugin_class)
    assert (ROOT / "plugins" / "modules" / ("%s.py" % build(plugin_class, {}).documented_by())).is_file()
    assert plugin_class.TRANSFERS_FILES is False and plugin_class._requires_connection is False


# ------------------------------------------------------------------ real plugins through the base
def test_trace_through_the_base_finds_line_35_writing_dscp_1():
    plugin = build(action("trace"), {"iptables": str(EXAMPLE / "partner-fw.rules"), "packets": [FORWARD_SMTP]})
    result = plugin.run(task_vars={})
    assert result["changed"] is False
    (packet,) = result["packets"]
    assert packet["dscp"] == 1 and [step["line"] for step in packet["steps"]] == [35]


def test_trace_of_a_cut_dump_fails_with_the_parsers_file_and_line():
    plugin = build(action("trace"), {"iptables": str(CUT), "packets": [FORWARD_SMTP]})
    with pytest.raises(AnsibleActionFail) as failure:
        plugin.run(task_vars={})
    assert failure.value.result["failed"] is True
    assert failure.value.result["msg"].startswith("%s:10: " % CUT)


def test_marking_map_of_a_cut_dump_fails_the_same_way():
    plugin = build(action("marking_map"), {"iptables": str(CUT)})
    with pytest.raises(AnsibleActionFail) as failure:
        plugin.run(task_vars={})
    assert failure.value.result["msg"].startswith("%s:10: " % CUT)


def test_collect_keeps_its_own_failed_result_for_one_host_that_cannot_be_read():
    # collect reports a host's failure as a result (msg and diffserv_error), the way the audit reads it.
    plugin = build(action("collect"), {"config_file": str(CUT), "platform": "iptables"})
    result = plugin.run(task_vars={"inventory_hostname": "cut-fw"})
    assert result["failed"] is True and result["msg"] == result["diffserv_error"]
    assert result["msg"].startswith("%s:10: " % CUT)


# ------------------------------------------------------------------ what a user sees
def adhoc(module, args, tree):
    """Run the module ad hoc; the tree callback saves the host's result (it leaves out `failed`: the rc says it)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    run = subprocess.run([str(BIN / "ansible"), "localhost", "-t", str(tree), "-m", "diffserv.audit.%s" % module,
                          "-a", json.dumps(args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                         check=False)
    return run, json.loads((tree / "localhost").read_text())


@pytest.mark.playbook
def test_adhoc_trace_of_a_cut_dump_is_a_failed_host_with_the_parsers_message(tmp_path):
    run, result = adhoc("trace", {"iptables": str(CUT), "packets": [FORWARD_SMTP]}, tmp_path)
    assert run.returncode == 2 and "localhost | FAILED!" in run.stdout, run.stdout + run.stderr
    # The parser's own message, whole: file:line, the reason, the line quoted on the next line.
    assert result["msg"].startswith("%s:10: " % CUT) and "truncated" in result["msg"]
    assert result["msg"].endswith("\n    # Generated by iptables-save v1.8.9 on Sat Dec  5 18:08:03 2026")
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.playbook
def test_adhoc_trace_with_a_bad_argument_is_a_failed_host_naming_it(tmp_path):
    run, result = adhoc("trace", {"iptables": str(EXAMPLE / "partner-fw.rules"), "packets": [{"path": "sideways"}]},
                        tmp_path)
    assert run.returncode == 2 and "localhost | FAILED!" in run.stdout, run.stdout + run.stderr
    assert result["msg"] == "value of path must be one of: forward, output, input, got: sideways found in packets"


def test_a_bad_codepoint_is_the_tasks_failure_message_not_an_exception():
    # dsfield's errors are core errors: `dscp: notadscp` fails the task with the reason, as a bad dump does.
    from tests.integration.test_playbooks import ansible
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.remediation_bundle", "-a",
                  '{"findings": {"conflicts": []}, "report_dir": "/tmp/diffserv-bad-dscp", "dscp": "notadscp"}')
    assert run.returncode != 0
    result = json.loads(run.stdout.split("FAILED! => ", 1)[1])
    # The reason itself, not an unhandled exception wrapped as "Task failed: ...".
    assert result["msg"] == "DSCP 'notadscp' is not a number"


def test_a_task_runs_with_fewer_collections_and_leaves_the_collector_as_it_found_it():
    import gc

    from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == 100_000 and gc.isenabled()
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError):
        with fewer_collections():
            raise RuntimeError("the core failed")
    assert gc.get_threshold() == before
