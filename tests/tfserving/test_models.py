from __future__ import annotations

import pytest

from tfserving.models import ModelRef


def test_model_ref_without_version_or_label_asks_for_the_latest_version():
    spec = ModelRef("half_plus_two").model_spec()

    assert spec.name == "half_plus_two"
    assert spec.WhichOneof("version_choice") is None
    assert spec.signature_name == ""


def test_model_ref_with_version_fills_the_version_wrapper():
    spec = ModelRef("half_plus_two", version=1).model_spec("serving_default")

    assert (spec.WhichOneof("version_choice"), spec.version.value) == ("version", 1)
    assert spec.signature_name == "serving_default"


def test_model_ref_with_label_fills_version_label():
    spec = ModelRef("half_plus_two", label="canary").model_spec()

    assert (spec.WhichOneof("version_choice"), spec.version_label) == ("version_label", "canary")


def test_model_ref_refuses_both_version_and_label_with_tf_servings_words():
    with pytest.raises(ValueError) as caught:
        ModelRef("m", version=1, label="stable")

    assert str(caught.value) == (
        "Both model version (1) and model version label (stable) cannot be supplied."
    )


def test_model_ref_is_a_hashable_value():
    assert {ModelRef("m", 1), ModelRef("m", 1), ModelRef("m")} == {ModelRef("m", 1), ModelRef("m")}


@pytest.mark.parametrize(
    ("ref", "text"),
    [(ModelRef("m"), "Latest(m)"), (ModelRef("m", version=7), "Specific(m, 7)")],
)
def test_servable_request_is_printed_as_tf_serving_prints_it(ref, text):
    assert ref.servable_request() == text
