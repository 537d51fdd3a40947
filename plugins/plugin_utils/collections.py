# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the controller-side actions find what diffserv.audit.collect returned.

Two places: one batch result registered on the host running the task (collect with `hosts:`),
or one result registered on each host.  analyze and remediation_bundle read through here, so
they cannot disagree about which hosts were collected.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t

from ansible_collections.diffserv.audit.plugins.plugin_utils.inventory import split_by_platform


def audited_hosts(task_vars: t.Mapping[str, t.Any], given: t.Sequence[str] | None,
                  register_name: str = "diffserv_collect") -> list[str]:
    """The hosts given; or those the batch collection saw (collected or failed); or every inventory
    host whose platform is known (groups, diffserv_platform, ansible_network_os)."""
    if given:
        return list(given)
    batch = task_vars.get(register_name)
    if isinstance(batch, dict) and "collections" in batch:
        return sorted(set(batch["collections"]) | set(batch.get("errors") or {}))
    groups = task_vars.get("groups", {})
    audited, _skipped = split_by_platform(task_vars.get("hostvars", {}), groups.get("all", []))
    return sorted(audited)


def not_audited_hosts(task_vars: t.Mapping[str, t.Any], register_name: str = "diffserv_collect") -> dict[str, str]:
    """host -> why it was not audited, as the batch collection said (empty without one)."""
    batch = task_vars.get(register_name)
    if isinstance(batch, dict):
        return dict(batch.get("not_audited") or {})
    return {}


def registered_results(task_vars: t.Mapping[str, t.Any], hosts: t.Sequence[str],
                       register_name: str) -> dict[str, dict[str, t.Any] | None]:
    """host -> {"diffserv_collection": ...} or a failed result ({"diffserv_error", "unreachable"}), or None."""
    batch = task_vars.get(register_name)
    found: dict[str, dict[str, t.Any] | None] = {}
    if isinstance(batch, dict) and "collections" in batch:
        for host in hosts:
            if host in batch["collections"]:
                found[host] = {"diffserv_collection": batch["collections"][host]}
            else:
                error = dict(batch["errors"].get(host) or {"reason": "not collected"})
                error["diffserv_error"] = error.get("reason")
                found[host] = error
        return found
    hostvars = task_vars.get("hostvars", {})
    for host in hosts:
        found[host] = hostvars.get(host, {}).get(register_name)
    return found
