"""Console forms for residency pages: they only shape and check input, in the console's words;
services decide and write (and check again: a service's ValidationError reaches the page through
`core.forms.add_service_errors`)."""

from datetime import UTC, datetime, timedelta

from django import forms
from django.utils.safestring import mark_safe

from core.forms import DayField, add_service_errors, days_before, id_cursor
from orgs.selectors import member_of

from .models import Surface
from .policy import POLICY_VIOLATION, UNRESTRICTED, default_geo_allowed

RESTRICTED = "restricted"
NAME_ERRORS = {"required": "Give the workspace a name.", "max_length": "Use at most 200 characters."}


class InferenceResidencyForm(forms.Form):
    """The US-only toggle: the first POST asks for confirmation, the second (confirmed) saves."""

    us_only = forms.TypedChoiceField(
        choices=[("true", "On"), ("false", "Off")], coerce=lambda v: v == "true",
        error_messages={"required": "Choose on or off.", "invalid_choice": "Choose on or off."},
    )
    confirmed = forms.BooleanField(required=False)


# --- workspaces -------------------------------------------------------------------------------


class WorkspaceListForm(forms.Form):
    """Which workspaces the list shows, and where its page starts. A `show` the console does not
    offer shows the active ones; a cursor it could not have made shows the first page."""

    SHOW_CHOICES = [("active", "Active"), ("archived", "Archived"), ("all", "All")]

    show = forms.ChoiceField(choices=SHOW_CHOICES, required=False,
                             widget=forms.Select(attrs={"data-autosubmit": ""}))
    after_id = id_cursor()
    before_id = id_cursor()

    def params(self):
        self.is_valid()
        data = self.cleaned_data
        return data.get("show") or "active", data.get("after_id"), data.get("before_id")


class InferenceGeosForm(forms.Form):
    """Where inference may run: unrestricted or a set of geos, and the default geo, which must be one
    of them (`policy.default_geo_allowed`). Shared by the new-workspace, workspace and organization
    policy forms: the cleaned pair is `cleaned_data["inference_geos"]`, {"allowed_inference_geos",
    "default_inference_geo"}, as services take it. `current` is that pair before the change (the
    policy's, for a new workspace)."""

    allowed_mode = forms.ChoiceField(
        label="Allowed inference geos",
        choices=[(UNRESTRICTED, "Unrestricted (any geo, including ones added later)"),
                 (RESTRICTED, "Only these geos:")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose unrestricted or a set of geos.",
                        "invalid_choice": "Choose unrestricted or a set of geos."},
    )
    allowed_geos = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Unknown geo %(value)s; tick geos from the list."},
    )
    default_inference_geo = forms.ChoiceField(
        label="Default inference geo", required=False, widget=forms.Select(attrs={"id": "default-geo"}),
        help_text=mark_safe(
            "Used when a request names no <code>inference_geo</code>. It must be one of the allowed geos. "
            "Running in <code>us</code> costs 1.1× on Claude Opus 4.6, Sonnet 4.6 and later models."),
    )

    def __init__(self, data=None, *, inference_geos, current, initial=None, **kwargs):
        allowed = current["allowed_inference_geos"]
        initial = {
            "allowed_mode": UNRESTRICTED if allowed == UNRESTRICTED else RESTRICTED,
            "allowed_geos": [] if allowed == UNRESTRICTED else list(allowed),
            "default_inference_geo": current["default_inference_geo"],
            **(initial or {}),
        }
        if data is not None and not data.get("default_inference_geo"):
            # The select posts nothing when no geo is ticked (the page's script empties it): keep
            # the current default rather than report a second, confusing error.
            data = data.copy()
            data["default_inference_geo"] = current["default_inference_geo"]
        super().__init__(data, initial=initial, **kwargs)
        self.current = {"allowed_inference_geos": allowed, "default_inference_geo": current["default_inference_geo"]}
        self.codes = [g.code for g in inference_geos]
        self.fields["allowed_geos"].choices = [(g.code, f"{g.name} ({g.code})") for g in inference_geos]
        # the same words as the allowed-geo checkboxes: "United States (us)"
        names = {g.code: f"{g.name} ({g.code})" for g in inference_geos}
        self.fields["default_inference_geo"].choices = [(code, names.get(code, code)) for code in self.codes]
        self.fields["default_inference_geo"].error_messages["invalid_choice"] = (
            f"%(value)r is not a valid inference geo; choose one of: {', '.join(self.codes)}.")

    def clean(self):
        data = super().clean()
        mode = data.get("allowed_mode")
        if mode == UNRESTRICTED:
            allowed = UNRESTRICTED
        elif mode == RESTRICTED and "allowed_geos" not in self.errors:
            ticked = set(data.get("allowed_geos") or [])
            allowed = [code for code in self.codes if code in ticked]  # display order, once each
            if not allowed:
                self.add_error("allowed_geos", "Tick at least one geo, or choose Unrestricted.")
                return data
        else:
            return data
        default = data.get("default_inference_geo")
        if default and not default_geo_allowed(default, allowed):
            self.add_error("default_inference_geo",
                           f"{default} is not one of the allowed geos; choose the default from: "
                           f"{', '.join(allowed)}.")
            return data
        data["inference_geos"] = {"allowed_inference_geos": allowed, "default_inference_geo": default}
        return data

    @property
    def changes_inference_geos(self):
        """Whether the cleaned geos differ from `current` (a change worth confirming)."""
        return self.cleaned_data.get("inference_geos", self.current) != self.current


def add_residency_errors(form, exc, *, policy, inference_geos):
    """A service's ValidationError about a workspace's data residency, on an InferenceGeosForm: a
    refusal by the organization policy is said in the console's words at the field it is about
    (the service's message, for API clients, names JSON fields); anything else as the service says
    it (`core.forms.add_service_errors`). `policy`: the policy's values (`selectors.policy_values`)."""
    details = getattr(exc, "details", None) or {}
    if details.get("error_code") != POLICY_VIOLATION or policy["allowed_inference_geos"] == UNRESTRICTED:
        add_service_errors(form, exc, field_map={"data_residency.allowed_inference_geos": "allowed_geos"})
        return
    names = {g.code: f"{g.name} ({g.code})" for g in inference_geos}
    bound = ", ".join(names.get(code, code) for code in policy["allowed_inference_geos"])
    if details.get("field") == "default_inference_geo":
        form.add_error("default_inference_geo", f"The organization's data residency policy allows only {bound}; "
                                                "choose the default from those geos.")
    else:
        form.add_error("allowed_geos", f"The organization's data residency policy allows only {bound}; "
                                       "tick only those geos.")


class WorkspaceCreateForm(InferenceGeosForm):
    """A new workspace with its whole data residency in one step, starting from the organization
    policy's values (SPEC §5): it is never unrestricted for a moment."""

    name = forms.CharField(max_length=200, error_messages=NAME_ERRORS)
    workspace_geo = forms.ChoiceField(
        label="Workspace geo", initial="us",
        help_text=mark_safe(
            "<strong>This is permanent.</strong> The workspace geo is where the workspace's data is stored "
            "at rest and where endpoint processing (image transcoding, code execution) happens. It is chosen "
            "now and can never be changed. Where inference runs (below) can be changed at any time."),
    )

    field_order = ["name", "workspace_geo"]

    def __init__(self, data=None, *, workspace_geos, current, **kwargs):
        if data is not None and "allowed_mode" not in data and "allowed_geos" not in data:
            # no inference geos sent at all: the policy's, as a REST create without data_residency
            allowed = current["allowed_inference_geos"]
            data = data.copy()
            data["allowed_mode"] = UNRESTRICTED if allowed == UNRESTRICTED else RESTRICTED
            if allowed != UNRESTRICTED:
                data.setlist("allowed_geos", list(allowed))
        super().__init__(data, current=current, **kwargs)
        codes = ", ".join(g.code for g in workspace_geos)
        field = self.fields["workspace_geo"]
        field.choices = [(g.code, f"{g.name} ({g.code})") for g in workspace_geos]
        field.error_messages.update({
            "required": "Choose where the workspace's data is stored.",
            "invalid_choice": f"%(value)r is not an available workspace geo; choose one of: {codes}.",
        })

    def clean(self):
        data = super().clean()
        if "inference_geos" in data and data.get("workspace_geo"):
            data["data_residency"] = {"workspace_geo": data["workspace_geo"], **data["inference_geos"]}
        return data


class WorkspaceResidencyForm(InferenceGeosForm):
    """A workspace's name and where its inference may run. A change of where inference runs is
    confirmed first (`confirmed`), with what it would have cost."""

    name = forms.CharField(max_length=200, error_messages=NAME_ERRORS)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = ["name"]

    def __init__(self, data=None, *, workspace, inference_geos, **kwargs):
        super().__init__(data, inference_geos=inference_geos, current={
            "allowed_inference_geos": workspace.allowed_geos_value,
            "default_inference_geo": workspace.default_inference_geo}, initial={"name": workspace.name}, **kwargs)

    def clean(self):
        data = super().clean()
        if "inference_geos" in data:
            data["data_residency"] = data["inference_geos"]
        return data


class DataResidencyPolicyForm(InferenceGeosForm):
    """The organization policy (SPEC §5): the geos every workspace may use, the default for requests
    whose workspace default falls outside, and whether to bring workspaces outside it inside now."""

    apply_to_workspaces = forms.BooleanField(
        required=False, label="Bring workspaces outside the policy inside it now",
        help_text="Each one's allowed geos become those it shares with the policy, and its default the policy's "
                  "default if its own is no longer allowed. Left unticked, they are listed here and their requests "
                  "are still kept inside the policy when they are routed.")
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class WorkspaceArchiveForm(forms.Form):
    confirm = forms.BooleanField(error_messages={"required": "Tick the box to confirm that archiving is permanent."})

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm"].label = f"I understand that archiving {workspace.name} is permanent"


class WorkspaceAdminForm(forms.Form):
    """Grant (`admin=on`) or revoke (`admin=off`) one member's admin of one workspace."""

    membership_id = forms.CharField(
        label="Make admin", max_length=40,
        error_messages={"required": "Choose a member of this organization.",
                        "max_length": "Choose a member of this organization."},
    )
    admin = forms.ChoiceField(
        choices=[("on", "Make admin"), ("off", "Remove")], widget=forms.HiddenInput,
        error_messages={"required": "Say whether to make them an admin or remove them.",
                        "invalid_choice": "Say whether to make them an admin or remove them."},
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_membership_id(self):
        membership = member_of(self.organization, membership_id=self.cleaned_data["membership_id"])
        if membership is None:
            raise forms.ValidationError("Choose a member of this organization.")
        return membership


# --- usage ------------------------------------------------------------------------------------


class UsageFilterForm(forms.Form):
    """The usage page's period (UTC days, `to` inclusive; by default the last 30 days), workspace,
    model and surface (API or Claude apps); `format=csv` downloads the same figures."""

    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    # `from` is a Python keyword, so the two days are declared through the class namespace
    vars()["from"] = DayField(label="From")
    vars()["to"] = DayField(label="To")
    workspace = forms.ChoiceField(required=False,
                                  error_messages={"invalid_choice": "No such workspace in this organization."})
    model = forms.ChoiceField(required=False, error_messages={"invalid_choice": "No such model."})
    surface = forms.ChoiceField(
        required=False, choices=[("", "API and Claude apps")] + [(v, label) for v, label in Surface.choices],
        error_messages={"invalid_choice": "Choose API, Claude apps, or both."})
    format = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, *, workspaces, models, today=None, first_usage_day=None, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today or datetime.now(UTC).date()
        self.first_usage_day = first_usage_day
        self.fields["workspace"].choices = [("", "All workspaces")] + [
            (w.pk, f"{w.name} (archived)" if w.is_archived else w.name) for w in workspaces]
        self.fields["model"].choices = [("", "All models")] + [(m.pk, m.display_name) for m in models]

    def clean(self):
        data = super().clean()
        if data.get("format") not in ("", None, "csv"):
            self.add_error(None, f"Unknown format {data['format']!r}; the page downloads as format=csv.")
        if "from" in self.errors or "to" in self.errors:
            return data
        end = data.get("to") or self.today
        start = data.get("from") or days_before(end, self.DEFAULT_DAYS - 1)
        if not data.get("from") and not data.get("to") and self.first_usage_day:
            start = min(max(start, self.first_usage_day), end)
        if end < start:
            self.add_error("to", "The end date is before the start date.")
        elif (end - start) >= timedelta(days=self.MAX_DAYS):
            self.add_error("from", f"Show at most {self.MAX_DAYS} days at a time.")
        else:
            data["from"], data["to"] = start, end
            # the inputs show the days the page covers
            self.data = self.data.copy()
            self.data["from"], self.data["to"] = start.isoformat(), end.isoformat()
        return data


# --- approval of loosening changes (SPEC §8) ---------------------------------------------------


class ApprovalSettingsForm(forms.Form):
    """Turn approval of loosening changes on (the primary owner) or ask to turn it off."""

    loosening_requires_approval = forms.TypedChoiceField(
        choices=[("true", "On"), ("false", "Off")], coerce=lambda v: v == "true",
        error_messages={"required": "Choose on or off.", "invalid_choice": "Choose on or off."},
    )


class ChangeRequestDecisionForm(forms.Form):
    """The confirmation of an approval, a rejection (with an optional reason) or a withdrawal."""

    reason = forms.CharField(
        required=False, max_length=500, label="Reason (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to the requester and the other approvers, and kept in the audit log.",
        error_messages={"max_length": "Use at most 500 characters."},
    )


class ChangeRequestListForm(forms.Form):
    """Where the history of decided requests starts (a cursor the console made, else the first page)."""

    after_id = id_cursor()
