"""Talking to TensorFlow Serving from the web tier, without importing TensorFlow.

- ``protos``: the TF Serving protocol buffers (loaded without TensorFlow's initialiser)
- ``models``: ``ModelRef``, which model (name, version or label) a request is for
- ``errors``: client-facing errors and the gRPC -> HTTP status mapping
- ``signatures``: model signatures from GetModelMetadata, and their per-process cache
- ``tensors``: numpy <-> TensorProto
- ``jsonio``: fast JSON in and out, with TF Serving's NaN/Infinity tokens
- ``codec``: TF Serving's REST request and response formats <-> protos
- ``client``: the gRPC client (one channel per process, deadlines, retries)
"""
