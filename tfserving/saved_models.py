"""Reading a SavedModel's ``saved_model.pb`` (or ``.pbtxt``) without TensorFlow.

``tensorflow/core/protobuf/saved_model.proto`` is not among the protos that
tensorflow-serving-api depends on, so the gateway image does not ship its generated
module (deploy/image/copy_tf_protos.py copies only those). The message is two fields
around meta_graph.proto's MetaGraphDef, which the image does ship, so it is declared
here with TensorFlow's field numbers (the wire format is the same) under a package
of its own: a real TensorFlow loaded later in the same process (the tests) registers
the original without a clash.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory, text_format

from tfserving.protos import meta_graph_pb2

SERVE_TAG = "serve"

_FILE = descriptor_pb2.FileDescriptorProto(
    name="tfserving/saved_model.proto",
    package="tfserving.saved_model",
    syntax="proto3",
    dependency=[meta_graph_pb2.DESCRIPTOR.name],
)
_SAVED_MODEL = _FILE.message_type.add(name="SavedModel")
_SAVED_MODEL.field.add(
    name="saved_model_schema_version",
    number=1,
    type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
)
_SAVED_MODEL.field.add(
    name="meta_graphs",
    number=2,
    type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
    type_name=".tensorflow.MetaGraphDef",
    label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
)
_pool = descriptor_pool.Default()
try:
    _descriptor = _pool.FindMessageTypeByName("tfserving.saved_model.SavedModel")
except KeyError:
    _pool.Add(_FILE)
    _descriptor = _pool.FindMessageTypeByName("tfserving.saved_model.SavedModel")
SavedModel = message_factory.GetMessageClass(_descriptor)


class NotASavedModel(ValueError):
    """The bytes are not a SavedModel protocol buffer."""


def parse_saved_model(data: bytes, *, text: bool = False) -> message.Message:
    """A SavedModel message from the contents of saved_model.pb (or .pbtxt with ``text``)."""
    saved_model = SavedModel()
    try:
        if text:
            text_format.Parse(data.decode("utf-8"), saved_model)
        else:
            saved_model.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as error:
        raise NotASavedModel(str(error) or type(error).__name__) from error
    return saved_model


def serving_meta_graph(saved_model: message.Message) -> meta_graph_pb2.MetaGraphDef | None:
    """The MetaGraph TF Serving loads (tagged "serve"), or None."""
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    return None
