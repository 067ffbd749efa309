"""Geos, the model catalog and the audit log (SPEC §2). Tables only."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

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


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise ValidationError("Audit events are append-only: they cannot be deleted.")

    _raw_delete = delete


class AuditEvent(models.Model):
    """One change (or denied attempt), chained by hash within its organization.

    Written only by `residency.audit.audit_record`; the ORM and database triggers refuse
    UPDATE and DELETE.
    """

    SOURCE_CHOICES = [(s, s) for s in ("console", "rest", "admin", "command", "migration")]
    OUTCOME_CHOICES = [("success", "success"), ("denied", "denied")]

    organization = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="audit_events"
    )
    seq = models.BigIntegerField()
    created_at = models.DateTimeField()
    action = models.CharField(max_length=60)
    outcome = models.CharField(max_length=10, choices=OUTCOME_CHOICES, default="success")
    actor_type = models.CharField(max_length=10)  # user | api_key | system
    actor_id = models.CharField(max_length=40, blank=True)
    actor_user_id = models.CharField(max_length=40, blank=True)
    actor_label = models.CharField(max_length=300)
    actor_role = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=SOURCE_CHOICES)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=40, blank=True)
    target_type = models.CharField(max_length=30)
    target_id = models.CharField(max_length=40)
    target_label = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "seq"], name="audit_seq_unique_per_org")
        ]
        indexes = [
            models.Index(fields=["organization", "action", "-seq"], name="audit_org_action"),
            models.Index(fields=["organization", "actor_id", "-seq"], name="audit_org_actor"),
            # a person's events, directly or through any of their API keys
            models.Index(fields=["organization", "actor_user_id", "-seq"], name="audit_org_actor_user"),
            models.Index(fields=["organization", "target_id", "-seq"], name="audit_org_target"),
            models.Index(fields=["organization", "created_at"], name="audit_org_created"),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("Audit events are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events are append-only: they cannot be deleted.")

    def __str__(self):
        return f"#{self.seq} {self.action}"


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
    workspace = models.ForeignKey("orgs.Workspace", on_delete=models.PROTECT, related_name="+", db_index=False,
                                  db_constraint=False)
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
    workspace_id = models.CharField(max_length=40)
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
                fields=["organization", "width", "bucket_start", "workspace_id", "model_id", "inference_geo",
                        "service_tier"],
                name="usage_rollup_key",
            ),
        ]

    def __str__(self):
        return f"{self.width} {self.bucket_start:%Y-%m-%d %H:%M} {self.model_id} {self.inference_geo}"
