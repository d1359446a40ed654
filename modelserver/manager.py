"""Which versions are loaded: file-system polling, version policies, labels, ModelSpec routing.

Readers never wait for a load: loading happens outside the lock, and the table of
loaded servables is replaced as a whole (copy on write), so a request either sees
the old table or the new one. A version being unloaded stays alive for requests
that already hold it, because they hold a reference to the Servable object.
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


def _error_code_of(error: Exception) -> int:
    code = getattr(error, "error_code", None)  # tf.errors.OpError carries the TF code
    return int(code) if isinstance(code, int) else grpc.StatusCode.UNKNOWN.value[0]


class ServableManager:
    def __init__(
        self,
        configs: Iterable[ModelConfig],
        load_servable: Callable[[str, int, Path], Servable] = Servable,
        load_threads: int = 4,
    ) -> None:
        self._configs: dict[str, ModelConfig] = {c.name: c for c in configs}
        self._load_servable = load_servable
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
        """Load every model's aspired versions once; raise if any of them fails, as TF Serving
        refuses to start when an initial load fails."""
        self._cycle(initial=True)
        self._apply_labels()

    def reload(self, configs: Iterable[ModelConfig]) -> None:
        """HandleReloadConfigRequest: switch to a new model list and wait for its loads."""
        new_configs = {c.name: c for c in configs}
        with self._cycle_lock:
            self._configs = new_configs
        self._cycle()
        self._apply_labels()

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
                self._cycle()
            except Exception:  # a bad poll must not end polling for good
                log.exception("file system poll failed; retrying after the next interval")

    def _cycle(self, initial: bool = False) -> None:
        with self._cycle_lock:
            configs = dict(self._configs)
            for config in configs.values():
                self._sync_model(config, initial)
            for name in set(self._servables) - set(configs):
                self._unload(name, sorted(self._servables[name]))

    def _sync_model(self, config: ModelConfig, initial: bool) -> None:
        name = config.name
        on_disk = _version_folders(config.base_path)
        if not on_disk and initial:
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
            aspired = config.version_policy.select(candidates)
            loaded = set(self._servables.get(name, {}))
            to_load = sorted(aspired - loaded)
            if not to_load:
                break
            failures = self._load(name, {v: on_disk[v] for v in to_load})
            if failures and initial:
                version, message = failures[0]
                raise ConfigurationRejected(
                    grpc.StatusCode.UNKNOWN,
                    f"Loading servable: {servable_id(name, version)} failed: {message}",
                )
        self._unload(name, sorted(set(self._servables.get(name, {})) - aspired))

    def _load(self, name: str, folders: Mapping[int, Path]) -> list[tuple[int, str]]:
        self._set_states(name, {v: VersionStatus(State.LOADING) for v in folders})
        for version in folders:
            log.info("Loading servable version %s", servable_id(name, version))
        futures = {
            version: self._load_pool.submit(self._load_servable, name, version, folder)
            for version, folder in folders.items()
        }
        loaded: dict[int, Servable] = {}
        failures: list[tuple[int, str]] = []
        for version, future in futures.items():
            try:
                loaded[version] = future.result()
            except Exception as error:  # any load failure leaves the other versions serving
                message = str(error) or type(error).__name__
                log.error(
                    "Loading servable version %s failed (will retry when its folder changes): %s",
                    servable_id(name, version),
                    message,
                )
                self._failed[(name, version)] = FailedLoad(_fingerprint(folders[version]), message)
                self._set_states(
                    name, {version: VersionStatus(State.END, _error_code_of(error), message)}
                )
                failures.append((version, message))
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
        return failures

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
        labels: dict[str, dict[str, int]] = {}
        for config in self._configs.values():
            available = self._servables.get(config.name, {})
            for label, version in config.version_labels.items():
                if version not in available:
                    raise ConfigurationRejected(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"Request to assign label to version {version} of model {config.name}, "
                        "which is not currently available for inference",
                    )
                labels.setdefault(config.name, {})[label] = version
        self._labels = labels
