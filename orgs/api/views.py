"""REST views for `/v1/organizations/...` (SPEC §3, contract). Thin: parse, call a service or
selector, shape the output. Permission decisions live in `orgs.permissions` and the services.

Creates answer 200 with the object, like the Anthropic Admin API this contract mirrors.
Removing a member is not in the contract, so it is console-only: DELETE on a user is 405.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from core.pagination import keyset_page, list_body
from core.schema import errors
from core.serializers import StrictSerializer

from .. import services
from ..models import AREA_LEVELS, AREAS, Level
from ..permissions import access_api_key, access_member, require_roles_view
from ..selectors import api_keys_visible_to, member_of, members_of, roles_for
from .base import OrgApi

# --- schema helpers ---------------------------------------------------------------------------

LIST_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="Items per page, 1 to 1000 (default 20)."),
    OpenApiParameter("after_id", OpenApiTypes.STR, description="Return the page after this id."),
    OpenApiParameter("before_id", OpenApiTypes.STR, description="Return the page before this id."),
]


def list_of(name, item):
    return inline_serializer(name, fields={
        "data": item(many=True),
        "has_more": serializers.BooleanField(),
        "first_id": serializers.CharField(allow_null=True),
        "last_id": serializers.CharField(allow_null=True),
    })


def _page(request, queryset, *, order_field="created_at", id_field="pk"):
    return keyset_page(queryset, request.query_params, order_field=order_field, id_field=id_field)


class OrganizationMeApi(OrgApi):
    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        type = serializers.CharField(default="organization")
        name = serializers.CharField()
        plan = serializers.CharField()

    @extend_schema(operation_id="organization_me", responses=OutputSerializer, summary="The caller's organization")
    def get(self, request):
        org = self.organization
        return Response({"id": org.id, "type": "organization", "name": org.name, "plan": org.plan})


# --- users -------------------------------------------------------------------------------------


class UserOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The user's id (`user_...`).")
    type = serializers.CharField(default="user")
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField(help_text="A built-in role id or a custom role id (`role_...`).")
    added_at = serializers.DateTimeField()


def _user_out(membership):
    return {
        "id": membership.user_id,
        "type": "user",
        "email": membership.user.email,
        "name": membership.user.get_full_name(),
        "role": membership.role_id,
        "added_at": serializers.DateTimeField().to_representation(membership.created_at),
    }


class UserListCreateApi(OrgApi):
    """Members of the caller's organization."""

    class InputSerializer(StrictSerializer):
        email = serializers.EmailField(max_length=254)
        role = serializers.CharField(help_text="Role id: admin, user, owner, or a custom role id.")

    OutputSerializer = UserOutputSerializer

    @extend_schema(operation_id="users_list", summary="List members", parameters=LIST_PARAMETERS,
                   responses={200: list_of("UserList", UserOutputSerializer), **errors(400, 401, 403)})
    def get(self, request):
        self.access.require("user_management")
        rows, has_more = _page(request, members_of(self.organization), id_field="user_id")
        return Response(list_body([_user_out(m) for m in rows], has_more))

    @extend_schema(operation_id="users_add", summary="Add a member",
                   description="Needs User management: manage. You can give a role "
                   "with at most your own access; the primary-owner title is transferred, not given.",
                   request=InputSerializer, responses={200: UserOutputSerializer, **errors(400, 401, 403)})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_add(actor=self.actor, organization=self.organization,
                                         email=serializer.validated_data["email"],
                                         role_id=serializer.validated_data["role"])
        return Response(_user_out(membership))


class UserDetailApi(OrgApi):
    """One member; POST changes their role (`primary_owner` transfers the title)."""

    class InputSerializer(StrictSerializer):
        role = serializers.CharField(help_text="New role id. `primary_owner` transfers the title "
                                               "(only the primary owner may).")

    OutputSerializer = UserOutputSerializer

    @extend_schema(operation_id="user_get", summary="Read a member",
                   responses={200: UserOutputSerializer, **errors(401, 403, 404)})
    def get(self, request, user_id):
        return Response(_user_out(access_member(access=self.access, user_id=user_id)))

    @extend_schema(operation_id="user_update", summary="Change a member's role", request=InputSerializer,
                   responses={200: UserOutputSerializer, **errors(400, 401, 403, 404)})
    def post(self, request, user_id):
        membership = access_member(access=self.access, user_id=user_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.member_change_role(actor=self.actor, membership=membership,
                                    role_id=serializer.validated_data["role"])
        return Response(_user_out(access_member(access=self.access, user_id=user_id)))


# --- roles -------------------------------------------------------------------------------------


RolePermissionsSerializer = inline_serializer("RolePermissions", fields={
    area: serializers.ChoiceField(choices=list(AREA_LEVELS[area])) for area in AREAS
})


class RoleListCreateApi(OrgApi):
    """Built-in roles (`primary_owner`, `owner`, `admin`, `user`) and the organization's custom roles."""

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100)
        permissions = serializers.DictField(
            child=serializers.CharField(), required=False, default=dict,
            help_text="area: level for " + ", ".join(AREAS) + " (none, view or manage; audit_log takes none "
            "or view). Areas left out are none.",
        )

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        type = serializers.CharField(default="role")
        name = serializers.CharField()
        builtin = serializers.BooleanField()
        permissions = RolePermissionsSerializer

    @staticmethod
    def out(role):
        return {"id": role.pk, "type": "role", "name": role.name, "builtin": role.builtin,
                "permissions": role.permissions}

    @extend_schema(operation_id="roles_list", summary="List roles",
                   description="Needs Identity & access: view or User management: view.",
                   parameters=LIST_PARAMETERS,
                   responses={200: list_of("RoleList", OutputSerializer), **errors(400, 401, 403)})
    def get(self, request):
        require_roles_view(self.access)
        rows, has_more = _page(request, roles_for(self.organization))
        return Response(list_body([self.out(r) for r in rows], has_more))

    @extend_schema(operation_id="roles_create", summary="Create a custom role",
                   description="Enterprise plans; needs Identity & access: manage.",
                   request=InputSerializer, responses={200: OutputSerializer, **errors(400, 401, 403)})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = services.role_create(actor=self.actor, organization=self.organization,
                                    name=serializer.validated_data["name"],
                                    permissions=serializer.validated_data["permissions"])
        return Response(self.out(role))


# --- API keys ----------------------------------------------------------------------------------


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(default="api_key")
    name = serializers.CharField()
    user_id = serializers.CharField(help_text="The member the key acts as.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=["active", "revoked"])
    partial_key_hint = serializers.CharField(help_text="The key's last four characters.")


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    key = serializers.CharField(help_text="The secret, shown this once.")


def _key_out(key):
    dt = serializers.DateTimeField()
    return {
        "id": key.pk,
        "type": "api_key",
        "name": key.name,
        "user_id": key.membership.user_id,
        "created_at": dt.to_representation(key.created_at),
        "last_used_at": dt.to_representation(key.last_used_at) if key.last_used_at else None,
        "status": "active" if key.is_active else "revoked",
        "partial_key_hint": f"rc-api-...{key.key_hint}",
    }


class ApiKeyListCreateApi(OrgApi):
    """API keys: everyone's with Identity & access: view, else the caller's own."""

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(allow_blank=True)
        user_id = serializers.CharField(required=False, help_text="Create the key for this member "
                                        "(needs Identity & access: manage); default: yourself.")

    OutputSerializer = ApiKeyOutputSerializer

    @extend_schema(operation_id="api_keys_list", summary="List API keys", parameters=LIST_PARAMETERS,
                   responses={200: list_of("ApiKeyList", ApiKeyOutputSerializer), **errors(400, 401)})
    def get(self, request):
        rows, has_more = _page(request, api_keys_visible_to(self.access))
        return Response(list_body([_key_out(k) for k in rows], has_more))

    @extend_schema(operation_id="api_keys_create", summary="Create an API key", request=InputSerializer,
                   responses={200: ApiKeyCreatedSerializer, **errors(400, 401, 403)})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        owner = self.access.membership
        user_id = serializer.validated_data.get("user_id")
        if user_id is not None:
            owner = member_of(self.organization, user_id=user_id)
            if owner is None:
                raise ValidationError({"user_id": [f"No member with id {user_id!r} in this organization."]})
        key, secret = services.api_key_create(actor=self.actor, organization=self.organization,
                                              name=serializer.validated_data["name"], membership=owner)
        return Response({**_key_out(key), "key": secret})


class ApiKeyRevokeApi(OrgApi):
    """Revoke a key (your own, or anyone's with Identity & access: manage); it stops working at once."""

    @extend_schema(operation_id="api_key_revoke", summary="Revoke an API key", request=None,
                   responses={200: ApiKeyOutputSerializer, **errors(401, 403, 404)})
    def post(self, request, key_id):
        key = access_api_key(access=self.access, id=key_id, need=Level.MANAGE)
        services.api_key_revoke(actor=self.actor, api_key=key)
        return Response(_key_out(key))
