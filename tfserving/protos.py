"""TensorFlow Serving protocol buffers, loaded without importing TensorFlow.

The generated modules in ``tensorflow-serving-api`` import their dependencies
as ``tensorflow.core.framework.tensor_pb2`` and so on. A normal import of any
``tensorflow.*`` module first executes ``tensorflow/__init__.py``, which loads
all of TensorFlow: about 2.9 s and 600 MB of resident memory per web worker,
for code that only needs a few protobuf classes (0.1 s, 34 MB).

The ``*_pb2`` files themselves only need their *package path*, not the package
initialiser. So for the duration of the import we register a bare module for
``tensorflow`` whose ``__path__`` points at the installed package directory;
Python then finds the sub-packages (whose ``__init__`` files are empty) and the
generated modules without running TensorFlow's initialiser. The placeholder is
removed afterwards, so a later real ``import tensorflow`` (e.g. in tests that
compare against TensorFlow's own conversion) still gets the real package and
reuses the already-loaded proto modules.

This is the only place in the web tier that touches the ``tensorflow``
namespace; everything else imports the names below from here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _load(*module_names: str) -> list[types.ModuleType]:
    if "tensorflow" in sys.modules:  # real TensorFlow already imported: use it
        return [importlib.import_module(name) for name in module_names]
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflow-serving-api needs the tensorflow package installed")
    placeholder = types.ModuleType("tensorflow")
    placeholder.__path__ = list(spec.submodule_search_locations)
    sys.modules["tensorflow"] = placeholder
    try:
        return [importlib.import_module(name) for name in module_names]
    finally:
        if sys.modules.get("tensorflow") is placeholder:
            del sys.modules["tensorflow"]


(
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
    example_pb2,
    feature_pb2,
    model_pb2,
    predict_pb2,
    classification_pb2,
    regression_pb2,
    inference_pb2,
    input_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    prediction_service_pb2_grpc,
    model_service_pb2_grpc,
    model_server_config_pb2,
    meta_graph_pb2,
) = _load(
    "tensorflow.core.framework.tensor_pb2",
    "tensorflow.core.framework.tensor_shape_pb2",
    "tensorflow.core.framework.types_pb2",
    "tensorflow.core.example.example_pb2",
    "tensorflow.core.example.feature_pb2",
    "tensorflow_serving.apis.model_pb2",
    "tensorflow_serving.apis.predict_pb2",
    "tensorflow_serving.apis.classification_pb2",
    "tensorflow_serving.apis.regression_pb2",
    "tensorflow_serving.apis.inference_pb2",
    "tensorflow_serving.apis.input_pb2",
    "tensorflow_serving.apis.get_model_metadata_pb2",
    "tensorflow_serving.apis.get_model_status_pb2",
    "tensorflow_serving.apis.model_management_pb2",
    "tensorflow_serving.apis.prediction_service_pb2_grpc",
    "tensorflow_serving.apis.model_service_pb2_grpc",
    "tensorflow_serving.config.model_server_config_pb2",
    "tensorflow.core.protobuf.meta_graph_pb2",
)

__all__ = [
    "classification_pb2",
    "example_pb2",
    "feature_pb2",
    "get_model_metadata_pb2",
    "get_model_status_pb2",
    "inference_pb2",
    "input_pb2",
    "meta_graph_pb2",
    "model_management_pb2",
    "model_pb2",
    "model_server_config_pb2",
    "model_service_pb2_grpc",
    "predict_pb2",
    "prediction_service_pb2_grpc",
    "regression_pb2",
    "tensor_pb2",
    "tensor_shape_pb2",
    "types_pb2",
]
