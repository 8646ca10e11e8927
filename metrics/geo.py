"""Frames for the 一张图 map page: region polygons from ``org.geojson`` joined to indicator rows.

The polygons come from a GeoJSON file named in the config (``org: {geojson: FILE}``, resolved
against the config's folder), one Feature per region, keyed by ``properties.id`` (or the
Feature's own ``id``). A map shows the children of one region (the towns of a district, the
districts of the city) for one indicator and period. Everything goes through the user's scope
first: a region outside it is not drawn at all, not even greyed, because its shape would name it.

::

    shapes(cat) -> dict[region id, geometry] | None          # None: the config has no geojson
    drawn_regions(cat, scope, parent) -> list[region id]
    map_periods(cat, rows, scope, indicator, parent) -> list[period]   # newest first
    map_frame(cat, rows, scope, indicator, period, parent) -> pl.DataFrame
    features(frame, shapes) -> (list of GeoJSON Features, ids without a shape)

Examples
--------
>>> rewind({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})["coordinates"][0]
[[0, 0], [1, 1], [1, 0], [0, 0]]
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from . import periods
from .access import Scope
from .catalogue.load import Catalogue
from .format import fmt_change, fmt_value
from .masking import suppress_small
from .rankings import STATUS_MEANING
from .views import STATUS_COLOR, STATUS_LABEL

NO_DATA = "无数据"
NO_DATA_COLOR = "#e0e0e0"
NO_STATUS_COLOR = "#90a4ae"  # a value without thresholds or bands
FIVE_LIGHT = ("red", "yellow", "green", "lightblue", "blue")  # hot to cold
THREE_LIGHT = ("red", "yellow", "green")

MAP_SCHEMA = {
    "id": pl.String,
    "name": pl.String,
    "value": pl.Float64,
    "value_text": pl.String,
    "target_text": pl.String,
    "yoy": pl.Float64,
    "yoy_text": pl.String,
    "rank": pl.Int64,
    "rank_text": pl.String,
    "status": pl.String,  # green … blue, "none" (no status), "missing" (no row) or "suppressed" (<5)
    "status_text": pl.String,
    "children": pl.Int64,  # drawn children it has: > 0 means it can be drilled into
}


class GeoError(ValueError):
    """The GeoJSON file is missing or unreadable; the message says which and why."""


# ----------------------------------------------------------------- the polygons


def geojson_path(cat: Catalogue) -> Path | None:
    """``org.geojson`` resolved against the config's folder; None when the config names none."""
    name = cat.config.org.geojson
    return cat.resolve(name) if name else None


def load(path: Path) -> dict[str, dict[str, Any]]:
    """Region id → geometry (Polygon or MultiPolygon, rewound for drawing) from a GeoJSON file.

    Features are keyed by ``properties.id``, else by the Feature's ``id``; features with
    neither, or without a polygon geometry, are skipped.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GeoError(f"地图边界文件不存在：{path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GeoError(f"地图边界文件无法读取：{path}（{e}）") from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        feats = [doc]
    elif isinstance(doc, dict) and isinstance(doc.get("features"), list):
        feats = doc["features"]
    else:
        raise GeoError(f"地图边界文件不是 GeoJSON FeatureCollection：{path}")
    out: dict[str, dict[str, Any]] = {}
    for f in feats:
        if not isinstance(f, dict):
            continue
        props = f.get("properties") or {}
        rid = props.get("id", f.get("id")) if isinstance(props, dict) else f.get("id")
        geom = f.get("geometry")
        if rid is None or not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        out[str(rid)] = rewind(geom)
    return out


def shapes(cat: Catalogue) -> dict[str, dict[str, Any]] | None:
    """The config's polygons by region id; None without ``org.geojson``; :class:`GeoError` if unreadable."""
    path = geojson_path(cat)
    return None if path is None else load(path)


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    """Signed planar area in degrees² (positive: counter-clockwise with north up)."""
    s = 0.0
    for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False):
        s += x1 * y2 - x2 * y1
    return s / 2


def _oriented(ring: list[Any], clockwise: bool) -> list[Any]:
    a = _ring_area(ring)
    return list(reversed(ring)) if (a > 0) == clockwise and a != 0 else ring


def rewind(geometry: Mapping[str, Any]) -> dict[str, Any]:
    """The geometry with exterior rings clockwise and holes counter-clockwise.

    d3-geo (behind Vega-Lite's geoshape) reads a ring's winding on the sphere: a
    counter-clockwise exterior, as RFC 7946 asks for, would be drawn as the whole globe
    minus the region. Every polygon is rewound here, so files of either convention draw.
    """

    def poly(rings: list[Any]) -> list[Any]:
        return [_oriented(list(r), clockwise=(k == 0)) for k, r in enumerate(rings)]

    if geometry.get("type") == "Polygon":
        return {"type": "Polygon", "coordinates": poly(list(geometry["coordinates"]))}
    if geometry.get("type") == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [poly(list(p)) for p in geometry["coordinates"]]}
    return dict(geometry)


def label_point(geometry: Mapping[str, Any]) -> tuple[float, float]:
    """Where a region's name goes: the area-weighted centroid of its largest polygon."""
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    ring = max((p[0] for p in polys), key=lambda r: abs(_ring_area(r)))
    a = _ring_area(ring)
    if a == 0:
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        return sum(xs) / len(xs), sum(ys) / len(ys)
    cx = cy = 0.0
    for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False):
        f = x1 * y2 - x2 * y1
        cx += (x1 + x2) * f
        cy += (y1 + y2) * f
    return cx / (6 * a), cy / (6 * a)


# ----------------------------------------------------------------- what is drawn


def drawn_regions(cat: Catalogue, scope: Scope, parent: str | None) -> list[str]:
    """The regions a map of ``parent`` draws: its children in the scope, or itself when it has none.

    A parent outside the scope (or unknown) draws nothing.
    """
    tree = cat.tree
    if tree is None or parent is None or parent not in tree or not scope.sees_region(parent):
        return []
    kids = [c for c in tree.children(parent) if scope.sees_region(c)]
    return kids if tree.children(parent) else [parent]


def _ind_rows(rows: pl.DataFrame, scope: Scope, indicator: str, regions: list[str]) -> pl.DataFrame:
    return scope.filter_rows(rows).filter(
        (pl.col("indicator") == indicator) & pl.col("department").is_null() & pl.col("region").is_in(regions)
    )


def map_periods(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, indicator: str, parent: str | None
) -> list[str]:
    """The periods in which any drawn region has a row, newest first."""
    ind = cat.indicators.get(indicator)
    if ind is None or not scope.sees_indicator(ind):
        return []
    mine = _ind_rows(rows, scope, indicator, drawn_regions(cat, scope, parent))
    return sorted(set(mine["period"].to_list()), key=periods.ordinal, reverse=True)


def status_text(status: str | None, five_light: bool) -> str:
    """``红`` … ``蓝``; five-light indicators add the meaning: ``浅蓝（偏冷）``."""
    if status is None or status == "missing":
        return NO_DATA
    if status == "none":
        return "未设阈值"
    word = STATUS_LABEL.get(status, status)
    return f"{word}（{STATUS_MEANING[status]}）" if five_light and status in STATUS_MEANING else word


def status_legend(five_light: bool, shown: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The status legend's labels and colours: the lights hot to cold, then any other
    ``status_text`` of ``shown`` (未设阈值 in grey-blue; 无数据 and ``<5`` in grey)."""
    keys = FIVE_LIGHT if five_light else THREE_LIGHT
    labels = [status_text(s, five_light) for s in keys]
    colours = [STATUS_COLOR[s] for s in keys]
    for text in dict.fromkeys(shown):
        if text not in labels:
            labels.append(text)
            colours.append(NO_STATUS_COLOR if text == "未设阈值" else NO_DATA_COLOR)
    return labels, colours


def map_frame(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    indicator: str,
    period: str,
    parent: str | None,
) -> pl.DataFrame:
    """One row per drawn region (:func:`drawn_regions`), in the tree's order (:data:`MAP_SCHEMA`).

    A region without a row for the period is kept, with ``status = "missing"``: it is inside the
    scope and is drawn grey. A 敏感 indicator's group smaller than ``access.min_group_size``
    (:func:`metrics.masking.suppress_small`) is drawn grey too, ``status = "suppressed"``, its
    value and status reading ``<5``. ``rank_text`` is ``第 2 / 8 名`` among the siblings with a
    value (a count, which names no region outside the scope).
    """
    ind = cat.indicators.get(indicator)
    tree = cat.tree
    drawn = drawn_regions(cat, scope, parent)
    if ind is None or not scope.sees_indicator(ind) or tree is None or not drawn:
        return pl.DataFrame(schema=MAP_SCHEMA)
    unit = ind.unit or ""
    five = ind.bands is not None
    # the ranks' denominator counts every sibling with a value, seen or not (a count names nobody)
    siblings = list(tree.children(tree.get(drawn[0]).parent)) if tree.get(drawn[0]).parent else [drawn[0]]
    here = rows.filter(
        (pl.col("indicator") == indicator) & (pl.col("period") == period) & pl.col("department").is_null()
    )
    peers = here.filter(pl.col("region").is_in(siblings) & pl.col("value").is_not_null()).height
    # every period of the drawn regions: a suppressed base period hides the 同比 that would give it away
    shown = suppress_small(_ind_rows(rows, scope, indicator, drawn), cat, scope)
    by_id = {r["region"]: r for r in shown.filter(pl.col("period") == period).iter_rows(named=True)}
    recs = []
    for rid in drawn:
        r = by_id.get(rid)
        value = _finite(r["value"]) if r else None
        yoy = _finite(r["yoy"]) if r else None
        hidden = r["suppressed_text"] if r and r["suppressed"] else None
        rank = r["rank"] if r and (value is not None or hidden) else None
        status = "missing" if r is None else "suppressed" if hidden else (r["status"] or "none")
        recs.append(
            {
                "id": rid,
                "name": tree.name(rid),
                "value": value,
                "value_text": hidden or fmt_value(value, unit),
                "target_text": fmt_value(_finite(r["target"]) if r else None, unit),
                "yoy": yoy,
                "yoy_text": fmt_change(yoy, unit),
                "rank": rank,
                "rank_text": f"第 {rank} / {max(peers, rank)} 名" if rank is not None else "—",
                "status": status,
                "status_text": hidden or status_text(status, five),
                "children": sum(1 for c in tree.children(rid) if scope.sees_region(c)),
            }
        )
    return pl.DataFrame(recs, schema=MAP_SCHEMA)


def features(
    frame: pl.DataFrame, polygons: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """GeoJSON Features for the frame's regions, each row's fields set on the Feature itself.

    Vega-Lite reads a datum that is a Feature as its own shape, so the fields sit beside
    ``geometry`` (``datum.name``, ``datum.value``) rather than under ``properties``. The
    label position is ``lon`` / ``lat``. Returns the features and the ids without a polygon.
    """
    out: list[dict[str, Any]] = []
    missing: list[str] = []
    for r in frame.iter_rows(named=True):
        geom = polygons.get(r["id"])
        if geom is None:
            missing.append(r["id"])
            continue
        lon, lat = label_point(geom)
        out.append({"type": "Feature", "geometry": dict(geom), **r, "lon": lon, "lat": lat})
    return out, missing


def _finite(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else float(v)
