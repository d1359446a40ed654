"""The HTTP API: routes, the model views, parsers, renderers, errors, OpenAPI and examples."""
