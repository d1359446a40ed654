"""Errors of the deployment routes, as the client sees them (the API's one handler renders
them as ``{"error", "code"}``, like every GatewayError)."""

from __future__ import annotations

from tfserving.errors import RETRY_AFTER_SECONDS, GatewayError


class DeploymentConflict(GatewayError):
    """The change contradicts the deployment as it is (a label points there, no such version...)."""

    status_code = 409
    code = "conflict"


class InvalidDeployment(GatewayError):
    """The request body does not describe a valid change."""

    status_code = 400
    code = "invalid_argument"


class InvalidArchive(GatewayError):
    """The upload is not an archive of one SavedModel version the gateway accepts."""

    status_code = 400
    code = "invalid_archive"


class ArchiveTooLarge(GatewayError):
    status_code = 413
    code = "archive_too_large"


class RepositoryFull(GatewayError):
    status_code = 507
    code = "insufficient_storage"

    def __init__(self) -> None:
        super().__init__("The model repository has no space left for this version")


class LoadFailed(GatewayError):
    """The version was valid as an archive, but the model server could not load it."""

    status_code = 422
    code = "load_failed"


class RefusedByModelServer(GatewayError):
    """The model server refused the new configuration; the change was undone."""

    status_code = 409
    code = "refused_by_model_server"


class DeploymentsUnavailable(GatewayError):
    """The deployment tables cannot be read or written (the database is down)."""

    status_code = 503
    code = "unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The deployment database is unavailable; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
