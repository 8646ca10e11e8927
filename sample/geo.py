"""Made-up region polygons for the sample city 示范市: ``data/regions.geojson``.

The shapes are generated, deterministically, so that the 一张图 map page has something to
draw. They are **not real borders** and describe no real place; every feature says so.

How they are made, in a flat kilometre frame centred on 119.6°E 39.9°N:

1. A convex city outline, about 140 km by 100 km, with its coast to the south-east.
2. A Voronoi partition of the outline from one hand-placed seed per district or county: each
   cell is the outline clipped by the half-planes closer to its seed than to any other seed, so
   the cells are convex, tile the outline and never overlap.
3. Each district with towns is partitioned the same way from seeds placed around its centroid.
4. Every vertex that lies on another polygon's edge (a town corner on its district's border,
   a border meeting the outline) is inserted into that edge, so that neighbours share exactly the
   same edges. Each edge is then bent into a gentle curve whose shape is drawn from a generator
   seeded by its two end points: both neighbours bend it identically, so the polygons still tile
   without gaps or overlaps, and borders look less like a diagram.
5. Coordinates become longitude and latitude rounded to 5 decimals (about a metre). Exterior rings
   run counter-clockwise (RFC 7946); ``metrics.geo`` rewinds them for drawing.

``python -m sample.generate`` writes the file; ``python -m sample.geo [--out FILE]`` writes only it.

Examples
--------
>>> fc = feature_collection()
>>> sorted(f["properties"]["id"] for f in fc["features"])[:3]
['130300', '130302', '130302001']
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sample.city import CITY, Region

GEOJSON_NAME = "regions.geojson"
CENTRE = (119.6, 39.9)  # lon, lat of the frame's origin
KM_PER_DEG_LAT = 111.32
NOTE = "示意边界：程序生成，并非真实行政区划（generated shapes, NOT real borders）"

Point = tuple[float, float]

# The city's outline in km (x east, y north), counter-clockwise and convex; the coast runs
# along the south-east edges.
OUTLINE: tuple[Point, ...] = (
    (-72.0, -18.0),
    (-58.0, -42.0),
    (-24.0, -50.0),
    (12.0, -40.0),
    (44.0, -24.0),
    (68.0, -6.0),
    (74.0, 14.0),
    (58.0, 38.0),
    (22.0, 50.0),
    (-20.0, 52.0),
    (-52.0, 42.0),
    (-70.0, 18.0),
)

# One seed per child of the root (km). Districts (区) near the coast sit close together, so
# their cells come out smaller than the inland counties (县).
SEEDS: dict[str, Point] = {
    "130302": (18.0, -22.0),  # 海港区: the city core on the coast
    "130303": (50.0, -4.0),  # 山海关区: the east end of the coast
    "130304": (-6.0, -34.0),  # 北戴河区: a short stretch of coast
    "130305": (-36.0, -30.0),  # 滨海新区: the south-west coast
    "130306": (-50.0, 6.0),  # 东湖县: the west
    "130321": (8.0, 30.0),  # 青山县: the northern hills
    "130322": (-20.0, 10.0),  # 临河县: the middle
    "130324": (44.0, 28.0),  # 桃源县: the north-east
}

# Towns: offsets from their district's centroid, as shares of the district's size.
TOWN_OFFSETS: tuple[Point, ...] = ((-0.28, 0.22), (0.3, 0.18), (0.02, -0.3), (0.3, -0.25), (-0.3, -0.2))

BEND = 0.07  # an edge bends by at most about this share of its length
STEP_KM = 2.0  # points along a bent edge


# ----------------------------------------------------------------- plane geometry


def _clip(poly: list[Point], a: float, b: float, c: float) -> list[Point]:
    """The part of a convex polygon where ``a·x + b·y <= c`` (Sutherland–Hodgman, one plane)."""
    out: list[Point] = []
    n = len(poly)
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        fp, fq = a * p[0] + b * p[1] - c, a * q[0] + b * q[1] - c
        if fp <= 0:
            out.append(p)
        if (fp < 0 < fq) or (fq < 0 < fp):
            t = fp / (fp - fq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def voronoi_cells(outline: Sequence[Point], seeds: Sequence[Point]) -> list[list[Point]]:
    """Each seed's Voronoi cell within a convex outline (convex, counter-clockwise)."""
    cells = []
    for i, s in enumerate(seeds):
        cell = list(outline)
        for j, t in enumerate(seeds):
            if i == j:
                continue
            # closer to s than to t:  (t − s)·x <= (|t|² − |s|²) / 2
            a, b = t[0] - s[0], t[1] - s[1]
            c = (t[0] ** 2 + t[1] ** 2 - s[0] ** 2 - s[1] ** 2) / 2
            cell = _clip(cell, a, b, c)
        cells.append(cell)
    return cells


def area(ring: Sequence[Point]) -> float:
    """Signed area (positive: counter-clockwise)."""
    s = 0.0
    for i in range(len(ring)):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % len(ring)]
        s += x1 * y2 - x2 * y1
    return s / 2


def centroid(ring: Sequence[Point]) -> Point:
    a = area(ring)
    cx = cy = 0.0
    for i in range(len(ring)):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % len(ring)]
        f = x1 * y2 - x2 * y1
        cx += (x1 + x2) * f
        cy += (y1 + y2) * f
    return cx / (6 * a), cy / (6 * a)


# ----------------------------------------------------------------- shared edges


class _Vertices:
    """Vertices merged within a tolerance, so that neighbours' corners get one id."""

    def __init__(self, tol: float = 1e-6) -> None:
        self.points: list[Point] = []
        self.tol = tol

    def id(self, p: Point) -> int:
        for k, q in enumerate(self.points):
            if abs(p[0] - q[0]) <= self.tol and abs(p[1] - q[1]) <= self.tol:
                return k
        self.points.append(p)
        return len(self.points) - 1


def _with_t_junctions(ring: list[int], pts: list[Point], tol: float = 1e-6) -> list[int]:
    """The ring with every vertex that lies inside one of its edges inserted there."""
    out: list[int] = []
    n = len(ring)
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        (ax, ay), (bx, by) = pts[a], pts[b]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        on = []
        for k, (px, py) in enumerate(pts):
            if k in (a, b):
                continue
            t = ((px - ax) * dx + (py - ay) * dy) / length2
            if not 0 < t < 1:
                continue
            if abs((px - ax) * dy - (py - ay) * dx) / math.sqrt(length2) <= tol:
                on.append((t, k))
        out.append(a)
        out.extend(k for _, k in sorted(on))
    return out


def _bent_edge(p: Point, q: Point, key: tuple[int, int]) -> list[Point]:
    """The inner points of the edge p → q, bent the same way whichever side asks for it."""
    length = math.dist(p, q)
    steps = int(length // STEP_KM)
    if steps < 2:
        return []
    rng = np.random.default_rng(list(key))
    c = rng.uniform(-1.0, 1.0, size=3)
    ux, uy = (q[0] - p[0]) / length, (q[1] - p[1]) / length
    nx, ny = -uy, ux
    amp = min(BEND * length, 4.0) / (abs(c[0]) + abs(c[1]) + abs(c[2]) + 1e-9)
    out = []
    for s in range(1, steps):
        t = s / steps
        # sin² keeps the edge leaving each corner along its straight line: bends never cross
        d = (
            amp
            * math.sin(math.pi * t) ** 2
            * (c[0] + c[1] * math.cos(2 * math.pi * t) + c[2] * math.sin(3 * math.pi * t))
        )
        out.append((p[0] + t * (q[0] - p[0]) + d * nx, p[1] + t * (q[1] - p[1]) + d * ny))
    return out


def _expand(ring: list[int], pts: list[Point]) -> list[Point]:
    """A ring of vertex ids as points, each edge bent canonically (from its lower id)."""
    out: list[Point] = []
    n = len(ring)
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        out.append(pts[a])
        lo, hi = min(a, b), max(a, b)
        inner = _bent_edge(pts[lo], pts[hi], (lo, hi))
        out.extend(inner if a == lo else reversed(inner))
    return out


# ----------------------------------------------------------------- the sample's polygons


def _town_seeds(district: Region, cell: list[Point]) -> list[Point]:
    cx, cy = centroid(cell)
    xs, ys = [p[0] for p in cell], [p[1] for p in cell]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    return [(cx + dx * w, cy + dy * h) for dx, dy in TOWN_OFFSETS[: len(district.children)]]


def polygons_km(city: Region = CITY) -> dict[str, list[Point]]:
    """Every region's ring in the km frame (counter-clockwise, not closed), root included."""
    districts = list(city.children)
    missing = [d.id for d in districts if d.id not in SEEDS]
    if missing:
        raise ValueError(f"no seed for {missing}")
    rings: dict[str, list[Point]] = {city.id: list(OUTLINE)}
    cells = voronoi_cells(OUTLINE, [SEEDS[d.id] for d in districts])
    for d, cell in zip(districts, cells, strict=True):
        rings[d.id] = cell
        if d.children:
            towns = voronoi_cells(cell, _town_seeds(d, cell))
            for t, tc in zip(d.children, towns, strict=True):
                rings[t.id] = tc
    verts = _Vertices()
    by_id = {rid: [verts.id(p) for p in ring] for rid, ring in rings.items()}
    by_id = {rid: _with_t_junctions(ring, verts.points) for rid, ring in by_id.items()}
    return {rid: _expand(ring, verts.points) for rid, ring in by_id.items()}


def _lonlat(p: Point) -> list[float]:
    lon0, lat0 = CENTRE
    km_per_deg_lon = KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    return [round(lon0 + p[0] / km_per_deg_lon, 5), round(lat0 + p[1] / KM_PER_DEG_LAT, 5)]


def feature_collection(city: Region = CITY) -> dict[str, object]:
    """The GeoJSON FeatureCollection: one Polygon per region, keyed by ``properties.id``."""
    rings = polygons_km(city)
    parent = {c.id: n.id for n in city.walk() for c in n.children}
    level = {city.id: "city"} | {d.id: "county" for d in city.children}
    features = []
    for r in city.walk():
        coords = [_lonlat(p) for p in rings[r.id]]
        coords.append(coords[0])
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": r.id,
                    "name": r.name,
                    "parent": parent.get(r.id),
                    "level": level.get(r.id, "town"),
                    "note": NOTE,
                },
                "geometry": {"type": "Polygon", "coordinates": [coords]},
            }
        )
    return {
        "type": "FeatureCollection",
        "name": f"{city.name}示意区划",
        "description": f"{city.name} is fictional. {NOTE}. Written by sample/geo.py.",
        "features": features,
    }


def write(path: Path, city: Region = CITY) -> Path:
    """Write the sample's GeoJSON (compact, UTF-8) to ``path``; the same bytes every time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(feature_collection(city), ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    default = Path(__file__).resolve().parent.parent / "data" / GEOJSON_NAME
    parser = argparse.ArgumentParser(
        prog="python -m sample.geo", description="Write the sample's region polygons."
    )
    parser.add_argument("--out", type=Path, default=default, help="output file (default: %(default)s)")
    args = parser.parse_args(argv)
    out = write(args.out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
