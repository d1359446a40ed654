"""The OpenAPI 3 description of the API (drf-spectacular).

- ``schemas``: TF Serving's JSON bodies and the authentication schemes
- ``operations``: what each route takes and answers (the views' decorators, below)
- ``hooks``: the AutoSchema of the model routes and the generator's hooks
- ``deployments``: the deployment routes (publish, labels, traffic, history, rollback)
"""

from predictions.api.openapi.deployments import (
    DEPLOYMENTS,
    LABEL_RESOURCE,
    MODEL_VERSIONS,
    ROLLBACK,
    TRAFFIC,
    VERSION_RESOURCE,
)
from predictions.api.openapi.operations import (
    CLASSIFY,
    LIVENESS,
    METRICS,
    MODEL_LIST,
    MODEL_METADATA,
    MODEL_STATUS,
    OBTAIN_TOKEN,
    PREDICT,
    READINESS,
    REFRESH_TOKEN,
    REGRESS,
    VERIFY_TOKEN,
)

__all__ = [
    "CLASSIFY",
    "DEPLOYMENTS",
    "LABEL_RESOURCE",
    "LIVENESS",
    "METRICS",
    "MODEL_LIST",
    "MODEL_METADATA",
    "MODEL_STATUS",
    "MODEL_VERSIONS",
    "OBTAIN_TOKEN",
    "PREDICT",
    "READINESS",
    "REFRESH_TOKEN",
    "REGRESS",
    "ROLLBACK",
    "TRAFFIC",
    "VERIFY_TOKEN",
    "VERSION_RESOURCE",
]
