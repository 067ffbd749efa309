"""API key authentication for the decision endpoints, the router's hot path.

The router asks for every model request, so the key is checked with one precompiled SQL
statement that reads only what a decision needs (the key, its member's organization and that
organization's US-only state) instead of loading five full model instances through the ORM.
The rules are the same as `orgs.selectors.api_key_authenticate`: an unrevoked key of an
active user; `last_used_at` recorded at most once a minute; nothing is cached in the process,
so a revoked key stops working at once.
"""

from dataclasses import dataclass

from django.db import connection
from rest_framework import exceptions

from orgs.auth import INVALID_KEY, ApiKeyAuthentication
from orgs.models import MAX_API_KEY_LENGTH as MAX_KEY_LENGTH
from orgs.models import ApiKey, Membership, Organization, User, hash_api_key
from orgs.services import api_key_touch
from residency.selectors import DecisionKey, aware


@dataclass
class KeyCaller:
    """The member behind a key, as far as a decision needs to know them."""

    id: str
    is_authenticated = True
    is_active = True

    @property
    def pk(self):
        return self.id


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


def decision_key(raw):
    """The DecisionKey for a raw `x-api-key` value, or None if it is not a working key."""
    if not raw or len(raw) > MAX_KEY_LENGTH:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_sql(), [hash_api_key(raw)])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, last_used, org_id, _user_id, us_only, lock_reason = row
    return DecisionKey(key_id, aware(last_used), org_id, bool(us_only), lock_reason is not None), _user_id


class DecisionKeyAuthentication(ApiKeyAuthentication):
    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        found = decision_key(raw)
        if found is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        key, user_id = found
        api_key_touch(key)
        request._request.api_key = key
        return (KeyCaller(user_id), key)
