"""``make eval``: the anomaly detector (:mod:`metrics.models.anomaly`) judged on a labelled benchmark
and on real data no one here made, beside public baselines run in the same process.

* :mod:`eval.series` — the deterministic generator of labelled monthly series;
* :mod:`eval.score` — matching findings to planted events: precision, recall, F1, kinds, false alarms;
* :mod:`eval.baselines` — robust rolling z-score, PyOD MAD (if installed), statsmodels ETS;
* :mod:`eval.real` — the Nile, co2 and macrodata checks (statsmodels' bundled datasets);
* :mod:`eval.run` — ``python -m eval.run [--series N] [--seed S] [--write-doc]``.
"""
