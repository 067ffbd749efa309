"""The REST contract for the organization, its members, roles and API keys (SPEC §3): what each
endpoint accepts and answers. Views answer with these serializers only, so the OpenAPI document
and the responses cannot drift apart."""

from rest_framework import serializers

from core.schema import examples
from core.serializers import (
    ConstantField,
    QuerySerializer,
    StrictCharField,
    StrictChoiceField,
    StrictEmailField,
    StrictSerializer,
)

from ..models import AREA_LEVELS, AREAS, ApiKeyStatus, Plan

MAX_ROLE_NAME = 100
MAX_KEY_NAME = 100

# --- organization --------------------------------------------------------------------------------


@examples(("Organization", {"id": "org_7Hq2kQ9sLx3VbN1mZc4RtY8w", "type": "organization", "name": "Acme",
                            "plan": "enterprise_usage"}))
class OrganizationSerializer(serializers.Serializer):
    """The caller's organization."""

    id = serializers.CharField(help_text="The organization's id (`org_...`).")
    type = ConstantField("organization")
    name = serializers.CharField()
    plan = serializers.ChoiceField(choices=Plan.choices, help_text="team, enterprise_seat (seat-based "
                                   "Enterprise) or enterprise_usage (usage-based Enterprise).")


# --- users ---------------------------------------------------------------------------------------

USER_EXAMPLE = {"id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d", "type": "user", "email": "dana@acme.example",
                "name": "Dana Reyes", "role": "admin", "added_at": "2026-03-01T09:30:00.000000Z"}


@examples(("User", USER_EXAMPLE))
class UserSerializer(serializers.Serializer):
    """A member of the organization."""

    id = serializers.CharField(source="user_id", help_text="The user's id (`user_...`).")
    type = ConstantField("user")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.get_full_name", help_text="Empty when the person has not set one.")
    role = serializers.CharField(source="role_id", help_text="A built-in role id (`primary_owner`, `owner`, "
                                 "`admin`, `user`) or a custom role id (`role_...`).")
    added_at = serializers.DateTimeField(source="created_at", help_text="When they joined the organization.")


@examples(("Add a member", {"email": "dana@acme.example", "role": "admin"}))
class UserCreateSerializer(StrictSerializer):
    """Add a person to the organization by email."""

    email = StrictEmailField(max_length=254)
    role = StrictCharField(max_length=40, help_text="A role id: admin, user, owner, or a custom role id. The "
                           "primary-owner title is transferred, not given.")


@examples(("Change a role", {"role": "user"}))
class UserUpdateSerializer(StrictSerializer):
    """Change a member's role."""

    role = StrictCharField(max_length=40, help_text="The new role id. `primary_owner` transfers the title "
                           "(only the primary owner may).")


# --- roles ---------------------------------------------------------------------------------------

ROLE_EXAMPLE = {"id": "role_9bX2mQ7kLp4sVt1nRc8ZwH3f", "type": "role", "name": "Billing lead", "builtin": False,
                "permissions": {"identity_access": "none", "billing": "manage", "analytics": "view",
                                "privacy": "none", "user_management": "none", "libraries": "none",
                                "audit_log": "none"}}


class RolePermissionsSerializer(serializers.Serializer):
    """A role's level on each admin area."""

    def get_fields(self):
        return {area: serializers.ChoiceField(choices=list(AREA_LEVELS[area])) for area in AREAS}


def _level_field(area):
    return StrictChoiceField(
        choices=list(AREA_LEVELS[area]), required=False,
        error_messages={"invalid_choice": f"level {{input!r}} is not allowed; use one of "
                                          f"{', '.join(AREA_LEVELS[area])}."})


class RolePermissionsCreateSerializer(StrictSerializer):
    """Levels by area; areas left out are `none`. `audit_log` takes `none` or `view`."""

    def get_fields(self):
        return {area: _level_field(area) for area in AREAS}

    def unknown_field_message(self, name):
        return f"unknown area {name!r}; areas are {', '.join(AREAS)}."


@examples(("Role", ROLE_EXAMPLE))
class RoleSerializer(serializers.Serializer):
    """A built-in role (ids `primary_owner`, `owner`, `admin`, `user`) or a custom role (`role_...`)."""

    id = serializers.CharField(source="pk")
    type = ConstantField("role")
    name = serializers.CharField()
    builtin = serializers.BooleanField()
    permissions = RolePermissionsSerializer(help_text="All seven areas.")


@examples(("Create a role", {"name": "Billing lead", "permissions": {"billing": "manage", "analytics": "view"}}))
class RoleCreateSerializer(StrictSerializer):
    """A custom role (Enterprise plans)."""

    name = StrictCharField(max_length=MAX_ROLE_NAME, help_text="Unique in the organization; not a built-in role's name.",
                           error_messages={"blank": "Give the role a name."})
    permissions = RolePermissionsCreateSerializer(
        required=False, error_messages={"null": "Must be an object of area: level.",
                                        "invalid": "Must be an object of area: level."})


# --- API keys ------------------------------------------------------------------------------------

KEY_EXAMPLE = {"id": "apikey_2Kx8pQ4mZt7Lc1VbN9sRw3Hf", "type": "api_key", "name": "provisioning",
               "user_id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d", "created_at": "2026-03-01T09:30:00.000000Z",
               "last_used_at": None, "status": "active", "partial_key_hint": "rc-api-...x7Qa",
               "scope": {"type": "organization"},
               "principal": {"type": "user_actor", "user_id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d"},
               "created_by": {"id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d", "type": "user"}, "expires_at": None}

# what the Admin API calls them: `inactive` is paused, `archived` revoked for good; keys here never
# expire, so `expired` is listed for the official client and never answered
KEY_STATUSES = (*ApiKeyStatus.values, "expired")
KEY_STATUS_CHANGES = tuple(ApiKeyStatus.values)


class ApiKeyScopeSerializer(serializers.Serializer):
    """Where the key belongs: the organization (keys here are not tied to a workspace)."""

    type = ConstantField("organization")


class ApiKeyPrincipalSerializer(serializers.Serializer):
    """Who the key acts as: a member."""

    type = ConstantField("user_actor")
    user_id = serializers.CharField(source="*", help_text="The member the key acts as.")


class ApiKeyCreatorSerializer(serializers.Serializer):
    """Who created the key."""

    id = serializers.CharField(source="*", help_text="The creator's user id.")
    type = ConstantField("user")


class ApiKeyFieldsSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", help_text="The key's id (`apikey_...`), not the secret.")
    type = ConstantField("api_key")
    name = serializers.CharField()
    user_id = serializers.CharField(source="membership.user_id", help_text="The member the key acts as.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Recorded at most once a minute.")
    status = serializers.ChoiceField(choices=KEY_STATUSES, help_text="active; inactive (paused: it does not work "
                                     "until resumed); archived (revoked for good). Keys here never expire.")
    partial_key_hint = serializers.SerializerMethodField(help_text="The key's prefix and last four characters.")
    scope = ApiKeyScopeSerializer(source="*")
    principal = ApiKeyPrincipalSerializer(source="membership.user_id")
    created_by = ApiKeyCreatorSerializer(source="created_by_id", allow_null=True,
                                         help_text="Null when the creator is not recorded (e.g. the key "
                                                   "`bootstrap_org` made).")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Always null: keys here never expire.")

    def get_partial_key_hint(self, key) -> str:
        return f"rc-api-...{key.key_hint}"


@examples(("API key", KEY_EXAMPLE))
class ApiKeySerializer(ApiKeyFieldsSerializer):
    """An API key. The secret is never shown again after creation."""


@examples(("Created key", {**KEY_EXAMPLE, "key": "rc-api-3mQ9xK2pL7sVt4nRc8ZwH1fB6gJd5kYx7Qa"}))
class ApiKeyCreatedSerializer(ApiKeyFieldsSerializer):
    """A new API key, with its secret shown this once."""

    key = serializers.CharField(source="secret", help_text="The secret for the `x-api-key` header (or "
                                "`Authorization: Bearer`). Store it now: it is not shown again.")


@examples(("Create a key", {"name": "provisioning"}))
class ApiKeyCreateSerializer(StrictSerializer):
    """A key for yourself, or (with Identity & access: manage) for a member below you."""

    name = StrictCharField(max_length=MAX_KEY_NAME, help_text="What the key is for, e.g. the tool that will use it.",
                           error_messages={"blank": "Give the key a name, e.g. the tool that will use it."})
    user_id = StrictCharField(required=False, max_length=40, help_text="Create the key for this member (needs "
                              "Identity & access: manage, and a member strictly below you); default: yourself.")



@examples(("Pause", {"status": "inactive"}), ("Rename", {"name": "provisioning (old)"}))
class ApiKeyUpdateSerializer(StrictSerializer):
    """A new name and/or status; a field left out or null stays as it is."""

    name = StrictCharField(required=False, allow_null=True, max_length=MAX_KEY_NAME,
                           error_messages={"blank": "Give the key a name, e.g. the tool that will use it."})
    status = StrictChoiceField(
        choices=KEY_STATUS_CHANGES, required=False, allow_null=True,
        help_text="inactive pauses the key; active resumes a paused key (only someone who may create keys for its "
        "member may); archived revokes it for good.",
        error_messages={"invalid_choice": f"{{input!r}} is not a status a key can be given; use "
                                          f"{', '.join(KEY_STATUS_CHANGES)}."})


class ApiKeyListQuerySerializer(QuerySerializer):
    status = StrictChoiceField(choices=KEY_STATUSES, required=False, help_text="Only keys in this status "
                               "(`expired` matches none: keys here never expire).",
                               error_messages={"invalid_choice": f"{{input!r}} is not a key status; use "
                                                                 f"{', '.join(KEY_STATUSES)}."})
    created_by_user_id = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                               help_text="Only keys this user created.")
    workspace_id = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                         help_text="Keys of this workspace: none, since every key here belongs to "
                                                   "the organization (`scope` is organization).")


class UserListQuerySerializer(QuerySerializer):
    email = serializers.CharField(required=False, allow_blank=True, max_length=254,
                                  help_text="Only the member with this email (compared case-insensitively).")
    roles = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=100,
                                  help_text="Only members with one of these roles (built-in or custom role ids).")
