"""Which models to serve: TF Serving's model_config_list, read with its own protos."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

log = logging.getLogger(__name__)

_FILE_ERROR_CODES = {
    errno.ENOENT: grpc.StatusCode.NOT_FOUND,
    errno.EACCES: grpc.StatusCode.PERMISSION_DENIED,
}


class ModelConfigError(ValueError):
    """The model configuration cannot be served as written."""

    def __init__(
        self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VersionPolicy:
    """TF Serving's ServableVersionPolicy: ``latest`` N (default 1), ``all`` or ``specific``."""

    kind: str = "latest"
    latest_count: int = 1
    specific_versions: frozenset[int] = frozenset()

    def select(self, versions_on_disk: Set[int]) -> frozenset[int]:
        """The versions this policy wants served, out of those present on disk."""
        if self.kind == "all":
            return frozenset(versions_on_disk)
        if self.kind == "specific":
            return frozenset(versions_on_disk) & self.specific_versions
        return frozenset(sorted(versions_on_disk)[-self.latest_count :])


@dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: Path
    version_policy: VersionPolicy = VersionPolicy()
    version_labels: Mapping[str, int] = field(default_factory=dict)


def _policy_from_proto(config: model_server_config_pb2.ModelConfig) -> VersionPolicy:
    policy = config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return VersionPolicy(kind="all")
    if choice == "specific":
        versions = frozenset(int(v) for v in policy.specific.versions)
        if not versions:
            raise ModelConfigError(f"model {config.name}: specific policy lists no versions")
        return VersionPolicy(kind="specific", specific_versions=versions)
    count = policy.latest.num_versions if choice == "latest" else 1
    # TF Serving treats an unset or zero num_versions as 1.
    return VersionPolicy(kind="latest", latest_count=max(1, count))


def _resolve(base_path: str, working_directory: Path) -> Path:
    # Relative base paths are resolved against the working directory, like TF Serving does,
    # so the same models.config works at the repo root and in a container at "/".
    path = Path(os.path.expanduser(base_path))
    return path if path.is_absolute() else (working_directory / path)


def model_configs_from_proto(
    server_config: model_server_config_pb2.ModelServerConfig,
    working_directory: Path | None = None,
) -> tuple[ModelConfig, ...]:
    """Validate a ModelServerConfig and turn its model_config_list into values."""
    if server_config.WhichOneof("config") != "model_config_list":
        raise ModelConfigError(
            "ServerModelConfig type not supported by HandleReloadConfigRequest. "
            "Only ModelConfigList is currently supported"
        )
    cwd = working_directory or Path.cwd()
    configs: list[ModelConfig] = []
    seen: set[str] = set()
    for entry in server_config.model_config_list.config:
        if not entry.name:
            raise ModelConfigError("Illegal setting name: empty model name")
        if entry.name in seen:
            raise ModelConfigError(
                f"Illegal to list model {entry.name} multiple times in config list"
            )
        if not entry.base_path:
            raise ModelConfigError(f"Illegal setting base_path: empty for model {entry.name}")
        if entry.model_platform not in ("", "tensorflow"):
            raise ModelConfigError(
                f"Model {entry.name}: platform {entry.model_platform!r} is not supported"
            )
        seen.add(entry.name)
        configs.append(
            ModelConfig(
                name=entry.name,
                base_path=_resolve(entry.base_path, cwd),
                version_policy=_policy_from_proto(entry),
                version_labels=dict(entry.version_labels),
            )
        )
    return tuple(configs)


def _parse_error_text(error: text_format.ParseError) -> str:
    """The text protobuf's C++ parser logs for a bad file ("Error parsing text-format
    tensorflow.serving.ModelServerConfig: 1:1: Message type ..."); Python's ParseError
    prints the same position and message as "1:1 : ..."."""
    message = str(error)
    line, column = error.GetLine(), error.GetColumn()
    if line is not None:
        position = f"{line}:{column}" if column is not None else f"{line}"
        message = f"{position}: {message.removeprefix(position + ' : ')}"
    full_name = model_server_config_pb2.ModelServerConfig.DESCRIPTOR.full_name
    return f"Error parsing text-format {full_name}: {message}"


def parse_model_config_text(
    text: str, working_directory: Path | None = None
) -> tuple[ModelConfig, ...]:
    server_config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, server_config)
    except text_format.ParseError as error:
        raise ModelConfigError(_parse_error_text(error)) from error
    return model_configs_from_proto(server_config, working_directory)


def read_model_config_file(
    path: Path, working_directory: Path | None = None
) -> tuple[ModelConfig, ...]:
    """--model_config_file, read as TF Serving's ParseProtoTextFile reads it: a file that
    does not parse is "Invalid protobuf file", after the parser's own error is logged."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ModelConfigError(
            f"{path}; {error.strerror or error}",
            _FILE_ERROR_CODES.get(error.errno or 0, grpc.StatusCode.UNKNOWN),
        ) from error
    server_config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, server_config)
    except text_format.ParseError as error:
        log.error("%s", _parse_error_text(error))
        raise ModelConfigError(f"Invalid protobuf file: '{path}'") from error
    return model_configs_from_proto(server_config, working_directory)


def single_model_config(
    name: str, base_path: str, working_directory: Path | None = None
) -> ModelConfig:
    """The model given by --model_name and --model_base_path (latest version only)."""
    return ModelConfig(name=name, base_path=_resolve(base_path, working_directory or Path.cwd()))
