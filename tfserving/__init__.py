"""Talking to TensorFlow Serving without importing TensorFlow: the gateway's client, and
the REST codec that the gateway and the embedded model server share.

- ``protos``: the TF Serving protocol buffers (loaded without TensorFlow's initialiser)
- ``models``: ``ModelRef``, which model (name, version or label) a request is for
- ``errors``: client-facing errors and the gRPC -> HTTP status mapping
- ``signatures``: model signatures from GetModelMetadata, and their per-process cache
- ``tensors``: numpy <-> TensorProto
- ``jsonio``: fast JSON in and out, with TF Serving's NaN/Infinity tokens
- ``codec``: TF Serving's REST request and response formats <-> protos (one module each)
- ``client``: the gRPC client (one channel per process, deadlines, retries)
- ``tracing``: OpenTelemetry over the gRPC protocol (off unless OTEL_TRACES_EXPORTER is set)
"""
