"""drf-spectacular's AutoSchema for the model routes, and the generator's hooks (named in
settings)."""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter

from predictions.api.middleware import DOCUMENTATION_PATHS
from predictions.api.openapi.schemas import (
    SCHEMAS,
    SCHEME_DESCRIPTIONS,
    SCHEME_ORDER,
    SECURITY_SCHEMES,
)

_PATH_PARAMETERS = {
    "name": OpenApiParameter(
        "name",
        str,
        OpenApiParameter.PATH,
        description="The model's name.",
        examples=[OpenApiExample("half_plus_two", value="half_plus_two")],
    ),
    "version": OpenApiParameter(
        "version",
        int,
        OpenApiParameter.PATH,
        description="A version number the model server has loaded.",
        examples=[OpenApiExample("2", value=2)],
    ),
    "label": OpenApiParameter(
        "label",
        str,
        OpenApiParameter.PATH,
        description="A version label from the model server's config (e.g. stable, canary).",
        examples=[OpenApiExample("canary", value="canary")],
    ),
}
_PATH_VARIABLE = re.compile(r"{(\w+)}")


class GatewayAutoSchema(AutoSchema):
    """Types and examples for the model path parameters, whichever route a view serves."""

    def get_override_parameters(self) -> list[OpenApiParameter]:
        variables = _PATH_VARIABLE.findall(self.path)
        return [_PATH_PARAMETERS[name] for name in variables if name in _PATH_PARAMETERS]

    def get_operation_id(self) -> str:
        """``predict``, ``predictVersion``, ``predictLabel``, ``getModelStatus``... per route."""
        path = self.path
        if ":" in path.rsplit("/", 1)[-1]:
            action = path.rsplit(":", 1)[1]
        elif path.endswith("/metadata"):
            action = "getModelMetadata"
        elif "{name}" in path:
            action = "getModelStatus"
        else:
            return super().get_operation_id()
        if "{version}" in path:
            return action + "Version"
        if "{label}" in path:
            return action + "Label"
        return action


def public_endpoints(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: the list route without its optional slash; no documentation pages."""
    kept = []
    for path, path_regex, method, callback in endpoints:
        if path.startswith(DOCUMENTATION_PATHS):
            continue
        kept.append((path.rstrip("/") or "/", path_regex, method, callback))
    return kept


def add_components(result: dict, generator: object, request: object, public: bool) -> dict:
    """Postprocessing hook: the TF Serving body schemas, and the auth schemes described and
    in the order people need them."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    schemes = {**components.get("securitySchemes", {}), **SECURITY_SCHEMES}
    for name, description in SCHEME_DESCRIPTIONS.items():
        if name in schemes:
            schemes[name] = {**schemes[name], "description": description}
    ordered = [name for name in SCHEME_ORDER if name in schemes]
    components["securitySchemes"] = {
        name: schemes[name] for name in [*ordered, *sorted(set(schemes) - set(ordered))]
    }
    return result
