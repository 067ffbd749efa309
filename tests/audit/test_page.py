"""The console's Audit log page: who sees what, filters, pagination, exports, integrity."""

import csv
import io
import json

import pytest
from django.urls import reverse

from audit.chain import chain_head
from audit.events import RESIDENCY_ACTIONS
from audit.models import AuditEvent
from residency import services as residency_services
from tests.factories import actor_for, make_org, primary_owner
from tests.residency.helpers import workspace

PAGE = reverse("console:audit_log")
CSV = reverse("console:audit_log_export", args=["csv"])
JSON = reverse("console:audit_log_export", args=["json"])
VERIFY = reverse("console:audit_verify")


@pytest.fixture
def history(org, owner):
    actor = actor_for(owner.user)
    residency_services.inference_residency_set(actor=actor, organization=org, us_only=True)
    ws = workspace(org, "Prod")
    residency_services.workspace_update(actor=actor, workspace=ws, data_residency={"allowed_inference_geos": ["us"],
                                                                          "default_inference_geo": "us"})
    return ws


def _seqs(response):
    return [row.event.seq for row in response.context["rows"]]


@pytest.mark.django_db
@pytest.mark.parametrize("role, log, verify", [
    ("primary_owner", "all", 200), ("owner", "all", 200), ("auditor", "all", 200),
    ("privacy_manage", "residency", 404), ("privacy_view", "residency", 404),
    ("privacy_none", 404, 404), ("admin", 404, 404), ("user", 404, 404),
])
def test_role_matrix(org, history, member_factory, console, role, log, verify):
    member = member_factory(org, role)
    client = console(member.user)
    response = client.get(PAGE)
    if log == 404:
        assert response.status_code == 404
        assert client.get(CSV).status_code == 404
    else:
        assert response.status_code == 200
        actions = {row.event.action for row in response.context["rows"]}
        if log == "all":
            assert "member.added" in actions
        else:
            assert actions <= set(RESIDENCY_ACTIONS) and "inference_residency.updated" in actions
            assert b"Verify the chain now" not in response.content
    assert client.get(VERIFY).status_code == verify
    assert client.post(VERIFY).status_code == verify


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client):
    for url in (PAGE, CSV, VERIFY):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_another_organizations_events_never_show(org, owner, history, console):
    other = make_org(name="Other")
    client = console(primary_owner(other).user)
    response = client.get(PAGE)
    assert {row.event.organization_id for row in response.context["rows"]} == {other.pk}
    assert client.get(PAGE, {"target": history.pk}).context["rows"] == []


@pytest.mark.django_db
def test_page_shows_sentence_actor_role_source_ip_and_before_after(org, owner, history, console):
    response = console(owner.user).get(PAGE)
    html = response.content.decode()
    org.refresh_from_db()
    assert f"{owner.user} turned US-only inference on" in html
    assert f"{owner.user} changed workspace Prod: allowed geos unrestricted → us; default geo global → us" in html
    assert "Primary owner" in html and "127.0.0.1" in html and ">console<" in html
    assert "unrestricted → us" in html
    assert f"event <strong>#{chain_head(org.pk)[0]}</strong>" in html  # integrity panel names the chain head


@pytest.mark.django_db
def test_filters_by_action_actor_target_and_dates(org, owner, history, console, member_factory):
    client = console(owner.user)
    only = client.get(PAGE, {"action": "workspace.updated"})
    assert [r.event.action for r in only.context["rows"]] == ["workspace.updated"]
    by_target = client.get(PAGE, {"target": history.pk})
    assert {r.event.target_id for r in by_target.context["rows"]} == {history.pk}
    by_actor = client.get(PAGE, {"actor": "system"})
    assert {r.event.action for r in by_actor.context["rows"]} == {"organization.created", "member.added"}
    assert client.get(PAGE, {"from": "2999-01-01"}).context["rows"] == []
    assert b"No events match these filters." in client.get(PAGE, {"from": "2999-01-01"}).content
    bad = client.get(PAGE, {"from": "soon", "to": "2000-01-01"})
    assert bad.status_code == 200 and bad.context["form"].errors["from"][0].startswith("'soon' is not a date")


@pytest.mark.django_db
def test_keyset_pagination_newest_first(org, owner, console, monkeypatch):
    actor = actor_for(owner.user)
    ws = workspace(org, "Prod")
    for i in range(6):
        residency_services.workspace_update(actor=actor, workspace=ws, name=f"Prod {i}")
    monkeypatch.setattr("audit.views.PAGE_SIZE", 3)
    client = console(owner.user)
    org.refresh_from_db()
    total = chain_head(org.pk)[0]
    first = client.get(PAGE)
    assert _seqs(first) == [total, total - 1, total - 2]
    assert first.context["has_older"] and not first.context["has_newer"]
    second = client.get(PAGE, {"older_than": total - 2})
    assert _seqs(second) == [total - 3, total - 4, total - 5]
    assert second.context["has_newer"]
    back = client.get(PAGE, {"newer_than": total - 3})
    assert _seqs(back) == [total, total - 1, total - 2]


@pytest.mark.django_db
def test_csv_export_has_the_filtered_events_with_every_column(org, owner, history, console):
    response = console(owner.user).get(CSV, {"target": history.pk})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["workspace.updated", "workspace.created"]
    updated = rows[0]
    event = AuditEvent.objects.get(pk=updated["id"])
    assert updated == {
        "id": str(event.pk), "seq": str(event.seq), "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "action": "workspace.updated",
        "description": f"{owner.user} changed workspace Prod: allowed geos unrestricted → us; default geo global → us",
        "outcome": "success", "actor_type": "user", "actor_id": owner.user_id, "actor_user_id": owner.user_id,
        "actor_label": str(owner.user), "actor_role": "Primary owner", "actor_key_creator_id": "",
        "actor_key_creator_label": "", "requested_by_id": "", "requested_by_label": "", "change_request_id": "",
        "source": "console", "ip": "127.0.0.1",
        "user_agent": "pytest", "request_id": "", "target_type": "workspace", "target_id": history.pk,
        "target_label": "Prod", "changes": "allowed geos unrestricted → us; default geo global → us",
        "before": json.dumps(event.before, sort_keys=True), "after": json.dumps(event.after, sort_keys=True),
        "hash_version": "2", "prev_hash": event.prev_hash, "hash": event.hash,
    }


@pytest.mark.django_db
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(org, owner, console):
    workspace(org, "=HYPERLINK(\"http://evil\")")
    rows = list(csv.reader(io.StringIO(b"".join(console(owner.user).get(CSV).streaming_content).decode())))
    label = rows[0].index("target_label")
    assert rows[1][label] == "'=HYPERLINK(\"http://evil\")"


@pytest.mark.django_db
def test_json_export_for_a_privacy_viewer_holds_only_residency_history(org, owner, history, member_factory, console):
    viewer = member_factory(org, "privacy_view")
    response = console(viewer.user).get(JSON)
    data = json.loads(b"".join(response.streaming_content))
    assert data and {e["action"] for e in data} <= set(RESIDENCY_ACTIONS)
    assert data[0]["description"]


@pytest.mark.django_db
def test_verify_now_reports_an_intact_chain(org, owner, history, console):
    response = console(owner.user).post(VERIFY)
    org.refresh_from_db()
    assert response.status_code == 200
    assert response.context["report"].ok
    assert f"{chain_head(org.pk)[0]} events checked" in response.content.decode()


@pytest.mark.django_db
def test_query_count_is_the_same_for_one_event_and_many(org, owner, console, django_assert_num_queries,
                                                         monkeypatch):
    client = console(owner.user)
    client.get(PAGE)
    # session, user, membership, permissions, role names, events, members, keys, workspaces, org switcher
    with django_assert_num_queries(11):  # the chain head is read for the integrity panel
        one = client.get(PAGE, {"action": "organization.created"})
    assert len(one.context["rows"]) == 1
    actor = actor_for(owner.user)
    ws = workspace(org, "Prod")
    for i in range(20):
        residency_services.workspace_update(actor=actor, workspace=ws, name=f"Prod {i}")
    with django_assert_num_queries(11):  # the chain head is read for the integrity panel
        many = client.get(PAGE)
    assert len(many.context["rows"]) > 20


# --- refused attempts never read like changes (issue 13) ----------------------------------------


def test_a_refused_attempt_reads_as_nothing_changed(org, owner, member_factory, console):
    from django.core.exceptions import PermissionDenied

    viewer = member_factory(org, "privacy_view")
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    with pytest.raises(PermissionDenied):
        residency_services.inference_residency_set(actor=actor_for(viewer.user), organization=org, us_only=False)
    html = console(owner.user).get(PAGE).content.decode()
    refused = html[html.index("data-refused"):]
    refused = refused[:refused.index("</td>")]
    assert "Nothing changed" in refused and "asked for off; stayed on" in refused
    assert "→" not in refused and "permission" not in refused
    # the change that did happen still reads before → after
    changed = html[html.index("turned US-only inference on"):]
    assert "off → on" in changed[:changed.index("</tr>")]


def test_the_verify_page_tells_no_customer_to_run_a_command(org, owner, console):
    html = console(owner.user).get(VERIFY).content.decode()
    html += console(owner.user).post(VERIFY).content.decode()
    html += console(owner.user).get(PAGE).content.decode()
    assert "manage.py" not in html and "python " not in html
