"""Reconciliation: the model servers are brought back in step with the deployment tables
(a restarted TF Serving gets its models, versions and labels back), pushes from many
replicas converge, and the tables are seeded from MODEL_CONFIG_FILE once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from predictions.deployments import model_servers, reconciler, seeding, selectors, services
from predictions.deployments.model_servers import ServerView, VersionStatus
from predictions.deployments.models import ReconcileReport, ServedModel
from predictions.deployments.selectors import DesiredConfig
from predictions.deployments.state import ModelState, VersionPolicy
from serving_project.processes import start_model_server, terminate, wait_until_serving
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import V1, publish
from tests.support.processes import ROOT, free_port
from tfserving.client import PredictionClient
from tfserving.models import ModelRef

RECONCILED_WITHIN_SECONDS = 60.0  # a bound for a loaded machine, not a measurement


class RestartableServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        args = [f"--model_config_file={self.root / 'models.config'}"]
        with open(self.root / "modelserver.log", "ab") as log:
            self.process = start_model_server(self.port, args, env=env, output=log)
        wait_until_serving(self.address, self.process)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def own_server(tmp_path: Path, settings: Settings) -> Iterator[RestartableServer]:
    demo.fill(tmp_path / "repository")
    (tmp_path / "models.config").write_text(demo.config_text(tmp_path / "repository"))
    server = RestartableServer(tmp_path)
    server.start()
    settings.TFSERVING_ADDRESS = server.address
    settings.MODEL_REPOSITORY = settings.MODEL_SERVER_REPOSITORY = str(tmp_path / "repository")
    settings.MODEL_CONFIG_FILE = str(tmp_path / "models.config")
    settings.PUBLISH_WAIT_SECONDS = 30.0
    settings.RECONCILE_SECONDS = 0.0
    try:
        yield server
    finally:
        reconciler.stop()
        terminate(server.process)


def label_version(address: str, label: str) -> int | None:
    client = PredictionClient(address, timeout_seconds=2, max_message_bytes=1 << 26, retries=0)
    try:
        response = client.get_model_metadata(ModelRef("half_plus_two", label=label))
    except Exception:  # not up yet, or the label is unknown there
        return None
    return response.model_spec.version.value


def first_label_version(address: str, label: str) -> int | None:
    """The label's version once the server answers for it (a freshly started server on a
    loaded machine can miss the first calls' deadline)."""
    deadline = time.monotonic() + RECONCILED_WITHIN_SECONDS
    while (version := label_version(address, label)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return version


@pytest.mark.django_db(transaction=True)
def test_a_restarted_model_server_gets_the_gateway_config_back_by_reconciliation(
    own_server: RestartableServer, deployer_client: APIClient, settings: Settings
) -> None:
    seeding.seed_once()
    assert publish(deployer_client, demo.version_archive(V1)).status_code == 201
    moved = deployer_client.put(
        "/v1/models/half_plus_two/labels/canary", {"version": 3}, format="json"
    )
    assert moved.json()["applied"] is True
    own_server.kill()
    own_server.start()  # from models.config again: canary -> 2
    assert first_label_version(own_server.address, "canary") == 2

    settings.RECONCILE_SECONDS = 0.2
    reconciler.start()
    deadline = time.monotonic() + RECONCILED_WITHIN_SECONDS
    while label_version(own_server.address, "canary") != 3:
        assert time.monotonic() < deadline, "not reconciled in time"
        time.sleep(0.1)
    reconciler.stop()

    report = ReconcileReport.objects.get(backend=own_server.address)
    assert "half_plus_two: label canary is at 2, not at 3" in report.drift
    answer = deployer_client.post(
        "/v1/models/half_plus_two/labels/canary:predict", demo.BODY, format="json"
    )
    assert answer.json() == {"predictions": demo.V1_ANSWERS}


def test_a_server_in_step_is_left_alone(repository: Path) -> None:
    [report] = reconciler.reconcile_once()

    assert (report.drift, report.problems, report.pushed, report.outcome) == (
        [],
        [],
        False,
        "in step",
    )


def test_an_unreachable_server_is_reported_and_skipped(
    repository: Path, settings: Settings
) -> None:
    settings.TFSERVING_ADDRESS = f"127.0.0.1:{free_port()}"  # nothing listens there

    [report] = reconciler.reconcile_once()

    assert report.outcome.startswith("unreachable")
    assert ReconcileReport.objects.get().outcome == report.outcome


def test_seeding_happens_once_and_a_removed_model_stays_removed(repository: Path) -> None:
    services.remove_model(None, "newest")

    assert seeding.seed_once() == []
    assert list(ServedModel.objects.values_list("name", flat=True)) == ["half_plus_two"]


@pytest.mark.django_db
def test_seeding_places_models_in_the_repository_by_folder_name(settings: Settings) -> None:
    settings.MODEL_SERVER_REPOSITORY = "/models"

    seeding.seed_once(str(ROOT / "models" / "models.config"))

    assert dict(ServedModel.objects.values_list("name", "base_path")) == {
        "half_plus_two": "/models/half_plus_two",
        "iris": "/models/iris",
        "sentiment": "/models/sentiment",
        "digits": "/models/digits",
    }


# --- without a model server ---------------------------------------------------------------

STATE = ModelState(
    name="m",
    base_path="/models/m",
    policy=VersionPolicy("all"),
    labels={"stable": 1, "canary": 3},
    versions=(1, 2, 3),
)


def test_labels_wait_until_their_version_is_available_on_that_server() -> None:
    view = ServerView(
        "s",
        {
            "m": {
                1: VersionStatus("AVAILABLE"),
                2: VersionStatus("AVAILABLE"),
                3: VersionStatus("LOADING"),
            }
        },
        {"m": {"canary": 2}},
    )

    config, held = model_servers.config_for(view, [STATE])

    assert dict(config.model_config_list.config[0].version_labels) == {"stable": 1, "canary": 2}
    assert [str(h) for h in held] == ["m: label canary -> 3"]


def test_drift_names_missing_versions_extra_versions_labels_and_load_failures() -> None:
    view = ServerView(
        "s",
        {
            "m": {
                1: VersionStatus("AVAILABLE"),
                2: VersionStatus("END", "bad graph"),
                4: VersionStatus("AVAILABLE"),
            },
            "gone": {1: VersionStatus("AVAILABLE")},
        },
        {"m": {"stable": 1, "canary": None}},
    )

    differences, problems = model_servers.drift(view, [STATE], removed=["gone"])

    assert differences == [
        "m: version 3 is not loaded",
        "m: version 4 is served but not wanted",
        "m: label canary is missing, not at 3",
        "gone: still served after its removal",
    ]
    assert problems == ["m: version 2 failed to load: bad graph"]


def test_a_pusher_that_lost_a_race_pushes_the_newest_revision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    older = DesiredConfig(1, (STATE.with_changes(labels={}),), ())
    newer = DesiredConfig(2, (STATE,), ())
    reads = iter([older, newer])
    pushed = []
    everything = {"m": {v: VersionStatus("AVAILABLE") for v in (1, 2, 3)}}
    monkeypatch.setattr(model_servers, "backends", lambda: ["s"])
    monkeypatch.setattr(model_servers, "observe", lambda *a, **k: ServerView("s", everything))
    monkeypatch.setattr(
        model_servers,
        "push",
        lambda target, config, request_id=None: (
            pushed.append(config) or model_servers.PushResult(target, True)
        ),
    )
    monkeypatch.setattr(selectors, "desired_config", lambda: next(reads))
    monkeypatch.setattr(selectors, "current_revision", lambda: 2)  # a change came in meanwhile

    outcome = reconciler.apply()

    assert outcome.applied
    assert [dict(c.model_config_list.config[0].version_labels) for c in pushed] == [
        {},
        {"stable": 1, "canary": 3},
    ]
