"""The audit event registry: every event type declares, in one place, its name, its label, the
before/after keys it records and the sentence an auditor reads ("Ana Ruiz turned US-only
inference on"). Services refer to event types by the constants below, never by string.

`describe(event)` renders one event; `changes(event)` flattens before/after into
(field, before, after) rows for the "before → after" column and the exports. `event` is
anything with the AuditEvent attributes (a model instance or a row object).
"""

from collections.abc import Callable
from dataclasses import dataclass

ARROW = "→"


@dataclass(frozen=True)
class EventType:
    name: str
    label: str
    sentence: Callable  # (event, Names) -> str
    records: tuple = ()  # the top-level before/after keys this event may hold
    residency: bool = False  # part of the residency history that privacy: view may read

    def __str__(self):
        return self.name


REGISTRY: dict[str, EventType] = {}


def register(name, label, sentence, *, records=(), residency=False):
    if name in REGISTRY:
        raise ValueError(f"Audit event {name!r} is registered twice.")
    event_type = EventType(name, label, sentence, tuple(records), residency)
    REGISTRY[name] = event_type
    return event_type


# --- how values read -------------------------------------------------------------------------

BUILTIN_ROLE_NAMES = {"primary_owner": "Primary owner", "owner": "Owner", "admin": "Admin", "user": "User"}
FIELD_LABELS = {
    "us_only": "US-only inference",
    "allowed_inference_geos": "allowed geos",
    "default_inference_geo": "default geo",
    "workspace_geo": "workspace geo",
    "data_residency": "",  # nested: its fields speak for themselves
    "lock_reason": "lock",
    "legacy_opt_out": "legacy opt-out",
    "archived_at": "archived",
    "user_id": "user",
    "primary_owner": "primary owner",
    "previous_primary_owner_role": "previous primary owner's role",
    "permissions": "",
    "require_two_factor": "two-factor required",
    "locked_minutes": "locked minutes",
}


class Names:
    """Display names for ids and codes found in before/after values: custom role ids, and the
    labels of coded values (plans, lock reasons) the caller knows (`audit.selectors`)."""

    def __init__(self, roles=None, values=None):
        self.roles = {**BUILTIN_ROLE_NAMES, **(roles or {})}
        self.values = values or {}  # {key: {code: label}}

    def role(self, role_id):
        return self.roles.get(role_id, role_id) if role_id else "none"

    def value(self, key, code):
        return self.values.get(key, {}).get(code, code)


DEFAULT_NAMES = Names()


def _value(value, key=None, names=DEFAULT_NAMES):
    if value is None:
        return "unrestricted" if key == "allowed_inference_geos" else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(_value(v, names=names) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)} {_value(v, k, names)}".strip() for k, v in value.items())
    if key in ("role", "previous_primary_owner_role"):
        return names.role(value)
    return str(names.value(key, value))


def _label(key):
    label = FIELD_LABELS.get(key)
    if label is None:
        label = key.replace("_", " ")
    return label


def _flatten(value, prefix=()):
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, (*prefix, k)))
        return out
    return {prefix: value}


def changes(event, names=DEFAULT_NAMES):
    """[(field label, before text, after text)] for every leaf that differs or is new.

    A value only on one side shows as "" on the other.
    """
    before = _flatten(event.before) if isinstance(event.before, dict) else {}
    after = _flatten(event.after) if isinstance(event.after, dict) else {}
    rows = []
    # sorted: PostgreSQL's jsonb does not keep key order, and the text must not depend on the database
    for path in sorted(set(before) | set(after)):
        if path == ():
            continue
        key = path[-1]
        labels = [_label(p) for p in path if _label(p)]
        label = " ".join(labels) or key
        b = _value(before[path], key, names) if path in before else ""
        a = _value(after[path], key, names) if path in after else ""
        if path[0] == "permissions" and len(path) == 2:  # a role's area level: "Privacy: Can view"
            label = f"{names.value('area', key)}:"
            b, a = (names.value("level", before.get(path)) if b else ""), (names.value("level", after.get(path)) if a else "")
        if path in before and path in after and before[path] == after[path]:
            continue
        rows.append((label, b, a))
    return rows


def requested(event, names=DEFAULT_NAMES):
    """For a refused attempt: [(field label, value it had, value asked for)], without the reason
    (the sentence says it). Nothing changed, so these never read as before → after."""
    return [(label, b, a) for label, b, a in changes(event, names) if label != _label("denied")]


def change_summary(event, names=DEFAULT_NAMES):
    """'allowed geos unrestricted → us; default geo global → us' (or 'name: Prod' for new values)."""
    parts = []
    for label, b, a in changes(event, names):
        if b and a:
            parts.append(f"{label} {b} {ARROW} {a}")
        elif a:
            parts.append(f"{label}: {a}")
        else:
            parts.append(f"{label}: {b} {ARROW} (removed)")
    return "; ".join(parts)


def _after(event):
    return event.after if isinstance(event.after, dict) else {}


def _before(event):
    return event.before if isinstance(event.before, dict) else {}


def _with_changes(text, event, names):
    summary = change_summary(event, names)
    return f"{text}: {summary}" if summary else text


def _residency_denial_reason(value):
    if not value:
        return ""
    if value == "permission":
        return " (needs Privacy: Can manage)"
    if value.startswith("locked:"):
        return f" (locked: {value.split(':', 1)[1].replace('_', ' ')})"
    return f" ({value})"


# --- the event types -------------------------------------------------------------------------

ORGANIZATION_CREATED = register(
    "organization.created", "Organization created",
    lambda e, n: f"{e.actor_label} created organization {e.target_label}"
    + (f" on the {n.value('plan', _after(e)['plan'])} plan" if _after(e).get("plan") else ""),
    records=("name", "plan", "us_only", "lock_reason", "legacy_opt_out"),
)
ORGANIZATION_UPDATED = register(
    "organization.updated", "Organization updated",
    lambda e, n: _with_changes(f"{e.actor_label} changed organization {e.target_label}", e, n),
    records=("name", "plan", "us_only", "lock_reason", "legacy_opt_out"),
)
INFERENCE_RESIDENCY_UPDATED = register(
    "inference_residency.updated", "US-only inference changed",
    lambda e, n: f"{e.actor_label} turned US-only inference {_value(_after(e).get('us_only'))}",
    records=("us_only",), residency=True,
)
INFERENCE_RESIDENCY_CHANGE_DENIED = register(
    "inference_residency.change_denied", "US-only inference change denied",
    lambda e, n: (f"{e.actor_label} tried to turn US-only inference {_value(_after(e).get('us_only'))} and was "
                  f"refused{_residency_denial_reason(_after(e).get('denied'))}"),
    records=("us_only", "denied"), residency=True,
)
INFERENCE_RESIDENCY_LEGACY_MIGRATED = register(
    "inference_residency.legacy_migrated", "Legacy opt-out migrated",
    lambda e, n: _with_changes(
        f"{e.actor_label} migrated the legacy opt-out of {e.target_label}: US-only inference locked on", e, n),
    records=("us_only", "lock_reason"), residency=True,
)
INFERENCE_RESIDENCY_LOCKED = register(
    "inference_residency.locked", "US-only inference locked",
    lambda e, n: (f"{e.actor_label} locked US-only inference on ({n.value('lock_reason', _after(e).get('lock_reason'))})"
                  + (f": {_after(e)['reason']}" if _after(e).get("reason") else "")),
    records=("us_only", "lock_reason", "reason"), residency=True,
)
INFERENCE_RESIDENCY_UNLOCKED = register(
    "inference_residency.unlocked", "US-only inference lock removed",
    lambda e, n: (f"{e.actor_label} removed the lock on US-only inference "
                  f"({n.value('lock_reason', _before(e).get('lock_reason'))})"
                  + (f": {_after(e)['reason']}" if _after(e).get("reason") else "")),
    records=("lock_reason", "reason"), residency=True,
)


def _policy_sentence(e, n):
    a = _after(e)
    text = _with_changes(f"{e.actor_label} changed the organization's data residency policy",
                         _Sides(_before(e), {k: v for k, v in a.items() if k != "apply_to_workspaces"}), n)
    return text + ("; workspaces outside it were brought inside" if a.get("apply_to_workspaces") else "")


class _Sides:
    """An event-like pair of before/after values (to reuse the change summary on a subset)."""

    def __init__(self, before, after):
        self.before, self.after = before, after


DATA_RESIDENCY_POLICY_UPDATED = register(
    "data_residency_policy.updated", "Data residency policy changed", _policy_sentence,
    records=("allowed_inference_geos", "default_inference_geo", "apply_to_workspaces"), residency=True,
)
DATA_RESIDENCY_POLICY_CHANGE_DENIED = register(
    "data_residency_policy.change_denied", "Data residency policy change denied",
    lambda e, n: (f"{e.actor_label} tried to change the organization's data residency policy and was refused"
                  f"{_residency_denial_reason(_after(e).get('denied'))}"),
    records=("allowed_inference_geos", "default_inference_geo", "apply_to_workspaces", "denied"), residency=True,
)
DATA_RESIDENCY_POLICY_LOCK_CHANGED = register(
    "data_residency_policy.lock_changed", "Data residency policy lock changed",
    lambda e, n: (f"{e.actor_label} " + ("locked" if _after(e).get("lock_reason") else "unlocked")
                  + " the organization's data residency policy"
                  + (f": {_after(e)['reason']}" if _after(e).get("reason") else "")),
    records=("lock_reason", "reason"), residency=True,
)
MEMBER_ADDED = register(
    "member.added", "Member added",
    lambda e, n: f"{e.actor_label} added {_after(e).get('email') or e.target_label} as {n.role(_after(e).get('role'))}",
    records=("email", "role"),
)
MEMBER_ROLE_CHANGED = register(
    "member.role_changed", "Member role changed",
    lambda e, n: (f"{e.actor_label} changed the role of {e.target_label}: "
                  f"{n.role(_before(e).get('role'))} {ARROW} {n.role(_after(e).get('role'))}"),
    records=("role",),
)


def _member_removed(e, n):
    b = _before(e)
    role = f" ({n.role(b.get('role'))})" if b.get("role") else ""
    return f"{e.actor_label} removed {b.get('email') or e.target_label}{role} from the organization"


MEMBER_REMOVED = register("member.removed", "Member removed", _member_removed, records=("email", "role"))
PRIMARY_OWNER_TRANSFERRED = register(
    "primary_owner.transferred", "Primary ownership transferred",
    lambda e, n: f"{e.actor_label} transferred primary ownership to {_after(e).get('primary_owner') or e.target_label}",
    records=("primary_owner", "role", "previous_primary_owner_role"),
)


def _role_created(e, n):
    a = _after(e)
    granted = [f"{n.value('area', area)}: {n.value('level', level)}" for area, level in (a.get("permissions") or {}).items()
               if level != "none"]
    return (f"{e.actor_label} created custom role {a.get('name') or e.target_label}"
            + (f" ({', '.join(granted)})" if granted else " (no access)"))


ROLE_CREATED = register("role.created", "Custom role created", _role_created, records=("name", "permissions"))
ROLE_UPDATED = register(
    "role.updated", "Custom role updated",
    lambda e, n: _with_changes(f"{e.actor_label} changed custom role {e.target_label}", e, n),
    records=("name", "permissions"),
)
API_KEY_CREATED = register(
    "api_key.created", "API key created",
    lambda e, n: f"{e.actor_label} created API key {_after(e).get('name') or e.target_label}",
    records=("name", "user_id", "hint"),
)
API_KEY_REVOKED = register(
    "api_key.revoked", "API key revoked",
    lambda e, n: f"{e.actor_label} revoked API key {e.target_label}",
    records=("active", "status", "reason"),  # `active` in records written before keys had a status
)
API_KEY_UPDATED = register(
    "api_key.updated", "API key updated",
    lambda e, n: _with_changes(f"{e.actor_label} changed API key {e.target_label}", e, n),
    records=("name", "status"),
)


def _workspace_created(e, n):
    residency = _after(e).get("data_residency") or {}
    text = f"{e.actor_label} created workspace {_after(e).get('name') or e.target_label}"
    if residency:
        text += (f" (allowed geos {_value(residency.get('allowed_inference_geos'), 'allowed_inference_geos')}, "
                 f"default geo {_value(residency.get('default_inference_geo'))})")
    return text


def _workspace_denied(e, n):
    wanted = _after(e).get("data_residency") or {}
    asked = "; ".join(f"{_label(k)} {_value(v, k)}" for k, v in wanted.items()) if isinstance(wanted, dict) else ""
    return (f"{e.actor_label} tried to change workspace {e.target_label} and was refused"
            + (f" (asked for {asked})" if asked else ""))


WORKSPACE_CREATED = register("workspace.created", "Workspace created", _workspace_created,
                             records=("name", "data_residency", "display_color", "tags"), residency=True)
WORKSPACE_UPDATED = register(
    "workspace.updated", "Workspace updated",
    lambda e, n: _with_changes(f"{e.actor_label} changed workspace {e.target_label}", e, n),
    records=("name", "data_residency", "display_color", "tags"), residency=True,
)
WORKSPACE_RESIDENCY_CHANGE_DENIED = register(
    "workspace.residency_change_denied", "Workspace residency change denied", _workspace_denied,
    records=("name", "data_residency", "display_color", "tags"), residency=True,
)
WORKSPACE_ARCHIVED = register(
    "workspace.archived", "Workspace archived",
    lambda e, n: f"{e.actor_label} archived workspace {e.target_label}",
    records=("archived_at",), residency=True,
)
WORKSPACE_ADMIN_GRANTED = register(
    "workspace.admin_granted", "Workspace admin granted",
    lambda e, n: (f"{e.actor_label} made {_after(e).get('email') or _after(e).get('user_id')} admin of workspace "
                  f"{e.target_label}"),
    records=("user_id", "email"),
)
WORKSPACE_ADMIN_REVOKED = register(
    "workspace.admin_revoked", "Workspace admin revoked",
    lambda e, n: (f"{e.actor_label} removed {_after(e).get('email') or _after(e).get('user_id')} as admin of "
                  f"workspace {e.target_label}"),
    records=("user_id", "email"),
)


# --- approval of loosening changes (SPEC §8) --------------------------------------------------------
# A change request's events name the request as their target (its id, labelled with what it would
# change) and carry its id in `change_request_id`; the change applied on approval is recorded by its
# own event (e.g. inference_residency.updated) with both the approver (actor) and `requested_by`.

CHANGE_KEYS = ("us_only", "allowed_inference_geos", "default_inference_geo", "apply_to_workspaces", "name",
               "data_residency", "display_color", "tags", "loosening_requires_approval", "status", "reason")


def _requester(e):
    return getattr(e, "requested_by_label", "") or "someone"


def _reason(e):
    reason = _after(e).get("reason")
    return f": {reason}" if reason else ""


APPROVAL_SETTINGS_UPDATED = register(
    "approval_settings.updated", "Approval of loosening changes turned on or off",
    lambda e, n: (f"{e.actor_label} turned approval of loosening residency changes "
                  f"{_value(_after(e).get('loosening_requires_approval'))}"),
    records=("loosening_requires_approval",), residency=True,
)
APPROVAL_SETTINGS_CHANGE_DENIED = register(
    "approval_settings.change_denied", "Approval settings change denied",
    lambda e, n: (f"{e.actor_label} tried to turn approval of loosening residency changes "
                  f"{_value(_after(e).get('loosening_requires_approval'))} and was refused"
                  f"{_residency_denial_reason(_after(e).get('denied'))}"),
    records=("loosening_requires_approval", "denied"), residency=True,
)
CHANGE_REQUEST_REQUESTED = register(
    "change_request.requested", "Change sent for approval",
    lambda e, n: _with_changes(f"{e.actor_label} asked to change {e.target_label}, which loosens residency and "
                               "waits for another person's approval", e, n),
    records=CHANGE_KEYS, residency=True,
)
CHANGE_REQUEST_APPROVED = register(
    "change_request.approved", "Change request approved",
    lambda e, n: f"{e.actor_label} approved {_requester(e)}'s change to {e.target_label}",
    records=CHANGE_KEYS, residency=True,
)
CHANGE_REQUEST_REJECTED = register(
    "change_request.rejected", "Change request rejected",
    lambda e, n: f"{e.actor_label} rejected {_requester(e)}'s change to {e.target_label}{_reason(e)}",
    records=CHANGE_KEYS, residency=True,
)
CHANGE_REQUEST_WITHDRAWN = register(
    "change_request.withdrawn", "Change request withdrawn",
    lambda e, n: f"{e.actor_label} withdrew their change to {e.target_label} before anyone approved it",
    records=CHANGE_KEYS, residency=True,
)
CHANGE_REQUEST_EXPIRED = register(
    "change_request.expired", "Change request expired",
    lambda e, n: (f"{e.actor_label} closed {_requester(e)}'s change to {e.target_label}: nobody approved it within "
                  "72 hours"),
    records=CHANGE_KEYS, residency=True,
)
CHANGE_REQUEST_CONFLICT = register(
    "change_request.conflict", "Change request not applied (conflict)",
    lambda e, n: (f"{e.actor_label} approved {_requester(e)}'s change to {e.target_label}, which was not applied: "
                  f"the setting changed after it was asked{_reason(e)}"),
    records=CHANGE_KEYS, residency=True,
)
CHANGE_REQUEST_DECISION_DENIED = register(
    "change_request.decision_denied", "Change request decision refused",
    lambda e, n: (f"{e.actor_label} tried to {_after(e).get('action') or 'decide'} {_requester(e)}'s change to "
                  f"{e.target_label} and was refused{_reason(e)}"),
    records=(*CHANGE_KEYS, "action"), residency=True,
)
CHANGE_REQUEST_APPLIED = register(
    "change_request.applied", "Change request applied",
    lambda e, n: f"{e.actor_label} applied {_requester(e)}'s change to {e.target_label} on approval",
    records=CHANGE_KEYS, residency=True,
)


# --- accounts: sign-in protection and two-factor (SPEC §6) ----------------------------------------


def _locked_out(e, n):
    a = _after(e)
    failures = f" after {a['failures']} failed attempts" if a.get("failures") else ""
    minutes = a.get("locked_minutes") or 15
    return f"{e.actor_label} locked sign-in to {a.get('email') or e.target_label} for {minutes} minutes{failures}"


SIGN_IN_LOCKED_OUT = register("account.sign_in_locked_out", "Sign-in locked out", _locked_out,
                              records=("email", "failures", "locked_minutes"))
TWO_FACTOR_CHANGED = register(
    "account.two_factor_changed", "Two-factor sign-in changed",
    lambda e, n: f"{e.actor_label} turned two-factor sign-in {_value(_after(e).get('enabled'))}",
    records=("email", "enabled"),
)
TWO_FACTOR_REQUIREMENT_CHANGED = register(
    "organization.two_factor_requirement_changed", "Two-factor requirement changed",
    lambda e, n: (f"{e.actor_label} turned the two-factor requirement for members who manage an area "
                  f"{_value(_after(e).get('require_two_factor'))}"),
    records=("require_two_factor",),
)

RESIDENCY_ACTIONS = tuple(name for name, e in REGISTRY.items() if e.residency)


def generic(event, names=DEFAULT_NAMES):
    """Any action: '<actor>: <event label, lowercased> (<target>): a → b'."""
    event_type = REGISTRY.get(event.action)
    label = event_type.label if event_type else event.action
    verb = label[0].lower() + label[1:]
    target = f" ({event.target_type} {event.target_label})" if event.target_label else ""
    text = f"{event.actor_label}: {verb}{target}"
    if getattr(event, "outcome", "success") == "denied":
        text += ", refused"
    return _with_changes(text, event, names)


def describe(event, names=DEFAULT_NAMES):
    """One event as a sentence; falls back to the generic form for unknown shapes."""
    event_type = REGISTRY.get(event.action)
    if event_type is None:
        return generic(event, names)
    try:
        return event_type.sentence(event, names)
    except (AttributeError, TypeError, KeyError, ValueError):
        # an older record with another before/after shape must still render
        return generic(event, names)
