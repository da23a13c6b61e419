"""The two journeys in a real browser (Debian's chromium + chromedriver, headless, through
selenium) against a live `manage.py serve` (what `make run` runs): a developer requests an
environment from the generated form without typing JSON, DevOps approve it from the console, the
developer watches it deploy without reloading, downloads the kubeconfig and asks for the
extension. The developer's side runs twice: on a desktop (1440 px) and on a phone (390x844, Chrome's
mobile emulation). Every portal page on the way must fit the width (no sideways scrolling) and, like
the console's inbox and request page, pass axe-core (vendored: portal/tests/vendor/) with no critical
and no serious violation. Without a browser the tests skip, except in CI (CI=true), where that is a
failure."""

from __future__ import annotations

import os
import re
import shutil
import urllib.request
from pathlib import Path

import pytest

from cloudassist.tests.test_serve import _start, _stop, _wait_until_ready

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", "")) if os.environ.get("PORTAL_SCREENSHOTS") else None

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI needs Debian's chromium and chromium-driver for the browser tests", pytrace=False)
    pytest.skip(
        "no browser: install Debian's chromium and chromium-driver to run the portal's browser tests",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

PASSWORD = "cloudassist"
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
DESKTOP, PHONE = (1440, 1000), (390, 844)


@pytest.fixture
def live(serve_env):
    serve_env["DEMO_PASSWORD"] = PASSWORD
    base = f"http://127.0.0.1:{serve_env['PORT']}"
    proc = _start(serve_env)
    try:
        _wait_until_ready(proc, base)
        yield base
    finally:
        _stop(proc)


def _browser(size=DESKTOP):
    """A headless chromium at ``size``; a phone (narrower than 800 px) through Chrome's mobile
    emulation, so the page's viewport meta applies as on a real phone (headless windows are at
    least 500 px wide)."""
    width, height = size
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    if width < 800:
        metrics = {"width": width, "height": height, "pixelRatio": 1}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    return driver


def _shot(driver, name: str) -> None:
    if SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _fits(driver) -> bool:
    """No sideways scrolling: the page is no wider than the viewport. The layout viewport's width
    (clientWidth): on a phone a page wider than the screen zooms out, and innerWidth grows with it."""
    return driver.execute_script(
        "const e = document.documentElement; return e.scrollWidth <= e.clientWidth && e.clientWidth <= innerWidth;"
    )


def _axe(driver) -> list[str]:
    """axe-core's critical and serious violations on the current page, one line each. The script is
    injected through WebDriver, which the page's Content-Security-Policy does not govern."""
    driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));"
    )
    assert isinstance(violations, list), f"axe-core failed: {violations}"
    return [
        f"{v['impact']} {v['id']} ({v['help']}): {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("critical", "serious")
    ]


def _check(driver, name: str, problems: list[str]) -> None:
    """Screenshot the page, then note (in ``problems``) sideways scrolling and axe-core's findings."""
    width = driver.execute_script("return document.documentElement.clientWidth;")
    _shot(driver, name if width >= 800 else f"{name}-phone")
    where = f"{name} at {width} px ({driver.current_url})"
    if not _fits(driver):
        wide = driver.execute_script("return document.documentElement.scrollWidth;")
        problems.append(f"{where}: {wide} px wide, scrolls sideways")
    problems.extend(f"{where}: {violation}" for violation in _axe(driver))


def _login(driver, base: str, username: str) -> None:
    driver.get(f"{base}/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/login/" not in d.current_url)


def _text(driver, css: str) -> str:
    """The element's text; found again if htmx swapped it between finding and reading it."""
    for _ in range(5):
        try:
            return driver.find_element(By.CSS_SELECTOR, css).text
        except StaleElementReferenceException:
            continue
    return driver.find_element(By.CSS_SELECTOR, css).text


def _fill(driver, name: str, value: str) -> None:
    element = driver.find_element(By.NAME, name)
    if element.tag_name == "select":
        Select(element).select_by_value(value)
    else:
        element.clear()
        element.send_keys(value)


def _reachable(driver, element) -> bool:
    """Shown and inside the viewport's width (no sideways scrolling to reach it)."""
    script = "const r = arguments[0].getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth;"
    return element.is_displayed() and driver.execute_script(script, element)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_developer_requests_devops_approve_developer_downloads_and_extends(live, size):  # noqa: PLR0915 (one story)
    dev, ops = _browser(size), _browser()
    wait_dev, wait_ops = WebDriverWait(dev, 60), WebDriverWait(ops, 60)
    phone = size == PHONE
    problems: list[str] = []  # sideways scrolling and axe-core's findings, on every page; asserted at the end
    try:
        dev.get(f"{live}/login/")
        _check(dev, "portal-login", problems)
        _login(dev, live, "bbb")
        assert dev.current_url.endswith("/portal/environments/")
        dev.get(f"{live}/portal/catalog/")
        assert "Basic EKS cluster" in dev.page_source or "basic-eks-cluster" in dev.page_source
        _check(dev, "portal-catalog", problems)

        # The header: on a phone its links fold into a menu that opens without a script.
        usage_link = dev.find_element(By.CSS_SELECTOR, "header.top nav a[href$='/portal/usage/']")
        menu = dev.find_element(By.CSS_SELECTOR, "header.top button.menu-button")
        if phone:
            assert menu.is_displayed()
            assert not usage_link.is_displayed()
            menu.click()
            assert _reachable(dev, usage_link)
            _check(dev, "portal-menu", problems)
            menu.click()
            assert not usage_link.is_displayed()
        else:
            assert not menu.is_displayed()
            assert _reachable(dev, usage_link)

        # The generated form, priced live: changing the node count changes the estimate.
        dev.get(f"{live}/portal/catalog/basic-eks-cluster/request/")
        wait_dev.until(lambda d: "$" in _text(d, "#estimate"))
        _fill(dev, "p-region", "us-west-1")
        _fill(dev, "p-instance_type", "t2.micro")
        _fill(dev, "p-volume_size", "30")
        _fill(dev, "p-desired_capacity", "2")
        wait_dev.until(lambda d: "$" in _text(d, "#estimate"))
        before = _text(dev, "#estimate")
        _fill(dev, "p-desired_capacity", "5")
        wait_dev.until(lambda d: _text(d, "#estimate") != before and "$" in _text(d, "#estimate"))
        _fill(dev, "p-desired_capacity", "2")
        _fill(dev, "description", "browser demo")

        # A bad value: the error beside the field, nothing submitted.
        _fill(dev, "p-cluster_name", "Not a valid name!")
        dev.find_element(By.CSS_SELECTOR, "#request-form button[type=submit]").click()
        wait_dev.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".errorlist")))
        assert "/request/" in dev.current_url
        wait_dev.until(lambda d: "$" in _text(d, "#estimate"))
        _check(dev, "portal-request-form", problems)
        _fill(dev, "p-cluster_name", "browser-demo")
        dev.find_element(By.CSS_SELECTOR, "#request-form button[type=submit]").click()
        wait_dev.until(lambda d: re.search(r"/portal/requests/[0-9a-f]{24}/$", d.current_url))
        request_id = dev.current_url.rstrip("/").rsplit("/", 1)[1]

        # DevOps: the login lands on the review inbox; approve from the request's page with a note.
        _login(ops, live, "jjj")
        assert "/admin/provisioning/provisionrequest/" in ops.current_url
        wait_ops.until(lambda d: request_id[-6:] in d.page_source)
        fits = "const t = document.querySelector('#result_list'); return t.getBoundingClientRect().right <= innerWidth;"
        assert ops.execute_script(fits), "the pending list scrolls sideways at 1440 px"
        _check(ops, "console-inbox", problems)
        ops.get(f"{live}/admin/provisioning/provisionrequest/{request_id}/change/")
        # The estimate, in dollars (waited for: right after a navigation page_source was once empty).
        wait_ops.until(lambda d: "$" in d.page_source)
        _check(ops, "console-request", problems)
        ops.find_element(By.CSS_SELECTOR, "button.review-approve_selected").click()
        wait_ops.until(ec.presence_of_element_located((By.NAME, "note")))
        ops.find_element(By.NAME, "note").send_keys("fine for the demo")
        ops.find_element(By.NAME, "apply").click()
        wait_ops.until(lambda d: "Approved" in d.page_source or "approved" in d.page_source)

        # The developer's page updates itself (htmx polling) until DEPLOYED: no reload.
        dev.get(f"{live}/portal/environments/")
        marker = dev.execute_script("window.__not_reloaded = true; return window.__not_reloaded;")
        assert marker is True
        wait_dev.until(lambda d: "Deployed" in _text(d, "#environments-table"))
        assert dev.execute_script("return window.__not_reloaded === true;")
        # Each row's actions are on screen, a phone's too (the table stacks into one block per row).
        row = dev.find_element(By.CSS_SELECTOR, f"#environments-table tr[data-request='{request_id}']")
        actions = row.find_elements(
            By.CSS_SELECTOR, ".actions > a, .actions > form > button, .actions > details > summary"
        )
        assert actions
        assert all(_reachable(dev, action) for action in actions)
        _check(dev, "portal-environments", problems)

        # The kubeconfig, with the browser's session.
        dev.get(f"{live}/portal/requests/{request_id}/")
        link = dev.find_element(By.CSS_SELECTOR, "a[href*='/download/kubeconfig/']").get_attribute("href")
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in dev.get_cookies())
        with urllib.request.urlopen(urllib.request.Request(link, headers={"Cookie": cookie}), timeout=30) as response:
            assert "kind: Config" in response.read().decode()

        # The one extension, asked from the request's page.
        dev.find_element(By.CSS_SELECTOR, "summary[data-action=extend]").click()
        form = dev.find_element(By.CSS_SELECTOR, "details.extend form")
        form.find_element(By.NAME, "reason").send_keys("the demo moved")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_dev.until(lambda d: "pending" in _text(d, "#extension").lower())
        _check(dev, "portal-request", problems)

        # The other pages, each once.
        for name, path in (
            ("portal-usage", "/portal/usage/"),
            ("portal-notifications", "/portal/notifications/"),
            ("portal-password", "/password/"),
            ("portal-password-done", "/password/done/"),
        ):
            dev.get(f"{live}{path}")
            wait_dev.until(ec.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
            _check(dev, name, problems)

        # Purging asks first: a page saying what goes; then the status after it.
        dev.get(f"{live}/portal/requests/{request_id}/")
        dev.find_element(By.CSS_SELECTOR, "button[data-action=purge]").click()
        wait_dev.until(ec.presence_of_element_located((By.CSS_SELECTOR, "button[data-action=purge-confirmed]")))
        assert "node groups" in _text(dev, "main")
        _check(dev, "portal-confirm-purge", problems)
        dev.find_element(By.CSS_SELECTOR, "button[data-action=purge-confirmed]").click()
        wait_dev.until(lambda d: "Purging" in _text(d, "main"))
        assert not problems, "\n".join(problems)
    finally:
        dev.quit()
        ops.quit()
