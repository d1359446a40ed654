"""Benchmarks of the gateway and the model server; `python -m bench` runs them all."""
