"""For operators: liveness and readiness, Prometheus metrics, the operations page."""
