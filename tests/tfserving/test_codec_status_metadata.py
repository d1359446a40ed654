"""Model status and metadata JSON, shaped as TF Serving's REST API prints the protos."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import text_format

from tests.tfserving.builders import half_plus_two_metadata
from tfserving import jsonio
from tfserving.codec import render_model_metadata, render_model_status
from tfserving.errors import UpstreamError
from tfserving.protos import get_model_metadata_pb2, get_model_status_pb2


def test_model_status_prints_every_field_with_versions_as_strings():
    response = text_format.Parse(
        """model_version_status { version: 2 state: AVAILABLE status {} }
           model_version_status { version: 1 state: LOADING
             status { error_code: UNAVAILABLE error_message: "still loading" } }""",
        get_model_status_pb2.GetModelStatusResponse(),
    )

    assert render_model_status(response) == {
        "model_version_status": [
            {
                "version": "2",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            },
            {
                "version": "1",
                "state": "LOADING",
                "status": {"error_code": "UNAVAILABLE", "error_message": "still loading"},
            },
        ]
    }


def test_model_status_without_a_status_message_still_prints_ok():
    response = text_format.Parse(
        "model_version_status { version: 123 state: AVAILABLE }",
        get_model_status_pb2.GetModelStatusResponse(),
    )

    assert jsonio.dumps(render_model_status(response)) == (
        b'{"model_version_status":[{"version":"123","state":"AVAILABLE",'
        b'"status":{"error_code":"OK","error_message":""}}]}'
    )


def test_model_metadata_has_model_spec_and_the_signature_def_map():
    assert render_model_metadata(half_plus_two_metadata(version=2)) == {
        "model_spec": {"name": "half_plus_two", "signature_name": "", "version": "2"},
        "metadata": {
            "signature_def": {
                "signature_def": {
                    "serving_default": {
                        "inputs": {
                            "x": {
                                "dtype": "DT_FLOAT",
                                "tensor_shape": {
                                    "dim": [{"size": "-1", "name": ""}],
                                    "unknown_rank": False,
                                },
                                "name": "serving_default_x:0",
                            }
                        },
                        "outputs": {
                            "y": {
                                "dtype": "DT_FLOAT",
                                "tensor_shape": {
                                    "dim": [{"size": "-1", "name": ""}],
                                    "unknown_rank": False,
                                },
                                "name": "StatefulPartitionedCall:0",
                            }
                        },
                        "method_name": "tensorflow/serving/predict",
                        "defaults": {},
                    }
                }
            }
        },
    }


def test_model_metadata_without_signature_def_is_an_upstream_error():
    with pytest.raises(UpstreamError) as caught:
        render_model_metadata(get_model_metadata_pb2.GetModelMetadataResponse())

    assert caught.value.grpc_code is grpc.StatusCode.INTERNAL
    assert caught.value.status_code == 502
    assert caught.value.message == (
        "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map."
    )
