"""Organizations, their members and roles, workspaces and API keys (SPEC §2).

Tables only: invariants the database can hold are constraints here; the rest live in
`orgs/services.py`.
"""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from guardian.models import UserObjectPermissionBase

from core.ids import IdFactory


class Plan(models.TextChoices):
    TEAM = "team", "Team"
    ENTERPRISE_SEAT = "enterprise_seat", "Enterprise (seat-based)"
    ENTERPRISE_USAGE = "enterprise_usage", "Enterprise (usage-based)"


ENTERPRISE_PLANS = (Plan.ENTERPRISE_SEAT, Plan.ENTERPRISE_USAGE)


class LockReason(models.TextChoices):
    LEGACY_OPT_OUT = "legacy_opt_out", "Opted out of global routing before this setting existed"
    CONTRACT = "contract", "US-only inference is part of the contract"


class Area(models.TextChoices):
    """The admin areas a role sets a level on (SPEC §2 Roles)."""

    IDENTITY_ACCESS = "identity_access", "Identity & access"
    BILLING = "billing", "Billing"
    ANALYTICS = "analytics", "Analytics"
    PRIVACY = "privacy", "Privacy"
    USER_MANAGEMENT = "user_management", "User management"
    LIBRARIES = "libraries", "Libraries"
    AUDIT_LOG = "audit_log", "Audit log"


class Level(models.TextChoices):
    NONE = "none", "No access"
    VIEW = "view", "Can view"
    MANAGE = "manage", "Can manage"


AREAS = tuple(Area.values)
AREA_LABELS = dict(Area.choices)
AREA_LEVELS = {area: (tuple(Level.values) if area != Area.AUDIT_LOG else (Level.NONE.value, Level.VIEW.value))
               for area in AREAS}
LEVEL_RANK = {Level.NONE: 0, Level.VIEW: 1, Level.MANAGE: 2}
LEVEL_LABELS = dict(Level.choices)


def permission_label(area, level):
    """How every page and message names an access level: "Privacy: Can manage", "Audit log: Can view"."""
    return f"{AREA_LABELS.get(area, area)}: {LEVEL_LABELS.get(level, level)}"


class BuiltinRole(models.TextChoices):
    PRIMARY_OWNER = "primary_owner", "Primary owner"
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    USER = "user", "User"


MAX_ACTIVE_WORKSPACES = 100
# the colours a workspace is given when its creator names none (Admin API `display_color`)
WORKSPACE_COLORS = ("#d97757", "#6a9bcc", "#788c5d", "#c4a35a", "#b06f9f", "#5f9ea0", "#cc785c", "#8e7cc3",
                    "#4f8a8b", "#d4a27f", "#7d9ec0", "#a3a86b")


def random_workspace_color():
    return secrets.choice(WORKSPACE_COLORS)


def normalize_email(email):
    """One account per email, compared case-insensitively (SPEC §6): stored lowercased."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        return normalize_email(email)

    def get_by_natural_key(self, username):
        # sign-in: "Ana@Acme.test" is ana@acme.test
        return self.get(email=normalize_email(username))

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Signs in with their email; belongs to organizations through Membership."""

    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("user"), editable=False)
    username = None
    email = models.EmailField("email address", unique=True)
    # the organization the console opens in at the next sign-in (set by the switcher)
    last_organization_id = models.CharField(max_length=40, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="user_email_lowercase",
                                   violation_error_message="Email addresses are stored in lower case."),
        ]

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    @property
    def display_name(self):
        return self.get_full_name() or self.email

    def __str__(self):
        return self.display_name


class Organization(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("org"), editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=20, choices=Plan.choices)
    us_only_inference = models.BooleanField("US-only inference", default=False)
    lock_reason = models.CharField(max_length=20, choices=LockReason.choices, null=True, blank=True)
    legacy_opt_out = models.BooleanField(
        default=False, help_text="Opted out of global routing before US-only inference existed."
    )
    # members holding `manage` on any area must sign in with two-factor (set by the primary owner)
    require_two_factor = models.BooleanField(
        "two-factor sign-in required for managers", default=False,
        help_text="Members who hold manage on any area must use two-factor sign-in.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__in=Plan.values), name="org_plan_valid"
            ),
            models.CheckConstraint(
                condition=Q(lock_reason__isnull=True)
                | Q(lock_reason__in=LockReason.values, us_only_inference=True),
                name="org_locked_means_us_only_on",
                violation_error_message="A locked organization has US-only inference on: tick US-only inference too.",
            ),
        ]
        permissions = [
            (f"{level}_{area}", f"{level.capitalize()} {AREA_LABELS[area]}")
            for area in AREAS
            for level in AREA_LEVELS[area]
            if level != Level.NONE
        ]

    @property
    def locked(self):
        return self.lock_reason is not None

    @property
    def residency_available(self):
        return self.plan == Plan.ENTERPRISE_USAGE

    @property
    def is_enterprise(self):
        return self.plan in ENTERPRISE_PLANS

    def __str__(self):
        return self.name


class Role(models.Model):
    """A built-in role (id `owner`, ...) or an organization's custom role (id `role_...`)."""

    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("role"), editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="custom_roles"
    )
    name = models.CharField(max_length=100)
    builtin = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    identity_access = models.CharField(max_length=6, choices=Level.choices, default=Level.NONE)
    billing = models.CharField(max_length=6, choices=Level.choices, default=Level.NONE)
    analytics = models.CharField(max_length=6, choices=Level.choices, default=Level.NONE)
    privacy = models.CharField(max_length=6, choices=Level.choices, default=Level.NONE)
    user_management = models.CharField(max_length=6, choices=Level.choices, default=Level.NONE)
    libraries = models.CharField(max_length=6, choices=Level.choices, default=Level.NONE)
    audit_log = models.CharField(max_length=6, choices=Level.choices[:2], default=Level.NONE)

    class Meta:
        ordering = ["-builtin", "created_at", "name"]
        constraints = [
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{area}__in": list(AREA_LEVELS[area])}),
                    name=f"role_{area}_level_valid",
                )
                for area in AREAS
            ],
            models.CheckConstraint(
                condition=Q(builtin=True, organization__isnull=True)
                | Q(builtin=False, organization__isnull=False),
                name="role_builtin_xor_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "name"], name="role_name_unique_per_org"
            ),
        ]

    @property
    def permissions(self):
        return {area: getattr(self, area) for area in AREAS}

    def level(self, area):
        return getattr(self, area)

    def __str__(self):
        return self.name


class Membership(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("mbr"), editable=False)
    # PROTECT: a person leaves an organization through member_remove (audited), never as a side
    # effect of deleting the user
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_once_per_org"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(role_id=BuiltinRole.PRIMARY_OWNER),
                name="one_primary_owner_per_org",
            ),
        ]

    def __str__(self):
        return f"{self.user} in {self.organization} as {self.role_id}"


class Workspace(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("wrkspc"), editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="workspaces")
    name = models.CharField(max_length=200)
    workspace_geo = models.CharField(max_length=20, default="us")
    # NULL means "unrestricted"; otherwise a non-empty list of geo codes.
    allowed_inference_geos = models.JSONField(null=True, blank=True, default=None)
    default_inference_geo = models.CharField(max_length=20, default="global")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # `#rrggbb`, shown beside the workspace in the console
    display_color = models.CharField(max_length=7, default=random_workspace_color)
    # string -> string, at most 50 (rules in residency.policy.clean_tags)
    tags = models.JSONField(default=dict, blank=True)
    # a stable opaque id, never changed (the Admin API's encryption compartment)
    compartment_id = models.CharField(max_length=40, unique=True, default=IdFactory("cmpt"), editable=False)
    # no customer-managed encryption keys or user profiles here: the Admin API's fields are null
    external_key_id = None
    user_profile_id = None

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["organization", "archived_at"], name="ws_org_archived")]
        permissions = [("admin_workspace", "Administer this workspace's data residency")]

    @property
    def is_archived(self):
        return self.archived_at is not None

    @property
    def allowed_geos_value(self):
        return "unrestricted" if self.allowed_inference_geos is None else list(self.allowed_inference_geos)

    @property
    def data_residency(self):
        return {
            "workspace_geo": self.workspace_geo,
            "allowed_inference_geos": self.allowed_geos_value,
            "default_inference_geo": self.default_inference_geo,
        }

    def __str__(self):
        return self.name


API_KEY_PREFIX = "rc-api-"
MAX_API_KEY_LENGTH = 200  # longer is never a key: refuse it without hashing megabytes


def hash_api_key(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyStatus(models.TextChoices):
    """A key's state: `active` works; `inactive` is paused (it can be resumed); `archived` is
    revoked for good. (The Admin API's `expired` never applies: keys here do not expire.)"""

    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Paused"
    ARCHIVED = "archived", "Archived"


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        """Keys that authenticate: active (not paused, not archived), of an active user (the one
        rule; the decision statement compiles this queryset into its SQL)."""
        return self.filter(status=ApiKeyStatus.ACTIVE, membership__user__is_active=True)


class ApiKey(models.Model):
    """A member's key. Only a SHA-256 of the secret is stored (keys are 190-bit random)."""

    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("apikey"), editable=False)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(max_length=12, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ApiKeyStatus.choices, default=ApiKeyStatus.ACTIVE)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="When it was archived (revoked for good).")

    objects = ApiKeyQuerySet.as_manager()
    expires_at = None  # keys here never expire (the Admin API's `expires_at` is always null)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=ApiKeyStatus.ARCHIVED, revoked_at__isnull=False)
                | Q(status__in=[ApiKeyStatus.ACTIVE, ApiKeyStatus.INACTIVE], revoked_at__isnull=True),
                name="apikey_archived_when_revoked",
                violation_error_message="An archived key has the time it was revoked, and only an archived key.",
            ),
        ]

    @property
    def is_active(self):
        return self.status == ApiKeyStatus.ACTIVE

    @property
    def is_archived(self):
        return self.status == ApiKeyStatus.ARCHIVED

    def __str__(self):
        return self.name


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)


class WorkspaceUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Workspace, on_delete=models.CASCADE)


class EmailKind(models.TextChoices):
    INVITATION = "invitation", "Invitation to choose a password"
    MEMBERSHIP_NOTICE = "membership_notice", "Added to an organization"
    NOTICE = "notice", "A notice about the organization's settings"


class OutgoingEmail(models.Model):
    """One email to a person, written in the transaction of the change that sends it and sent
    after that transaction commits (`orgs.mail`). A failed send stays here with its error, and
    `python manage.py send_pending_email` retries it. No secret is stored: an invitation's
    link is made when the message is sent; a notice (another app's message, e.g. a change
    request) carries its subject and text, rendered when it was queued."""

    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("email"), editable=False)
    kind = models.CharField(max_length=30, choices=EmailKind.choices)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    invited_by = models.CharField(max_length=300, blank=True)
    role_name = models.CharField(max_length=100, blank=True)
    # a notice's text, written when it is queued (it holds no secret)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # when a send last failed: for a minute after any failure, changes leave their mail queued for
    # `send_pending_email` instead of each waiting for the mail server (read by every process)
    last_failed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["sent_at", "created_at"], name="email_unsent")]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user_id}"
