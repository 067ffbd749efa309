from csp.middleware import CSPMiddleware

from .ids import new_request_id


class RequestIdMiddleware:
    """Gives every request an id and every response a `request-id` header (contract)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = new_request_id()
        response = self.get_response(request)
        response["request-id"] = request.request_id
        return response


def _json_api(request):
    return request.path.startswith("/v1/") and not request.path.startswith("/v1/docs")


class PageCSPMiddleware(CSPMiddleware):
    """django-csp's Content-Security-Policy on every page (console, sign-in, admin, API docs).

    JSON answers under /v1 carry none: a policy governs documents a browser renders, and building
    the header costs about 80 µs a response that the router's decision path does not need."""

    def process_request(self, request):
        if _json_api(request):
            return None
        return super().process_request(request)

    def process_response(self, request, response):
        if _json_api(request):
            return response
        return super().process_response(request, response)
