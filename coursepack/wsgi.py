"""WSGI entry point for Coursepack."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coursepack.settings")
application = get_wsgi_application()

# Built once per worker at start, so no request waits for it (coursepack.http.api).
from coursepack.http.api import warm_query_parameters  # noqa: E402

warm_query_parameters()

# Once warm, what the worker holds leaves the cyclic collector's walks (ADR 0038).
from coursepack.worker import warmed_up  # noqa: E402

warmed_up()
