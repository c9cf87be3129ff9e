"""What a server's worker does once, after loading the application and before serving.

``coursepack.wsgi`` calls :func:`warmed_up` at the end of its import, in every worker
gunicorn starts (in the master before the fork, with ``--preload``); the HTTP
benchmark's server (``bench.warm_wsgi``) after warming its caches; the in-process page
benchmarks (``bench.reports``) before their first request. ADR 0038.
"""

from __future__ import annotations

import gc

__all__ = ["warmed_up"]


def warmed_up() -> None:
    """Take what the worker holds once it has warmed up out of the cyclic garbage
    collector's walks.

    A full collection walks every container object the process holds: Django, the
    URL patterns, the schema tables and caches built at start. ``gc.freeze()`` moves
    them to a permanent generation that collections skip, so a request's full
    collection walks what requests made since. The garbage made while loading is
    collected first; what is frozen is never collected (a cycle among frozen objects
    that later becomes garbage stays), which is the right trade for objects that live
    as long as the worker. Called again, it freezes what was made since.
    """
    gc.collect()
    gc.freeze()
