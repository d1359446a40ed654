"""JSON nesting depth and element count, measured on the bytes before parsing."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfserving.errors import InvalidInput
from tfserving.json_limits import JsonLimits, check_json_limits

ROOMY = JsonLimits(max_depth=1_000, max_elements=1_000_000)


def measured(value: Any) -> tuple[int, int]:
    """(depth, elements) of a parsed document, as the limits count them."""
    if isinstance(value, list):
        children = [measured(item) for item in value]
        extra = 1 if not value else 0  # an empty array counts twice
        return (
            1 + max((depth for depth, _ in children), default=0),
            1 + extra + sum(elements for _, elements in children),
        )
    if isinstance(value, dict):
        children = [measured(item) for item in value.values()]
        extra = 1 if not value else 0
        return (
            1 + max((depth for depth, _ in children), default=0),
            1 + extra + sum(1 + elements for _, elements in children),  # key + value
        )
    return 0, 1


def refused(data: bytes, limits: JsonLimits) -> str | None:
    try:
        check_json_limits(data, limits)
    except InvalidInput as error:
        return error.message
    return None


def test_a_tensor_as_deep_as_the_limit_passes() -> None:
    body = b'{"instances": [[[1.0, 2.0]]]}'  # object > instances > row > values: depth 4

    assert refused(body, JsonLimits(max_depth=4, max_elements=100)) is None


def test_one_level_deeper_than_the_limit_is_refused_naming_the_limit() -> None:
    body = b'{"instances": [[[[1.0]]]]}'

    assert refused(body, JsonLimits(max_depth=4, max_elements=100)) == (
        "JSON body is nested more than 4 levels deep"
    )


def test_elements_are_values_and_object_keys() -> None:
    body = b'{"instances": [1.0, 2.0, 5.0]}'  # the object, its key, the array, three numbers

    assert refused(body, JsonLimits(max_depth=10, max_elements=6)) is None
    assert refused(body, JsonLimits(max_depth=10, max_elements=5)) == (
        "JSON body has more than 5 elements (values and object keys)"
    )


def test_brackets_commas_and_colons_inside_strings_do_not_count() -> None:
    body = b'{"text": ["[[[[{{{{ a, b: c ]]]]}}}}", "\\"[[[\\\\", "\\\\"]}'

    assert refused(body, JsonLimits(max_depth=2, max_elements=6)) is None


def test_escaped_quote_does_not_end_a_string() -> None:
    body = b'["a\\"[[[[[", 1]'

    assert refused(body, JsonLimits(max_depth=1, max_elements=3)) is None


def test_escaped_backslash_before_a_quote_ends_the_string() -> None:
    body = b'["a\\\\", [[[1]]]]'

    assert refused(body, JsonLimits(max_depth=3, max_elements=100)) == (
        "JSON body is nested more than 3 levels deep"
    )


def test_deep_nesting_far_beyond_the_parsers_own_limit_is_refused() -> None:
    body = b"[" * 100_000 + b"]" * 100_000

    assert refused(body, JsonLimits(max_depth=32, max_elements=1_000_000)) == (
        "JSON body is nested more than 32 levels deep"
    )


def test_unbalanced_brackets_are_left_for_the_parser_to_report() -> None:
    assert refused(b"[[[[1.0", JsonLimits(max_depth=2, max_elements=100)) is None


def test_many_tiny_values_are_refused_before_parsing() -> None:
    body = b"[" + b",".join([b"0"] * 3_000_000) + b"]"

    assert refused(body, JsonLimits(max_depth=32, max_elements=2_000_000)) == (
        "JSON body has more than 2000000 elements (values and object keys)"
    )


def test_strings_longer_than_one_numpy_slice_are_followed_across_slices() -> None:
    # Over 4 MiB of commas inside one string: the shape bytes span two slices.
    body = b'["' + b"," * (5 << 20) + b'", [1, 2]]'

    assert refused(body, JsonLimits(max_depth=2, max_elements=5)) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.sampled_from('[]{}",:\\ab/\n\u00e9\u2028')),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=st.sampled_from('[]{}",:\\k'), max_size=4), children)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_depth_and_elements_match_the_parsed_document(
    value: Any, ensure_ascii: bool, indent: int | None
) -> None:
    depth, elements = measured(value)
    for body in (
        orjson.dumps(value),
        json.dumps(value, ensure_ascii=ensure_ascii, indent=indent).encode(),
    ):
        assert refused(body, JsonLimits(max_depth=max(depth, 1), max_elements=elements)) is None
        assert refused(body, JsonLimits(max_depth=1_000, max_elements=elements - 1)) is not None
        if depth > 1:
            assert refused(body, JsonLimits(max_depth=depth - 1, max_elements=elements)) == (
                f"JSON body is nested more than {depth - 1} levels deep"
            )


@pytest.mark.parametrize("body", [b"", b"1", b'"text"', b"null"])
def test_scalars_and_empty_bodies_pass(body: bytes) -> None:
    assert refused(body, ROOMY) is None
