"""The audit log page's filters, as a Django form: dates are whole UTC days (`to` inclusive),
actor and target are ids (the selects offer today's members, keys and objects; a link may name one
that is gone), and `older_than` / `newer_than` are the page's seq cursors."""

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.core.validators import MaxLengthValidator

from core.forms import CursorField, DayField

from .selectors import AuditFilters, audit_action_choices

FILTERS = ("from", "to", "actor", "action", "target")


def _keep_value(choices, value):
    """The options, plus the current value when it is not among them (kept, not dropped)."""
    if value and value not in {v for v, _ in choices}:
        return [*choices, (value, value)]
    return choices


class AuditFilterForm(forms.Form):
    # `from` is a Python keyword, so the two days are declared through the class namespace
    vars()["from"] = DayField(label="From")
    vars()["to"] = DayField(label="To")
    actor = forms.CharField(required=False, widget=forms.Select,
                            validators=[MaxLengthValidator(40, "Choose an actor from the list.")])
    action = forms.ChoiceField(required=False)
    target = forms.CharField(required=False, widget=forms.Select,
                             validators=[MaxLengthValidator(40, "Choose a target from the list.")])
    older_than = CursorField()
    newer_than = CursorField()

    def __init__(self, data=None, *, scope, choices=None, **kwargs):
        """`choices` (from `selectors.audit_filter_choices`) fill the selects; without them (an
        export) only the actions are checked, against what `scope` may see."""
        super().__init__(data, **kwargs)
        data = self.data if self.is_bound else {}
        choices = choices or {"actors": [], "targets": [], "actions": audit_action_choices(scope)}
        self.fields["actor"].widget.choices = _keep_value([("", "Anyone"), *choices["actors"]], data.get("actor"))
        self.fields["target"].widget.choices = _keep_value([("", "Anything"), *choices["targets"]],
                                                           data.get("target"))
        self.fields["action"].choices = [("", "Any action"), *choices["actions"]]
        self.fields["action"].error_messages["invalid_choice"] = "%(value)r is not an action you can filter by."

    def clean(self):
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end and end < start:
            self.add_error("to", "The end date is before the start date.")
        return data

    def filters(self):
        """The selector's filters (call after `is_valid()` returned True)."""
        data = self.cleaned_data
        start, end = data.get("from"), data.get("to")
        return AuditFilters(
            action=data.get("action") or None,
            actor_id=data.get("actor") or None,
            target_id=data.get("target") or None,
            starting_at=datetime.combine(start, time.min, tzinfo=UTC) if start else None,
            ending_at=datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1) if end else None,
        )

    def query(self):
        """The filters as a query string, for the export and paging links."""
        data = self.cleaned_data
        values = [(name, data.get(name)) for name in FILTERS]
        return urlencode([(name, value.isoformat() if hasattr(value, "isoformat") else value)
                          for name, value in values if value])
