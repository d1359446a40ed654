"""The deployment package's parts that need neither a model server nor HTTP."""

from __future__ import annotations

import io
import itertools
import tarfile
import threading
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from predictions.access.callers import Caller
from predictions.deployments import archives, shadow
from predictions.deployments.errors import ArchiveTooLarge, InvalidArchive
from predictions.deployments.routing import _Chooser
from predictions.deployments.state import ModelState, Traffic, VersionPolicy, model_config
from predictions.operations import metrics
from tests.gateway.deployments import repository as demo
from tfserving.protos import predict_pb2
from tfserving.tensors import tensor_proto_from_array

LIMITS = archives.UnpackLimits(max_bytes=10**6, max_entries=100)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../x", "leaves the archive's folder"),
        ("a/../../x", "leaves the archive's folder"),
        ("/etc/passwd", "has an absolute path"),
        ("C:/x", "has an absolute path"),
        ("a\\..\\x", "has a NUL or backslash character"),
        ("a\x00b", "has a NUL or backslash character"),
    ],
)
def test_unsafe_entry_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(InvalidArchive, match=message):
        archives.safe_relative_path(name)


def test_safe_entry_names_stay_inside() -> None:
    assert str(archives.safe_relative_path("./variables/./x.index")) == "variables/x.index"


def test_the_format_is_read_from_the_content_not_the_name() -> None:
    gz = demo.version_archive(demo.DEMO_MODELS / "half_plus_two" / "1")
    zipped = demo.version_archive(demo.DEMO_MODELS / "half_plus_two" / "1", "zip")
    plain = demo.version_archive(demo.DEMO_MODELS / "half_plus_two" / "1", "tar")

    assert [archives.archive_format(io.BytesIO(data)) for data in (gz, zipped, plain, b"PNG")] == [
        "tar",
        "zip",
        "tar",
        "",
    ]


def test_a_zip_bomb_is_refused_from_its_declared_sizes_before_unpacking(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("saved_model.pb", b"\0" * 2_000_000)  # compresses to ~2 KB
    (tmp_path / "out").mkdir()

    with pytest.raises(ArchiveTooLarge, match="unpacks to more than 1000000 bytes"):
        archives.unpack(io.BytesIO(buffer.getvalue()), tmp_path / "out", LIMITS)

    assert list((tmp_path / "out").iterdir()) == []


def test_the_unpacked_size_adds_up_every_entry(tmp_path: Path) -> None:
    data = demo.tar_with(
        demo.member("saved_model.pb", data=b"x" * 600_000),
        demo.member("other", data=b"y" * 600_000),
    )
    (tmp_path / "out").mkdir()

    with pytest.raises(ArchiveTooLarge):
        archives.unpack(io.BytesIO(data), tmp_path / "out", LIMITS)


def test_an_entry_that_appears_twice_is_refused(tmp_path: Path) -> None:
    data = demo.tar_with(
        demo.member("saved_model.pb", data=b"a"), demo.member("saved_model.pb", data=b"b")
    )
    (tmp_path / "out").mkdir()

    with pytest.raises(InvalidArchive, match="appears twice"):
        archives.unpack(io.BytesIO(data), tmp_path / "out", LIMITS)


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    data = demo.tar_with(demo.member("pipe", tarfile.FIFOTYPE))
    (tmp_path / "out").mkdir()

    with pytest.raises(InvalidArchive, match="'pipe' is a device file or FIFO"):
        archives.unpack(io.BytesIO(data), tmp_path / "out", LIMITS)


# --- version policies and configs -----------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "aspired"),
    [
        (VersionPolicy("latest", count=1), {5}),
        (VersionPolicy("latest", count=2), {3, 5}),
        (VersionPolicy("all"), {1, 3, 5}),
        (VersionPolicy("specific", versions=(1, 4)), {1}),
    ],
)
def test_version_policies_pick_like_tf_serving(policy: VersionPolicy, aspired: set[int]) -> None:
    assert policy.aspired([1, 3, 5]) == aspired


def test_a_state_round_trips_through_its_json() -> None:
    state = ModelState(
        name="m",
        base_path="/models/m",
        policy=VersionPolicy("specific", versions=(1, 2)),
        labels={"stable": 1},
        versions=(1, 2),
        traffic=Traffic(
            (("stable", 90), ("2", 10)), sticky=True, shadow_target="2", shadow_percent=5.0
        ),
    )

    assert ModelState.from_json("m", state.as_json()) == state


def test_a_state_becomes_tf_servings_model_config() -> None:
    state = ModelState(
        name="m",
        base_path="/models/m",
        policy=VersionPolicy("latest", count=2),
        labels={"stable": 3},
    )

    config = model_config(state)

    assert (config.name, config.base_path, config.model_platform) == (
        "m",
        "/models/m",
        "tensorflow",
    )
    assert config.model_version_policy.latest.num_versions == 2
    assert dict(config.version_labels) == {"stable": 3}


# --- the traffic choice ---------------------------------------------------------------------


def test_a_split_is_exact_and_evenly_spread() -> None:
    chooser = _Chooser("m", Traffic((("canary", 10), ("stable", 90))))

    picks = [chooser.choose(Caller(1))[0].label for _ in range(100)]

    assert Counter(picks) == {"stable": 90, "canary": 10}
    canaries = [i for i, label in enumerate(picks) if label == "canary"]
    assert [b - a for a, b in itertools.pairwise(canaries)] == [10] * 9


def test_a_sticky_split_depends_only_on_the_caller() -> None:
    chooser = _Chooser("m", Traffic((("canary", 50), ("stable", 50)), sticky=True))

    by_caller = {
        user: {chooser.choose(Caller(user))[0].label for _ in range(5)} for user in range(40)
    }

    assert all(len(labels) == 1 for labels in by_caller.values())
    assert Counter(labels.pop() for labels in by_caller.values()).keys() == {"canary", "stable"}


def test_an_api_key_is_its_own_caller_for_stickiness() -> None:
    chooser = _Chooser("m", Traffic((("a", 50), ("b", 50)), sticky=True))

    keys = {chooser.choose(Caller(1, api_key_id=key))[0].label for key in range(40)}

    assert keys == {"a", "b"}


@pytest.mark.parametrize(("percent", "copies"), [(5.0, 5), (50.0, 50), (100.0, 100), (0.5, 0)])
def test_the_shadow_share_is_exact(percent: float, copies: int) -> None:
    chooser = _Chooser("m", Traffic(shadow_target="2", shadow_percent=percent))

    assert sum(chooser.take_shadow() for _ in range(100)) == copies


# --- shadow copies ------------------------------------------------------------------------


def response(values: list[float], dtype: str = "float32") -> predict_pb2.PredictResponse:
    answer = predict_pb2.PredictResponse()
    answer.outputs["y"].CopyFrom(tensor_proto_from_array(np.array(values, dtype=dtype)))
    return answer


def test_answers_are_compared_by_value_whatever_the_encoding() -> None:
    typed = predict_pb2.PredictResponse()
    typed.outputs["y"].CopyFrom(response([1.0, 2.0]).outputs["y"])
    typed.outputs["y"].ClearField("tensor_content")
    typed.outputs["y"].float_val.extend([1.0, 2.0])

    assert not shadow.answers_differ(response([1.0, 2.0]), typed)
    assert not shadow.answers_differ(response([np.nan]), response([np.nan]))
    assert shadow.answers_differ(response([1.0, 2.0]), response([1.0, 2.5]))
    assert shadow.answers_differ(response([1.0]), response([1.0], "float64"))
    assert shadow.answers_differ(response([1.0, 2.0]), response([1.0]))


def test_a_full_shadow_queue_drops_copies_and_counts_them() -> None:
    executor = shadow.ShadowExecutor(threads=1, queue_size=1)
    release = threading.Event()
    started = threading.Event()

    def blocked() -> None:
        started.set()
        release.wait()

    assert executor.submit(blocked)
    started.wait()
    assert executor.submit(lambda: None)  # waits in the queue
    assert not executor.submit(lambda: None)  # dropped
    release.set()
    executor.shutdown()


def test_a_dropped_copy_is_counted_in_the_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    from predictions.context import RequestContext
    from tfserving.models import ModelRef

    monkeypatch.setattr(
        shadow, "executor", lambda: type("Full", (), {"submit": lambda self, t: False})()
    )
    counter = metrics.SHADOW_REQUESTS.labels("m", "dropped")
    before = counter._value.get()

    shadow.submit(
        RequestContext(Caller(1)), "predict", ModelRef("m", version=2), lambda ref: None, None
    )

    assert counter._value.get() == before + 1
