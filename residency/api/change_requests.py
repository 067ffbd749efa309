"""`/v1/organizations/approval_settings` and `/v1/organizations/change_requests` (SPEC §8).

A change that loosens residency, made while the organization asks for approval, is not applied:
the service returns a pending `ChangeRequest` instead of the changed object, and the view answers
202 with it (`held_or`). Every view that can make such a change uses that one helper and declares
the 202 (`HELD`) in OpenAPI.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.pagination import PaginatedListMixin
from core.schema import errors, examples
from core.serializers import ConstantField, QuerySerializer, StrictBooleanField, StrictSerializer
from orgs.api.base import OrgApi

from .. import services
from ..models import ChangeRequest, ChangeStatus, ChangeTarget
from ..permissions import access_change_request, require_approval_settings
from ..selectors import approval_settings, change_requests_visible_to
from .fields import AllowedGeosField, DataResidencySerializer

CHANGE_REQUEST_EXAMPLE = {
    "type": "change_request", "id": "chgreq_5kQ2mX9tLp7sVb1nRc4ZwH8f", "status": "pending",
    "change": {"target": {"type": "inference_residency", "id": "org_7Hq2kQ9sLx3VbN1mZc4RtY8w"},
               "before": {"us_only": True}, "after": {"us_only": False}},
    "requested_by": {"id": "user_4Fz9QmR2nB7xKc1VtL8wHs3d", "type": "user"},
    "created_at": "2026-03-01T09:30:00.000000Z", "expires_at": "2026-03-04T09:30:00.000000Z",
    "decided_by": None, "decided_at": None,
}


class ChangeTargetSerializer(serializers.Serializer):
    """What the change is to."""

    type = serializers.ChoiceField(source="target_type", choices=ChangeTarget.values,
                                   help_text="inference_residency (US-only inference), data_residency_policy, "
                                   "workspace or approval_settings.")
    id = serializers.CharField(source="target_id", help_text="The organization's id, or the workspace's.")


class ChangeValuesSerializer(serializers.Serializer):
    """The target's values that the change concerns; only those of its kind appear: `us_only`
    (US-only inference), `allowed_inference_geos` and `default_inference_geo` (the organization
    policy; `apply_to_workspaces` in `after` when workspaces are brought inside it too),
    `data_residency` and any other field that changes with it (a workspace), or
    `loosening_requires_approval` (approval settings)."""

    us_only = serializers.BooleanField(required=False)
    allowed_inference_geos = AllowedGeosField(required=False)
    default_inference_geo = serializers.CharField(required=False)
    apply_to_workspaces = serializers.BooleanField(required=False)
    name = serializers.CharField(required=False)
    data_residency = DataResidencySerializer(required=False)
    display_color = serializers.CharField(required=False)
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    loosening_requires_approval = serializers.BooleanField(required=False)


class ChangeSerializer(serializers.Serializer):
    """The target's values when the change was asked, and what they would become."""

    target = ChangeTargetSerializer(source="*")
    before = ChangeValuesSerializer(help_text="The values the change was asked against; approval applies it only "
                                    "while the target still holds them (else 409 and status conflict).")
    after = ChangeValuesSerializer(help_text="The values it would set.")


class PersonSerializer(serializers.Serializer):
    """A person."""

    id = serializers.CharField(source="pk", help_text="The user's id (`user_...`).")
    type = ConstantField("user")


@examples(("Pending", CHANGE_REQUEST_EXAMPLE))
class ChangeRequestSerializer(serializers.Serializer):
    """A change that loosens residency, held until another person with Privacy: manage approves
    it (72 hours at most)."""

    type = ConstantField("change_request")
    id = serializers.CharField(help_text="`chgreq_` and a random base62 string.")
    status = serializers.ChoiceField(choices=ChangeStatus.values, help_text="pending, then applied, rejected, "
                                     "withdrawn, expired, or conflict (approved after the target changed: not "
                                     "applied).")
    change = ChangeSerializer(source="*")
    requested_by = PersonSerializer(allow_null=True, help_text="Who asked for the change.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="72 hours after it was asked; a pending request expires "
                                           "then.")
    decided_by = PersonSerializer(allow_null=True, help_text="Who approved, rejected or withdrew it (null while "
                                  "pending, and when it expired).")
    decided_at = serializers.DateTimeField(allow_null=True, help_text="When it stopped being pending.")


HELD = OpenApiResponse(ChangeRequestSerializer, description="The change loosens residency and the organization "
                       "asks for approval: nothing was applied; it waits as this pending change request.",
                       examples=[OpenApiExample("Sent for approval", value=CHANGE_REQUEST_EXAMPLE, status_codes=[202],
                                                response_only=True)])


def held_or(result, serializer_class, **context):
    """The answer to a change: 202 with the change request when the service held it for approval,
    else 200 with the changed object."""
    if isinstance(result, ChangeRequest):
        return Response(ChangeRequestSerializer(result).data, status=202)
    return Response(serializer_class(result, context=context).data)


# --- approval settings ---------------------------------------------------------------------------


@examples(("Off", {"type": "approval_settings", "loosening_requires_approval": False}))
class ApprovalSettingsSerializer(serializers.Serializer):
    """Whether a change that loosens residency waits for another person's approval."""

    type = ConstantField("approval_settings")
    loosening_requires_approval = serializers.BooleanField(
        help_text="When true, a change after which some request could run somewhere it could not before (US-only "
        "inference off, an allowed set or a default reaching further) waits for approval.")


@examples(("Turn on", {"loosening_requires_approval": True}))
class ApprovalSettingsUpdateSerializer(StrictSerializer):
    """The new value."""

    loosening_requires_approval = StrictBooleanField()


class ApprovalSettingsApi(OrgApi):
    openapi_tag = "Approval settings"

    @extend_schema(
        operation_id="approval_settings_retrieve", summary="Get approval settings",
        description="Needs Privacy: view (Privacy: none is a 404).",
        responses={200: ApprovalSettingsSerializer, **errors(404)},
    )
    def get(self, request):
        require_approval_settings(self.access)
        return Response(ApprovalSettingsSerializer(approval_settings(self.organization)).data)

    @extend_schema(
        operation_id="approval_settings_update", summary="Turn approval of loosening changes on or off",
        description="Only the primary owner turns it on (in person or with a key they created themself). Turning "
        "it off is itself a loosening change: any Privacy: manage member may ask, and it answers 202 with a change "
        "request another person must approve. Privacy: view is a 403. Every change and refusal is audited.",
        request=ApprovalSettingsUpdateSerializer,
        responses={200: ApprovalSettingsSerializer, 202: HELD, **errors(403, 404, 413, 415)},
    )
    def post(self, request):
        serializer = ApprovalSettingsUpdateSerializer.for_request(request)
        if not serializer.is_valid():
            # Privacy: none learns no more than a 404 (audited, SPEC §2 step 1) before a 400
            data = request.data
            services.approval_settings_refuse_hidden(
                actor=self.actor, organization=self.organization,
                loosening_requires_approval=data.get("loosening_requires_approval") if isinstance(data, dict) else data)
            raise serializers.ValidationError(serializer.errors)
        result = services.approval_settings_set(
            actor=self.actor, organization=self.organization,
            loosening_requires_approval=serializer.validated_data["loosening_requires_approval"])
        return held_or(result, ApprovalSettingsSerializer)


# --- change requests -----------------------------------------------------------------------------


class ChangeRequestListQuerySerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=ChangeStatus.values, required=False,
                                     help_text="Only requests in this status, e.g. pending.")


class ChangeRequestListApi(PaginatedListMixin, OrgApi):
    openapi_tag = "Change requests"
    page_descending = True
    page_noun = "change request"

    @extend_schema(
        operation_id="change_requests_list", summary="List change requests",
        description="Newest first. Privacy: view sees every change request; anyone else sees those they asked for. "
        "A pending request past its 72 hours is expired before it is listed.",
        parameters=[ChangeRequestListQuerySerializer],
        responses={200: ChangeRequestSerializer(many=True), **errors(404)},
    )
    def get(self, request):
        query = ChangeRequestListQuerySerializer.from_query(request.query_params)
        services.change_requests_expire(organization=self.organization, source=self.actor.source)
        qs = change_requests_visible_to(self.access, status=query.get("status"))
        return self.list_response(qs, ChangeRequestSerializer)


class ChangeRequestApiMixin:
    openapi_tag = "Change requests"

    def change_request(self):
        """The request, if the caller may see it (else 404); expired first when it is due."""
        services.change_requests_expire(organization=self.organization, source=self.actor.source)
        return access_change_request(access=self.access, id=self.kwargs["change_request_id"])


class ChangeRequestDetailApi(ChangeRequestApiMixin, OrgApi):
    @extend_schema(
        operation_id="change_requests_retrieve", summary="Get a change request",
        description="Privacy: view, or the person who asked for it; anyone else gets a 404.",
        responses={200: ChangeRequestSerializer, **errors(404)},
    )
    def get(self, request, change_request_id):
        return Response(ChangeRequestSerializer(self.change_request()).data)


DECISION_RULES = ("Needs Privacy: manage and a person other than the requester, acting in person or with an API key "
                  "they created themself (a key someone else created for you is a 403).")


class ChangeRequestApproveApi(ChangeRequestApiMixin, OrgApi):
    @extend_schema(
        operation_id="change_requests_approve", summary="Approve a change request",
        description=f"{DECISION_RULES} The change is validated and applied at once, as if made now, recorded with "
        "both the approver and the requester. If the target no longer holds the values it was asked against (or "
        "the change is no longer valid), nothing is applied, the request's status becomes conflict and the answer "
        "is a 409 conflict_error; a request that is not pending any more is a 409 too.",
        request=None, responses={200: ChangeRequestSerializer, **errors(403, 404, 409)},
    )
    def post(self, request, change_request_id):
        change_request = services.change_request_approve(actor=self.actor, organization=self.organization,
                                                         change_request=self.change_request())
        return Response(ChangeRequestSerializer(change_request).data)


class ChangeRequestRejectApi(ChangeRequestApiMixin, OrgApi):
    @extend_schema(
        operation_id="change_requests_reject", summary="Reject a change request",
        description=f"{DECISION_RULES} Nothing is applied. A request that is not pending any more is a 409.",
        request=None, responses={200: ChangeRequestSerializer, **errors(403, 404, 409)},
    )
    def post(self, request, change_request_id):
        change_request = services.change_request_reject(actor=self.actor, organization=self.organization,
                                                        change_request=self.change_request())
        return Response(ChangeRequestSerializer(change_request).data)


class ChangeRequestWithdrawApi(ChangeRequestApiMixin, OrgApi):
    @extend_schema(
        operation_id="change_requests_withdraw", summary="Withdraw a change request",
        description="The person who asked for it only (anyone else who sees it gets a 403). A request that is not "
        "pending any more is a 409.",
        request=None, responses={200: ChangeRequestSerializer, **errors(403, 404, 409)},
    )
    def post(self, request, change_request_id):
        change_request = services.change_request_withdraw(actor=self.actor, organization=self.organization,
                                                          change_request=self.change_request())
        return Response(ChangeRequestSerializer(change_request).data)
