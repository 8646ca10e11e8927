"""What an indicator is and where its numbers come from (一数一源), in words and as a graph.

The catalogue page shows, for every indicator, its definition in Chinese and
its lineage: source → columns used → filters → aggregation → formula inputs →
indicator. Source locations are shown without secrets: a URL's password and
its token-like query parameters are masked, HTTP headers are never shown.

Examples
--------
>>> mask_url("postgresql://cockpit:s3cret@db.example.gov.cn/stats?sslmode=require")
'postgresql://cockpit:***@db.example.gov.cn/stats?sslmode=require'
>>> mask_url("http://h/hook?access_token=abc&x=1")
'http://h/hook?access_token=***&x=1'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl

from .access import Scope
from .catalogue import spec
from .catalogue.load import Catalogue

SECRET_PARAMS = {
    "access_token",
    "token",
    "key",
    "api_key",
    "apikey",
    "password",
    "passwd",
    "pwd",
    "secret",
    "sign",
    "signature",
    "auth",
}
MASK = "***"
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")

SOURCE_TYPE_LABEL = {
    "csv": "CSV 文件",
    "parquet": "Parquet 文件",
    "excel": "Excel 工作簿",
    "duckdb": "DuckDB 数据库",
    "sql": "SQL 数据库",
    "http_json": "HTTP 接口（JSON）",
    "spark": "Spark",
    "form": "在线填报",
}
AGG_LABEL = {
    "count": "计数",
    "count_col": "非空计数",
    "sum": "求和",
    "mean": "平均值",
    "min": "最小值",
    "max": "最大值",
    "median": "中位数",
    "count_distinct": "去重计数",
}
_FIELD = {
    "time.column": "时间",
    "region": "地区",
    "department": "部门",
    "measure.column": "度量",
    "measure.numerator.column": "分子",
    "measure.denominator.column": "分母",
}
_SIDE = {"measure.where": "条件", "measure.numerator.where": "分子", "measure.denominator.where": "分母"}
GRAIN_LABEL = {"day": "日", "week": "周", "month": "月", "quarter": "季", "year": "年"}
ACCUMULATE_LABEL = {"none": "当期值", "ytd": "年初至今累计", "source": "源数据已为累计值"}
DIRECTION_LABEL = {"higher_better": "越高越好", "lower_better": "越低越好"}
ROLLUP_LABEL = {"sum": "逐级汇总", "none": "不汇总（仅本级数据）"}


# ----------------------------------------------------------------- secrets


def mask_url(url: str) -> str:
    """A URL without secrets: the password of ``user:password@`` and token-like query values become ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(f"{k}={MASK if k.lower() in SECRET_PARAMS and v else v}" for k, v in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_text(text: str) -> str:
    """Every URL inside a message masked with :func:`mask_url`."""
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)


def source_location(src: spec.Source) -> str:
    """Where a source's data is, safe to show: a file path (and sheet / table), or a masked URL."""
    kind = src.type
    if kind in ("csv", "parquet"):
        return src.path
    if kind == "excel":
        assert isinstance(src, spec.ExcelSource)
        return src.path + (f"（工作表 {src.sheet}）" if src.sheet is not None else "")
    if kind == "duckdb":
        assert isinstance(src, spec.DuckDBSource)
        return src.path + (f"（表 {src.table}）" if src.table else "（自定义查询）")
    if kind == "sql":
        assert isinstance(src, spec.SqlSource)
        return mask_url(src.url) + (f"（表 {src.table}）" if src.table else "（自定义查询）")
    if kind == "http_json":
        assert isinstance(src, spec.HttpJsonSource)
        where = mask_url(src.url)
        if src.records:
            where += f"（记录：{src.records}）"
        return where
    return str(getattr(src, "path", "") or getattr(src, "url", "") or "")


# ----------------------------------------------------------------- definitions in words


def sources_feeding(cat: Catalogue, ind: spec.Indicator, seen: frozenset[str] = frozenset()) -> set[str]:
    """The sources an indicator reads, through formula inputs."""
    if ind.id in seen:
        return set()
    m = ind.measure
    if isinstance(m, spec.FormulaMeasure):
        out: set[str] = set()
        for ref in m.inputs.values():
            if ref in cat.indicators:
                out |= sources_feeding(cat, cat.indicators[ref], seen | {ind.id})
        return out
    return {ind.source} if ind.source else set()


def grain(cat: Catalogue, ind: spec.Indicator) -> str | None:
    """The time grain, for a formula its inputs'."""
    from .catalogue.rules import grain_of

    return grain_of(cat.indicators, ind.id)


def _side_text(agg: str, column: str | None, where: str | None) -> str:
    what = "记录数" if agg == "count" and not column else f"{column} 的{AGG_LABEL.get(agg, agg)}"
    if agg == "count" and column:
        what = f"{column} 非空的记录数"
    return what + (f"（条件：{where}）" if where else "")


def measure_text(ind: spec.Indicator) -> str:
    """The measure in words: ``记录数``, ``days 的平均值（条件：…）``,
    ``比率：分子 = 记录数（条件：channel = '网办'）；分母 = 记录数；× 100``, ``公式：…``."""
    m = ind.measure
    if isinstance(m, spec.CountMeasure):
        return _side_text("count", None, m.where)
    if isinstance(m, spec.ColumnMeasure):
        return _side_text(m.type, m.column, m.where)
    if isinstance(m, spec.RatioMeasure):
        n, d = m.numerator, m.denominator
        scale = f"；× {m.scale:g}" if m.scale != 1 else ""
        return f"比率：分子 = {_side_text(n.agg, n.column, n.where)}；分母 = {_side_text(d.agg, d.column, d.where)}{scale}"
    assert isinstance(m, spec.FormulaMeasure)
    inputs = "，".join(f"{k} = {v}" for k, v in m.inputs.items())
    return f"公式：{m.expr}（{inputs}）"


def _agg_summary(m: spec.Measure) -> str:
    if isinstance(m, spec.CountMeasure):
        return "计数"
    if isinstance(m, spec.ColumnMeasure):
        return f"{AGG_LABEL.get(m.type, m.type)}（{m.column}）"
    if isinstance(m, spec.RatioMeasure):
        scale = f" × {m.scale:g}" if m.scale != 1 else ""
        return f"分子{AGG_LABEL.get(m.numerator.agg)} ÷ 分母{AGG_LABEL.get(m.denominator.agg)}{scale}"
    return "公式"


def target_text(ind: spec.Indicator, cat: Catalogue | None = None) -> str:
    """``90`` or ``默认 5；2027年 5.5；海港区 6``."""
    t = ind.target
    if t is None:
        return "—"
    if not isinstance(t, dict):
        return f"{t:g}"
    parts = []
    for k, v in t.items():
        if k == "default":
            label = "默认"
        elif re.fullmatch(r"\d{4}", k):
            label = f"{k}年"
        else:
            label = cat.tree.name(k) if cat is not None and cat.tree is not None and k in cat.tree else k
        parts.append(f"{label} {v:g}")
    return "；".join(parts)


def bands_text(ind: spec.Indicator) -> str:
    """Thresholds (``绿 ≥ 90，黄 ≥ 85``) or five-light bands (``蓝 < 99 ≤ 浅蓝 < …``)."""
    if ind.bands is not None:
        b = ind.bands
        return f"蓝 < {b.blue:g} ≤ 浅蓝 < {b.lightblue:g} ≤ 绿 < {b.green:g} ≤ 黄 < {b.yellow:g} ≤ 红"
    if ind.thresholds is not None:
        t = ind.thresholds
        op = "≥" if ind.direction == "higher_better" else "≤"
        return f"绿 {op} {t.green:g}，黄 {op} {t.yellow:g}，其余为红"
    return "—"


# ----------------------------------------------------------------- lineage


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # source | columns | filter | aggregate | formula | indicator


@dataclass(frozen=True)
class Lineage:
    """A small directed graph from the sources to one indicator."""

    indicator: str
    nodes: tuple[Node, ...] = ()
    edges: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # each chain runs from a source (or a formula's inputs) to an indicator: steps of node ids
    chains: tuple[tuple[tuple[str, ...], ...], ...] = field(default_factory=tuple)

    def steps(self) -> list[str]:
        """The lineage as lines of text, one chain a line, inputs before the formulas that use them."""
        by_id = {n.id: n for n in self.nodes}

        def text(nid: str) -> str:
            first, *rest = by_id[nid].label.split("\n")
            return first + (f"（{'；'.join(rest)}）" if rest else "")

        return [" → ".join("、".join(text(n) for n in step) for step in chain) for chain in self.chains]

    def topological(self) -> list[str]:
        """Node ids, every node after the nodes that feed it (sources first, the indicator last)."""
        ins = {n.id: 0 for n in self.nodes}
        for _, b in self.edges:
            ins[b] += 1
        ready = [n.id for n in self.nodes if ins[n.id] == 0]
        out: list[str] = []
        while ready:
            nid = ready.pop(0)
            out.append(nid)
            for a, b in self.edges:
                if a == nid:
                    ins[b] -= 1
                    if ins[b] == 0:
                        ready.append(b)
        return out + [n.id for n in self.nodes if n.id not in out]


def lineage(cat: Catalogue, ind: spec.Indicator) -> Lineage:
    """Source → columns used → filters → aggregation → (formula inputs →) indicator."""
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    chains: list[tuple[tuple[str, ...], ...]] = []

    def add(n: Node) -> str:
        nodes.setdefault(n.id, n)
        return n.id

    def edge(a: str, b: str) -> None:
        if (a, b) not in edges:
            edges.append((a, b))

    def walk(i: spec.Indicator, seen: frozenset[str]) -> str:
        me = add(Node(f"ind_{i.id}", f"{i.name}\n{i.id}", "indicator"))
        m = i.measure
        if isinstance(m, spec.FormulaMeasure):
            names = "\n".join(
                f"{k} = {cat.indicators[v].name if v in cat.indicators else v}" for k, v in m.inputs.items()
            )
            f = add(Node(f"formula_{i.id}", f"公式 {m.expr}\n{names}", "formula"))
            kids = []
            for ref in m.inputs.values():
                if ref in cat.indicators and ref not in seen:
                    child = walk(cat.indicators[ref], seen | {i.id})
                else:
                    child = add(Node(f"ind_{ref}", ref, "indicator"))
                edge(child, f)
                kids.append(child)
            edge(f, me)
            chains.append((tuple(dict.fromkeys(kids)), (f,), (me,)))
            return me
        if i.source is None:
            return me
        src = cat.config.sources.get(i.source)
        where = source_location(src) if src is not None else "未定义"
        kind = SOURCE_TYPE_LABEL.get(src.type, src.type) if src is not None else ""
        s = add(Node(f"src_{i.source}", f"数据源 {i.source}\n{kind}\n{where}", "source"))
        cols = [f"{_FIELD.get(fld, fld)}：{col}" for fld, col in i.source_columns()]
        c = add(Node(f"cols_{i.id}", "字段\n" + "\n".join(cols), "columns"))
        edge(s, c)
        prev = c
        wheres = i.where_clauses()
        if wheres:
            w = add(
                Node(
                    f"where_{i.id}",
                    "筛选\n" + "\n".join(f"{_SIDE.get(fld, fld)}：{txt}" for fld, txt in wheres),
                    "filter",
                )
            )
            edge(prev, w)
            prev = w
        g = grain(cat, i)
        agg_lines = [_agg_summary(i.measure)]
        if g:
            agg_lines.append(
                f"按{GRAIN_LABEL.get(g, g)}汇总，{ACCUMULATE_LABEL.get(i.accumulate, i.accumulate)}"
            )
        if i.region:
            agg_lines.append(f"地区{ROLLUP_LABEL.get(i.rollup, i.rollup)}")
        if i.department:
            agg_lines.append("分部门")
        a = add(Node(f"agg_{i.id}", "聚合\n" + "\n".join(agg_lines), "aggregate"))
        edge(prev, a)
        edge(a, me)
        chains.append(((s,), (c,), *([(w,)] if wheres else []), (a,), (me,)))
        return me

    walk(ind, frozenset())
    return Lineage(ind.id, tuple(nodes.values()), tuple(edges), tuple(chains))


_DOT_STYLE = {
    "source": 'shape=cylinder, style=filled, fillcolor="#e8f0fe"',
    "columns": 'shape=note, style=filled, fillcolor="#f7f8fa"',
    "filter": 'shape=box, style="rounded,filled", fillcolor="#fff4e5"',
    "aggregate": 'shape=box, style="rounded,filled", fillcolor="#e8f5e9"',
    "formula": 'shape=box, style="rounded,filled", fillcolor="#f3e5f5"',
    "indicator": 'shape=box, style="bold,filled", fillcolor="#ffffff"',
}


def _dot_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(lin: Lineage, font: str = "Noto Sans CJK SC") -> str:
    """A Graphviz DOT string (``st.graphviz_chart`` draws it without the graphviz package)."""
    out = [
        "digraph lineage {",
        '  rankdir=LR; bgcolor="transparent";',
        f'  node [fontname="{font}", fontsize=10, margin="0.2,0.08"]; edge [color="#86909c"];',
    ]
    for n in lin.nodes:
        out.append(f'  "{_dot_text(n.id)}" [label="{_dot_text(n.label)}", {_DOT_STYLE.get(n.kind, "")}];')
    for a, b in lin.edges:
        out.append(f'  "{_dot_text(a)}" -> "{_dot_text(b)}";')
    out.append("}")
    return "\n".join(out)


# ----------------------------------------------------------------- the catalogue page's frame

CATALOGUE_SCHEMA = {
    "id": pl.String,
    "name": pl.String,
    "domain": pl.String,
    "unit": pl.String,
    "owner": pl.String,
    "description": pl.String,
    "definition": pl.String,
    "source": pl.String,
    "source_type": pl.String,
    "location": pl.String,
    "grain": pl.String,
    "accumulate": pl.String,
    "rollup": pl.String,
    "direction": pl.String,
    "target": pl.String,
    "bands": pl.String,
    "alerts": pl.Int64,
    "latest": pl.String,
    "latest_label": pl.String,
    "freshness": pl.String,
    "stale": pl.Boolean,
    "link": pl.String,
}
SEARCHED = ("name", "id", "domain", "owner", "description")


def catalogue_frame(cat: Catalogue, result: Any, scope: Scope) -> pl.DataFrame:
    """One row per indicator the user may see, with everything the catalogue page shows (:data:`CATALOGUE_SCHEMA`).

    ``result`` is result-like (see :mod:`metrics.health`): it gives each indicator's
    latest period with data in the scope and whether it is stale or failed.
    """
    from .health import indicator_freshness

    fresh = {r["indicator"]: r for r in indicator_freshness(cat, result, scope).iter_rows(named=True)}
    recs = []
    for ind in cat.config.indicators:
        if not scope.sees_indicator(ind):
            continue
        srcs = sorted(sources_feeding(cat, ind))
        settings = [cat.config.sources[s] for s in srcs if s in cat.config.sources]
        g = grain(cat, ind)
        f = fresh.get(ind.id, {})
        recs.append(
            {
                "id": ind.id,
                "name": ind.name,
                "domain": ind.domain or "其他",
                "unit": ind.unit or "",
                "owner": cat.department_name(ind.owner) if ind.owner else "",
                "description": ind.description or "",
                "definition": measure_text(ind),
                "source": "、".join(srcs),
                "source_type": "、".join(
                    dict.fromkeys(SOURCE_TYPE_LABEL.get(s.type, s.type) for s in settings)
                ),
                "location": "；".join(source_location(s) for s in settings),
                "grain": GRAIN_LABEL.get(g, g) if g else "",
                "accumulate": ACCUMULATE_LABEL.get(ind.accumulate, ind.accumulate),
                "rollup": _rollup_text(ind),
                "direction": DIRECTION_LABEL.get(ind.direction, ind.direction),
                "target": target_text(ind, cat),
                "bands": bands_text(ind),
                "alerts": len(ind.alerts),
                "latest": f.get("latest"),
                "latest_label": f.get("latest_label", "—"),
                "freshness": f.get("freshness", "无数据"),
                "stale": bool(f.get("stale", True)),
                "link": "/detail?" + urlencode({"indicator": ind.id}),
            }
        )
    return pl.DataFrame(recs, schema=CATALOGUE_SCHEMA)


def _rollup_text(ind: spec.Indicator) -> str:
    if isinstance(ind.measure, spec.FormulaMeasure):
        return "随输入指标"
    return ROLLUP_LABEL.get(ind.rollup, ind.rollup) if ind.region else "仅全市（无地区字段）"


def search(frame: pl.DataFrame, q: str | None = None, domain: str | None = None) -> pl.DataFrame:
    """Rows whose name, id, domain, owner or description hold every word of ``q`` (any case), in ``domain``."""
    out = frame
    if domain:
        out = out.filter(pl.col("domain") == domain)
    for word in (q or "").split():
        hit = pl.lit(False)
        for col in SEARCHED:
            hit = hit | pl.col(col).str.to_lowercase().str.contains(word.lower(), literal=True)
        out = out.filter(hit)
    return out
