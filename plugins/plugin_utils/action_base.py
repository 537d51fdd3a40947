# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of the collection's action plugins: validate the task, run the core, fail on its errors.

Every action plugin here is glue (the ansible.utils seam): the task's arguments are validated
against the options its module file documents (plugins/modules/<name>.py, one source for
ansible-doc and behaviour), the pure core does the work, and an error the core raises on purpose
(DiffservError, ParseError: `file:line: reason`) fails the task with exactly that message. Those
steps are the same for every plugin, so they live here, and a plugin writes only `run_core`:

    class ActionModule(DiffservAction):
        def run_core(self, args, task_vars):
            return {"changed": False, "packets": trace_them(args["packets"])}
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import abc
import contextlib
import gc
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.plugin_utils.argspec import argument_spec


@contextlib.contextmanager
def fewer_collections(young: int = 100_000) -> t.Iterator[None]:
    """Python's cyclic collector runs less often while a task works: a fleet's models are millions of objects
    that live until the task ends, and the default (a young collection every 700 allocations, each promoting
    survivors towards full collections over everything) took 4 of 16 s of a 1,000-device fleet's bundles.
    Garbage is still collected (every 100,000 allocations): a 1,000-device run peaks 2.4 % higher."""
    before = gc.get_threshold()
    gc.set_threshold(young, max(before[1], 50), max(before[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*before)


class DiffservAction(ActionBase):
    """An action plugin of diffserv.audit: `run` validates and wraps, the subclass's `run_core` works."""

    # Everything runs on the controller (saved files, netmiko sessions opened from here): no file
    # is sent to the managed host and no connection to it is opened for the task.
    TRANSFERS_FILES = False
    _requires_connection = False

    # The module file whose DOCUMENTATION holds the options. None: the plugin's own file name, the
    # way Ansible pairs an action plugin with the module of the same name.
    DOCUMENTED_BY: str | None = None

    def documented_by(self) -> str:
        """The name of the module file (plugins/modules/<name>.py) documenting this action's options."""
        return self.DOCUMENTED_BY or type(self).__module__.rpartition(".")[2]

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        # A bad argument fails here, before any file is read, with ansible's own message naming it.
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec(self.documented_by()))
        try:
            with fewer_collections():
                result.update(self.run_core(args, task_vars or {}))
        except DiffservError as error:
            # Raised rather than returned: ansible turns AnsibleActionFail into `failed: true` with
            # the message as `msg`, and prints it as it does every action failure. `from None`: the
            # message already says file, line and reason; the core's traceback would only bury it.
            raise AnsibleActionFail(str(error)) from None
        return result

    @abc.abstractmethod
    def run_core(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        """The plugin's work on validated arguments: the keys to add to the task's result."""
