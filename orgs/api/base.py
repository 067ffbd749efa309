"""The base of every `/v1/organizations/...` view: the caller's organization, access and actor."""

from django.http import Http404
from rest_framework.views import APIView

from core.actor import Source, actor_from_request
from core.ratelimit import ApiKeyRateThrottle

from ..permissions import access_organization
from ..selectors import current_membership


class OrgApi(APIView):
    """Resolves the calling member (API key or console session), their organization and an
    `Access` for it before the handler runs; a caller who belongs to no organization gets 404.
    Every such request counts against its API key's `API_RATE_LIMIT` (429 over it, SPEC §6)."""

    throttle_classes = [ApiKeyRateThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        membership = current_membership(request._request)
        if membership is None:
            raise Http404("You are not a member of any organization.")
        self.actor = actor_from_request(request._request, source=Source.REST)
        self.actor.user = request.user
        self.access = access_organization(actor=self.actor, id=membership.organization_id)
        self.organization = self.access.organization
