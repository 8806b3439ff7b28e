"""The admin pages in a real headless Chromium, against uvicorn and a real Dagster code server + webserver.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); elsewhere these tests skip. Screenshots
go to $HONEYFRAME_TEST_ARTIFACTS (default: the test's temporary folder); with HONEYFRAME_UPDATE_SCREENSHOTS=1 the
matrix screenshot also replaces docs/images/admin-matrix.png, the README's picture.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.settings import REPO_ROOT, get_settings
from honeyframe_dagster.store.engine import get_engine
from honeyframe_dagster.store.tables import SchedulerWorkerRow
from tests.api.conftest import BIN, SEED_YAML, Stack, free_port, graphql, make_tokens, wait_for

# Read at import: the stack fixture clears every HONEYFRAME_* variable of the test process.
ARTIFACTS = os.environ.get("HONEYFRAME_TEST_ARTIFACTS")
UPDATE_SCREENSHOTS = os.environ.get("HONEYFRAME_UPDATE_SCREENSHOTS") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's packages chromium and chromium-driver: apt-get install -y chromium chromium-driver",
)
# A template every new project gets, which cannot build until its parameter has a value.
DEFAULT_TEMPLATE_YAML = """
kind: Template
slug: daily-staging-build
display_name: Daily staging build
default_enabled: true
parameters:
  - name: staging_recipe
    type: recipe_ref
trigger:
  cron: "30 6 * * 1-5"
steps:
  - kind: run_recipe
    recipe: "{{ param.staging_recipe }}"
---
kind: Scenario
project: acme-sales
name: Hourly orders sync
trigger:
  interval_seconds: 3600
steps:
  - kind: sync_dataset
    dataset: orders
"""
SCHEDULE_QUERY = """
query S($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { ... on Schedule { scheduleState { status } } }
}
"""


@dataclass
class Site:
    url: str
    tokens: dict[str, str]
    stack: Stack
    artifacts: Path

    def api(self, method: str, path: str, project: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens['admin']}"}
        if project:
            headers["X-Project-Id"] = project
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def site(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """uvicorn serving the API on the stack's store and Dagster, seeded, with a fresh scheduler heartbeat."""
    for name, text in (("seed.yaml", SEED_YAML), ("later.yaml", DEFAULT_TEMPLATE_YAML)):
        # Projects that exist before a default_enabled template do not get it; only new ones do.
        (stack.root / name).write_text(text)
        assert honeyframe(["apply", str(stack.root / name)]) == 0
    tokens = make_tokens(get_settings())
    heartbeat()
    port = free_port()
    stack.start("api", [str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(f"{url}/api/pipeline/scheduler/health"), "uvicorn")
    artifacts = Path(ARTIFACTS or tmp_path_factory.mktemp("screenshots"))
    artifacts.mkdir(parents=True, exist_ok=True)
    return Site(url, tokens, stack, artifacts)


def heartbeat() -> None:
    """What the daemon's heartbeat sensor writes (this stack runs no daemon): the operations tile turns green."""
    with Session(get_engine(get_settings().store_url)) as session, session.begin():
        session.merge(SchedulerWorkerRow(worker_id="browser-test", last_seen_at=dt.datetime.now(dt.UTC)))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,950"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(browser: Any, site: Site, token: str, path: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{site.url}{path}")
    assert "/admin/login" in browser.current_url  # not logged in yet: the page sends us to the login
    browser.find_element(By.ID, "token").send_keys(site.tokens[token])
    browser.find_element(By.CSS_SELECTOR, "main.login button[type=submit]").click()
    wait_for(lambda: browser.current_url.endswith(path), f"{path} after logging in", timeout=60)


def cell_status(browser: Any, cell_id: str) -> str | None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        cell = browser.find_element(By.ID, cell_id)
        if cell.get_attribute("aria-busy"):
            return None
        return str(cell.find_element(By.CSS_SELECTOR, '[data-role="trigger-status"]').text)
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def schedule_status(site: Site, name: str) -> str:
    selector = {"repositoryLocationName": "honeyframe", "repositoryName": "__repository__", "scheduleName": name}
    data = graphql(site.stack.dagster_url, SCHEDULE_QUERY, {"selector": selector})
    return str(data["scheduleOrError"]["scheduleState"]["status"])


def test_matrix_toggle_follows_dagster_and_schedules_show_broken_scenarios(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # A project created over REST inherits the default_enabled template, which cannot build without a value.
    created = site.api(
        "POST",
        "/api/scheduler/projects",
        json={"id": "acme-new", "name": "Acme New", "owner_email": "nina@acme.example", "timezone": "Europe/Berlin"},
    )
    assert created.status_code == 201, created.text
    log_in(browser, site, "admin", "/admin/templates")
    tile = browser.find_element(By.ID, "operations-tile")
    assert tile.get_attribute("data-status") == "green"

    cell_id = "cell-nightly-mart-refresh--acme-sales"
    cell = browser.find_element(By.ID, cell_id)
    assert cell_status(browser, cell_id) is None  # never enabled: no trigger yet
    cell.find_element(By.CSS_SELECTOR, '[data-role="toggle"]').click()
    # The template needs a value for mart_recipe: the cell asks for it before enabling.
    form = cell.find_element(By.CSS_SELECTOR, '[data-role="values-form"]')
    assert form.is_displayed()
    Select(form.find_element(By.NAME, "mart_recipe")).select_by_value("stg_orders")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: cell_status(browser, cell_id) == "RUNNING", "the enabled cell's trigger RUNNING", timeout=240)
    trigger = "acme_sales__nightly_mart_refresh_schedule"
    assert schedule_status(site, trigger) == "RUNNING"
    assert "stg_orders" in browser.find_element(By.ID, cell_id).text

    # Off: Dagster stops the trigger, and the cell says so.
    browser.find_element(By.ID, cell_id).find_element(By.CSS_SELECTOR, '[data-role="toggle"]').click()
    wait_for(lambda: cell_status(browser, cell_id) == "STOPPED", "the disabled cell's trigger STOPPED", timeout=240)
    assert schedule_status(site, trigger) == "STOPPED"
    browser.save_screenshot(str(site.artifacts / "admin-matrix-stopped.png"))

    # On again (the stored value is kept, so no form), then a run: its status is the cell's last run.
    browser.find_element(By.ID, cell_id).find_element(By.CSS_SELECTOR, '[data-role="toggle"]').click()
    wait_for(lambda: cell_status(browser, cell_id) == "RUNNING", "the re-enabled cell's trigger RUNNING", timeout=240)
    assert schedule_status(site, trigger) == "RUNNING"
    cells = {
        c["project_id"]: c for t in site.api("GET", "/api/scheduler/templates").json()["items"] for c in t["matrix"]
    }
    scenario_id = cells["acme-sales"]["scenario_id"]
    launched = site.api("POST", f"/api/scheduler/scenarios/{scenario_id}/run", project="acme-sales")
    assert launched.status_code == 202, launched.text
    heartbeat()
    browser.refresh()
    assert browser.find_element(By.ID, "operations-tile").get_attribute("data-status") == "green"
    cell_text = browser.find_element(By.ID, cell_id).text
    assert "last run QUEUED" in cell_text  # no daemon in this stack: the run stays queued
    broken = browser.find_element(By.ID, "cell-daily-staging-build--acme-new")
    assert "has no value and no default" in broken.find_element(By.CSS_SELECTOR, '[data-role="build-error"]').text
    matrix_png = site.artifacts / "admin-matrix.png"
    browser.save_screenshot(str(matrix_png))
    if UPDATE_SCREENSHOTS:
        shutil.copyfile(matrix_png, REPO_ROOT / "docs" / "images" / "admin-matrix.png")

    # The new project's schedules: the inherited, broken template instance shows its error panel.
    browser.get(f"{site.url}/admin/projects/acme-new/schedules")
    panels = browser.find_elements(By.CSS_SELECTOR, '[data-role="build-error"]')
    assert len(panels) == 1 and "staging_recipe" in panels[0].text
    assert "06:30 on Monday to Friday, Europe/Berlin" in browser.find_element(By.TAG_NAME, "main").text
    browser.save_screenshot(str(site.artifacts / "admin-schedules-broken.png"))

    # acme-sales: a cron in words with the project's timezone, an interval, and a working link into Dagster's UI.
    browser.get(f"{site.url}/admin/projects/acme-sales/schedules")
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "02:00 every day, Europe/Berlin" in main and "every hour" in main
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-role="build-error"]')
    browser.save_screenshot(str(site.artifacts / "admin-schedules.png"))
    link = browser.find_element(By.LINK_TEXT, "open job").get_attribute("href")
    assert link.startswith(f"{site.stack.dagster_url}/locations/honeyframe/jobs/acme_sales__")
    browser.get(link)
    job = link.rsplit("/", 1)[1]
    wait_for(lambda: job in browser.find_element(By.TAG_NAME, "body").text, "the job in Dagster's UI", timeout=90)
    browser.save_screenshot(str(site.artifacts / "dagster-job.png"))


def test_project_token_sees_its_schedules_not_the_matrix(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, site, "sales", "/admin/projects/acme-sales/schedules")
    assert "Acme Sales" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(f"{site.url}/admin/templates")
    assert "not an admin token" in browser.find_element(By.ID, "page-error").text
    browser.get(f"{site.url}/admin/projects/acme-ops/schedules")
    assert "may not act on project 'acme-ops'" in browser.find_element(By.ID, "page-error").text


def test_swagger_ui_renders_from_local_files(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{site.url}/docs")
    title = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"), "Swagger UI's title", timeout=60
    )
    assert "Honeyframe Scheduler API" in title[0].text
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock-tag")  # the operations are listed
    browser.save_screenshot(str(site.artifacts / "docs.png"))


DIGEST_TEMPLATE_YAML = """
kind: Template
slug: mail-digest
display_name: Mail digest
parameters:
  - name: digest_recipe
    type: recipe_ref
  - name: readers
    type: list[email]
trigger:
  cron: "0 7 * * 1"
steps:
  - kind: run_recipe
    recipe: "{{ param.digest_recipe }}"
  - kind: send_email_report
    dashboard_ids: [revenue-overview]
    recipients: ["{{ param.readers }}"]
"""


def test_enable_form_keeps_what_was_typed_and_says_every_problem(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path = site.stack.root / "digest.yaml"
    path.write_text(DIGEST_TEMPLATE_YAML)
    assert honeyframe(["apply", str(path)]) == 0
    log_in(browser, site, "admin", "/admin/templates")
    cell_id = "cell-mail-digest--acme-sales"
    browser.find_element(By.ID, cell_id).find_element(By.CSS_SELECTOR, '[data-role="toggle"]').click()
    form = browser.find_element(By.ID, cell_id).find_element(By.CSS_SELECTOR, '[data-role="values-form"]')
    # The recipe is picked from the dbt project's list, not typed.
    recipe = Select(form.find_element(By.NAME, "digest_recipe"))
    assert "mart_revenue" in [option.get_attribute("value") for option in recipe.options]
    recipe.select_by_value("stg_orders")
    form.find_element(By.NAME, "readers").send_keys("ana@acme.example, not-an-address")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(
        lambda: browser.find_element(By.ID, cell_id).find_elements(By.CSS_SELECTOR, '[data-role="problems"] li'),
        "the refusal's problems",
    )
    cell = browser.find_element(By.ID, cell_id)
    problems = [item.text for item in cell.find_elements(By.CSS_SELECTOR, '[data-role="problems"] li')]
    assert any(problem.startswith("readers") and "not-an-address" in problem for problem in problems), problems
    assert not any("steps[" in problem for problem in problems), problems
    # What was typed and picked is still there, to be corrected rather than typed again.
    form = cell.find_element(By.CSS_SELECTOR, '[data-role="values-form"]')
    assert form.is_displayed()
    assert Select(form.find_element(By.NAME, "digest_recipe")).first_selected_option.get_attribute("value") == (
        "stg_orders"
    )
    assert form.find_element(By.NAME, "readers").get_attribute("value") == "ana@acme.example, not-an-address"
    assert cell.find_element(By.CSS_SELECTOR, '[data-role="state"]').text == "Disabled"
    browser.save_screenshot(str(site.artifacts / "admin-enable-form-refused.png"))


def test_schedules_show_project_time_and_run_and_disable_each_scenario(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, site, "admin", "/admin/projects/acme-sales/schedules")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-scenario]")
    assert rows
    row_id = rows[0].get_attribute("id")
    # Next run in the project's timezone (Europe/Berlin: CET in winter, CEST in summer), the UTC instant on hover.
    times = browser.find_elements(By.CSS_SELECTOR, '[data-role="next-run"] > time')  # not the folded next five
    assert times and all(t.text.endswith(("CET", "CEST")) for t in times), [t.text for t in times]
    assert all(t.get_attribute("title").endswith("UTC") for t in times)
    assert "Europe/Berlin" in browser.find_element(By.TAG_NAME, "main").text

    row = browser.find_element(By.ID, row_id)
    row.find_element(By.CSS_SELECTOR, '[data-action="run"]').click()
    wait_for(lambda: "launched" in browser.find_element(By.ID, row_id).text, "run now's answer")
    last_run = browser.find_element(By.ID, row_id).find_element(By.CSS_SELECTOR, '[data-role="last-run"]')
    assert "QUEUED" in last_run.text  # no daemon in this stack
    ran = last_run.find_element(By.CSS_SELECTOR, "time")
    assert ran.text.endswith(("CET", "CEST")) and ran.get_attribute("title").endswith("UTC")

    browser.find_element(By.ID, row_id).find_element(By.CSS_SELECTOR, '[data-action="disable"]').click()
    wait_for(lambda: "Disabled." in browser.find_element(By.ID, row_id).text, "disable's answer")
    row = browser.find_element(By.ID, row_id)
    assert "disabled" in row.find_element(By.CSS_SELECTOR, "td.name").text
    assert row.find_element(By.CSS_SELECTOR, '[data-action="enable"]').text == "Enable"
    browser.save_screenshot(str(site.artifacts / "admin-schedules-actions.png"))
    row.find_element(By.CSS_SELECTOR, '[data-action="enable"]').click()
    wait_for(lambda: "Enabled." in browser.find_element(By.ID, row_id).text, "enable's answer")
