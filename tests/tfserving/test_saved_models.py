"""saved_model.pb read with the protos alone, against TensorFlow's own SavedModel message."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format

from tfserving.saved_models import NotASavedModel, parse_saved_model, serving_meta_graph

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("model", ["half_plus_two/1", "iris/1", "sentiment/1", "digits/1"])
def test_a_saved_model_parses_as_tensorflow_parses_it(model: str) -> None:
    from tensorflow.core.protobuf import saved_model_pb2  # the reference (tests may import TF)

    data = (MODELS / model / "saved_model.pb").read_bytes()
    reference = saved_model_pb2.SavedModel.FromString(data)

    parsed = parse_saved_model(data)

    assert parsed.saved_model_schema_version == reference.saved_model_schema_version
    assert [m.SerializeToString(deterministic=True) for m in parsed.meta_graphs] == [
        m.SerializeToString(deterministic=True) for m in reference.meta_graphs
    ]


def test_the_serving_meta_graph_is_the_one_tagged_serve() -> None:
    parsed = parse_saved_model((MODELS / "iris" / "1" / "saved_model.pb").read_bytes())

    meta_graph = serving_meta_graph(parsed)

    assert list(meta_graph.meta_info_def.tags) == ["serve"]
    assert {"serving_default", "classification", "regression"} <= set(meta_graph.signature_def)


def test_a_text_saved_model_parses_too() -> None:
    binary = parse_saved_model((MODELS / "half_plus_two" / "1" / "saved_model.pb").read_bytes())

    parsed = parse_saved_model(text_format.MessageToString(binary).encode(), text=True)

    assert parsed == binary


def test_a_graph_without_the_serve_tag_has_no_serving_meta_graph() -> None:
    parsed = parse_saved_model((MODELS / "half_plus_two" / "1" / "saved_model.pb").read_bytes())
    del parsed.meta_graphs[0].meta_info_def.tags[:]

    assert serving_meta_graph(parsed) is None


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x12\x05abc"])
def test_bytes_that_are_no_saved_model_are_refused(data: bytes) -> None:
    with pytest.raises(NotASavedModel):
        parse_saved_model(data)
