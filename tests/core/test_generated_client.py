"""A tool author's client (issue 14): `openapi-python-client --fail-on-warning` generates a typed
Python client from the document the live server serves, and every main flow runs through that
client alone. Every answer must parse into the model the document names for its status: not
`None`, nothing left in `additional_properties`, nothing lost (the model written back out is the
JSON the server sent).

When this fails:
- "generation failed": the generator's warnings are printed; fix the serializer or schema
  extension they name (core/schema.py, */api/), never the generated code.
- "parsed as None" / "not a ...": the status or content type the server answered is not the one
  documented for that operation (declare it with `errors(...)` or in `responses=`).
- "additional_properties": the server sent a field its output serializer does not declare.
- "lost in parsing": a field is typed wrongly in the document (the model cannot hold it).
"""

import dataclasses
import datetime
import importlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.test import override_settings

from tests.factories import add_member, api_key_for, make_org, primary_owner
from tests.residency.helpers import workspace

PACKAGE = "residency_console_api_client"  # the folder it is generated into (as in the README)
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("committed_db")


@pytest.fixture(scope="module")
def served(live_server):
    with urllib.request.urlopen(f"{live_server.url}/v1/openapi.json", timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def rc(served, tmp_path_factory):
    """The generated package, imported (a fresh folder per run; ruff, which formats it, is the venv's)."""
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    document.write_text(json.dumps(served))
    bin_dir = str(Path(sys.executable).parent)
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document), "--meta", "none",
         "--output-path", str(folder / PACKAGE), "--fail-on-warning"],
        cwd=folder, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
    )
    assert run.returncode == 0, f"generation failed:\n{run.stdout}\n{run.stderr}"
    sys.path.insert(0, str(folder))
    try:
        yield Generated(importlib.import_module(PACKAGE))
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class Generated:
    """The generated package: `rc.api("workspaces", "workspaces_create")`, `rc.M.Workspace`."""

    def __init__(self, package):
        self.package = package
        self.M = importlib.import_module(f"{PACKAGE}.models")
        self.answered = set()  # (method, path, status) of every answer the generated clients got

    def record(self, response):
        self.answered.add((response.request.method, response.request.url.path, response.status_code))

    def api(self, tag, operation_id):
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")

    def client(self, base_url, key):
        """How a tool author authenticates: the key in `x-api-key`, no prefix."""
        return self.package.AuthenticatedClient(base_url=base_url, token=key, prefix="", auth_header_name="x-api-key",
                                                raise_on_unexpected_status=True,
                                                httpx_args={"event_hooks": {"response": [self.record]}})


# --- checking a parsed answer -----------------------------------------------------------------


def _normal(value):
    """JSON as compared: timestamps as instants (the model writes `+00:00` where the server wrote `Z`)."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def leftovers(value, where="body"):
    """Every place a parsed model kept a field in `additional_properties` (the document lacks it)."""
    found = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += leftovers(item, f"{where}[{i}]")
    elif hasattr(value, "__attrs_attrs__"):
        extra = getattr(value, "additional_properties", None)
        if extra:
            found.append(f"{where} ({type(value).__name__}): {sorted(extra)}")
        for attribute in value.__attrs_attrs__:
            if attribute.name != "additional_properties":
                found += leftovers(getattr(value, attribute.name), f"{where}.{attribute.name}")
    return found


def to_json(value):
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value.to_dict() if hasattr(value, "to_dict") else value


def typed(response, status, model):
    """The parsed body of `response` (a generated `Response`), checked: the status, the model, no
    stray fields, and nothing lost (written back out, it is what the server sent)."""
    sent = json.loads(response.content)
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {sent}"
    parsed = response.parsed
    assert parsed is not None, f"{status} parsed as None: the document does not declare it"
    if isinstance(model, list):
        assert isinstance(parsed, list) and all(isinstance(item, model[0]) for item in parsed), \
            f"not a list of {model[0].__name__}: {type(parsed).__name__}"
    else:
        assert isinstance(parsed, model), f"not a {model.__name__}: {type(parsed).__name__}"
    assert not leftovers(parsed), f"fields the document does not declare, kept in additional_properties: " \
                                  f"{leftovers(parsed)}"
    assert _normal(to_json(parsed)) == _normal(sent), f"lost in parsing:\n{to_json(parsed)}\n!=\n{sent}"
    return parsed


def typed_error(response, status, kind):
    """A typed error body: the generated `Error` model, its type, and the request id of the header."""
    error = typed(response, status, type(response.parsed))
    assert type(error).__name__ == "Error", f"{status} parsed as {type(error).__name__}, not Error"
    assert error.error.type_.value == kind, error.error
    assert error.request_id == response.headers["request-id"] and error.error.message
    return error


@pytest.fixture
def M(rc):
    """The generated models."""
    return rc.M


# --- the organization and its keys -------------------------------------------------------------


@dataclasses.dataclass
class World:
    org: object
    base: str
    owner: object  # a generated client with the primary owner's key
    viewer: object  # a Privacy: view member's key
    user: object  # a `user`-role member's key


@pytest.fixture
def world(rc, live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    viewer = add_member(org, "privacy_view")
    user = add_member(org, "user")
    return World(org=org, base=live_server.url, owner=rc.client(live_server.url, api_key_for(primary_owner(org))),
                 viewer=rc.client(live_server.url, api_key_for(viewer)), user=rc.client(live_server.url,
                                                                                      api_key_for(user)))


def test_the_served_document_is_the_checked_in_one(served):
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served == checked_in, "docs/openapi.json is stale: run `python manage.py openapi_document`"


def test_organization_and_inference_residency(rc, M, world):
    me = typed(rc.api("organization", "organization_retrieve").sync_detailed(client=world.owner), 200, M.Organization)
    assert (me.id, me.name, me.plan) == (world.org.pk, "Acme", M.PlanEnum.ENTERPRISE_USAGE)

    residency = rc.api("inference_residency", "inference_residency_retrieve")
    update = rc.api("inference_residency", "inference_residency_update")
    before = typed(residency.sync_detailed(client=world.owner), 200, M.InferenceResidency)
    assert (before.us_only, before.locked, before.lock_reason, before.can_manage) == (False, False, None, True)
    on = typed(update.sync_detailed(client=world.owner, body=M.InferenceResidencyUpdate(us_only=True)), 200,
               M.InferenceResidency)
    assert on.us_only is True
    off = typed(update.sync_detailed(client=world.owner, body=M.InferenceResidencyUpdate(us_only=False)), 200,
                M.InferenceResidency)
    assert off.us_only is False
    # a Privacy: view key reads it and cannot change it: a typed 403
    assert typed(residency.sync_detailed(client=world.viewer), 200, M.InferenceResidency).can_manage is False
    typed_error(update.sync_detailed(client=world.viewer, body=M.InferenceResidencyUpdate(us_only=True)), 403,
                "permission_error")


def test_organization_policy_and_the_cost_of_a_change(rc, M, world):
    read = rc.api("data_residency_policy", "data_residency_policy_retrieve")
    update = rc.api("data_residency_policy", "data_residency_policy_update")
    impact = rc.api("residency_impact", "residency_impact_create")
    before = typed(read.sync_detailed(client=world.owner), 200, M.DataResidencyPolicy)
    assert (before.allowed_inference_geos.value, before.default_inference_geo, before.locked) == (
        "unrestricted", "global", False)
    cost = typed(impact.sync_detailed(client=world.owner, body=M.ResidencyImpactCreate(change=M.ResidencyChange(
        data_residency_policy=M.PolicyChange(allowed_inference_geos=["us"], default_inference_geo="us")))), 200,
        M.ResidencyImpact)
    assert (cost.currency, cost.current_cost, cost.projected_cost) == ("USD", "0", "0")  # no usage yet
    after = typed(update.sync_detailed(client=world.owner, body=M.DataResidencyPolicyUpdate(
        allowed_inference_geos=["us"], default_inference_geo="us")), 200, M.DataResidencyPolicy)
    assert (after.allowed_inference_geos, after.default_inference_geo) == (["us"], "us")
    # a Privacy: view key reads it and cannot change it; a default outside the allowed geos is a typed 400
    assert typed(read.sync_detailed(client=world.viewer), 200, M.DataResidencyPolicy).can_manage is False
    typed_error(update.sync_detailed(client=world.viewer, body=M.DataResidencyPolicyUpdate(
        allowed_inference_geos=M.UnrestrictedEnum.UNRESTRICTED)), 403, "permission_error")
    typed_error(update.sync_detailed(client=world.owner, body=M.DataResidencyPolicyUpdate(
        default_inference_geo="global")), 400, "invalid_request_error")


def test_workspace_lifecycle(rc, M, world):
    create = rc.api("workspaces", "workspaces_create")
    listing = rc.api("workspaces", "workspaces_list")
    ws = typed(create.sync_detailed(client=world.owner, body=M.WorkspaceCreate(
        name="Prod", data_residency=M.DataResidencyCreate(allowed_inference_geos=["us"], default_inference_geo="us"),
    )), 200, M.Workspace)
    assert ws.id.startswith("wrkspc_") and ws.archived_at is None
    assert (ws.data_residency.workspace_geo, ws.data_residency.allowed_inference_geos,
            ws.data_residency.default_inference_geo) == ("us", ["us"], "us")
    other = typed(create.sync_detailed(client=world.owner, body=M.WorkspaceCreate(name="Dev")), 200, M.Workspace)
    assert other.data_residency.allowed_inference_geos.value == "unrestricted"

    # paging: one at a time, after_id from last_id
    first = typed(listing.sync_detailed(client=world.owner, limit=1), 200, M.WorkspaceList)
    assert first.has_more is True and [w.id for w in first.data] == [first.first_id] == [first.last_id]
    second = typed(listing.sync_detailed(client=world.owner, limit=1, after_id=first.last_id), 200, M.WorkspaceList)
    assert second.has_more is False and {first.last_id, second.last_id} == {ws.id, other.id}

    got = typed(rc.api("workspaces", "workspaces_retrieve").sync_detailed(ws.id, client=world.owner), 200,
                M.Workspace)
    assert got.name == "Prod"
    updated = typed(rc.api("workspaces", "workspaces_update").sync_detailed(ws.id, client=world.owner, body=M.WorkspaceUpdate(
        name="Production", data_residency=M.DataResidencyUpdate(allowed_inference_geos=["us", "global"]),
    )), 200, M.Workspace)
    assert (updated.name, updated.data_residency.allowed_inference_geos) == ("Production", ["us", "global"])
    archived = typed(rc.api("workspaces", "workspaces_archive").sync_detailed(other.id, client=world.owner), 200,
                     M.Workspace)
    assert isinstance(archived.archived_at, datetime.datetime)
    live = typed(listing.sync_detailed(client=world.owner), 200, M.WorkspaceList)
    assert [w.id for w in live.data] == [ws.id]
    every = typed(listing.sync_detailed(client=world.owner, include_archived=True), 200, M.WorkspaceList)
    assert {w.id for w in every.data} == {ws.id, other.id}

    # typed errors: 400 (a default outside the allowed geos), 404 (no such workspace)
    bad = typed_error(create.sync_detailed(client=world.owner, body=M.WorkspaceCreate(
        name="Bad", data_residency=M.DataResidencyCreate(allowed_inference_geos=["us"], default_inference_geo="global"),
    )), 400, "invalid_request_error")
    assert "default_inference_geo" in bad.error.message
    typed_error(rc.api("workspaces", "workspaces_retrieve").sync_detailed("wrkspc_nope", client=world.owner), 404,
                "not_found_error")


def test_roles_and_users(rc, M, world):
    roles = typed(rc.api("roles", "roles_list").sync_detailed(client=world.owner, limit=100), 200, M.RoleList)
    assert {"primary_owner", "owner", "admin", "user"} <= {r.id for r in roles.data}
    role = typed(rc.api("roles", "roles_create").sync_detailed(client=world.owner, body=M.RoleCreate(
        name="Billing admin", permissions=M.RolePermissionsCreate(billing=M.AreaLevelEnum.MANAGE,
                                                                  audit_log=M.AuditLogLevelEnum.VIEW),
    )), 200, M.Role)
    assert (role.builtin, role.permissions.billing, role.permissions.privacy) == (
        False, M.AreaLevelEnum.MANAGE, M.AreaLevelEnum.NONE)

    users = rc.api("users", "users_create")
    added = typed(users.sync_detailed(client=world.owner, body=M.UserCreate(email="kim@example.test", role="user")),
                  200, M.User)
    assert (added.email, added.role) == ("kim@example.test", "user")
    listed = typed(rc.api("users", "users_list").sync_detailed(client=world.owner), 200, M.UserList)
    assert added.id in {u.id for u in listed.data}
    assert typed(rc.api("users", "users_retrieve").sync_detailed(added.id, client=world.owner), 200, M.User).id \
        == added.id
    changed = typed(rc.api("users", "users_update").sync_detailed(added.id, client=world.owner,
                                                                  body=M.UserUpdate(role=role.id)), 200, M.User)
    assert changed.role == role.id
    # a `user`-role key may not add members
    typed_error(users.sync_detailed(client=world.user, body=M.UserCreate(email="lee@example.test", role="user")),
                403, "permission_error")


def test_api_keys(rc, M, world):
    create = rc.api("api_keys", "api_keys_create")
    made = typed(create.sync_detailed(client=world.owner, body=M.ApiKeyCreate(name="provisioning")), 200,
                 M.ApiKeyCreated)
    assert made.key and made.id.startswith("apikey_")
    listed = typed(rc.api("api_keys", "api_keys_list").sync_detailed(client=world.owner), 200, M.ApiKeyList)
    assert made.id in {k.id for k in listed.data}
    me = rc.api("organization", "organization_retrieve")
    fresh = rc.client(world.base, made.key)
    typed(me.sync_detailed(client=fresh), 200, M.Organization)
    bearer = rc.package.AuthenticatedClient(base_url=world.base, token=made.key)  # the generator's default
    typed(me.sync_detailed(client=bearer), 200, M.Organization)
    got = typed(rc.api("api_keys", "api_keys_retrieve").sync_detailed(made.id, client=world.owner), 200, M.ApiKey)
    assert (got.id, got.status, got.created_by.id) == (made.id, M.ApiKeyStatusEnum.ACTIVE, got.principal.user_id)

    update = rc.api("api_keys", "api_keys_update")
    paused = typed(update.sync_detailed(made.id, client=world.owner, body=M.ApiKeyUpdate(
        name="provisioning (paused)", status=M.ApiKeyStatusChangeEnum.INACTIVE)), 200, M.ApiKey)
    assert (paused.name, paused.status) == ("provisioning (paused)", M.ApiKeyStatusEnum.INACTIVE)
    typed_error(me.sync_detailed(client=fresh), 401, "authentication_error")  # a paused key does not work
    resumed = typed(update.sync_detailed(made.id, client=world.owner, body=M.ApiKeyUpdate(
        status=M.ApiKeyStatusChangeEnum.ACTIVE)), 200, M.ApiKey)
    assert resumed.status == M.ApiKeyStatusEnum.ACTIVE
    typed(me.sync_detailed(client=fresh), 200, M.Organization)
    revoked = typed(rc.api("api_keys", "api_keys_revoke").sync_detailed(made.id, client=world.owner), 200, M.ApiKey)
    assert revoked.status == M.ApiKeyStatusEnum.ARCHIVED
    # the revoked key, and a key that never existed: typed 401s
    typed_error(me.sync_detailed(client=fresh), 401, "authentication_error")
    typed_error(rc.api("workspaces", "workspaces_list").sync_detailed(client=rc.client(world.base, "sk-nope")), 401,
                "authentication_error")


def test_decisions(rc, M, world):
    ws = workspace(world.org, "Prod", allowed_inference_geos=["us", "global"], default_inference_geo="global")
    decide = rc.api("decisions", "decisions_create")
    one = typed(decide.sync_detailed(client=world.user, body=M.ApiSurfaceDecisionRequest(
        workspace_id=ws.pk, model="claude-opus-4-6", inference_geo="us")), 200, M.Decision)
    assert (one.inference_geo, one.routing_geo, one.price_multiplier) == (
        M.InferenceGeoEnum.US, M.RoutingGeoEnum.US, "1.1")
    apps = typed(decide.sync_detailed(client=world.user, body=M.AppsSurfaceDecisionRequest(
        organization_id=world.org.pk, surface=M.AppsSurfaceEnum.APPS, model="claude-sonnet-4-6")), 200, M.Decision)
    assert (apps.routing_geo, apps.price_multiplier) == (M.RoutingGeoEnum.GLOBAL, "1")
    old = typed_error(decide.sync_detailed(client=world.user, body=M.ApiSurfaceDecisionRequest(
        workspace_id=ws.pk, model="claude-opus-4-5", inference_geo="us")), 400, "invalid_request_error")
    assert "inference_geo" in old.error.message
    typed_error(decide.sync_detailed(client=world.user, body=M.ApiSurfaceDecisionRequest(
        workspace_id=ws.pk, model="no-such-model")), 404, "not_found_error")

    batch = typed(rc.api("decisions", "decisions_batch_create").sync_detailed(client=world.user, body=M.DecisionBatchRequest(
        requests=[M.BatchItem(custom_id="a", params=M.BatchItemParams(workspace_id=ws.pk, model="claude-opus-4-6")),
                  M.BatchItem(custom_id="b", params=M.BatchItemParams(workspace_id=ws.pk, model="claude-opus-4-6",
                                                                      inference_geo="eu"))],
    )), 200, M.DecisionBatch)
    a, b = batch.results
    assert (a.custom_id, b.custom_id) == ("a", "b")
    assert isinstance(a.result, M.BatchSucceeded) and isinstance(b.result, M.BatchErrored)
    assert (a.result.inference_geo, a.result.routing_geo) == (M.InferenceGeoEnum.GLOBAL, M.RoutingGeoEnum.GLOBAL)
    assert "eu" in b.result.error.message and b.result.error.details is None


USAGE_ROWS = [
    dict(id="r1", model="claude-opus-4-6", inference_geo="us", service_tier="standard",
         occurred_at="2026-03-01T10:15:00Z", uncached_input_tokens=1_000_000, output_tokens=100_000,
         cache_read_input_tokens=0, cache_creation=dict(ephemeral_5m_input_tokens=0, ephemeral_1h_input_tokens=0)),
    dict(id="r2", model="claude-opus-4-6", inference_geo="global", service_tier="batch",
         occurred_at="2026-03-01T11:00:00Z", uncached_input_tokens=1_000_000, output_tokens=0),
    dict(id="r3", surface="apps", model="claude-sonnet-4-6", inference_geo="us", service_tier="standard",
         occurred_at="2026-03-02T09:00:00Z", uncached_input_tokens=500_000, output_tokens=0),
]


def test_usage_ingest_and_reports(rc, M, world):
    ws = workspace(world.org, "Prod")
    rows = [M.UsageRecord.from_dict({**row, **({} if row.get("surface") == "apps" else {"workspace_id": ws.pk})})
            for row in USAGE_ROWS]
    ingest = rc.api("usage_records", "usage_records_create")
    done = typed(ingest.sync_detailed(client=world.owner, body=M.UsageRecordsIngest(records=rows)), 200,
                 M.UsageRecordsIngested)
    assert (done.accepted, done.duplicates) == (3, 0)
    again = typed(ingest.sync_detailed(client=world.owner, body=M.UsageRecordsIngest(records=rows[:1])), 200,
                  M.UsageRecordsIngested)
    assert (again.accepted, again.duplicates) == (0, 1)

    window = dict(starting_at=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC),
                  ending_at=datetime.datetime(2026, 3, 3, tzinfo=datetime.UTC))
    usage = typed(rc.api("usage_report", "usage_report_messages_retrieve").sync_detailed(
        client=world.owner, bucket_width=M.UsageReportMessagesRetrieveBucketWidth.ONE_DAY,
        group_by=[M.UsageReportMessagesRetrieveGroupByItem.INFERENCE_GEO], **window), 200, M.UsageReport)
    first_day = {r.inference_geo: r.uncached_input_tokens for r in usage.data[0].results}
    assert first_day == {"us": 1_000_000, "global": 1_000_000}
    cost = typed(rc.api("cost_report", "cost_report_retrieve").sync_detailed(
        client=world.owner, group_by=[M.CostReportRetrieveGroupByItem.INFERENCE_GEO], **window), 200, M.CostReport)
    assert {r.inference_geo: r.amount for r in cost.data[0].results}["us"] == "825"  # ($5 in + $2.50 out) x 1.1, in cents

    # the official SDK's analytics, from the same rows
    analytics = dict(starting_at=window["starting_at"], ending_at=window["ending_at"])
    by_geo = typed(rc.api("analytics", "analytics_usage_list").sync_detailed(
        client=world.owner, group_by=[M.AnalyticsUsageListGroupByItem.INFERENCE_GEO], **analytics), 200,
        M.AnalyticsUsagePage)
    assert {r.group.inference_geo: r.usage.uncached_input_tokens for r in by_geo.data} == {
        "us": 1_500_000, "global": 1_000_000}
    spent = typed(rc.api("analytics", "analytics_cost_list").sync_detailed(
        client=world.owner, group_by=[M.AnalyticsCostListGroupByItem.PRODUCT],
        time_bucket_width=M.AnalyticsCostListTimeBucketWidth.ONE_DAY, **analytics), 200, M.AnalyticsCostPage)
    assert {(r.starting_at.day, r.group.product.value) for r in spent.data} == {
        (1, "messages_api"), (1, "message_batches_api"), (2, "chat")}

    # a `user`-role key has no billing or analytics access: the reports and ingest are not there for it
    typed_error(rc.api("usage_report", "usage_report_messages_retrieve").sync_detailed(client=world.user, **window),
                404, "not_found_error")
    typed_error(ingest.sync_detailed(client=world.user, body=M.UsageRecordsIngest(records=rows[:1])), 404,
                "not_found_error")


def test_audit_events_as_pages_json_and_csv(rc, M, world):
    rc.api("workspaces", "workspaces_create").sync_detailed(client=world.owner, body=M.WorkspaceCreate(name="Prod"))
    events = rc.api("audit_events", "audit_events_list")
    page = typed(events.sync_detailed(client=world.owner, limit=5), 200, M.AuditEventList)
    assert page.data and page.data[0].action == "workspace.created"
    export = typed(events.sync_detailed(client=world.owner, format_=M.AuditEventsListFormat.JSON), 200,
                   [M.AuditExportEvent])
    assert [e.seq for e in export] == sorted(e.seq for e in export) and export[-1].organization_id == world.org.pk
    # CSV is text: the generated client's own authenticated connection reads it
    csv = world.owner.get_httpx_client().get("/v1/organizations/audit_events", params={"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("id,seq,created_at,action")


def test_rate_limited_is_a_typed_429(rc, M, world):
    me = rc.api("organization", "organization_retrieve")
    with override_settings(API_RATE_LIMIT="2/min"):
        for _ in range(2):
            typed(me.sync_detailed(client=world.viewer), 200, M.Organization)
        response = me.sync_detailed(client=world.viewer)
        typed_error(response, 429, "rate_limit_error")
        assert 1 <= int(response.headers["retry-after"]) <= 60


def test_the_readme_example_runs(rc, world, monkeypatch, capsys):
    """README "Using the API": its end-to-end example, as written, against the live server."""
    readme = (ROOT / "README.md").read_text()
    marker = "# Using the API: end-to-end example\n"
    start = readme.index(marker)
    code = readme[start:readme.index("```", start)]
    monkeypatch.setenv("RESIDENCY_URL", world.base)
    monkeypatch.setenv("RESIDENCY_API_KEY", world.owner.token)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["us 1.1", "1 0", "us 825 USD"]
    assert lines[3].endswith(" US only ['us']") and len(lines) == 4


def test_approval_of_loosening_changes(rc, M, world):
    """SPEC §8: the setting, a loosening change held as a typed 202 on every surface that can loosen
    (US-only, the organization policy, a workspace, turning approvals off), tightening applied at
    once, the change requests read, approved by another owner, a typed 409, rejected and withdrawn."""
    settings_read = rc.api("approval_settings", "approval_settings_retrieve")
    settings_update = rc.api("approval_settings", "approval_settings_update")
    off = typed(settings_read.sync_detailed(client=world.owner), 200, M.ApprovalSettings)
    assert off.loosening_requires_approval is False
    on = typed(settings_update.sync_detailed(client=world.owner, body=M.ApprovalSettingsUpdate(
        loosening_requires_approval=True)), 200, M.ApprovalSettings)
    assert on.loosening_requires_approval is True
    second = rc.client(world.base, api_key_for(add_member(world.org, "owner")))

    # US-only: on applies at once (200); off waits (202), twice
    us_only = rc.api("inference_residency", "inference_residency_update")
    typed(us_only.sync_detailed(client=world.owner, body=M.InferenceResidencyUpdate(us_only=True)), 200,
          M.InferenceResidency)
    held = typed(us_only.sync_detailed(client=world.owner, body=M.InferenceResidencyUpdate(us_only=False)), 202,
                 M.ChangeRequest)
    assert (held.status, held.change.target.type_.value, held.change.before.us_only, held.change.after.us_only) == (
        M.ChangeRequestStatusEnum.PENDING, "inference_residency", True, False)
    twin = typed(us_only.sync_detailed(client=world.owner, body=M.InferenceResidencyUpdate(us_only=False)), 202,
                 M.ChangeRequest)

    # a workspace: widening its allowed geos (the policy is unrestricted yet) is held, with its whole data residency
    ws = workspace(world.org, "Prod", allowed_inference_geos=["us"], default_inference_geo="us")
    moved = typed(rc.api("workspaces", "workspaces_update").sync_detailed(ws.pk, client=world.owner,
                  body=M.WorkspaceUpdate(name="Production", data_residency=M.DataResidencyUpdate(
                      default_inference_geo="global", allowed_inference_geos=["us", "global"]))), 202, M.ChangeRequest)
    assert (moved.change.before.name, moved.change.after.name) == ("Prod", "Production")
    assert moved.change.after.data_residency.default_inference_geo == "global"

    # the organization policy: tightening at once, loosening held
    policy = rc.api("data_residency_policy", "data_residency_policy_update")
    typed(policy.sync_detailed(client=world.owner, body=M.DataResidencyPolicyUpdate(
        allowed_inference_geos=["us"], default_inference_geo="us")), 200, M.DataResidencyPolicy)
    widen = typed(policy.sync_detailed(client=world.owner, body=M.DataResidencyPolicyUpdate(
        allowed_inference_geos=["us", "global"])), 202, M.ChangeRequest)
    assert (widen.change.before.allowed_inference_geos, widen.change.after.allowed_inference_geos) == (
        ["us"], ["us", "global"])

    # reading them
    listing = rc.api("change_requests", "change_requests_list")
    pending = typed(listing.sync_detailed(client=world.viewer, status=M.ChangeRequestsListStatus.PENDING), 200,
                    M.ChangeRequestList)
    assert {cr.id for cr in pending.data} == {held.id, twin.id, widen.id, moved.id}
    got = typed(rc.api("change_requests", "change_requests_retrieve").sync_detailed(held.id, client=world.viewer),
                200, M.ChangeRequest)
    assert got.requested_by.id == held.requested_by.id and got.decided_by is None

    # another owner approves; the same change asked twice is then a typed 409; the policy's applies
    approve = rc.api("change_requests", "change_requests_approve")
    typed_error(approve.sync_detailed(held.id, client=world.owner), 403, "permission_error")  # the requester
    applied = typed(approve.sync_detailed(held.id, client=second), 200, M.ChangeRequest)
    assert applied.status == M.ChangeRequestStatusEnum.APPLIED and applied.decided_by is not None
    typed_error(approve.sync_detailed(twin.id, client=second), 409, "conflict_error")
    typed(approve.sync_detailed(widen.id, client=second), 200, M.ChangeRequest)
    now = typed(rc.api("data_residency_policy", "data_residency_policy_retrieve").sync_detailed(client=world.owner),
                200, M.DataResidencyPolicy)
    assert now.allowed_inference_geos == ["us", "global"]
    rejected = typed(rc.api("change_requests", "change_requests_reject").sync_detailed(moved.id, client=second), 200,
                     M.ChangeRequest)
    assert rejected.status == M.ChangeRequestStatusEnum.REJECTED

    # turning approvals off is itself held; its requester withdraws it
    ask_off = typed(settings_update.sync_detailed(client=world.owner, body=M.ApprovalSettingsUpdate(
        loosening_requires_approval=False)), 202, M.ChangeRequest)
    withdrawn = typed(rc.api("change_requests", "change_requests_withdraw").sync_detailed(ask_off.id,
                      client=world.owner), 200, M.ChangeRequest)
    assert withdrawn.status == M.ChangeRequestStatusEnum.WITHDRAWN


def test_every_operation_ran_through_the_generated_client(rc, served):
    """Runs last: every operation of the document answered a 2xx to the generated client above."""
    missing = []
    for path, item in served["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in item:
            if not any(m == method.upper() and pattern.match(p) and 200 <= status < 300
                       for m, p, status in rc.answered):
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"operations no flow in this module ran to a 2xx through the generated client: " \
                        f"{missing}; add their flow here, asserting the typed answers with typed() (if you ran part of " \
                        "this module, run all of it)"
