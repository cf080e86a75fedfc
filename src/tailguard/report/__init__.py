"""Audit reports: ``report.json`` and a self-contained ``report.html`` (figures inline).

Both are rendered from a stored :class:`~tailguard.audit.AuditReport` (or its JSON)
alone; nothing is recomputed.

>>> from tailguard.audit import AuditReport
>>> html = render_html(AuditReport(verdict="ok", modality="vectors", metrics=[]))
>>> html.startswith("<!DOCTYPE html>") and "verdict" in html
True
"""

from tailguard.report.html_report import render_html, write_html
from tailguard.report.json_report import load_report, write_json

__all__ = ["load_report", "render_html", "write_html", "write_json"]
