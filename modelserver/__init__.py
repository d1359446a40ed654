"""A TensorFlow Serving compatible gRPC model server for local runs and tests.

Production uses the real ``tensorflow/serving`` with the same ``models/`` folder and
``models.config``; this package speaks the same protocol so nothing upstream can
tell the difference. Start it with ``python -m modelserver --help``.
"""
