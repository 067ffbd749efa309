import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor, Source
from core.errors import django_validation_detail, flatten_detail
from orgs.models import LockReason, Plan
from orgs.services import api_key_create
from residency.services import organization_provision


class Command(BaseCommand):
    help = "Create an organization with its primary owner and an API key for that owner."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", required=True, choices=Plan.values)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", default=None)
        parser.add_argument("--lock-reason", choices=LockReason.values, default=None)
        parser.add_argument("--legacy-opt-out", action="store_true")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON on stdout.")

    def handle(self, *args, **opts):
        actor = Actor.system("bootstrap_org command")
        try:
            org, membership = organization_provision(
                actor=actor, name=opts["name"], plan=opts["plan"], owner_email=opts["owner_email"],
                owner_password=opts["owner_password"], lock_reason=opts["lock_reason"],
                legacy_opt_out=opts["legacy_opt_out"],
            )
            owner_actor = Actor(user=membership.user, source=Source.COMMAND, system_label="bootstrap_org command")
            _, secret = api_key_create(actor=owner_actor, organization=org, name="bootstrap")
        except ValidationError as exc:
            raise CommandError("; ".join(flatten_detail(django_validation_detail(exc))))
        result = {"organization_id": org.id, "owner_user_id": membership.user_id, "api_key": secret}
        if opts["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"Created {org.name} ({org.id}) on the {org.plan} plan.\n"
                f"Primary owner: {membership.user.email} ({membership.user_id})\n"
                f"API key (shown once): {secret}"
            )
