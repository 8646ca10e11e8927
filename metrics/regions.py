"""The region tree: one jurisdiction, its children and their children."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    parent: str | None
    depth: int
    children: tuple[str, ...] = field(default=())


class RegionTree:
    """Immutable index over the ``org.regions`` tree.

    Examples
    --------
    >>> tree = RegionTree.from_spec({"id": "1", "name": "市", "children": [{"id": "2", "name": "区"}]})
    >>> tree.ancestors_or_self("2")
    ('2', '1')
    """

    def __init__(self, regions: dict[str, Region], root: str) -> None:
        self._regions = regions
        self.root = root

    @classmethod
    def from_spec(cls, node: object) -> RegionTree:
        regions: dict[str, Region] = {}

        def walk(n: object, parent: str | None, depth: int) -> str:
            nid = str(_get(n, "id"))
            kids = [walk(c, nid, depth + 1) for c in (_get(n, "children") or [])]
            regions[nid] = Region(nid, str(_get(n, "name")), parent, depth, tuple(kids))
            return nid

        root = walk(node, None, 0)
        return cls(regions, root)

    def __contains__(self, rid: object) -> bool:
        return rid in self._regions

    def __iter__(self) -> Iterator[Region]:
        """Regions in pre-order (root first, children in declared order)."""
        stack = [self.root]
        while stack:
            r = self._regions[stack.pop()]
            yield r
            stack.extend(reversed(r.children))

    def __len__(self) -> int:
        return len(self._regions)

    def get(self, rid: str) -> Region:
        return self._regions[rid]

    def name(self, rid: str | None) -> str:
        if rid is None:
            return ""
        r = self._regions.get(rid)
        return r.name if r else rid

    def ids(self) -> list[str]:
        return [r.id for r in self]

    def ancestors_or_self(self, rid: str) -> tuple[str, ...]:
        out = []
        cur: str | None = rid
        while cur is not None:
            out.append(cur)
            cur = self._regions[cur].parent
        return tuple(out)

    def subtree(self, rid: str) -> list[str]:
        out, stack = [], [rid]
        while stack:
            cur = stack.pop()
            out.append(cur)
            stack.extend(self._regions[cur].children)
        return out

    def children(self, rid: str) -> tuple[str, ...]:
        return self._regions[rid].children

    def in_any_subtree(self, rid: str, roots: Iterable[str]) -> bool:
        anc = set(self.ancestors_or_self(rid)) if rid in self._regions else set()
        return any(r in anc for r in roots)


def _get(node: object, key: str) -> object:
    if isinstance(node, dict):
        return node.get(key)
    return getattr(node, key, None)
