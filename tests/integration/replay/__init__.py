"""The founding incident as a network of namespaces: see ``topology.IncidentTopology``.

``topology``  relay -> border -> partner firewall -> partner mail server (TEST-NET addresses),
              AF_PACKET captures, the partner's rules and changes to them.
``smtp``      a tiny SMTP server (run as its own process inside a namespace) and the client side
              of the exchange (a socket opened inside another namespace).
"""
