"""The audit log's tables: events, chained by hash per organization, and each chain's head.

Tables only. Written only by `audit.services.audit_record`; the ORM and database triggers
refuse UPDATE and DELETE of events. Organizations are referred to by string ("orgs.Organization"),
so this app imports no other app.
"""

from django.core.exceptions import ValidationError
from django.db import models

from core.actor import Source


class Outcome(models.TextChoices):
    SUCCESS = "success", "success"
    DENIED = "denied", "denied"


class ActorType(models.TextChoices):
    USER = "user", "user"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "system"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise ValidationError("Audit events are append-only: they cannot be deleted.")

    _raw_delete = delete


class AuditEvent(models.Model):
    """One change (or denied attempt), chained by hash within its organization.

    `hash_version` says which fields the hash covers (audit.chain.HASHED_FIELDS): version 1
    records predate the key-creator and requester fields and keep verifying as they were.
    """

    organization = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="audit_events")
    seq = models.BigIntegerField()
    hash_version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField()
    action = models.CharField(max_length=60)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=40, blank=True)
    actor_user_id = models.CharField(max_length=40, blank=True)
    actor_label = models.CharField(max_length=300)
    actor_role = models.CharField(max_length=100, blank=True)
    # an event done with an API key: who created that key (it may be someone else than its member)
    actor_key_creator_id = models.CharField(max_length=40, blank=True)
    actor_key_creator_label = models.CharField(max_length=300, blank=True)
    # a change applied on approval: who asked for it, and the change request
    requested_by_id = models.CharField(max_length=40, blank=True)
    requested_by_label = models.CharField(max_length=300, blank=True)
    change_request_id = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
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
        constraints = [models.UniqueConstraint(fields=["organization", "seq"], name="audit_seq_unique_per_org")]
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


class ChainHead(models.Model):
    """The last record of one organization's chain. Locked while a record is appended, so
    concurrent writers queue instead of forking the chain."""

    organization = models.OneToOneField("orgs.Organization", primary_key=True, on_delete=models.PROTECT,
                                        related_name="audit_head")
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")

    def __str__(self):
        return f"{self.organization_id} at #{self.seq}"
