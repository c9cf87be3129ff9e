"""gunicorn settings for `make run` (scripts/serve.sh); see ADR "server" and docs/deploy.md.

Threads, not many processes: on SQLite every writer queues on one database
lock whatever the process count, while threads share one warm process (caches,
connections). Two processes keep serving if one is busy in a long request.
"""

import os

bind = os.environ.get("COURSEPACK_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("COURSEPACK_WORKERS", "2"))
threads = int(os.environ.get("COURSEPACK_THREADS", "8"))
# Connections beyond workers*threads wait in the kernel's queue instead of being
# reset (runserver's queue of 5 reset bursts of 50 clients).
backlog = int(os.environ.get("COURSEPACK_BACKLOG", "2048"))
keepalive = 5
# A request is never expected to take this long (long work runs as a background
# job); a worker stuck past it is replaced.
timeout = int(os.environ.get("COURSEPACK_REQUEST_TIMEOUT", "60"))
graceful_timeout = 30
# Behind a proxy that sets X-Forwarded-* (docs/deploy.md).
forwarded_allow_ips = os.environ.get("COURSEPACK_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-" if os.environ.get("COURSEPACK_ACCESS_LOG", "1") == "1" else None
errorlog = "-"
# Request line and header limits; the body limit is Django's (413 problem+json).
limit_request_line = 8190
