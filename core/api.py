"""Shared pieces for REST views: the calling member's organization, and the actor."""

from django.http import Http404
from rest_framework.views import APIView

from core.actor import actor_from_request
from orgs.permissions import access_organization
from orgs.selectors import current_membership


class OrgApi(APIView):
    """Base for `/v1/organizations/...`: resolves the caller's organization and actor."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        membership = current_membership(request._request)
        if membership is None:
            raise Http404("You are not a member of any organization.")
        self.actor = actor_from_request(request._request, source="rest")
        self.actor.user = request.user
        self.access = access_organization(actor=self.actor, id=membership.organization_id)
        self.organization = self.access.organization
