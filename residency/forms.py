"""Console forms for residency pages: they only shape and check input; services decide and write."""

from django import forms


class InferenceResidencyForm(forms.Form):
    """The US-only toggle: the first POST asks for confirmation, the second (confirmed) saves."""

    us_only = forms.TypedChoiceField(
        choices=[("true", "On"), ("false", "Off")], coerce=lambda v: v == "true",
        error_messages={"required": "Choose on or off.", "invalid_choice": "Choose on or off."},
    )
    confirmed = forms.BooleanField(required=False)
