"""What the deployment tables store: the served models (TF Serving's model_config_list
entries) with their labels and traffic policies, every change made to them, who may
make changes, and what reconciliation last found on each model server."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models

from predictions.access.models import ALL_MODELS, holder_constraints

# Names become folder names in the model repository and path segments of the API.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"
# A label starts with a letter, so a traffic split can tell "canary" from version "3".
LABEL_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$"


class ServedModel(models.Model):
    """One model the model servers serve, and how requests that name no version reach it."""

    LATEST = "latest"
    ALL = "all"
    SPECIFIC = "specific"
    POLICIES = ((LATEST, "latest N versions"), (ALL, "all versions"), (SPECIFIC, "listed versions"))

    name = models.CharField(
        max_length=200, unique=True, validators=[RegexValidator(MODEL_NAME_PATTERN)]
    )
    base_path = models.CharField(
        max_length=1000,
        help_text="The model's folder as the model server sees it (base_path).",
    )
    platform = models.CharField(max_length=50, default="tensorflow")
    version_policy = models.CharField(max_length=10, choices=POLICIES, default=LATEST)
    latest_versions = models.PositiveIntegerField(
        default=1, help_text="With the latest policy: how many newest versions to serve."
    )
    specific_versions = models.JSONField(
        default=list, blank=True, help_text="With the specific policy: the versions to serve."
    )
    traffic_split = models.JSONField(
        default=dict,
        blank=True,
        help_text='Requests naming no version, by label/version: {"stable": 90}.',
    )
    sticky = models.BooleanField(
        default=False, help_text="Each caller always gets the same entry of the split."
    )
    shadow_target = models.CharField(
        max_length=100, blank=True, help_text="A label or version that also gets a copy."
    )
    shadow_percent = models.FloatField(default=0.0, help_text="Share of requests copied (0-100).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.name


class VersionLabel(models.Model):
    """A version label (TF Serving's version_labels): requests may name it instead of a number."""

    model = models.ForeignKey(ServedModel, on_delete=models.CASCADE, related_name="labels")
    label = models.CharField(max_length=100, validators=[RegexValidator(LABEL_PATTERN)])
    version = models.BigIntegerField()

    class Meta:
        ordering = ("label",)
        constraints = [
            models.UniqueConstraint(fields=("model", "label"), name="unique_version_label")
        ]

    def __str__(self) -> str:
        return f"{self.model.name}/{self.label} -> {self.version}"


class DeploymentEvent(models.Model):
    """One change to a served model, with the model's state before and after it.

    ``before`` is null when the change added the model, ``after`` when it removed it.
    The model name is kept as text and the actor without a constraint, so the history
    outlives removed models and deleted users.
    """

    ADD_MODEL = "add_model"
    REMOVE_MODEL = "remove_model"
    UPDATE_MODEL = "update_model"
    PUBLISH = "publish"
    DELETE_VERSION = "delete_version"
    MOVE_LABEL = "move_label"
    TRAFFIC = "traffic"
    ROLLBACK = "rollback"
    KINDS = (
        (ADD_MODEL, "model added"),
        (REMOVE_MODEL, "model removed"),
        (UPDATE_MODEL, "model updated"),
        (PUBLISH, "version published"),
        (DELETE_VERSION, "version deleted"),
        (MOVE_LABEL, "label moved"),
        (TRAFFIC, "traffic changed"),
        (ROLLBACK, "rolled back"),
    )

    model_name = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=20, choices=KINDS)
    summary = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.model_name}: {self.summary}"


class DeployGrant(models.Model):
    """A user or group may change a model's deployment ("*": every model). Staff always may.

    Separate from the predict grant (access.ModelGrant): using a model and changing
    what it serves are different rights.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deploy_grants",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="deploy_grants"
    )
    model_name = models.CharField(
        max_length=200, help_text=f'A model name, or "{ALL_MODELS}" for every model.'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("model_name", "id")
        constraints = holder_constraints("deploy_")

    def __str__(self) -> str:
        holder = f"user {self.user}" if self.user_id else f"group {self.group}"
        return f"{holder} may deploy {self.model_name}"


class DeploymentState(models.Model):
    """The one row every change locks: a revision counter and whether seeding happened.

    Changes are serialised by locking it (SELECT ... FOR UPDATE on PostgreSQL; SQLite
    serialises writers anyway), and each bumps ``revision``, so a replica that pushed
    the config can tell whether another change came in meanwhile.
    """

    revision = models.BigIntegerField(default=0)
    seeded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the tables were first filled from MODEL_CONFIG_FILE."
    )

    def __str__(self) -> str:
        return f"revision {self.revision}"

    @classmethod
    def locked(cls) -> DeploymentState:
        """The row, locked until the transaction ends: changes go one at a time."""
        state, _ = cls.objects.select_for_update().get_or_create(pk=1)
        return state

    def bump(self) -> None:
        self.revision += 1
        self.save(update_fields=["revision", "seeded_at"])


class ReconcileReport(models.Model):
    """What the last reconciliation of one model server found, and what it did."""

    backend = models.CharField(max_length=300, unique=True)
    checked_at = models.DateTimeField()
    revision = models.BigIntegerField()
    drift = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    pushed = models.BooleanField(default=False)
    outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("backend",)

    def __str__(self) -> str:
        return f"{self.backend}: {self.outcome or 'in step'}"
