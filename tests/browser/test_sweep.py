"""The console sweep (issue 13): every console page, as each kind of person, at 1366 px and 390 px,
in Debian's Chromium. On each page and width: no page-level horizontal overflow, no console
errors, no Content-Security-Policy violations (the autouse fixture), and zero axe-core
violations (axe-core runs inside the page, offline, from axe-playwright-python).

The pages come from the URLconf's `console` namespace, so a page someone adds is swept without
touching this file; a page whose URL takes a parameter this file cannot fill fails
`test_every_console_page_is_swept` with what to add. Screenshots at phone width are kept under
`artifacts/console-sweep/` (or `$SWEEP_ARTIFACTS`), with `pages.txt` listing every page visited.

The sweep runs once, in the SQLite pass (`scripts/test.sh` deselects the `sweep` marker on
PostgreSQL): what it checks is the rendered page, not the database. One browser, one signed-in
context per person, axe once per page per width.
"""

import os
import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import get_resolver, reverse

from tests.browser.world import PERSONAS, build_world
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.sweep]

WIDTHS = (1366, 390)
HEIGHT = 900
ARTIFACTS = Path(os.environ.get("SWEEP_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts" / "console-sweep"))
# console URL names that are not pages a person opens (each says why)
NOT_PAGES = {
    "switch_organization": "a POST that redirects to Overview",
    "workspace_admins": "a POST from the workspace page",
    "audit_log_export": "a file download (CSV or JSON), not a page",
}
# where the value of each URL parameter comes from (World.ids, per organization); a console page
# with a parameter not listed here fails test_every_console_page_is_swept
PARAMETERS = ("workspace_id", "user_id", "role_id", "key_id", "change_request_id", "action")
# pages outside the console namespace that a signed-in person reaches from the layout
ACCOUNT_PAGES = ("two_factor",)
PUBLIC_PAGES = ("/login/", "/v1/docs", "/no-such-page/")

_axe = Axe()


def console_pages():
    """[(url name, [parameter names])] of every page in the `console` namespace."""
    _, resolver = get_resolver().namespace_dict["console"]
    pages = []
    for pattern in resolver.url_patterns:
        params = list(pattern.pattern.regex.groupindex)
        pages.append((pattern.name, params))
    return pages


def test_every_console_page_is_swept():
    """Each console URL is either swept or named in NOT_PAGES with a reason; each parameter a page
    takes has a value in World.ids (PARAMETERS)."""
    unknown = [(name, p) for name, params in console_pages() if name not in NOT_PAGES
               for p in params if p not in PARAMETERS]
    assert unknown == [], (f"console pages with parameters the sweep cannot fill: {unknown}; "
                           "add each parameter to PARAMETERS and a value to tests/browser/world.py")
    assert {"home", "members", "api_keys", "roles", "usage", "workspace_detail", "audit_log"} <= {
        name for name, _ in console_pages()}


def urls_for(ids):
    urls = []
    for name, params in console_pages():
        if name in NOT_PAGES:
            continue
        # a parameter the organization has no value for (a Team plan has no custom role) is
        # visited with an id that does not exist: that is the page such a link shows
        kwargs = {p: ids.get(p, f"missing_{p}") for p in params}
        urls.append((name, reverse(f"console:{name}", kwargs=kwargs)))
    urls += [(name, reverse(name)) for name in ACCOUNT_PAGES]
    return urls


class Sweep:
    """Visits pages in one signed-in page and collects every finding."""

    def __init__(self, page, base_url, label):
        self.page, self.base_url, self.label = page, base_url, label
        self.findings, self.visited, self.console_errors = [], [], []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"uncaught: {exc}"))

    def _on_console(self, msg):
        if msg.type != "error":
            return
        # the browser logs a 4xx/5xx document as an error; the status is checked on its own
        if msg.text.startswith("Failed to load resource") and msg.location.get("url", "").split("?")[0] in (
                self.page.url.split("?")[0],):
            return
        self.console_errors.append(msg.text)

    def visit(self, name, path):
        page = self.page
        page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
        self.console_errors.clear()
        response = page.goto(self.base_url + path, wait_until="load")
        self.check(name, path, response.status if response else 0)

    def visit_after(self, name, path, action):
        """A page reached by doing something on `path` (a confirmation, a form with its errors):
        `action(page)` submits, and answers what the page should now say."""
        page = self.page
        page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
        self.console_errors.clear()
        page.goto(self.base_url + path, wait_until="load")
        with page.expect_navigation(wait_until="load") as navigation:
            expected = action(page)
        response = navigation.value
        if expected and expected not in page.inner_text("main"):
            self.findings.append(f"{name} ({self.label}): the page does not say {expected!r}")
        self.check(name, f"{path} ({name})", response.status if response else 0)

    def check(self, name, path, status):
        page = self.page
        if status >= 500:
            self.findings.append(f"{path}: HTTP {status}")
        self.visited.append((name, path, status))
        for width in WIDTHS:
            if width != WIDTHS[0]:
                page.set_viewport_size({"width": width, "height": HEIGHT})
            where = f"{path} at {width}px ({self.label})"
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 0:
                wide = page.evaluate("""() => { const w = document.documentElement.clientWidth;
                    return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1)
                      .slice(-3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : '')
                      + ' ' + Math.round(e.getBoundingClientRect().right) + 'px'); }""")
                self.findings.append(f"{where}: the page scrolls sideways by {overflow}px ({', '.join(wide)})")
            for violation in _axe.run(page).response["violations"]:
                targets = "; ".join(" ".join(node["target"]) if isinstance(node["target"][0], str) else str(node["target"])
                                    for node in violation["nodes"][:3])
                self.findings.append(f"{where}: axe {violation['id']} ({violation['impact']}) x{len(violation['nodes'])}: "
                                     f"{violation['help']} [{targets}]")
            if width == 390:
                shot = ARTIFACTS / self.label / f"{name}.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
        for error in self.console_errors:
            self.findings.append(f"{path} ({self.label}): console error: {error}")

    def report(self):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with open(ARTIFACTS / "pages.txt", "a") as out:
            for name, path, status in self.visited:
                out.write(f"{self.label}\t{status}\t{name}\t{path}\n")
        assert self.findings == [], "\n".join(self.findings)


@pytest.fixture(scope="module", autouse=True)
def _fresh_artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pages.txt").write_text("person\tstatus\tpage\tpath\n")
    started = time.monotonic()
    yield
    with open(ARTIFACTS / "pages.txt", "a") as out:
        out.write(f"# sweep took {time.monotonic() - started:.1f}s\n")


def sign_in(page, base_url, email):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_sweep_console_pages(page, live_server, persona):
    world = build_world()
    sweep = Sweep(page, live_server.url, persona)
    sign_in(page, live_server.url, world.membership(persona).user.email)
    for name, path in urls_for(world.ids_for(persona)):
        sweep.visit(name, path)
    sweep.report()


def _tick(label, button):
    def action(page):
        page.get_by_label(label, exact=True).check()
        page.get_by_role("button", name=button, exact=True).click()
    return action


def _untick_all_and(button):
    def action(page):
        page.get_by_label("Only these geos:", exact=True).check()
        for box in page.locator('#allowed-geos input[type="checkbox"]').all():
            box.uncheck()
        page.get_by_role("button", name=button, exact=True).click()
    return action


def _toggle(page):
    page.get_by_role("switch", name="US-only inference").click()


# pages a person reaches by doing something (they answer a POST): (name, where, action, what it says)
AFTER_ACTIONS = (
    ("residency_confirm", lambda ids: reverse("console:residency"), _toggle, "Turn off US-only inference?"),
    ("residency_policy_confirm", lambda ids: reverse("console:residency_policy"),
     _tick("Unrestricted (any geo, including ones added later)", "Review the change"), "Change the data residency policy?"),
    ("workspace_residency_confirm", lambda ids: reverse("console:workspace_detail", kwargs={"workspace_id": ids["workspace_id"]}),
     _tick("United States (us)", "Save"), "Change where Production's inference runs?"),
    ("workspace_create_errors", lambda ids: reverse("console:workspace_create"),
     _untick_all_and("Create workspace"), "Tick at least one geo, or choose Unrestricted."),
)


def test_sweep_confirmations_and_form_errors(page, live_server):
    """Each confirmation of a residency change (with its cost) and a form showing its errors, as the
    primary owner: the same checks as every page."""
    world = build_world()
    persona = "primary_owner"
    sweep = Sweep(page, live_server.url, f"{persona}_actions")
    sign_in(page, live_server.url, world.membership(persona).user.email)
    ids = world.ids_for(persona)
    for name, where, action, says in AFTER_ACTIONS:
        sweep.visit_after(name, where(ids), lambda p, action=action, says=says: action(p) or says)
    sweep.report()


def test_sweep_public_pages(page, live_server):
    """The sign-in page, the API reference and the not-found page, signed out."""
    sweep = Sweep(page, live_server.url, "signed_out")
    for path in PUBLIC_PAGES:
        sweep.visit(path.strip("/").replace("/", "_") or "root", path)
    sweep.report()
