"""classify/regress: request examples and results as TF Serving's REST API reads and writes them."""

from __future__ import annotations

import math

import pytest
from google.protobuf import text_format

from tfserving import jsonio
from tfserving.codec import (
    parse_examples_request,
    render_classify_response,
    render_regress_response,
)
from tfserving.errors import InvalidInput
from tfserving.protos import classification_pb2, input_pb2, regression_pb2


def parse(body: bytes) -> tuple[str, input_pb2.Input]:
    return parse_examples_request(jsonio.loads(body))


def error(body: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(body)
    return caught.value.message


def features(example) -> dict[str, tuple[str | None, list]]:
    result = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        result[name] = (kind, list(getattr(feature, kind).value) if kind else [])
    return result


def test_examples_without_context_become_an_example_list():
    signature, model_input = parse(
        b"""{"examples": [
            {"names": ["foo", "bar"], "ratings": [8.0, 9.0], "age": 20},
            {"names": ["baz"], "ratings": 6.0}
        ]}"""
    )

    assert signature == "serving_default"
    assert model_input.WhichOneof("kind") == "example_list"
    examples = model_input.example_list.examples
    assert [features(e) for e in examples] == [
        {
            "names": ("bytes_list", [b"foo", b"bar"]),
            "ratings": ("float_list", [8.0, 9.0]),
            "age": ("int64_list", [20]),
        },
        {"names": ("bytes_list", [b"baz"]), "ratings": ("float_list", [6.0])},
    ]


def test_context_and_signature_name_become_an_example_list_with_context():
    signature, model_input = parse(
        b"""{
        "signature_name": "custom_signature",
        "context": {"query": "pizza", "location": ["sfo"]},
        "examples": [
            {"names": ["foo", "bar"], "ratings": [8.0, 9.0, NaN, Infinity], "age": 20},
            {"names": ["baz", {"b64": "aGVsbG8="}], "ratings": 6.0, "intboolmix": [1, true, false]},
            {"names": "bar", "ratings": -Infinity}
        ]}"""
    )

    assert signature == "custom_signature"
    assert model_input.WhichOneof("kind") == "example_list_with_context"
    with_context = model_input.example_list_with_context
    assert features(with_context.context) == {
        "query": ("bytes_list", [b"pizza"]),
        "location": ("bytes_list", [b"sfo"]),
    }
    first, second, third = (features(e) for e in with_context.examples)
    assert first["ratings"][1][:2] == [8.0, 9.0]
    assert math.isnan(first["ratings"][1][2]) and first["ratings"][1][3] == math.inf
    assert second == {
        "names": ("bytes_list", [b"baz", b"hello"]),
        "ratings": ("float_list", [6.0]),
        "intboolmix": ("int64_list", [1, 1, 0]),
    }
    assert third == {"names": ("bytes_list", [b"bar"]), "ratings": ("float_list", [-math.inf])}


def test_whole_numbers_are_int64_and_decimals_are_float_as_the_json_token_says():
    _, model_input = parse(b'{"examples": [{"a": 1, "b": 1.0, "c": [2, 3], "d": 1e2}]}')

    assert features(model_input.example_list.examples[0]) == {
        "a": ("int64_list", [1]),
        "b": ("float_list", [1.0]),
        "c": ("int64_list", [2, 3]),
        "d": ("float_list", [100.0]),
    }


def test_integers_beyond_64_bits_become_floats_as_in_tf_serving():
    _, model_input = parse(b'{"examples": [{"a": [-9223372036854775809]}]}')

    assert features(model_input.example_list.examples[0]) == {
        "a": ("float_list", [-9.223372036854776e18])
    }


def test_empty_list_gives_a_feature_without_values():
    _, model_input = parse(b'{"examples": [{"a": []}]}')

    assert features(model_input.example_list.examples[0]) == {"a": (None, [])}


def test_iris_request_matches_the_proto_tf_serving_builds():
    _, model_input = parse(
        b'{"examples": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}]}'
    )

    expected = text_format.Parse(
        """example_list { examples { features {
             feature { key: "petal_length" value { float_list { value: 1.4 } } }
             feature { key: "sepal_length" value { float_list { value: 5.1 } } }
             feature { key: "sepal_width" value { float_list { value: 3.5 } } }
           } } }""",
        input_pb2.Input(),
    )
    assert model_input == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"signature_name": ["hello"], "examples": [{"names": ["foo"]}]}',
            'JSON Value: ["hello"] not formatted correctly. '
            "'signature_name' key must be a string value.",
        ),
        (
            b'{"context": [{"names": ["foo", "bar"]}], "examples": [{}]}',
            "Example must be JSON object but got JSON Array",
        ),
        (
            b'{"examples": {"names": ["foo", "bar"]}}',
            "Expecting 'examples' value to be an list/array",
        ),
        (b'{"examples": []}', "'examples' value is an empty array"),
        (
            b'{"context": {"a": 1}}',
            "When method is classify or regress, key 'examples' is expected and was not found",
        ),
        (b'{"examples": [[{"names": ["foo"]}]]}', "Example must be JSON object but got JSON Array"),
        (
            b'{"examples": [{"names": [10, null]}]}',
            "Feature: names has element with unexpected JSON type: Null",
        ),
        (
            b'{"examples": [{"names": [10, 10.0]}]}',
            "Unexpected element type in feature: names expecting type: int64",
        ),
        (
            b'{"examples": [{"names": ["a", 1.5]}]}',
            "Unexpected element type in feature: names expecting type: bytes",
        ),
        (
            b'{"examples": [{"names": [10, {"test": 10}]}]}',
            "Feature: names has element with unexpected JSON type: Object",
        ),
        (
            b'{"examples": [{"names": [[10], 20]}]}',
            "Feature: names has element with unexpected JSON type: Array",
        ),
        (
            b'{"examples": [{"names": [20, 18446744073709551603]}]}',
            "Feature: names has uint64_t element. Only int64_t is supported.",
        ),
        (b'{"examples": [{"img": {"b64": "!!"}}]}', "Feature: img: Unable to base64 decode"),
        (b"[1]", "JSON Value: [1] Is not object"),
    ],
)
def test_malformed_examples_are_refused_as_tf_serving_refuses_them(body, message):
    assert error(body) == message


def classification_response(text: str) -> classification_pb2.ClassificationResponse:
    return text_format.Parse(text, classification_pb2.ClassificationResponse())


def test_classify_results_are_label_score_pairs_per_example():
    response = classification_response(
        """result {
             classifications {
               classes { label: "car" score: 0.2 } classes { label: "bike" score: 0.7 }
               classes { label: "bus" score: 0.1 } }
             classifications {
               classes { label: "car" score: 0.7 } classes { label: "bike" score: 0.1 }
               classes { label: "bus" score: 0.2 } } }"""
    )

    assert jsonio.dumps(render_classify_response(response)) == (
        b'{"results":[[["car",0.2],["bike",0.7],["bus",0.1]],'
        b'[["car",0.7],["bike",0.1],["bus",0.2]]]}'
    )


def test_classify_scores_without_labels_have_empty_labels():
    response = classification_response("result { classifications { classes { score: 0.5 } } }")

    assert jsonio.dumps(render_classify_response(response)) == b'{"results":[[["",0.5]]]}'


def test_regress_results_are_one_value_per_example_including_non_finite():
    response = text_format.Parse(
        """result { regressions { value: 0.2 } regressions { value: inf }
                    regressions { value: 1.0 } regressions { value: -inf }
                    regressions { value: nan } }""",
        regression_pb2.RegressionResponse(),
    )

    assert jsonio.dumps(render_regress_response(response)) == (
        b'{"results":[0.2,Infinity,1.0,-Infinity,NaN]}'
    )


def test_empty_results_are_errors_worded_as_tf_serving():
    with pytest.raises(InvalidInput, match=r"^Cannot convert empty ClassificationResults to JSON$"):
        render_classify_response(classification_pb2.ClassificationResponse())
    with pytest.raises(InvalidInput, match=r"^Cannot convert empty RegressionResults to JSON$"):
        render_regress_response(regression_pb2.RegressionResponse())


def test_integers_too_big_for_a_double_are_refused():
    with pytest.raises(InvalidInput) as caught:
        parse_examples_request({"examples": [{"a": 10**400}]})

    assert caught.value.message == "Feature: a has a number too big to be stored in double"
