"""The ``cockpit`` command line (contract section 2).

Exit status: 0 done; 1 done in part (a source failed while running);
2 the config, the arguments or an input file are invalid.
Problems go to standard error, one a line; never a traceback for anything
a user can cause.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

EXIT_OK, EXIT_PARTIAL, EXIT_INVALID = 0, 1, 2


def _err(line: str) -> None:
    click.echo(line, err=True)


class Abort(Exception):
    def __init__(self, code: int, lines: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.lines = lines or []


def _guard(fn: Callable[..., int]) -> Callable[..., None]:
    """Turn every failure into lines on stderr and an exit status; never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs)
        except Abort as a:
            for line in a.lines:
                _err(line)
            sys.exit(a.code)
        except KeyboardInterrupt:
            _err("ERROR: interrupted")
            sys.exit(EXIT_PARTIAL)
        except BrokenPipeError:
            sys.exit(EXIT_OK)
        except Exception as e:  # noqa: BLE001 - last line of defence: say what broke, in one line
            _err(f"ERROR: internal error: {type(e).__name__}: {e}")
            if "COCKPIT_DEBUG" in __import__("os").environ:
                raise
            sys.exit(EXIT_PARTIAL)
        sys.exit(code or EXIT_OK)

    return wrapper


def _load(config: str):
    from metrics.catalogue.load import load_catalogue
    from metrics.catalogue.problems import ConfigError

    try:
        return load_catalogue(config)
    except ConfigError as e:
        raise Abort(EXIT_INVALID, [str(p) for p in e.problems]) from None


def _config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        default="indicators.yaml",
        show_default=True,
        type=click.Path(dir_okay=False),
        help="The catalogue; relative paths inside it resolve against its folder.",
    )(f)


def _as_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as", "as_user", metavar="USER_ID", help="Limit the output to what this user may see."
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cockpit")
def main() -> None:
    """领导驾驶舱: indicators, rankings, alerts and bulletins from indicators.yaml."""


# ----------------------------------------------------------------- validate


@main.command()
@_config_option
@_guard
def validate(config: str) -> int:
    """Check the whole config, then reach every source and check its columns."""
    from metrics.catalogue.load import load_catalogue
    from metrics.catalogue.problems import ConfigError
    from metrics.validate import check_sources

    try:
        cat = load_catalogue(config)
        found = []
    except ConfigError as e:
        if e.partial is None:
            raise Abort(EXIT_INVALID, [str(p) for p in e.problems]) from None
        cat, found = e.partial, e.problems  # still reach the sources that could be read
    # a source whose settings are wrong (unset ${VAR}, inline password) is not reached
    # nor one that an indicator with a problem uses: its bad where clause must never reach a database
    skip = {p.subject.split("'")[1] for p in found if p.subject.startswith("source '")}
    bad_indicators = {p.subject.split("'")[1] for p in found if p.subject.startswith("indicator '")}
    raw = cat.yaml.data.get("indicators") if isinstance(cat.yaml.data, dict) else None
    for item in raw if isinstance(raw, list) else []:
        if (
            isinstance(item, dict)
            and str(item.get("id")) in bad_indicators
            and isinstance(item.get("source"), str)
        ):
            skip.add(item["source"])
    if found:  # local files are still checked; no database or HTTP endpoint is contacted
        skip.update(k for k, v in cat.config.sources.items() if v.type in ("sql", "http_json"))
    problems, warnings = check_sources(cat, skip=skip)
    seen: set[str] = set()
    problems = [
        p
        for p in sorted([*found, *problems], key=lambda p: p.line)
        if not (str(p) in seen or seen.add(str(p)))
    ]
    for w in warnings:
        _err(f"WARNING: {w}")
    for p in problems:
        _err(str(p))
    if problems:
        return EXIT_INVALID
    n_src = len(cat.config.sources)
    click.echo(f"OK: {config}: {len(cat.config.indicators)} indicators, {n_src} sources reachable")
    return EXIT_OK


# ----------------------------------------------------------------- schema


@main.command()
@_config_option
@_guard
def schema(config: str) -> int:
    """Print the JSON Schema of indicators.yaml, for editors."""
    from metrics.catalogue.spec import json_schema

    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))
    return EXIT_OK


# ----------------------------------------------------------------- compute


def _check_ids(cat: Any, ids: tuple[str, ...]) -> list[str] | None:
    from metrics.catalogue.problems import did_you_mean

    if not ids:
        return None
    bad = [i for i in ids if i not in cat.indicators]
    if bad:
        raise Abort(
            EXIT_INVALID,
            [
                f"ERROR: --indicator: unknown indicator '{b}'{did_you_mean(b, list(cat.indicators))}"
                for b in bad
            ],
        )
    return list(dict.fromkeys(ids))


def _check_period(period: str | None) -> str | None:
    """The period as given, when it is a period string of contract section 4; else exit 2.

    A near spelling (``2026-2``) is refused with the canonical one as the way out.
    """
    from metrics import periods

    if period is None:
        return None
    try:
        grain = periods.grain_of(period.strip())
        canonical = periods.to_period(periods.start(period.strip()), grain)
    except (periods.PeriodError, ValueError):
        canonical = None
    if canonical is None:
        raise Abort(
            EXIT_INVALID,
            [
                f"ERROR: --period: '{period}' is not a period (write 2026-10-05, 2026-W41, 2026-10, 2026-Q3 or 2026)"
            ],
        )
    if canonical != period:
        raise Abort(
            EXIT_INVALID,
            [f"ERROR: --period: '{period}' is not a period string (did you mean '{canonical}'?)"],
        )
    return canonical


def _scope(cat: Any, as_user: str | None):
    from metrics.access import UnknownUser, scope_for

    try:
        return scope_for(cat, as_user)
    except UnknownUser as e:
        raise Abort(EXIT_INVALID, [f"ERROR: --as: {e}"]) from None


def _emit(text: str, output: str | None) -> None:
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise Abort(EXIT_INVALID, [f"ERROR: --output: cannot write {output}: {e.strerror}"]) from None
    else:
        click.echo(text, nl=not text.endswith("\n"))


@main.command()
@_config_option
@click.option(
    "--indicator", "indicators", multiple=True, metavar="ID", help="Only this indicator (repeatable)."
)
@click.option("--period", metavar="P", help="Only rows of this period (2026-10, 2026-Q3, 2026-W41, …).")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv", "table"]), default="table", show_default=True
)
@click.option(
    "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output."
)
@_as_option
@_guard
def compute(
    config: str,
    indicators: tuple[str, ...],
    period: str | None,
    fmt: str,
    output: str | None,
    as_user: str | None,
) -> int:
    """Compute indicator rows (contract section 5)."""
    from metrics.engine import Engine, rows_as_records

    cat = _load(config)
    ids = _check_ids(cat, indicators)
    period = _check_period(period)
    scope = _scope(cat, as_user)
    if ids is None:
        ids = [i.id for i in cat.config.indicators]
    ids = [i for i in ids if scope.sees_indicator(cat.indicators[i])]
    res = Engine(cat).compute(ids, period)
    for w in res.warnings:
        _err(f"WARNING: {w}")
    for e in res.errors:
        _err(e)
    for ind_id, why in res.failed.items():
        if not any(why in e for e in res.errors):
            _err(f"ERROR: indicator '{ind_id}': {why}")
    rows = scope.filter_rows(res.rows)
    if fmt == "json":
        text = json.dumps(rows_as_records(rows), ensure_ascii=False, indent=None, allow_nan=False)
        text = text.replace("}, {", "},\n {")
    elif fmt == "csv":
        text = _csv(rows_as_records(rows))
    else:
        text = _table(cat, rows)
    _emit(text + ("\n" if not text.endswith("\n") else ""), output)
    return EXIT_PARTIAL if (res.errors or res.failed) else EXIT_OK


@main.command()
@_config_option
@click.option(
    "--indicator", "indicators", multiple=True, metavar="ID", help="Only this indicator (repeatable)."
)
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@_as_option
@_guard
def detect(config: str, indicators: tuple[str, ...], fmt: str, as_user: str | None) -> int:
    """Trend and anomaly findings (contract section 6)."""
    from metrics.catalogue.rules import grain_of
    from metrics.engine import Engine
    from metrics.models.runner import findings

    cat = _load(config)
    ids = _check_ids(cat, indicators)
    scope = _scope(cat, as_user)
    if ids is None:
        ids = [i.id for i in cat.config.indicators]
    ids = [i for i in ids if scope.sees_indicator(cat.indicators[i])]
    res = Engine(cat).compute(ids)
    for w in res.warnings:
        _err(f"WARNING: {w}")
    for e in res.errors:
        _err(e)
    rows = scope.filter_rows(res.rows)
    grains = {i: grain_of(cat.indicators, i) or "month" for i in ids}
    found = findings([cat.indicators[i] for i in ids], rows, grains)
    if fmt == "json":
        text = json.dumps(found, ensure_ascii=False, allow_nan=False).replace("}, {", "},\n {")
    else:
        text = _findings_table(cat, found)
    _emit(text + "\n", None)
    return EXIT_PARTIAL if (res.errors or res.failed) else EXIT_OK


@main.command()
@_config_option
@click.option("--bulletin", "bulletin_id", metavar="ID", help="A bulletin declared under `bulletins:`.")
@click.option("--period", metavar="P", help="The period (default: the latest that has data).")
@click.option("--region", metavar="ID", help="Only this region's subtree (a county's bulletin).")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output."
)
@_as_option
@_guard
def bulletin(
    config: str,
    bulletin_id: str | None,
    period: str | None,
    region: str | None,
    fmt: str,
    output: str | None,
    as_user: str | None,
) -> int:
    """Render a 数据通报 (contract section 8)."""
    from alerts.bulletin import BulletinError, build_bulletin, render

    cat = _load(config)
    period = _check_period(period)
    scope = _scope(cat, as_user)
    try:
        from alerts.inbox import bulletin_items
        from alerts.run import default_state_path

        items = bulletin_items(cat, default_state_path(cat), scope)
        doc = build_bulletin(
            cat, bulletin_id=bulletin_id, period=period, region=region, scope=scope, alerts=items
        )
    except BulletinError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: {e}"]) from None
    for w in doc.warnings:
        _err(f"WARNING: {w}")
    for e in doc.errors:
        _err(e)
    _emit(render(doc, fmt), output)
    return EXIT_PARTIAL if doc.errors else EXIT_OK


def _findings_table(cat: Any, found: list[dict[str, Any]]) -> str:
    from metrics.format import fmt_value
    from metrics.models.explain import explain_finding

    kinds = {"spike": "突增", "dip": "突降", "level_shift": "水平突变", "trend_change": "趋势转折"}
    headers = ["指标", "地区", "部门", "期间", "类型", "实际", "预期", "正常范围", "异常度", "说明"]
    out = []
    for f in found:
        ind = cat.indicators[f["indicator"]]
        unit = ind.unit or ""
        out.append(
            [
                f"{ind.name}({ind.id})",
                cat.tree.name(f["region"]) if cat.tree and f["region"] else (f["region"] or ""),
                cat.department_name(f["department"]) if f["department"] else "",
                f["period"],
                kinds.get(f["kind"], f["kind"]),
                fmt_value(f["observed"], unit),
                fmt_value(f["expected"], unit),
                f"{fmt_value(f['lower'], unit)}–{fmt_value(f['upper'], unit)}",
                f"{f['score']:.1f}",
                explain_finding(
                    f,
                    ind,
                    cat.tree.name(f["region"]) if cat.tree and f["region"] else "",
                    cat.department_name(f["department"]) if f["department"] else None,
                ),
            ]
        )
    return _align([headers, *out])


def _csv(records: list[dict[str, Any]]) -> str:
    from metrics.engine import OUTPUT_COLUMNS

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _table(cat: Any, rows: Any) -> str:
    from metrics.format import fmt_change, fmt_value

    headers = ["指标", "期间", "地区", "部门", "值", "目标", "状态", "同比", "环比", "排名"]
    out = []
    for r in rows.iter_rows(named=True):
        ind = cat.indicators[r["indicator"]]
        unit = ind.unit or ""
        out.append(
            [
                f"{ind.name}({ind.id})",
                r["period"],
                cat.tree.name(r["region"]) if cat.tree and r["region"] else (r["region"] or ""),
                cat.department_name(r["department"]) if r["department"] else "",
                fmt_value(r["value"], unit),
                fmt_value(r["target"], unit),
                {"green": "绿", "yellow": "黄", "red": "红", "blue": "蓝", "lightblue": "浅蓝"}.get(
                    r["status"] or "", ""
                ),
                fmt_change(r["yoy"], unit),
                fmt_change(r["mom"], unit),
                "" if r["rank"] is None else str(r["rank"]),
            ]
        )
    return _align([headers, *out])


def _align(table: list[list[str]]) -> str:
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

    widths = [max(width(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for row in table:
        cells = [c + " " * (widths[i] - width(c)) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- sub-command groups in their own modules

if __name__ == "__main__":  # pragma: no cover - python -m cockpit.cli: run the package module, groups and all
    import cockpit.cli

    cockpit.cli.main()
else:
    from .cli_alerts import alerts as _alerts  # they use the helpers above
    from .cli_alerts import schedule as _schedule
    from .cli_assess import assess as _assess
    from .cli_forms import forms as _forms
    from .cli_refresh import refresh as _refresh
    from .cli_users import users as _users

    for _command in (_alerts, _schedule, _assess, _forms, _refresh, _users):
        main.add_command(_command)
