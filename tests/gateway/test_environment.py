"""Environment: typed reads of the variables, and errors that name the variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from serving_project.environment import Environment


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("off", False)],
)
def test_bool_reads_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Environment({"AUDIT_SYNC": raw}).bool("AUDIT_SYNC", not expected) is expected


def test_an_empty_bool_is_false_and_a_missing_one_the_default() -> None:
    assert Environment({"AUDIT_SYNC": ""}).bool("AUDIT_SYNC", True) is False
    assert Environment({}).bool("AUDIT_SYNC", True) is True


def test_a_bad_bool_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^AUDIT_SYNC must be 1 or 0 \(got 'maybe'\)$"):
        Environment({"AUDIT_SYNC": "maybe"}).bool("AUDIT_SYNC", False)


def test_int_reads_a_number_and_keeps_the_default_when_blank() -> None:
    assert Environment({"GUNICORN_THREADS": "12"}).int("GUNICORN_THREADS", 8) == 12
    assert Environment({"GUNICORN_THREADS": "  "}).int("GUNICORN_THREADS", 8) == 8


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("eight", r"^GUNICORN_THREADS must be an integer \(got 'eight'\)$"),
        ("0", r"^GUNICORN_THREADS must be at least 1 \(got 0\)$"),
        ("65", r"^GUNICORN_THREADS must be at most 64 \(got 65\)$"),
    ],
)
def test_a_bad_int_names_the_variable_and_the_bound(raw: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        Environment({"GUNICORN_THREADS": raw}).int("GUNICORN_THREADS", 8, minimum=1, maximum=64)


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf"])
def test_a_float_must_be_finite(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^AUDIT_FLUSH_SECONDS must be a finite number"):
        Environment({"AUDIT_FLUSH_SECONDS": raw}).float("AUDIT_FLUSH_SECONDS", 0.1)


def test_a_float_below_its_minimum_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^TFSERVING_TIMEOUT_SECONDS must be at least"):
        Environment({"TFSERVING_TIMEOUT_SECONDS": "0"}).float(
            "TFSERVING_TIMEOUT_SECONDS", 10.0, minimum=0.001
        )


def test_list_splits_on_commas_and_drops_blanks() -> None:
    env = Environment({"DJANGO_ALLOWED_HOSTS": " a.example , ,b.example,"})

    assert env.list("DJANGO_ALLOWED_HOSTS", "") == ["a.example", "b.example"]
    assert Environment({}).list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1") == [
        "localhost",
        "127.0.0.1",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "postgres://gateway:secret@db:5432/gateway",
        "sqlite:///var/db.sqlite3",
        "sqlite://:memory:",
    ],
)
def test_url_accepts_its_schemes(url: str) -> None:
    env = Environment({"DATABASE_URL": url})

    assert env.url("DATABASE_URL", "", schemes=("postgres", "sqlite")) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://db/gateway",
            r"^DATABASE_URL must be a URL starting with postgres:// or sqlite://",
        ),
        ("db:5432", r"^DATABASE_URL must be a URL starting with"),
        ("postgres:///gateway", r"^DATABASE_URL must name a host"),
    ],
)
def test_a_bad_url_names_the_variable(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        Environment({"DATABASE_URL": url}).url("DATABASE_URL", "", schemes=("postgres", "sqlite"))


def test_an_empty_url_is_off() -> None:
    assert Environment({"REDIS_URL": ""}).url("REDIS_URL", "", schemes=("redis",)) == ""


def test_choice_names_the_choices() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"^DJANGO_ENV must be one of local, production \(got 'prod'\)$"
    ):
        _ = Environment({"DJANGO_ENV": "prod"}).mode


def test_log_format_defaults_to_json_in_production_and_text_locally() -> None:
    assert Environment({"DJANGO_ENV": "production"}).log_format == "json"
    assert Environment({}).log_format == "text"
    assert Environment({"DJANGO_ENV": "production", "LOG_FORMAT": "text"}).log_format == "text"
