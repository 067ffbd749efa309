from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError

from core.actor import Source, actor_from_request
from core.admin_mixins import ServiceAdminMixin

from . import services
from .models import AREAS, ApiKey, Membership, Role, User


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
        services.member_remove(actor=actor_from_request(request, source=Source.ADMIN), membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("organization"):
            try:
                self.delete_model(request, membership)
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{membership}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}",
                                  messages.ERROR)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "membership", "key_hint", "created_at", "last_used_at", "status", "revoked_at"]
    list_select_related = ["membership__user", "membership__organization"]
    list_filter = ["status", "revoked_at"]
    search_fields = ["name", "id", "membership__user__email"]
    # nothing is edited here: status changes go through the services (audited), the action below
    readonly_fields = ["id", "membership", "name", "key_hint", "created_by", "created_at", "last_used_at", "status",
                       "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are created by members, who see the secret once

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        actor = actor_from_request(request, source=Source.ADMIN)
        for key in queryset.select_related("membership__organization"):
            services.api_key_revoke(actor=actor, api_key=key)
        self.message_user(request, "Revoked.", messages.SUCCESS)
