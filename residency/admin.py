"""Django admin pages for platform staff: geos and the model catalog (platform data), and
organizations and workspaces, whose edits go through the residency services (locks, US-only,
data residency), so they are checked and audited like any other change."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from core.actor import Source, actor_from_request
from core.admin_mixins import ServiceAdminMixin
from orgs.models import Organization, Workspace
from orgs.services import organization_rename

from . import services
from .models import CatalogModel, ChangeRequest, Geo
from .selectors import policy_of, policy_values


def held_message(change_request, what):
    return (f"{what} was not changed: the change loosens data residency and {change_request.organization.name} "
            f"asks for approval, so it was sent for approval as change request {change_request.pk}. A member with "
            "Privacy: Can manage approves or rejects it in the console (Change requests) within 72 hours.")


@admin.register(Geo)
class GeoAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "inference", "workspace", "price_multiplier", "sort_order"]
    list_editable = ["sort_order"]


@admin.register(CatalogModel)
class CatalogModelAdmin(admin.ModelAdmin):
    list_display = ["id", "display_name", "supports_inference_geo", "input_price", "cache_write_5m_price",
                    "cache_write_1h_price", "cache_read_price", "output_price"]
    list_filter = ["supports_inference_geo"]
    search_fields = ["id", "display_name"]

    def get_readonly_fields(self, request, obj=None):
        return ["id"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # usage rows and past decisions refer to it; add a new model instead


class OrganizationForm(forms.ModelForm):
    owner_email = forms.EmailField(required=False, help_text="Primary owner (new organizations only).")
    policy_locked = forms.BooleanField(
        required=False, label="Data residency policy locked by contract",
        help_text="Nobody in the organization can change a locked policy.")
    reason = forms.CharField(
        required=False, max_length=300, widget=forms.TextInput(attrs={"size": 60}),
        help_text="Needed to add or remove a lock (US-only or policy); recorded in the audit log.")

    class Meta:
        model = Organization
        fields = ["name", "plan", "us_only_inference", "lock_reason", "legacy_opt_out"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            policy = policy_of(self.instance)
            self.initial["policy_locked"] = bool(policy and policy.locked)


@admin.register(Organization)
class OrganizationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Plans, locks and the legacy flag are platform staff's; every change goes through the
    residency services (a lock only on the usage-based plan, added or removed with a reason;
    a locked organization's plan stays until the lock goes; flagging a legacy opt-out applies its
    migrated state at once). The data residency policy is the organization's to set; staff only
    lock or unlock it."""

    form = OrganizationForm
    list_display = ["name", "id", "plan", "us_only_inference", "lock_reason", "legacy_opt_out", "created_at"]
    list_filter = ["plan", "us_only_inference", "lock_reason", "legacy_opt_out"]
    search_fields = ["name", "id"]
    readonly_fields = ["id", "created_at", "data_residency_policy"]

    def get_fields(self, request, obj=None):
        fields = ["name", "plan", "us_only_inference", "lock_reason", "legacy_opt_out"]
        if obj is None:
            return ["owner_email", *fields, "policy_locked", "reason"]
        return ["id", *fields, "data_residency_policy", "policy_locked", "reason", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # from the database: a submitted form changes `obj` in place before the page is redrawn
        if obj is not None and Organization.objects.filter(pk=obj.pk, lock_reason__isnull=False).exists():
            return [*self.readonly_fields, "us_only_inference"]  # a lock keeps US-only on
        return self.readonly_fields

    @admin.display(description="Data residency policy")
    def data_residency_policy(self, obj):
        values = policy_values(policy_of(obj))
        allowed = values["allowed_inference_geos"]
        return (f"allowed {allowed if isinstance(allowed, str) else ', '.join(allowed)}; "
                f"default {values['default_inference_geo']} (set by the organization in the console or REST)")

    def perform_save(self, form, actor, change):
        data = form.cleaned_data
        reason = data.get("reason", "")
        if not change:
            if not data.get("owner_email"):
                raise ValidationError({"owner_email": ["A new organization needs a primary owner's email."]})
            org, _ = services.organization_provision(
                actor=actor, name=data["name"], plan=data["plan"], owner_email=data["owner_email"],
                lock_reason=data.get("lock_reason"), legacy_opt_out=data.get("legacy_opt_out", False),
            )
            if data.get("us_only_inference") and not org.us_only_inference:
                services.inference_residency_set(actor=actor, organization=org, us_only=True)
            if data.get("policy_locked"):
                services.data_residency_policy_lock_set(actor=actor, organization=org, locked=True, reason=reason)
            return org
        org = Organization.objects.get(pk=form.instance.pk)
        if "name" in form.changed_data and "name" in data:
            org = organization_rename(actor=actor, organization=org, name=data["name"])
        changes = {f: data[f] for f in ("plan", "lock_reason", "legacy_opt_out") if f in form.changed_data and f in data}
        if changes:
            org = services.organization_terms_update(actor=actor, organization=org, reason=reason, **changes)
        if "us_only_inference" in form.changed_data and "us_only_inference" in data:
            result = services.inference_residency_set(actor=actor, organization=org,
                                                      us_only=data["us_only_inference"])
            if isinstance(result, ChangeRequest):
                self.hold_notice(form, held_message(result, "US-only inference"))
            else:
                org = result
        if "policy_locked" in form.changed_data:
            services.data_residency_policy_lock_set(actor=actor, organization=org, locked=data["policy_locked"],
                                                    reason=reason)
        return org

    def has_delete_permission(self, request, obj=None):
        return False  # the audit chain keeps organizations forever


class WorkspaceForm(forms.ModelForm):
    allowed_inference_geos = forms.CharField(
        help_text='Type "unrestricted", or geo codes separated by commas (e.g. "us" or "global, us").'
    )

    class Meta:
        model = Workspace
        fields = ["organization", "name", "workspace_geo", "default_inference_geo"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "allowed_inference_geos" in self.fields:
            value = self.instance.allowed_geos_value
            self.initial["allowed_inference_geos"] = value if isinstance(value, str) else ", ".join(value)

    def clean_allowed_inference_geos(self):
        raw = self.cleaned_data["allowed_inference_geos"].strip()
        if raw == "unrestricted":
            return raw
        return [g.strip() for g in raw.split(",") if g.strip()]


@admin.register(Workspace)
class WorkspaceAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = WorkspaceForm
    list_display = ["name", "id", "organization", "workspace_geo", "allowed_geos",
                    "default_inference_geo", "created_at", "archived_at"]
    list_select_related = ["organization"]
    list_filter = ["workspace_geo", "default_inference_geo", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "id", "organization__name"]
    actions = ["archive"]

    @admin.display(description="Allowed inference geos")
    def allowed_geos(self, obj):
        value = obj.allowed_geos_value
        return value if isinstance(value, str) else ", ".join(value)

    def get_fields(self, request, obj=None):
        return ["organization", "name", "workspace_geo", "allowed_inference_geos", "default_inference_geo"] + (
            ["id", "created_at", "archived_at"] if obj else []
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["id", "organization", "workspace_geo", "created_at", "archived_at"]

    def perform_save(self, form, actor, change):
        data = form.cleaned_data
        residency = {
            "allowed_inference_geos": data.get("allowed_inference_geos", "unrestricted"),
            "default_inference_geo": data.get("default_inference_geo"),
        }
        if not change:
            residency["workspace_geo"] = data.get("workspace_geo")
            return services.workspace_create(actor=actor, organization=data["organization"], name=data["name"],
                                             data_residency=residency)
        workspace = Workspace.objects.select_related("organization").get(pk=form.instance.pk)
        result = services.workspace_update(actor=actor, workspace=workspace, name=data.get("name"),
                                           data_residency=residency)
        if isinstance(result, ChangeRequest):
            self.hold_notice(form, held_message(result, f"Workspace {workspace.name}"))
            return workspace
        return result

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: archiving is permanent and audited

    @admin.action(description="Archive selected workspaces (permanent)")
    def archive(self, request, queryset):
        actor = actor_from_request(request, source=Source.ADMIN)
        for workspace in queryset.select_related("organization"):
            services.workspace_archive(actor=actor, workspace=workspace)
        self.message_user(request, "Archived.", messages.SUCCESS)
