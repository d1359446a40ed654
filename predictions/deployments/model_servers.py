"""Each model server as a deployment sees it: the versions it serves and where its labels
point, how that differs from the deployment tables (drift), and the config pushed to it.

Every call goes to one server (``tfserving.client.backend_targets``): behind a
``dns:///`` target a config must reach each replica, not whichever one a balanced
channel picks. Nothing here touches the database.

TF Serving refuses a whole config whose labels point at versions it has not loaded
(unless started with --allow_version_labels_for_unavailable_models, and then only for
new labels), and a fresh server has not loaded anything yet. So the config pushed to a
server keeps each label where that server has it until the label's new version is
AVAILABLE there; the next push (a waiting deployment, or the next reconciliation)
moves it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from django.conf import settings

from predictions.deployments.state import ModelState, model_config, server_config
from tfserving.client import PredictionClient, backend_targets
from tfserving.errors import UpstreamError
from tfserving.models import ModelRef
from tfserving.protos import get_model_status_pb2, model_server_config_pb2

AVAILABLE = "AVAILABLE"
_LIVE_STATES = frozenset({"START", "LOADING", AVAILABLE})
_UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_STATE_NAMES = get_model_status_pb2.ModelVersionStatus.State
_POLL_SECONDS = 0.2


def backends() -> list[str]:
    return backend_targets(settings.TFSERVING_ADDRESS)


def client(target: str, *, reload: bool = False) -> PredictionClient:
    """A client for one server. A reload may load new models before it answers, so it
    gets PUBLISH_WAIT_SECONDS; status checks get the usual deadline and no retries."""
    timeout = settings.TFSERVING_TIMEOUT_SECONDS
    return PredictionClient(
        target,
        timeout_seconds=max(timeout, settings.PUBLISH_WAIT_SECONDS) if reload else timeout,
        max_message_bytes=settings.TFSERVING_MAX_MESSAGE_BYTES,
        retries=settings.TFSERVING_RETRIES if reload else 0,
    )


class Unreachable(Exception):
    """The model server did not answer (UNAVAILABLE or past the deadline)."""


@dataclass(frozen=True)
class VersionStatus:
    state: str
    error: str = ""


@dataclass(frozen=True)
class ServerView:
    """What one model server reported: per model, its versions' states; per model and
    label (those that were asked about), the version the label resolves to, or None."""

    target: str
    versions: Mapping[str, Mapping[int, VersionStatus]]
    labels: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)

    def state_of(self, model: str, version: int) -> str:
        status = self.versions.get(model, {}).get(version)
        return status.state if status else "UNKNOWN"

    def is_available(self, model: str, version: int) -> bool:
        return self.state_of(model, version) == AVAILABLE

    def failed(self, model: str, version: int) -> bool:
        status = self.versions.get(model, {}).get(version)
        return status is not None and bool(status.error)

    def live_versions(self, model: str) -> set[int]:
        return {v for v, s in self.versions.get(model, {}).items() if s.state in _LIVE_STATES}


def observe(
    target: str,
    states: Sequence[ModelState],
    *,
    all_labels: bool,
    extra_models: Iterable[str] = (),
    request_id: str | None = None,
) -> ServerView:
    """Ask one server for its versions and labels: every label with ``all_labels``
    (reconciliation), otherwise only those whose new version it has not loaded."""
    server = client(target)
    versions: dict[str, dict[int, VersionStatus]] = {}
    labels: dict[str, dict[str, int | None]] = {}
    for name in [state.name for state in states] + list(extra_models):
        versions[name] = _version_statuses(server, name, request_id)
    for state in states:
        for label, version in sorted(state.labels.items()):
            if (
                all_labels
                or versions[state.name].get(version, VersionStatus("")).state != AVAILABLE
            ):
                labels.setdefault(state.name, {})[label] = _label_version(
                    server, state.name, label, request_id
                )
    return ServerView(target, versions, labels)


def version_statuses(
    target: str, name: str, request_id: str | None = None
) -> dict[int, VersionStatus]:
    """One model's versions on one server ({} if it does not serve the model)."""
    return _version_statuses(client(target), name, request_id)


def wait_for_version(
    name: str, version: int, timeout: float, request_id: str | None = None
) -> tuple[str, str]:
    """Poll every server until ``version`` is AVAILABLE on all that answer, failed to load
    on one, or ``timeout`` passed: (state, load error). State UNREACHABLE: none answered."""
    deadline = time.monotonic() + timeout
    while True:
        states = []
        for target in backends():
            try:
                status = version_statuses(target, name, request_id).get(version)
            except Unreachable:
                continue
            if status is not None and status.error:
                return status.state, status.error
            states.append(status.state if status else "UNKNOWN")
        if states and all(state == AVAILABLE for state in states):
            return AVAILABLE, ""
        if time.monotonic() >= deadline:
            return (",".join(sorted(set(states))) or "UNREACHABLE"), ""
        time.sleep(_POLL_SECONDS)


def _version_statuses(
    server: PredictionClient, name: str, request_id: str | None
) -> dict[int, VersionStatus]:
    try:
        response = server.get_model_status(ModelRef(name), request_id=request_id)
    except UpstreamError as error:
        if error.grpc_code is grpc.StatusCode.NOT_FOUND:
            return {}
        raise _unreachable_or(error) from error
    return {
        status.version: VersionStatus(
            _STATE_NAMES.Name(status.state),
            status.status.error_message if status.status.error_code else "",
        )
        for status in response.model_version_status
    }


def _label_version(
    server: PredictionClient, name: str, label: str, request_id: str | None
) -> int | None:
    try:
        response = server.get_model_metadata(ModelRef(name, label=label), request_id=request_id)
    except UpstreamError as error:
        if error.grpc_code in _UNREACHABLE:
            raise Unreachable(error.message) from error
        return None  # an unknown label, or its version is not loaded
    return response.model_spec.version.value


def _unreachable_or(error: UpstreamError) -> Exception:
    if error.grpc_code in _UNREACHABLE:
        return Unreachable(error.message)
    return error


def drift(
    view: ServerView, states: Sequence[ModelState], removed: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """(differences a push corrects, problems it does not: versions that failed to load)."""
    differences: list[str] = []
    problems: list[str] = []
    for state in states:
        name = state.name
        reported = view.versions.get(name, {})
        live = view.live_versions(name)
        aspired = state.aspired()
        if not reported and (aspired is None or aspired):
            differences.append(f"{name}: not served")
        elif aspired is not None:
            for version in sorted(aspired - live):
                status = reported.get(version)
                if status is not None and status.error:
                    problems.append(f"{name}: version {version} failed to load: {status.error}")
                else:
                    differences.append(f"{name}: version {version} is not loaded")
            for version in sorted(live - aspired):
                differences.append(f"{name}: version {version} is served but not wanted")
        checked = view.labels.get(name, {})
        for label, version in sorted(state.labels.items()):
            if label in checked and checked[label] != version:
                now = "missing" if checked[label] is None else f"at {checked[label]}"
                differences.append(f"{name}: label {label} is {now}, not at {version}")
    for name in removed:
        if view.live_versions(name):
            differences.append(f"{name}: still served after its removal")
    return differences, problems


@dataclass(frozen=True)
class HeldLabel:
    """A label kept where the server has it until its new version is AVAILABLE there."""

    model: str
    label: str
    version: int

    def __str__(self) -> str:
        return f"{self.model}: label {self.label} -> {self.version}"


def config_for(
    view: ServerView, states: Sequence[ModelState]
) -> tuple[model_server_config_pb2.ModelServerConfig, list[HeldLabel]]:
    """The config for this server, and the labels held back until their version loads."""
    held_back = []
    configs = []
    for state in states:
        labels = {}
        for label, version in sorted(state.labels.items()):
            if view.is_available(state.name, version):
                labels[label] = version
                continue
            held_back.append(HeldLabel(state.name, label, version))
            current = view.labels.get(state.name, {}).get(label)
            if current is not None:
                labels[label] = current
        configs.append(model_config(state, labels))
    return server_config(configs), held_back


@dataclass(frozen=True)
class PushResult:
    target: str
    applied: bool
    unreachable: bool = False
    message: str = ""


def push(
    target: str, config: model_server_config_pb2.ModelServerConfig, request_id: str | None = None
) -> PushResult:
    try:
        client(target, reload=True).reload_config(config, request_id=request_id)
    except UpstreamError as error:
        unreachable = error.grpc_code in _UNREACHABLE
        return PushResult(target, applied=False, unreachable=unreachable, message=error.message)
    return PushResult(target, applied=True)
