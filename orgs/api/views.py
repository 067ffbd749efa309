from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import OrgApi


class OrganizationMeApi(OrgApi):
    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        type = serializers.CharField(default="organization")
        name = serializers.CharField()
        plan = serializers.CharField()

    @extend_schema(responses=OutputSerializer, summary="The caller's organization")
    def get(self, request):
        org = self.organization
        return Response({"id": org.id, "type": "organization", "name": org.name, "plan": org.plan})

