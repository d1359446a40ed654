"""GetModelStatus and GetModelMetadata responses -> TF Serving's JSON."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf import json_format

from tfserving.errors import UpstreamError
from tfserving.protos import get_model_metadata_pb2, get_model_status_pb2
from tfserving.signatures import SIGNATURE_DEF_FIELD


def render_model_status(response: get_model_status_pb2.GetModelStatusResponse) -> dict:
    """TF Serving's JSON for GetModelStatusResponse (every field printed, int64 as string)."""
    state_names = get_model_status_pb2.ModelVersionStatus.State
    return {
        "model_version_status": [
            {
                "version": str(status.version),
                "state": state_names.Name(status.state),
                "status": {
                    "error_code": _error_code_name(status.status.error_code),
                    "error_message": status.status.error_message,
                },
            }
            for status in response.model_version_status
        ]
    }


def _error_code_name(code: int) -> str:
    field = get_model_status_pb2.ModelVersionStatus.DESCRIPTOR.fields_by_name["status"]
    code_enum = field.message_type.fields_by_name["error_code"].enum_type
    value = code_enum.values_by_number.get(code)
    return value.name if value is not None else str(code)


_PROTO_JSON_OPTIONS: Mapping[str, bool] = {
    "preserving_proto_field_name": True,
    "always_print_fields_with_no_presence": True,
}


def render_model_metadata(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
    """TF Serving's JSON for GetModelMetadataResponse: model_spec and metadata.signature_def."""
    if SIGNATURE_DEF_FIELD not in response.metadata:
        raise UpstreamError.from_status(
            grpc.StatusCode.INTERNAL,
            "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map.",
        )
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    return {
        "model_spec": json_format.MessageToDict(response.model_spec, **_PROTO_JSON_OPTIONS),
        "metadata": {
            SIGNATURE_DEF_FIELD: json_format.MessageToDict(signature_map, **_PROTO_JSON_OPTIONS)
        },
    }
