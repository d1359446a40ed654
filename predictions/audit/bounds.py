"""Every value of an audit record made to fit its column before it is queued.

Paths, model and signature names come from the client. A value the database refuses
(a NUL character, which PostgreSQL text cannot hold; a lone surrogate, which is not
UTF-8; a number beyond the column's integer range; text over the column's length)
would otherwise fail the whole batch it is written in. So text is cleaned and cut to
the model's ``max_length`` and integers are clamped to the column type's range where
the entry is made, whatever the database.
"""

from __future__ import annotations

import math

from django.db import models

from predictions.audit.models import AuditRecord

# The ranges of Django's integer columns on every backend it supports (PostgreSQL's
# smallint/bigint; SQLite stores 64-bit integers).
_INTEGER_RANGES: dict[type[models.Field], tuple[int, int]] = {
    models.PositiveSmallIntegerField: (0, 32_767),
    models.SmallIntegerField: (-32_768, 32_767),
    models.PositiveBigIntegerField: (0, 2**63 - 1),
    models.BigIntegerField: (-(2**63), 2**63 - 1),
    models.PositiveIntegerField: (0, 2**31 - 1),
    models.IntegerField: (-(2**31), 2**31 - 1),
}


def clean_text(value: object, max_length: int | None) -> str:
    """``value`` as text a database column takes: no NUL, valid UTF-8, at most max_length."""
    text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. "\ud800" in a JSON string
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:max_length] if max_length else text


def clamp_integer(value: int, field: models.Field) -> int | None:
    """``value`` within ``field``'s column range; a nullable column takes None for nonsense."""
    for field_type, (low, high) in _INTEGER_RANGES.items():
        if isinstance(field, field_type):
            if low <= value <= high:
                return value
            return None if field.null else min(max(value, low), high)
    return value


def bounded(record: AuditRecord) -> AuditRecord:
    """``record`` with every field value made to fit its column (in place; returned)."""
    for field in AuditRecord._meta.concrete_fields:
        value = getattr(record, field.attname)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(field, models.CharField):
            setattr(record, field.attname, clean_text(value, field.max_length))
        elif isinstance(field, models.FloatField) and isinstance(value, float):
            if not math.isfinite(value):
                setattr(record, field.attname, 0.0)
        elif isinstance(value, int) and not isinstance(field, models.ForeignKey):
            setattr(record, field.attname, clamp_integer(value, field))
    return record
