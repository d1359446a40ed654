"""An audit record as it is queued and written: one tuple of column values.

A request turns its entry into a row (``bounded_row``) and the writer inserts its
batch with one statement (``insert_rows``: COPY on PostgreSQL, a multi-row INSERT
elsewhere). Model instances and ``bulk_create`` cost 120-170 µs of a worker's CPU
per record, most of it compiling the query: more than the rest of the audit path
together. A plain tuple and one statement cost 45-60 µs, building the row included.
Columns are AuditRecord's own, read once from the model: a field added there is
written without a change here.

Every value is made to fit its column where the row is made. Paths, model and
signature names come from the client. A value the database refuses (a NUL
character, which PostgreSQL text cannot hold; a lone surrogate, which is not UTF-8;
a number beyond the column's integer range; text over the column's length) would
otherwise fail the whole batch it is written in. So text is cleaned and cut to the
model's ``max_length`` and integers are clamped to the column type's range,
whatever the database.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from django.db import connection, models

from predictions.audit.models import AuditRecord

Row = tuple[object, ...]

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


def _finite(value: object) -> object:
    return value if not isinstance(value, float) or math.isfinite(value) else 0.0


def _bound_for(field: models.Field) -> Callable[[object], object] | None:
    """The function that makes a value fit ``field``'s column (None: any value does)."""
    if isinstance(field, models.CharField):
        max_length = field.max_length
        return lambda value: clean_text(value, max_length)
    if isinstance(field, models.FloatField):
        return _finite
    if isinstance(field, models.ForeignKey):
        return None
    ranges = [bounds for kind, bounds in _INTEGER_RANGES.items() if isinstance(field, kind)]
    if not ranges:
        return None
    (low, high), nullable = ranges[0], field.null

    def clamp(value: object) -> object:
        """Within the column's range; a nullable column takes None for nonsense."""
        if not isinstance(value, int) or low <= value <= high:
            return value
        return None if nullable else min(max(value, low), high)

    return clamp


@dataclass(frozen=True)
class Column:
    name: str  # the model field's attname (user_id for the user foreign key)
    field: models.Field
    bound: Callable[[object], object] | None
    default: object


@functools.cache
def columns() -> tuple[Column, ...]:
    """AuditRecord's columns in the order of a row: every concrete field but the key."""
    return tuple(
        Column(field.attname, field, _bound_for(field), field.get_default())
        for field in AuditRecord._meta.concrete_fields
        if not field.primary_key
    )


def raw_row(values: Mapping[str, object]) -> Row:
    """A row of ``values`` as given (a column left out takes its field's default)."""
    return tuple(values.get(column.name, column.default) for column in columns())


def bounded_row(values: Mapping[str, object]) -> Row:
    """A row of ``values`` with every value made to fit its column."""
    row = []
    for column in columns():
        value = values.get(column.name, column.default)
        if column.bound is not None and value is not None and not isinstance(value, bool):
            value = column.bound(value)
        row.append(value)
    return tuple(row)


def as_dict(row: Row) -> dict[str, object]:
    """``row``'s values by column name (logs, tests)."""
    return {column.name: value for column, value in zip(columns(), row, strict=True)}


@functools.cache
def _statement_parts(vendor: str) -> tuple[str, str, str, tuple[int, ...]]:
    """For this connection's database (vendor): the table and its columns as SQL, one
    row's INSERT placeholders, and the positions of the values the driver cannot take
    as they are (datetimes: SQLite keeps them as text)."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column.field.column) for column in columns())
    adapted = tuple(
        index
        for index, column in enumerate(columns())
        if isinstance(column.field, models.DateTimeField)
    )
    placeholders = "(" + ", ".join(["%s"] * len(columns())) + ")"
    return f"{quote(AuditRecord._meta.db_table)} ({names})", placeholders, adapted


def insert_rows(rows: Sequence[Row]) -> None:
    """Insert ``rows`` on the default connection, in the caller's transaction.

    PostgreSQL takes them with COPY (a quarter of the CPU of an INSERT there: psycopg
    parses a long statement's placeholders in Python on every call); other databases
    with one multi-row INSERT per batch they allow. Driver errors come out as Django's
    (OperationalError, DataError, ...), as from the ORM.
    """
    table, placeholders, adapted = _statement_parts(connection.vendor)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            statement, started = f"COPY {table} FROM STDIN", time.monotonic()
            with cursor.cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            if connection.queries_logged:  # as Django logs its own statements (DEBUG, tests)
                elapsed = time.monotonic() - started
                connection.queries_log.append({"sql": statement, "time": f"{elapsed:.3f}"})
            return
        adapt = connection.ops.adapt_datetimefield_value
        batch = max(1, connection.ops.bulk_batch_size([c.field for c in columns()], rows))
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params: list[object] = []
            for row in chunk:
                values = list(row)
                for index in adapted:
                    values[index] = adapt(values[index])
                params.extend(values)
            cursor.execute(
                f"INSERT INTO {table} VALUES " + ", ".join([placeholders] * len(chunk)), params
            )
