"""Hardened headers and deploy (SPEC §6): a Content-Security-Policy without 'unsafe-inline' for
scripts on every console page (the API docs may relax styles for themselves), Permissions-Policy,
HSTS and the HTTPS redirect in production settings, `check --deploy` clean with the README's
production environment, and no demo logins under production settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.urls import console_patterns
from orgs import services
from residency import services as residency_services
from tests.factories import actor_for, add_member, api_key_for

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def csp(response):
    header = response.get("Content-Security-Policy")
    assert header, (response.wsgi_request.path, response.status_code)
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part.strip())


def assert_strict(response):
    policy = csp(response)
    assert policy["script-src"] == "'self'", policy
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert response["Permissions-Policy"].startswith("accelerometer=()")
    assert response["X-Content-Type-Options"] == "nosniff"


def console_urls(ids):
    """Every console URL pattern with real ids filled in."""
    urls = []
    for pattern in console_patterns:
        route = str(pattern.pattern)
        if pattern.name == "audit_log_export":
            urls += ["/audit-log/export.csv", "/audit-log/export.json"]
            continue
        for name, value in ids.items():
            route = route.replace(f"<str:{name}>", value)
        assert "<" not in route, route
        urls.append("/" + route)
    return urls


def test_every_console_page_sends_a_strict_csp(org, owner):
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    member = add_member(org, "privacy_view")
    role = services.role_create(actor=actor_for(owner.user), organization=org, name="R", permissions={})
    key, _ = services.api_key_create(actor=actor_for(owner.user), organization=org, name="k")
    residency_services.approval_settings_set(actor=actor_for(owner.user), organization=org,
                                             loosening_requires_approval=True)
    held = residency_services.approval_settings_set(actor=actor_for(owner.user), organization=org,
                                                    loosening_requires_approval=False)
    ids = {"workspace_id": ws.pk, "user_id": member.user_id, "role_id": role.pk, "key_id": key.pk,
           "change_request_id": held.pk, "action": "withdraw"}
    client = Client()
    client.force_login(owner.user)
    urls = console_urls(ids)
    assert len(urls) == len(console_patterns) + 1
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 302, 405), (url, response.status_code)
        assert_strict(response)
    # and the pages around the console: sign-in, two-factor, invitation, admin, errors
    for url in ("/account/two-factor/", "/account/two-factor/setup/", "/admin/", "/no-such-page/"):
        assert_strict(client.get(url))
    anonymous = Client()
    for url in ("/login/", "/accounts/invitation/x/y/", "/admin/login/"):
        assert_strict(anonymous.get(url))


def test_the_console_patterns_are_all_covered():
    """A page added later is in `console_patterns` and so in the test above."""
    def names(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from names(p.url_patterns)
            elif isinstance(p, URLPattern):
                yield p.name
    namespaced = next(p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "console")
    assert set(names(namespaced.url_patterns)) == {p.name for p in console_patterns}


def test_the_api_docs_relax_styles_only_for_themselves_and_load_their_script_from_a_file(client):
    page = client.get("/v1/docs/swagger")
    policy = csp(page)
    assert policy["script-src"] == "'self'" and "'unsafe-inline'" in policy["style-src"]
    html = page.content.decode()
    assert "<script>" not in html and "?script=" in html
    script = client.get("/v1/docs/swagger?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    assert "unsafe-inline" not in csp(client.get("/login/"))["style-src"]


def test_the_api_keeps_its_contract_behind_the_headers(owner, api):
    response = api(api_key_for(owner)).get("/v1/organizations/me")
    assert response.status_code == 200 and response["request-id"]


# --- production settings ---------------------------------------------------------------------------


def production_env(**extra):
    """The README's production environment (Configuration, Production)."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("EMAIL_", "SECURE_", "DJANGO_", "DATABASE_URL", "API_RATE", "REDIS"))}
    return {**keep, "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "console.example.com", "CSRF_TRUSTED_ORIGINS": "https://console.example.com",
            "DATABASE_URL": "postgres://residency:pw@127.0.0.1:1/residency", "EMAIL_HOST": "smtp.example.com",
            "DEFAULT_FROM_EMAIL": "Residency Console <no-reply@example.com>",
            "CONSOLE_BASE_URL": "https://console.example.com", **extra}


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_the_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_fail_a_check_without_mail():
    env = production_env()
    del env["EMAIL_HOST"]
    result = manage("check", env=env)
    assert result.returncode != 0 and "core.E001" in result.stderr
    env = production_env()
    del env["CONSOLE_BASE_URL"]
    result = manage("check", env=env)
    assert result.returncode != 0 and "core.E003" in result.stderr


def test_production_settings_turn_https_on_and_let_the_environment_turn_the_redirect_off():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.PRODUCTION)")

    def read(**extra):
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_env(**extra), capture_output=True,
                              text=True, check=True).stdout.split()

    assert read() == ["True", "31536000", "True", "True"]
    assert read(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="600") == ["False", "600", "True", "True"]


def test_seed_demo_refuses_to_run_under_production_settings_whatever_debug_says(tmp_path):
    env = production_env(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path}/prod.sqlite3")
    result = manage("seed_demo", env=env)
    assert result.returncode != 0 and "refuses to run under the production settings" in result.stderr
    assert not (tmp_path / "prod.sqlite3").exists() or (tmp_path / "prod.sqlite3").stat().st_size == 0


def test_hsts_and_the_redirect_are_sent_under_production_settings():
    code = ("import django; django.setup(); from django.test import Client; "
            "r = Client().get('/healthz', secure=True); print(r.status_code, r.headers.get('Strict-Transport-Security'));"
            "r = Client().get('/login/'); print(r.status_code, r.headers.get('Location'))")
    env = production_env()
    env["ALLOWED_HOSTS"] = "testserver"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "200 max-age=31536000; includeSubDomains; preload"
    assert out[1] == "301 https://testserver/login/"
