"""One place decides what a user may see (contract section 9).

Every page, export, bulletin, ``--as`` output and push asks :func:`scope_for`
and filters through the returned :class:`Scope`; nothing filters for itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .catalogue import spec
from .catalogue.load import Catalogue
from .catalogue.problems import did_you_mean


class UnknownUser(ValueError):
    pass


@dataclass(frozen=True)
class Scope:
    """What one user may see. ``regions=None`` means everything (the open demo)."""

    user: spec.User | None
    regions: frozenset[str] | None
    domains: frozenset[str] | None
    departments: bool

    @property
    def is_open(self) -> bool:
        return self.regions is None and self.domains is None

    def sees_indicator(self, ind: spec.Indicator) -> bool:
        return self.domains is None or (ind.domain in self.domains)

    def sees_region(self, rid: str | None) -> bool:
        return self.regions is None or rid in self.regions

    def filter_rows(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Rows of regions in scope; department rows only with the root in scope."""
        if self.regions is None:
            return rows
        keep = pl.col("region").is_in(list(self.regions))
        if not self.departments:
            keep = keep & pl.col("department").is_null()
        return rows.filter(keep)


OPEN = Scope(None, None, None, True)


def scope_for(cat: Catalogue, user_id: str | None) -> Scope:
    """The scope of ``user_id``; everything when there is no ``access`` block or no user."""
    access = cat.config.access
    if user_id is None:
        return OPEN
    users = {u.id: u for u in (access.users if access else [])}
    if user_id not in users:
        raise UnknownUser(f"unknown user '{user_id}'{did_you_mean(user_id, list(users))}")
    user = users[user_id]
    tree = cat.tree
    regions: set[str] = set()
    if tree is not None:
        for r in user.regions:
            if r in tree:
                regions.update(tree.subtree(r))
    root_in = tree is not None and tree.root in regions
    domains = frozenset(user.domains) if user.domains else None
    return Scope(user, frozenset(regions), domains, root_in)
