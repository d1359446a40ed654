"""Which versions are loaded: file-system polling, version policies, labels, ModelSpec routing.

Readers never wait for a load: loading happens outside the lock, and the table of
loaded servables is replaced as a whole (copy on write), so a request either sees
the old table or the new one. A version being unloaded stays alive for requests
that already hold it, because they hold a reference to the Servable object.

Loads fail and are retried as in TF Serving (loader_harness.cc, util/retrier.cc): each
version is tried 1 + --max_num_load_retries times, --load_retry_interval_micros apart,
then reported END with its error. A model that enters the configuration (at start-up or
through HandleReloadConfigRequest) must have its latest aspired version AVAILABLE, or the
start-up or reload fails with TF Serving's "... did not become available" message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_pb2

from modelserver import errors
from modelserver.model_config import ModelConfig
from modelserver.servable import Servable, saved_model_file

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State


@dataclass(frozen=True)
class VersionStatus:
    """What GetModelStatus reports for one version (TF Serving's ServableState)."""

    state: int
    error_code: int = grpc.StatusCode.OK.value[0]
    error_message: str = ""


@dataclass(frozen=True)
class FailedLoad:
    """A version whose load failed; retried once its folder's contents change."""

    fingerprint: tuple
    message: str


class ConfigurationRejected(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def servable_id(name: str, version: int) -> str:
    """TF Serving's ServableId::DebugString, used in its log lines."""
    return f"{{name: {name} version: {version}}}"


def _version_folders(base_path: Path) -> dict[int, Path]:
    """Numbered version folders that hold a SavedModel file (others are still being written)."""
    try:
        entries = list(base_path.iterdir())
    except OSError:
        return {}
    versions: dict[int, Path] = {}
    for entry in entries:
        if entry.name.isdigit() and entry.is_dir() and saved_model_file(entry) is not None:
            versions[int(entry.name)] = entry
    return versions


def _fingerprint(folder: Path) -> tuple:
    try:
        return tuple(
            sorted(
                (str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns)
                for path in folder.rglob("*")
                if (stat := path.stat())
            )
        )
    except OSError:
        return ()


def _load_status(error: BaseException) -> errors.ServingError:
    """A load failure as a status: TensorFlow's and our own errors keep their code; the
    Python loader's plain exceptions (a missing or unparsable file) are UNKNOWN."""
    if isinstance(error, errors.ServingError) or isinstance(
        getattr(error, "error_code", None), int
    ):
        return errors.from_exception(error)
    return errors.ServingError(grpc.StatusCode.UNKNOWN, str(error) or type(error).__name__)


class ServableManager:
    def __init__(
        self,
        configs: Iterable[ModelConfig],
        load_servable: Callable[[str, int, Path], Servable] = Servable,
        load_threads: int = 4,
        max_load_retries: int = 5,
        load_retry_interval_seconds: float = 60.0,
        allow_labels_for_unavailable: bool = False,
    ) -> None:
        self._configs: dict[str, ModelConfig] = {c.name: c for c in configs}
        self._load_servable = load_servable
        self._max_load_retries = max(0, max_load_retries)
        self._load_retry_interval = max(0.0, load_retry_interval_seconds)
        self._allow_labels_for_unavailable = allow_labels_for_unavailable
        self._load_pool = ThreadPoolExecutor(load_threads, thread_name_prefix="model-load")
        self._lock = threading.Lock()  # guards the tables below; never held while loading
        self._cycle_lock = threading.Lock()  # one load/unload cycle at a time
        self._servables: Mapping[str, Mapping[int, Servable]] = {}
        self._states: dict[str, dict[int, VersionStatus]] = {}
        self._labels: Mapping[str, Mapping[str, int]] = {}
        self._failed: dict[tuple[str, int], FailedLoad] = {}
        self._unload_listeners: list[Callable[[Servable], None]] = []
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # ---- reading (request path) -------------------------------------------------------

    def resolve(self, model_spec: model_pb2.ModelSpec) -> Servable:
        """The servable a ModelSpec names, resolved exactly as TF Serving's ServerCore does."""
        name = model_spec.name
        if not name:
            raise errors.missing_model_name()
        versions = self._servables.get(name, {})
        choice = model_spec.WhichOneof("version_choice")
        if choice == "version_label":
            label = model_spec.version_label
            version = self._labels.get(name, {}).get(label)
            if version is None:
                raise errors.unknown_version_label(label)
            return self._specific(name, version, versions)
        if choice == "version":
            return self._specific(name, model_spec.version.value, versions)
        if not versions:
            raise errors.servable_not_found(f"Latest({name})")
        return versions[max(versions)]

    @staticmethod
    def _specific(name: str, version: int, versions: Mapping[int, Servable]) -> Servable:
        servable = versions.get(version)
        if servable is None:
            raise errors.servable_not_found(f"Specific({name}, {version})")
        return servable

    def version_statuses(self, model_name: str) -> dict[int, VersionStatus]:
        with self._lock:
            return dict(self._states.get(model_name, {}))

    def model_names(self) -> list[str]:
        return sorted(self._configs)

    def add_unload_listener(self, listener: Callable[[Servable], None]) -> None:
        self._unload_listeners.append(listener)

    # ---- loading and unloading --------------------------------------------------------

    def load_initial(self) -> None:
        """Load every model's aspired versions once; raise, as TF Serving refuses to start,
        if the latest aspired version of any model is not AVAILABLE."""
        with self._cycle_lock:
            unavailable = self._cycle_locked(new_models=set(self._configs))
        self._finish(unavailable, "servable(s)")

    def reload(self, configs: Iterable[ModelConfig]) -> None:
        """HandleReloadConfigRequest: switch to a new model list and wait for its loads; raise
        if a model it adds does not become available."""
        new_configs = {c.name: c for c in configs}
        with self._cycle_lock:
            new_models = set(new_configs) - set(self._configs)
            self._configs = new_configs
            unavailable = self._cycle_locked(new_models)
        self._finish(unavailable, "model(s)")

    def _finish(self, unavailable: list[str], what: str) -> None:
        """Apply the labels, then report models that did not become available (TF Serving's
        ServerCore::WaitUntilModelsAvailable wording)."""
        try:
            self._apply_labels()
        except ConfigurationRejected:
            if not unavailable:
                raise
        if unavailable:
            raise ConfigurationRejected(
                grpc.StatusCode.UNKNOWN,
                f"{len(unavailable)} {what} did not become available: "
                f"{{{''.join(entry + ', ' for entry in unavailable)}}}",
            )

    def start_polling(self, poll_wait_seconds: float) -> None:
        # TF Serving: 0 polls once at start-up only; negative disables polling.
        if poll_wait_seconds <= 0:
            return
        self._poller = threading.Thread(
            target=self._poll_forever, args=(poll_wait_seconds,), name="fs-poll", daemon=True
        )
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        self._load_pool.shutdown(wait=False, cancel_futures=True)

    def _poll_forever(self, poll_wait_seconds: float) -> None:
        while not self._stop.wait(poll_wait_seconds):
            try:
                with self._cycle_lock:
                    self._cycle_locked(new_models=set())
            except Exception:  # a bad poll must not end polling for good
                log.exception("file system poll failed; retrying after the next interval")

    def _cycle_locked(self, new_models: set[str]) -> list[str]:
        """One load/unload pass over every model (caller holds the cycle lock). Returns,
        for the models in ``new_models``, those whose latest aspired version did not load."""
        unavailable = []
        for config in dict(self._configs).values():
            new = config.name in new_models
            aspired = self._sync_model(config, new)
            if new and aspired:
                problem = self._unavailable(config.name, max(aspired))
                if problem:
                    unavailable.append(problem)
        for name in set(self._servables) - set(self._configs):
            self._unload(name, sorted(self._servables[name]))
        return unavailable

    def _unavailable(self, name: str, version: int) -> str | None:
        if version in self._servables.get(name, {}):
            return None
        status = self.version_statuses(name).get(version)
        cause = ""
        if status is not None and status.error_code != grpc.StatusCode.OK.value[0]:
            code = errors.code_for_number(status.error_code)
            cause = f" due to error: {errors.status_string(code, status.error_message)}"
        return f"{{{servable_id(name, version)}{cause}}}"

    def _sync_model(self, config: ModelConfig, new: bool) -> frozenset[int]:
        """Load the versions the policy aspires to and unload the others; return the aspired.

        A model new to the configuration starts afresh (TF Serving creates new harnesses) and
        gets exactly the versions its policy picks from disk, failed or not. Afterwards a
        version whose load failed is left out until its folder's contents change, so the
        policy falls back to the versions that do load and those keep serving.
        """
        name = config.name
        on_disk = _version_folders(config.base_path)
        if new:
            for key in [key for key in self._failed if key[0] == name]:
                del self._failed[key]
            if not on_disk:
                log.warning(
                    "No versions of servable %s found under base path %s", name, config.base_path
                )
        for version in [v for (n, v) in self._failed if n == name]:
            folder = on_disk.get(version)
            failure = self._failed[(name, version)]
            if folder is None or _fingerprint(folder) != failure.fingerprint:
                del self._failed[(name, version)]  # changed or gone: worth another try
        while True:
            candidates = {v for v in on_disk if (name, v) not in self._failed}
            aspired = config.version_policy.select(set(on_disk) if new else candidates)
            loaded = set(self._servables.get(name, {}))
            to_load = sorted(aspired - loaded)
            if not to_load:
                break
            self._load(name, {v: on_disk[v] for v in to_load})
            if new:
                break
        self._unload(name, sorted(set(self._servables.get(name, {})) - aspired))
        return aspired

    def _load(self, name: str, folders: Mapping[int, Path]) -> None:
        self._set_states(name, {v: VersionStatus(State.LOADING) for v in folders})
        futures = {
            version: self._load_pool.submit(self._load_with_retries, name, version, folder)
            for version, folder in folders.items()
        }
        loaded: dict[int, Servable] = {}
        for version, future in futures.items():
            try:
                loaded[version] = future.result()
            except Exception as error:  # any load failure leaves the other versions serving
                status = _load_status(error)
                log.error(
                    "Servable %s cannot be loaded: %s",
                    servable_id(name, version),
                    errors.status_string(status.code, status.message),
                )
                self._failed[(name, version)] = FailedLoad(
                    _fingerprint(folders[version]), status.message
                )
                self._set_states(
                    name,
                    {version: VersionStatus(State.END, status.code.value[0], status.message)},
                )
        with self._lock:
            table = {n: dict(vs) for n, vs in self._servables.items()}
            table.setdefault(name, {}).update(loaded)
            self._servables = table
            self._states.setdefault(name, {}).update(
                {v: VersionStatus(State.AVAILABLE) for v in loaded}
            )
        for version in sorted(loaded):
            log.info(
                "Successfully loaded servable version %s: AVAILABLE", servable_id(name, version)
            )

    def _load_with_retries(self, name: str, version: int, folder: Path) -> Servable:
        """TF Serving's Retry() around one version's load, with its log lines. Retrying stops
        early when the server stops or the version's folder is gone."""
        description = f"Loading servable: {servable_id(name, version)}"
        log.info("Loading servable version %s", servable_id(name, version))
        attempts = 0
        while True:
            try:
                return self._load_servable(name, version, folder)
            except Exception as error:
                status = _load_status(error)
                log.error(
                    "%s failed: %s", description, errors.status_string(status.code, status.message)
                )
                attempts += 1
                if attempts > self._max_load_retries:
                    log.info(
                        "Retrying of %s exhausted max_num_retries: %d",
                        description,
                        self._max_load_retries,
                    )
                    raise
                if self._stop.wait(self._load_retry_interval) or not folder.is_dir():
                    log.info("Retrying of %s was cancelled.", description)
                    raise
                log.info("Retrying of %s retry: %d", description, attempts)

    def _unload(self, name: str, versions: list[int]) -> None:
        if not versions:
            return
        with self._lock:
            table = {n: dict(vs) for n, vs in self._servables.items()}
            removed = [table[name].pop(v) for v in versions]
            if not table[name]:
                del table[name]
            self._servables = table
            self._states.setdefault(name, {}).update(
                {v: VersionStatus(State.END) for v in versions}
            )
        for servable in removed:
            for listener in self._unload_listeners:
                listener(servable)
            log.info("Unloaded servable version %s: END", servable_id(name, servable.version))

    def _set_states(self, name: str, states: Mapping[int, VersionStatus]) -> None:
        with self._lock:
            self._states.setdefault(name, {}).update(states)

    def _apply_labels(self) -> None:
        """TF Serving's ServerCore::UpdateModelVersionLabelMap: every label must name an
        AVAILABLE version, except that with --allow_version_labels_for_unavailable_models a
        label that is new, or keeps its version, may name one that is not. Moving an
        existing label to a version that is not available is always refused. On refusal
        the previous labels stay in force."""
        labels: dict[str, dict[str, int]] = {}
        for config in self._configs.values():
            available = self._servables.get(config.name, {})
            current = self._labels.get(config.name, {})
            for label, version in config.version_labels.items():
                moved = label in current and current[label] != version
                allowed_unavailable = self._allow_labels_for_unavailable and not moved
                if version not in available and not allowed_unavailable:
                    raise ConfigurationRejected(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"Request to assign label to version {version} of model {config.name}, "
                        "which is not currently available for inference",
                    )
                labels.setdefault(config.name, {})[label] = version
        self._labels = labels
