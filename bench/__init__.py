"""The benchmark of the indicator engine (``make bench``, ``python -m bench.run``).

``bench.data`` writes N service records with the schema of the sample's
``service_records.parquet``; ``bench.run`` times ``cockpit compute`` on them
against a floor (one DuckDB scan and group-by of the same file), as whole
processes in the same run, and records the figures in ``docs/benchmarks.md``.
Everything it generates goes to ``bench/out/`` (not committed).
"""
