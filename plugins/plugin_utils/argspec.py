# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One source for an action plugin's arguments: its module file's DOCUMENTATION.

The module files under plugins/modules exist for ansible-doc (as
ansible.builtin.template's does); the action plugin validates the task's
arguments against the options documented there, so docs and behaviour
cannot drift apart.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import importlib
import typing as t

import yaml

_KEYS = ("type", "required", "default", "choices", "elements", "no_log", "aliases")


# Credentials are never logged. validate-modules refuses `no_log` in DOCUMENTATION, so the flag
# is set here, by name, for every option that carries one.
_SECRET_OPTIONS = frozenset({"password", "become_password"})


def _convert(options: dict[str, t.Any]) -> dict[str, t.Any]:
    spec: dict[str, t.Any] = {}
    for name, doc in (options or {}).items():
        entry = {key: doc[key] for key in _KEYS if key in doc}
        entry.setdefault("type", "str")
        if name in _SECRET_OPTIONS:
            entry["no_log"] = True
        if "suboptions" in doc:
            entry["options"] = _convert(doc["suboptions"])
        spec[name] = entry
    return spec


def argument_spec(module_name: str) -> dict[str, t.Any]:
    """The argument_spec documented by plugins/modules/<module_name>.py."""
    module = importlib.import_module("ansible_collections.diffserv.audit.plugins.modules.%s" % module_name)
    documentation = yaml.safe_load(module.DOCUMENTATION)
    return _convert(documentation.get("options", {}))
