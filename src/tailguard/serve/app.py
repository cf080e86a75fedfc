"""The dashboard's FastAPI app: server-rendered pages, each with a JSON twin under ``/api``.

``create_app(ledger_url)`` opens the ledger read-only (``create=False``: a missing ledger is
:class:`~tailguard.errors.LedgerNotFoundError`, nothing is created) and serves only ``GET``:

======================  ==============================  =============================================
page                    JSON                            shows
======================  ==============================  =============================================
``/versions``           ``/api/versions``               versions, origin and generation composition
``/diff?a=A&b=B``       ``/api/diff?a=A&b=B``           the diff of two versions
``/lineage?target=T``   ``/api/lineage?target=T``       the lineage graph (SVG) of a version/sample/run
``/audits?reference=R`` ``/api/audits?reference=R``     audit history: one chart per metric, verdicts
``/runs``, ``/runs/ID`` ``/api/runs``, ``/api/runs/ID`` model runs, per-class metrics, recall alerts
``/simulations``        ``/api/simulations``            recorded simulations and their reports
======================  ==============================  =============================================

A named thing that is not in the ledger answers 404 and a bad parameter 400, with the
one-line message of its :mod:`tailguard.errors` type (as JSON ``{"error": ...}`` under ``/api``).
Assets (one stylesheet) are served from the package: no CDN, no script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.dependencies import require
from tailguard.errors import MissingInputError, TailguardError, UnknownChoiceError
from tailguard.serve import svg, views

if TYPE_CHECKING:
    from tailguard.ledger import Ledger

PACKAGE_DIR = Path(__file__).resolve().parent
NAV = (("versions", "/versions"), ("diff", "/diff"), ("lineage", "/lineage"), ("audits", "/audits"),
       ("runs", "/runs"), ("simulations", "/simulations"))


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PACKAGE_DIR / "templates")),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: "-" if v is None else (format(v, ".4g") if isinstance(v, float) else str(v))
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1%}"
    return env


def _chart_of_metric(metric: dict[str, Any]) -> str:
    def num(v: Any) -> float | None:
        return v if isinstance(v, (int, float)) else None

    points = [svg.Point(i, num(p["value"]), num(p["ci"][0]), num(p["ci"][1]), p["status"],
                        f"audit {p['audit_id']} of {p['candidate']}: verdict {p['verdict']}")
              for i, p in enumerate(metric["points"])]
    labels = {float(i): f"#{p['audit_id']}" for i, p in enumerate(metric["points"])}
    return svg.line_chart([svg.Series(metric["name"], points)], title=metric["name"], x_labels=labels,
                          css_class="chart metric-chart")


def _charts_of_run(page: dict[str, Any]) -> dict[str, str]:
    steps = page["steps"]
    xs = [float(i) for i in range(len(steps))]
    labels = {x: ("final" if s == "none" else s) for x, s in zip(xs, steps, strict=True)}
    charts = {}
    for group in page["per_class"]:
        series = [svg.Series(c["class_name"], [svg.Point(x, v) for x, v in zip(xs, c["values"], strict=True)])
                  for c in group["classes"]]
        charts[group["metric"]] = svg.line_chart(series, title=f"{group['metric']} per class by epoch",
                                                 x_labels=labels, css_class="chart run-chart")
    return charts


def create_app(ledger_url: str, *, ledger: Ledger | None = None) -> Any:
    """The dashboard over the ledger at ``ledger_url`` (opened read-only; pass ``ledger`` to reuse one).

    The open ledger is ``app.state.ledger``; whoever created the app closes it when done.

    Raises the ledger's one-line errors (missing ledger, bad URL, older schema) before any page is served.
    """
    fastapi = require("fastapi", extra="serve", feature="tailguard serve")
    responses = require("fastapi.responses", extra="serve", feature="tailguard serve")
    staticfiles = require("fastapi.staticfiles", extra="serve", feature="tailguard serve")
    from tailguard.ledger import Ledger
    from tailguard.ledger.urls import redact_url
    from tailguard.serve.cache import ImmutableReads

    led = ledger if ledger is not None else Ledger.open(ledger_url, create=False)
    cache = ImmutableReads()
    env = _environment()
    app = fastapi.FastAPI(title="tailguard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ledger = led
    app.state.cache = cache
    app.mount("/static", staticfiles.StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static")
    shown_url = redact_url(led.url)
    HTMLResponse, JSONResponse = responses.HTMLResponse, responses.JSONResponse

    def page(template: str, status: int = 200, **context: Any) -> Any:
        html = env.get_template(template).render(nav=NAV, ledger_url=shown_url, **context)
        return HTMLResponse(html, status_code=status)

    def status_of(exc: TailguardError) -> int:
        return 404 if isinstance(exc, (MissingInputError, UnknownChoiceError)) else 400

    def guarded(render: Any, *, api: bool) -> Any:
        try:
            return render()
        except TailguardError as exc:
            if api:
                return JSONResponse({"error": str(exc)}, status_code=status_of(exc))
            return page("error.html.j2", status=status_of(exc), title="error", message=str(exc))

    @app.get("/")
    def home() -> Any:
        return responses.RedirectResponse("/versions")

    @app.get("/versions")
    def versions_html() -> Any:
        def render() -> Any:
            data = views.versions_page(led, cache)
            bars = {v["name"]: svg.bar(v["by_origin"]) for v in data["versions"]}
            return page("versions.html.j2", title="versions", data=data, bars=bars)
        return guarded(render, api=False)

    @app.get("/api/versions")
    def versions_api() -> Any:
        return guarded(lambda: views.versions_page(led, cache), api=True)

    @app.get("/diff")
    def diff_html(a: str | None = None, b: str | None = None, limit: int = views.DIFF_LIMIT) -> Any:
        return guarded(lambda: page("diff.html.j2", title="diff",
                                    data=views.diff_page(led, a, b, limit=limit, cache=cache)), api=False)

    @app.get("/api/diff")
    def diff_api(a: str | None = None, b: str | None = None, limit: int = views.DIFF_LIMIT) -> Any:
        return guarded(lambda: views.diff_page(led, a, b, limit=limit, cache=cache), api=True)

    @app.get("/lineage")
    def lineage_html(target: str | None = None) -> Any:
        def render() -> Any:
            data, lin = views.lineage_page(led, target)
            graph = None
            if lin is not None:
                graph = svg.lineage_svg(lin, link={n.id: views.node_href(n.id) for n in lin.nodes})
            return page("lineage.html.j2", title="lineage", data=data, graph=graph)
        return guarded(render, api=False)

    @app.get("/api/lineage")
    def lineage_api(target: str | None = None) -> Any:
        return guarded(lambda: views.lineage_page(led, target)[0], api=True)

    @app.get("/audits")
    def audits_html(reference: str | None = None, last: int = views.HISTORY_LIMIT) -> Any:
        def render() -> Any:
            data = views.audits_page(led, reference, last=last)
            charts = {m["name"]: _chart_of_metric(m) for m in data["metrics"]}
            return page("audits.html.j2", title="audits", data=data, charts=charts)
        return guarded(render, api=False)

    @app.get("/api/audits")
    def audits_api(reference: str | None = None, last: int = views.HISTORY_LIMIT) -> Any:
        return guarded(lambda: views.audits_page(led, reference, last=last), api=True)

    @app.get("/runs")
    def runs_html() -> Any:
        return guarded(lambda: page("runs.html.j2", title="runs", data=views.runs_page(led)), api=False)

    @app.get("/api/runs")
    def runs_api() -> Any:
        return guarded(lambda: views.runs_page(led), api=True)

    @app.get("/runs/{run_id}")
    def run_html(run_id: str) -> Any:
        def render() -> Any:
            data = views.run_page(led, run_id)
            return page("run.html.j2", title=f"run {data['run']['id'][:12]}", data=data, charts=_charts_of_run(data))
        return guarded(render, api=False)

    @app.get("/api/runs/{run_id}")
    def run_api(run_id: str) -> Any:
        return guarded(lambda: views.run_page(led, run_id), api=True)

    @app.get("/simulations")
    def simulations_html() -> Any:
        return guarded(lambda: page("simulations.html.j2", title="simulations", data=views.simulations_page(led)),
                       api=False)

    @app.get("/api/simulations")
    def simulations_api() -> Any:
        return guarded(lambda: views.simulations_page(led), api=True)

    return app


__all__ = ["NAV", "create_app"]
