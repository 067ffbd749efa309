"""`/v1/organizations/inference_residency`: the organization's US-only inference setting."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.schema import errors
from core.serializers import StrictBooleanField, StrictSerializer
from orgs.api.base import OrgApi
from orgs.models import LockReason

from .. import services
from ..permissions import (
    can_change_inference_residency,
    require_inference_residency,
    require_inference_residency_exists,
)


class InferenceResidencyApi(OrgApi):
    """The organization's US-only inference setting (usage-based Enterprise plans only)."""

    class InputSerializer(StrictSerializer):
        us_only = StrictBooleanField()

    class OutputSerializer(serializers.Serializer):
        type = serializers.CharField(default="inference_residency")
        us_only = serializers.BooleanField()
        locked = serializers.BooleanField()
        lock_reason = serializers.ChoiceField(choices=LockReason.values, allow_null=True)
        can_manage = serializers.BooleanField(help_text="Whether the caller may change it now.")

    def _body(self):
        org = self.organization
        return {
            "type": "inference_residency",
            "us_only": org.us_only_inference,
            "locked": org.locked,
            "lock_reason": org.lock_reason,
            "can_manage": can_change_inference_residency(self.access),
        }

    @extend_schema(operation_id="inference_residency_get", summary="Read US-only inference",
                   responses={200: OutputSerializer, **errors(401, 404)})
    def get(self, request):
        require_inference_residency(self.access)
        return Response(self._body())

    @extend_schema(
        operation_id="inference_residency_set", summary="Turn US-only inference on or off",
        description="Needs Privacy: manage. A locked organization answers 403. Every change and every "
        "denied attempt is audited.",
        request=InputSerializer, responses={200: OutputSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request):
        require_inference_residency_exists(self.organization)
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            # privacy: none must not learn more than 404 (audited, SPEC §2 step 1) before a 400
            data = request.data
            services.inference_residency_refuse_hidden(
                actor=self.actor, organization=self.organization,
                us_only=data.get("us_only") if isinstance(data, dict) else data)
            raise serializers.ValidationError(serializer.errors)
        services.inference_residency_set(actor=self.actor, organization=self.organization,
                                         us_only=serializer.validated_data["us_only"])
        return Response(self._body())


