"""One adapter from a service's ValidationError to a Django form's errors, for console pages and
the Django admin alike."""

from django.core.exceptions import ValidationError

from .errors import django_validation_detail


def add_service_errors(form, exc, *, field_map=None):
    """Show a service's ValidationError next to the matching form fields (others at the top).

    `field_map` renames service fields to form fields (`{"data_residency.default_inference_geo":
    "default_inference_geo"}`); a dotted name whose last part is a form field lands there too.
    """
    field_map = field_map or {}
    detail = django_validation_detail(exc) if isinstance(exc, ValidationError) else [str(exc)]
    if not isinstance(detail, dict):
        for message in detail:
            form.add_error(None, message)
        return
    for name, messages in detail.items():
        target = field_map.get(name, name)
        if target not in form.fields and target is not None:
            leaf = target.rsplit(".", 1)[-1]
            target = leaf if leaf in form.fields else None
        for message in messages:
            form.add_error(target, message if target or name == "__all__" else f"{name}: {message}")
