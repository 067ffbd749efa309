"""REST views for `/v1/organizations/...` (SPEC §3, contract). Thin: validate with the input
serializer, call a service or selector, answer with the output serializer (`.serializers`).
Permission decisions live in `orgs.permissions` and the services.

Creates answer 200 with the object, like the Anthropic Admin API this contract mirrors.
Removing a member is not in the contract, so it is console-only: DELETE on a user is 405.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core.pagination import PaginatedListMixin
from core.schema import errors

from .. import services
from ..models import Level
from ..permissions import access_api_key, access_member, require_roles_view
from ..selectors import api_keys_visible_to, member_of, members_of, roles_for
from .base import OrgApi
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeyListQuerySerializer,
    ApiKeySerializer,
    ApiKeyUpdateSerializer,
    OrganizationSerializer,
    RoleCreateSerializer,
    RoleSerializer,
    UserCreateSerializer,
    UserListQuerySerializer,
    UserSerializer,
    UserUpdateSerializer,
)

BODY = (413, 415)  # any JSON body may be too large or not JSON


class OrganizationMeApi(OrgApi):
    openapi_tag = "Organization"

    @extend_schema(
        operation_id="organization_retrieve", summary="Get your organization",
        description="The organization the API key belongs to (for a console session, the one it is working in).",
        responses={200: OrganizationSerializer, **errors(404)},
    )
    def get(self, request):
        return Response(OrganizationSerializer(self.organization).data)


# --- users -------------------------------------------------------------------------------------


class UserListCreateApi(PaginatedListMixin, OrgApi):
    openapi_tag = "Users"
    page_id_field = "user_id"

    @extend_schema(
        operation_id="users_list", summary="List members",
        description="Members of your organization, oldest first; `email` and `roles[]` narrow the list (an unknown "
        "role id is a 400). Needs User management: view.",
        parameters=[UserListQuerySerializer],
        responses={200: UserSerializer(many=True), **errors(403, 404)},
    )
    def get(self, request):
        self.access.require("user_management")
        query = UserListQuerySerializer.from_query(request.query_params)
        roles = query.get("roles")
        if roles:
            known = set(roles_for(self.organization).filter(pk__in=roles).values_list("pk", flat=True))
            unknown = [role for role in roles if role not in known]
            if unknown:
                raise ValidationError({"roles[]": [f"no role {', '.join(unknown)} in this organization; use "
                                                   "primary_owner, owner, admin, user or a custom role id."]})
        return self.list_response(members_of(self.organization, email=query.get("email") or None, roles=roles),
                                  UserSerializer)

    @extend_schema(
        operation_id="users_create", summary="Add a member",
        description="Adds a person by email with a role; a person without an account gets an invitation. Needs "
        "User management: manage. You can give a role with at most your own access; the primary-owner title is "
        "transferred, not given.",
        request=UserCreateSerializer, responses={200: UserSerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request):
        data = UserCreateSerializer.from_request(request)
        membership = services.member_add(actor=self.actor, organization=self.organization,
                                         email=data["email"], role_id=data["role"])
        return Response(UserSerializer(membership).data)


class UserDetailApi(OrgApi):
    openapi_tag = "Users"

    @extend_schema(
        operation_id="users_retrieve", summary="Get a member",
        description="Needs User management: view. Someone who is not a member of your organization is a 404.",
        responses={200: UserSerializer, **errors(403, 404)},
    )
    def get(self, request, user_id):
        return Response(UserSerializer(access_member(access=self.access, user_id=user_id)).data)

    @extend_schema(
        operation_id="users_update", summary="Change a member's role",
        description="Needs User management: manage, and more access than the member has and than the new role "
        "gives. Making someone `primary_owner` transfers the title (only the primary owner may).",
        request=UserUpdateSerializer, responses={200: UserSerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request, user_id):
        membership = access_member(access=self.access, user_id=user_id)
        data = UserUpdateSerializer.from_request(request)
        services.member_change_role(actor=self.actor, membership=membership, role_id=data["role"])
        return Response(UserSerializer(access_member(access=self.access, user_id=user_id)).data)


# --- roles -------------------------------------------------------------------------------------


class RoleListCreateApi(PaginatedListMixin, OrgApi):
    openapi_tag = "Roles"

    @extend_schema(
        operation_id="roles_list", summary="List roles",
        description="The built-in roles (`primary_owner`, `owner`, `admin`, `user`) first, then your "
        "organization's custom roles. Needs Identity & access: view or User management: view.",
        responses={200: RoleSerializer(many=True), **errors(403, 404)},
    )
    def get(self, request):
        require_roles_view(self.access)
        return self.list_response(roles_for(self.organization), RoleSerializer)

    @extend_schema(
        operation_id="roles_create", summary="Create a custom role",
        description="Enterprise plans; needs Identity & access: manage, and a role with at most your own access.",
        request=RoleCreateSerializer, responses={200: RoleSerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request):
        data = RoleCreateSerializer.from_request(request)
        role = services.role_create(actor=self.actor, organization=self.organization, name=data["name"],
                                    permissions=dict(data.get("permissions") or {}))
        return Response(RoleSerializer(role).data)


# --- API keys ----------------------------------------------------------------------------------


class ApiKeyListCreateApi(PaginatedListMixin, OrgApi):
    openapi_tag = "API keys"

    @extend_schema(
        operation_id="api_keys_list", summary="List API keys",
        description="Everyone's keys with Identity & access: view, else your own, oldest first. Never the secrets. "
        "`status` and `created_by_user_id` narrow the list; `workspace_id` matches no key (keys here belong to "
        "the organization).",
        parameters=[ApiKeyListQuerySerializer],
        responses={200: ApiKeySerializer(many=True), **errors(404)},
    )
    def get(self, request):
        query = ApiKeyListQuerySerializer.from_query(request.query_params)
        keys = api_keys_visible_to(self.access, status=query.get("status"),
                                   created_by_user_id=query.get("created_by_user_id") or None)
        if query.get("workspace_id"):
            keys = keys.none()
        return self.list_response(keys, ApiKeySerializer)

    @extend_schema(
        operation_id="api_keys_create", summary="Create an API key",
        description="A key acts with the lower of its member's and its creator's access, area by area. You "
        "create keys for yourself; with Identity & access: manage also for members strictly below you (never "
        "for the primary owner nor an equal: 403). The secret `key` is in this response only.",
        request=ApiKeyCreateSerializer, responses={200: ApiKeyCreatedSerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request):
        data = ApiKeyCreateSerializer.from_request(request)
        owner = self.access.membership
        user_id = data.get("user_id")
        if user_id is not None:
            owner = member_of(self.organization, user_id=user_id)
            if owner is None:
                raise ValidationError({"user_id": [f"No member with id {user_id!r} in this organization."]})
        key, secret = services.api_key_create(actor=self.actor, organization=self.organization,
                                              name=data["name"], membership=owner)
        key.secret = secret
        return Response(ApiKeyCreatedSerializer(key).data)


class ApiKeyDetailApi(OrgApi):
    openapi_tag = "API keys"

    @extend_schema(
        operation_id="api_keys_retrieve", summary="Get an API key",
        description="Your own key, or anyone's with Identity & access: view; any other key is a 404. Never the "
        "secret.",
        responses={200: ApiKeySerializer, **errors(404)},
    )
    def get(self, request, key_id):
        return Response(ApiKeySerializer(access_api_key(access=self.access, id=key_id)).data)

    @extend_schema(
        operation_id="api_keys_update", summary="Update an API key",
        description="Rename it and/or change its status: your own key, or anyone's with Identity & access: manage. "
        "`inactive` pauses the key (it stops working at once), `active` resumes a paused key (only someone who may "
        "create keys for its member may: 403 otherwise), `archived` revokes it for good. An archived key cannot be "
        "changed (400).",
        request=ApiKeyUpdateSerializer, responses={200: ApiKeySerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request, key_id):
        key = access_api_key(access=self.access, id=key_id)
        data = ApiKeyUpdateSerializer.from_request(request)
        key = services.api_key_update(actor=self.actor, api_key=key, name=data.get("name"), status=data.get("status"))
        return Response(ApiKeySerializer(key).data)


class ApiKeyRevokeApi(OrgApi):
    openapi_tag = "API keys"

    @extend_schema(
        operation_id="api_keys_revoke", summary="Revoke an API key",
        description="Your own key, or anyone's with Identity & access: manage. The key is archived and stops "
        "working at once, for good; revoking an archived key changes nothing.",
        request=None, responses={200: ApiKeySerializer, **errors(403, 404)},
    )
    def post(self, request, key_id):
        key = access_api_key(access=self.access, id=key_id, need=Level.MANAGE)
        services.api_key_revoke(actor=self.actor, api_key=key)
        return Response(ApiKeySerializer(key).data)
