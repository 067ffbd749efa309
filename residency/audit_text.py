"""Audit events as sentences an auditor can read ("Ana Ruiz turned US-only inference on").

`describe(event)` renders one event; one renderer per action in `RENDERERS`, keyed like
`residency.audit.EVENT_TYPES` (a test checks that every registered action has one). An
action without a renderer still reads well through the generic "changed X: a → b" form.
`changes(event)` flattens before/after into (field, before, after) rows for the "before →
after" column, CSV and JSON exports.

`event` is anything with the AuditEvent attributes (a model instance or a row object).
"""

from .audit import EVENT_TYPES

ARROW = "→"
BUILTIN_ROLE_NAMES = {
    "primary_owner": "Primary owner",
    "owner": "Owner",
    "admin": "Admin",
    "user": "User",
}
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
}


class Names:
    """Display names for ids found in before/after values (custom role ids, mostly)."""

    def __init__(self, roles=None):
        self.roles = {**BUILTIN_ROLE_NAMES, **(roles or {})}

    def role(self, role_id):
        return self.roles.get(role_id, role_id) if role_id else "none"


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
    return str(value)


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
        if path in before and path in after and before[path] == after[path]:
            continue
        rows.append((label, b, a))
    return rows


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


# --- one renderer per action ------------------------------------------------------------------


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
        return " (needs Privacy: manage)"
    if value.startswith("locked:"):
        return f" (locked: {value.split(':', 1)[1].replace('_', ' ')})"
    return f" ({value})"


def _us_only_updated(e, n):
    return f"{e.actor_label} turned US-only inference {_value(_after(e).get('us_only'))}"


def _us_only_denied(e, n):
    wanted = _value(_after(e).get("us_only"))
    return (f"{e.actor_label} tried to turn US-only inference {wanted} and was refused"
            f"{_residency_denial_reason(_after(e).get('denied'))}")


def _legacy_migrated(e, n):
    return _with_changes(f"{e.actor_label} migrated the legacy opt-out of {e.target_label}: US-only inference locked on",
                         e, n)


def _org_created(e, n):
    plan = _after(e).get("plan")
    return f"{e.actor_label} created organization {e.target_label}" + (f" on the {plan} plan" if plan else "")


def _org_updated(e, n):
    return _with_changes(f"{e.actor_label} changed organization {e.target_label}", e, n)


def _member_added(e, n):
    a = _after(e)
    return f"{e.actor_label} added {a.get('email') or e.target_label} as {n.role(a.get('role'))}"


def _member_role_changed(e, n):
    return (f"{e.actor_label} changed the role of {e.target_label}: "
            f"{n.role(_before(e).get('role'))} {ARROW} {n.role(_after(e).get('role'))}")


def _member_removed(e, n):
    b = _before(e)
    role = f" ({n.role(b.get('role'))})" if b.get("role") else ""
    return f"{e.actor_label} removed {b.get('email') or e.target_label}{role} from the organization"


def _primary_transferred(e, n):
    return f"{e.actor_label} transferred primary ownership to {_after(e).get('primary_owner') or e.target_label}"


def _role_created(e, n):
    a = _after(e)
    granted = [f"{area.replace('_', ' ')} {level}" for area, level in (a.get("permissions") or {}).items()
               if level != "none"]
    return (f"{e.actor_label} created custom role {a.get('name') or e.target_label}"
            + (f" ({', '.join(granted)})" if granted else " (no access)"))


def _role_updated(e, n):
    return _with_changes(f"{e.actor_label} changed custom role {e.target_label}", e, n)


def _key_created(e, n):
    return f"{e.actor_label} created API key {_after(e).get('name') or e.target_label}"


def _key_revoked(e, n):
    return f"{e.actor_label} revoked API key {e.target_label}"


def _ws_created(e, n):
    residency = _after(e).get("data_residency") or {}
    text = f"{e.actor_label} created workspace {_after(e).get('name') or e.target_label}"
    if residency:
        text += (f" (allowed geos {_value(residency.get('allowed_inference_geos'), 'allowed_inference_geos')}, "
                 f"default geo {_value(residency.get('default_inference_geo'))})")
    return text


def _ws_updated(e, n):
    return _with_changes(f"{e.actor_label} changed workspace {e.target_label}", e, n)


def _ws_denied(e, n):
    wanted = _after(e).get("data_residency") or {}
    asked = "; ".join(f"{_label(k)} {_value(v, k)}" for k, v in wanted.items()) if isinstance(wanted, dict) else ""
    return (f"{e.actor_label} tried to change workspace {e.target_label} and was refused"
            + (f" (asked for {asked})" if asked else ""))


def _ws_archived(e, n):
    return f"{e.actor_label} archived workspace {e.target_label}"


def _ws_admin_granted(e, n):
    return f"{e.actor_label} made {_after(e).get('email') or _after(e).get('user_id')} admin of workspace {e.target_label}"


def _ws_admin_revoked(e, n):
    return (f"{e.actor_label} removed {_after(e).get('email') or _after(e).get('user_id')} as admin of "
            f"workspace {e.target_label}")


RENDERERS = {
    "organization.created": _org_created,
    "organization.updated": _org_updated,
    "inference_residency.updated": _us_only_updated,
    "inference_residency.change_denied": _us_only_denied,
    "inference_residency.legacy_migrated": _legacy_migrated,
    "member.added": _member_added,
    "member.role_changed": _member_role_changed,
    "member.removed": _member_removed,
    "primary_owner.transferred": _primary_transferred,
    "role.created": _role_created,
    "role.updated": _role_updated,
    "api_key.created": _key_created,
    "api_key.revoked": _key_revoked,
    "workspace.created": _ws_created,
    "workspace.updated": _ws_updated,
    "workspace.residency_change_denied": _ws_denied,
    "workspace.archived": _ws_archived,
    "workspace.admin_granted": _ws_admin_granted,
    "workspace.admin_revoked": _ws_admin_revoked,
}


def generic(event, names=DEFAULT_NAMES):
    """Any action: '<actor> <event label, lowercased> <target>: a → b'."""
    label = EVENT_TYPES[event.action].label if event.action in EVENT_TYPES else event.action
    verb = label[0].lower() + label[1:]
    target = f" ({event.target_type} {event.target_label})" if event.target_label else ""
    text = f"{event.actor_label}: {verb}{target}"
    if getattr(event, "outcome", "success") == "denied":
        text += ", refused"
    return _with_changes(text, event, names)


def describe(event, names=DEFAULT_NAMES):
    """One event as a sentence; falls back to the generic form for unknown shapes."""
    renderer = RENDERERS.get(event.action)
    if renderer is None:
        return generic(event, names)
    try:
        return renderer(event, names)
    except (AttributeError, TypeError, KeyError, ValueError):
        # an older record with another before/after shape must still render
        return generic(event, names)
