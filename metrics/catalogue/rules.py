"""Stage 4: cross-object rules, each a small function that yields problems."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import spec
from .expressions import ExpressionError, check_formula, check_when, check_where
from .problems import Path, Problem, did_you_mean

if TYPE_CHECKING:
    from .load import Catalogue

Found = Iterator[tuple[Path, str]]
_YEAR = re.compile(r"^\d{4}$")


def _regions(
    node: spec.RegionNode | None, path: Path = ("org", "regions")
) -> Iterator[tuple[spec.RegionNode, Path]]:
    if node is None:
        return
    yield node, path
    for i, c in enumerate(node.children):
        yield from _regions(c, (*path, "children", i))


def unique_ids(cat: Catalogue, data: Any) -> Found:
    def dupes(items: list[tuple[str, Path]], word: str) -> Found:
        seen: dict[str, Path] = {}
        for ident, path in items:
            if ident in seen:
                yield (*path, "id"), f"duplicate {word} id '{ident}' (line {cat.yaml.line(seen[ident])})"
            else:
                seen[ident] = path

    c = cat.config
    yield from dupes([(n.id, p) for n, p in _regions(c.org.regions)], "region")
    yield from dupes(
        [(d.id, ("org", "departments", i)) for i, d in enumerate(c.org.departments)], "department"
    )
    yield from dupes(
        [(x.id, cat.item_path("indicators", i)) for i, x in enumerate(c.indicators)], "indicator"
    )
    yield from dupes([(x.id, cat.item_path("bulletins", i)) for i, x in enumerate(c.bulletins)], "bulletin")
    yield from dupes(
        [(x.id, cat.item_path("assessments", i)) for i, x in enumerate(c.assessments)], "assessment"
    )
    if c.access:
        yield from dupes([(u.id, ("access", "users", i)) for i, u in enumerate(c.access.users)], "user")


def named_ids(cat: Catalogue, data: Any) -> Found:
    for group in ("sources", "channels"):
        for key in getattr(cat.config, group):
            if not re.match(spec.ID_PATTERN, key):
                yield (
                    (group, key),
                    (
                        f"'{key}' is not a valid {group[:-1]} id: use lower-case letters, digits and '_', "
                        "starting with a letter ([a-z][a-z0-9_]*)"
                    ),
                )


def sources_complete(cat: Catalogue, data: Any) -> Found:
    for key, s in cat.config.sources.items():
        if isinstance(s, spec.DuckDBSource | spec.SqlSource):
            if (s.table is None) == (s.query is None):
                yield ("sources", key), "give exactly one of 'table' or 'query'"


def _known_regions(cat: Catalogue) -> list[str]:
    return [n.id for n, _ in _regions(cat.config.org.regions)]


def _known_departments(cat: Catalogue) -> list[str]:
    return [d.id for d in cat.config.org.departments]


def _domains(cat: Catalogue) -> list[str]:
    return sorted({i.domain for i in cat.config.indicators if i.domain})


def indicator_fields(cat: Catalogue, data: Any) -> Found:
    sources = list(cat.config.sources)
    departments = _known_departments(cat)
    channels = list(cat.config.channels)
    regions = _known_regions(cat)
    for i, ind in enumerate(cat.config.indicators):
        base: Path = cat.item_path("indicators", i)
        formula = isinstance(ind.measure, spec.FormulaMeasure)
        if formula:
            for f in ("source", "time", "region", "department"):
                if getattr(ind, f) is not None:
                    yield (*base, f), f"a formula indicator takes its {f} from its inputs; remove '{f}'"
        else:
            if ind.source is None:
                yield (*base, "source"), "required field missing"
            elif ind.source not in cat.config.sources and ind.source not in cat.known.get("sources", ()):
                yield (*base, "source"), f"unknown source '{ind.source}'{did_you_mean(ind.source, sources)}"
            if ind.time is None:
                yield (*base, "time"), "required field missing"
        if ind.owner is not None and ind.owner not in departments:
            yield (
                (*base, "owner"),
                f"unknown owner department '{ind.owner}'{did_you_mean(ind.owner, departments)}",
            )
        m = ind.measure
        if isinstance(m, spec.RatioMeasure):
            for side in ("numerator", "denominator"):
                sd = getattr(m, side)
                if sd.agg != "count" and not sd.column:
                    yield (
                        (*base, "measure", side, "column"),
                        f"required field missing (a {sd.agg} needs a column)",
                    )
        for field, where in ind.where_clauses():
            try:
                check_where(where)
            except ExpressionError as e:
                yield (*base, *field.split(".")), f"{e}"
        if ind.thresholds and ind.bands:
            yield (*base, "bands"), "give 'thresholds' or 'bands', not both"
        if ind.thresholds:
            t = ind.thresholds
            if ind.direction == "higher_better" and t.green < t.yellow:
                yield (
                    (*base, "thresholds"),
                    (f"out of order for higher_better: green ({t.green:g}) must be >= yellow ({t.yellow:g})"),
                )
            if ind.direction == "lower_better" and t.green > t.yellow:
                yield (
                    (*base, "thresholds"),
                    (f"out of order for lower_better: green ({t.green:g}) must be <= yellow ({t.yellow:g})"),
                )
        if ind.bands:
            b = ind.bands
            edges = [("blue", b.blue), ("lightblue", b.lightblue), ("green", b.green), ("yellow", b.yellow)]
            for (n1, v1), (n2, v2) in zip(edges, edges[1:], strict=False):
                if not v1 < v2:
                    yield (*base, "bands"), f"edges must rise: {n1} ({v1:g}) must be below {n2} ({v2:g})"
        if isinstance(ind.target, dict):
            if "default" not in ind.target:
                pass  # regions and years without a default: other rows have no target
            for k in ind.target:
                if k != "default" and not _YEAR.match(k) and k not in regions:
                    yield (
                        (*base, "target", k),
                        (
                            f"unknown key '{k}': expected 'default', a year or a region id{did_you_mean(k, regions)}"
                        ),
                    )
        for j, rule in enumerate(ind.alerts):
            rp: Path = (*base, "alerts", j)
            try:
                check_when(rule.when)
            except ExpressionError as e:
                yield (*rp, "when"), str(e)
            for k, ch in enumerate(rule.notify):
                if ch not in cat.config.channels and ch not in cat.known.get("channels", ()):
                    yield (*rp, "notify", k), f"unknown channel '{ch}'{did_you_mean(ch, channels)}"
            for k, r in enumerate(rule.scope or []):
                if r not in regions:
                    yield (*rp, "scope", k), f"unknown region '{r}'{did_you_mean(r, regions)}"


def formulas(cat: Catalogue, data: Any) -> Found:
    by_id = {ind.id: ind for ind in cat.config.indicators}
    ids = list(by_id)
    index = {ind.id: cat.item_path("indicators", i)[1] for i, ind in enumerate(cat.config.indicators)}
    for ind in cat.config.indicators:
        m = ind.measure
        if not isinstance(m, spec.FormulaMeasure):
            continue
        base: Path = ("indicators", index[ind.id], "measure")
        for name, ref in m.inputs.items():
            if ref not in by_id and ref not in cat.known.get("indicators", ()):
                yield (*base, "inputs", name), f"unknown indicator '{ref}'{did_you_mean(ref, ids)}"
        try:
            check_formula(m.expr, list(m.inputs))
        except ExpressionError as e:
            yield (*base, "expr"), str(e)
    # cycles
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        m = by_id[node].measure
        if isinstance(m, spec.FormulaMeasure):
            for ref in m.inputs.values():
                if ref not in by_id:
                    continue
                if state.get(ref) == 1:
                    return [*stack, node, ref]
                if state.get(ref) is None:
                    found = visit(ref, [*stack, node])
                    if found:
                        return found
        state[node] = 2
        return None

    reported: set[str] = set()
    for ind in cat.config.indicators:
        if state.get(ind.id) is None:
            cycle = visit(ind.id, [])
            if cycle:
                start = cycle.index(cycle[-1])
                loop = cycle[start:]
                if loop[0] not in reported:
                    reported.update(loop)
                    yield (
                        ("indicators", index[loop[0]], "measure", "inputs"),
                        ("formulas form a cycle: " + " → ".join(loop)),
                    )
    if reported:
        return
    # shared grain
    for ind in cat.config.indicators:
        m = ind.measure
        if isinstance(m, spec.FormulaMeasure):
            grains = {ref: grain_of(by_id, ref) for ref in m.inputs.values() if ref in by_id}
            if len(set(grains.values()) - {None}) > 1:
                desc = ", ".join(f"{r} is {g}" for r, g in grains.items())
                yield (
                    ("indicators", index[ind.id], "measure", "inputs"),
                    f"inputs must share one grain ({desc})",
                )


def grain_of(by_id: dict[str, spec.Indicator], ind_id: str, seen: frozenset[str] = frozenset()) -> str | None:
    """An indicator's grain: its time grain, or for a formula its inputs' grain."""
    ind = by_id.get(ind_id)
    if ind is None or ind_id in seen:
        return None
    if ind.time is not None:
        return ind.time.grain
    m = ind.measure
    if isinstance(m, spec.FormulaMeasure):
        for ref in m.inputs.values():
            g = grain_of(by_id, ref, seen | {ind_id})
            if g:
                return g
    return None


def references(cat: Catalogue, data: Any) -> Found:
    c = cat.config
    regions = _known_regions(cat)
    departments = _known_departments(cat)
    domains = _domains(cat)
    channels = list(c.channels)
    users = [u.id for u in c.access.users] if c.access else []
    ids = [i.id for i in c.indicators]
    for k, b in enumerate(c.bulletins):
        i = cat.item_path("bulletins", k)[1]
        if b.region is not None and b.region not in regions:
            yield ("bulletins", i, "region"), f"unknown region '{b.region}'{did_you_mean(b.region, regions)}"
        for k, d in enumerate(b.domains or []):
            if d not in domains:
                yield ("bulletins", i, "domains", k), f"unknown domain '{d}'{did_you_mean(d, domains)}"
        for k, ch in enumerate(b.notify):
            if ch not in channels:
                yield ("bulletins", i, "notify", k), f"unknown channel '{ch}'{did_you_mean(ch, channels)}"
    for k, a in enumerate(c.assessments):
        i = cat.item_path("assessments", k)[1]
        subjects = departments if a.subjects == "departments" else regions
        for k, item in enumerate(a.items):
            if item.indicator not in ids:
                yield (
                    ("assessments", i, "items", k, "indicator"),
                    (f"unknown indicator '{item.indicator}'{did_you_mean(item.indicator, ids)}"),
                )
            if item.target == item.floor:
                yield ("assessments", i, "items", k, "target"), "target must differ from floor"
            for key in item.targets:
                if key not in subjects:
                    yield (
                        ("assessments", i, "items", k, "targets", key),
                        (f"unknown subject '{key}'{did_you_mean(key, subjects)}"),
                    )
    if c.access:
        for i, u in enumerate(c.access.users):
            for k, r in enumerate(u.regions):
                if r not in regions:
                    yield (
                        ("access", "users", i, "regions", k),
                        f"unknown region '{r}'{did_you_mean(r, regions)}",
                    )
            for k, d in enumerate(u.domains or []):
                if d not in domains:
                    yield (
                        ("access", "users", i, "domains", k),
                        f"unknown domain '{d}'{did_you_mean(d, domains)}",
                    )
    for key, ch in c.channels.items():
        if ch.user is not None and ch.user not in users:
            yield ("channels", key, "user"), f"unknown user '{ch.user}'{did_you_mean(ch.user, users)}"


def _breaks_down(
    by_id: dict[str, spec.Indicator], ind_id: str, column: str, seen: frozenset[str] = frozenset()
) -> bool:
    """Whether an indicator has rows per region (``column='region'``) or per department.

    A formula has them where all its inputs have them (it joins them on region and department).
    """
    ind = by_id.get(ind_id)
    if ind is None or ind_id in seen:
        return True  # reported elsewhere (unknown indicator, cycle)
    m = ind.measure
    if isinstance(m, spec.FormulaMeasure):
        return all(_breaks_down(by_id, ref, column, seen | {ind_id}) for ref in m.inputs.values())
    return getattr(ind, column) is not None


def assessment_items(cat: Catalogue, data: Any) -> Found:
    """Assessments whose subjects or items could only ever score 0 (contract section 11)."""
    c = cat.config
    by_id = {ind.id: ind for ind in c.indicators}
    root = c.org.regions  # the catalogue's tree is built after the rules
    children = [n.id for n in root.children] if root is not None else []
    all_regions = _known_regions(cat)
    for k, a in enumerate(c.assessments):
        i = cat.item_path("assessments", k)[1]
        if a.subjects == "regions" and not children:
            yield (
                ("assessments", i, "subjects"),
                "subjects 'regions' are the children of org.regions' root, and it has none",
            )
        if a.subjects == "departments" and not c.org.departments:
            yield (
                ("assessments", i, "subjects"),
                "subjects 'departments' are org.departments, and there are none",
            )
        if not a.items:
            yield ("assessments", i, "items"), "an assessment needs at least one item"
        column = "department" if a.subjects == "departments" else "region"
        for j, item in enumerate(a.items):
            base: Path = ("assessments", i, "items", j)
            if item.weight <= 0:
                yield (*base, "weight"), f"weight must be positive (got {item.weight:g})"
            if item.indicator in by_id and not _breaks_down(by_id, item.indicator, column):
                yield (
                    (*base, "indicator"),
                    (
                        f"indicator '{item.indicator}' has no {column} column: it has no row per "
                        f"{'department' if column == 'department' else 'region'}, so every subject would score 0"
                    ),
                )
            for key, t in item.targets.items():
                if t == item.floor:
                    yield (*base, "targets", key), f"target must differ from floor ({item.floor:g})"
                if a.subjects == "regions" and key in all_regions and key not in children:
                    yield (
                        (*base, "targets", key),
                        (
                            f"region '{key}' is not a subject: subjects 'regions' are the root's children "
                            f"({', '.join(children)})"
                        ),
                    )


_FORM_COLUMNS = ("period", "region", "department", "submitted_by", "submitted_at")


def form_sources(cat: Catalogue, data: Any) -> Found:
    """Form sources (contract section 14): their fields, checks and reporters, and the indicators on them."""
    from ..periods import finer_or_equal

    c = cat.config
    regions = _known_regions(cat)
    root = c.org.regions
    for key, s in c.sources.items():
        if not isinstance(s, spec.FormSource):
            continue
        base: Path = ("sources", key)
        ids = [f.id for f in s.fields]
        if not s.fields:
            yield (*base, "fields"), "a form needs at least one field"
        first_id: dict[str, int] = {}
        names: set[str] = set()
        for j, f in enumerate(s.fields):
            fp: Path = (*base, "fields", j)
            if f.id in _FORM_COLUMNS:
                yield (
                    (*fp, "id"),
                    f"'{f.id}' is a column every form has ({', '.join(_FORM_COLUMNS)}); choose another id",
                )
            if f.id in first_id:
                line = cat.yaml.line((*base, "fields", first_id[f.id]))
                yield (*fp, "id"), f"duplicate field id '{f.id}' (line {line})"
            first_id.setdefault(f.id, j)
            if f.name.strip() in names:
                yield (*fp, "name"), f"duplicate field name '{f.name}': imports read columns by name too"
            names.add(f.name.strip())
            if f.type == "choice" and not f.choices:
                yield (*fp, "choices"), "a choice field needs 'choices'"
            if f.type != "choice" and f.choices is not None:
                yield (*fp, "choices"), f"only a choice field takes 'choices' (this one is {f.type})"
            for bound in ("min", "max"):
                if f.type not in ("integer", "number") and getattr(f, bound) is not None:
                    yield (
                        (*fp, bound),
                        f"only integer and number fields take '{bound}' (this one is {f.type})",
                    )
            if f.min is not None and f.max is not None and f.min > f.max:
                yield (*fp, "max"), f"max ({f.max:g}) must not be below min ({f.min:g})"
        for j, chk in enumerate(s.checks):
            try:
                check_where(chk.rule, ids)
            except ExpressionError as e:
                yield (*base, "checks", j, "rule"), str(e).replace("unknown column", "unknown field")
        if s.reporters == "regions" and (root is None or not root.children):
            yield (
                (*base, "reporters"),
                "reporters 'regions' are the children of org.regions' root, and it has none",
            )
        if s.reporters == "departments" and not c.org.departments:
            yield (*base, "reporters"), "reporters 'departments' are org.departments, and there are none"
        if isinstance(s.reporters, list):
            if not s.reporters:
                yield (*base, "reporters"), "list at least one region id"
            for k, r in enumerate(s.reporters):
                if r not in regions:
                    yield (*base, "reporters", k), f"unknown region '{r}'{did_you_mean(r, regions)}"
        columns = [*_FORM_COLUMNS, *ids]
        lowered = {x.lower() for x in columns}
        for i, ind in enumerate(c.indicators):
            if ind.source != key:
                continue
            ip = cat.item_path("indicators", i)
            for fld, col in ind.source_columns():
                if col.lower() not in lowered:
                    yield (*ip, *fld.split(".")), f"unknown column '{col}'{did_you_mean(col, columns)}"
            for fld, where in ind.where_clauses():
                try:
                    check_where(where, columns)
                except ExpressionError as e:
                    yield (*ip, *fld.split(".")), str(e)
            t = ind.time
            if t is not None and t.column.lower() == "period" and not finer_or_equal(s.grain, t.grain):
                yield (
                    (*ip, "time", "grain"),
                    f"form '{key}' is reported by {s.grain}: grain must be {s.grain} or coarser, not {t.grain}",
                )


RULES: list[Callable[[Catalogue, Any], Found]] = [
    unique_ids,
    named_ids,
    sources_complete,
    indicator_fields,
    formulas,
    references,
    assessment_items,
    form_sources,
]


def check_rules(cat: Catalogue, data: Any) -> list[Problem]:
    out: list[Problem] = []
    for rule in RULES:
        for path, message in rule(cat, data):
            out.append(cat.problem(path, message))
    return out
