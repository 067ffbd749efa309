"""The official `anthropic` SDK (pinned in requirements-dev.txt) against a real server (SPEC §9):
every Admin API method this product overlaps, with strict response validation, as a tool author
would call them. Each response is parsed into the SDK's own types, so a missing field, a value
the SDK does not know or a wrong type fails here.

Usage rows for the analytics, and their figures worked out by hand (USD per million tokens:
input / 5m write / 1h write / cache read / output; us runs Opus and Sonnet 4.6 at 1.1x; batch
halves input and output):
  A Prod opus-4-6   us     standard 03-01 10:15 in 1M, 5m 100k, 1h 10k, read 200k, out 50k
      1,360,000 tokens; $7.075 x 1.1 = 778.25 cents (list the same)
  B Prod opus-4-6   global batch    03-01 23:59 in 2M, out 100k
      2,100,000 tokens; (10 + 2.5) / 2 = 625 cents, list 1250
  C Lab  sonnet-4-6 us     batch    03-02 00:00 in 1M, 5m 1M, out 1M
      3,000,000 tokens; (1.5 + 3.75 + 7.5) x 1.1 = 1402.5 cents, list (3 + 3.75 + 15) x 1.1 = 2392.5
  D Lab  haiku-4-5  n/a    standard 03-02 05:00 in 1M, read 1M, out 200k
      2,200,000 tokens; 1 + 0.1 + 1 = 210 cents
  E Prod opus-4-1   n/a    priority 03-02 05:30 in 100k, 1h 100k, out 10k
      210,000 tokens; 1.5 + 3 + 0.75 = 525 cents
  F apps sonnet-4-6 us     standard 03-02 12:00 in 1M (Claude apps: product chat, no workspace)
      1,000,000 tokens; 3 x 1.1 = 330 cents
"""

from decimal import Decimal

import anthropic
import pytest
from django.conf import settings
from django.test import override_settings

from audit.models import AuditEvent
from orgs.models import ApiKey, hash_api_key
from residency import services as residency_services
from tests.factories import actor_for, add_member, api_key_for, make_org, primary_owner
from tests.residency.helpers import analytics_rows

pytestmark = pytest.mark.usefixtures("committed_db")

DAYS = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z"}
PRODUCTS = {"A": "messages_api", "B": "message_batches_api", "C": "message_batches_api", "D": "messages_api",
            "E": "messages_api", "F": "chat"}
TOKENS = {"A": 1_360_000, "B": 2_100_000, "C": 3_000_000, "D": 2_200_000, "E": 210_000, "F": 1_000_000}
AMOUNT = {"A": "778.25", "B": "625", "C": "1402.5", "D": "210", "E": "525", "F": "330"}
LIST_AMOUNT = {**AMOUNT, "B": "1250", "C": "2392.5"}


@pytest.fixture
def world(live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    owner = primary_owner(org)
    return {"org": org, "owner": owner, "url": live_server.url, "secret": api_key_for(owner, name="sdk")}


def sdk(world, secret=None):
    return anthropic.Anthropic(api_key=secret or world["secret"], base_url=world["url"],
                               _strict_response_validation=True, max_retries=0)


def last_event(org, action):
    return AuditEvent.objects.filter(organization=org, action=action).order_by("-seq").first()


# --- organization and users -------------------------------------------------------------------


def test_organization_and_users_with_filters(world):
    client, org, owner = sdk(world), world["org"], world["owner"]
    me = client.organization.retrieve()
    assert (me.id, me.name, me.type) == (org.pk, "Acme", "organization")

    dana = add_member(org, "admin", email="dana@acme.test")
    lee = add_member(org, "user", email="lee@acme.test")
    everyone = list(client.organization.users.list())
    assert [u.id for u in everyone] == [owner.user_id, dana.user_id, lee.user_id]
    assert [u.role for u in everyone] == ["primary_owner", "admin", "user"]
    assert [u.id for u in client.organization.users.list(email="DANA@acme.test")] == [dana.user_id]
    assert [u.id for u in client.organization.users.list(roles=["user", "primary_owner"])] == [
        owner.user_id, lee.user_id]
    assert list(client.organization.users.list(email="nobody@acme.test")) == []
    assert [u.id for u in client.organization.users.list(limit=1, roles=["admin", "user"])] == [
        dana.user_id, lee.user_id]  # auto-paging keeps the filter

    read = client.organization.users.retrieve(lee.user_id)
    assert (read.email, read.role, read.type) == ("lee@acme.test", "user", "user")
    updated = client.organization.users.update(lee.user_id, role="admin")
    assert updated.role == "admin"
    assert last_event(org, "member.role_changed").after == {"role": "admin"}

    with pytest.raises(anthropic.BadRequestError) as refused:
        client.organization.users.list(roles=["developer"])  # a role this product does not have
    assert "no role developer in this organization" in refused.value.api_message
    # removing a member stays in the console (SPEC §9)
    with pytest.raises(anthropic.APIStatusError) as removal:
        client.organization.users.remove(lee.user_id)
    assert removal.value.status_code == 405 and removal.value.request_id.startswith("req_")


# --- workspaces --------------------------------------------------------------------------------


def test_workspaces_create_read_update_list_archive(world):
    client, org = sdk(world), world["org"]
    plain = client.organization.workspaces.create(name="Research")
    assert plain.data_residency.model_dump() == {"workspace_geo": "us", "allowed_inference_geos": "unrestricted",
                                                 "default_inference_geo": "global"}
    assert plain.display_color.startswith("#") and len(plain.display_color) == 7
    assert plain.tags == {} and plain.compartment_id and plain.external_key_id is None
    assert plain.user_profile_id is None and plain.archived_at is None

    us = client.organization.workspaces.create(
        name="US only", display_color="#AABBCC", tags={"team": "payments", "env": "prod"},
        data_residency={"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    assert (us.display_color, us.tags) == ("#aabbcc", {"team": "payments", "env": "prod"})
    assert us.data_residency.allowed_inference_geos == ["us"] and us.data_residency.default_inference_geo == "us"
    assert last_event(org, "workspace.created").after["tags"] == {"team": "payments", "env": "prod"}
    nulls = client.organization.workspaces.create(name="Nulls", data_residency=None, display_color=None, tags=None)
    assert nulls.data_residency == plain.data_residency and nulls.tags == {}

    read = client.organization.workspaces.retrieve(us.id)
    assert read == us
    assert read.compartment_id != plain.compartment_id

    # tags merge, a null deletes one; a null data_residency (or member) leaves it as it is
    changed = client.organization.workspaces.update(
        us.id, name="US", tags={"env": None, "cost_center": "42"}, display_color="#00ff00",
        data_residency={"allowed_inference_geos": ["global", "us"], "default_inference_geo": None})
    assert (changed.name, changed.tags, changed.display_color) == ("US", {"team": "payments", "cost_center": "42"},
                                                                   "#00ff00")
    assert changed.data_residency.allowed_inference_geos == ["global", "us"]
    assert changed.data_residency.default_inference_geo == "us"
    assert changed.compartment_id == us.compartment_id  # stable
    event = last_event(org, "workspace.updated")
    assert event.before["tags"] == {"env": "prod", "cost_center": None}
    assert event.after["tags"] == {"env": None, "cost_center": "42"}
    assert (event.before["display_color"], event.after["display_color"]) == ("#aabbcc", "#00ff00")
    same = client.organization.workspaces.update(us.id, data_residency=None, tags=None)
    assert same == changed

    # paging both ways, and ids[]
    made = [plain, us, nulls] + [client.organization.workspaces.create(name=f"W{i}") for i in range(4)]
    ids = [w.id for w in made]
    forward = client.organization.workspaces.list(limit=2)
    assert [w.id for w in forward.data] == ids[:2] and forward.has_more
    assert [w.id for w in forward] == ids  # auto-paging forward
    backward = client.organization.workspaces.list(limit=2, before_id=ids[-1])
    pages = [[w.id for w in page.data] for page in backward.iter_pages()]
    assert pages == [ids[4:6], ids[2:4], ids[0:2]]  # auto-paging backward, a page at a time
    picked = client.organization.workspaces.list(ids=[ids[5], ids[1], "wrkspc_unknown"])
    assert [w.id for w in picked] == [ids[1], ids[5]]

    archived = client.organization.workspaces.archive(ids[6])
    assert archived.archived_at is not None
    assert ids[6] not in [w.id for w in client.organization.workspaces.list()]
    assert ids[6] in [w.id for w in client.organization.workspaces.list(include_archived=True)]
    assert ids[6] in [w.id for w in client.organization.workspaces.list(ids=[ids[6]], include_archived=True,
                                                                          include_default=True)]


# --- API keys ----------------------------------------------------------------------------------


def test_api_keys_list_filter_retrieve_rename_pause_resume_archive(world):
    client, org, owner = sdk(world), world["org"], world["owner"]
    mine = ApiKey.objects.get(key_hash=hash_api_key(world["secret"]))
    tool_secret = api_key_for(owner, name="tool")
    tool = ApiKey.objects.get(key_hash=hash_api_key(tool_secret))
    member = add_member(org, "user")
    theirs = ApiKey.objects.get(key_hash=hash_api_key(api_key_for(member, name="theirs")))

    keys = list(client.organization.api_keys.list())
    assert [k.id for k in keys] == [mine.pk, tool.pk, theirs.pk]
    first = keys[0]
    assert (first.status, first.scope.type, first.principal.type, first.principal.user_id) == (
        "active", "organization", "user_actor", owner.user_id)
    assert (first.created_by.id, first.created_by.type, first.expires_at) == (owner.user_id, "user", None)
    assert [k.id for k in client.organization.api_keys.list(created_by_user_id=member.user_id)] == [theirs.pk]
    assert list(client.organization.api_keys.list(workspace_id="wrkspc_any")) == []  # keys belong to the org
    assert list(client.organization.api_keys.list(status="expired")) == []

    assert client.organization.api_keys.retrieve(tool.pk).name == "tool"
    renamed = client.organization.api_keys.update(tool.pk, name="deploy tool")
    assert renamed.name == "deploy tool"
    assert last_event(org, "api_key.updated").after == {"name": "deploy tool"}

    tool_client = sdk(world, tool_secret)
    assert tool_client.organization.retrieve().id == org.pk
    paused = client.organization.api_keys.update(tool.pk, status="inactive")
    assert paused.status == "inactive"
    with pytest.raises(anthropic.AuthenticationError):
        tool_client.organization.retrieve()
    assert [k.id for k in client.organization.api_keys.list(status="inactive")] == [tool.pk]
    resumed = client.organization.api_keys.update(tool.pk, status="active")
    assert resumed.status == "active" and tool_client.organization.retrieve().id == org.pk
    event = last_event(org, "api_key.updated")
    assert (event.before, event.after) == ({"status": "inactive"}, {"status": "active"})

    archived = client.organization.api_keys.update(tool.pk, status="archived")
    assert archived.status == "archived"
    with pytest.raises(anthropic.AuthenticationError) as refused:
        tool_client.organization.retrieve()
    assert "Bearer" in refused.value.api_message and refused.value.request_id.startswith("req_")
    with pytest.raises(anthropic.BadRequestError) as final:
        client.organization.api_keys.update(tool.pk, status="active")
    assert "archived" in final.value.api_message
    assert last_event(org, "api_key.revoked").after == {"status": "archived"}
    assert [k.id for k in client.organization.api_keys.list(status="archived")] == [tool.pk]


def test_only_someone_who_may_create_keys_for_the_member_resumes_one(world):
    org, owner = world["org"], world["owner"]
    manager = add_member(org, "identity_manage")
    manager_client = sdk(world, api_key_for(manager, name="manager"))
    owners_key = ApiKey.objects.get(key_hash=hash_api_key(world["secret"]))
    # Identity & access: manage may pause anyone's key, as it may revoke it ...
    assert manager_client.organization.api_keys.update(owners_key.pk, status="inactive").status == "inactive"
    # ... but resuming is creating: not for a member with more access
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        manager_client.organization.api_keys.update(owners_key.pk, status="active")
    assert "may create keys for" in refused.value.api_message and refused.value.request_id.startswith("req_")
    owners_key.refresh_from_db()
    assert owners_key.status == "inactive"
    # the owner resumes it with another key of theirs
    other = sdk(world, api_key_for(owner, name="other"))
    assert other.organization.api_keys.update(owners_key.pk, status="active").status == "active"


# --- analytics ---------------------------------------------------------------------------------


@pytest.fixture
def usage(world):
    org, owner = world["org"], world["owner"]
    actor = actor_for(owner.user)
    prod = residency_services.workspace_create(actor=actor, organization=org, name="Prod")
    lab = residency_services.workspace_create(actor=actor, organization=org, name="Lab")
    records = analytics_rows(prod, lab)
    result = residency_services.usage_ingest(actor=actor, organization=org, records=records)
    assert result.accepted == 6
    return {"Prod": prod.pk, "Lab": lab.pk}


def grouped(rows, dimension, metric):
    return {getattr(r.group, dimension): metric(r) for r in rows}


def expected(dimension, usage, values):
    """Hand-computed totals per value of `dimension`, from the per-row figures above."""
    rows = {"A": ("Prod", "standard", "us", "claude-opus-4-6"), "B": ("Prod", "batch", "global", "claude-opus-4-6"),
            "C": ("Lab", "batch", "us", "claude-sonnet-4-6"), "D": ("Lab", "standard", None, "claude-haiku-4-5"),
            "E": ("Prod", "priority", None, "claude-opus-4-1"), "F": (None, "standard", "us", "claude-sonnet-4-6")}
    out = {}
    for row, (ws, tier, geo, model) in rows.items():
        key = {"workspace_id": usage.get(ws), "service_tier": tier, "inference_geo": geo, "model": model,
               "product": PRODUCTS[row]}[dimension]
        out[key] = out.get(key, 0) + values(row)
    return out


def test_usage_and_cost_analytics_by_each_dimension(world, usage):
    for dimension in ("workspace_id", "service_tier", "inference_geo", "model", "product"):
        check_dimension(sdk(world), usage, dimension)


def check_dimension(client, usage, dimension):
    rows = list(client.beta.organization.analytics.usage.list(**DAYS, group_by=[dimension]))
    assert grouped(rows, dimension, lambda r: r.usage.total_tokens) == expected(dimension, usage, TOKENS.get)
    assert sum(r.usage.requests for r in rows) == 6
    totals = [r.usage.total_tokens for r in rows]
    assert totals == sorted(totals, reverse=True)  # ranked by total_tokens, highest first
    for r in rows:
        u = r.usage
        assert u.total_tokens == (u.uncached_input_tokens + u.cache_creation.ephemeral_5m_input_tokens
                                  + u.cache_creation.ephemeral_1h_input_tokens + u.cache_read_input_tokens
                                  + u.output_tokens)
        assert u.server_tool_use.web_search_requests == 0
        others = {name for name in ("workspace_id", "service_tier", "inference_geo", "model", "product")
                  if name != dimension}
        assert all(getattr(r.group, name) is None for name in others)
        assert (r.starting_at.isoformat(), r.ending_at.isoformat()) == ("2026-03-01T00:00:00+00:00",
                                                                        "2026-03-03T00:00:00+00:00")
    costs = list(client.beta.organization.analytics.cost.list(**DAYS, group_by=[dimension]))
    assert grouped(costs, dimension, lambda r: Decimal(r.cost.amount)) == expected(
        dimension, usage, lambda row: Decimal(AMOUNT[row]))
    assert grouped(costs, dimension, lambda r: Decimal(r.cost.list_amount)) == expected(
        dimension, usage, lambda row: Decimal(LIST_AMOUNT[row]))
    assert {r.cost.currency for r in costs} == {"USD"}
    amounts = [Decimal(r.cost.amount) for r in costs]
    assert amounts == sorted(amounts, reverse=True)


def test_analytics_totals_buckets_paging_and_filters(world, usage):
    analytics = sdk(world).beta.organization.analytics
    (total,) = analytics.usage.list(**DAYS)
    assert (total.usage.total_tokens, total.usage.requests) == (9_870_000, 6)
    (cost,) = analytics.cost.list(**DAYS)
    assert (cost.cost.amount, cost.cost.list_amount) == ("3870.75", "5485.75")
    # by product, in full: B + C are the batch rows, A + D + E the other API rows, F the apps row
    by_product = {r.group.product: (r.usage.total_tokens, r.usage.requests)
                  for r in analytics.usage.list(**DAYS, group_by=["product"])}
    assert by_product == {"message_batches_api": (5_100_000, 2), "messages_api": (3_770_000, 3), "chat": (1_000_000, 1)}
    by_product = {r.group.product: (r.cost.amount, r.cost.list_amount)
                  for r in analytics.cost.list(**DAYS, group_by=["product"])}
    assert by_product == {"message_batches_api": ("2027.5", "3642.5"), "messages_api": ("1513.25", "1513.25"),
                          "chat": ("330", "330")}
    by_geo = [(r.group.inference_geo, r.cost.amount) for r in analytics.cost.list(**DAYS, group_by=["inference_geo"])]
    assert by_geo == [("us", "2510.75"), (None, "735"), ("global", "625")]  # not_available reads null

    # whole hours from the hourly and daily rollups: 10:30 on day 1 to noon on day 3 is all six rows
    (partial,) = analytics.usage.list(starting_at="2026-03-01T10:30:00Z", ending_at="2026-03-03T12:00:00Z")
    assert partial.usage.total_tokens == 9_870_000
    assert (partial.starting_at.isoformat(), partial.ending_at.isoformat()) == (
        "2026-03-01T10:00:00+00:00", "2026-03-03T12:00:00+00:00")
    (early,) = analytics.usage.list(starting_at="2026-03-01T10:30:00Z", ending_at="2026-03-02T05:15:00Z")
    assert early.usage.total_tokens == TOKENS["A"] + TOKENS["B"] + TOKENS["C"]  # D at 05:00 is past the hour

    days = list(analytics.cost.list(**DAYS, time_bucket_width="1d", order_by="time", order="asc"))
    assert [(d.starting_at.day, d.cost.amount) for d in days] == [(1, "1403.25"), (2, "2467.5")]
    hours = list(analytics.usage.list(**DAYS, time_bucket_width="1h", group_by=["product"], limit=2))
    assert [(h.starting_at.hour, h.group.product, h.usage.total_tokens) for h in hours] == [
        (0, "message_batches_api", TOKENS["C"]), (5, "messages_api", TOKENS["D"] + TOKENS["E"]),
        (23, "message_batches_api", TOKENS["B"]), (10, "messages_api", TOKENS["A"]),
        (12, "chat", TOKENS["F"])]  # by total_tokens, highest first, across pages of two
    page = analytics.usage.list(**DAYS, time_bucket_width="1h", group_by=["product"], limit=2)
    assert page.has_more and page.next_page and len(page.data) == 2

    only = list(analytics.usage.list(**DAYS, workspace_ids=[usage["Lab"]], service_tiers=["batch"],
                                     models=["claude-sonnet-4-6"], inference_geos=["us"],
                                     products=["message_batches_api"]))
    assert [r.usage.total_tokens for r in only] == [TOKENS["C"]]
    unset = list(analytics.usage.list(**DAYS, inference_geos=["not_available"], group_by=["model"], order="asc",
                                      order_by="output_tokens"))
    assert [(r.group.model, r.usage.output_tokens) for r in unset] == [("claude-opus-4-1", 10_000),
                                                                       ("claude-haiku-4-5", 200_000)]
    chat = list(analytics.cost.list(**DAYS, products=["chat"], group_by=["workspace_id", "inference_geo"]))
    assert [(r.group.workspace_id, r.group.inference_geo, r.cost.amount) for r in chat] == [(None, "us", "330")]


def test_analytics_options_without_data_are_a_400_naming_them(world, usage):
    analytics = sdk(world).beta.organization.analytics
    cases = [
        ({"actor_ids": ["user_x"], "speeds": ["fast"]}, "actor_ids[], speeds[]: this product has no data for them"),
        ({"group_by": ["actor", "model"]}, "cannot group by actor: this product has no data for it"),
        ({"time_bucket_width": "1m"}, "'1m' is not available"),
        ({"service_tiers": ["flex"]}, "cannot filter by service tier flex"),
        ({"products": ["claude_code"]}, "cannot filter by product claude_code"),
        ({"ending_at": "2026-04-02T00:00:01Z"}, "more than 31 days"),
        ({"page": "not-a-page"}, "page: is not a page of this report"),
    ]
    for extra, words in cases:
        with pytest.raises(anthropic.BadRequestError) as refused:
            list(analytics.usage.list(**{**DAYS, **extra}))
        assert words in refused.value.api_message, (extra, refused.value.api_message)
        assert refused.value.type == "invalid_request_error" and refused.value.request_id.startswith("req_")
    with pytest.raises(anthropic.BadRequestError) as refused:
        list(analytics.cost.list(**DAYS, group_by=["token_type"]))
    assert "cannot group by token_type" in refused.value.api_message


# --- errors ------------------------------------------------------------------------------------


def test_each_error_class_with_its_message_and_request_id(world):
    org, client = world["org"], sdk(world)
    viewer_client = sdk(world, api_key_for(add_member(org, "privacy_view"), name="viewer"))
    stranger = make_org(plan="team", name="Other")
    stranger_ws = residency_services.workspace_create(actor=actor_for(primary_owner(stranger).user),
                                                      organization=stranger, name="Theirs")

    def raised(error_class, call):
        with pytest.raises(error_class) as caught:
            call()
        error = caught.value
        assert error.request_id.startswith("req_") and error.response.headers["request-id"] == error.request_id
        assert error.api_message and "details" in error.body["error"]  # always present (null or an object)
        return error

    bad = raised(anthropic.BadRequestError, lambda: client.organization.workspaces.create(name=" "))
    assert (bad.status_code, bad.type, bad.api_message, bad.details, bad.body["error"]["details"]) == (
        400, "invalid_request_error", "name: Give the workspace a name.", None, None)
    key_shape = raised(anthropic.BadRequestError,
                       lambda: client.organization.workspaces.create(name="W", tags={"anthropic_env": "x"}))
    assert "reserved" in key_shape.api_message
    raised(anthropic.BadRequestError, lambda: client.organization.workspaces.create(name="W", external_key_id="k"))

    unknown = raised(anthropic.AuthenticationError, lambda: sdk(world, "rc-api-not-a-key").organization.retrieve())
    assert (unknown.status_code, unknown.type) == (401, "authentication_error")
    assert "x-api-key" in unknown.api_message and "Bearer" in unknown.api_message

    denied = raised(anthropic.PermissionDeniedError, lambda: viewer_client.organization.workspaces.create(name="W"))
    assert (denied.status_code, denied.type) == (403, "permission_error")
    assert "Privacy: Can manage" in denied.api_message

    missing = raised(anthropic.NotFoundError, lambda: client.organization.workspaces.retrieve(stranger_ws.pk))
    assert (missing.status_code, missing.type) == (404, "not_found_error")
    assert stranger_ws.pk in missing.api_message

    # a workspace outside the organization's policy: the SDK's own error class, from error.details
    residency_services.data_residency_policy_set(actor=actor_for(world["owner"].user), organization=org,
                                                 values={"allowed_inference_geos": ["us"],
                                                         "default_inference_geo": "us"})
    outside = raised(anthropic.BadRequestError, lambda: client.organization.workspaces.create(
        name="W", data_residency={"allowed_inference_geos": "unrestricted"}))
    assert type(outside).__name__ == "WorkspacePolicyViolationError"
    assert outside.error_code == "workspace_policy_violation"
    assert outside.details.field == "allowed_inference_geos"
    inside = client.organization.workspaces.create(name="Inside", data_residency=None)
    assert inside.data_residency.allowed_inference_geos == ["us"]  # null: the policy's value


@pytest.mark.skipif(not hasattr(settings, "API_RATE_LIMIT"),
                    reason="REST rate limits (SPEC §6 API_RATE_LIMIT) are not in this build yet")
def test_rate_limit_error_with_retry_after(world):
    client = sdk(world)
    with override_settings(API_RATE_LIMIT="2/min"):
        client.organization.retrieve()
        client.organization.retrieve()
        with pytest.raises(anthropic.RateLimitError) as limited:
            client.organization.retrieve()
    error = limited.value
    assert (error.status_code, error.type) == (429, "rate_limit_error")
    assert error.api_message and error.request_id.startswith("req_")
    assert int(error.response.headers["retry-after"]) >= 1
