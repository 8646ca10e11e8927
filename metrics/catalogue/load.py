"""Load ``indicators.yaml`` in stages and collect every problem.

1. YAML, keeping line numbers (:mod:`.yamlload`).
2. Inline secrets refused, ``${VAR}`` expanded.
3. Strict typed models (:mod:`.spec`), errors mapped back to lines.
4. Cross-object rules (:mod:`.rules`).

Stage 5, reaching each source and checking its columns, lives in
:mod:`metrics.validate` because it touches data.
"""

from __future__ import annotations

import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..regions import RegionTree
from . import spec
from .problems import ConfigError, Path, Problem, did_you_mean, dotted
from .yamlload import LoadedYaml, YamlSyntaxError, load_yaml

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ONLY_ENV = re.compile(r"^\s*\$\{[A-Za-z_][A-Za-z0-9_]*\}\s*$")
_SECRET_KEYS = {"password", "secret", "token", "passwd", "api_key", "access_token"}
_SECRET_PARAMS = {"access_token", "key", "token", "password", "secret", "sign"}


@dataclass
class Catalogue:
    """A validated config with the lines it came from."""

    path: FsPath
    display: str
    config: spec.Config
    yaml: LoadedYaml
    tree: RegionTree | None
    indicators: dict[str, spec.Indicator] = field(default_factory=dict)
    known: dict[str, set[str]] = field(default_factory=dict)
    positions: dict[str, list[int]] = field(default_factory=dict)

    def item_path(self, section: str, k: int) -> Path:
        """The YAML path of the k-th valid item of a list section."""
        pos = self.positions.get(section)
        return (section, pos[k] if pos and k < len(pos) else k)

    @property
    def base_dir(self) -> FsPath:
        return self.path.parent

    @property
    def state_dir(self) -> FsPath:
        return self.base_dir / ".cockpit"

    def resolve(self, p: str) -> FsPath:
        """A path from the config, relative to the config's folder."""
        q = FsPath(p).expanduser()
        return q if q.is_absolute() else self.base_dir / q

    def problem(self, path: Path, message: str, level: str = "ERROR") -> Problem:
        return make_problem(self.display, self.yaml, path, message, level)

    def indicator_path(self, ind_id: str) -> Path:
        for k, ind in enumerate(self.config.indicators):
            if ind.id == ind_id:
                return self.item_path("indicators", k)
        return ("indicators",)

    def source_of(self, ind: spec.Indicator) -> spec.Source | None:
        return self.config.sources.get(ind.source) if ind.source else None

    def department_name(self, did: str | None) -> str:
        for d in self.config.org.departments:
            if d.id == did:
                return d.name
        return did or ""

    @property
    def root(self) -> str | None:
        return self.tree.root if self.tree else None


def make_problem(file: str, y: LoadedYaml, path: Path, message: str, level: str = "ERROR") -> Problem:
    subject, inner = _subject(y.data, path)
    return Problem(file, y.line(path), subject, dotted(inner), message, level)


def _subject(data: object, path: Path) -> tuple[str, Path]:
    """Name the object a path points into: ``indicator 'x'`` and the path inside it."""

    def get(obj: object, key: str | int) -> object:
        try:
            return obj[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None

    if len(path) >= 2 and path[0] in ("indicators", "bulletins", "assessments") and isinstance(path[1], int):
        item = get(get(data, path[0]), path[1])
        ident = get(item, "id")
        word = path[0][:-1]
        name = f"{word} '{ident}'" if isinstance(ident, str | int) else f"{word} #{path[1] + 1}"
        return name, path[2:]
    if len(path) >= 2 and path[0] in ("sources", "channels"):
        return f"{path[0][:-1]} '{path[1]}'", path[2:]
    if len(path) >= 3 and path[0] == "access" and path[1] == "users" and isinstance(path[2], int):
        ident = get(get(get(data, "access"), "users"), path[2])
        return f"user '{get(ident, 'id')}'", path[3:]
    if len(path) >= 3 and path[0] == "org" and path[1] == "departments" and isinstance(path[2], int):
        ident = get(get(get(data, "org"), "departments"), path[2])
        return f"department '{get(ident, 'id')}'", path[3:]
    if (
        len(path) >= 2
        and path[:2] == ("org", "regions")
        and isinstance(get(get(data, "org"), "regions"), dict)
    ):
        node: object = get(get(data, "org"), "regions")
        rest = list(path[2:])
        last_id = get(node, "id")
        inner: list[str | int] = []
        while len(rest) >= 2 and rest[0] == "children" and isinstance(rest[1], int):
            node = get(get(node, "children"), rest[1])
            if get(node, "id") is not None:
                last_id = get(node, "id")
            rest = rest[2:]
        inner = rest
        return f"region '{last_id}'", tuple(inner)
    return "config", path


# ----------------------------------------------------------------- secrets and ${VAR}


def _walk_strings(data: object, path: Path = ()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _walk_strings(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _walk_strings(v, (*path, i))
    elif isinstance(data, str):
        yield path, data


def _secret_problems(data: object) -> list[tuple[Path, str]]:
    out = []
    for path, value in _walk_strings(data):
        key = path[-1] if path and isinstance(path[-1], str) else ""
        if key.lower() in _SECRET_KEYS and value and not _ONLY_ENV.match(value):
            out.append(
                (path, f"a {key} must not be written in the config; use ${{VAR}} from the environment")
            )
            continue
        if "://" in value:
            try:
                parts = urlsplit(value)
            except ValueError:
                continue
            netloc = parts.netloc
            if "@" in netloc:
                userinfo = netloc.rsplit("@", 1)[0]
                if ":" in userinfo:
                    pw = userinfo.split(":", 1)[1]
                    if pw and not _ONLY_ENV.match(pw):
                        out.append(
                            (path, "the URL carries a password; write it as ${VAR} from the environment")
                        )
                        continue
            for k, v in parse_qsl(parts.query, keep_blank_values=True):
                if k.lower() in _SECRET_PARAMS and v and not _ONLY_ENV.match(v):
                    out.append(
                        (path, f"the URL carries a literal {k}; write it as ${{VAR}} from the environment")
                    )
                    break
    return out


def _expand_env(data: object, problems: list[tuple[Path, str]], env: typing.Mapping[str, str]) -> object:
    def expand(path: Path, s: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m[1]
            if name not in env:
                problems.append((path, f"environment variable ${{{name}}} is not set"))
                return m[0]
            return env[name]

        return _ENV.sub(sub, s)

    def walk(obj: object, path: Path) -> object:
        if isinstance(obj, dict):
            return {k: walk(v, (*path, k)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v, (*path, i)) for i, v in enumerate(obj)]
        if isinstance(obj, str) and "${" in obj:
            return expand(path, obj)
        return obj

    return walk(data, ())


# ----------------------------------------------------------------- pydantic errors → problems


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types behind an annotation (Annotated, Optional, unions)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(tp):
            out.extend(_unwrap(a))
        return out
    return [tp]


def _model_at(raw: object, path: Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for 'did you mean')."""
    current: list[Any] = [spec.Config]
    node = raw
    for key in path:
        nxt: list[Any] = []
        for tp in current:
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                fields = {f.alias or n: f for n, f in tp.model_fields.items()}
                f = fields.get(key) if isinstance(key, str) else None
                if f is not None:
                    nxt.extend(_unwrap(f.annotation))
            elif origin in (list, dict) and typing.get_args(tp):
                nxt.extend(_unwrap(typing.get_args(tp)[-1]))
        node = (
            node.get(key)
            if isinstance(node, dict)
            else (node[key] if isinstance(node, list) and isinstance(key, int) and key < len(node) else None)
        )
        models = [t for t in nxt if isinstance(t, type) and issubclass(t, BaseModel)]
        if isinstance(node, dict) and len(models) > 1 and "type" in node:
            chosen = [m for m in models if _literal_type(m) and node.get("type") in _literal_type(m)]
            nxt = chosen or models
        current = nxt
    for tp in current:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


def _literal_type(model: type[BaseModel]) -> tuple[Any, ...]:
    f = model.model_fields.get("type")
    if f is None:
        return ()
    return typing.get_args(f.annotation)


def _raw_path(raw: object, loc: tuple[Any, ...], kind: str = "") -> Path:
    """Drop the union tags pydantic puts into ``loc`` so the path follows the YAML."""
    out: list[str | int] = []
    node = raw
    for i, key in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict):
            if key in node:
                out.append(key)
                node = node[key]
            elif last and kind == "missing":
                out.append(key)
                node = None
            # else: a union tag; skip it
        elif isinstance(node, list) and isinstance(key, int):
            out.append(key)
            node = node[key] if key < len(node) else None
        else:
            break  # a scalar with union tags after it
    return tuple(out)


def _message(err: dict[str, Any], raw: object, path: Path) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    key = path[-1] if path else ""
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":
        model = _model_at(raw, path[:-1])
        allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
        return f"unknown key '{key}'{did_you_mean(str(key), allowed)}"
    if kind == "union_tag_invalid":
        what = "measure type" if "measure" in path[-2:] else None
        if what is None:
            what = (
                "source type"
                if path and path[0] == "sources"
                else "channel type"
                if path and path[0] == "channels"
                else "type"
            )
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        return f"unknown {what} '{ctx.get('tag')}'{did_you_mean(str(ctx.get('tag')), tags)} (expected one of: {', '.join(tags)})"
    if kind == "union_tag_not_found":
        return "'type' is required"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if not expected:
            expected = [str(ctx.get("expected", ""))]
        what = {
            "grain": "grain",
            "direction": "direction",
            "accumulate": "accumulate value",
            "rollup": "rollup value",
            "agg": "aggregate",
            "level": "level",
            "version": "version",
        }.get(str(key), "value")
        if key == "version":
            return f"unsupported version {value!r}: this cockpit reads version: 1"
        return f"unknown {what} '{value}'{did_you_mean(str(value), expected)} (expected one of: {', '.join(expected)})"
    if kind == "string_pattern_mismatch":
        return f"'{value}' is not a valid id: use lower-case letters, digits and '_', starting with a letter ([a-z][a-z0-9_]*)"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        return f"must be a number, not {value!r}"
    if kind in ("string_type", "string_too_short"):
        return f"must be non-empty text, not {value!r}"
    if kind in ("list_type",):
        return f"must be a list, not {type(value).__name__}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping, not {value!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {value!r}"
    if kind == "value_error":
        return str(err.get("msg", "")).removeprefix("Value error, ")
    return str(err.get("msg", kind))


def _pydantic_problems(e: ValidationError, raw: object, prefix: Path = ()) -> list[tuple[Path, str]]:
    by_path: dict[Path, list[dict[str, Any]]] = {}
    for err in e.errors():
        loc = tuple(prefix) + tuple(err["loc"])
        path = _raw_path(raw, loc, err["type"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "type")  # the problem is the item's `type`, on its own line
        by_path.setdefault(path, []).append(err)
    out = []
    for path, errs in by_path.items():
        if (
            path
            and path[-1] == "target"
            and any(len(q) > len(path) and q[: len(path)] == path for q in by_path)
        ):
            continue  # the mapping branch of the union names the bad entry
        if path and path[-1] == "target" and len(errs) > 1:
            out.append((path, "must be a number, or a mapping of 'default', years and region ids to numbers"))
            continue
        out.append((path, _message(errs[0], raw, path)))
    return out


# ----------------------------------------------------------------- entry point


def load_catalogue(path: str | os.PathLike[str], env: typing.Mapping[str, str] | None = None) -> Catalogue:
    """Load and check a config; raise :class:`ConfigError` listing every problem."""
    from .rules import check_rules

    env = os.environ if env is None else env
    display = str(path)
    fs = FsPath(path)
    try:
        text = fs.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(display, 0, "config", "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([Problem(display, 0, "config", "", f"cannot read: {e}")]) from None
    try:
        y = load_yaml(text)
    except YamlSyntaxError as e:
        raise ConfigError([Problem(display, e.line, "config", "", e.message)]) from None

    def problem(p: Path, msg: str) -> Problem:
        return make_problem(display, y, p, msg)

    if not isinstance(y.data, dict):
        raise ConfigError([problem((), "the config must be a mapping with 'version: 1'")])
    if type(y.data.get("version")) is not int or y.data.get("version") != 1:
        v = y.data.get("version")
        msg = (
            "'version: 1' is required"
            if v is None
            else f"unsupported version {v!r}: this cockpit reads version: 1"
        )
        raise ConfigError([problem(("version",) if v is not None else (), msg)])

    problems = [problem(p, f"duplicate key '{p[-1]}' (already given above)") for p, _ in y.duplicates]
    problems += [problem(p, m) for p, m in _secret_problems(y.data)]
    env_problems: list[tuple[Path, str]] = []
    data = _expand_env(y.data, env_problems, env)
    problems += [problem(p, m) for p, m in env_problems]

    positions: dict[str, list[int]] = {}
    repaired: set[tuple[str, int, str]] = set()
    config, model_problems = _validate_by_item(data, y.data, positions, repaired)
    problems += [problem(p, m) for p, m in model_problems]
    if config is None:
        raise ConfigError(_sorted(problems))
    cat = Catalogue(fs, display, config, y, None)
    cat.known = _known_names(data)
    cat.positions = positions
    rule_problems = check_rules(cat, data)
    problems += [p for p in rule_problems if not _about_repaired(cat, p, repaired)]
    tree = RegionTree.from_spec(config.org.regions) if config.org.regions else None
    cat.tree = tree
    cat.indicators = {i.id: i for i in config.indicators}
    if problems:
        if repaired:  # items with keys taken out are no base for checking sources
            bad = {(s, i) for s, i, _ in repaired}
            keep = [
                ind
                for k, ind in enumerate(config.indicators)
                if ("indicators", positions["indicators"][k]) not in bad
            ]
            cat.config = config.model_copy(update={"indicators": keep})
            cat.indicators = {i.id: i for i in keep}
            cat.positions = {
                **positions,
                "indicators": [p for p in positions.get("indicators", []) if ("indicators", p) not in bad],
            }
        raise ConfigError(_sorted(problems), partial=cat)
    return cat


def _about_repaired(cat: Catalogue, p: Problem, repaired: set[tuple[str, int, str]]) -> bool:
    """A rule's problem with a key that was taken out of its item (it was reported already)."""
    for section, i, key in repaired:
        path = (section, i)
        subject, _ = _subject(cat.yaml.data, path)
        if p.subject == subject and (
            p.field == key or p.field.startswith(key + ".") or p.field.startswith(key + "[")
        ):
            return True
        if p.subject == subject and p.message == "required field missing" and p.field in ("source", "time"):
            return True  # the item lost a key: its "missing source/time" is that key's shadow
    return False


_ITEMS = {
    "sources": TypeAdapter(spec.Source),
    "channels": TypeAdapter(spec.Channel),
    "indicators": TypeAdapter(spec.Indicator),
    "bulletins": TypeAdapter(spec.Bulletin),
    "assessments": TypeAdapter(spec.Assessment),
}


def _validate_by_item(
    data: dict[str, Any], raw: object, positions: dict[str, list[int]], repaired: set[tuple[str, int, str]]
) -> tuple[spec.Config | None, list[tuple[Path, str]]]:
    """Validate each source, channel and indicator alone, so one bad item hides no other problem.

    The config that comes back holds the items that passed; the rules then run
    over them, naming references by what the YAML declares (``Catalogue.known``).
    """
    problems: list[tuple[Path, str]] = []
    positions.clear()
    top = {k: v for k, v in data.items() if k not in _ITEMS}
    good: dict[str, Any] = {}
    for section, adapter in _ITEMS.items():
        value = data.get(section)
        if value is None:
            continue
        if section in ("sources", "channels"):
            if not isinstance(value, dict):
                problems.append(((section,), f"must be a mapping of ids to {section}"))
                continue
            kept = {}
            for key, item in value.items():
                try:
                    kept[key] = adapter.validate_python(item)
                except ValidationError as e:
                    problems += _pydantic_problems(e, raw, (section, key))
            good[section] = kept
        else:
            if not isinstance(value, list):
                problems.append(((section,), f"must be a list of {section}"))
                continue
            kept_list = []
            for i, item in enumerate(value):
                try:
                    kept_list.append(adapter.validate_python(item))
                    positions.setdefault(section, []).append(i)
                except ValidationError as e:
                    problems += _pydantic_problems(e, raw, (section, i))
                    # Without its bad keys, the item may still be whole enough for the rules
                    # (unknown source, duplicate id, …): report those too, never about those keys.
                    bad = {p[2] for p, _ in _pydantic_problems(e, raw, (section, i)) if len(p) > 2}
                    if isinstance(item, dict) and bad:
                        try:
                            kept_list.append(
                                adapter.validate_python({k: v for k, v in item.items() if k not in bad})
                            )
                            positions.setdefault(section, []).append(i)
                            repaired.update((section, i, k) for k in bad)
                        except ValidationError:
                            pass
            good[section] = kept_list
    try:
        config = spec.Config.model_validate(
            {**top, **{k: [] if isinstance(v, list) else {} for k, v in good.items()}}
        )
    except ValidationError as e:
        problems += _pydantic_problems(e, raw)
        return None, problems
    return config.model_copy(update=good), problems


def _known_names(data: dict[str, Any]) -> dict[str, set[str]]:
    """Ids the YAML declares, valid or not, so a bad item is not also reported as unknown."""

    def ids(items: object) -> set[str]:
        return (
            {str(i["id"]) for i in items if isinstance(i, dict) and "id" in i}
            if isinstance(items, list)
            else set()
        )

    return {
        "sources": set(data.get("sources") or {}) if isinstance(data.get("sources"), dict) else set(),
        "channels": set(data.get("channels") or {}) if isinstance(data.get("channels"), dict) else set(),
        "indicators": ids(data.get("indicators")),
    }


def _sorted(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in sorted(problems, key=lambda p: p.line):
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out
