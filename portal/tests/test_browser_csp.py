"""The Content-Security-Policy breaks no page (Debian's chromium, headless, through selenium,
against a live `manage.py serve`): the portal with its htmx estimate, Swagger UI, Redoc, the
browsable API, the admin and django-rq's dashboard render, and the browser reports no CSP
violation on any of them. Without a browser it skips, except in CI, as portal/tests/test_browser.py."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from portal.tests.test_browser import CHROMEDRIVER, CHROMIUM, PASSWORD, live  # noqa: F401 (the fixture)

CSP_WORDS = ("Content Security Policy", "Content-Security-Policy", "Refused to")


def _browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    return driver


def _violations(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if any(w in entry["message"] for w in CSP_WORDS)]


def _login(driver, base: str, username: str) -> None:
    driver.get(f"{base}/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/login/" not in d.current_url)


def _visit(driver, url: str, rendered) -> list[str]:
    """Load ``url``, wait until ``rendered(driver)`` holds (its scripts ran), return the violations."""
    driver.get(url)
    WebDriverWait(driver, 30).until(rendered)
    return _violations(driver)


def _has(css: str):
    return lambda d: d.find_elements(By.CSS_SELECTOR, css)


def test_no_page_breaks_the_content_security_policy(live):  # noqa: F811 (the fixture)
    dev, admin = _browser(), _browser()
    try:
        found = {}
        found["login"] = _visit(dev, f"{live}/login/", _has("input[name=username]"))
        _login(dev, live, "bbb")
        found["portal"] = _visit(dev, f"{live}/portal/environments/", _has("main"))
        # htmx (vendored) fetches the live estimate: scripts run, the estimate appears.
        form = f"{live}/portal/catalog/basic-eks-cluster/request/"
        found["portal form"] = _visit(dev, form, lambda d: "$" in d.find_element(By.ID, "estimate").text)
        found["swagger"] = _visit(dev, f"{live}/docs", _has(".swagger-ui .info .title"))
        found["redoc"] = _visit(dev, f"{live}/redoc", _has("[role=search], .api-content"))
        found["browsable API"] = _visit(dev, f"{live}/api/v1/templates/", _has(".response-info"))

        _login(admin, live, "aaa")
        found["admin"] = _visit(admin, f"{live}/admin/", _has("#content"))
        found["admin changelist"] = _visit(admin, f"{live}/admin/provisioning/provisionrequest/", _has("#changelist"))
        found["rq dashboard"] = _visit(admin, f"{live}/admin/rq/", _has("#content"))
        broken = {page: messages for page, messages in found.items() if messages}
        assert not broken, "\n".join(f"{page}: {message}" for page, messages in broken.items() for message in messages)
    finally:
        dev.quit()
        admin.quit()
