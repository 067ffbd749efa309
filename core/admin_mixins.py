"""Django admin edits go through the services, so they are permission-checked and audited.

The service runs while the admin form validates: a service error shows next to the field
(or at the top of the form) with everything the staff member typed still in place, and a
success leaves nothing for `save_model` to do. What a service held back instead of applying (a
change waiting for approval) is said in place of the admin's "changed successfully".
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from core.actor import Source, actor_from_request
from core.forms import add_service_errors


class ServiceAdminMixin:
    def perform_save(self, form, actor, change):
        """Call the service for this form; return the saved object."""
        raise NotImplementedError

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        admin = self
        actor = actor_from_request(request, source=Source.ADMIN)

        class ServiceForm(form_class):
            def _post_clean(self):
                # No model-level validation here (ModelForm would check the model's constraints
                # and mutate the instance first): the service validates and decides, and the form
                # fields have checked their own types.
                if self.errors:
                    return
                change = not self.instance._state.adding
                self.service_notices = []  # what the services held back, for the staff member to read
                try:
                    with transaction.atomic():  # one admin save is all or nothing, however many services
                        saved = admin.perform_save(self, actor, change)
                except ValidationError as exc:
                    add_service_errors(self, exc)
                except (PermissionDenied, Http404) as exc:
                    self.add_error(None, str(exc) or "You are not allowed to do this.")
                else:
                    if saved is not None:
                        self.instance = saved

        ServiceForm.__name__ = form_class.__name__
        return ServiceForm

    def hold_notice(self, form, text):
        """Tell the staff member, instead of "changed successfully", that a service did not apply
        part of the change (`text` says what and why)."""
        form.service_notices.append(text)

    def save_model(self, request, obj, form, change):
        """Already saved by the service during validation."""
        request.service_notices = getattr(form, "service_notices", [])

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        notices = getattr(request, "service_notices", [])
        if notices and level == messages.SUCCESS:
            for text in notices:
                super().message_user(request, text, messages.WARNING, *args, **kwargs)
            return
        super().message_user(request, message, level, *args, **kwargs)

    def save_related(self, request, form, formsets, change):
        """Services own related rows."""
