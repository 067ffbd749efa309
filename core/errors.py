"""One error shape for the whole REST API (contract):

    {"type": "error", "error": {"type": T, "message": M}, "request_id": R}

T follows from the status (SPEC §3); a 409 is a `conflict_error` (SPEC §8: a change request whose
target changed after it was asked, or that is not pending any more).
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
}


RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The service cannot reach its database right now; retry in a few seconds."


class Conflict(Exception):
    """A request that is well-formed but clashes with the current state (409)."""


def error_type_for(status_code):
    if status_code in ERROR_TYPES:
        return ERROR_TYPES[status_code]
    if 400 <= status_code < 500:
        return "invalid_request_error"
    return "api_error"


class DetailedValidationError(DjangoValidationError):
    """A 400 that also names a machine-readable reason (`error.details`, e.g. `{"error_code":
    "workspace_policy_violation", "field": "allowed_inference_geos"}`)."""

    def __init__(self, message, *, details, **kwargs):
        super().__init__(message, **kwargs)
        self.details = details


def error_body(status_code, message, request_id, details=None):
    """The contract's error body; `details` is null unless a machine-readable reason applies."""
    return {
        "type": "error",
        "error": {"type": error_type_for(status_code), "message": message, "details": details},
        "request_id": request_id,
    }


def flatten_detail(detail, prefix=""):
    """Turn nested validation details into `path.to.field: message` sentences."""
    lines = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = key if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else key)
            if key in ("non_field_errors", "__all__"):
                path = prefix
            lines.extend(flatten_detail(value, path))
    elif isinstance(detail, (list, tuple)):
        if detail and all(not isinstance(item, (dict, list, tuple)) for item in detail):
            for item in detail:
                lines.append(f"{prefix}: {item}" if prefix else str(item))
        else:
            for index, item in enumerate(detail):
                if item:
                    lines.extend(flatten_detail(item, f"{prefix}[{index}]"))
    else:
        lines.append(f"{prefix}: {detail}" if prefix else str(detail))
    return lines


def django_validation_detail(exc):
    if hasattr(exc, "error_dict"):
        return {field: [m for e in errs for m in e.messages] for field, errs in exc.error_dict.items()}
    return list(exc.messages)


def exception_handler(exc, context):
    request = context.get("request")
    request_id = getattr(request, "request_id", "") if request is not None else ""
    headers = {}
    if isinstance(exc, DjangoValidationError):
        code, message = 400, "; ".join(flatten_detail(django_validation_detail(exc)))
    elif isinstance(exc, (Http404, exceptions.NotFound)):
        code = 404
        message = str(exc) if str(exc) else "Not found."
        if isinstance(exc, exceptions.NotFound):
            message = str(exc.detail)
    elif isinstance(exc, DjangoPermissionDenied):
        code, message = 403, str(exc) or "You do not have permission to do this."
    elif isinstance(exc, Conflict):
        code, message = 409, str(exc)
    elif isinstance(exc, RequestDataTooBig):
        code = 413
        message = (f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
                   "send it in smaller requests.")
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # the database is unreachable: nothing was done, and a retry may work (SPEC §2)
        code, message = 503, DATABASE_UNAVAILABLE
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    elif isinstance(exc, exceptions.APIException):
        code = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            message = "; ".join(flatten_detail(exc.detail)) or "Invalid request."
        elif isinstance(exc, exceptions.ParseError):
            message = str(exc.detail)  # core.hygiene.JSONParser says what is wrong and where
        elif isinstance(exc, exceptions.NotAuthenticated):
            message = "Missing credentials: send your API key in the `x-api-key` header or as `Authorization: Bearer <key>`."
        else:
            message = str(exc.detail)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    else:
        return None  # unexpected: let Django log it; handler500 renders the contract body
    return Response(error_body(code, message, request_id, getattr(exc, "details", None)), status=code, headers=headers)


def json_error(request, status_code, message):
    return JsonResponse(
        error_body(status_code, message, getattr(request, "request_id", "")), status=status_code
    )


def is_api_path(request):
    return request.path.startswith("/v1/")


__all__ = ["Conflict", "exception_handler", "json_error", "error_body", "status"]
