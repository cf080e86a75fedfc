"""The dashboard through FastAPI's test client: every page, its JSON twin, errors, read-only, local assets."""

from __future__ import annotations

import html
import re

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from tailguard.errors import LedgerNotFoundError, LedgerURLError
from tailguard.serve import create_app, views

PAGES = ["/versions", "/diff", "/lineage", "/audits", "/runs", "/simulations"]


@pytest.fixture(scope="module")
def client(built):
    app = create_app(built.url)
    with TestClient(app) as c:
        yield c
    app.state.ledger.close()


def test_home_redirects_to_versions(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/versions"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_and_its_json_twin_equals_the_pages_data(client, path):
    page, api = client.get(path), client.get("/api" + path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    assert f'href="/api{path}' in page.text  # each page links its twin
    ledger = client.app.state.ledger
    expected = {"/versions": lambda: views.versions_page(ledger), "/diff": lambda: views.diff_page(ledger, None, None),
                "/lineage": lambda: views.lineage_page(ledger, None)[0],
                "/audits": lambda: views.audits_page(ledger, None), "/runs": lambda: views.runs_page(ledger),
                "/simulations": lambda: views.simulations_page(ledger)}[path]()
    assert api.json() == expected


def test_versions_page_has_a_row_per_version_with_its_counts(client):
    html = client.get("/versions").text
    data = client.get("/api/versions").json()
    rows = re.findall(r'<tr class="version-row" data-name="([^"]+)">', html)
    assert rows == [v["name"] for v in data["versions"]]
    mix = html.split('data-name="mix"')[1].split("</tr>")[0]
    assert "human 300" in mix and "synthetic 300" in mix and "50.0%" in mix and "gen 0: 300" in mix


def test_audits_page_draws_one_svg_chart_per_metric_and_each_verdict(client):
    html = client.get("/audits?reference=human").text
    data = client.get("/api/audits?reference=human").json()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart metric-chart"') == len(data["metrics"]) > 5
    assert html.count('class="point status-') == sum(len(m["points"]) for m in data["metrics"])
    assert 'class="verdict verdict-collapse">collapse<' in html and 'class="verdict verdict-ok">ok<' in html


def test_run_page_shows_per_class_recall_by_epoch_and_the_alert(client, built):
    html = client.get(f"/runs/{built.run_id}").text
    assert "rare class <strong>dog</strong>: recall fell 0.41" in html
    assert html.count('class="class-row"') == 2 and 'class="chart run-chart"' in html
    assert "<th>epoch 2</th><th>final</th>" in html
    assert client.get(f"/api/runs/{built.run_id[:10]}").json()["run"]["id"] == built.run_id


def test_diff_of_two_named_versions(client):
    data = client.get("/api/diff", params={"a": "human", "b": "mix", "limit": 3}).json()
    assert data["diff"]["n_added"] == 300 and len(data["diff"]["added"]) == 3
    html = client.get("/diff", params={"a": "human", "b": "mix", "limit": 3}).text
    assert '<td class="num" id="n-added">300</td>' in html and "first 3 of 300" in html


def test_lineage_page_draws_an_svg_graph_with_links(client, built):
    html = client.get("/lineage", params={"target": f"run:{built.run_id}"}).text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="lineage"' in html
    assert f'<a href="/runs/{built.run_id}">' in html and 'class="node kind-version"' in html


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/diff?a=nope&b=mix", 404, "Unknown version 'nope'"),
    ("/lineage?target=zzzz-not-there", 404, "neither a version nor a sample id"),
    ("/audits?reference=humans", 404, "Unknown audited reference 'humans'"),
    ("/audits?last=0", 400, "The 'last' parameter must be an int >= 1. Got 0."),
    ("/runs/ffffffffffff", 404, "is not a model run id"),
])
def test_named_things_not_in_the_ledger_and_bad_parameters_are_one_line_errors(client, path, status, words):
    page, api = client.get(path), client.get("/api" + path)
    assert page.status_code == api.status_code == status
    assert words in html.unescape(page.text) and words in api.json()["error"] and "\n" not in api.json()["error"]


def test_pages_only_read(client):
    for path in PAGES:
        assert client.post(path).status_code == 405
        assert client.post("/api" + path).status_code == 405


def test_every_asset_is_local(client):
    for path in PAGES:
        html = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', html), path  # no CDN, no remote asset
        assert "<script" not in html
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "font" in css.text


def test_an_empty_ledger_says_so_on_every_page(tmp_path):
    from tailguard.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Ledger.open(url).close()
    app = create_app(url)
    with TestClient(app) as c:
        assert "no versions yet" in c.get("/versions").text
        assert "a diff needs two versions" in c.get("/diff").text
        assert "no recorded audits" in c.get("/audits").text
        assert "no model runs yet" in c.get("/runs").text
        assert "none: no simulation is recorded" in c.get("/simulations").text
    app.state.ledger.close()


def test_a_missing_ledger_is_refused_and_not_created(tmp_path):
    with pytest.raises(LedgerNotFoundError, match="no ledger at"):
        create_app(f"sqlite:///{tmp_path / 'none' / 'l.db'}")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(LedgerURLError):
        create_app("sqlite://")


def test_immutable_reads_are_read_once_per_version_and_pair(built):
    app = create_app(built.url)
    with TestClient(app) as c:
        cache = app.state.cache
        first = c.get("/api/versions").json()
        reads = cache.reads
        assert c.get("/api/versions").json() == first and cache.reads == reads  # served from memory
        d1 = c.get("/api/diff?a=human&b=mix").json()
        assert c.get("/api/diff?a=human&b=mix").json() == d1 and cache.reads == reads + 1
        c.get("/api/diff?a=gen1&b=mix")
        assert cache.reads == reads + 2
    app.state.ledger.close()


def test_the_pages_read_sqlite_and_postgresql_alike(ledger_url):
    from tailguard.ledger import Ledger, NewSample

    with Ledger.open(ledger_url) as ledger:
        ledger.add_samples([NewSample(b"a", None, "text", "human"), NewSample(b"b", None, "text", "synthetic",
                                                                             generation=1)], as_version="v1")
        ledger.add_samples([NewSample(b"c", None, "text", "human")], as_version="v2")
        ledger.record_audit({"verdict": "warn", "candidate": "v2", "reference": "v1", "metrics": [
            {"name": "vendi", "metric": "vendi", "family": "diversity", "value": 1.5, "reference_value": 2.0,
             "ratio": 0.75, "higher_is_better": True, "status": "warn", "ci": [1.0, 2.0]}]})
        run_id = ledger.record_model_run("m", "v1")
        ledger.record_run_metrics(run_id, {"recall/a": 0.5}, step=0)
    app = create_app(ledger_url)
    with TestClient(app) as c:
        versions = c.get("/api/versions").json()["versions"]
        assert [(v["name"], v["by_origin"]) for v in versions] == [("v1", {"human": 1, "synthetic": 1}),
                                                                    ("v2", {"human": 1})]
        assert c.get("/api/diff").json()["diff"]["n_added"] == 1
        points = c.get("/api/audits").json()["metrics"][0]["points"]
        assert [(p["value"], p["ci"], p["status"], p["verdict"]) for p in points] == [(1.5, [1.0, 2.0], "warn", "warn")]
        assert 'class="point status-warn"' in c.get("/audits").text
        assert c.get(f"/api/runs/{run_id}").json()["per_class"] == [
            {"metric": "recall", "classes": [{"class_name": "a", "values": [0.5]}]}]
        assert c.get("/lineage?target=v1").status_code == 200
    app.state.ledger.close()
