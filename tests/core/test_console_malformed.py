"""Malformed input on every console form and path id is refused, never a 500, and changes and
records nothing (SPEC §2 order of checks, §6).

How each page answers:
- NUL characters and unpaired surrogates, in any form field, query parameter or path id: the
  hygiene middleware's 400 page ("This request could not be read"), before any view. A browser
  can only send a lone surrogate as its UTF-8 style bytes (`%ED%A0%80`), so that is what we send.
- Wrong choices, missing fields, dates near year 1 or 9999 that the page cannot show:
  - workspace and data residency forms (create, data residency, archive, admins, US-only):
    400, the page again with the error next to the field;
  - members, roles and API keys: 200, the form again with the error next to the field (as
    these pages always did);
  - filters (usage, audit log): 200, the filters with the error next to the field and no
    figures or events; an audit export with such filters goes back to the log page (302);
  - paging cursors (`after_id`, `older_than`, `page`) the console could not have made: the
    first page, no error.
"""

import re
from html import unescape
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from orgs.models import AREAS, ApiKey, Membership, Organization, Role, Workspace, WorkspaceUserObjectPermission
from residency import services as residency_services
from tests.factories import actor_for, add_member, api_key_for, make_org, primary_owner

HYGIENE_PAGE = "This request could not be read"
NUL = "a\x00b"
SURROGATES = ("%ED%A0%80", "%ED%BF%BF")  # a lone high and a lone low surrogate, as a client sends them
MARK = "MALFORMED"  # replaced by the raw bytes after encoding the rest of the form


@pytest.fixture
def world(org, owner):
    actor = actor_for(owner.user)
    ws = residency_services.workspace_create(actor=actor, organization=org, name="Prod")
    member = add_member(org, "user", email="member@acme.test")
    viewer = add_member(org, "privacy_view")
    api_key_for(owner, name="owner key")
    return {
        "org": org, "owner": owner, "ws": ws.pk, "member": member, "uid": member.user_id,
        "role": viewer.role_id, "key": ApiKey.objects.get(name="owner key").pk,
    }


@pytest.fixture
def stranger(db):
    """The primary owner of another organization."""
    return primary_owner(make_org(name="Other"))


def snapshot():
    """Every row a console form could change, and the audit log's length."""
    models = (Organization, Workspace, Membership, Role, ApiKey, WorkspaceUserObjectPermission)
    rows = {m.__name__: list(m.objects.order_by("pk").values()) for m in models}
    rows["User"] = list(get_user_model().objects.order_by("pk").values("pk", "email", "last_organization_id"))
    rows["audit"] = AuditEvent.objects.count()
    return rows


LEVELS = {**{area: "none" for area in AREAS}, "privacy": "view"}

# page: (method, path, valid input); `{ws}` etc. come from `world`
PAGES = {
    "workspace_list": ("GET", "/workspaces/", {"show": "all", "after_id": "{ws}", "before_id": ""}),
    "workspace_create": ("POST", "/workspaces/new/", {"name": "Research", "workspace_geo": "us"}),
    "workspace_detail": ("POST", "/workspaces/{ws}/", {"name": "Prod", "allowed_mode": "restricted",
                                                       "allowed_geos": "us", "default_inference_geo": "us"}),
    "workspace_archive": ("POST", "/workspaces/{ws}/archive/", {"confirm": "yes"}),
    "workspace_admins": ("POST", "/workspaces/{ws}/admins/", {"membership_id": "{member_pk}", "admin": "on"}),
    "us_only": ("POST", "/settings/privacy/data-residency/", {"us_only": "true", "confirmed": "on"}),
    "residency_policy": ("POST", "/settings/privacy/data-residency-policy/", {
        "allowed_mode": "restricted", "allowed_geos": "us", "default_inference_geo": "us", "apply_to_workspaces": "on",
        "confirmed": "on"}),
    "usage": ("GET", "/usage/", {"from": "2026-01-01", "to": "2026-01-31", "workspace": "{ws}",
                                 "model": "claude-opus-4-6", "surface": "api", "format": "csv"}),
    "audit_log": ("GET", "/audit-log/", {"from": "2026-01-01", "to": "2026-01-31", "actor": "system",
                                         "action": "member.added", "target": "{ws}", "older_than": "5",
                                         "newer_than": ""}),
    "audit_export": ("GET", "/audit-log/export.csv", {"from": "2026-01-01", "to": "2026-01-31", "actor": "system",
                                                      "action": "member.added", "target": "{ws}"}),
    "members": ("GET", "/members/", {"page": "1"}),
    "member_add": ("POST", "/members/add/", {"email": "new@acme.test", "role": "user"}),
    "member_role": ("POST", "/members/{uid}/", {"role": "admin"}),
    "member_remove": ("POST", "/members/{uid}/remove/", {}),
    "member_transfer": ("POST", "/members/{uid}/transfer/", {}),
    "role_create": ("POST", "/roles/new/", {"name": "Analyst", **LEVELS}),
    "role_edit": ("POST", "/roles/{role}/", {"name": "Viewer", **LEVELS}),
    "api_keys": ("POST", "/api-keys/", {"name": "laptop", "user_id": "{owner_uid}", "submission": "s1"}),
    "api_keys_list": ("GET", "/api-keys/", {"page": "1"}),
    "api_key_revoke": ("POST", "/api-keys/{key}/revoke/", {}),
    "switch_organization": ("POST", "/switch-organization/", {"organization_id": "{org}"}),
}


def _fill(value, world):
    return value.format(ws=world["ws"], member_pk=world["member"].pk, uid=world["uid"], role=world["role"],
                        key=world["key"], owner_uid=world["owner"].user_id, org=world["org"].pk)


def send(client, world, page, *, data=None, path=None, raw=None):
    """Send `page` with its valid input, or `data` instead; `raw` replaces MARK after encoding."""
    method, template, valid = PAGES[page]
    url = path or _fill(template, world)
    data = {k: _fill(v, world) for k, v in (valid if data is None else data).items()}
    body = urlencode(data, doseq=True)
    if raw is not None:
        body = body.replace(MARK, raw)
    if method == "GET":
        return client.get(f"{url}?{body}" if body else url)
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


def refused_cases(name):
    """(where, kind) for every field and the path id of page `name`, with NUL and each surrogate."""
    _, template, valid = PAGES[name]
    places = [*valid, *(["path id"] if "{" in template else [])]
    return [(where, kind) for where in places for kind in ("nul", *SURROGATES)]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_nul_and_lone_surrogates_are_refused_before_any_view(world, console, name):
    client = console(world["owner"].user)
    before = snapshot()
    _, template, valid = PAGES[name]
    for where, kind in refused_cases(name):
        if where == "path id":
            path = re.sub(r"\{\w+\}", "a%00b" if kind == "nul" else kind, template)
            response = send(client, world, name, path=path)
        else:
            data = {**valid, where: NUL if kind == "nul" else MARK}
            response = send(client, world, name, data=data, raw=None if kind == "nul" else kind)
        assert response.status_code == 400, (where, kind)
        assert HYGIENE_PAGE in response.content.decode(), (where, kind)
    assert snapshot() == before


def test_every_page_accepts_its_valid_input(world, console):
    """The table's valid input really is valid: each page answers it without an error."""
    client = console(world["owner"].user)
    for name in PAGES:
        if name in ("member_transfer", "switch_organization"):
            continue  # they hand over the title / change the session; covered by their own tests
        response = send(client, world, name)
        assert response.status_code in (200, 302), name
        assert b"field-error" not in (b"" if response.streaming else response.content), name


def field_marked(html, name):
    """Whether an input or select named `name` is marked invalid and pointed at its error."""
    for tag in re.findall(r"<(?:input|select)\b[^>]*>", html):
        if f'name="{name}"' in tag and 'aria-invalid="true"' in tag:
            ids = re.search(r'aria-describedby="([^"]*)"', tag)
            return ids is None or all(f'id="{i}"' in html for i in ids.group(1).split())
    return False


def page_text(response):
    return " ".join(unescape(response.content.decode()).split())


# name, input changes (None removes the field), status, field marked (or None), words shown
INVALID = [
    # workspaces and data residency: 400
    ("workspace_create", {"name": None}, 400, "name", "Give the workspace a name."),
    ("workspace_create", {"name": "x" * 201}, 400, "name", "Use at most 200 characters."),
    ("workspace_create", {"workspace_geo": "mars"}, 400, "workspace_geo", "'mars' is not an available workspace geo"),
    ("workspace_create", {"workspace_geo": None}, 400, "workspace_geo", "Choose where the workspace's data is stored."),
    ("workspace_detail", {"name": "  "}, 400, "name", "Give the workspace a name."),
    ("workspace_detail", {"allowed_mode": "sometimes"}, 400, "allowed_mode", "Choose unrestricted or a set of geos."),
    ("workspace_detail", {"allowed_mode": None}, 400, "allowed_mode", "Choose unrestricted or a set of geos."),
    ("workspace_detail", {"allowed_geos": None}, 400, "allowed_geos", "Tick at least one geo, or choose Unrestricted."),
    ("workspace_detail", {"allowed_geos": "mars"}, 400, "allowed_geos", "Unknown geo mars"),
    ("workspace_detail", {"default_inference_geo": "mars"}, 400, "default_inference_geo",
     "'mars' is not a valid inference geo; choose one of: global, us."),
    ("workspace_detail", {"default_inference_geo": "global"}, 400, "default_inference_geo",
     "global is not one of the allowed geos; choose the default from: us."),
    ("workspace_archive", {"confirm": None}, 400, "confirm", "Tick the box to confirm that archiving is permanent."),
    ("workspace_archive", {"confirm": "false"}, 400, "confirm", "Tick the box"),
    ("workspace_admins", {"membership_id": None}, 400, None, "Choose a member of this organization."),
    ("workspace_admins", {"membership_id": "mbr_nope"}, 400, None, "Choose a member of this organization."),
    ("workspace_admins", {"membership_id": "{other_member}"}, 400, None, "Choose a member of this organization."),
    ("workspace_admins", {"membership_id": "x" * 41}, 400, None, "Choose a member of this organization."),
    ("workspace_admins", {"admin": "maybe"}, 400, None, "Say whether to make them an admin or remove them."),
    ("workspace_admins", {"admin": None}, 400, None, "Say whether to make them an admin or remove them."),
    ("workspace_create", {"allowed_mode": "sometimes"}, 400, "allowed_mode", "Choose unrestricted or a set of geos."),
    ("workspace_create", {"allowed_mode": "restricted"}, 400, "allowed_geos",
     "Tick at least one geo, or choose Unrestricted."),
    ("workspace_create", {"allowed_mode": "restricted", "allowed_geos": "us", "default_inference_geo": "global"}, 400,
     "default_inference_geo", "global is not one of the allowed geos; choose the default from: us."),
    ("residency_policy", {"allowed_mode": None}, 400, "allowed_mode", "Choose unrestricted or a set of geos."),
    ("residency_policy", {"allowed_geos": None}, 400, "allowed_geos", "Tick at least one geo, or choose Unrestricted."),
    ("residency_policy", {"allowed_geos": "mars"}, 400, "allowed_geos", "Unknown geo mars"),
    ("residency_policy", {"default_inference_geo": "mars"}, 400, "default_inference_geo",
     "'mars' is not a valid inference geo; choose one of: global, us."),
    ("residency_policy", {"default_inference_geo": "global"}, 400, "default_inference_geo",
     "global is not one of the allowed geos; choose the default from: us."),
    ("us_only", {"us_only": "maybe"}, 400, None, "Choose on or off."),
    ("us_only", {"us_only": None}, 400, None, "Choose on or off."),
    # filters: 200 with the error and no figures
    ("usage", {"from": "nope"}, 200, "from", "'nope' is not a date; use YYYY-MM-DD."),
    ("usage", {"from": "0000-12-31"}, 200, "from", "'0000-12-31' is not a date"),
    ("usage", {"from": "9999-12-01", "to": "9999-12-31"}, 200, "to",
     "9999-12-31 is out of range; use a date between years 1 and 9998."),
    ("usage", {"to": "9999-12-31", "from": None}, 200, "to", "9999-12-31 is out of range"),
    ("usage", {"from": "10000-01-01"}, 200, "from", "is not a date"),
    ("usage", {"from": "2026-02-01", "to": "2026-01-01"}, 200, "to", "The end date is before the start date."),
    ("usage", {"from": "0001-01-01", "to": "9998-12-31"}, 200, "from", "Show at most 366 days at a time."),
    ("usage", {"workspace": "wrkspc_nope"}, 200, "workspace", "No such workspace in this organization."),
    ("usage", {"model": "gpt-5"}, 200, "model", "No such model."),
    ("usage", {"format": "pdf"}, 200, None, "Unknown format 'pdf'"),
    ("usage", {"surface": "desktop"}, 200, "surface", "Choose API, Claude apps, or both."),
    ("audit_log", {"from": "soon"}, 200, "from", "'soon' is not a date; use YYYY-MM-DD."),
    ("audit_log", {"to": "9999-12-31"}, 200, "to", "9999-12-31 is out of range; use a date between years 1 and 9998."),
    ("audit_log", {"from": "0000-01-01"}, 200, "from", "is not a date"),
    ("audit_log", {"from": "2026-02-01", "to": "2026-01-01"}, 200, "to", "The end date is before the start date."),
    ("audit_log", {"action": "member.deleted"}, 200, "action", "'member.deleted' is not an action you can filter by."),
    ("audit_log", {"actor": "x" * 41}, 200, "actor", "Choose an actor from the list."),
    ("audit_log", {"target": "x" * 41}, 200, "target", "Choose a target from the list."),
    # members, roles, API keys: 200 with the error
    ("member_add", {"email": None}, 200, "email", "Enter the person's email address."),
    ("member_add", {"email": "not-an-email"}, 200, "email", "Enter a valid email address."),
    ("member_add", {"role": "primary_owner"}, 200, "role", "Select a valid choice"),
    ("member_add", {"role": None}, 200, "role", "Choose a role."),
    ("member_role", {"role": "emperor"}, 200, "role", "Select a valid choice"),
    ("member_role", {"role": None}, 200, "role", "Choose a role."),
    ("role_create", {"name": None}, 200, "name", "Give the role a name."),
    ("role_create", {"privacy": "superuser"}, 200, "privacy", "Privacy takes one of: none, view, manage."),
    ("role_create", {"audit_log": "manage"}, 200, "audit_log", "Audit log takes one of: none, view."),
    ("role_edit", {"name": "x" * 101}, 200, "name", "Use at most 100 characters."),
    ("role_edit", {"billing": None}, 200, "billing", "Choose a level for Billing."),
    ("api_keys", {"name": None}, 200, "name", "Give the key a name"),
    ("api_keys", {"name": "x" * 101}, 200, "name", "Use at most 100 characters."),
    ("api_keys", {"user_id": "user_nope"}, 200, "user_id", "Select a valid choice"),
]


@pytest.mark.parametrize("name,changes,status,field,words", INVALID,
                         ids=[f"{p}-{'-'.join(c)}" for p, c, *_ in INVALID])
def test_invalid_input_is_shown_next_to_the_field_and_changes_nothing(world, console, request, name, changes,
                                                                     status, field, words):
    client = console(world["owner"].user)
    valid = PAGES[name][2]
    data = {k: v for k, v in {**valid, **changes}.items() if v is not None}
    if "{other_member}" in data.values():
        stranger = request.getfixturevalue("stranger")
        data = {k: v.replace("{other_member}", stranger.pk) for k, v in data.items()}
    before = snapshot()
    response = send(client, world, name, data=data)
    assert response.status_code == status
    html = response.content.decode()
    assert words in page_text(response)
    if field:
        assert field_marked(html, field), f"{field} is not marked aria-invalid"
    if name in ("usage", "audit_log"):
        # only the error: no figures, no events, no "nothing here" card
        for absent in ("No usage in this period", "data-chart", "No events", 'aria-labelledby="events-title"',
                       "Download CSV"):
            assert absent not in html
    assert snapshot() == before


def test_what_was_typed_stays_in_the_form(world, console):
    client = console(world["owner"].user)
    html = send(client, world, "workspace_detail", data={"name": "Renamed", "allowed_mode": "restricted",
                                                         "default_inference_geo": "us"}).content.decode()
    assert 'value="Renamed"' in html
    assert re.search(r'<input type="radio" name="allowed_mode" value="restricted"[^>]*checked', html)
    assert re.search(r'<option value="us" selected>', html)  # the default select keeps its value
    html = send(client, world, "usage", data={"from": "2026-02-01", "to": "2026-01-01",
                                              "workspace": world["ws"]}).content.decode()
    assert 'value="2026-02-01"' in html and 'value="2026-01-01"' in html
    assert f'<option value="{world["ws"]}" selected>' in html
    html = send(client, world, "audit_log", data={"actor": "apikey_gone", "to": "9999-12-31"}).content.decode()
    assert '<option value="apikey_gone" selected>apikey_gone</option>' in html and 'value="9999-12-31"' in html


@pytest.mark.parametrize("name,data", [
    ("usage", {"from": "0001-01-01", "to": "0001-12-31"}),
    ("usage", {"to": "0001-01-03"}),  # the default 30 days would start before year 1
    ("usage", {"from": "9998-12-01", "to": "9998-12-31"}),
    ("usage", {"from": "0001-01-01", "to": "0001-01-02", "format": "csv"}),
    ("audit_log", {"from": "0001-01-01", "to": "9998-12-31"}),
    ("audit_export", {"from": "0001-01-01", "to": "9998-12-31"}),
])
def test_the_first_and_last_days_the_calendar_allows_work(world, console, name, data):
    response = send(console(world["owner"].user), world, name, data=data)
    assert response.status_code == 200
    assert b"field-error" not in (b"" if response.streaming else response.content)


@pytest.mark.parametrize("name,data,status", [
    ("audit_log", {"older_than": "abc"}, 200),
    ("audit_log", {"older_than": "-1"}, 200),
    ("audit_log", {"newer_than": "9" * 30}, 200),
    ("audit_log", {"older_than": "\u0664\u0662"}, 200),  # Arabic-Indic digits are not a seq
    ("members", {"page": "last"}, 200),
    ("members", {"page": "9" * 30}, 200),
    ("api_keys_list", {"page": "-3"}, 200),
    ("workspace_list", {"show": "everything"}, 200),
    ("workspace_list", {"after_id": "x" * 300}, 200),
    ("workspace_list", {"after_id": "wrkspc_gone"}, 302),
    ("workspace_list", {"before_id": "wrkspc_gone"}, 302),
])
def test_cursors_the_console_did_not_make_show_the_first_page(world, console, name, data, status):
    response = send(console(world["owner"].user), world, name, data=data)
    assert response.status_code == status
    if status == 200:
        assert b"field-error" not in response.content
    else:
        assert response["Location"] == "/workspaces/?show=active"
    if name == "audit_log":
        assert not response.context["has_newer"]  # the newest name


def test_an_export_with_bad_filters_goes_back_to_the_log_page(world, console):
    response = send(console(world["owner"].user), world, "audit_export", data={"to": "9999-12-31"})
    assert response.status_code == 302
    assert response["Location"] == "/audit-log/?to=9999-12-31"


# --- order of checks: can't see → 404, invalid → 400 (nothing recorded), can't change → 403 ------


def test_invalid_input_from_a_viewer_is_a_400_and_records_nothing(world, console):
    viewer = Membership.objects.get(organization=world["org"], role_id=world["role"])
    client = console(viewer.user)
    before = snapshot()
    response = send(client, world, "workspace_detail", data={"name": "Prod", "allowed_mode": "restricted"})
    assert response.status_code == 400
    assert snapshot() == before
    response = send(client, world, "workspace_admins", data={"membership_id": "mbr_nope", "admin": "on"})
    assert response.status_code == 400 and "Choose a member of this organization." in page_text(response)
    assert snapshot() == before
    assert send(client, world, "workspace_admins").status_code == 403
    assert send(client, world, "workspace_archive", data={}).status_code == 400
    assert send(client, world, "workspace_archive").status_code == 403
    assert snapshot() == before
    response = send(client, world, "workspace_detail")
    assert response.status_code == 403
    denied = AuditEvent.objects.filter(action="workspace.residency_change_denied").get()
    assert denied.actor_user_id == viewer.user_id and denied.outcome == "denied"


def test_a_refused_workspace_create_is_audited_like_rest(world, console):
    viewer = Membership.objects.get(organization=world["org"], role_id=world["role"])
    client = console(viewer.user)
    before = snapshot()
    assert send(client, world, "workspace_create", data={"name": "", "workspace_geo": "us"}).status_code == 400
    assert snapshot() == before
    response = send(client, world, "workspace_create")
    assert response.status_code == 403 and "Privacy: Can manage" in page_text(response)
    assert not Workspace.objects.filter(name="Research").exists()
    denied = AuditEvent.objects.filter(action="workspace.residency_change_denied").get()
    assert denied.actor_user_id == viewer.user_id and denied.source == "console"


def test_another_organizations_ids_are_404_before_the_input_is_read(world, console, stranger):
    client = console(stranger.user)
    before = snapshot()
    for name in ("workspace_detail", "workspace_archive", "workspace_admins"):
        assert send(client, world, name, data={"junk": "1"}).status_code == 404, name
    assert snapshot() == before
