"""The front door at ``/``: a page for visitors who are not logged in; the rest land on
their models."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from predictions.api import examples
from predictions.inference.catalogue import catalogue_model_names

# The demo user create_demo_user makes (named on the page only when it is a local run).
DEMO_USERNAME = "demo"


def welcome(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("model-list")
    # Only a local run names a model: in production a visitor must not learn what exists.
    example = None if settings.PRODUCTION else _predict_example()
    context = {
        "name": "Welcome",
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "example_model": example.model if example else "MODEL",
        "example_body": json.dumps(example.request) if example else '{"instances": [...]}',
        "access_minutes": max(1, round(_access_lifetime_seconds() / 60)),
        "demo_user": None if settings.PRODUCTION else DEMO_USERNAME,
    }
    return render(request, "predictions/welcome.html", context)


def _predict_example() -> examples.Example | None:
    """The first demo predict example whose model this gateway serves."""
    served = set(catalogue_model_names())
    return next((ex for ex in examples.demo_examples("predict") if ex.model in served), None)


def _access_lifetime_seconds() -> float:
    return settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
