"""The WSGI application with warm caches, for the HTTP benchmark's server.

gunicorn loads it once with ``--preload``, before forking its workers: the
released versions' trees are read here, so every worker starts as a server that
has been running a while, instead of loading a tree on its first request for
each version. The database connection used for that is closed before the fork.
Then, as every worker once warm, it freezes what it holds (``coursepack.worker``).
"""

from coursepack.wsgi import application

__all__ = ["application"]


def _warm() -> None:
    # Imported here: models can only be imported once the WSGI module set Django up.
    from django.db import connections

    from coursepack.packaging import selectors
    from coursepack.worker import warmed_up

    selectors.warm_caches()
    connections.close_all()
    # As coursepack.wsgi does once warm (it did at its import; the trees read here are
    # as long-lived).
    warmed_up()


_warm()
