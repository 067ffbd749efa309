"""Geos, the model catalog, and usage rows with their rollups (SPEC §2, §3). Tables only."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core.ids import IdFactory

DECIMAL = {"max_digits": 12, "decimal_places": 6}


class Geo(models.Model):
    """A geography. Adding `eu` later is a row here, not a code change."""

    code = models.CharField(primary_key=True, max_length=20)
    name = models.CharField(max_length=100)
    inference = models.BooleanField(default=True, help_text="Usable as an inference geo.")
    workspace = models.BooleanField(default=False, help_text="Usable as a workspace geo.")
    price_multiplier = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=1,
        help_text="Applied to every price category of geo-capable models run here.",
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(price_multiplier__gt=0), name="geo_multiplier_positive")
        ]

    def __str__(self):
        return self.code


class CatalogModel(models.Model):
    """A model the router can be asked about, with its base prices (USD per million tokens)."""

    id = models.CharField(
        primary_key=True,
        max_length=100,
        help_text="The model id callers send, e.g. claude-opus-4-6 (lowercase letters, digits, '.', '-', '_').",
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9._-]*$", "Use lowercase letters, digits, '.', '-' and '_' only.")],
    )
    display_name = models.CharField(max_length=100)
    supports_inference_geo = models.BooleanField(
        default=False, help_text="Accepts `inference_geo` and takes the residency multiplier."
    )
    input_price = models.DecimalField(**DECIMAL)
    cache_write_5m_price = models.DecimalField(**DECIMAL)
    cache_write_1h_price = models.DecimalField(**DECIMAL)
    cache_read_price = models.DecimalField(**DECIMAL)
    output_price = models.DecimalField(**DECIMAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "catalog model"
        constraints = [
            models.CheckConstraint(
                condition=Q(input_price__gte=0)
                & Q(cache_write_5m_price__gte=0)
                & Q(cache_write_1h_price__gte=0)
                & Q(cache_read_price__gte=0)
                & Q(output_price__gte=0),
                name="catalog_prices_not_negative",
                violation_error_message="Prices cannot be negative.",
            )
        ]

    def __str__(self):
        return self.id


class DataResidencyPolicy(models.Model):
    """An organization's bound over every workspace's inference geos (SPEC §5). No row means
    the default, which changes nothing: unrestricted, default `global`. `lock_reason` is a
    staff lock by contract that nobody else can loosen."""

    organization = models.OneToOneField("orgs.Organization", primary_key=True, on_delete=models.CASCADE,
                                        related_name="data_residency_policy")
    # NULL means "unrestricted"; otherwise a non-empty list of geo codes.
    allowed_inference_geos = models.JSONField(null=True, blank=True, default=None)
    default_inference_geo = models.CharField(max_length=20, default="global")
    lock_reason = models.CharField(max_length=20, choices=[("contract", "Part of the contract")], null=True,
                                   blank=True)
    # set once the organization's legacy opt-out was brought to the new controls (§2 Migration), so
    # re-running the migration never undoes what owners changed since
    legacy_migrated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "data residency policy"
        verbose_name_plural = "data residency policies"

    @property
    def locked(self):
        return self.lock_reason is not None

    @property
    def allowed_geos_value(self):
        return "unrestricted" if self.allowed_inference_geos is None else list(self.allowed_inference_geos)

    def __str__(self):
        return f"{self.organization_id}: {self.allowed_geos_value} / {self.default_inference_geo}"


class ApprovalSettings(models.Model):
    """Whether a change that loosens residency waits for a second person's approval (SPEC §8).
    No row means off, the default."""

    organization = models.OneToOneField("orgs.Organization", primary_key=True, on_delete=models.CASCADE,
                                        related_name="approval_settings")
    loosening_requires_approval = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "approval settings"
        verbose_name_plural = "approval settings"

    def __str__(self):
        return f"{self.organization_id}: {'on' if self.loosening_requires_approval else 'off'}"


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPLIED = "applied", "Approved and applied"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    CONFLICT = "conflict", "Not applied: the setting changed meanwhile"


class ChangeTarget(models.TextChoices):
    """What a change request would change; each has one service that applies it."""

    INFERENCE_RESIDENCY = "inference_residency", "US-only inference"
    DATA_RESIDENCY_POLICY = "data_residency_policy", "Data residency policy"
    WORKSPACE = "workspace", "Workspace"
    APPROVAL_SETTINGS = "approval_settings", "Approval settings"


class ChangeRequest(models.Model):
    """A loosening change held until another person approves it (SPEC §8).

    `before` / `after` are the target's values when it was asked and what they would become
    (what people see); `arguments` is what the target's service is called with on approval;
    approval applies it only while the target still holds `before`. Never deleted: the audit
    log refers to it by id.
    """

    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("chgreq"), editable=False)
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="change_requests")
    target_type = models.CharField(max_length=30, choices=ChangeTarget.choices)
    target_id = models.CharField(max_length=40)
    target_label = models.CharField(max_length=300, blank=True)
    before = models.JSONField()
    after = models.JSONField()
    arguments = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=ChangeStatus.choices, default=ChangeStatus.PENDING)
    requested_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_label = models.CharField(max_length=300, blank=True)
    # who created the API key the request came through, when that is someone else than its member:
    # they could have asked through it, so they may not approve it either
    requested_through_key_of = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL,
                                                 related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by_label = models.CharField(max_length=300, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # why it ended as it did, in words (a conflict's reason)
    outcome_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status", "expires_at"], name="chgreq_org_status"),
            models.Index(fields=["organization", "created_at"], name="chgreq_org_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ChangeStatus.values), name="chgreq_status_valid"),
            models.CheckConstraint(condition=Q(target_type__in=ChangeTarget.values), name="chgreq_target_valid"),
        ]

    @property
    def is_pending(self):
        return self.status == ChangeStatus.PENDING

    def __str__(self):
        return f"{self.id} ({self.status})"


class Surface(models.TextChoices):
    API = "api", "API"
    APPS = "apps", "Claude apps"


SERVICE_TIERS = ("standard", "batch", "priority")
TOKEN_FIELDS = (
    "uncached_input_tokens",
    "cache_creation_5m_tokens",
    "cache_creation_1h_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


class UsageRecord(models.Model):
    """One usage row as reported by the platform (SPEC §3 usage_records). Data, not a change:
    ingested in bulk by `residency.services.usage_ingest`, never edited, not audited.

    `external_id` is the caller's `id`, unique per organization, which makes ingestion
    idempotent.
    """

    # Only the (organization, external_id) unique index: every extra index is paid on each of
    # millions of inserts, and reports read UsageRollup, never these rows. No foreign-key
    # constraints in the database either: PostgreSQL checks them row by row at commit, which
    # cost more than the insert itself. Ingestion checks every row's workspace (in the
    # organization) and model (in the catalog) before storing it; PROTECT still refuses ORM
    # deletes of a referenced organization, workspace or model (workspaces are archived).
    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+", db_index=False,
                                     db_constraint=False)
    external_id = models.CharField(max_length=100)
    surface = models.CharField(max_length=10, choices=Surface.choices, default=Surface.API)
    # API rows name their workspace; Claude apps rows have none
    workspace = models.ForeignKey("orgs.Workspace", on_delete=models.PROTECT, related_name="+", db_index=False,
                                  db_constraint=False, null=True, blank=True)
    model = models.ForeignKey(CatalogModel, on_delete=models.PROTECT, related_name="+", db_index=False,
                              db_constraint=False)
    inference_geo = models.CharField(max_length=20)  # a Geo code or "not_available"
    service_tier = models.CharField(max_length=10)
    occurred_at = models.DateTimeField()
    uncached_input_tokens = models.BigIntegerField(default=0)
    cache_creation_5m_tokens = models.BigIntegerField(default=0)
    cache_creation_1h_tokens = models.BigIntegerField(default=0)
    cache_read_input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "external_id"], name="usage_id_unique_per_org"),
        ]

    def __str__(self):
        return self.external_id


class UsageRollup(models.Model):
    """Token sums per bucket (`1h` or `1d`, UTC) and dimension, kept at ingestion so reports
    read a few thousand rows instead of millions. Costs are computed at report time from
    these sums and the catalog (residency.policy.price), so they stay exact Decimals.
    """

    WIDTHS = (("1h", "1h"), ("1d", "1d"))

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+", db_index=False)
    width = models.CharField(max_length=2, choices=WIDTHS)
    bucket_start = models.DateTimeField()
    surface = models.CharField(max_length=10, choices=Surface.choices, default=Surface.API)
    workspace_id = models.CharField(max_length=40)  # "" for Claude apps rows
    model_id = models.CharField(max_length=100)
    inference_geo = models.CharField(max_length=20)
    service_tier = models.CharField(max_length=10)
    records = models.BigIntegerField(default=0)
    uncached_input_tokens = models.BigIntegerField(default=0)
    cache_creation_5m_tokens = models.BigIntegerField(default=0)
    cache_creation_1h_tokens = models.BigIntegerField(default=0)
    cache_read_input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "width", "bucket_start", "surface", "workspace_id", "model_id",
                        "inference_geo", "service_tier"],
                name="usage_rollup_key_v2",
            ),
        ]

    def __str__(self):
        return f"{self.width} {self.bucket_start:%Y-%m-%d %H:%M} {self.model_id} {self.inference_geo}"
