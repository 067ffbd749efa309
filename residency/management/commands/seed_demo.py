from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.actor import Actor, Source
from orgs import services as org_services
from orgs.mail import describe_delivery
from orgs.models import Membership, Organization, User
from residency import services
from residency.demo import seed_demo_usage

PASSWORD = "demo-pass-2026"
DEMO_USAGE_ORG = "Acme Analytics"  # gets two weeks of usage rows for the Usage & cost page

# name, plan, lock reason, legacy flag, [(email, full name, role)], [(workspace, residency)]
ORGS = [
    ("Acme Analytics", "enterprise_usage", None, False, [
        ("ana@acme.test", "Ana Ruiz", "primary_owner"),
        ("omar@acme.test", "Omar Haddad", "owner"),
        ("ada@acme.test", "Ada Byrne", "admin"),
        ("uma@acme.test", "Uma Patel", "user"),
        ("priya@acme.test", "Priya Shah", "Privacy manager"),
        ("victor@acme.test", "Victor Lee", "Privacy viewer"),
        ("nina@acme.test", "Nina Berg", "Billing analyst"),
        ("audrey@acme.test", "Audrey Kim", "Auditor"),
        # no account yet: the demo's mail folder holds her invitation link (only she would get it)
        ("new.hire@acme.test", "", "user"),
    ], [
        ("Production", {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}),
        ("Staging", {}),
        ("Research", {"allowed_inference_geos": ["global", "us"], "default_inference_geo": "global"}),
    ]),
    ("Borealis Health", "enterprise_usage", "contract", False, [
        ("bea@borealis.test", "Bea Novak", "primary_owner"),
        ("ana@acme.test", "Ana Ruiz", "owner"),
    ], [("Clinical", {"allowed_inference_geos": ["us"], "default_inference_geo": "us"})]),
    ("Cedar Legal", "enterprise_usage", "legacy_opt_out", True, [
        ("carl@cedar.test", "Carl Stone", "primary_owner"),
    ], [("Contracts", {"allowed_inference_geos": ["us"], "default_inference_geo": "us"})]),
    # opted out of global routing before US-only existed: flagged as a legacy opt-out, it is in its
    # migrated state at once (US-only locked on, the data residency policy ["us"], workspaces in us)
    ("Fjord Shipping", "enterprise_usage", None, True, [
        ("fiona@fjord.test", "Fiona Dahl", "primary_owner"),
    ], [("Logistics", {}), ("Customs", {})]),
    ("Delta Retail", "enterprise_seat", None, False, [
        ("dana@delta.test", "Dana Cole", "primary_owner"),
        ("dev@delta.test", "Dev Rao", "user"),
    ], [("Storefront", {})]),
    ("Echo Studio", "team", None, False, [
        ("eli@echo.test", "Eli Park", "primary_owner"),
        ("emma@echo.test", "Emma Wu", "user"),
    ], [("Default", {})]),
]
CUSTOM_ROLES = {
    "Privacy manager": {"privacy": "manage"},
    "Privacy viewer": {"privacy": "view"},
    "Billing analyst": {"billing": "view", "analytics": "view"},
    "Auditor": {"audit_log": "view", "privacy": "view"},
}


class Command(BaseCommand):
    help = "Create demo organizations (one per plan, plus locked ones) with members in every role."

    def handle(self, *args, **opts):
        if settings.PRODUCTION:
            # the demo's logins and published password must never exist in production (SPEC §6)
            raise CommandError("seed_demo refuses to run under the production settings "
                               "(config.settings.production), whatever DEBUG says: its logins share a published password.")
        system = Actor.system("seed_demo command")
        created = []
        with transaction.atomic():
            for name, plan, lock, legacy, members, workspaces in ORGS:
                if Organization.objects.filter(name=name).exists():
                    continue
                # people first, with names, so the audit log reads "Ana Ruiz added ..."
                for email, full_name, _ in members:
                    if full_name and not User.objects.filter(email=email).exists():
                        first, last = full_name.split(" ", 1)
                        User.objects.create_user(email=email, password=PASSWORD, first_name=first, last_name=last)
                primary_email, primary_name, _ = members[0]
                org, primary = services.organization_provision(
                    actor=system, name=name, plan=plan, owner_email=primary_email,
                    lock_reason=lock, legacy_opt_out=legacy,
                )
                owner = Actor(user=primary.user, source=Source.COMMAND)
                role_ids = {}
                if org.is_enterprise:
                    for role_name, levels in CUSTOM_ROLES.items():
                        if any(r == role_name for _, _, r in members):
                            role_ids[role_name] = org_services.role_create(
                                actor=owner, organization=org, name=role_name, permissions=levels).pk
                for email, _full_name, role in members[1:]:
                    org_services.member_add(actor=owner, organization=org, email=email,
                                        role_id=role_ids.get(role, role))
                for ws_name, residency in workspaces:
                    services.workspace_create(actor=owner, organization=org, name=ws_name, data_residency=residency)
                if name == DEMO_USAGE_ORG:
                    seed_demo_usage(actor=owner, organization=org)
                created.append(org)
            if not User.objects.filter(email="staff@residency.test").exists():
                User.objects.create_superuser(email="staff@residency.test", password=PASSWORD,
                                              first_name="Platform", last_name="Staff")
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready ({len(created)} organizations created now)." if created else "Demo data already present."
        ))
        self.stdout.write(f"\nEvery demo login uses the password: {PASSWORD}\n")
        for org in Organization.objects.filter(name__in=[o[0] for o in ORGS]).order_by("name"):
            lock = f", locked: {org.lock_reason}" if org.lock_reason else ""
            self.stdout.write(f"{org.name} ({org.get_plan_display()}{lock})")
            for m in Membership.objects.filter(organization=org).select_related("user", "role").order_by("created_at"):
                self.stdout.write(f"    {m.user.email:<24} {m.role.name}")
        self.stdout.write("Django admin (platform staff): staff@residency.test")
        self.stdout.write(f"\nMail (invitations, notices) goes to {describe_delivery()}.")
        if settings.EMAIL_FILE_PATH:
            self.stdout.write("Platform staff can read it in the console at /dev/sent-mail/.")
