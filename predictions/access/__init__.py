"""Who may call what: JWT and API keys, callers, per-model grants, throttles and tokens."""
