"""The CloudEvents sink: each logged request and response POSTed as KServe's logger sends it.

Binary content mode (the payload is the HTTP body, the event's attributes are ``ce-``
headers) with the attributes KServe's logger sets (pkg/logger/worker.go), so a consumer
written for KServe's inference logger receives these unchanged:

- ``ce-specversion`` 1.0, ``ce-id`` the request id (the request's and the response's event
  share it, as in KServe), ``ce-source`` PAYLOAD_CLOUDEVENTS_SOURCE, ``ce-time``
- ``ce-type`` ``org.kubeflow.serving.inference.request`` or ``...inference.response``
- ``ce-inferenceservicename`` the model, ``ce-namespace`` PAYLOAD_CLOUDEVENTS_NAMESPACE,
  ``ce-component`` ``predictor``, ``ce-endpoint`` the label the request named (else
  ``default``), ``ce-metadata`` ``{}`` (KServe's copied request headers: none here)
- ``traceparent`` (W3C, the CloudEvents distributed-tracing extension) while tracing

and the gateway's own extensions: ``ce-modelversion``, ``ce-signaturename``,
``ce-httpstatus``, ``ce-truncated`` and ``ce-redacted``. Unlike KServe, failed exchanges
are sent too when the policy logs errors (``ce-httpstatus`` tells them apart).

Each event is retried on a connection failure, a timeout, 429 or 5xx with exponential
backoff (PAYLOAD_SINK_RETRIES times); then it is dropped and counted. One session per
worker keeps the connection to the receiver open between events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

import requests

from predictions.payloads.records import Payload, PayloadRecord

log = logging.getLogger(__name__)

SPEC_VERSION = "1.0"
REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
COMPONENT = "predictor"
DEFAULT_ENDPOINT = "default"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_FIRST_RETRY_SECONDS = 0.1


def events(
    record: PayloadRecord, *, source: str, namespace: str
) -> Iterator[tuple[dict[str, str], bytes]]:
    """The record's events: (HTTP headers, body) for its request and its response."""
    for event_type, part in ((REQUEST_TYPE, record.request), (RESPONSE_TYPE, record.response)):
        if part is not None:
            yield _headers(record, event_type, part, source, namespace), part.text


def _headers(
    record: PayloadRecord, event_type: str, part: Payload, source: str, namespace: str
) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "ce-specversion": SPEC_VERSION,
        "ce-id": record.request_id,
        "ce-type": event_type,
        "ce-source": source,
        "ce-time": record.created_at.isoformat(),
        "ce-inferenceservicename": record.model_name,
        "ce-namespace": namespace,
        "ce-component": COMPONENT,
        "ce-endpoint": record.version_label or DEFAULT_ENDPOINT,
        "ce-metadata": "{}",
        "ce-signaturename": record.signature_name,
        "ce-httpstatus": str(record.http_status),
        "ce-truncated": "true" if part.truncated else "false",
        "ce-redacted": ",".join(record.redacted),
    }
    if record.model_version is not None:
        headers["ce-modelversion"] = str(record.model_version)
    if record.traceparent:
        headers["traceparent"] = record.traceparent
    return headers


class CloudEventsSink:
    name = "cloudevents"

    def __init__(
        self, url: str, *, source: str, namespace: str, timeout_seconds: float, retries: int
    ) -> None:
        self.url = url
        self.source = source
        self.namespace = namespace
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self._session = requests.Session()

    def write(self, records: Sequence[PayloadRecord]) -> int:
        """Send each record's events; the number of records all of whose events arrived."""
        delivered = 0
        for record in records:
            sent = [
                self._send(headers, body)
                for headers, body in events(record, source=self.source, namespace=self.namespace)
            ]
            delivered += all(sent)
        return delivered

    def close(self) -> None:
        self._session.close()

    def _send(self, headers: dict[str, str], body: bytes) -> bool:
        delay = _FIRST_RETRY_SECONDS
        for attempt in range(self.retries + 1):
            try:
                response = self._session.post(
                    self.url, data=body, headers=headers, timeout=self.timeout_seconds
                )
            except requests.RequestException as error:
                problem = type(error).__name__
            else:
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUSES:
                    break  # the receiver refuses this event: sending it again will not help
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        log.warning(
            "CloudEvent %s %s not delivered: %s", headers["ce-type"], headers["ce-id"], problem
        )
        return False
