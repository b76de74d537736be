"""Record linkage: find the records that describe the same person (issue #4).

``prepare`` turns exchange-format rows into comparison-ready columns
(folded names, partial dates, today's communes), ``model`` is the Splink
model on DuckDB, ``services`` runs and stores linkage runs and scores them
against a ground truth, ``cli`` is `dancu linkage`.
"""
