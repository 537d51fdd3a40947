# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which platform an inventory host is, read the way users write inventories.

A host is audited when its platform is known: `diffserv_platform`, one of the collection's
groups (`linux_firewalls`, `ios_routers`), or the `ansible_network_os` a cisco.ios user already
sets (`cisco.ios.ios`, `ios`, `cisco.ios.iosxe`...).  Every other host of the inventory is listed
as not audited, with the reason, never dropped in silence.

The same variables say how to reach a host: `target_from` reads the SSH target (task arguments
first, then `ansible_host`, `ansible_user`...) for collect and remediate alike.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.diffserv.audit.plugins.module_utils import platforms

if t.TYPE_CHECKING:
    from ansible_collections.diffserv.audit.plugins.plugin_utils.session import Target

GROUP_PLATFORMS = {"linux_firewalls": "iptables", "ios_routers": "ios"}
# ansible_network_os values that mean a Cisco IOS or IOS-XE running-config (cisco.ios's names, the
# short forms older playbooks use, and netmiko's device types some inventories reuse).
NETWORK_OS_PLATFORMS = {
    "cisco.ios.ios": "ios", "ios": "ios", "cisco.ios.iosxe": "ios", "iosxe": "ios", "ios-xe": "ios",
    "cisco_ios": "ios", "cisco_xe": "ios",
}
PLATFORMS = platforms.NAMES


class PlatformUnknown(Exception):
    """The host's platform cannot be told from the inventory; the message says what to set."""


def platform_of(host_vars: t.Mapping[str, t.Any]) -> str:
    """The platform of one host from its variables: diffserv_platform, the groups, ansible_network_os."""
    host = host_vars.get("inventory_hostname")
    given = host_vars.get("diffserv_platform")
    if given:
        return str(given)
    found = {GROUP_PLATFORMS[group] for group in host_vars.get("group_names", []) or [] if group in GROUP_PLATFORMS}
    if len(found) > 1:
        raise PlatformUnknown("%s is in both linux_firewalls and ios_routers: set diffserv_platform" % host)
    if found:
        return found.pop()
    network_os = str(host_vars.get("ansible_network_os") or "")
    if network_os:
        if network_os.lower() in NETWORK_OS_PLATFORMS:
            return NETWORK_OS_PLATFORMS[network_os.lower()]
        raise PlatformUnknown("not audited: ansible_network_os %s is not a platform diffserv.audit reads "
                              "(IOS and IOS-XE routers, iptables firewalls); set diffserv_platform to audit it anyway"
                              % network_os)
    raise PlatformUnknown("not audited: no platform known; put it in group linux_firewalls or ios_routers, "
                          "or set diffserv_platform (iptables or ios)")


def split_by_platform(hostvars: t.Mapping[str, t.Mapping[str, t.Any]], hosts: t.Iterable[str],
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """hosts -> ({host: platform} to audit, {host: reason} not audited)."""
    audited: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for host in hosts:
        values = dict(hostvars.get(host) or {})
        values.setdefault("inventory_hostname", host)
        try:
            audited[host] = platform_of(values)
        except PlatformUnknown as error:
            skipped[host] = str(error)
    return audited, skipped


# Host variables the collection reads; in batch mode they are fetched (templated) from hostvars.
HOST_KEYS = ("inventory_hostname", "group_names", "diffserv_platform", "ansible_network_os", "diffserv_config_file",
             "diffserv_managed",
             "diffserv_host_key_checking", "ansible_host_key_checking", "ansible_ssh_host_key_checking",
             "diffserv_known_hosts", "diffserv_collect_timeout", "diffserv_collect_retries", "ansible_host",
             "ansible_port", "ansible_ssh_port", "ansible_user", "ansible_ssh_user", "ansible_password",
             "ansible_ssh_pass", "ansible_ssh_private_key_file", "ansible_private_key_file",
             "ansible_become_password", "ansible_become_pass")


def target_from(args: t.Mapping[str, t.Any], host_vars: t.Mapping[str, t.Any]) -> Target:
    """The SSH target of one host: task arguments first, then the inventory's variables."""
    # Imported here, not at the top: session.py loads netmiko (a quarter of a second), and the
    # analysis reaches this module through platform_of without ever opening a session.
    from ansible_collections.diffserv.audit.plugins.plugin_utils import session

    def var(*names: str, default: t.Any = None) -> t.Any:
        for name in names:
            if host_vars.get(name) is not None:
                return host_vars[name]
        return default

    host = args["host"] or var("ansible_host", default=host_vars.get("inventory_hostname"))
    default_port = 22
    checking = args["host_key_checking"]
    if checking is None:
        checking = boolean(var("diffserv_host_key_checking", "ansible_host_key_checking",
                               "ansible_ssh_host_key_checking", default=C.HOST_KEY_CHECKING))
    username = args["username"] or var("ansible_user", "ansible_ssh_user")
    if not username:
        raise AnsibleActionFail("no user for %s: set ansible_user" % host)
    return session.Target(
        host=host, port=int(args["port"] or var("ansible_port", "ansible_ssh_port", default=default_port)),
        username=username,
        password=(args["password"] if args["password"] is not None
                  else var("ansible_password", "ansible_ssh_pass")),
        key_file=args["private_key_file"] or var("ansible_ssh_private_key_file", "ansible_private_key_file"),
        become_password=(args["become_password"] if args["become_password"] is not None
                         else var("ansible_become_password", "ansible_become_pass")),
        host_key_checking=checking, known_hosts=args["known_hosts"] or var("diffserv_known_hosts"),
        timeout=float(args["timeout"] if args["timeout"] is not None
                      else var("diffserv_collect_timeout", default=30)),
        retries=int(args["retries"] if args["retries"] is not None
                    else var("diffserv_collect_retries", default=2)),
    )
