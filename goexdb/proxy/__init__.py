"""goex-db proxy: a PostgreSQL wire-protocol proxy that holds every client's writing transaction
as a goex action and decides it at COMMIT.

``server`` accepts clients and connects each to its own upstream session (``upstream``,
``clientauth``); ``session`` relays one client's messages, judged first (``statements``), with
the server's answers routed back (``routing``); ``action`` measures, decides and journals a
transaction through the pipeline every front end uses. ``messages`` is the wire format.
"""
