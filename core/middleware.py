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
