"""diffserv.audit lab: real SSH endpoints for the collection to talk to.

* ``lab.iossim``: a Cisco IOS router simulator over SSH (netmiko ``cisco_ios`` works against it);
* ``lab.iosconfig``: the configuration state it keeps (running and startup);
* ``lab.firewalls``: Linux firewalls in network namespaces with a real sshd, sudo and iptables;
* ``lab.launcher``: ``python -m lab up|down|status`` and the ``Lab`` context manager.

See lab/README.md.
"""

from __future__ import annotations

__all__ = ["Lab"]


def __getattr__(name: str):  # lazy: importing lab must not import paramiko or touch the system
    if name == "Lab":
        from lab.launcher import Lab

        return Lab
    raise AttributeError(name)
