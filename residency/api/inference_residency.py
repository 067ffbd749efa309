"""`/v1/organizations/inference_residency`: the organization's US-only inference setting."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.schema import errors, examples
from core.serializers import ConstantField, StrictBooleanField, StrictSerializer
from orgs.api.base import OrgApi
from orgs.models import LockReason

from .. import services
from ..permissions import (
    can_change_inference_residency,
    require_inference_residency,
    require_inference_residency_exists,
)
from .change_requests import HELD, held_or


@examples(("Unlocked, off", {"type": "inference_residency", "us_only": False, "locked": False, "lock_reason": None,
                             "can_manage": True}),
          ("Locked by contract", {"type": "inference_residency", "us_only": True, "locked": True,
                                  "lock_reason": "contract", "can_manage": False}))
class InferenceResidencySerializer(serializers.Serializer):
    """US-only inference: when on, all inference from the Claude apps runs in the US. It does not
    change connectors or where data is stored."""

    type = ConstantField("inference_residency")
    us_only = serializers.BooleanField(source="us_only_inference")
    locked = serializers.BooleanField(help_text="A locked setting is on and nobody can change it.")
    lock_reason = serializers.ChoiceField(choices=LockReason.values, allow_null=True,
                                          help_text="Why it is locked (null when it is not): legacy_opt_out (the "
                                          "organization opted out of global routing before the setting existed) or "
                                          "contract.")
    can_manage = serializers.SerializerMethodField(help_text="Whether you may change it now.")

    def get_can_manage(self, organization) -> bool:
        return can_change_inference_residency(self.context["access"])


@examples(("Turn on", {"us_only": True}))
class InferenceResidencyUpdateSerializer(StrictSerializer):
    """The new value of the setting."""

    us_only = StrictBooleanField()


class InferenceResidencyApi(OrgApi):
    openapi_tag = "Inference residency"

    def answer(self):
        return Response(InferenceResidencySerializer(self.organization, context={"access": self.access}).data)

    @extend_schema(
        operation_id="inference_residency_retrieve", summary="Get US-only inference",
        description="Usage-based Enterprise plans only: on other plans this is a 404 whose message names the plan "
        "requirement. Needs Privacy: view (Privacy: none is a 404).",
        responses={200: InferenceResidencySerializer, **errors(404)},
    )
    def get(self, request):
        require_inference_residency(self.access)
        return self.answer()

    @extend_schema(
        operation_id="inference_residency_update", summary="Turn US-only inference on or off",
        description="Needs Privacy: manage; a locked organization answers 403. The change applies to the very next "
        "request. Turning it off loosens residency: when the organization asks for approval, nothing is applied and "
        "the answer is 202 with a pending change request. Every change and every denied attempt is in the audit log.",
        request=InferenceResidencyUpdateSerializer,
        responses={200: InferenceResidencySerializer, 202: HELD, **errors(403, 404, 413, 415)},
    )
    def post(self, request):
        require_inference_residency_exists(self.organization)
        serializer = InferenceResidencyUpdateSerializer.for_request(request)
        if not serializer.is_valid():
            # privacy: none must not learn more than 404 (audited, SPEC §2 step 1) before a 400
            data = request.data
            services.inference_residency_refuse_hidden(
                actor=self.actor, organization=self.organization,
                us_only=data.get("us_only") if isinstance(data, dict) else data)
            raise serializers.ValidationError(serializer.errors)
        result = services.inference_residency_set(actor=self.actor, organization=self.organization,
                                                  us_only=serializer.validated_data["us_only"])
        return held_or(result, InferenceResidencySerializer, access=self.access)
