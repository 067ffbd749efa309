import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright cannot download its own browser here: drive Debian's Chromium.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _browser_db(committed_db):
    """Browser tests talk to a live server thread, so their data must really commit."""


@pytest.fixture(autouse=True)
def no_csp_violations(page):
    """Every browser test fails if Chromium reports a Content-Security-Policy violation (SPEC §6):
    an inline script or style, or a resource from elsewhere, that the policy blocked."""
    violations = []
    page.on("console", lambda msg: violations.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    # the page itself reports violations too (securitypolicyviolation events)
    page.add_init_script("""document.addEventListener('securitypolicyviolation', (e) =>
        console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));""")
    yield violations
    assert violations == [], violations


@pytest.fixture
def login(page, live_server):
    """login(email, password) in the real sign-in form; returns the page on the console."""

    def do(email, password):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        return page

    return do
