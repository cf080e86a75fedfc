"""tailguard: keep ML models from collapsing when they learn from machine-made data.

The package is organised by concern (see DESIGN.md): ``ledger`` (provenance),
``metrics`` and ``audit`` (tail-first comparison with a human reference),
``policy`` (anti-collapse mixing), ``simulate`` (recursive training) and
``integrations``. Importing ``tailguard`` is cheap: heavy dependencies such as
torch or ultralytics are only imported by the features that need them.

>>> import tailguard
>>> tailguard.__version__
'0.1.0'
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
