"""A workspace's Admin API fields (SPEC §9): display_color, tags, compartment_id, external_key_id and
user_profile_id; null meaning the default in data_residency; the list's ids[]."""

import pytest
from django.core.exceptions import ValidationError

from audit.events import describe
from audit.models import AuditEvent
from orgs.models import WORKSPACE_COLORS, Workspace
from residency import services as residency_services
from residency.policy import MAX_TAGS, clean_display_color, clean_tags
from tests.factories import actor_for, add_member, api_key_for, make_org, primary_owner

URL = "/v1/organizations/workspaces"


@pytest.fixture
def owner_api(owner, api):
    return api(api_key_for(owner))


def message(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["message"]


# --- the rules (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize("value,ok", [
    ("#6a9bcc", "#6a9bcc"), ("#ABCDEF", "#abcdef"), ("#000000", "#000000"),
    ("6a9bcc", None), ("#6a9bc", None), ("#6a9bccc", None), ("#ggg000", None), ("red", None), ("", None), (7, None),
])
def test_display_color_is_rrggbb(value, ok):
    if ok:
        assert clean_display_color(value) == ok
    else:
        with pytest.raises(ValidationError, match="use #rrggbb"):
            clean_display_color(value)


@pytest.mark.parametrize("tags,current,result,error", [
    ({"env": "prod"}, None, {"env": "prod"}, None),
    ({"k" * 64: "v" * 256, "e": ""}, None, {"k" * 64: "v" * 256, "e": ""}, None),
    ({"": "x"}, None, None, "tags"),
    ({"k" * 65: "x"}, None, None, "tags." + "k" * 65),
    ({"anthropic": "x"}, None, None, "tags.anthropic"),
    ({"Anthropic-env": "x"}, None, None, "tags.Anthropic-env"),
    ({"env": "v" * 257}, None, None, "tags.env"),
    ({"env": None}, None, None, "tags.env"),  # on create a null is not a value
    ({f"k{i}": "v" for i in range(MAX_TAGS)}, None, {f"k{i}": "v" for i in range(MAX_TAGS)}, None),
    ({f"k{i}": "v" for i in range(MAX_TAGS + 1)}, None, None, "tags"),
    # updates merge; a null deletes; the limit counts the merged tags
    ({"b": "2", "a": None}, {"a": "1", "c": "3"}, {"c": "3", "b": "2"}, None),
    ({"missing": None}, {"a": "1"}, {"a": "1"}, None),
    ({"new": "x"}, {f"k{i}": "v" for i in range(MAX_TAGS)}, None, "tags"),
    ({"new": "x", "k0": None}, {f"k{i}": "v" for i in range(MAX_TAGS)}, "ok", None),
])
def test_tags(tags, current, result, error):
    if error:
        with pytest.raises(ValidationError) as exc:
            clean_tags(tags, current=current)
        assert error in exc.value.message_dict
    else:
        merged = clean_tags(tags, current=current)
        assert merged == result or (result == "ok" and len(merged) == MAX_TAGS and "new" in merged)


# --- REST --------------------------------------------------------------------------------------


def test_created_workspaces_get_a_colour_no_tags_and_their_own_compartment(org, owner_api):
    made = [owner_api.post(URL, {"name": f"W{i}"}, format="json").json() for i in range(3)]
    assert all(w["display_color"] in WORKSPACE_COLORS and w["tags"] == {} for w in made)
    assert all(w["external_key_id"] is None and w["user_profile_id"] is None for w in made)
    assert len({w["compartment_id"] for w in made}) == 3
    ws = Workspace.objects.get(pk=made[0]["id"])
    assert ws.compartment_id == made[0]["compartment_id"]


@pytest.mark.parametrize("body,words", [
    ({"display_color": "blue"}, "display_color: Use a colour as #rrggbb"),
    ({"display_color": 7}, "display_color: Must be a string"),
    ({"tags": ["env"]}, "tags: Must be an object of string keys and string values"),
    ({"tags": {"env": 1}}, "tags.env: Must be a string"),
    ({"tags": {"env": None}}, "tags.env: Must be a string, not null"),
    ({"tags": {"anthropic_team": "x"}}, "tags.anthropic_team: Tag keys cannot start with 'anthropic'"),
    ({"tags": {"env": "v" * 257}}, "tags.env: Ensure this field has no more than 256 characters"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags: A workspace has at most 50 tags; this would make 51"),
    ({"external_key_id": "arn:aws:kms:key"}, "external_key_id: customer-managed encryption keys are not available"),
    ({"external_key_id": None}, "external_key_id: customer-managed encryption keys are not available"),
    ({"user_profile_id": "uprof_1"}, "user_profile_id: user profiles are not available here"),
])
def test_create_refuses_bad_colours_tags_and_absent_features(org, owner_api, body, words):
    count = AuditEvent.objects.count()
    assert words in message(owner_api.post(URL, {"name": "W", **body}, format="json"))
    assert not Workspace.objects.filter(organization=org).exists() and AuditEvent.objects.count() == count


def test_null_means_the_default_on_create_and_unchanged_on_update(org, owner, owner_api):
    residency_services.data_residency_policy_set(actor=actor_for(owner.user), organization=org,
                                                 values={"allowed_inference_geos": ["global", "us"],
                                                         "default_inference_geo": "us"})
    policy = {"workspace_geo": "us", "allowed_inference_geos": ["global", "us"], "default_inference_geo": "us"}
    for residency in (None, {}, {"workspace_geo": None, "allowed_inference_geos": None, "default_inference_geo": None}):
        body = owner_api.post(URL, {"name": "W", "data_residency": residency, "display_color": None, "tags": None},
                              format="json").json()
        assert body["data_residency"] == policy and body["tags"] == {}, residency
    partial = owner_api.post(URL, {"name": "W", "data_residency": {"allowed_inference_geos": ["us"],
                                                                   "default_inference_geo": None}},
                             format="json").json()
    assert partial["data_residency"]["allowed_inference_geos"] == ["us"]
    url = f"{URL}/{partial['id']}"
    count = AuditEvent.objects.count()
    for update in ({"data_residency": None}, {"data_residency": {"allowed_inference_geos": None}},
                   {"tags": None, "display_color": None}, {}):
        assert owner_api.post(url, update, format="json").json() == partial, update
    assert AuditEvent.objects.count() == count
    assert "workspace_geo is chosen when a workspace is created" in message(
        owner_api.post(url, {"data_residency": {"workspace_geo": None}}, format="json"))


def test_updating_colour_and_tags_is_audited_with_the_change(org, owner, owner_api):
    ws = owner_api.post(URL, {"name": "W", "tags": {"team": "a", "env": "dev"}}, format="json").json()
    created = AuditEvent.objects.filter(organization=org, action="workspace.created").latest("seq")
    assert created.after["tags"] == {"team": "a", "env": "dev"} and created.after["display_color"] == ws["display_color"]
    body = owner_api.post(f"{URL}/{ws['id']}", {"display_color": "#ABCDEF", "tags": {"env": None, "team": "b",
                                                                                      "new": ""}},
                          format="json").json()
    assert (body["display_color"], body["tags"]) == ("#abcdef", {"team": "b", "new": ""})
    event = AuditEvent.objects.filter(organization=org, action="workspace.updated").latest("seq")
    assert event.before == {"display_color": ws["display_color"], "tags": {"env": "dev", "team": "a", "new": None}}
    assert event.after == {"display_color": "#abcdef", "tags": {"env": None, "team": "b", "new": ""}}
    text = describe(event)
    assert "tags env: dev → none" in text or "tags env dev → none" in text, text
    assert "display color" in text and "#abcdef" in text, text


def test_only_privacy_managers_recolour_or_retag_and_refusals_are_audited(org, owner, api):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W")
    delegate = add_member(org, "user")
    residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=delegate, admin=True)
    delegate_api, viewer_api = api(api_key_for(delegate)), api(api_key_for(add_member(org, "privacy_view")))
    url = f"{URL}/{ws.pk}"
    for client in (delegate_api, viewer_api):
        for change in ({"tags": {"env": "x"}}, {"display_color": "#000000"}):
            response = client.post(url, change, format="json")
            assert response.status_code == 403, (change, response.content)
    denied = AuditEvent.objects.filter(organization=org, action="workspace.residency_change_denied")
    assert denied.count() == 4
    assert denied.filter(actor_user_id=delegate.user_id).latest("seq").before == {"display_color": ws.display_color}
    ws.refresh_from_db()
    assert (ws.tags, ws.display_color) != ({"env": "x"}, "#000000")
    # the delegate still changes the residency, and asking for the colour it has is no change
    ok = delegate_api.post(url, {"display_color": ws.display_color, "data_residency": {
        "allowed_inference_geos": ["us"], "default_inference_geo": "us"}}, format="json")
    assert ok.status_code == 200 and ok.json()["data_residency"]["allowed_inference_geos"] == ["us"]


def test_archived_workspaces_keep_their_tags(org, owner, owner_api):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W", tags={"a": "1"})
    residency_services.workspace_archive(actor=actor_for(owner.user), workspace=ws)
    assert "archived" in message(owner_api.post(f"{URL}/{ws.pk}", {"tags": {"a": "2"}}, format="json"))


# --- ids[] -------------------------------------------------------------------------------------


def test_ids_filter_lists_only_those_the_caller_may_see(org, owner, owner_api, api):
    actor = actor_for(owner.user)
    made = [residency_services.workspace_create(actor=actor, organization=org, name=f"W{i}") for i in range(4)]
    residency_services.workspace_archive(actor=actor, workspace=made[3])
    elsewhere = make_org(name="Elsewhere")
    theirs = residency_services.workspace_create(actor=actor_for(primary_owner(elsewhere).user),
                                                 organization=elsewhere, name="Theirs")

    def ids(client, *wanted, **query):
        response = client.get(URL, {"ids[]": list(wanted), **query})
        assert response.status_code == 200, response.content
        return [w["id"] for w in response.json()["data"]]

    assert ids(owner_api, made[2].pk, made[0].pk, theirs.pk) == [made[0].pk, made[2].pk]
    assert ids(owner_api, made[3].pk) == []  # archived: include_archived still applies
    assert ids(owner_api, made[3].pk, include_archived="true") == [made[3].pk]
    assert ids(owner_api, made[0].pk, made[1].pk, limit=1, after_id=made[0].pk) == [made[1].pk]
    delegate = add_member(org, "user")
    residency_services.workspace_admin_set(actor=actor, workspace=made[1], membership=delegate, admin=True)
    assert ids(api(api_key_for(delegate)), made[0].pk, made[1].pk) == [made[1].pk]
    too_many = owner_api.get(URL, {"ids[]": [f"wrkspc_{i}" for i in range(101)]})
    assert "ids[]: at most 100 ids per request." in message(too_many)
    # the bound counts what was sent (as OpenAPI's maxItems does), before blanks and repeats are dropped
    for sent in ([""] * 101, [made[0].pk] * 101):
        refused = owner_api.get(URL, {"ids[]": sent})
        assert refused.status_code == 400 and "ids[]: at most 100 ids per request." in message(refused)
    assert owner_api.get(URL, {"include_default": "true"}).json()["data"] == owner_api.get(URL).json()["data"]


@pytest.mark.parametrize("count", [1, 40])
def test_ids_filter_query_count_is_flat(org, owner, owner_api, django_assert_num_queries, count):
    actor = actor_for(owner.user)
    made = [residency_services.workspace_create(actor=actor, organization=org, name=f"W{i}").pk for i in range(count)]
    owner_api.get(URL)
    with django_assert_num_queries(4):
        assert len(owner_api.get(URL, {"ids[]": made, "limit": 100}).json()["data"]) == count
