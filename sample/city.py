"""The fictional sample city 示范市: its region tree and its departments.

These constants are the single source for the sample's organisation. The
generator codes its records with them, ``indicators.yaml`` carries the same
tree under ``org`` (``python -m sample.check`` verifies that the two agree), and
tests can import them instead of repeating ids.

Region ids are text: 6 digits for the city and its districts and counties,
9 digits for towns and sub-districts (乡镇、街道).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Region:
    """One node of the region tree."""

    id: str
    name: str
    children: tuple[Region, ...] = field(default=())

    def walk(self) -> Iterator[Region]:
        """This node and every node below it, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()

    def as_dict(self) -> dict[str, object]:
        """The node in the shape of ``org.regions`` in ``indicators.yaml``."""
        out: dict[str, object] = {"id": self.id, "name": self.name}
        if self.children:
            out["children"] = [child.as_dict() for child in self.children]
        return out


@dataclass(frozen=True)
class Department:
    """A municipal department (委办局) that owns indicators or handles cases."""

    id: str
    name: str


CITY = Region(
    "130300",
    "示范市",
    (
        Region(
            "130302",
            "海港区",
            (
                Region("130302001", "东山街道"),
                Region("130302002", "西港镇"),
                Region("130302003", "白塔岭街道"),
            ),
        ),
        Region(
            "130303",
            "山海关区",
            (
                Region("130303001", "南关街道"),
                Region("130303002", "石河镇"),
                Region("130303003", "望海镇"),
            ),
        ),
        Region("130304", "北戴河区"),
        Region("130305", "滨海新区"),
        Region("130306", "东湖县"),
        Region("130321", "青山县"),
        Region("130322", "临河县"),
        Region("130324", "桃源县"),
    ),
)

ROOT_ID: str = CITY.id
DISTRICTS: tuple[Region, ...] = CITY.children
"""The root's children: districts (区) and counties (县)."""
TOWNS: tuple[Region, ...] = tuple(town for district in DISTRICTS for town in district.children)
REGION_NAMES: dict[str, str] = {region.id: region.name for region in CITY.walk()}
PARENT: dict[str, str] = {child.id: node.id for node in CITY.walk() for child in node.children}

DEPARTMENTS: tuple[Department, ...] = (
    Department("zwfw", "市政务服务管理办公室"),
    Department("gaj", "市公安局"),
    Department("scjg", "市市场监督管理局"),
    Department("rsj", "市人力资源和社会保障局"),
    Department("zjj", "市住房和城乡建设局"),
    Department("zrzy", "市自然资源和规划局"),
    Department("sw", "市税务局"),
    Department("wjw", "市卫生健康委员会"),
    Department("mzj", "市民政局"),
    Department("jtj", "市交通运输局"),
    Department("sthj", "市生态环境局"),
    Department("ybj", "市医疗保障局"),
    Department("gjj", "市住房公积金管理中心"),
    Department("tjj", "市统计局"),
    Department("fgw", "市发展和改革委员会"),
    Department("cgj", "市城市管理综合执法局"),
    Department("rx12345", "市12345政务服务便民热线中心"),
)
DEPARTMENT_NAMES: dict[str, str] = {dept.id: dept.name for dept in DEPARTMENTS}

# Planted events, so that pages, detectors and tests know what to look for.
DONGHU_ID = "130306"
"""东湖县: its 全程网办率 slides from about 88% to about 78% from 2026-03 on."""
STORM_DISTRICT_IDS: tuple[str, str] = ("130302", "130304")
"""海港区 and 北戴河区: a storm on 2026-07-21..25 about triples 12345 calls there."""
STORM_DAYS: tuple[str, ...] = ("2026-07-21", "2026-07-22", "2026-07-23", "2026-07-24", "2026-07-25")
WEAK_INVESTMENT_MONTHS: tuple[str, ...] = ("2025-04", "2025-05", "2025-06")
"""固定资产投资 累计增速 turns negative for the city and most counties."""


def org_dict() -> dict[str, object]:
    """The ``org`` block of ``indicators.yaml``."""
    return {
        "regions": CITY.as_dict(),
        "departments": [{"id": dept.id, "name": dept.name} for dept in DEPARTMENTS],
    }
