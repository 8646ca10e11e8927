"""Stage 2: strict typed models of ``indicators.yaml`` (contract section 3).

Every model forbids unknown keys, so a typo is never silently ignored. The
JSON Schema that ``cockpit schema`` prints is generated from these models.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
Id = Annotated[str, Field(pattern=ID_PATTERN, strict=True)]


def _text_id(v: Any) -> Any:
    # Region ids and years are compared as text; YAML reads 130302 as an int.
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return v


RegionId = Annotated[str, BeforeValidator(_text_id), Field(strict=True, min_length=1)]
Number = Annotated[float, Field(strict=True)]
Grain = Literal["day", "week", "month", "quarter", "year"]
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")


def parse_duration(v: str | int) -> dt.timedelta:
    """``45d`` → 45 days; ``12h``, ``30m``, ``2w``; a bare integer is days."""
    if isinstance(v, int):
        return dt.timedelta(days=v)
    m = _DURATION.match(v)
    if not m:
        raise ValueError(f"'{v}' is not a duration (write e.g. 45d, 12h, 30m or 2w)")
    n, unit = int(m[1]), m[2]
    return {
        "s": dt.timedelta(seconds=n),
        "m": dt.timedelta(minutes=n),
        "min": dt.timedelta(minutes=n),
        "h": dt.timedelta(hours=n),
        "d": dt.timedelta(days=n),
        "w": dt.timedelta(weeks=n),
    }[unit]


def _check_duration(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise ValueError("must be a duration such as 45d, 12h, 30m or 2w")
    parse_duration(v)
    return v


Duration = Annotated[str | int, BeforeValidator(_check_duration)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------- org


class RegionNode(Model):
    id: RegionId
    name: str
    children: list[RegionNode] = []


class Department(Model):
    id: Id
    name: str


class Org(Model):
    regions: RegionNode | None = None
    departments: list[Department] = []
    geojson: str | None = Field(None, description="GeoJSON file of region polygons, keyed by region id")


class Site(Model):
    title: str = "领导驾驶舱"
    base_url: str = "http://localhost:8501"


# ----------------------------------------------------------------- sources


Classification = Literal["公开", "内部", "敏感"]


class ColumnSpec(Model):
    """How one column of a source is classified and, when personal, masked (issue 6)."""

    classification: Classification = "敏感"
    mask: Literal["name", "mobile", "id_number", "text", "none"] | None = Field(
        None,
        description="name → 张*, mobile → 138****1234, id_number → 1101**********1234, text → ***; "
        "default: guessed from the column's name",
    )


class _Source(Model):
    name: str | None = Field(None, description="A display name")
    description: str | None = None
    expected_lag: Duration | None = Field(
        None, description="Stale when the latest period ended longer ago than this (45d, 12h, 2w)"
    )
    classification: Classification = Field(
        "内部", description="公开 / 内部 / 敏感: who may see the source's records and small groups"
    )
    columns: dict[str, ColumnSpec] = Field(
        {}, description="Classified columns (personal data is masked in detail views and exports)"
    )


class CsvSource(_Source):
    type: Literal["csv"]
    path: str
    delimiter: str | None = None
    encoding: str | None = Field(
        None, description="utf-8 (default) or gbk / gb18030 for files from older systems"
    )


class ParquetSource(_Source):
    type: Literal["parquet"]
    path: str = Field(description="A file, a folder or a glob; hive partitions are read")
    partition: str | None = Field(
        None,
        description="The hive partition column of the folder (month=…/): each partition is read and "
        "stored on its own, and only changed ones are read again (found by itself when every folder "
        "under path is one key=…)",
    )


class ExcelSource(_Source):
    type: Literal["excel"]
    path: str
    sheet: str | int | None = None
    header_row: int = Field(1, ge=1, description="The 1-based row that holds the column names")


class DuckDBSource(_Source):
    type: Literal["duckdb"]
    path: str
    table: str | None = None
    query: str | None = None


class SqlSource(_Source):
    type: Literal["sql"]
    url: str = Field(description="A SQLAlchemy URL; secrets through ${VAR}")
    table: str | None = None
    query: str | None = None
    updated_column: str | None = Field(
        None, description="A column whose maximum changes when rows are revised (for the fingerprint)"
    )


class HttpJsonSource(_Source):
    type: Literal["http_json"]
    url: str
    records: str | None = Field(None, description="Dotted path to the list of records in the response")
    headers: dict[str, str] = {}
    timeout: Number = 30.0


class SparkSource(_Source):
    """Contract section 12: the aggregate runs in Spark (local or Spark Connect)."""

    type: Literal["spark"]
    master: str | None = Field(None, description='A local master such as "local[2]" (tests, one server)')
    remote: str | None = Field(None, description='A Spark Connect URL, "sc://host:15002" (a cluster)')
    table: str | None = Field(None, description="A Hive/Spark catalogue table")
    path: str | None = Field(None, description="Files (a file, a folder or a glob) with `format`")
    format: Literal["parquet", "orc", "csv", "json"] | None = None
    partition: str | None = Field(
        None,
        description="The partition column (month): read and stored partition by partition. A local "
        "folder's key=…/ folders, or a catalogue table's partitions; found by itself when not given",
    )
    options: dict[str, str] = Field({}, description="Reader options (csv: header, delimiter, …)")
    conf: dict[str, str] = Field({}, description="Spark configuration for the session")


class FormField(Model):
    id: Id
    name: str
    type: Literal["integer", "number", "text", "choice", "date"] = "number"
    required: StrictBool = False
    min: Number | None = None
    max: Number | None = None
    choices: list[str] | None = Field(None, description="For `choice`: the allowed values")
    unit: str | None = None
    help: str | None = None


class FormCheck(Model):
    rule: str = Field(description="A condition over the form's fields, e.g. solved <= visits")
    message: str


class FormSource(_Source):
    """Contract section 14: figures that live in no system, reported once on a form."""

    type: Literal["form"]
    grain: Literal["day", "week", "month", "quarter", "year"] = "month"
    reporters: Literal["regions", "departments"] | list[str] = "regions"
    due_day: int = Field(5, ge=1, le=28, description="Period P is due on this day of the period after P")
    fields: list[FormField]
    checks: list[FormCheck] = []


Source = Annotated[
    CsvSource
    | ParquetSource
    | ExcelSource
    | DuckDBSource
    | SqlSource
    | HttpJsonSource
    | SparkSource
    | FormSource,
    Field(discriminator="type"),
]

# ----------------------------------------------------------------- channels


class EmailChannel(Model):
    type: Literal["email"]
    host: str
    port: int = 25
    sender: str
    to: list[str]
    tls: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    user: str | None = Field(None, description="Limit what this channel receives to the user's scope")


class WebhookChannel(Model):
    type: Literal["webhook"]
    url: str
    format: Literal["dingtalk", "wecom", "feishu", "json"] = "json"
    secret: str | None = None
    user: str | None = None


Channel = Annotated[EmailChannel | WebhookChannel, Field(discriminator="type")]

# ----------------------------------------------------------------- indicators

Agg = Literal["count", "sum", "mean", "min", "max", "median", "count_distinct"]


class TimeSpec(Model):
    column: str
    grain: Grain


class CountMeasure(Model):
    type: Literal["count"]
    where: str | None = None


class ColumnMeasure(Model):
    type: Literal["sum", "mean", "min", "max", "median", "count_distinct"]
    column: str
    where: str | None = None


class RatioSide(Model):
    agg: Agg
    column: str | None = None
    where: str | None = None


class RatioMeasure(Model):
    type: Literal["ratio"]
    numerator: RatioSide
    denominator: RatioSide
    scale: Number = 1.0


class FormulaMeasure(Model):
    type: Literal["formula"]
    expr: str
    inputs: dict[str, Id]


Measure = Annotated[
    CountMeasure | ColumnMeasure | RatioMeasure | FormulaMeasure,
    Field(discriminator="type"),
]


class Thresholds(Model):
    green: Number
    yellow: Number


class Bands(Model):
    blue: Number
    lightblue: Number
    green: Number
    yellow: Number


class AlertRule(Model):
    when: str
    level: Literal["special", "bulletin"] = "special"
    notify: list[str] = []
    for_: int = Field(1, alias="for", ge=1)
    repeat: Duration | None = None
    scope: list[RegionId] | None = None
    name: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class AnomalySpec(Model):
    enabled: StrictBool = True
    sensitivity: Number = Field(1.0, gt=0, description="Above 1 flags more, below 1 fewer")
    threshold: Number | None = Field(
        None, gt=0, description="Flag a point this many robust noise widths from expected (default 4)"
    )
    min_history: int | None = Field(None, ge=4)


Target = Number | dict[str, Number]


class Indicator(Model):
    id: Id
    name: str
    domain: str | None = None
    unit: str | None = None
    owner: str | None = None
    description: str | None = None
    source: str | None = None
    time: TimeSpec | None = None
    region: str | None = None
    department: str | None = None
    measure: Measure
    accumulate: Literal["none", "ytd", "source"] = "none"
    rollup: Literal["sum", "none"] = "sum"
    direction: Literal["higher_better", "lower_better"] = "higher_better"
    target: Target | None = None
    thresholds: Thresholds | None = None
    bands: Bands | None = None
    alerts: list[AlertRule] = []
    anomaly: AnomalySpec | StrictBool | None = Field(
        None, description="Tune detection, or `false` to switch it off for this indicator"
    )

    @property
    def anomaly_settings(self) -> AnomalySpec:
        """The ``anomaly:`` block with ``true`` / ``false`` read as switched on / off."""
        if isinstance(self.anomaly, bool):
            return AnomalySpec(enabled=self.anomaly)
        return self.anomaly or AnomalySpec()

    key: StrictBool = Field(False, description="Shown as a KPI card on the overview")

    @field_validator("target", mode="before")
    @classmethod
    def _target_keys_as_text(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): x for k, x in v.items()}
        return v

    def where_clauses(self) -> list[tuple[str, str]]:
        """(field, where) for every ``where`` of the measure, e.g. ``("measure.numerator.where", …)``."""
        m = self.measure
        out: list[tuple[str, str]] = []
        if isinstance(m, CountMeasure | ColumnMeasure) and m.where:
            out.append(("measure.where", m.where))
        if isinstance(m, RatioMeasure):
            for side in ("numerator", "denominator"):
                w = getattr(m, side).where
                if w:
                    out.append((f"measure.{side}.where", w))
        return out

    def source_columns(self) -> list[tuple[str, str]]:
        """(field, column) for every column the indicator names in its source."""
        out: list[tuple[str, str]] = []
        if self.time:
            out.append(("time.column", self.time.column))
        if self.region:
            out.append(("region", self.region))
        if self.department:
            out.append(("department", self.department))
        m = self.measure
        if isinstance(m, ColumnMeasure):
            out.append(("measure.column", m.column))
        if isinstance(m, RatioMeasure):
            for side in ("numerator", "denominator"):
                col = getattr(m, side).column
                if col:
                    out.append((f"measure.{side}.column", col))
        return out


# ----------------------------------------------------------------- the rest


def _check_time_of_day(v: Any) -> Any:
    if not isinstance(v, str) or not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", v.strip()):
        raise ValueError("must be a time of day such as 08:30")
    return v.strip()


TimeOfDay = Annotated[str, BeforeValidator(_check_time_of_day)]


class Bulletin(Model):
    id: Id
    name: str
    rhythm: Literal["daily", "weekly", "monthly", "quarterly", "yearly"] = "monthly"
    region: RegionId | None = None
    domains: list[str] | None = None
    notify: list[str] = []
    at: TimeOfDay | None = Field(
        None,
        description="Push no earlier than this time of day (daily), of the week's `day` (weekly, 1 = Monday) "
        "or of the month's `day` (monthly and longer); without it, as soon as the period has data",
    )
    day: int | None = Field(
        None, ge=1, le=28, description="Weekly: 1-7 (Monday = 1); monthly: day of the month"
    )


class QuietHours(Model):
    start: TimeOfDay
    end: TimeOfDay


class AlertSchedule(Model):
    every: Duration = Field("5m", description="How often `cockpit schedule` evaluates the alert rules")
    on_refresh: StrictBool = Field(
        False, description="Also evaluate as soon as a file source changes (checked every 30 s)"
    )


class Schedule(Model):
    """What `cockpit schedule` runs, and when non-critical pushes wait."""

    timezone: str = "Asia/Shanghai"
    alerts: AlertSchedule = AlertSchedule()
    quiet_hours: QuietHours | None = Field(
        None,
        description="Reminders, resolved notices and bulletins wait until the end of these hours; "
        "a 特别呈报 still goes at once",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{v}' (write e.g. Asia/Shanghai)") from None
        return v


class AssessmentItem(Model):
    indicator: str
    weight: Number
    floor: Number
    target: Number
    targets: dict[RegionId, Number] = {}


class Assessment(Model):
    id: Id
    name: str
    subjects: Literal["regions", "departments"] = "regions"
    items: list[AssessmentItem]


Grant = Literal["unmask", "audit", "admin", "forms_admin"]


class User(Model):
    id: Id
    name: str
    role: str = "leader"
    regions: list[RegionId] = []
    domains: list[str] | None = None
    email: str | None = Field(None, description="Matched against the identity provider's e-mail claim")
    grants: list[Grant] = Field(
        [],
        description="unmask: personal data unmasked (each view audited); audit: the audit log; "
        "admin: users and everything; forms_admin: lock and reopen reporting periods",
    )


class OidcSignIn(Model):
    provider: str | None = Field(
        None,
        description="The provider's name under [auth.<provider>] in .streamlit/secrets.toml (None: [auth])",
    )
    claim: str = Field("email", description="The identity's claim that names the user")
    match: Literal["id", "email"] = Field(
        "email", description="Which field of a user the claim is matched to"
    )


class LocalSignIn(Model):
    users_file: str = Field(
        ".cockpit/users.db", description="Password hashes live here, never in indicators.yaml"
    )
    max_failures: int = Field(5, ge=1, description="Failed sign-ins before the account is locked")
    lock_minutes: int = Field(15, ge=1)


class SignIn(Model):
    oidc: OidcSignIn | None = None
    local: LocalSignIn | None = None


class Access(Model):
    users: list[User] = []
    min_group_size: int = Field(
        5, ge=1, description="Aggregates of 敏感 sources never show a group smaller than this (shown as <5)"
    )
    sign_in: SignIn | None = Field(None, description="Without it: local accounts with the defaults")


class Config(Model):
    version: Literal[1]
    org: Org = Org()
    site: Site = Site()
    sources: dict[str, Source] = {}
    channels: dict[str, Channel] = {}
    indicators: list[Indicator] = []
    bulletins: list[Bulletin] = []
    schedule: Schedule | None = None
    assessments: list[Assessment] = []
    access: Access | None = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``indicators.yaml`` (``cockpit schema``)."""
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "indicators.yaml (领导驾驶舱 catalogue, version 1)"
    return schema
