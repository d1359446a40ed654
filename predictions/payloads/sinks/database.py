"""The database sink: one PayloadLog row per exchange, inserted in batches."""

from __future__ import annotations

from collections.abc import Sequence

from predictions.payloads.models import PayloadLog
from predictions.payloads.records import PayloadRecord

_BULK_BATCH_SIZE = 500


def row(record: PayloadRecord) -> PayloadLog:
    request, response = record.request, record.response
    return PayloadLog(
        created_at=record.created_at,
        request_id=record.request_id,
        client_request_id=record.client_request_id,
        trace_id=record.trace_id,
        model_name=record.model_name[:200],
        model_version=record.model_version,
        version_label=record.version_label[:100],
        signature_name=record.signature_name[:200],
        method=record.method[:20],
        caller=record.caller[:150],
        http_status=record.http_status,
        error_code=record.error_code[:50],
        reason=record.reason,
        request=request.value() if request else None,
        response=response.value() if response else None,
        request_bytes=request.size if request else 0,
        response_bytes=response.size if response else 0,
        request_truncated=bool(request and request.truncated),
        response_truncated=bool(response and response.truncated),
        redacted=list(record.redacted),
    )


class DatabaseSink:
    name = "database"

    def write(self, records: Sequence[PayloadRecord]) -> int:
        PayloadLog.objects.bulk_create([row(record) for record in records], _BULK_BATCH_SIZE)
        return len(records)
