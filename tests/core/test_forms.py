"""core.forms: the one service-error adapter, the day field and the paging cursor fields."""

from datetime import date

import pytest
from django import forms
from django.core.exceptions import ValidationError

from core.forms import FIRST_DAY, CursorField, DayField, PageForm, add_service_errors, days_before, id_cursor


class NameGeoForm(forms.Form):
    name = forms.CharField(required=False)
    default_inference_geo = forms.CharField(required=False)


def errors_after(exc, **kwargs):
    form = NameGeoForm({})
    assert form.is_valid()
    add_service_errors(form, exc, **kwargs)
    return form.errors


@pytest.mark.parametrize("exc,kwargs,expected", [
    (ValidationError({"name": ["Give it a name."]}), {}, {"name": ["Give it a name."]}),
    (ValidationError({"data_residency.default_inference_geo": ["Not allowed."]}), {},
     {"default_inference_geo": ["Not allowed."]}),
    (ValidationError({"geos": ["Tick one."]}), {"field_map": {"geos": "name"}}, {"name": ["Tick one."]}),
    (ValidationError({"permissions": ["Too much access."]}), {"field_map": {"permissions": None}},
     {"__all__": ["Too much access."]}),
    (ValidationError({"limit": ["Too many."]}), {}, {"__all__": ["limit: Too many."]}),
    (ValidationError("The workspace is archived."), {}, {"__all__": ["The workspace is archived."]}),
    (ValidationError({"__all__": ["Whole form."]}), {}, {"__all__": ["Whole form."]}),
])
def test_service_errors_land_next_to_their_field_or_at_the_top(exc, kwargs, expected):
    assert errors_after(exc, **kwargs) == expected


class Period(forms.Form):
    day = DayField()


@pytest.mark.parametrize("raw,day,error", [
    ("", None, None),
    ("2026-03-01", date(2026, 3, 1), None),
    (" 2026-03-01 ", date(2026, 3, 1), None),
    ("0001-01-01", date(1, 1, 1), None),
    ("9998-12-31", date(9998, 12, 31), None),
    ("9999-12-31", None, "9999-12-31 is out of range; use a date between years 1 and 9998."),
    ("0000-01-01", None, "'0000-01-01' is not a date; use YYYY-MM-DD."),
    ("2026-02-30", None, "'2026-02-30' is not a date; use YYYY-MM-DD."),
    ("01/03/2026", None, "'01/03/2026' is not a date; use YYYY-MM-DD."),
    ("2026-03-01T00:00:00Z", None, "'2026-03-01T00:00:00Z' is not a date; use YYYY-MM-DD."),
])
def test_day_field(raw, day, error):
    form = Period({"day": raw})
    assert form.is_valid() is (error is None)
    if error:
        assert form.errors["day"] == [error]
    else:
        assert form.cleaned_data["day"] == day


def test_days_before_stops_at_the_first_day():
    assert days_before(date(2026, 3, 30), 29) == date(2026, 3, 1)
    assert days_before(date(1, 1, 5), 29) == FIRST_DAY


class Cursors(forms.Form):
    seq = CursorField()
    after_id = id_cursor()


@pytest.mark.parametrize("raw,seq,after_id", [
    ({"seq": "42", "after_id": "wrkspc_abc"}, 42, "wrkspc_abc"),
    ({"seq": "-1", "after_id": "a b"}, None, None),
    ({"seq": "9" * 19, "after_id": "x" * 41}, None, None),
    ({"seq": "\u0664\u0662", "after_id": "wrkspc_é"}, None, None),
    ({}, None, None),
])
def test_cursor_fields_never_fail_they_fall_back(raw, seq, after_id):
    form = Cursors(raw)
    assert form.is_valid()
    assert (form.cleaned_data["seq"], form.cleaned_data["after_id"]) == (seq, after_id)


@pytest.mark.parametrize("raw,number", [("3", 3), ("", 1), ("0", 1), ("last", 1), ("9" * 10, 1)])
def test_page_number(raw, number):
    assert PageForm.number({"page": raw}) == number
