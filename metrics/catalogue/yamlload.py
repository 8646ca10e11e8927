"""Stage 1: read YAML into plain data, keeping the line of every key and item."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from .problems import Path

try:  # the C loader is much faster on a large catalogue
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


@dataclass
class LoadedYaml:
    data: object
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)

    def line(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(text: str) -> LoadedYaml:
    """Parse ``text``; raise :class:`YamlSyntaxError` with a line on bad YAML."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        msg = " ".join(x for x in (e.context, e.problem) if x)
        raise YamlSyntaxError(line, f"invalid YAML: {msg}") from None
    except yaml.YAMLError as e:
        raise YamlSyntaxError(1, f"invalid YAML: {e}") from None
    out = LoadedYaml(data=None)
    if node is None:
        return out
    out.lines[()] = node.start_mark.line + 1
    constructor = yaml.SafeLoader("")

    def build(n: yaml.Node, path: Path) -> object:
        out.lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            d: dict[object, object] = {}
            for k, v in n.value:
                key = constructor.construct_object(k, deep=True) if isinstance(k, yaml.ScalarNode) else None
                if isinstance(key, int | float) and not isinstance(key, bool):
                    key = str(key)  # region ids and years written bare: 130302, 2027
                if not isinstance(key, str):
                    key = str(key)
                child = (*path, key)
                if key in d:
                    out.duplicates.append((child, k.start_mark.line + 1))
                d[key] = build(v, child)
                out.lines[child] = k.start_mark.line + 1
            return d
        if isinstance(n, yaml.SequenceNode):
            return [build(v, (*path, i)) for i, v in enumerate(n.value)]
        try:
            return constructor.construct_object(n, deep=True)
        except yaml.MarkedYAMLError as e:
            what = " ".join(x for x in (e.context, e.problem) if x) or "cannot be read"
            raise YamlSyntaxError(n.start_mark.line + 1, f"invalid YAML value: {what}") from None
        except yaml.YAMLError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else "cannot be read"
            raise YamlSyntaxError(n.start_mark.line + 1, f"invalid YAML value: {first}") from None

    out.data = build(node, ())
    return out
