"""What every console form shares: the one adapter from a service's ValidationError to a form's
errors (console pages and the Django admin alike), the day field of date filters, and the
lenient fields that read paging cursors from links.

Forms only shape and check input; services decide and write.
"""

import re
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError

from .errors import django_validation_detail
from .hygiene import MAX_YEAR, MIN_YEAR, MalformedInput, check_datetime_range

FIRST_DAY = date(MIN_YEAR, 1, 1)


def posted(request):
    """A POST's form data, else None: an empty POST still binds the form, so it shows what is
    missing (`request.POST or None` would treat it as a first visit)."""
    return request.POST if request.method == "POST" else None


def add_service_errors(form, exc, *, field_map=None):
    """Show a service's ValidationError next to the matching form fields (others at the top).

    `field_map` renames service fields to form fields (`{"data_residency.allowed_inference_geos":
    "allowed_geos"}`), or maps them to None: at the top, as they are. A dotted name whose last
    part is a form field lands there too; any other field's messages go to the top, named.
    """
    field_map = field_map or {}
    detail = django_validation_detail(exc) if isinstance(exc, ValidationError) else [str(exc)]
    if not isinstance(detail, dict):
        for message in detail:
            form.add_error(None, message)
        return
    for name, messages in detail.items():
        target = field_map.get(name, name)
        named = target is not None and name != "__all__"
        if target not in form.fields and target is not None:
            leaf = target.rsplit(".", 1)[-1]
            target = leaf if leaf in form.fields else None
        for message in messages:
            form.add_error(target, f"{name}: {message}" if target is None and named else message)


class DayField(forms.DateField):
    """A whole UTC day typed as YYYY-MM-DD, within the years every reader handles
    (`core.hygiene.check_datetime_range`): a day near year 1 or 9999 is a field error, never a
    500."""

    default_error_messages = {
        "invalid": "%(value)r is not a date; use YYYY-MM-DD.",
        "out_of_range": f"%(value)s is out of range; use a date between years {MIN_YEAR} and {MAX_YEAR}.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            day = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": text}) from None
        try:
            check_datetime_range(datetime.combine(day, time.min, tzinfo=UTC), "")
        except MalformedInput:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range",
                                  params={"value": text}) from None
        return day


def days_before(day, days):
    """`day` minus `days` days, or the first day the calendar has (no overflow near year 1)."""
    return FIRST_DAY if (day - FIRST_DAY).days < days else day - timedelta(days=days)


class CursorField(forms.Field):
    """A paging cursor or page number from a link the console made. A value the console could not
    have made (edited by hand, or from an old link) means the first page, with no error."""

    widget = forms.HiddenInput

    def __init__(self, *, pattern=r"[0-9]{1,18}", convert=int, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.pattern = re.compile(pattern)
        self.convert = convert

    def clean(self, value):
        value = value.strip() if isinstance(value, str) else ""
        return self.convert(value) if self.pattern.fullmatch(value) else None


def id_cursor(**kwargs):
    """A cursor that is an object's public id (`wrkspc_3kTM...`)."""
    return CursorField(pattern=r"[A-Za-z0-9_]{1,40}", convert=str, **kwargs)


class PageForm(forms.Form):
    """`?page=N` of a numbered list; anything else is the first page (Paginator.get_page shows the
    last page for a number past the end)."""

    page = CursorField(pattern=r"[0-9]{1,9}")

    @classmethod
    def number(cls, params):
        form = cls(params)
        form.is_valid()
        return form.cleaned_data.get("page") or 1


class ConfirmForm(forms.Form):
    """A confirmation page's form (no fields): it carries a service's refusal to the page."""
