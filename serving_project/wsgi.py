"""WSGI entry point (gunicorn serving_project.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serving_project.settings")

application = get_wsgi_application()
