"""Payload logging: what the models were asked and what they answered, per-model policy."""
