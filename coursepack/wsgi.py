"""WSGI entry point for Coursepack."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coursepack.settings")
application = get_wsgi_application()
