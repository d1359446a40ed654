"""The gateway's settings without the audit middleware: the baseline of the audit-cost run.

Used only by the benchmark (DJANGO_SETTINGS_MODULE=bench.gateway_settings), to
measure what writing one audit record per request costs. The project itself has
no switch to turn auditing off: every request must leave a record.
"""

from django.core.exceptions import ImproperlyConfigured

from serving_project.settings import *  # noqa: F403
from serving_project.settings import MIDDLEWARE

AUDIT_MIDDLEWARE = "predictions.audit.middleware.AuditMiddleware"
if AUDIT_MIDDLEWARE not in MIDDLEWARE:
    # Otherwise "audit off" would silently measure the same gateway as "audit on".
    raise ImproperlyConfigured(f"{AUDIT_MIDDLEWARE} is not in MIDDLEWARE: update the benchmark")
MIDDLEWARE = [name for name in MIDDLEWARE if name != AUDIT_MIDDLEWARE]
