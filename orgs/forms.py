"""Console forms: they only shape and check input; the services decide and write."""

import secrets

from django import forms

from .models import AREA_LABELS, AREA_LEVELS, AREAS, Level

LEVEL_TEXT = dict(Level.choices)


class MemberAddForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        help_text="They sign in with this address; a new account is created if needed.",
        error_messages={"required": "Enter the person's email address.", "invalid": "Enter a valid email address."},
    )
    role = forms.ChoiceField(error_messages={"required": "Choose a role."})

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.pk, r.name) for r in roles]


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(error_messages={"required": "Choose a role."})

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.pk, r.name) for r in roles]


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Say what will use it, e.g. “provisioning script”.",
        error_messages={"required": "Give the key a name, e.g. the tool that will use it.",
                        "max_length": "Use at most 100 characters."},
    )
    user_id = forms.ChoiceField(label="Owner", required=False,
                                help_text="The key acts with this member's permissions.")
    # One per rendered form: a reloaded or double-clicked POST must not create a second key.
    submission = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["submission"] = secrets.token_urlsafe(16)
        self.members = {m.user_id: m for m in members or []}
        if members is None:
            del self.fields["user_id"]
        else:
            self.fields["user_id"].choices = [(m.user_id, f"{m.user.display_name} ({m.user.email})") for m in members]

    def owner(self, default):
        """The chosen member (Identity & access: manage only), else `default`."""
        return self.members.get(self.cleaned_data.get("user_id") or "", default)


class RoleForm(forms.Form):
    """A custom role: a name and one level per area (the audit log is none or view)."""

    name = forms.CharField(max_length=100, error_messages={"required": "Give the role a name.",
                                                           "max_length": "Use at most 100 characters."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for area in AREAS:
            self.fields[area] = forms.ChoiceField(
                label=AREA_LABELS[area], choices=[(level, LEVEL_TEXT[level]) for level in AREA_LEVELS[area]],
                initial=Level.NONE, widget=forms.RadioSelect,
                error_messages={"invalid_choice": f"{AREA_LABELS[area]} takes one of: "
                                + ", ".join(AREA_LEVELS[area]) + ".",
                                "required": f"Choose a level for {AREA_LABELS[area]}."},
            )

    def permissions(self):
        return {area: self.cleaned_data[area] for area in AREAS}

    def matrix(self):
        """Rows for the template: (area label, bound field, [(level, choice widget or None)])."""
        rows = []
        for area in AREAS:
            bound = self[area]
            by_level = {sub.data["value"]: sub for sub in bound.subwidgets}
            rows.append((AREA_LABELS[area], bound, [(level, by_level.get(level)) for level in ("none", "view", "manage")]))
        return rows


class OneTimeCodeForm(forms.Form):
    """A code from the authenticator app (6 digits) or a recovery code."""

    code = forms.CharField(
        label="Code", max_length=32, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
        error_messages={"required": "Enter the code from your authenticator app, or a recovery code."},
    )


class TwoFactorRequirementForm(forms.Form):
    require_two_factor = forms.BooleanField(
        label="Require two-factor sign-in of members who hold Manage on any area", required=False,
        help_text="They are sent to set it up before anything else the next time they use the console.",
    )
