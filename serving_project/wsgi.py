"""WSGI entry point (gunicorn serving_project.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from serving_project.chunked_bodies import SizedChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serving_project.settings")

application = SizedChunkedBodies(get_wsgi_application())

# Import the URLconf (views, DRF, the schema generator) now rather than on the first
# request: with gunicorn's preload_app the master does it once and every worker
# inherits it, instead of each worker's first request paying ~0.14 s. Nothing it
# imports opens a connection or starts a thread.
get_resolver().url_patterns  # noqa: B018
