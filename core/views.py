from django.http import JsonResponse
from django.shortcuts import render

from .errors import is_api_path, json_error


def handler404(request, exception=None):
    if is_api_path(request):
        return json_error(request, 404, f"Unknown path {request.path}: see /v1/docs for the API.")
    return render(request, "404.html", {"message": None}, status=404)


def api_not_found(request, *args, **kwargs):
    return handler404(request)


def handler500(request):
    if is_api_path(request):
        return json_error(request, 500, "Something went wrong on our side; retry, and quote the request id if it persists.")
    return render(request, "500.html", status=500)


def health(request):
    return JsonResponse({"status": "ok"})
