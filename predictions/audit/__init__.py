"""The audit trail: one record per API request, written off the request path."""
