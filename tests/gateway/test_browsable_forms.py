"""The browsable API's form on an inference endpoint is pre-filled with a body that works."""

from __future__ import annotations

import html
import re
from types import MappingProxyType

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client

from predictions.api.examples import example_request, format_body
from tests.gateway.conftest import PASSWORD, make_user
from tests.tfserving.builders import BOOL, FLOAT, INT64, STRING, UINT8, signatures
from tfserving import codec
from tfserving.signatures import ModelSignatures, Signature

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html"}
FORM_CONTENT = re.compile(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', re.S)


@pytest.fixture
def browser(alice: User, model_server_address: str) -> Client:
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    return client


def prefilled(browser: Client, path: str) -> str:
    page = browser.get(path, **HTML).content.decode()
    return html.unescape(FORM_CONTENT.search(page).group(1)).strip()


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/v1/models/half_plus_two:predict", {"predictions": [3.5, 4.0, 5.5]}),
        ("/v1/models/half_plus_two/labels/stable:predict", {"predictions": [2.5, 3.0, 4.5]}),
        ("/v1/models/iris:regress", {"results": [pytest.approx(0.216252, abs=1e-5)]}),
    ],
)
def test_posting_the_prefilled_form_answers(browser: Client, path: str, answer: dict) -> None:
    body = prefilled(browser, path)

    response = browser.post(path, body, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == answer


@pytest.mark.parametrize("model", ["iris", "sentiment", "digits"])
def test_every_demo_model_gets_a_form_its_signature_accepts(browser: Client, model: str) -> None:
    body = prefilled(browser, f"/v1/models/{model}:predict")

    response = browser.post(f"/v1/models/{model}:predict", body, content_type="application/json")

    assert response.status_code == 200, response.json()


def test_classify_form_uses_the_classification_signature(browser: Client) -> None:
    body = orjson.loads(prefilled(browser, "/v1/models/iris:classify"))

    assert body["signature_name"] == "classification"


def test_no_example_for_a_model_the_caller_may_not_use(model_server_address: str) -> None:
    make_user("bob", "half_plus_two")
    client = Client()
    client.login(username="bob", password=PASSWORD)

    assert prefilled(client, "/v1/models/iris:predict") == ""


# --- bodies made up from a signature -----------------------------------------------------


def accepted(body: dict, model_signatures: ModelSignatures) -> bool:
    codec.parse_predict_request(body, model_signatures)  # raises InvalidInput otherwise
    return True


def test_one_batched_input_makes_a_row_of_one_value() -> None:
    model_signatures = signatures({"x": (FLOAT, (-1,))})

    body = example_request(model_signatures, "predict")

    assert body == {"instances": [0.0]}
    assert accepted(body, model_signatures)


def test_several_inputs_make_one_named_instance_of_the_right_shapes() -> None:
    model_signatures = signatures(
        {
            "image": (UINT8, (-1, 2, 3)),
            "count": (INT64, (-1,)),
            "flag": (BOOL, (-1,)),
            "text": (STRING, (-1,)),
            "raw_bytes": (STRING, (-1,)),
        }
    )

    body = example_request(model_signatures, "predict")

    assert body == {
        "instances": [
            {
                "image": [[0, 0, 0], [0, 0, 0]],
                "count": 0,
                "flag": False,
                "text": "example",
                "raw_bytes": {"b64": "ZXhhbXBsZQ=="},
            }
        ]
    }
    assert accepted(body, model_signatures)


def test_inputs_without_a_batch_dimension_use_the_columnar_format() -> None:
    model_signatures = signatures({"scale": (FLOAT, ()), "values": (FLOAT, (3,))})

    body = example_request(model_signatures, "predict")

    assert body == {"inputs": {"scale": 0.0, "values": [0.0, 0.0, 0.0]}}
    assert accepted(body, model_signatures)


def test_another_predict_signature_is_named_when_serving_default_is_missing() -> None:
    model_signatures = signatures({"x": (FLOAT, (-1,))}, name="scores")

    assert example_request(model_signatures, "predict") == {
        "signature_name": "scores",
        "instances": [0.0],
    }


def test_a_demo_example_is_used_only_when_it_fits_the_signature() -> None:
    retrained = signatures({"x": (FLOAT, (-1, 2))})
    renamed = ModelSignatures(
        model="half_plus_two", version=3, signatures=MappingProxyType(retrained.signatures)
    )

    assert example_request(renamed, "predict") == {"instances": [[0.0, 0.0]]}


def test_classify_without_a_demo_example_shows_the_format() -> None:
    base = signatures({"x": (FLOAT, (-1,))})
    classify = Signature(
        "classification",
        "tensorflow/serving/classify",
        {"inputs": base.signature().inputs["x"]},
        {},
    )
    model_signatures = ModelSignatures(
        "m", 1, MappingProxyType({**base.signatures, "classification": classify})
    )

    assert example_request(model_signatures, "classify") == {
        "signature_name": "classification",
        "examples": [{"feature": 0.0}],
    }


def test_format_body_puts_each_instance_on_its_own_line() -> None:
    text = format_body({"signature_name": "s", "instances": [{"a": [1, 2]}, {"a": [3, 4]}]})

    assert text == (
        '{\n  "signature_name": "s",\n  "instances": [\n'
        '    {"a": [1, 2]},\n    {"a": [3, 4]}\n  ]\n}'
    )
    assert format_body({"instances": [1.0, 2.0]}) == '{\n  "instances": [1.0, 2.0]\n}'
