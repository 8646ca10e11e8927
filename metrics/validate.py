"""The last stage of ``cockpit validate``: reach every source, check every column."""

from __future__ import annotations

from connectors import SourceError

from .catalogue.expressions import ExpressionError, check_where
from .catalogue.load import Catalogue
from .catalogue.problems import Problem, did_you_mean
from .engine import open_connector


def check_sources(cat: Catalogue, skip: set[str] | None = None) -> tuple[list[Problem], list[str]]:
    """Problems (each source reached, each named column present) and data warnings.

    Sources in ``skip`` (their settings have problems already) are not reached.
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    for source_id in cat.config.sources:
        if source_id in (skip or set()):
            continue
        users = [i for i in cat.config.indicators if i.source == source_id]
        try:
            con = open_connector(cat, source_id)
        except SourceError as e:
            problems.append(cat.problem(("sources", source_id, *([e.field] if e.field else [])), e.message))
            continue
        warnings.extend(con.notes.warnings)
        if getattr(cat.config.sources[source_id], "partition", None) and hasattr(con, "partitions"):
            try:
                con.partitions()  # a declared partition column must be the source's
            except SourceError as e:
                problems.append(cat.problem(("sources", source_id, e.field or "partition"), e.message))
        cols = con.columns()
        names = list(cols)
        lowered = {n.lower(): n for n in names}
        for ind in users:
            path = cat.indicator_path(ind.id)
            for field, col in ind.source_columns():
                if col.lower() not in lowered:
                    problems.append(
                        cat.problem(
                            (*path, *field.split(".")), f"unknown column '{col}'{did_you_mean(col, names)}"
                        )
                    )
            for field, where in ind.where_clauses():
                try:
                    check_where(where, names)
                except ExpressionError as e:
                    problems.append(cat.problem((*path, *field.split(".")), str(e)))
            if ind.time and ind.time.column.lower() in lowered:
                kind = cols[lowered[ind.time.column.lower()]].kind
                if kind in ("integer", "float") and ind.time.grain != "year":
                    problems.append(
                        cat.problem(
                            (*path, "time", "grain"),
                            f"column '{ind.time.column}' holds numbers, read as years; grain must be year, not {ind.time.grain}",
                        )
                    )
                if kind == "boolean":
                    problems.append(
                        cat.problem(
                            (*path, "time", "column"),
                            f"column '{ind.time.column}' holds true/false, not dates",
                        )
                    )
        con.close()
    geojson = cat.config.org.geojson
    if geojson and not cat.resolve(geojson).is_file():  # the map's polygons (一张图)
        problems.append(cat.problem(("org", "geojson"), f"file not found: {geojson}"))
    return problems, warnings
