"""The gateway's OpenTelemetry spans: the HTTP request, authentication, validation, audit."""
