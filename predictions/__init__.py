"""The gateway's Django app, one package per concern.

- ``api``: the HTTP API (routes, views of the model routes, parsers, renderers,
  the exception handler, OpenAPI, example bodies)
- ``access``: who may call what (JWT and API keys, callers, grants, throttles, tokens)
- ``audit``: the audit trail (the entry a request fills in, the writer, its middleware,
  traffic read back from the records)
- ``inference``: running a request on the model server (services, the per-process
  client, the model catalogue)
- ``deployments``: the served configuration the gateway owns (models, versions, labels,
  traffic split and shadowing, rollback), pushed to and reconciled with the model servers
- ``operations``: probes, Prometheus metrics and the operations page

``context`` is what travels with a request into the services; ``request_id`` the
id that logs and gRPC metadata carry.
"""
