"""The REST contract of `GET /v1/organizations/audit_events`: the event shape and the query string.

The JSON export (`audit.export.event_json`) writes the same shape for streaming; a test keeps
the two equal field by field.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.actor import Source
from core.schema import examples
from core.serializers import BlankAsNullCharField, ConstantField, QuerySerializer, RFC3339Field, StrictChoiceField

from ..events import REGISTRY, changes, describe
from ..models import ActorType, Outcome


class AuditPersonSerializer(serializers.Serializer):
    """Someone named in an event, with the label recorded then (it survives their deletion)."""

    id = serializers.CharField()
    label = serializers.CharField()


class AuditActorSerializer(serializers.Serializer):
    """Who acted: a user in person, an API key, or the system (commands, migrations)."""

    type = serializers.ChoiceField(choices=ActorType.values, source="actor_type")
    id = BlankAsNullCharField(source="actor_id", help_text="The user or API key id; null for the system.")
    user_id = BlankAsNullCharField(source="actor_user_id", help_text="The person, also when they used a key.")
    label = serializers.CharField(source="actor_label")
    role = BlankAsNullCharField(source="actor_role", help_text="Their role in the organization at that moment.")
    key_created_by = serializers.SerializerMethodField(help_text="For an API key: who created it.")

    @extend_schema_field(AuditPersonSerializer(allow_null=True))
    def get_key_created_by(self, event):
        if not event.actor_key_creator_id:
            return None
        return {"id": event.actor_key_creator_id, "label": event.actor_key_creator_label}


class AuditTargetSerializer(serializers.Serializer):
    """What was changed."""

    type = serializers.CharField(source="target_type")
    id = serializers.CharField(source="target_id")
    label = serializers.CharField(source="target_label")


class AuditChangeSerializer(serializers.Serializer):
    """One changed value, as text."""

    field = serializers.CharField()
    before = serializers.CharField(help_text="Empty when the value is new.")
    after = serializers.CharField(help_text="Empty when the value was removed.")


EVENT_EXAMPLE = {
    "id": "1042", "type": "audit_event", "seq": 17, "created_at": "2026-03-01T09:30:00.123456Z",
    "action": "workspace.updated",
    "description": "Dana Reyes changed workspace Production: allowed geos unrestricted → us; default geo global → us",
    "outcome": "success",
    "actor": {"type": "user", "id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d", "user_id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d",
              "label": "Dana Reyes", "role": "Owner", "key_created_by": None},
    "requested_by": None, "change_request_id": None, "source": "console", "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0", "request_id": "req_018EeWyXxfu5pfWkrYcMdjWG",
    "target": {"type": "workspace", "id": "wrkspc_01JwQvzr7rXLA5AGx3HKfoVf", "label": "Production"},
    "before": {"data_residency": {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}},
    "after": {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}},
    "changes": [{"field": "allowed geos", "before": "unrestricted", "after": "us"},
                {"field": "default geo", "before": "global", "after": "us"}],
    "hash_version": 2, "prev_hash": "9f2c...", "hash": "4b1e...",
}


@examples(("Workspace residency changed", EVENT_EXAMPLE))
class AuditEventSerializer(serializers.Serializer):
    """One change, or one denied attempt, in the organization's append-only, hash-chained log.
    Needs the context `names` (`audit.selectors.audit_names`) to render sentences."""

    id = serializers.CharField(source="pk", help_text="The event's id (digits, as a string).")
    type = ConstantField("audit_event")
    seq = serializers.IntegerField(help_text="Its position in the organization's chain, from 1.")
    created_at = serializers.DateTimeField()
    action = serializers.CharField(help_text="The event type, e.g. workspace.updated.")
    description = serializers.SerializerMethodField(help_text="The event as a sentence.")
    outcome = serializers.ChoiceField(choices=Outcome.values)
    actor = AuditActorSerializer(source="*")
    requested_by = serializers.SerializerMethodField(help_text="For a change applied on approval: who asked for it.")
    change_request_id = BlankAsNullCharField()
    source = serializers.ChoiceField(choices=Source.values, help_text="Where the change came from.")
    ip = BlankAsNullCharField()
    user_agent = BlankAsNullCharField()
    request_id = BlankAsNullCharField(help_text="The id of the request that made the change.")
    target = AuditTargetSerializer(source="*")
    before = serializers.JSONField(allow_null=True, help_text="The values before (changed ones only).")
    after = serializers.JSONField(allow_null=True, help_text="The values after (or what a denied attempt asked for).")
    changes = serializers.SerializerMethodField(help_text="Each changed value as text.")
    hash_version = serializers.IntegerField(help_text="Which fields the hash covers.")
    prev_hash = serializers.CharField(help_text="The previous event's hash (the chain).")
    hash = serializers.CharField()

    def get_description(self, event) -> str:
        return describe(event, self.context["names"])

    @extend_schema_field(AuditPersonSerializer(allow_null=True))
    def get_requested_by(self, event):
        if not event.requested_by_id:
            return None
        return {"id": event.requested_by_id, "label": event.requested_by_label}

    @extend_schema_field(AuditChangeSerializer(many=True))
    def get_changes(self, event):
        return [{"field": f, "before": b, "after": a} for f, b, a in changes(event, self.context["names"])]


@examples(("Exported event", {**EVENT_EXAMPLE, "organization_id": "org_01JwQvzr7rXLA5AGx3HKfoVf"}))
class AuditExportEventSerializer(AuditEventSerializer):
    """One event of the `format=json` export: its REST shape and its organization, which is every
    field its hash covers (`audit.export.export_json` writes it; a test keeps the two equal)."""

    organization_id = serializers.CharField(help_text="The organization whose chain holds the event.")


FORMATS = ("json", "csv")


class AuditEventQuerySerializer(QuerySerializer):
    action = StrictChoiceField(
        choices=list(REGISTRY), required=False, help_text="Only events of this type, e.g. workspace.updated.",
        error_messages={"invalid_choice": f"Unknown action {{input!r}}; use one of {', '.join(REGISTRY)}."})
    actor_id = serializers.CharField(required=False, allow_blank=True,
                                     help_text="A user id (what they did in person and with their API keys), an API "
                                     "key id, or `system`.")
    target_id = serializers.CharField(required=False, allow_blank=True, help_text="The changed object's id.")
    starting_at = RFC3339Field(required=False, help_text="RFC 3339, inclusive.")
    ending_at = RFC3339Field(required=False, help_text="RFC 3339, exclusive.")
    format = StrictChoiceField(
        choices=FORMATS, required=False,
        help_text="`csv` answers every matching event as CSV (text/csv, newest first); `json` streams every "
        "matching event as one JSON array in ascending seq with every hashed field (for offline verification); "
        "paging does not apply to either. Without it, a page of events.",
        error_messages={"invalid_choice": "Unknown format {input!r}; use json or csv."})

    def validate(self, attrs):
        start, end = attrs.get("starting_at"), attrs.get("ending_at")
        if start and end and end <= start:
            raise serializers.ValidationError({"ending_at": ["must be after starting_at."]})
        return attrs
