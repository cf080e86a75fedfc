"""The main job: the whole collapse story on built-in real data, in a few minutes.

1. Ingest the built-in human data (digits, wine, breast cancer, Python docs, a
   long-tailed digit detection set) into a fresh demo ledger.
2. Simulate recursive training of ``gmm``, ``ngram``, ``digits`` and ``pseudolabel``
   under ``replace``, ``accumulate`` and ``anchor:0.2``; seed 0's lineage is recorded
   in the ledger.
3. Audit the last generation of each chain against held-out human data, with
   generation 0 as the baseline (measured against the same data on the same footing).
4. Derive every claim from one set of per-metric changes
   (:mod:`tailguard.demo.evidence`), write them to ``demo.json`` and one HTML report
   that says what collapsed, where, and which policy prevented it (or that none did);
   print its path and a verdict table.

>>> from tailguard.demo import DemoSettings
>>> DemoSettings.quick().generations
3
"""

from tailguard.demo.run import DemoResult, DemoSettings, FamilyOutcome, run_demo

__all__ = ["DemoResult", "DemoSettings", "FamilyOutcome", "run_demo"]
