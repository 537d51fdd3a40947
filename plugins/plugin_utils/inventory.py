# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which platform an inventory host is, read the way users write inventories.

A host is audited when its platform is known: `diffserv_platform`, one of the collection's
groups (`linux_firewalls`, `ios_routers`), or the `ansible_network_os` a cisco.ios user already
sets (`cisco.ios.ios`, `ios`, `cisco.ios.iosxe`...).  Every other host of the inventory is listed
as not audited, with the reason, never dropped in silence.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t

GROUP_PLATFORMS = {"linux_firewalls": "iptables", "ios_routers": "ios"}
# ansible_network_os values that mean a Cisco IOS or IOS-XE running-config (cisco.ios's names, the
# short forms older playbooks use, and netmiko's device types some inventories reuse).
NETWORK_OS_PLATFORMS = {
    "cisco.ios.ios": "ios", "ios": "ios", "cisco.ios.iosxe": "ios", "iosxe": "ios", "ios-xe": "ios",
    "cisco_ios": "ios", "cisco_xe": "ios",
}
PLATFORMS = ("iptables", "ios")


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
