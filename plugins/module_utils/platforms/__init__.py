# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform registry: name -> driver (platforms/base.py says what a driver is).

>>> sorted(DRIVERS)
['ios', 'iptables', 'nftables']
>>> driver("ios").role, driver("iptables").role, driver("nftables").role
('router', 'firewall', 'firewall')
>>> detect("*mangle\\n:PREROUTING ACCEPT [0:0]\\nCOMMIT\\n")
'iptables'
>>> detect("table inet filter {\\n\\tchain input {\\n\\t}\\n}\\n"), detect('{"nftables": [{"metainfo": {}}]}')
('nftables', 'nftables')
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.platforms import ios, iptables, nftables
from ansible_collections.diffserv.audit.plugins.module_utils.platforms.base import FIREWALL, ROUTER, Driver

# The registry's public names, the roles and the driver type from base.py among them (platforms.ROUTER).
__all__ = ["DRIVERS", "FIREWALL", "NAMES", "ROUTER", "Driver", "UnknownPlatform", "detect", "driver", "is_firewall",
           "is_router", "saved_platform"]

DRIVERS: dict[str, Driver] = {iptables.DRIVER.name: iptables.DRIVER, ios.DRIVER.name: ios.DRIVER,
                              nftables.DRIVER.name: nftables.DRIVER}
NAMES = tuple(sorted(DRIVERS))


class UnknownPlatform(DiffservError):
    """A platform name no driver answers to."""


def driver(name: str) -> Driver:
    found = DRIVERS.get(name)
    if found is None:
        raise UnknownPlatform("unknown platform %r (%s or %s)" % (name, ", ".join(NAMES[:-1]), NAMES[-1]))
    return found


def is_router(name: str) -> bool:
    return driver(name).role == ROUTER


def is_firewall(name: str) -> bool:
    return driver(name).role == FIREWALL


def detect(text: str) -> str | None:
    """The platform whose driver recognises the text; None when none or several do."""
    found = [name for name, candidate in DRIVERS.items() if candidate.detect(text)]
    return found[0] if len(found) == 1 else None


def saved_platform(name: str, text: str) -> str:
    """The platform a saved file is read with when its host's platform came from a group, not forced:
    the one its content names if that is another platform of the same role (an `nft list ruleset`
    saved for a host in linux_firewalls is read by the nftables driver), else `name`.

    >>> saved_platform("iptables", "table inet fw {\\n}\\n"), saved_platform("iptables", "*mangle\\nCOMMIT\\n")
    ('nftables', 'iptables')
    >>> saved_platform("iptables", "hostname r1\\ninterface Gi0/0\\n")
    'iptables'
    """
    found = detect(text)
    if found is None or found == name or driver(found).role != driver(name).role:
        return name
    return found
