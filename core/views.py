import sys

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt

from .errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS, is_api_path, json_error


def handler404(request, exception=None):
    if is_api_path(request):
        return json_error(request, 404, f"Unknown path {request.path}: see /v1/docs for the API.")
    return render(request, "404.html", {"message": None}, status=404)


@csrf_exempt  # any method on an unknown /v1 path is the JSON 404, never Django's CSRF page
def api_not_found(request, *args, **kwargs):
    return handler404(request)


def is_database_outage(exc):
    """A failure to reach the database (connection refused, dropped, server shut down)."""
    return isinstance(exc, (OperationalError, InterfaceError))


def database_unavailable(request):
    """503 with `retry-after`: JSON `api_error` on /v1, a plain page elsewhere. Renders nothing that
    needs the database (no session, no user, no context processor)."""
    if is_api_path(request):
        response = json_error(request, 503, DATABASE_UNAVAILABLE)
    else:
        try:
            body = render_to_string("503.html")
        except TemplateDoesNotExist:  # pragma: no cover - the template ships with the project
            body = DATABASE_UNAVAILABLE
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handler500(request):
    if is_database_outage(sys.exc_info()[1]):
        return database_unavailable(request)
    if is_api_path(request):
        return json_error(request, 500, "Something went wrong on our side; retry, and quote the request id if it persists.")
    return render(request, "500.html", status=500)


def health(request):
    """Liveness: the process answers. Needs nothing else (SPEC §6)."""
    return JsonResponse({"status": "ok"})


def ready(request):
    """Readiness: 503 when the database cannot be reached."""
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        response = JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"status": "ok", "database": "ok"})
