"""API key authentication for the decision endpoints, the router's hot path.

The router asks for every model request, so the key is checked with one precompiled SQL
statement that reads only what a decision needs (the key, its member's organization and that
organization's US-only state) instead of loading five full model instances through the ORM.
The rules are the same as `orgs.selectors.api_key_authenticate`: an unrevoked key of an
active user; `last_used_at` recorded at most once a minute; nothing is cached in the process,
so a revoked key stops working at once.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from rest_framework import exceptions

from core.authentication import ApiKeyAuthentication
from orgs.models import ApiKey, Membership, Organization, User
from orgs.services import api_key_touch, hash_api_key


@dataclass
class KeyCaller:
    """The member behind a key, as far as a decision needs to know them."""

    id: str
    is_authenticated = True
    is_active = True

    @property
    def pk(self):
        return self.id


@dataclass
class DecisionKey:
    pk: str
    last_used_at: datetime | None
    organization_id: str
    us_only_inference: bool
    locked: bool


_SQL = {}


def _sql():
    if connection.vendor not in _SQL:
        q = connection.ops.quote_name
        key, member = q(ApiKey._meta.db_table), q(Membership._meta.db_table)
        user, org = q(User._meta.db_table), q(Organization._meta.db_table)
        _SQL[connection.vendor] = (
            f"SELECT k.{q('id')}, k.{q('last_used_at')}, m.{q('organization_id')}, m.{q('user_id')}, "
            f"o.{q('us_only_inference')}, o.{q('lock_reason')} "
            f"FROM {key} k JOIN {member} m ON m.{q('id')} = k.{q('membership_id')} "
            f"JOIN {user} u ON u.{q('id')} = m.{q('user_id')} "
            f"JOIN {org} o ON o.{q('id')} = m.{q('organization_id')} "
            f"WHERE k.{q('key_hash')} = %s AND k.{q('revoked_at')} IS NULL AND u.{q('is_active')}"
        )
    return _SQL[connection.vendor]


def _aware(value):
    if value is None:
        return None
    if isinstance(value, str):  # SQLite without a declared type on a joined column
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class DecisionKeyAuthentication(ApiKeyAuthentication):
    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        row = None
        if raw and len(raw) <= 200:
            with connection.cursor() as cursor:
                cursor.execute(_sql(), [hash_api_key(raw)])
                row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(
                "Invalid API key: check the `x-api-key` header; the key may have been revoked."
            )
        key_id, last_used, org_id, user_id, us_only, lock_reason = row
        key = DecisionKey(key_id, _aware(last_used), org_id, bool(us_only), lock_reason is not None)
        api_key_touch(key)
        request._request.api_key = key
        return (KeyCaller(user_id), key)
