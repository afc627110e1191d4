"""Benchmarks of the atlas against the libraries analysts would otherwise use, in one run.

``python -m bench`` (``make bench``) times every case of :mod:`bench.cases` against its peer on
identical inputs, after checking that both give the same answer, and writes ``bench/results.json``
(schema in ../shared/INTERFACE.md), ``bench/README.md`` and the PNG charts. ``--quick`` runs every
case at small n for CI. See ``bench/README.md`` for the method and the latest figures.
"""
