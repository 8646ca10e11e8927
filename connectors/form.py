"""The ``form`` source (contract section 14): figures reporters submit on a form.

The submissions live in the form store, ``.cockpit/forms.db`` beside the
config (:class:`metrics.forms.FormStore`). This connector reads the current
*submitted* rows of one form (drafts are not data yet) into the embedded
DuckDB as ``src_<id>``, like an Excel or HTTP source, so the engine's one
aggregate query runs on them as on any other source. The records have the
columns ``period`` (the period string, e.g. ``2026-10``; an indicator says
``time: {column: period, grain: month}``), ``region``, ``department`` (null
for region reporters), each field (typed: integer → BIGINT, number → DOUBLE,
date → DATE, text and choice → VARCHAR), ``submitted_by`` and
``submitted_at``.

The fingerprint is the store's history position for the form, so each
submission, revision or import changes it and the store of computed
aggregates (:mod:`metrics.store`) never serves a stale number.

A form may ship past submissions as ``forms/<id>.seed.csv`` beside the
config; they are imported once, into a store that has never held a row of
that form (the sample city's county form is seeded this way).

The store's schema has one owner, :mod:`metrics.forms`; this is the one
place a connector reaches into ``metrics``, lazily, the way
:mod:`connectors.embedded` borrows its did-you-mean.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from .base import Connector, SourceError
from .embedded import FrameConnector

STORE_PATH = ".cockpit/forms.db"


def seed_path(source_id: str) -> str:
    """Where a form's seed file sits, relative to the config's folder."""
    return f"forms/{source_id}.seed.csv"


class FormConnector(FrameConnector):
    def __init__(
        self, source_id: str, settings: Any, store: Path, seed: Path, label: str, seed_label: str
    ) -> None:
        super().__init__(source_id, label)
        self.settings = settings
        self.store_path = store
        self.seed = seed
        self.seed_label = seed_label
        self._token = ""

    def _frame(self) -> tuple[pl.DataFrame, int]:
        from metrics.forms import FormError, FormStore

        store = FormStore(self.store_path)
        try:
            store.seed_once(self.source_id, self.settings, self.seed, self.seed_label)
            frame, token = store.records(self.source_id, self.settings)
        except FormError as e:
            raise SourceError(str(e)) from None
        except OSError as e:
            raise SourceError(f"cannot open the form store {self.label}: {e.strerror or e}") from None
        self._token = token
        return frame, 1

    def fingerprint(self) -> str:
        return f"form.{self._token}"


def open_form(
    source_id: str,
    settings: Any,
    resolve: Callable[[str], Path],
    label_of: Callable[[str], str],
    numeric: set[str],
) -> Connector:
    """Open a form source over the store beside the config (``numeric`` is moot: fields are typed)."""
    return FormConnector(
        source_id,
        settings,
        resolve(STORE_PATH),
        resolve(seed_path(source_id)),
        label_of(STORE_PATH),
        label_of(seed_path(source_id)),
    ).open()
