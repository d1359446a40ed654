"""ASGI entry point, for servers that speak ASGI (the default deployment is gunicorn + WSGI)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serving_project.settings")

application = get_asgi_application()
