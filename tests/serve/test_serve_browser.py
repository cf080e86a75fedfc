"""The dashboard in real headless Chromium (Debian's chromium, driven by Playwright) against a uvicorn
server on a free loopback port: screenshots are saved and checked for what a user needs to see."""

from __future__ import annotations

import importlib
import os
import shutil

import pytest

if os.environ.get("TAILGUARD_REQUIRE_BROWSER") == "1":  # CI (.ci/run): a missing package is a failure, not a skip
    sync_api = importlib.import_module("playwright.sync_api")
    importlib.import_module("fastapi")
else:
    pytest.importorskip("fastapi")
    sync_api = pytest.importorskip("playwright.sync_api")

import numpy as np
from PIL import Image

from tailguard.serve import create_app
from tailguard.serve.server import listen, run_in_thread

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
RED, GREEN = (0xC6, 0x28, 0x28), (0x2E, 0x7D, 0x32)  # collapse / ok (svg.COLOURS and the stylesheet)


@pytest.fixture(scope="module")
def base_url(built):
    app = create_app(built.url)
    sock = listen("127.0.0.1", 0)
    server, thread = run_in_thread(app, sock)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.ledger.close()


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def pixels_near(path, colour, tol=12) -> int:
    """How many pixels of the screenshot at ``path`` are within ``tol`` of ``colour`` in every channel."""
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    return int((np.abs(img - np.asarray(colour, dtype=np.int16)) <= tol).all(axis=-1).sum())


def test_versions_table_shows_every_version_row(page, base_url, built, tmp_path):
    from tailguard.ledger import Ledger

    with Ledger.open(built.url, create=False) as ledger:
        names = [v.name for v in ledger.list_versions()]
    page.goto(base_url + "/versions")
    rows = page.locator("tr.version-row")
    assert rows.count() == len(names)
    assert [rows.nth(i).get_attribute("data-name") for i in range(rows.count())] == names
    mix = page.locator('tr.version-row[data-name="mix"]')
    assert mix.is_visible() and "human 300" in mix.inner_text() and "50.0%" in mix.inner_text()
    assert mix.locator("svg.bar rect").count() == 2  # the composition bar: human and synthetic parts
    shot = tmp_path / "versions.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] == 1280 and pixels_near(shot, RED) > 20 and pixels_near(shot, GREEN) > 20


def test_audit_history_draws_a_chart_per_metric_with_the_verdicts(page, base_url, tmp_path):
    page.goto(base_url + "/audits?reference=human")
    data = page.request.get(base_url + "/api/audits?reference=human").json()
    charts = page.locator("svg.metric-chart")
    assert charts.count() == len(data["metrics"]) > 5
    first = charts.first.bounding_box()
    assert first is not None and first["width"] > 400 and first["height"] > 150  # drawn, not collapsed to 0
    assert page.locator("svg.metric-chart circle.point").count() == sum(len(m["points"]) for m in data["metrics"])
    verdicts = page.locator("tr.audit-row .verdict")
    assert [verdicts.nth(i).inner_text() for i in range(verdicts.count())] == ["ok", "collapse"]
    shot = tmp_path / "audits.png"
    charts.first.screenshot(path=str(shot))  # the first chart alone: its points are coloured by status
    assert pixels_near(shot, RED) > 10 or pixels_near(shot, GREEN) > 10
    page.screenshot(path=str(tmp_path / "audits-page.png"), full_page=True)
    assert pixels_near(tmp_path / "audits-page.png", RED) > 50  # the collapse labels and points


def test_lineage_graph_links_to_the_run_page_with_its_alert(page, base_url, built, tmp_path):
    page.goto(base_url + "/lineage?target=mix")
    graph = page.locator("svg.lineage")
    assert graph.is_visible()
    assert page.locator("svg.lineage g.node.kind-version").count() == 3  # mix and the two it was made from
    assert page.locator("svg.lineage g.node.kind-run").count() == 1
    page.screenshot(path=str(tmp_path / "lineage.png"), full_page=True)
    page.locator("svg.lineage g.node.kind-run a").click()
    page.wait_for_url(f"**/runs/{built.run_id}")
    alert = page.locator("li.alert")
    assert alert.count() == 1 and "dog" in alert.inner_text() and "0.41" in alert.inner_text()
    assert page.locator("svg.run-chart g.series").count() == 2  # cat and dog
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert pixels_near(tmp_path / "run.png", RED) > 20  # the alert line is red


def test_diff_form_picks_two_versions(page, base_url):
    page.goto(base_url + "/diff")
    page.select_option('select[name="a"]', "human")
    page.select_option('select[name="b"]', "mix")
    page.click('button[type="submit"]')
    page.wait_for_url("**/diff?a=human&b=mix")
    assert page.locator("#n-added").inner_text() == "300" and page.locator("#n-removed").inner_text() == "0"
