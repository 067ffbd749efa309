from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError

from core.actor import actor_from_request
from core.admin_mixins import ServiceAdminMixin

from . import services
from .models import AREAS, ApiKey, Membership, Organization, Role, User, Workspace


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Platform staff", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = []

    def has_delete_permission(self, request, obj=None):
        return False  # remove people from organizations (audited) instead; see Memberships


class OrganizationForm(forms.ModelForm):
    owner_email = forms.EmailField(required=False, help_text="Primary owner (new organizations only).")

    class Meta:
        model = Organization
        fields = ["name", "plan", "us_only_inference", "lock_reason", "legacy_opt_out"]


@admin.register(Organization)
class OrganizationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = OrganizationForm
    list_display = ["name", "id", "plan", "us_only_inference", "lock_reason", "legacy_opt_out", "created_at"]
    list_filter = ["plan", "us_only_inference", "lock_reason", "legacy_opt_out"]
    search_fields = ["name", "id"]
    readonly_fields = ["id", "created_at", "audit_seq", "audit_head_hash"]

    def get_fields(self, request, obj=None):
        fields = ["name", "plan", "us_only_inference", "lock_reason", "legacy_opt_out"]
        if obj is None:
            return ["owner_email", *fields]
        return ["id", *fields, "created_at", "audit_seq", "audit_head_hash"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.locked:
            return [*self.readonly_fields, "us_only_inference", "lock_reason"]
        return self.readonly_fields

    def perform_save(self, form, actor, change):
        data = form.cleaned_data
        if not change:
            if not data.get("owner_email"):
                raise ValidationError({"owner_email": ["A new organization needs a primary owner's email."]})
            org, _ = services.organization_create(
                actor=actor, name=data["name"], plan=data["plan"], owner_email=data["owner_email"],
                lock_reason=data.get("lock_reason"), legacy_opt_out=data.get("legacy_opt_out", False),
            )
            if data.get("us_only_inference") and not org.us_only_inference:
                services.inference_residency_set(actor=actor, organization=org, us_only=True)
            return org
        org = Organization.objects.get(pk=form.instance.pk)
        changes = {f: data[f] for f in ("name", "plan", "lock_reason", "legacy_opt_out")
                   if f in form.changed_data and f in data}
        if changes:
            org = services.organization_update(actor=actor, organization=org, **changes)
        if "us_only_inference" in form.changed_data and "us_only_inference" in data:
            org = services.inference_residency_set(actor=actor, organization=org, us_only=data["us_only_inference"])
        return org

    def has_delete_permission(self, request, obj=None):
        return False  # the audit chain keeps organizations forever


@admin.register(Role)
class RoleAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "id", "organization", "builtin", *AREAS]
    list_filter = ["builtin"]
    list_select_related = ["organization"]
    search_fields = ["name", "id", "organization__name"]
    fields = ["organization", "name", *AREAS]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.builtin:
            return ["organization", "name", *AREAS]
        return ["organization"] if obj is not None else []

    def perform_save(self, form, actor, change):
        data = form.cleaned_data
        levels = {a: data[a] for a in AREAS if a in data}
        if not change:
            if not data.get("organization"):
                raise ValidationError({"organization": ["Custom roles belong to an organization."]})
            return services.role_create(actor=actor, organization=data["organization"], name=data["name"],
                                        permissions=levels)
        return services.role_update(actor=actor, role=Role.objects.get(pk=form.instance.pk),
                                    name=data.get("name"), permissions=levels)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "organization", "role"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "organization"] if obj is not None else []

    def perform_save(self, form, actor, change):
        data = form.cleaned_data
        if not change:
            return services.member_add(actor=actor, organization=data["organization"], email=data["user"].email,
                                       role_id=data["role"].pk)
        membership = Membership.objects.select_related("organization").get(pk=form.instance.pk)
        result = services.member_change_role(actor=actor, membership=membership, role_id=data["role"].pk)
        return Membership.objects.get(pk=result.pk)

    def delete_model(self, request, obj):
        services.member_remove(actor=actor_from_request(request, source="admin"), membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("organization"):
            try:
                self.delete_model(request, membership)
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{membership}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}",
                                  messages.ERROR)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "membership", "key_hint", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["membership__user", "membership__organization"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "id", "membership__user__email"]
    readonly_fields = ["id", "membership", "name", "key_hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are created by members, who see the secret once

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        actor = actor_from_request(request, source="admin")
        for key in queryset.select_related("membership__organization"):
            services.api_key_revoke(actor=actor, api_key=key)
        self.message_user(request, "Revoked.", messages.SUCCESS)


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
        return services.workspace_update(actor=actor, workspace=workspace, name=data.get("name"),
                                         data_residency=residency)

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: archiving is permanent and audited

    @admin.action(description="Archive selected workspaces (permanent)")
    def archive(self, request, queryset):
        actor = actor_from_request(request, source="admin")
        for workspace in queryset.select_related("organization"):
            services.workspace_archive(actor=actor, workspace=workspace)
        self.message_user(request, "Archived.", messages.SUCCESS)
