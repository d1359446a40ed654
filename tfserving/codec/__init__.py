"""TF Serving's REST formats <-> TensorFlow Serving protos, one module per format.

- ``predict_request``: "instances" / "inputs" bodies -> input tensors
- ``predict_response``: PredictResponse -> "predictions" / "outputs"
- ``examples``: classify / regress bodies -> tf.Examples, and their "results"
- ``status_metadata``: GetModelStatus / GetModelMetadata -> JSON
- ``json_values``: what every format shares (b64 objects, messages' wording)
"""

from tfserving.codec.examples import (
    parse_examples_request,
    render_classify_response,
    render_regress_response,
)
from tfserving.codec.predict_request import PredictInputs, parse_predict_request
from tfserving.codec.predict_response import render_predict_response
from tfserving.codec.status_metadata import render_model_metadata, render_model_status

__all__ = [
    "PredictInputs",
    "parse_examples_request",
    "parse_predict_request",
    "render_classify_response",
    "render_model_metadata",
    "render_model_status",
    "render_predict_response",
    "render_regress_response",
]
