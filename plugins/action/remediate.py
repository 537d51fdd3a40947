# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.remediate: plan one strategy, show it (check mode) or apply it safely."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import datetime
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import as_findings
from ansible_collections.diffserv.audit.plugins.module_utils.loader import load_fleet, load_host
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import hosts_from_collections, options_from, plan_all, stem
from ansible_collections.diffserv.audit.plugins.plugin_utils.collections import audited_hosts, registered_results
from ansible_collections.diffserv.audit.plugins.plugin_utils.inventory import HOST_KEYS, target_from
from ansible_collections.diffserv.audit.plugins.plugin_utils.session import FIREWALL_APPLY, CollectError, apply_ios

CONNECTION_ARGS = ("host", "port", "username", "password", "private_key_file", "become_password",
                   "host_key_checking", "known_hosts", "timeout", "retries")


def remember_loaded(fleet, change, collection, after):
    """The firewall's text read back after the change, loaded as the audit loads its collection: the item the
    plan changed, with the text the device now prints and whatever else the item carries (an nft listing's
    iptables dumps), so the re-audit reads the host whole.  The IPv6 dump beside the IPv4 one of a host collected
    with both is its `ip6tables-save` item (platforms/base.py `companion_item`)."""
    audited = fleet.firewalls.get(change.host)
    if audited is None or not collection:
        return
    driver = platforms.driver(change.platform)
    beside = audited.beside(change.family)
    audited = beside or audited
    planned = (driver.companion_item if beside is not None else driver.planned_item)(collection.get("files", []))
    if planned is None:
        return
    items = [dict(planned, text=after)]
    firewall, _router, _notes = load_host(change.host, dict(collection, files=items),
                                          [egress for egress in audited.egresses if egress], audited.backend, audited.era)
    if firewall is not None:
        fleet.remember(audited.host, after, firewall)


def host_results(changes):
    """Per host, the commands and rollback of its changes: a firewall with two dumps that change has both, applied
    in the plan's order and rolled back in the reverse."""
    hosts = {}
    for change in changes:
        known = hosts.setdefault(change.host, {"commands": [], "rollback": []})
        known["commands"] = known["commands"] + list(change.commands)
        known["rollback"] = list(change.rollback) + known["rollback"]
    return hosts


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        hosts = audited_hosts(task_vars, args["hosts"], args["register_name"])
        collections = {host: (registered or {}).get("diffserv_collection")
                       for host, registered in registered_results(task_vars, hosts, args["register_name"]).items()}
        texts = hosts_from_collections(collections)
        options = options_from({"dscp": args["dscp"], "strategies": [args["strategy"]]})
        # Typed from here on: the findings arrive as the analyze task's data.
        findings = as_findings(args["findings"])
        # Planned on the collections loaded the way the audit loaded them (loader.load_fleet, over the links it
        # used): what a host's text alone does not carry stays (an nft host's iptables dumps, say).
        links = [{"from": link.source, "to": link.target} for link in findings.links if not link.assumed] or None
        loaded = load_fleet({host: {"diffserv_collection": collection} if collection else None
                             for host, collection in collections.items()}, links)
        fleet = core.fleet_from_loaded(findings, texts, loaded.routers, loaded.firewalls)
        (plan,) = plan_all(findings, texts, options, fleet=fleet)
        if plan.refused:
            raise AnsibleActionFail("%s refused: %s" % (args["strategy"], plan.refused))
        if findings.conflicts and not plan.clean:
            raise AnsibleActionFail("%s does not re-audit clean; not applied (see its CHANGE.md)" % args["strategy"])
        changes = [change for change in plan.changes if change.apply]
        requests = sorted({change.host for change in plan.changes if change.changed and not change.managed})
        result = dict(changed=bool(changes), strategy=plan.strategy, requests=requests,
                      hosts=host_results(changes))
        # --diff: the running configuration as audited against the candidate, per host (and dump: `<host>.ipv6`).
        result["diff"] = [{"before_header": "%s (running, as audited)" % stem(plan, change),
                           "after_header": "%s (candidate, %s)" % (stem(plan, change), plan.strategy),
                           "before": change.running, "after": change.candidate} for change in changes]
        if self._task.check_mode or not changes:
            return result
        applied, failures = {}, {}
        for change in changes:
            # A firewall with two dumps that change: each loaded and verified on its own, with the other's candidate.
            others = [other for other in changes if other.host == change.host and other is not change]
            if change.host in failures:
                # The host's other dump failed and was rolled back: this one is not loaded after it.
                failures[change.host] += "; %s (its other dump) was not loaded" % stem(plan, change)
                continue
            try:
                done = self._apply(change, fleet, collections.get(change.host), task_vars, args, others,
                                   stem(plan, change))
            except (CollectError, DiffservError) as error:
                failures[change.host] = "; ".join(filter(None, (failures.get(change.host), str(error))))
                continue
            known = applied.get(change.host)
            applied[change.host] = done if known is None else dict(known, sent=known["sent"] + done["sent"])
        result["applied"] = applied
        if failures:
            result.update(failed=True, failures=failures,
                          msg="; ".join("%s: %s" % (host, reason) for host, reason in sorted(failures.items())))
        return result

    def _apply(self, change, fleet, collection, task_vars, args, others=(), name=None):
        hostvars = task_vars.get("hostvars", {}).get(change.host, {})
        host_vars = {key: hostvars.get(key) for key in HOST_KEYS}
        host_vars = {key: value for key, value in host_vars.items() if value is not None}
        target = target_from(dict.fromkeys(CONNECTION_ARGS), host_vars)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        backup_dir = args["backup_dir"] or os.path.join(os.getcwd(), "backups")

        def backup(text):
            os.makedirs(backup_dir, mode=0o750, exist_ok=True)
            path = os.path.join(backup_dir, "%s.%s.running" % (name or change.host, stamp))
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

        def verify(after):
            # Re-audit the fleet with what the device now runs: the conflict must be gone, nothing new.
            remember_loaded(fleet, change, collection, after)
            again = core.audit_texts(fleet, *core.split_texts(fleet, [(change, after)] + [
                (other, other.candidate) for other in others]))
            left = [c for c in again.conflicts if change.host in (c.marker.host, c.treatment.host)]
            if again.errors:
                return "the re-audit failed: %s" % again.errors[0].reason
            if left:
                return "%d conflict(s) remain on re-audit (first: DSCP %d %s on %s)" % (
                    len(left), left[0].dscp, left[0].treatment.action, left[0].treatment.interface)
            return None

        if platforms.is_firewall(change.platform):
            # Loaded the way the platform's writer says (one iptables-restore -T, one nft -f transaction).
            writer = platforms.driver(change.platform).firewall_writer()
            done = FIREWALL_APPLY[writer.APPLY](target, change, redact, verify, backup)
            return {"sent": list(done.sent), "saved": False}
        save = args["save"] if args["save"] is not None else boolean(hostvars.get("diffserv_save", False))
        done = apply_ios(target, change.commands, change.rollback, change.running, redact, verify, backup, save=save)
        return {"sent": list(done.sent), "saved": done.saved}
