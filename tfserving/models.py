"""Which model a request is for (a name plus an optional version or label), and which
of TF Serving's REST methods it asks for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tfserving.protos import model_pb2

ExamplesMethod = Literal["classify", "regress"]
InferenceMethod = Literal["predict"] | ExamplesMethod
# The SignatureDef method_name of each REST method.
METHOD_NAMES: Mapping[str, str] = {
    "predict": "tensorflow/serving/predict",
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}


@dataclass(frozen=True)
class ModelRef:
    """A model name with at most one of a version number or a version label.

    Neither means "the latest version", as in TF Serving.
    """

    name: str
    version: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a model name is required")
        if self.version is not None and self.label is not None:
            # TF Serving's wording for the same mistake in a URL.
            raise ValueError(
                f"Both model version ({self.version}) and model version label "
                f"({self.label}) cannot be supplied."
            )

    def model_spec(self, signature_name: str = "") -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=self.name, signature_name=signature_name)
        if self.version is not None:
            spec.version.value = self.version
        elif self.label is not None:
            spec.version_label = self.label
        return spec

    def servable_request(self) -> str:
        """The request as TF Serving prints it in errors: Latest(name) or Specific(name, 3)."""
        if self.version is not None:
            return f"Specific({self.name}, {self.version})"
        return f"Latest({self.name})"
