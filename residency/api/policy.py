"""`/v1/organizations/data_residency_policy` and `/v1/organizations/residency_impact` (SPEC §5,
contract): the organization's bound over every workspace, and the cost of a residency change
before it is made.

Thin views: the serializers below are the contract; the values' rules are
`residency.policy.clean_inference_geos` (the same as a workspace's), applied by
`residency.services`, which also audits every change and denied attempt.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.schema import errors, examples
from core.serializers import ConstantField, StrictBooleanField, StrictCharField, StrictSerializer
from orgs.api.base import OrgApi

from .. import services
from ..models import ChangeRequest
from ..permissions import can_change_residency_policy, require_impact_view, require_residency_policy
from ..reports import MAX_IMPACT_DAYS
from ..selectors import policy_state
from .change_requests import HELD, held_or
from .workspaces import AllowedGeosField, DataResidencyUpdateSerializer, GeoField

BODY = (413, 415)
POLICY_VIOLATION_EXAMPLE = OpenApiExample(
    "Outside the organization policy", status_codes=[400], response_only=True, value={
        "type": "error",
        "error": {"type": "invalid_request_error",
                  "message": "change.workspace.data_residency.allowed_inference_geos: allowed_inference_geos must "
                             "stay within the organization's data residency policy (us); global, us is not.",
                  "details": {"error_code": "workspace_policy_violation", "field": "allowed_inference_geos"}},
        "request_id": "req_018EeWyXxfu5pfWkrYcMdjWG"})


def with_policy_violation(responses):
    """`errors(...)` whose 400 also shows the `details` a policy violation carries (SPEC §5, §9)."""
    plain = responses[400]
    responses[400] = OpenApiResponse(plain.response, description=plain.description + " A workspace outside the "
                                     "organization's data residency policy also names it in `error.details`.",
                                     examples=[*plain.examples, POLICY_VIOLATION_EXAMPLE])
    return responses


# --- the policy ---------------------------------------------------------------------------------

POLICY_EXAMPLE = {"type": "data_residency_policy", "allowed_inference_geos": ["us"], "default_inference_geo": "us",
                  "locked": False, "lock_reason": None, "can_manage": True,
                  "nonconforming_workspace_ids": ["wrkspc_01JwQvzr7rXLA5AGx3HKfoVf"]}


@examples(("US only, one workspace still outside", POLICY_EXAMPLE),
          ("The default", {**POLICY_EXAMPLE, "allowed_inference_geos": "unrestricted", "default_inference_geo": "global",
                           "nonconforming_workspace_ids": []}),
          ("Locked by contract", {**POLICY_EXAMPLE, "locked": True, "lock_reason": "contract", "can_manage": False,
                                  "nonconforming_workspace_ids": []}))
class DataResidencyPolicySerializer(serializers.Serializer):
    """The organization's bound over every workspace's inference geos. The default, unrestricted with
    default global, changes nothing."""

    type = ConstantField("data_residency_policy")
    allowed_inference_geos = AllowedGeosField(help_text='"unrestricted", or the only geos any workspace may use.')
    default_inference_geo = serializers.CharField(help_text="Where a request that names no geo runs when its "
                                                  "workspace's default is outside the policy.")
    locked = serializers.BooleanField(help_text="Locked by contract: nobody in the organization can change it.")
    lock_reason = serializers.ChoiceField(choices=["contract"], allow_null=True,
                                          help_text="Why it is locked (null when it is not).")
    can_manage = serializers.SerializerMethodField(help_text="Whether you may change it now.")
    nonconforming_workspace_ids = serializers.ListField(
        child=serializers.CharField(), help_text="Live workspaces outside the policy, oldest first: their requests "
        "are still bounded by it. `apply_to_workspaces` brings them inside.")

    def get_can_manage(self, state) -> bool:
        return can_change_residency_policy(self.context["access"], state.row)


@examples(("Keep inference in the US", {"allowed_inference_geos": ["us"], "default_inference_geo": "us",
                                        "apply_to_workspaces": True}),
          ("Back to the default", {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}))
class DataResidencyPolicyUpdateSerializer(StrictSerializer):
    """Fields left out keep their values; the result must be valid as a whole (the default inside the
    allowed geos)."""

    allowed_inference_geos = AllowedGeosField(required=False)
    default_inference_geo = GeoField(required=False, help_text='"global" or "us"; one of the allowed geos.')
    apply_to_workspaces = StrictBooleanField(
        required=False, help_text="Bring every live workspace outside the new policy inside it now "
        "(one audit event each). Default false: they are listed in nonconforming_workspace_ids instead.")


class DataResidencyPolicyApi(OrgApi):
    openapi_tag = "Data residency policy"

    def answer(self):
        return Response(DataResidencyPolicySerializer(policy_state(self.organization),
                                                      context={"access": self.access}).data)

    @extend_schema(
        operation_id="data_residency_policy_retrieve", summary="Get the data residency policy",
        description="Every plan. Needs Privacy: view (Privacy: none is a 404).",
        responses={200: DataResidencyPolicySerializer, **errors(404)},
    )
    def get(self, request):
        require_residency_policy(self.access)
        return self.answer()

    @extend_schema(
        operation_id="data_residency_policy_update", summary="Change the data residency policy",
        description="Needs Privacy: manage (Privacy: view is a 403, Privacy: none a 404); a policy locked by "
        "contract answers 403. New workspaces start inside the policy, and a workspace create or update outside "
        "it is refused. Tightening never rewrites workspaces unless `apply_to_workspaces` is true. Every change "
        "and every denied attempt is in the audit log. A change that loosens the policy (its allowed geos or "
        "default reach further), or that would move a workspace somewhere it could not run before, loosens "
        "residency: when the organization asks for approval, nothing is applied and the answer is 202 with a "
        "pending change request; tightening applies at once.",
        request=DataResidencyPolicyUpdateSerializer,
        responses={200: DataResidencyPolicySerializer, 202: HELD, **errors(403, 404, *BODY)},
    )
    def post(self, request):
        serializer = DataResidencyPolicyUpdateSerializer.for_request(request)
        if not serializer.is_valid():
            # Privacy: none must not learn more than a 404 (audited, SPEC §2 step 1) before the 400
            services.data_residency_policy_refuse_hidden(actor=self.actor, organization=self.organization)
            raise serializers.ValidationError(serializer.errors)
        data = dict(serializer.validated_data)
        apply = data.pop("apply_to_workspaces", False)
        result = services.data_residency_policy_set(actor=self.actor, organization=self.organization, values=data,
                                                    apply_to_workspaces=apply)
        if isinstance(result, ChangeRequest):
            return held_or(result, DataResidencyPolicySerializer)
        return self.answer()


# --- the cost of a change ------------------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers: "30", 30.0 and true are mistakes, not numbers."""

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class PolicyChangeSerializer(StrictSerializer):
    """The policy as it would be; fields left out keep their current values."""

    allowed_inference_geos = AllowedGeosField(required=False)
    default_inference_geo = GeoField(required=False, help_text='"global" or "us"; one of the allowed geos.')


class WorkspaceChangeSerializer(StrictSerializer):
    """A workspace's data residency as it would be; fields left out keep their current values."""

    id = StrictCharField(max_length=40, help_text="The workspace's id (`wrkspc_...`).")
    data_residency = DataResidencyUpdateSerializer(
        error_messages={"null": "Must be an object with allowed_inference_geos and/or default_inference_geo."})


CHANGES = ("us_only", "data_residency_policy", "workspace")


class ResidencyChangeSerializer(StrictSerializer):
    """Exactly one change."""

    us_only = StrictBooleanField(required=False, help_text="US-only inference for the Claude apps "
                                 "(usage-based Enterprise plans).")
    data_residency_policy = PolicyChangeSerializer(required=False)
    workspace = WorkspaceChangeSerializer(required=False)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError(f"Send exactly one of {', '.join(CHANGES)}.")
        return attrs


@examples(("Turn US-only inference on", {"change": {"us_only": True}}),
          ("Restrict the policy to the US, last 7 days", {
              "change": {"data_residency_policy": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}},
              "days": 7}),
          ("Restrict one workspace", {"change": {"workspace": {"id": "wrkspc_01JwQvzr7rXLA5AGx3HKfoVf",
                                                               "data_residency": {"allowed_inference_geos": ["us"],
                                                                                  "default_inference_geo": "us"}}}}))
class ResidencyImpactCreateSerializer(StrictSerializer):
    """A residency change to price against recent usage."""

    change = ResidencyChangeSerializer()
    days = StrictIntegerField(required=False, min_value=1, max_value=MAX_IMPACT_DAYS,
                              help_text=f"How many whole UTC days, today included (1 to {MAX_IMPACT_DAYS}, "
                              "default 30).")


CENTS = r"^-?\d+(\.\d+)?$"


@examples(("US-only inference on", {"type": "residency_impact", "starting_at": "2026-03-02T00:00:00Z",
                                    "ending_at": "2026-04-01T00:00:00Z", "currency": "USD", "current_cost": "4150",
                                    "projected_cost": "4400", "delta": "250"}))
class ResidencyImpactSerializer(serializers.Serializer):
    """What the usage of the period cost, and what it would have cost had the change been in force
    (USD cents as decimal strings). Only usage on models that support inference_geo changes: Claude
    apps usage for us_only, API usage for a policy or a workspace; a locked organization's apps usage
    carries no uplift."""

    type = ConstantField("residency_impact")
    starting_at = serializers.DateTimeField(help_text="The first day counted (UTC midnight).")
    ending_at = serializers.DateTimeField(help_text="Exclusive: the end of today (UTC).")
    currency = ConstantField("USD")
    current_cost = serializers.RegexField(CENTS, help_text="USD cents, as billed.")
    projected_cost = serializers.RegexField(CENTS, help_text="USD cents, had the change been in force.")
    delta = serializers.RegexField(CENTS, help_text="projected_cost - current_cost: negative when the change "
                                   "would have cost less.")


class ResidencyImpactApi(OrgApi):
    openapi_tag = "Residency impact"

    @extend_schema(
        operation_id="residency_impact_create", summary="Estimate the cost of a residency change",
        description="Prices the organization's usage of the last `days` days (from the daily usage rollups) as "
        "billed and as it would have been billed with the change in force. Validated like the change itself; "
        "changes and records nothing. Needs Billing: view and Privacy: view (anyone else gets a 404); us_only "
        "exists on usage-based Enterprise plans only (404 elsewhere, naming the plan).",
        request=ResidencyImpactCreateSerializer,
        responses={200: ResidencyImpactSerializer, **with_policy_violation(errors(403, 404, *BODY))},
    )
    def post(self, request):
        require_impact_view(self.access)  # 404 before the input is read (SPEC §2 order of checks)
        data = ResidencyImpactCreateSerializer.from_request(request)
        change = {kind: _plain(value) for kind, value in data["change"].items()}
        days = {"days": data["days"]} if "days" in data else {}  # the service's default otherwise
        impact = services.residency_impact_estimate(actor=self.actor, organization=self.organization,
                                                    change=change, **days)
        return Response(ResidencyImpactSerializer(impact.as_json()).data)


def _plain(value):
    """Validated data (OrderedDicts) as the plain values the service takes; a null member of a
    workspace's data_residency means "unchanged", as in a workspace update (left out)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    return value
