"""Organizations, their members and roles, workspaces and API keys (SPEC §2).

Tables only: invariants the database can hold are constraints here; the rest live in
`orgs/services.py`.
"""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from guardian.models import UserObjectPermissionBase

from core.ids import IdFactory

PLAN_TEAM = "team"
PLAN_ENTERPRISE_SEAT = "enterprise_seat"
PLAN_ENTERPRISE_USAGE = "enterprise_usage"
PLAN_CHOICES = [
    (PLAN_TEAM, "Team"),
    (PLAN_ENTERPRISE_SEAT, "Enterprise (seat-based)"),
    (PLAN_ENTERPRISE_USAGE, "Enterprise (usage-based)"),
]
ENTERPRISE_PLANS = (PLAN_ENTERPRISE_SEAT, PLAN_ENTERPRISE_USAGE)

LOCK_LEGACY_OPT_OUT = "legacy_opt_out"
LOCK_CONTRACT = "contract"
LOCK_CHOICES = [
    (LOCK_LEGACY_OPT_OUT, "Opted out of global routing before this setting existed"),
    (LOCK_CONTRACT, "US-only inference is part of the contract"),
]

LOCK_REASON_SENTENCES = {
    LOCK_LEGACY_OPT_OUT: "this organization opted out of global routing before the setting existed",
    LOCK_CONTRACT: "US-only inference is part of this organization's contract",
}

AREAS = (
    "identity_access",
    "billing",
    "analytics",
    "privacy",
    "user_management",
    "libraries",
    "audit_log",
)
AREA_LABELS = {
    "identity_access": "Identity & access",
    "billing": "Billing",
    "analytics": "Analytics",
    "privacy": "Privacy",
    "user_management": "User management",
    "libraries": "Libraries",
    "audit_log": "Audit log",
}
LEVEL_NONE, LEVEL_VIEW, LEVEL_MANAGE = "none", "view", "manage"
LEVELS = (LEVEL_NONE, LEVEL_VIEW, LEVEL_MANAGE)
LEVEL_CHOICES = [(level, level) for level in LEVELS]
AREA_LEVELS = {area: (LEVELS if area != "audit_log" else (LEVEL_NONE, LEVEL_VIEW)) for area in AREAS}
LEVEL_RANK = {LEVEL_NONE: 0, LEVEL_VIEW: 1, LEVEL_MANAGE: 2}

ROLE_PRIMARY_OWNER, ROLE_OWNER, ROLE_ADMIN, ROLE_USER = "primary_owner", "owner", "admin", "user"
BUILTIN_ROLE_IDS = (ROLE_PRIMARY_OWNER, ROLE_OWNER, ROLE_ADMIN, ROLE_USER)

MAX_ACTIVE_WORKSPACES = 100


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
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

    @property
    def display_name(self):
        return self.get_full_name() or self.email

    def __str__(self):
        return self.display_name


class Organization(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=IdFactory("org"), editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=20, choices=PLAN_CHOICES)
    us_only_inference = models.BooleanField("US-only inference", default=False)
    lock_reason = models.CharField(max_length=20, choices=LOCK_CHOICES, null=True, blank=True)
    legacy_opt_out = models.BooleanField(
        default=False, help_text="Opted out of global routing before US-only inference existed."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Head of this organization's audit chain, moved in the same transaction as each record.
    audit_seq = models.BigIntegerField(default=0, editable=False)
    audit_head_hash = models.CharField(max_length=64, default="", editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__in=[p for p, _ in PLAN_CHOICES]), name="org_plan_valid"
            ),
            models.CheckConstraint(
                condition=Q(lock_reason__isnull=True)
                | Q(lock_reason__in=[r for r, _ in LOCK_CHOICES], us_only_inference=True),
                name="org_locked_means_us_only_on",
                violation_error_message="A locked organization has US-only inference on: tick US-only inference too.",
            ),
        ]
        permissions = [
            (f"{level}_{area}", f"{level.capitalize()} {AREA_LABELS[area]}")
            for area in AREAS
            for level in AREA_LEVELS[area]
            if level != LEVEL_NONE
        ]

    @property
    def locked(self):
        return self.lock_reason is not None

    @property
    def residency_available(self):
        return self.plan == PLAN_ENTERPRISE_USAGE

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
    identity_access = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=LEVEL_NONE)
    billing = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=LEVEL_NONE)
    analytics = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=LEVEL_NONE)
    privacy = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=LEVEL_NONE)
    user_management = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=LEVEL_NONE)
    libraries = models.CharField(max_length=6, choices=LEVEL_CHOICES, default=LEVEL_NONE)
    audit_log = models.CharField(max_length=6, choices=LEVEL_CHOICES[:2], default=LEVEL_NONE)

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
                condition=Q(role_id=ROLE_PRIMARY_OWNER),
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
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    @property
    def is_active(self):
        return self.revoked_at is None

    def __str__(self):
        return self.name


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)


class WorkspaceUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Workspace, on_delete=models.CASCADE)
