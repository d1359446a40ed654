"""A bare DRF POST view under the gateway's own gunicorn settings: what the framework
costs by itself, the baseline the gateway's CPU per predict is compared with.

Used only by the benchmark (DJANGO_SETTINGS_MODULE=bench.bare_drf_settings). The same
project, process model and gunicorn configuration as the gateway, with no middleware,
no authentication, permissions or throttles, DRF's own JSON parser and renderer, and
one route (bench/bare_drf_urls.py) that computes the tiny model's answer in Python.
"""

from serving_project.settings import *  # noqa: F403

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare_drf_urls"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
