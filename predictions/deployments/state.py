"""A served model's state as a value: what the tables hold, what an event records before
and after a change, and the model_config_list entry it becomes for the model server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tfserving.models import ModelRef
from tfserving.protos import model_server_config_pb2


@dataclass(frozen=True)
class VersionPolicy:
    """TF Serving's ServableVersionPolicy: the newest ``count``, ``all``, or ``versions``."""

    kind: str = "latest"
    count: int = 1
    versions: tuple[int, ...] = ()

    def aspired(self, published: Iterable[int]) -> frozenset[int]:
        """The versions the model server loads out of those in the repository."""
        available = sorted(set(published))
        if self.kind == "all":
            return frozenset(available)
        if self.kind == "specific":
            return frozenset(available) & frozenset(self.versions)
        return frozenset(available[-max(self.count, 1) :]) if available else frozenset()

    def describe(self) -> str:
        if self.kind == "all":
            return "all versions"
        if self.kind == "specific":
            return "versions " + ", ".join(map(str, self.versions))
        return f"the latest {self.count}" if self.count != 1 else "the latest version"

    def as_json(self) -> dict[str, Any]:
        if self.kind == "all":
            return {"all": {}}
        if self.kind == "specific":
            return {"specific": {"versions": list(self.versions)}}
        return {"latest": {"num_versions": self.count}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionPolicy:
        if "all" in data:
            return cls("all")
        if "specific" in data:
            return cls("specific", versions=tuple(int(v) for v in data["specific"]["versions"]))
        return cls("latest", count=int(data.get("latest", {}).get("num_versions", 1)))


def target_ref(model: str, target: str) -> ModelRef:
    """A split or shadow target as a ModelRef: digits are a version, anything else a label."""
    if target.isdigit():
        return ModelRef(model, version=int(target))
    return ModelRef(model, label=target)


@dataclass(frozen=True)
class Traffic:
    """How requests that name no version are served: weights per label or version (summing
    to 100; empty: as the model server chooses, its latest), stickiness, and a shadow."""

    split: tuple[tuple[str, int], ...] = ()
    sticky: bool = False
    shadow_target: str = ""
    shadow_percent: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "split", tuple(sorted(self.split)))  # one order: comparable

    @property
    def is_default(self) -> bool:
        return not self.split and not self.shadow_target

    def targets(self) -> set[str]:
        """Every label or version (as text) the policy sends requests to."""
        named = {target for target, _ in self.split}
        return named | ({self.shadow_target} if self.shadow_target else set())

    def as_json(self) -> dict[str, Any]:
        shadow = (
            {"target": self.shadow_target, "percent": self.shadow_percent}
            if self.shadow_target
            else None
        )
        return {"split": dict(self.split), "sticky": self.sticky, "shadow": shadow}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Traffic:
        shadow = data.get("shadow") or {}
        return cls(
            split=tuple(sorted((str(k), int(v)) for k, v in (data.get("split") or {}).items())),
            sticky=bool(data.get("sticky", False)),
            shadow_target=str(shadow.get("target", "")),
            shadow_percent=float(shadow.get("percent", 0.0)),
        )


@dataclass(frozen=True)
class ModelState:
    """A served model: its model_config_list entry, the versions in the repository and its
    traffic policy. ``versions`` is None when the base path is outside the repository."""

    name: str
    base_path: str
    platform: str = "tensorflow"
    policy: VersionPolicy = VersionPolicy()
    labels: Mapping[str, int] = field(default_factory=dict)
    versions: tuple[int, ...] | None = ()
    traffic: Traffic = Traffic()

    def aspired(self) -> frozenset[int] | None:
        return None if self.versions is None else self.policy.aspired(self.versions)

    def version_of(self, target: str) -> int | None:
        """The version a split or shadow target means now (None: an unknown label)."""
        return int(target) if target.isdigit() else self.labels.get(target)

    def pinned_versions(self) -> dict[int, str]:
        """Versions that labels and the traffic policy point at, with what points at them."""
        pinned: dict[int, str] = {}
        for label, version in sorted(self.labels.items()):
            pinned.setdefault(version, f"label {label}")
        for target in sorted(self.traffic.targets()):
            version = self.version_of(target)
            if version is not None:
                pinned.setdefault(version, f"the traffic policy ({target})")
        return pinned

    def with_changes(self, **changes: Any) -> ModelState:
        return replace(self, **changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "base_path": self.base_path,
            "platform": self.platform,
            "version_policy": self.policy.as_json(),
            "labels": dict(sorted(self.labels.items())),
            "versions": None if self.versions is None else list(self.versions),
            "traffic": self.traffic.as_json(),
        }

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> ModelState:
        versions = data.get("versions")
        return cls(
            name=name,
            base_path=str(data["base_path"]),
            platform=str(data.get("platform", "tensorflow")),
            policy=VersionPolicy.from_json(data.get("version_policy", {})),
            labels={str(k): int(v) for k, v in (data.get("labels") or {}).items()},
            versions=None if versions is None else tuple(sorted(int(v) for v in versions)),
            traffic=Traffic.from_json(data.get("traffic") or {}),
        )


def model_config(
    state: ModelState, labels: Mapping[str, int] | None = None
) -> model_server_config_pb2.ModelConfig:
    """The model_config_list entry of ``state`` (with ``labels`` instead of its own, if given)."""
    config = model_server_config_pb2.ModelConfig(
        name=state.name, base_path=state.base_path, model_platform=state.platform
    )
    policy = config.model_version_policy
    if state.policy.kind == "all":
        policy.all.SetInParent()
    elif state.policy.kind == "specific":
        policy.specific.versions.extend(state.policy.versions)
    else:
        policy.latest.num_versions = state.policy.count
    for label, version in sorted((state.labels if labels is None else labels).items()):
        config.version_labels[label] = version
    return config


def server_config(
    configs: Iterable[model_server_config_pb2.ModelConfig],
) -> model_server_config_pb2.ModelServerConfig:
    server = model_server_config_pb2.ModelServerConfig()
    server.model_config_list.SetInParent()  # an empty list is a valid config: serve nothing
    server.model_config_list.config.extend(configs)
    return server


def policy_from_config(config: model_server_config_pb2.ModelConfig) -> VersionPolicy:
    """The version policy of a model_config_list entry, with TF Serving's defaults."""
    policy = config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return VersionPolicy("all")
    if choice == "specific":
        return VersionPolicy("specific", versions=tuple(sorted(policy.specific.versions)))
    count = policy.latest.num_versions if choice == "latest" else 1
    return VersionPolicy("latest", count=max(count, 1))
