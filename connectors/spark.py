"""The ``spark`` source (contract section 12): the aggregate SQL runs in Spark.

One Spark session per process, started on first use and reused by every
source that names the same ``master`` (a local Spark in this process) or
``remote`` (a Spark Connect server, ``sc://host:15002``). The source's data
becomes a temporary view; the engine's aggregate query (Spark SQL, rendered
by sqlglot) runs there, and only its few thousand result rows come back, as
Arrow, to Polars. Records never travel to Python.

Spark is quietened for a command line: the local JVM's console output goes to
a log file (``$COCKPIT_SPARK_LOG``, else ``cockpit-spark.log`` in the temp
folder) at level WARN, without stack traces and without progress bars, so
standard output holds only the cockpit's rows and standard error only its
``ERROR:`` / ``WARNING:`` lines. Spark's errors become :class:`SourceError`
with their first line and the source named.

Settings made so that the rows are the same as in the other engines:

- ``spark.sql.session.timeZone`` is this machine's zone (DuckDB's default), and
  ``spark.sql.timestampType`` is ``TIMESTAMP_NTZ``: ``CAST(x AS TIMESTAMP)``
  gives the local wall-clock time, as in DuckDB, and time keys come back
  without a zone;
- ``spark.sql.ansi.enabled`` is false: a text that is not a number is a null
  and ``x / 0`` is null, as in DuckDB, instead of failing the whole query.

A source's ``conf`` may override any of them. Static settings (driver memory,
jars) take effect only when the session starts, so the first source to start
it decides them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import polars as pl

from .base import ColumnInfo, Connector, SourceError, SourceNotes, kind_of
from .embedded import _files, file_fingerprint
from .partitions import Partitions, hive_partitions, sql_value

# pyspark warns that it has not caught up with pandas 3 even when pandas is never used (toArrow)
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

_LOCK = threading.RLock()
_SESSIONS: dict[str, Any] = {}  # "local[2]" or "sc://…" → SparkSession
_STARTED_BY: dict[str, str] = {}  # the same key → the source that started it (for messages)
_BASE_CONF: dict[str, dict[str, str]] = {}  # the same key → the conf it was started with
_CHILDREN: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Any, list[str]]] = {}
_VIEWS: dict[str, int] = {}  # temp view name → connectors holding it
_LOCAL = re.compile(r"^local(\[(\d+|\*)(,\s*\d+)?\])?$")

LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = cockpit
appender.cockpit.type = File
appender.cockpit.name = cockpit
appender.cockpit.fileName = {log}
appender.cockpit.append = true
appender.cockpit.layout.type = PatternLayout
appender.cockpit.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss}} %p %c{{1}}: %m%n%ex{{3}}
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def log_path() -> Path:
    """Where the local Spark's console output goes."""
    return Path(os.environ.get("COCKPIT_SPARK_LOG") or Path(tempfile.gettempdir()) / "cockpit-spark.log")


def local_zone() -> str:
    """This machine's time zone (an IANA name), as DuckDB takes it."""
    try:
        import tzlocal

        return tzlocal.get_localzone_name() or "UTC"
    except Exception:  # noqa: BLE001 - no zone information at all: UTC, as DuckDB falls back to
        return "UTC"


def local_cores(master: str) -> int:
    """The number of cores a ``local[N]`` master uses (``local``: 1, ``local[*]``: all)."""
    m = _LOCAL.match(master.strip())
    if not m or not m.group(2):
        return 1
    if m.group(2) == "*":
        return os.cpu_count() or 1
    return max(1, int(m.group(2)))


def default_conf(master: str | None) -> dict[str, str]:
    """Settings every cockpit session gets (a source's ``conf`` overrides them)."""
    conf = {
        "spark.sql.session.timeZone": local_zone(),
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.ansi.enabled": "false",
        # medians (percentile buffers) per tree node and department: a few thousand groups, which
        # Spark would otherwise sort after 128 (3-6x slower, measured by bench/scale.py)
        "spark.sql.objectHashAggregate.sortBased.fallbackThreshold": "10000",
    }
    if master is not None:
        conf.update({"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"})
    if master is not None and _LOCAL.match(master.strip()):
        conf.update(
            {
                # results are a few thousand rows: a few partitions per core, not Spark's 200
                "spark.sql.shuffle.partitions": str(2 * local_cores(master)),
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "cockpit-spark-warehouse"),
            }
        )
    return conf


def short(e: BaseException) -> str:
    """The first meaningful line of a Spark or Py4J error, without a Java stack."""
    java = getattr(e, "java_exception", None)
    text = ""
    if java is not None:
        try:
            text = str(java.getMessage() or "")
        except Exception:  # noqa: BLE001 - the JVM may be gone
            text = ""
    if not text:
        text = str(e)
    lines = [x.strip() for x in text.strip().splitlines() if x.strip() and not x.strip().startswith("at ")]
    for line in lines:
        if line.startswith("An error occurred while calling"):
            continue
        line = line.lstrip(": ").strip()
        line = re.sub(r"^(?:[a-z]+\.)+[A-Za-z]*(?:Exception|Error):\s*", "", line)
        return line[:300] or type(e).__name__
    return type(e).__name__


# ----------------------------------------------------------------- the session


def session(
    master: str | None, remote: str | None, conf: dict[str, str], source_id: str
) -> tuple[Any, list[str]]:
    """The Spark session for a source, and notes about settings that could not apply.

    The process starts one Spark per ``master`` or ``remote``, with the first source's
    ``conf``. A source whose ``conf`` differs gets a session of its own on the same Spark
    (its own SQL settings and temporary views); settings that only apply when Spark starts
    (driver memory, jars, …) are then noted and skipped.
    """
    key = remote or master or ""
    with _LOCK:
        base = _SESSIONS.get(key)
        if base is not None and not _alive(base):
            _forget(key)
            base = None
        if base is None:
            settings = {**default_conf(master if remote is None else None), **conf}
            base = _start_remote(remote, settings) if remote else _start_local(str(master), settings)
            _SESSIONS[key] = base
            _STARTED_BY[key] = source_id
            _BASE_CONF[key] = dict(conf)
        if conf == _BASE_CONF[key]:
            return base, []
        child_key = (key, tuple(sorted(conf.items())))
        if child_key in _CHILDREN:
            return _CHILDREN[child_key]
        notes: list[str] = []
        try:
            if remote:
                from pyspark.sql import SparkSession

                child = SparkSession.builder.remote(remote).create()
            else:
                child = base.newSession()
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"spark: cannot open a session: {short(e)}", "conf") from None
        runtime = {**default_conf(None), **conf}
        for k, v in runtime.items():
            try:
                child.conf.set(k, v)
            except Exception:  # noqa: BLE001 - a static setting: only when Spark starts
                notes.append(
                    f"conf '{k}' applies only when Spark starts; Spark was started by source "
                    f"'{_STARTED_BY.get(key, '?')}' without it"
                )
        _CHILDREN[child_key] = (child, notes)
        return child, notes


def _forget(key: str) -> None:
    _SESSIONS.pop(key, None)
    _STARTED_BY.pop(key, None)
    _BASE_CONF.pop(key, None)
    for ck in [ck for ck in _CHILDREN if ck[0] == key]:
        del _CHILDREN[ck]


def _quiet_python_loggers() -> None:
    """PySpark logs each failed query, Java stack included, as JSON on standard error; the
    failure reaches the engine as an exception anyway (and becomes one ERROR line)."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def _alive(spark: Any) -> bool:
    try:
        sc = getattr(spark, "_sc", None)
        return sc is None or sc._jsc is not None
    except Exception:  # noqa: BLE001
        return False


def _start_local(master: str, settings: dict[str, str]) -> Any:
    if not _LOCAL.match(master.strip()) and not master.startswith(("spark://", "yarn", "k8s://")):
        raise SourceError(
            f"spark: master '{master}' is not a Spark master URL (local[2], spark://host:7077, yarn)",
            "master",
        )
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SourceError("spark: Spark needs Java 17 or newer: no `java` on PATH and JAVA_HOME is not set")
    for key in _SESSIONS:
        if not key.startswith("sc://"):
            raise SourceError(
                f"spark: this process already runs Spark with master '{key}' (started by source "
                f"'{_STARTED_BY.get(key, '?')}'); one process can run one classic Spark: use the same master",
                "master",
            )
    try:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway
        from pyspark.sql import SparkSession
    except ImportError:
        raise SourceError("spark: pyspark is not installed (pip install pyspark)") from None
    _quiet_python_loggers()
    log = log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    text = LOG4J2.format(log=str(log).replace("\\", "/"))
    props = (
        Path(tempfile.gettempdir())
        / f"cockpit-spark-log4j2-{hashlib.sha1(text.encode()).hexdigest()[:10]}.properties"
    )
    if not props.exists():
        tmp = props.with_name(f".{props.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(props)
    java_opts = f"-Dlog4j2.configurationFile=file:{props} -Dlog4j.configurationFile=file:{props}"
    if settings.get("spark.driver.extraJavaOptions"):
        java_opts = settings["spark.driver.extraJavaOptions"] + " " + java_opts
    conf = SparkConf(loadDefaults=False)
    conf.setMaster(master).setAppName("cockpit")
    for k, v in {**settings, "spark.driver.extraJavaOptions": java_opts}.items():
        conf.set(k, v)
    if _LOCAL.match(master.strip()):
        # no host name lookup (and its warning) for a Spark that never leaves this machine
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with open(log, "ab") as out:
        try:
            # the JVM writes to the log file, never to our standard output (the rows go there)
            gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
            sc = SparkContext(conf=conf, gateway=gateway)
        except Exception as e:  # noqa: BLE001 - a JVM that did not start: say where to look
            raise SourceError(f"spark: Spark did not start ({short(e)}); see {log}{_tail(log)}") from None
    sc.setLogLevel("WARN")
    return SparkSession(sc)


def _tail(log: Path) -> str:
    try:
        lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:] if x.strip()]
    except OSError:
        return ""
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Exception" in line:
            return f": {line.strip()[:200]}"
    return ""


def _start_remote(remote: str, settings: dict[str, str]) -> Any:
    if not remote.startswith("sc://"):
        raise SourceError(f"spark: remote '{remote}' is not a Spark Connect URL (sc://host:15002)", "remote")
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql.connect.utils import check_dependencies

        check_dependencies("pyspark.sql.connect.session")
        _quiet_python_loggers()
    except ImportError as e:
        raise SourceError(
            f"spark: Spark Connect needs more packages ({short(e)}): "
            "pip install 'pyspark[connect]' (grpcio, grpcio-status, googleapis-common-protos, zstandard)",
            "remote",
        ) from None
    try:
        builder = SparkSession.builder.remote(remote)
        for k, v in settings.items():
            builder = builder.config(k, v)
        return builder.getOrCreate()
    except Exception as e:  # noqa: BLE001 - grpc errors vary
        raise SourceError(f"spark: cannot reach {remote}: {short(e)}", "remote") from None


# ----------------------------------------------------------------- the connector


@dataclass(frozen=True)
class SparkData:
    """Where a source's records are: a catalogue table, or files of a format."""

    table: str | None
    path: str | None  # as Spark reads it (absolute for a local file)
    local_path: Path | None  # a local file or folder, for the fingerprint
    format: str
    options: tuple[tuple[str, str], ...]
    partition: str | None = None  # the declared hive partition column of a local folder


class SparkConnector:
    dialect = "spark"

    def __init__(
        self,
        source_id: str,
        label: str,
        data: SparkData,
        master: str | None,
        remote: str | None,
        conf: dict[str, str],
        numeric: set[str] | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.source_id = source_id
        self.state_dir = state_dir
        self.label = label
        self.data = data
        self.master = master
        self.remote = remote
        self.conf = conf
        self.numeric = numeric or set()
        self.notes = SourceNotes()
        # stable across processes (the store keys queries by their text), distinct per definition
        digest = hashlib.sha1(repr((data, remote or master, sorted(conf.items()))).encode()).hexdigest()[:8]
        self.view = f"src_{source_id}_{digest}"
        self._columns: dict[str, ColumnInfo] | None = None
        self._spark: Any = None

    def open(self) -> SparkConnector:
        """Check the files; start Spark unless the schema of these very files is known.

        With a ``state_dir`` (the engine's store) and local files, the columns of the last
        start are kept beside the store with the files' fingerprint. While the files are
        unchanged Spark is not started at all: the engine builds its queries from the kept
        columns and finds their results in the store, so a page load or an alert run over
        an unchanged source costs no JVM. Spark starts on the first query that must run.
        """
        if self.data.local_path is not None and not _files(self.data.local_path):
            raise SourceError(f"file not found: {self.label}", "path")
        if self._kept_schema():
            return self
        self._start()
        self._keep_schema()
        return self

    def _schema_file(self) -> Path | None:
        if self.state_dir is None or self.data.local_path is None:
            return None
        return self.state_dir / "cache" / f"spark-schema-{self.view}.json"

    def _kept_schema(self) -> bool:
        path = self._schema_file()
        if path is None or not path.exists():
            return False
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
            if kept.get("fingerprint") != self.fingerprint():
                return False
            self._columns = {name: ColumnInfo(name, kind) for name, kind in kept["columns"]}
            self.notes.warnings.extend(str(w) for w in kept.get("warnings", []))
            return True
        except (OSError, ValueError, KeyError, TypeError):
            return False  # unreadable: start Spark and write it again

    def _keep_schema(self) -> None:
        path = self._schema_file()
        if path is None or self._columns is None:
            return
        body = {
            "fingerprint": self.fingerprint(),
            "columns": [[c.name, c.kind] for c in self._columns.values()],
            "warnings": self.notes.warnings,
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only folder: Spark starts every time, still correct

    def _start(self) -> None:
        """Start (or join) the Spark session and make the source a temporary view."""
        spark, notes = session(self.master, self.remote, self.conf, self.source_id)
        self._spark = spark
        self.notes.warnings.extend(f"{self.label}: source '{self.source_id}': {n}" for n in notes)
        try:
            if self.data.table:
                frame = spark.table(self.data.table)
            else:
                reader = spark.read.format(self.data.format)
                for k, v in self.data.options:
                    reader = reader.option(k, v)
                frame = reader.load(self.data.path)
            schema = frame.schema
        except Exception as e:  # noqa: BLE001 - AnalysisException, Py4JJavaError, grpc errors
            raise self._error(e, opening=True) from None
        with _LOCK:
            try:
                frame.createOrReplaceTempView(self.view)
            except Exception as e:  # noqa: BLE001
                raise self._error(e, opening=True) from None
            _VIEWS[self.view] = _VIEWS.get(self.view, 0) + 1
        self._columns = {
            f.name: ColumnInfo(f.name, kind_of(f.dataType.simpleString())) for f in schema.fields
        }
        ansi = str(spark.conf.get("spark.sql.ansi.enabled", "false")).lower() == "true"
        for col in sorted(self.numeric):
            info = self._columns.get(col)
            if info is not None and info.kind == "text" and not ansi:
                self.notes.warnings.append(
                    f"{self.label}: source '{self.source_id}': column '{col}' holds text; "
                    "values that are not numbers are read as null"
                )

    def _error(self, e: BaseException, opening: bool = False) -> SourceError:
        msg = short(e)
        where = self.data.table or self.label
        if opening and self.data.table and ("TABLE_OR_VIEW_NOT_FOUND" in msg or "not found" in msg.lower()):
            return SourceError(f"no table '{self.data.table}' in Spark{self._did_you_mean()}", "table")
        if opening and "PATH_NOT_FOUND" in msg:
            return SourceError(f"file not found: {self.label}", "path")
        return SourceError(
            f"spark ({where}): {msg}", "" if not opening else ("table" if self.data.table else "path")
        )

    def _did_you_mean(self) -> str:
        from metrics.catalogue.problems import did_you_mean

        assert self.data.table is not None
        db, _, name = self.data.table.rpartition(".")
        try:
            names = [t.name for t in self._spark.catalog.listTables(db or None)]
        except Exception:  # noqa: BLE001 - no catalogue to ask
            return ""
        return did_you_mean(name, names)

    def columns(self) -> dict[str, ColumnInfo]:
        assert self._columns is not None
        return self._columns

    def relation(self) -> str:
        return f"`{self.view}`"

    def fetch(self, sql: str) -> pl.DataFrame:
        """Run the aggregate in Spark; only its result rows come back (Arrow → Polars)."""
        if self._spark is None:
            self._start()
        try:
            table = self._spark.sql(sql).toArrow()
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        # a zoned timestamp (LTZ, if a source's conf asks for it) as local wall-clock time, as DuckDB gives it
        zone = self._spark.conf.get("spark.sql.session.timeZone") or local_zone()
        zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
        if zoned:
            frame = frame.with_columns(
                pl.col(n).dt.convert_time_zone(zone).dt.replace_time_zone(None) for n in zoned
            )
        return frame

    def partitions(self) -> Partitions | None:
        """The source's partitions, each with its fingerprint (None: read it whole).

        A local folder: its ``key=value`` folders. A catalogue table: the partitions the
        catalogue lists (Hive metastore or Spark's own), grouped by the declared ``partition``
        column or else the table's first partition column, each fingerprinted by listing its
        location's files (local files directly, any other file system through Hadoop's, as
        Spark reads them). Remote paths and Spark Connect: none.
        """
        if self.data.table:
            return self._table_partitions()
        if self.data.local_path is None:
            return None
        return hive_partitions(self.data.local_path, self.data.partition, file_fingerprint)

    def _table_partitions(self) -> Partitions | None:
        if self._spark is None:
            self._start()
        jss = getattr(self._spark, "_jsparkSession", None)
        if jss is None:
            return None  # Spark Connect: no catalogue handle here
        try:
            state = jss.sessionState()
            ident = state.sqlParser().parseTableIdentifier(self.data.table)
            catalog = state.catalog()
            names = catalog.getTableMetadata(ident).partitionColumnNames()
            columns = [str(names.apply(i)) for i in range(names.size())]
        except Exception as e:  # noqa: BLE001 - a view, a v2 catalogue table, a metastore hiccup
            if self.data.partition:
                raise SourceError(
                    f"cannot list the partitions of {self.data.table}: {short(e)}", "partition"
                ) from None
            return None
        declared = self.data.partition
        if not columns:
            if declared:
                raise SourceError(f"table {self.data.table} is not partitioned", "partition")
            return None
        column = columns[0]
        if declared:
            match = [c for c in columns if c.lower() == declared.lower()]
            if not match:
                raise SourceError(
                    f"table {self.data.table} is partitioned by {', '.join(columns)}, not '{declared}'",
                    "partition",
                )
            column = match[0]
        try:
            listed = catalog.listPartitions(ident, self._spark._jvm.scala.Option.empty())
            conf = state.newHadoopConf()
            pieces: dict[str | None, list[str]] = {}
            for i in range(listed.size()):
                part = listed.apply(i)
                value = part.spec().get(column)
                location = str(part.location().toString())
                fp = self._location_fingerprint(location, conf)
                pieces.setdefault(sql_value(value.get() if value.isDefined() else None), []).append(
                    f"{location}:{fp}"
                )
        except Exception as e:  # noqa: BLE001
            if declared:
                raise SourceError(
                    f"cannot list the partitions of {self.data.table}: {short(e)}", "partition"
                ) from None
            return None
        if not pieces:
            return None
        return Partitions(
            column,
            {v: hashlib.sha1(";".join(sorted(x)).encode()).hexdigest()[:16] for v, x in pieces.items()},
        )

    def _location_fingerprint(self, location: str, hadoop_conf: Any) -> str:
        """Sizes and modification times of the files under a partition's location."""
        parsed = urlparse(location)
        if parsed.scheme in ("", "file"):
            return file_fingerprint(Path(unquote(parsed.path)))
        jvm = self._spark._jvm
        path = jvm.org.apache.hadoop.fs.Path(location)
        fs = path.getFileSystem(hadoop_conf)
        h = hashlib.sha1()
        if fs.exists(path):
            files = fs.listFiles(path, True)
            while files.hasNext():
                st = files.next()
                h.update(f"{st.getPath().toString()}:{st.getLen()}:{st.getModificationTime()};".encode())
        return h.hexdigest()[:16]

    def fingerprint(self) -> str:
        """Files: their sizes and modification times. Tables and remote files: none (not cached)."""
        if self.data.local_path is None:
            return "none"
        return file_fingerprint(self.data.local_path)

    def close(self) -> None:
        if self._spark is None:
            return  # never started: no view to drop
        with _LOCK:
            n = _VIEWS.get(self.view, 0) - 1
            if n > 0:
                _VIEWS[self.view] = n
                return
            _VIEWS.pop(self.view, None)
            if self._spark is not None:
                try:
                    self._spark.catalog.dropTempView(self.view)
                except Exception:  # noqa: BLE001 - a session already stopped has no views
                    pass


def stop_all() -> None:
    """Stop every Spark session this process started (tests, benchmarks)."""
    with _LOCK:
        for spark in _SESSIONS.values():
            try:
                spark.stop()
            except Exception:  # noqa: BLE001
                pass
        for key in list(_SESSIONS):
            _forget(key)
        _VIEWS.clear()


def open_spark(
    source_id: str,
    settings: Any,
    resolve: Callable[[str], Path],
    label_of: Callable[[str], str],
    numeric: set[str],
    state_dir: Path | None = None,
) -> Connector:
    """A connector for ``sources.<id>`` of ``type: spark``. Raises :class:`SourceError`.

    ``state_dir``: where the engine keeps its store; with it, Spark starts only when a query
    has to run (see :meth:`SparkConnector.open`)."""
    master, remote = settings.master, settings.remote
    if master and remote:
        raise SourceError("give either master (a local Spark) or remote (Spark Connect), not both", "remote")
    if not master and not remote:
        raise SourceError(
            'a spark source needs master (e.g. "local[2]") or remote ("sc://host:15002")', "master"
        )
    if bool(settings.table) == bool(settings.path):
        raise SourceError("a spark source reads either a table or a path (with format)", "table")
    fmt = settings.format or "parquet"
    options = dict(settings.options)
    if fmt == "csv":
        # like the CSV source: a header row, and typed columns
        options = {"header": "true", "inferSchema": "true", **options}
    if settings.table:
        data = SparkData(settings.table, None, None, fmt, (), settings.partition)
        label = f"spark table {settings.table}"
    else:
        path = str(settings.path)
        local: Path | None = None
        if "://" not in path and remote is None:
            local = resolve(path)
            path = str(local)
        data = SparkData(None, path, local, fmt, tuple(sorted(options.items())), settings.partition)
        label = label_of(str(settings.path))
    con = SparkConnector(source_id, label, data, master, remote, dict(settings.conf), numeric, state_dir)
    return con.open()
