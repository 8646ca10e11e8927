"""Good and bad ``indicators.yaml`` fixtures, driven by a table (Prometheus ``rulefmt`` style).

Each file in ``fixtures/config/bad/`` holds ONE problem (the ``multi_problem*`` files hold many).
``cockpit validate --config FILE`` must exit 2, print nothing on standard output, and print on
standard error one ``ERROR: <file>:<line>: <subject>: <field>: <message>`` line naming the
offending key's line (marked ``# <-- the problem`` in the file where there is one), never a
traceback (contract sections 2 and 3). Each good fixture must validate (exit 0) and compute.

The DuckDB and SQLite files some fixtures read are made here, in a temporary folder, and
reach the fixtures through ``${COCKPIT_FIXTURE_*}`` variables: no binary is committed.

Speed: ~90 runs of the real command would take minutes (each pays the interpreter's start-up),
so the table runs ``cockpit``'s own click entry point in this process, and
``test_in_process_runs_match_the_real_command`` runs a sample of the same fixtures through
``run_cli`` (``.venv/bin/cockpit``) and checks that both say exactly the same.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "config"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
DATA = FIXTURES / "data"
MARKER = "# <-- the problem"

SUBJECT = r"config|(?:indicator|source|channel|region|user|department|bulletin|assessment) '[^']*'"
ERROR_LINE = re.compile(rf"^ERROR: (?P<file>.+?):(?P<line>\d+): (?P<subject>{SUBJECT}): (?P<rest>.+)$")
FIELD = re.compile(r"^(?P<field>[A-Za-z_][\w.\[\]]*): (?P<message>.+)$")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    subject: str
    field: str  # "" when the line names no field
    message: str
    text: str


def parse_error(text: str) -> Problem | None:
    m = ERROR_LINE.match(text)
    if not m:
        return None
    rest = m["rest"]
    f = FIELD.match(rest)
    field, message = (f["field"], f["message"]) if f else ("", rest)
    return Problem(m["file"], int(m["line"]), m["subject"], field, message, text)


# ----------------------------------------------------------------- the environment the fixtures read


@pytest.fixture(scope="session")
def fixture_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """``${COCKPIT_FIXTURE_*}`` for the fixtures: a tiny DuckDB and SQLite file, tokens; one var unset."""
    duckdb = pytest.importorskip("duckdb")
    folder = tmp_path_factory.mktemp("config_fixture_files")
    db = folder / "hotline.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "CREATE TABLE tickets AS SELECT * FROM (VALUES "
            "(DATE '2026-01-05', '130302', 3.5), (DATE '2026-01-06', '130303001', 4.5), "
            "(DATE '2026-02-01', '130303', 2.0)) AS t(opened_at, region_code, minutes)"
        )
    finally:
        con.close()
    lite = folder / "tickets.sqlite"
    s = sqlite3.connect(lite)
    try:
        s.execute("CREATE TABLE tickets (opened_at TEXT, region_code TEXT)")
        s.executemany(
            "INSERT INTO tickets VALUES (?, ?)", [("2026-01-05", "130302"), ("2026-02-11", "130303")]
        )
        s.commit()
    finally:
        s.close()
    return {
        "COCKPIT_FIXTURE_DUCKDB": str(db),
        "COCKPIT_FIXTURE_SQLITE": str(lite),
        "COCKPIT_FIXTURE_DATA_DIR": str(DATA.resolve()),
        "COCKPIT_FIXTURE_TOKEN": "0123456789abcdef",
        "COCKPIT_FIXTURE_SECRET": "SEC0123456789",
        "COCKPIT_FIXTURE_SMTP_PASSWORD": "not-a-real-password",
        # the bad fixtures rely on these being unset
        "COCKPIT_FIXTURE_UNSET_DIR": None,
        "COCKPIT_FIXTURE_UNSET_URL": None,
        "COCKPIT_DEBUG": None,
    }


def errors_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ERROR:")]


WHERE_INJECTIONS = [
    "where_subquery",
    "where_second_statement",
    "where_line_comment",
    "where_block_comment",
    "where_unknown_function",
    "where_bare_column",
]
GOOD_FILES = sorted(p.name for p in GOOD.glob("*.yaml"))
BAD_FILES = sorted(p.name for p in BAD.glob("*.yaml"))
ENV_UNSET = ("COCKPIT_FIXTURE_DATA_DIR", "COCKPIT_FIXTURE_TOKEN", "COCKPIT_FIXTURE_SECRET")


def run_in_process(*args: str, cwd: Path, env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """``cockpit ARGS`` through its click entry point, in this process; shaped like ``run_cli``'s result.

    An exception that escapes the command (the real command would print a traceback) is
    turned into a ``Traceback`` text on stderr, so the same assertions catch it.
    """
    from click.testing import CliRunner

    from cockpit.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)
    finally:
        os.chdir(old)
    stderr = res.stderr
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(res.exception))
    return subprocess.CompletedProcess(list(args), res.exit_code, res.stdout, stderr)


@dataclass
class Runs:
    """Every ``cockpit`` run this module needs, made once."""

    injections: Path  # a copy of the fixtures that compute was refused on
    computed: Path  # a copy of the fixtures that compute ran on
    results: dict[tuple[str, ...], subprocess.CompletedProcess[str]]

    def validate(self, folder: str, name: str) -> subprocess.CompletedProcess[str]:
        return self.results[("validate", folder, name)]

    def compute(self, folder: str, name: str) -> subprocess.CompletedProcess[str]:
        return self.results[("compute", folder, name)]


@pytest.fixture(scope="session")
def runs(fixture_env, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    injections = tmp_path_factory.mktemp("injections") / "config"
    computed = tmp_path_factory.mktemp("computed") / "config"
    shutil.copytree(FIXTURES, injections)
    shutil.copytree(FIXTURES, computed)
    jobs: dict[tuple[str, ...], tuple[tuple[str, ...], Path, dict[str, str | None]]] = {}
    for name in BAD_FILES:
        jobs[("validate", "bad", name)] = (("validate", "--config", name), BAD, fixture_env)
    for name in GOOD_FILES:
        jobs[("validate", "good", name)] = (("validate", "--config", name), GOOD, fixture_env)
        jobs[("compute", "good", name)] = (
            ("compute", "--config", name, "--format", "json"),
            computed / "good",
            fixture_env,
        )
    for name in WHERE_INJECTIONS:
        args = ("compute", "--config", f"{name}.yaml", "--format", "json")
        jobs[("compute", "bad", f"{name}.yaml")] = (args, injections / "bad", fixture_env)
    args = ("compute", "--config", "where_unknown_column.yaml", "--format", "json")
    jobs[("compute", "bad", "where_unknown_column.yaml")] = (args, computed / "bad", fixture_env)
    unset = {**fixture_env, **{v: None for v in ENV_UNSET}}
    jobs[("validate", "good", "env_expanded.yaml", "unset")] = (
        ("validate", "--config", "env_expanded.yaml"),
        GOOD,
        unset,
    )
    wrong = {**fixture_env, "COCKPIT_FIXTURE_DATA_DIR": "/nonexistent/folder"}
    jobs[("validate", "good", "env_expanded.yaml", "wrong")] = (
        ("validate", "--config", "env_expanded.yaml"),
        GOOD,
        wrong,
    )
    results = {key: run_in_process(*args, cwd=cwd, env=env) for key, (args, cwd, env) in jobs.items()}
    return Runs(injections, computed, results)


# the real command on a sample of the fixtures: every stage of loading, each kind of source problem
REAL_SAMPLE = [
    "yaml_syntax.yaml",
    "not_a_mapping.yaml",
    "version_wrong.yaml",
    "unknown_source_type.yaml",
    "env_unset.yaml",
    "url_access_token.yaml",
    "formula_cycle.yaml",
    "where_subquery.yaml",
    "file_missing.yaml",
    "duckdb_table_missing.yaml",
    "sql_unreachable.yaml",
    "where_unknown_column.yaml",
    "multi_problem.yaml",
]


def test_in_process_runs_match_the_real_command(runs: Runs, fixture_env) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        real = dict(
            zip(
                REAL_SAMPLE,
                pool.map(
                    lambda n: run_cli("validate", "--config", n, cwd=BAD, env=fixture_env, timeout=90),
                    REAL_SAMPLE,
                ),
                strict=True,
            )
        )
        good = dict(
            zip(
                GOOD_FILES,
                pool.map(
                    lambda n: run_cli("validate", "--config", n, cwd=GOOD, env=fixture_env, timeout=90),
                    GOOD_FILES,
                ),
                strict=True,
            )
        )
    for name, r in real.items():
        mine = runs.validate("bad", name)
        assert "Traceback" not in r.stderr, (name, r.stderr)
        assert (r.returncode, r.stdout, errors_of(r.stderr)) == (
            mine.returncode,
            mine.stdout,
            errors_of(mine.stderr),
        ), name
    for name, r in good.items():
        assert r.returncode == 0, (name, r.stderr)
        assert r.stdout == runs.validate("good", name).stdout


# ----------------------------------------------------------------- the table of bad fixtures


@dataclass(frozen=True)
class Bad:
    file: str
    subject: str
    field: str | None  # the dotted field the line must name; "" = none; None = not checked
    line: int
    fragment: str
    place_xfail: str | None = None  # reason, when subject/field/line are known to be wrong
    refuse_xfail: str | None = None  # reason, when the problem is known not to be refused
    one_line_xfail: str | None = None  # reason, when the problem is known to spill over several lines


IND, TOT = "indicator 'online_rate'", "indicator 'total_amount'"
# fmt: off
BAD_CASES = [
    # --- the document itself
    Bad("yaml_syntax", "config", None, 21, "invalid YAML"),
    Bad("yaml_tab", "config", None, 38, "invalid YAML"),
    Bad("empty_document", "config", None, 1, "mapping"),
    Bad("not_a_mapping", "config", None, 2, "mapping"),
    Bad("version_missing", "config", None, 2, "version: 1"),
    Bad("version_wrong", "config", "version", 2, "unsupported version 2"),
    Bad("version_true", "config", "version", 2, "version"),
    Bad("version_float", "config", "version", 2, "version"),
    Bad("yaml_unknown_tag", "config", None, 21, "invalid YAML"),
    Bad("duplicate_yaml_key", TOT, "name", 40, "duplicate key 'name'"),
    # --- unknown keys, with a way out
    Bad("unknown_top_key", "config", "chanels", 17, "unknown key 'chanels' (did you mean 'channels'?)"),
    Bad("unknown_source_key", "source 'records'", "delimeter", 19, "(did you mean 'delimiter'?)"),
    Bad("unknown_indicator_key", IND, "sourse", 24, "unknown key 'sourse' (did you mean 'source'?)"),
    Bad("unknown_measure_key", TOT, "measure.wehre", 47, "unknown key 'wehre' (did you mean 'where'?)"),
    Bad("unknown_region_key", "region '130303'", "chlidren", 11, "(did you mean 'children'?)"),
    # --- ids
    Bad("duplicate_indicator_id", IND, "id", 37, "duplicate indicator id 'online_rate'"),
    Bad("duplicate_region_id", "region '130302'", "id", 12, "duplicate region id '130302'"),
    Bad("bad_indicator_id", "indicator 'Total-Amount'", "id", 37, "[a-z][a-z0-9_]*"),
    Bad("bad_source_id", "source 'Other_Records'", None, 17, "[a-z][a-z0-9_]*"),
    # --- unknown names and values
    Bad("unknown_source", TOT, "source", 40, "unknown source 'recrods' (did you mean 'records'?)"),
    Bad("unknown_source_type", "source 'records'", "type", 17, "unknown source type 'cvs' (did you mean 'csv'?)"),
    Bad("unknown_channel_type", "channel 'mail'", "type", 19, "unknown channel type 'emial' (did you mean 'email'?)"),
    Bad("unknown_measure_type", IND, "measure.type", 28, "unknown measure type 'ration' (did you mean 'ratio'?)"),
    Bad("unknown_grain", TOT, "time.grain", 41, "unknown grain 'mnth' (did you mean 'month'?)"),
    Bad("unknown_direction", IND, "direction", 32, "unknown direction 'higher_is_better'"),
    Bad("unknown_accumulate", TOT, "accumulate", 44, "'ytdd'"),
    Bad("unknown_owner", IND, "owner", 23, "unknown owner department 'zwfww'"),
    Bad("unknown_channel", IND, "alerts[0].notify[0]", 38, "unknown channel 'duty_robt' (did you mean 'duty_robot'?)"),
    Bad("bulletin_unknown_channel", "bulletin 'city_monthly'", "notify[0]", 48, "unknown channel 'leaders_mail'"),
    Bad("access_unknown_region", "user 'zhang'", "regions[0]", 49, "unknown region '130399'"),
    # --- required fields
    Bad("missing_measure", TOT, "measure", 37, "required"),
    Bad("missing_source", TOT, "source", 37, "required"),
    Bad("missing_time", TOT, "time", 37, "required"),
    Bad("sum_without_column", TOT, "measure.column", 44, "required"),
    Bad("ratio_without_denominator", IND, "measure.denominator", 27, "required"),
    Bad("ratio_side_without_column", IND, "measure.denominator.column", 30, "required"),
    # --- formulas
    Bad("formula_unknown_input", "indicator 'amount_per_case'", "measure.inputs.b", 52, "unknown indicator 'case_count'"),
    Bad("formula_cycle", "indicator 'alpha'", "measure.inputs", 50, "cycle"),
    Bad("formula_parse", "indicator 'amount_x2'", "measure.expr", 49, "does not parse"),
    Bad("formula_unknown_name", "indicator 'amount_double'", "measure.expr", 49, "unknown input 'b'"),
    Bad("formula_with_source", "indicator 'amount_double'", "source", 47, "formula"),
    Bad("formula_grain_mismatch", "indicator 'amount_gap'", "measure.inputs", 55, "grain"),
    # --- thresholds, bands, targets, alerts
    Bad("thresholds_higher_better", IND, "thresholds", 34, "higher_better"),
    Bad("thresholds_lower_better", IND, "thresholds", 34, "lower_better"),
    Bad("bands_not_rising", TOT, "bands", 44, "rise"),
    Bad("thresholds_and_bands", IND, None, 35, "not both"),
    Bad("target_not_number", IND, "target", 33, "number"),
    Bad("target_unknown_region", IND, "target.130399", 36, "'130399'"),
    Bad("scale_not_number", IND, "measure.scale", 31, "number"),
    Bad("alert_when_unknown_field", IND, "alerts[0].when", 36, "unknown field 'colour'"),
    Bad("expected_lag_bad", "source 'records'", "expected_lag", 16, "duration"),
    # --- secrets and the environment
    Bad("env_unset", "source 'records'", "path", 16, "${COCKPIT_FIXTURE_UNSET_DIR} is not set"),
    Bad("inline_password", "channel 'mail'", "password", 24, "password"),
    Bad("inline_secret", "channel 'duty_robot'", "secret", 22, "secret"),
    Bad("url_userinfo_password", "source 'hotline'", "url", 17, "password"),
    Bad("url_access_token", "channel 'duty_robot'", "url", 18, "access_token"),
    Bad("url_key_param", "channel 'duty_robot'", "url", 18, "key"),
    # --- sources: files, tables, columns, reachability
    Bad("file_missing", "source 'records'", "path", 16, "no_such_file.csv"),
    Bad("duckdb_table_missing", "source 'warehouse'", "table", 20, "no_such_table"),
    Bad("duckdb_table_and_query", "source 'warehouse'", None, 17, "'table' or 'query'"),
    Bad("sql_unreachable", "source 'hotline'", "url", 17, "cannot reach"),
    Bad("time_column_unknown", TOT, "time.column", 42, "unknown column 'accepted_on' (did you mean 'accepted_at'?)"),
    Bad("time_column_numbers", TOT, None, 43, "grain must be year"),
    Bad("measure_column_unknown", TOT, "measure.column", 46, "unknown column 'amout' (did you mean 'amount'?)"),
    Bad("region_column_unknown", TOT, "region", 42, "unknown column 'region_cd' (did you mean 'region_code'?)"),
    # --- where clauses: each injection attempt refused by validate
    Bad("where_unknown_column", IND, "measure.numerator.where", 29, "unknown column 'chanel' (did you mean 'channel'?)"),
    Bad("where_subquery", IND, "measure.numerator.where", 29, "sub-query"),
    Bad("where_second_statement", IND, "measure.numerator.where", 29, "second statement"),
    Bad("where_line_comment", IND, "measure.numerator.where", 29, "comment"),
    Bad("where_block_comment", IND, "measure.numerator.where", 29, "comment"),
    Bad("where_unknown_function", IND, "measure.numerator.where", 29, "unknown function 'pg_sleep'"),
    Bad("where_bare_column", IND, "measure.numerator.where", 29, "not a condition"),
    Bad("where_does_not_parse", IND, "measure.numerator.where", 29, "does not parse"),
]
# fmt: on
BY_NAME = {b.file: b for b in BAD_CASES}


def test_the_table_covers_every_bad_file_and_nothing_else() -> None:
    on_disk = {p.stem for p in BAD.glob("*.yaml") if not p.stem.startswith("multi_problem")}
    assert on_disk == set(BY_NAME), (sorted(on_disk - set(BY_NAME)), sorted(set(BY_NAME) - on_disk))
    assert len(BAD_CASES) >= 35
    assert len(BY_NAME) == len(BAD_CASES), "a fixture is listed twice"


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.file)
def test_the_marked_line_is_the_expected_line(case: Bad) -> None:
    """Where a fixture marks its problem, the table's line is that line (the two cannot drift apart)."""
    lines = (BAD / f"{case.file}.yaml").read_text(encoding="utf-8").splitlines()
    marked = [i for i, text in enumerate(lines, start=1) if MARKER in text]
    assert len(marked) <= 1, f"{case.file}: more than one marker"
    if marked:
        assert marked == [case.line]


def _params(reason_of):
    for case in BAD_CASES:
        reason = reason_of(case)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        yield pytest.param(case, id=case.file, marks=marks)


@pytest.mark.parametrize("case", list(_params(lambda c: c.refuse_xfail)))
def test_bad_fixture_is_refused(case: Bad, runs: Runs) -> None:
    r = runs.validate("bad", f"{case.file}.yaml")
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    errors = errors_of(r.stderr)
    assert errors, r.stderr
    for line in errors:
        p = parse_error(line)
        assert p is not None, f"not 'ERROR: <file>:<line>: <subject>: [<field>: ]<message>': {line!r}"
        assert p.file == f"{case.file}.yaml", line
    assert any(case.fragment in line for line in errors), (case.fragment, errors)
    # ONE problem in the file: ONE line about it, not a cascade of follow-on errors
    assert len(errors) == 1, errors
    assert "internal error" not in r.stderr


@pytest.mark.parametrize("case", list(_params(lambda c: c.place_xfail or c.refuse_xfail)))
def test_bad_fixture_names_line_subject_and_field(case: Bad, runs: Runs) -> None:
    r = runs.validate("bad", f"{case.file}.yaml")
    problems = [p for p in map(parse_error, errors_of(r.stderr)) if p and case.fragment in p.text]
    assert problems, r.stderr
    p = problems[0]
    assert p.subject == case.subject, p.text
    if case.field is not None:
        assert p.field == case.field, p.text
    assert p.line == case.line, p.text


@pytest.mark.parametrize("case", list(_params(lambda c: c.one_line_xfail or c.refuse_xfail)))
def test_problems_are_one_a_line(case: Bad, runs: Runs) -> None:
    """Standard error holds only ERROR:/WARNING: lines: no continuation lines, no stray output."""
    r = runs.validate("bad", f"{case.file}.yaml")
    assert r.stderr.strip(), "nothing on stderr"
    for line in r.stderr.splitlines():
        assert line.startswith(("ERROR: ", "WARNING: ")), repr(line)


def test_did_you_mean_is_offered_for_near_misses(runs: Runs) -> None:
    """A typo is answered with the real name (key, source type, column in a where)."""
    expected = {
        "unknown_top_key": "did you mean 'channels'",
        "unknown_indicator_key": "did you mean 'source'",
        "unknown_source_type": "did you mean 'csv'",
        "where_unknown_column": "did you mean 'channel'",
        "unknown_grain": "did you mean 'month'",
    }
    for name, hint in expected.items():
        r = runs.validate("bad", f"{name}.yaml")
        assert hint in r.stderr, (name, r.stderr)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli("validate", "--config", "nowhere.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    assert re.search(r"^ERROR: nowhere\.yaml\b.*not found", r.stderr, re.M), r.stderr


def test_unreadable_bytes_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "indicators.yaml").write_bytes(b"version: 1\nsite: {title: \xff\xfe\xfa}\n")
    r = run_cli("validate", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert errors_of(r.stderr), r.stderr


# ----------------------------------------------------------------- several problems in one file

MULTI = {
    "multi_problem": [
        "duplicate region id '130302'",
        "unknown source type 'cvs'",
        "${COCKPIT_FIXTURE_UNSET_URL} is not set",
        "unknown key 'sourse'",
        "unknown owner department 'nobody'",
        "out of order for lower_better",
        "unknown channel 'leaders_mail'",
        "unknown grain 'weekly'",
        "sub-query",
    ],
}
MULTI_HIDDEN = {
    # A model error in an indicator must not hide the rule-level problems of that same indicator,
    "multi_problem_same_indicator": ["unknown grain 'weekly'", "sub-query", "out of order for higher_better"],
    # nor a duplicate of that indicator's id,
    "multi_problem_duplicate_of_invalid": ["unknown key 'sourse'", "duplicate indicator id 'online_rate'"],
    # nor, with any config problem, the missing file of another, well-formed source.
    "multi_problem_and_missing_file": ["unknown key 'wher'", "no_such_econ.csv"],
}


def _check_every_problem(name: str, fragments: list[str], runs: Runs) -> None:
    r = runs.validate("bad", f"{name}.yaml")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    errors = errors_of(r.stderr)
    assert len(errors) == len(set(errors)), "a problem is reported twice"
    for line in errors:
        assert parse_error(line) is not None, line
    missing = [f for f in fragments if not any(f in line for line in errors)]
    assert not missing, (missing, errors)


def test_multi_problem_file_reports_every_problem(runs: Runs) -> None:
    r = runs.validate("bad", "multi_problem.yaml")
    assert len(errors_of(r.stderr)) >= 4, r.stderr
    _check_every_problem("multi_problem", MULTI["multi_problem"], runs)
    # the lines come in file order
    lines = [p.line for p in map(parse_error, errors_of(r.stderr)) if p]
    assert lines == sorted(lines)


@pytest.mark.parametrize("name", sorted(MULTI_HIDDEN))
def test_no_problem_hides_another(name: str, runs: Runs) -> None:
    _check_every_problem(name, MULTI_HIDDEN[name], runs)


# ----------------------------------------------------------------- where clauses never reach data


@pytest.mark.parametrize("name", WHERE_INJECTIONS)
def test_where_injection_is_refused_by_compute_too(name: str, runs: Runs) -> None:
    """Found without touching data: compute exits 2, computes nothing, writes nothing."""
    r = runs.compute("bad", f"{name}.yaml")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert any(BY_NAME[name].fragment in line for line in errors_of(r.stderr)), r.stderr
    assert not (runs.injections / "bad" / ".cockpit").exists()


def test_unknown_column_at_compute_fails_only_that_indicator(runs: Runs) -> None:
    """A column that is not there is found when the source is read: exit 1, the rest computed."""
    r = runs.compute("bad", "where_unknown_column.yaml")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert "unknown column 'chanel'" in r.stderr
    rows = json.loads(r.stdout)
    assert {x["indicator"] for x in rows} == {"total_amount"}


# ----------------------------------------------------------------- good fixtures


def test_there_are_good_fixtures() -> None:
    assert len(GOOD_FILES) >= 3
    assert {"minimal.yaml", "every_measure.yaml", "env_expanded.yaml"} <= set(GOOD_FILES)


@pytest.mark.parametrize("name", GOOD_FILES)
def test_good_fixture_validates(name: str, runs: Runs) -> None:
    r = runs.validate("good", name)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert not errors_of(r.stderr), r.stderr
    assert r.stdout.strip(), "validate says nothing on success"


@pytest.mark.parametrize("name", GOOD_FILES)
def test_good_fixture_computes(name: str, runs: Runs) -> None:
    r = runs.compute("good", name)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    rows = json.loads(r.stdout)
    assert rows
    keys = {"indicator", "period", "region", "department", "value", "target", "status", "yoy", "mom", "rank"}
    assert all(set(x) == keys for x in rows)


def test_env_fixture_without_its_variables_names_each_one(runs: Runs) -> None:
    r = runs.results[("validate", "good", "env_expanded.yaml", "unset")]
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = errors_of(r.stderr)
    for var in ENV_UNSET:
        assert any("${" + var + "}" in line for line in errors), (var, errors)
    token_line = next(p for p in map(parse_error, errors) if p and "COCKPIT_FIXTURE_TOKEN" in p.text)
    assert (token_line.subject, token_line.field) == ("channel 'duty_robot'", "url")


def test_env_values_are_expanded_inside_longer_strings(runs: Runs) -> None:
    """The data folder comes from ${COCKPIT_FIXTURE_DATA_DIR}/records.csv: a wrong value is a missing file."""
    r = runs.results[("validate", "good", "env_expanded.yaml", "wrong")]
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert any(
        "source 'records'" in line and "/nonexistent/folder" in line for line in errors_of(r.stderr)
    ), r.stderr


def test_minimal_config_has_null_regions(runs: Runs) -> None:
    rows = json.loads(runs.compute("good", "minimal.yaml").stdout)
    assert [(x["period"], x["region"], x["department"], x["value"]) for x in rows] == [
        ("2026-01", None, None, 3.0),
        ("2026-02", None, None, 3.0),
    ]


def test_every_measure_values(runs: Runs) -> None:
    """Hand-computed from fixtures/config/data/records.csv (root 130300 and 山海关区 130303 with its 街道)."""
    r = runs.compute("good", "every_measure.yaml")
    assert r.returncode == 0, r.stderr
    got = {
        (x["indicator"], x["period"], x["region"]): x for x in json.loads(r.stdout) if x["department"] is None
    }

    def value(ind: str, period: str, region: str = "130300") -> float | None:
        return got[(ind, period, region)]["value"]

    expected = {
        ("m_count", "2026-01"): 3,
        ("m_count_where", "2026-01"): 2,
        ("m_sum", "2026-01"): 600,
        ("m_sum", "2026-02"): 250,
        ("m_mean", "2026-01"): 10 / 3,
        ("m_min", "2026-02"): 1.5,
        ("m_max", "2026-02"): 6.0,
        ("m_median", "2026-01"): 3.5,
        ("m_median", "2026-02"): 2.0,
        ("m_count_distinct", "2026-02"): 2,
        ("m_ratio", "2026-01"): 200 / 3,
        ("m_ratio_sums", "2026-02"): 170 / 250 * 100,
        ("m_ytd", "2026-02"): 850,
        ("m_formula", "2026-02"): 83.33,
    }
    for (ind, period), v in expected.items():
        assert value(ind, period) == pytest.approx(v, rel=1e-12), (ind, period)
    # a node is aggregated from its whole subtree (130303 + 130303001), never averaged
    assert value("m_median", "2026-02", "130303") == pytest.approx(4.0)
    assert value("m_mean", "2026-01", "130303") == pytest.approx(3.75)
    assert value("m_count_distinct", "2026-02", "130303") == 2
    # statuses: thresholds (lower_better) and bands
    assert got[("m_mean", "2026-01", "130300")]["status"] == "yellow"
    assert got[("m_formula", "2026-01", "130300")]["status"] == "yellow"  # 200: green <= v < yellow edge
    assert got[("m_formula", "2026-01", "130303")]["status"] == "red"  # 250: at the yellow edge
    # targets: a region's own entry first, then the year's, then default
    assert got[("m_ratio", "2026-01", "130302")]["target"] == 95
    assert got[("m_ratio", "2026-01", "130300")]["target"] == 90
    # ytd has no 环比
    assert all(x["mom"] is None for k, x in got.items() if k[0] == "m_ytd")
