"""Generate the embedded sample city 示范市.

    python -m sample.generate [--out DIR] [--seed N] [--rows N]

writes raw records (Parquet) and published statistics (CSV) for a fictional
prefecture-level city into DIR (default: ``data/`` at the repository root),
then ``DIR/.sample-stamp``. The same seed and row count give byte-identical
files. Everything is drawn from numpy Generators spawned from one
SeedSequence, one per file, so changing ``--rows`` leaves the hotline and the
economic statistics of a seed unchanged in shape.

Raw record files scale with ``--rows`` (the number of 一网通办 cases): the
other record files keep their proportion to it (300k evaluations, 150k
startups, 100k property registrations and ~300 12345 calls a day at the
default 1.2M). The statistics files do not depend on ``--rows``.

Times are naive local (Asia/Shanghai) timestamps. Data runs from 2021-01 to
2026-10 (the latest complete month on 2026-11-29); the 12345 hotline is daily
to 2026-11-28. See ``sample/README.md`` for the planted events.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sample.city import CITY, DISTRICTS, DONGHU_ID, ROOT_ID, STORM_DAYS, STORM_DISTRICT_IDS
from sample.geo import GEOJSON_NAME
from sample.geo import write as write_geojson

GENERATOR_VERSION = "1"
DEFAULT_SEED = 20261129
DEFAULT_SERVICE_ROWS = 1_200_000
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data"
STAMP_NAME = ".sample-stamp"

FIRST_DAY = np.datetime64("2021-01-01", "D")
LAST_DAY = np.datetime64("2026-10-31", "D")  # latest complete month
HOTLINE_LAST_DAY = np.datetime64("2026-11-28", "D")  # yesterday
FINISH_CAP_DAY = np.datetime64("2026-11-27", "D")  # no case finishes in the future
FIRST_MONTH = np.datetime64("2021-01", "M")
LAST_MONTH = np.datetime64("2026-10", "M")
LAST_QUARTER = (2026, 3)

# Full-scale sizes of the files that scale with --rows.
EVALUATIONS_FULL = 300_000
STARTUPS_FULL = 150_000
PROPERTY_FULL = 100_000
HOTLINE_CALLS_PER_DAY_2021 = 262.0

# Day of 春节 (Spring Festival): offices close for a week, statistics publish 1-2月 together.
SPRING_FESTIVAL = {
    2020: "2020-01-25",
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
    2026: "2026-02-17",
}

DISTRICT_IDS = [d.id for d in DISTRICTS]
DISTRICT_INDEX = {rid: i for i, rid in enumerate(DISTRICT_IDS)}
# Share of the city's activity in each district (same order as DISTRICTS).
DISTRICT_SHARE = np.array([0.26, 0.10, 0.07, 0.14, 0.12, 0.09, 0.11, 0.11])
# Within a district that has towns: share of records coded to the district itself, then to each town.
TOWN_SPLIT = {"130302": [0.08, 0.38, 0.32, 0.22], "130303": [0.10, 0.40, 0.30, 0.20]}


def _leaves() -> tuple[list[str], np.ndarray, np.ndarray]:
    """The most specific region codes records carry, their probabilities and their district's index."""
    codes: list[str] = []
    probs: list[float] = []
    district: list[int] = []
    for i, d in enumerate(DISTRICTS):
        if d.children:
            split = TOWN_SPLIT[d.id]
            for code, share in zip([d.id, *[t.id for t in d.children]], split, strict=True):
                codes.append(code)
                probs.append(DISTRICT_SHARE[i] * share)
                district.append(i)
        else:
            codes.append(d.id)
            probs.append(DISTRICT_SHARE[i])
            district.append(i)
    p = np.array(probs)
    return codes, p / p.sum(), np.array(district)


LEAF_CODES, LEAF_P, LEAF_DISTRICT = _leaves()
DONGHU = DISTRICT_INDEX[DONGHU_ID]
STORM_DISTRICTS = [DISTRICT_INDEX[r] for r in STORM_DISTRICT_IDS]


# --------------------------------------------------------------------------- helpers


def _norm(p: Sequence[float]) -> np.ndarray:
    a = np.asarray(p, dtype=float)
    return a / a.sum()


def _pick(rng: np.random.Generator, p: Sequence[float], n: int) -> np.ndarray:
    """Indices drawn with probabilities p (int16 keeps memory small)."""
    return rng.choice(len(p), size=n, p=_norm(p)).astype(np.int16)


def _pick_rows(rng: np.random.Generator, table: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For each row, an index drawn from the probability row ``table[group]``."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(group))
    return (u[:, None] > cum[group]).sum(axis=1).astype(np.int16)


def _labels(labels: Sequence[str], idx: np.ndarray) -> pa.Array:
    """A plain string column from label indices, without a Python loop."""
    dictionary = pa.array(list(labels), pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), dictionary).cast(pa.string())


def _prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    """``prefix`` followed by the decimal digits of each number."""
    digits = pa.array(numbers.astype(np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, digits, "")


def _days(first: np.datetime64, last: np.datetime64) -> np.ndarray:
    return np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")


def _years_since_start(days: np.ndarray) -> np.ndarray:
    return (days - FIRST_DAY).astype(np.int64) / 365.25


def _festival_factor(days: np.ndarray, closed: float) -> np.ndarray:
    """春节 and 国庆 closures (factor ``closed``) and the rush before 春节."""
    f = np.ones(len(days))
    for day in SPRING_FESTIVAL.values():
        offset = (days - np.datetime64(day, "D")).astype(np.int64)
        f[(offset >= -1) & (offset <= 6)] = closed
        f[(offset >= -10) & (offset <= -2)] *= 1.12
    month_day = days.astype("datetime64[M]")
    national = (month_day.astype(np.int64) % 12 == 9) & ((days - month_day).astype(np.int64) < 7)
    f[national] = closed
    return f


def _office_weights(days: np.ndarray, growth: float, weekend: float) -> np.ndarray:
    """Relative daily volume of office business: growth, weekends, holidays, a little seasonality."""
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
    w = np.where(weekday >= 5, weekend, 1.0) * np.where(weekday == 0, 1.08, 1.0)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    season = np.array([1.02, 0.95, 1.04, 1.02, 1.0, 1.02, 0.96, 0.95, 1.02, 0.98, 1.02, 1.08])
    return w * season[month] * (1 + growth) ** _years_since_start(days) * _festival_factor(days, 0.1)


def _multinomial_days(rng: np.random.Generator, n: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """n records spread over days by weight: sorted day indices and each record's number within its day."""
    counts = rng.multinomial(n, weights / weights.sum())
    day_idx = np.repeat(np.arange(len(weights)), counts)
    starts = np.cumsum(counts) - counts
    seq = np.arange(n) - starts[day_idx] + 1
    return day_idx, seq


def _time_of_day(rng: np.random.Generator, n: int, hourly: Sequence[float]) -> np.ndarray:
    """Seconds after midnight, hours drawn by weight, uniform within the hour."""
    hour = rng.choice(24, size=n, p=_norm(hourly))
    return hour * 3600 + rng.integers(0, 3600, size=n)


# Relative volume by hour of day: office counters, online applications, hotline calls.
# fmt: off
OFFICE_HOURS = [
    0, 0, 0, 0, 0, 0, 0, 0.2, 1.0, 1.2, 1.2, 0.9, 0.3, 0.6, 1.1, 1.1, 1.0, 0.5, 0.05, 0, 0, 0, 0, 0
]
ONLINE_HOURS = [
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.2, 1.2, 1.0, 0.7, 0.8, 1.1, 1.1, 1.0, 0.9, 0.7,
    0.7, 0.8, 0.8, 0.6, 0.4
]
HOTLINE_HOURS = [
    0.1, 0.05, 0.03, 0.03, 0.05, 0.1, 0.3, 0.7, 1.2, 1.3, 1.3, 1.1, 0.8, 0.9, 1.2, 1.2, 1.1, 1.0, 0.9,
    0.9, 0.8, 0.6, 0.4, 0.2
]
# fmt: on


def _timestamps(days: np.ndarray, seconds: np.ndarray) -> pa.Array:
    ts = days.astype("datetime64[us]") + (seconds.astype(np.int64) * 1_000_000).astype("timedelta64[us]")
    return pa.array(ts, pa.timestamp("us"))


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", row_group_size=256_000)


# --------------------------------------------------------------------------- 一网通办 cases

# fmt: off
SERVICE_DEPTS = [
    "gaj", "sw", "rsj", "scjg", "ybj", "gjj", "zrzy", "zjj", "wjw", "mzj", "jtj", "sthj", "zwfw",
    "fgw", "tjj"
]
# fmt: on
SERVICE_DEPT_P = [0.17, 0.12, 0.12, 0.10, 0.10, 0.08, 0.05, 0.05, 0.05, 0.05, 0.05, 0.02, 0.02, 0.01, 0.01]
# Department effect on the online rate, in probability points: some business needs a visit.
SERVICE_DEPT_ONLINE = np.array(
    [-0.05, 0.06, 0.015, 0.035, 0.025, 0.05, -0.07, -0.025, -0.03, -0.05, -0.005, 0.0, 0.0, 0.03, 0.05]
)
DISTRICT_ONLINE = np.array([0.012, 0.004, 0.0, 0.01, 0.002, -0.018, -0.012, -0.008])
# 东湖县 from 2026-03 to 2026-10: how far its online rate has slid below normal.
DONGHU_SLIDE = np.array([0.025, 0.055, 0.08, 0.095, 0.10, 0.105, 0.105, 0.105])
DISTRICT_LATE = np.array([0.8, 1.0, 1.1, 0.9, 1.2, 1.5, 1.3, 1.1])

ITEM_TYPES = ["行政许可", "公共服务", "行政确认", "行政给付", "其他行政权力"]
ITEM_P = [0.28, 0.42, 0.16, 0.06, 0.08]
# Promised working days per item type: candidate values and their weights.
PROMISED_VALUES = np.array([1, 2, 3, 5, 7, 10, 15, 20])
PROMISED_P = np.array(
    [
        [0.00, 0.00, 0.10, 0.30, 0.15, 0.25, 0.15, 0.05],  # 行政许可
        [0.25, 0.25, 0.25, 0.20, 0.05, 0.00, 0.00, 0.00],  # 公共服务
        [0.05, 0.10, 0.30, 0.35, 0.15, 0.05, 0.00, 0.00],  # 行政确认
        [0.00, 0.00, 0.10, 0.40, 0.20, 0.30, 0.00, 0.00],  # 行政给付
        [0.00, 0.05, 0.25, 0.35, 0.15, 0.20, 0.00, 0.00],  # 其他行政权力
    ]
)
ITEM_IMMEDIATE = np.array([0.08, 0.38, 0.25, 0.05, 0.15])
ITEM_MATERIALS = np.array([5.5, 2.2, 3.0, 3.5, 3.2])
CHANNELS = ["网办", "窗口", "自助"]


def service_records(rng: np.random.Generator, n: int) -> pa.Table:
    days = _days(FIRST_DAY, LAST_DAY)
    day_idx, seq = _multinomial_days(rng, n, _office_weights(days, growth=0.075, weekend=0.14))
    day = days[day_idx]
    t = _years_since_start(day)
    month = (day.astype("datetime64[M]") - FIRST_MONTH).astype(np.int64)

    leaf = _pick(rng, LEAF_P, n)
    district = LEAF_DISTRICT[leaf]
    dept = _pick(rng, SERVICE_DEPT_P, n)
    item = _pick(rng, ITEM_P, n)

    # Channel: the online rate rises slowly; 东湖县 slides from 2026-03.
    p_online = 0.852 + 0.0065 * t + DISTRICT_ONLINE[district] + SERVICE_DEPT_ONLINE[dept]
    slide_start = (np.datetime64("2026-03", "M") - FIRST_MONTH).astype(np.int64)
    sliding = (district == DONGHU) & (month >= slide_start)
    p_online[sliding] -= DONGHU_SLIDE[month[sliding] - slide_start]
    online = rng.random(n) < p_online
    channel = np.where(online, 0, np.where(rng.random(n) < 0.22, 2, 1)).astype(np.int8)

    seconds = np.where(online, _time_of_day(rng, n, ONLINE_HOURS), _time_of_day(rng, n, OFFICE_HOURS))

    promised = PROMISED_VALUES[_pick_rows(rng, PROMISED_P, item)].astype(np.int32)
    immediate = rng.random(n) < ITEM_IMMEDIATE[item] + 0.012 * t
    actual = np.round(promised * rng.beta(2.8, 2.0, n) * (1 - 0.015 * t), 1)
    p_late = (0.019 - 0.0019 * t) * DISTRICT_LATE[district]
    late = (rng.random(n) < p_late) & ~immediate
    actual = np.where(late, promised + np.round(0.5 + rng.exponential(2.0, n), 1), actual)
    actual = np.where(immediate, 0.0, actual)
    # Cases of the last weeks cannot have finished after the snapshot.
    accept_day = day.astype("datetime64[D]")
    room = np.busday_count(np.busday_offset(accept_day, 0, roll="forward"), FINISH_CAP_DAY)
    actual = np.minimum(actual, room.astype(float))
    on_time = actual <= promised

    whole = np.floor(actual).astype(np.int64)
    finish_day = np.busday_offset(accept_day, whole, roll="forward")
    extra_us = np.where(
        immediate,
        rng.integers(5 * 60, 90 * 60, size=n) * 1_000_000,
        np.round((actual - whole) * 8 * 3600).astype(np.int64) * 1_000_000,
    )
    accepted = day.astype("datetime64[us]") + (seconds * 1_000_000).astype("timedelta64[us]")
    finished = (
        accepted + (finish_day - accept_day).astype("timedelta64[us]") + extra_us.astype("timedelta64[us]")
    )

    u = rng.random(n)
    trips = np.select(
        [channel == 0, channel == 2],
        [np.where(u < 0.975, 0, 1), np.where(u < 0.99, 1, 2)],
        np.where(u < 0.965, 1, np.where(u < 0.995, 2, 3)),
    ).astype(np.int8)
    materials = np.clip(1 + rng.poisson(ITEM_MATERIALS[item] * (1 - 0.055 * t) - 1), 1, 30).astype(np.int16)

    rated = rng.random(n) < 0.40 + 0.03 * t
    rating = (5 - _pick(rng, [0.885, 0.085, 0.02, 0.005, 0.005], n)).astype(np.int8)

    case_no = _yyyymmdd(day) * 1_000_000 + seq
    return pa.table(
        {
            "case_id": _prefixed("SW", case_no),
            "accepted_at": pa.array(accepted, pa.timestamp("us")),
            "finished_at": pa.array(finished, pa.timestamp("us")),
            "region_code": _labels(LEAF_CODES, leaf),
            "dept_code": _labels(SERVICE_DEPTS, dept),
            "item_type": _labels(ITEM_TYPES, item),
            "channel": _labels(CHANNELS, channel),
            "promised_days": pa.array(promised, pa.int32()),
            "actual_days": pa.array(actual, pa.float64()),
            "on_time": pa.array(on_time, pa.bool_()),
            "trips": pa.array(trips, pa.int8()),
            "materials": pa.array(materials, pa.int16()),
            "immediate": pa.array(immediate, pa.bool_()),
            "rating": pa.array(rating, pa.int8(), mask=~rated),
        }
    )


def _yyyymmdd(days: np.ndarray) -> np.ndarray:
    """Days as integers 20261005."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + dd


# --------------------------------------------------------------------------- 12345 hotline

# fmt: off
TOPICS = [
    "噪音扰民", "物业管理", "道路交通", "供水供电", "劳动社保", "市场监管", "城市管理", "医疗卫生", "生态环境", "政务服务", "其他"
]
# fmt: on
TOPIC_P = np.array([0.08, 0.12, 0.10, 0.09, 0.12, 0.11, 0.13, 0.07, 0.05, 0.08, 0.05])
TOPIC_UTILITY, TOPIC_CITY = TOPICS.index("供水供电"), TOPICS.index("城市管理")
CATEGORIES = ["咨询", "求助", "投诉", "举报", "建议"]
CATEGORY_P = [0.45, 0.15, 0.25, 0.05, 0.10]
HOTLINE_DEPTS = ["rx12345", "gaj", "sthj", "zjj", "jtj", "rsj", "scjg", "cgj", "wjw", "ybj", "zwfw", "mzj"]
# Handling department by topic (rows: TOPICS, columns: HOTLINE_DEPTS).
TOPIC_DEPT = np.array(
    [
        [0.00, 0.60, 0.40, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # 噪音扰民
        [0.05, 0, 0, 0.95, 0, 0, 0, 0, 0, 0, 0, 0],  # 物业管理
        [0.00, 0.45, 0, 0, 0.55, 0, 0, 0, 0, 0, 0, 0],  # 道路交通
        [0.05, 0, 0, 0.95, 0, 0, 0, 0, 0, 0, 0, 0],  # 供水供电
        [0.00, 0, 0, 0, 0, 0.85, 0, 0, 0, 0.15, 0, 0],  # 劳动社保
        [0.00, 0, 0, 0, 0, 0, 1.00, 0, 0, 0, 0, 0],  # 市场监管
        [0.05, 0, 0, 0, 0, 0, 0, 0.95, 0, 0, 0, 0],  # 城市管理
        [0.00, 0, 0, 0, 0, 0, 0, 0, 0.70, 0.30, 0, 0],  # 医疗卫生
        [0.00, 0, 1.00, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # 生态环境
        [0.10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.90, 0],  # 政务服务
        [0.60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.40],  # 其他
    ]
)
DISTRICT_SATISFIED = np.array([0.01, 0.0, 0.02, 0.005, -0.02, -0.03, 0.0, -0.01])

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉华红梅建国志斌海波宁晨宇浩然子轩欣怡梓涵雨萱"
    "佳琪思远博文嘉怡俊杰晓东春燕秋菊冬梅立新永利淑珍凤琴国庆德胜文静丹慧颖婷雪莉鹏飞"
)
# fmt: off
PHONE_PREFIXES = [
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 180,
    181, 182, 183, 184, 185, 186, 187, 188, 189
]
# fmt: on
ID_REGIONS = [*DISTRICT_IDS, "130200", "130203", "110105", "120101", "210202", "370102"]
ID_WEIGHTS = 0.85 * np.r_[DISTRICT_SHARE, np.zeros(6)] + 0.025 * np.r_[np.zeros(8), np.ones(6)]
ID_CHECK = np.array(list("10X98765432"))
ID_FACTORS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _callers(rng: np.random.Generator, n: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """A pool of n fictional callers: names, mobile numbers, ID numbers with a valid check digit."""
    surname = rng.choice(len(SURNAMES), size=n, p=_norm(np.linspace(3, 1, len(SURNAMES)) ** 2))
    g1 = rng.integers(0, len(GIVEN), size=n)
    g2 = rng.integers(0, len(GIVEN), size=n)
    three = rng.random(n) < 0.7
    names = [
        SURNAMES[s] + GIVEN[a] + (GIVEN[b] if t else "")
        for s, a, b, t in zip(surname.tolist(), g1.tolist(), g2.tolist(), three.tolist(), strict=True)
    ]
    prefix = np.array(PHONE_PREFIXES)[rng.integers(0, len(PHONE_PREFIXES), size=n)]
    phones = prefix.astype(np.int64) * 100_000_000 + rng.integers(0, 100_000_000, size=n)

    region = np.array(ID_REGIONS).astype(np.int64)[rng.choice(len(ID_REGIONS), size=n, p=_norm(ID_WEIGHTS))]
    birth = np.datetime64("1950-01-01", "D") + rng.integers(0, 365 * 56, size=n).astype("timedelta64[D]")
    order = rng.integers(1, 1000, size=n)
    body = region * 10**11 + _yyyymmdd(birth) * 1000 + order  # the first 17 digits
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    check = ID_CHECK[(digits * ID_FACTORS).sum(axis=1) % 11]
    ids = pc.binary_join_element_wise(pa.array(body).cast(pa.string()), pa.array(check, pa.string()), "")
    return pa.array(names, pa.string()), pa.array(phones).cast(pa.string()), ids


def hotline_tickets(rng: np.random.Generator, scale: float) -> pa.Table:
    days = _days(FIRST_DAY, HOTLINE_LAST_DAY)
    weekday = (days.astype(np.int64) + 3) % 7
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    week_f = np.array([1.14, 1.05, 1.02, 1.0, 1.0, 0.86, 0.80])[weekday]
    # Summer (heat, water, power) and winter (heating) bring more calls.
    season_f = np.array([1.06, 0.98, 0.94, 0.95, 0.98, 1.05, 1.14, 1.12, 1.0, 0.95, 0.96, 1.04])[month]
    lam_day = HOTLINE_CALLS_PER_DAY_2021 * scale * 1.07 ** _years_since_start(days) * week_f * season_f
    lam_day = lam_day * np.where(_festival_factor(days, 0.7) < 1, 0.7, 1.0)
    lam = lam_day[:, None] * LEAF_P[None, :]

    storm_mult = np.ones(lam.shape)
    storm_leaf = np.isin(LEAF_DISTRICT, STORM_DISTRICTS)
    for day, mult in zip(STORM_DAYS, [2.4, 3.6, 3.8, 3.0, 2.0], strict=True):
        storm_mult[(days == np.datetime64(day, "D")), :] = np.where(storm_leaf, mult, 1.0)
    counts = rng.poisson(lam * storm_mult)

    n_leaf = len(LEAF_CODES)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    n = len(cell)
    day_idx, leaf = cell // n_leaf, (cell % n_leaf).astype(np.int16)
    seconds = _time_of_day(rng, n, HOTLINE_HOURS)
    order = np.lexsort((seconds, day_idx))
    day_idx, leaf, seconds = day_idx[order], leaf[order], seconds[order]
    per_day = np.bincount(day_idx, minlength=len(days))
    seq = np.arange(n) - (np.cumsum(per_day) - per_day)[day_idx] + 1

    district = LEAF_DISTRICT[leaf]
    mult = storm_mult[day_idx, leaf]
    in_storm = mult > 1
    storm_call = rng.random(n) < (mult - 1) / mult  # the calls the storm added

    topic = _pick(rng, TOPIC_P, n)
    topic = np.where(storm_call, np.where(rng.random(n) < 0.6, TOPIC_UTILITY, TOPIC_CITY), topic).astype(
        np.int16
    )
    category = _pick(rng, CATEGORY_P, n)
    category = np.where(storm_call, _pick(rng, [0.2, 0.5, 0.3, 0.0, 0.0], n), category).astype(np.int16)
    dept = _pick_rows(rng, TOPIC_DEPT, topic)

    t = _years_since_start(days[day_idx])
    answered = rng.random(n) < np.where(in_storm, 0.66, 0.942 + 0.003 * t)
    advice = category == 0
    revisited = answered & (rng.random(n) < np.where(advice, 0.55, 0.86))
    p_satisfied = (
        0.838
        + 0.006 * t
        + DISTRICT_SATISFIED[district]
        + np.where(advice, 0.06, 0.0)
        - np.where(category == 2, 0.07, 0.0)
        - np.where(storm_call, 0.12, 0.0)
    )
    satisfied = rng.random(n) < p_satisfied
    closed_on_time = rng.random(n) < np.where(in_storm, 0.90, 0.972)
    repeat_call = rng.random(n) < np.where(storm_call, 0.2, 0.078)

    pool = max(1000, int(220_000 * scale))
    names, phones, ids = _callers(rng, pool)
    caller = pa.array(rng.choice(pool, size=n, p=_norm(rng.lognormal(0.0, 1.0, pool))))

    return pa.table(
        {
            "ticket_id": _prefixed("RX", _yyyymmdd(days[day_idx]) * 100_000 + seq),
            "created_at": _timestamps(days[day_idx], seconds),
            "region_code": _labels(LEAF_CODES, leaf),
            "dept_code": _labels(HOTLINE_DEPTS, dept),
            "category": _labels(CATEGORIES, category),
            "topic": _labels(TOPICS, topic),
            "caller_name": names.take(caller),
            "caller_phone": phones.take(caller),
            "caller_id_number": ids.take(caller),
            "answered": pa.array(answered, pa.bool_()),
            "satisfied": pa.array(satisfied, pa.bool_(), mask=~revisited),
            "revisited": pa.array(revisited, pa.bool_()),
            "closed_on_time": pa.array(closed_on_time, pa.bool_(), mask=~answered),
            "repeat_call": pa.array(repeat_call, pa.bool_()),
        }
    )


# --------------------------------------------------------------------------- 好差评

GRADES = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
DISTRICT_BAD = np.array([0.8, 1.0, 0.9, 0.9, 1.3, 1.6, 1.1, 1.0])


def evaluations(rng: np.random.Generator, n: int) -> pa.Table:
    days = _days(FIRST_DAY, LAST_DAY)
    day_idx, seq = _multinomial_days(rng, n, _office_weights(days, growth=0.12, weekend=0.3))
    day = days[day_idx]
    t = _years_since_start(day)
    leaf = _pick(rng, LEAF_P, n)
    district = LEAF_DISTRICT[leaf]
    dept = _pick(rng, SERVICE_DEPT_P, n)
    channel = _pick(rng, [0.78, 0.17, 0.05], n)
    online = channel == 0
    seconds = np.where(online, _time_of_day(rng, n, ONLINE_HOURS), _time_of_day(rng, n, OFFICE_HOURS))

    p_bad = (0.0062 - 0.0004 * t) * DISTRICT_BAD[district]
    u = rng.random(n)
    grade = np.where(u < p_bad, np.where(rng.random(n) < 0.7, 3, 4), _pick(rng, [0.80, 0.155, 0.045], n))
    is_bad = grade >= 3
    # Bad ratings of the last weeks are still being rectified.
    days_left = (LAST_DAY - day).astype(np.int64)
    rectified = rng.random(n) < np.where(days_left < 20, 0.7, 0.975)
    proactive = rng.random(n) < 0.58 + 0.035 * t

    return pa.table(
        {
            "eval_id": _prefixed("HC", _yyyymmdd(day) * 100_000 + seq),
            "evaluated_at": _timestamps(day, seconds),
            "region_code": _labels(LEAF_CODES, leaf),
            "dept_code": _labels(SERVICE_DEPTS, dept),
            "channel": _labels(CHANNELS, channel),
            "grade": _labels(GRADES, grade),
            "is_bad": pa.array(is_bad, pa.bool_()),
            "rectified": pa.array(rectified, pa.bool_(), mask=~is_bad),
            "proactive": pa.array(proactive, pa.bool_()),
        }
    )


# --------------------------------------------------------------------------- 企业开办, 不动产登记

ENTITY_TYPES = ["企业", "个体工商户", "农民专业合作社"]
STARTUP_DAYS = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])


def _startup_weights(days: np.ndarray) -> np.ndarray:
    return _office_weights(days, growth=0.10, weekend=0.08)


def enterprise_startups(rng: np.random.Generator, n: int) -> pa.Table:
    days = _days(FIRST_DAY, LAST_DAY)
    day_idx, seq = _multinomial_days(rng, n, _startup_weights(days))
    day = days[day_idx]
    t = _years_since_start(day)
    leaf = _pick(rng, LEAF_P, n)
    entity = _pick(rng, [0.30, 0.685, 0.015], n)
    # Faster over the years: more same-day (0.5) openings, fewer beyond 2 days.
    fast = np.clip(0.30 + 0.04 * t, 0, 0.6)
    slow = np.clip(0.014 - 0.0012 * t, 0.003, None)
    u = rng.random(n)
    mid = _pick(rng, [0.45, 0.30, 0.25], n) + 1  # 1.0, 1.5 or 2.0 days
    over = _pick(rng, [0.6, 0.3, 0.1], n) + 4  # 2.5, 3 or 4 days
    kind = np.where(u < fast, 0, np.where(u > 1 - slow, over, mid))
    days_taken = STARTUP_DAYS[kind]
    seconds = _time_of_day(rng, n, OFFICE_HOURS)
    return pa.table(
        {
            "reg_id": _prefixed("QY", _yyyymmdd(day) * 10_000 + seq),
            "registered_at": _timestamps(day, seconds),
            "region_code": _labels(LEAF_CODES, leaf),
            "entity_type": _labels(ENTITY_TYPES, entity),
            "days": pa.array(days_taken, pa.float64()),
            "within_2days": pa.array(days_taken <= 2.0, pa.bool_()),
        }
    )


PROPERTY_KINDS = ["首次登记", "转移登记", "抵押登记", "变更登记", "注销登记"]
# Typical working days per kind, and the chance of a slower case.
PROPERTY_FAST = np.array([1.0, 1.0, 0.5, 0.5, 0.5])
PROPERTY_SLOW = np.array([0.20, 0.05, 0.03, 0.04, 0.02])
# Real-estate cycle: transactions fell in 2022-2024.
PROPERTY_YEAR = {2021: 1.0, 2022: 0.78, 2023: 0.72, 2024: 0.68, 2025: 0.70, 2026: 0.73}


def property_registrations(rng: np.random.Generator, n: int) -> pa.Table:
    days = _days(FIRST_DAY, LAST_DAY)
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    cycle = np.array([PROPERTY_YEAR[y] for y in range(2021, 2027)])[year - 2021]
    day_idx, seq = _multinomial_days(rng, n, _office_weights(days, growth=0.0, weekend=0.05) * cycle)
    day = days[day_idx]
    leaf = _pick(rng, LEAF_P, n)
    kind = _pick(rng, [0.10, 0.35, 0.35, 0.10, 0.10], n)
    slow = rng.random(n) < PROPERTY_SLOW[kind]
    days_taken = np.where(slow, np.round(1.5 + rng.exponential(1.5, n) * 2) / 2, PROPERTY_FAST[kind])
    seconds = _time_of_day(rng, n, OFFICE_HOURS)
    return pa.table(
        {
            "reg_id": _prefixed("BDC", _yyyymmdd(day) * 10_000 + seq),
            "registered_at": _timestamps(day, seconds),
            "region_code": _labels(LEAF_CODES, leaf),
            "kind": _labels(PROPERTY_KINDS, kind),
            "days": pa.array(days_taken, pa.float64()),
        }
    )


# --------------------------------------------------------------------------- published statistics

ECON_REGIONS = [ROOT_ID, *DISTRICT_IDS]  # the root publishes its own figures
YEARS = list(range(2020, 2027))  # 2020 is drawn but not written: it is the base of 2021's growth
MONTHS = np.arange(np.datetime64("2020-01", "M"), LAST_MONTH + 1)


def _month_str(m: np.datetime64) -> str:
    return str(m)


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float = 0.6) -> np.ndarray:
    e = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    prev = rng.normal(0, sd)
    for i in range(n):
        prev = phi * prev + e[i]
        out[i] = prev
    return out


def _by_year(values: dict[int, float], months: np.ndarray) -> np.ndarray:
    years = months.astype("datetime64[Y]").astype(np.int64) + 1970
    return np.array([values[int(y)] for y in years])


RETAIL_ANNUAL = {2020: 765, 2021: 842, 2022: 838, 2023: 896, 2024: 934, 2025: 975, 2026: 1012}
RETAIL_SEASON = _norm([1.06, 0.86, 0.90, 0.92, 0.98, 1.00, 0.95, 0.97, 1.02, 1.08, 1.05, 1.21]) * 12
RETAIL_SHARE = np.array([0.30, 0.08, 0.07, 0.12, 0.12, 0.09, 0.11, 0.11])
TRADE_ANNUAL = {2020: 330, 2021: 362, 2022: 384, 2023: 371, 2024: 396, 2025: 412, 2026: 431}
TRADE_SEASON = _norm([1.02, 0.80, 0.98, 1.0, 1.0, 1.02, 1.03, 1.02, 1.03, 0.98, 1.04, 1.08]) * 12
TRADE_SHARE = np.array([0.38, 0.06, 0.03, 0.25, 0.10, 0.04, 0.08, 0.06])
REVENUE_ANNUAL = {2020: 146, 2021: 152, 2022: 141, 2023: 150, 2024: 155.5, 2025: 158.2, 2026: 163.0}
REVENUE_SEASON = _norm([0.12, 0.06, 0.08, 0.10, 0.09, 0.09, 0.08, 0.06, 0.07, 0.08, 0.07, 0.10])
REVENUE_SHARE = np.array([0.16, 0.04, 0.04, 0.10, 0.08, 0.06, 0.07, 0.07])  # the rest is 市本级
CPI_LEVEL = {2020: 102.4, 2021: 101.0, 2022: 101.9, 2023: 100.3, 2024: 100.4, 2025: 100.2, 2026: 100.9}
INDUSTRY_LEVEL = {2020: 2.5, 2021: 8.6, 2022: 5.4, 2023: 6.1, 2024: 6.4, 2025: 6.0, 2026: 5.7}
FAI_LEVEL = {2020: 3.0, 2021: 6.8, 2022: 5.6, 2023: 4.2, 2024: 4.6, 2025: 4.4, 2026: 3.8}
# Monthly weights of a year's output and investment (cumulative growth is their weighted mean).
INDUSTRY_WEIGHT = _norm([0.07, 0.06, 0.09, 0.08, 0.085, 0.09, 0.08, 0.08, 0.09, 0.085, 0.09, 0.10])
FAI_WEIGHT = _norm([0.04, 0.04, 0.08, 0.08, 0.09, 0.11, 0.08, 0.08, 0.10, 0.08, 0.09, 0.13])
# Weak investment in 2025-Q2: single-month growth falls by this much, in every region (scaled below).
FAI_SHOCK = {"2025-04": -15.0, "2025-05": -17.0, "2025-06": -13.0, "2025-07": -4.0}
FAI_SHOCK_SCALE = np.array(
    [1.0, 1.0, 1.0, 0.25, 0.9, 1.1, 0.2, 1.0, 1.0]
)  # by ECON_REGIONS; 北戴河区, 青山县 resist

GDP_ANNUAL = {2021: 1853, 2022: 1912, 2023: 1994, 2024: 2071, 2025: 2143, 2026: 2232}
GDP_QUARTER_SHARE = np.array([0.224, 0.471, 0.722, 1.0])
GDP_SHARE = np.array([0.30, 0.08, 0.06, 0.15, 0.12, 0.08, 0.11, 0.10])
GDP_GROWTH = {
    2021: [12.6, 10.4, 8.7, 7.9],
    2022: [4.7, 2.9, 3.5, 3.3],
    2023: [4.8, 5.7, 5.4, 5.4],
    2024: [5.4, 5.1, 4.9, 5.1],
    2025: [5.3, 4.5, 4.7, 4.9],
    2026: [5.2, 5.3, 5.1, 5.1],
}
INCOME_ANNUAL = {2021: 36180, 2022: 37920, 2023: 40120, 2024: 42330, 2025: 44530, 2026: 46760}
INCOME_QUARTER_SHARE = np.array([0.276, 0.515, 0.758, 1.0])
INCOME_FACTOR = np.array([1.0, 1.18, 1.06, 1.11, 1.09, 0.86, 0.78, 0.82, 0.80])  # by ECON_REGIONS
REGION_GROWTH_OFFSET = np.array([0.0, 0.5, -0.3, 0.4, 1.0, -0.6, -0.8, 0.2, -0.2])  # by ECON_REGIONS


def _fmt(x: float, places: int) -> str:
    return f"{x:.{places}f}"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _regional_levels(rng: np.random.Generator, city: np.ndarray, share: np.ndarray, sd: float) -> np.ndarray:
    """Rows: ECON_REGIONS. The root is the city's own figure; children get a drifting share of it."""
    n = len(city)
    t = np.arange(n) / 12
    out = np.empty((len(share) + 1, n))
    out[0] = city
    drift = rng.normal(0, 0.015, len(share))
    for i, s in enumerate(share):
        out[i + 1] = city * s * np.exp(drift[i] * t) * (1 + rng.normal(0, sd, n))
    # Published district figures add up to the city's only roughly (统计口径 differ by a little).
    out[1:] *= city * share.sum() * (1 + rng.normal(0, 0.006, n)) / out[1:].sum(axis=0)
    return out


def _cumulative_growth(levels: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Year-to-date growth (%) of monthly levels against the same months a year earlier."""
    out = np.full(levels.shape, np.nan)
    month_of_year = months.astype(np.int64) % 12
    for j in range(12, len(months)):
        start = j - month_of_year[j]
        this = levels[:, start : j + 1].sum(axis=1)
        last = levels[:, start - 12 : j - 11].sum(axis=1)
        out[:, j] = (this / last - 1) * 100
    return out


def _weighted_cumulative(single: np.ndarray, months: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Year-to-date growth as the weighted mean of single-month growth rates."""
    out = np.empty(single.shape)
    month_of_year = months.astype(np.int64) % 12
    for j in range(len(months)):
        start = j - month_of_year[j]
        w = weights[: month_of_year[j] + 1]
        out[:, j] = (single[:, start : j + 1] * w).sum(axis=1) / w.sum()
    return out


def expected_new_entities() -> np.ndarray:
    """Expected monthly startups by region at full scale (rows: ECON_REGIONS, columns: 2021-01..LAST_MONTH)."""
    days = _days(FIRST_DAY, LAST_DAY)
    w = _startup_weights(days)
    month = (days.astype("datetime64[M]") - FIRST_MONTH).astype(np.int64)
    city = np.bincount(month, weights=w) / w.sum() * STARTUPS_FULL
    return np.vstack([city, np.outer(DISTRICT_SHARE, city)])


def econ_files(rng: np.random.Generator, out_dir: Path) -> dict[str, int]:
    months = MONTHS
    n = len(months)
    written = months >= FIRST_MONTH
    month_of_year = months.astype(np.int64) % 12
    regions = len(ECON_REGIONS)

    # 当月 levels.
    retail_city = (
        _by_year(RETAIL_ANNUAL, months) / 12 * RETAIL_SEASON[month_of_year] * (1 + _ar1(rng, n, 0.012))
    )
    retail = _regional_levels(rng, retail_city, RETAIL_SHARE, 0.012)
    trade_city = (
        _by_year(TRADE_ANNUAL, months) / 12 * TRADE_SEASON[month_of_year] * (1 + _ar1(rng, n, 0.04, 0.3))
    )
    trade = _regional_levels(rng, trade_city, TRADE_SHARE, 0.07)
    revenue_city = (
        _by_year(REVENUE_ANNUAL, months) * REVENUE_SEASON[month_of_year] * (1 + rng.normal(0, 0.03, n))
    )
    revenue = _regional_levels(rng, revenue_city, REVENUE_SHARE, 0.05)
    cpi_city = _by_year(CPI_LEVEL, months) + _ar1(rng, n, 0.35, 0.7)
    cpi = cpi_city[None, :] + rng.normal(0, 0.12, (regions, 1)) + rng.normal(0, 0.18, (regions, n))
    cpi[0] = cpi_city
    entities = expected_new_entities() * (1 + rng.normal(0, 0.02, (regions, n - 12)))

    # Single-month growth rates behind the published cumulative ones.
    offset = REGION_GROWTH_OFFSET[:, None]
    industry = (
        _by_year(INDUSTRY_LEVEL, months)[None, :]
        + offset
        + np.vstack([_ar1(rng, n, 0.8 if r == 0 else 1.2, 0.5) for r in range(regions)])
    )
    early_2021 = (months >= np.datetime64("2021-01", "M")) & (months <= np.datetime64("2021-05", "M"))
    industry[:, early_2021] += np.array([7.0, 6.0, 4.0, 2.5, 1.0])  # base effect after 2020
    fai = (
        _by_year(FAI_LEVEL, months)[None, :]
        + 1.5 * offset
        + np.vstack([_ar1(rng, n, 1.0 if r == 0 else 2.2, 0.4) for r in range(regions)])
    )
    for month, shock in FAI_SHOCK.items():
        fai[:, months == np.datetime64(month, "M")] += (shock * FAI_SHOCK_SCALE)[:, None]
    fai[:, (months >= np.datetime64("2025-08", "M")) & (months <= np.datetime64("2025-12", "M"))] += 4.0

    industry_cum = _weighted_cumulative(industry, months, INDUSTRY_WEIGHT)
    fai_cum = _weighted_cumulative(fai, months, FAI_WEIGHT)
    retail_cum = _cumulative_growth(retail, months)
    revenue_cum = np.empty(revenue.shape)
    for j in range(n):
        start = j - month_of_year[j]
        revenue_cum[:, j] = revenue[:, start : j + 1].sum(axis=1)

    monthly_rows: list[list[str]] = []
    cumulative_rows: list[list[str]] = []
    for j in np.flatnonzero(written):
        period = _month_str(months[j])
        for r, code in enumerate(ECON_REGIONS):
            monthly_rows.append(
                [
                    period,
                    code,
                    _fmt(cpi[r, j], 1),
                    _fmt(retail[r, j], 2),
                    _fmt(trade[r, j], 2),
                    str(round(entities[r, j - 12])),
                ]
            )
            if month_of_year[j] == 0:
                continue  # January is published together with February (1-2月)
            cumulative_rows.append(
                [
                    period,
                    code,
                    _fmt(industry_cum[r, j], 1),
                    _fmt(fai_cum[r, j], 1),
                    _fmt(revenue_cum[r, j], 2),
                    _fmt(retail_cum[r, j], 1),
                ]
            )
    _write_csv(
        out_dir / "econ_monthly.csv",
        ["period", "region_code", "cpi", "retail_sales", "exports_imports", "new_entities"],
        monthly_rows,
    )
    _write_csv(
        out_dir / "econ_cumulative.csv",
        ["period", "region_code", "industry_growth", "fai_growth", "budget_revenue", "retail_growth"],
        cumulative_rows,
    )

    # Quarterly 累计: GDP, its real growth, per-capita disposable income.
    quarterly_rows: list[list[str]] = []
    gdp_drift = rng.normal(0, 0.01, regions)
    for year in range(2021, 2027):
        for q in range(4):
            if (year, q + 1) > LAST_QUARTER:
                break
            ty = year - 2021
            city_gdp = GDP_ANNUAL[year] * GDP_QUARTER_SHARE[q] * (1 + rng.normal(0, 0.004))
            city_growth = GDP_GROWTH[year][q] + rng.normal(0, 0.08)
            city_income = INCOME_ANNUAL[year] * INCOME_QUARTER_SHARE[q] * (1 + rng.normal(0, 0.003))
            for r, code in enumerate(ECON_REGIONS):
                if r == 0:
                    gdp, growth, income = city_gdp, city_growth, city_income
                else:
                    gdp = city_gdp * GDP_SHARE[r - 1] * np.exp(gdp_drift[r] * ty) * (1 + rng.normal(0, 0.012))
                    growth = city_growth + 0.6 * REGION_GROWTH_OFFSET[r] + rng.normal(0, 0.35)
                    income = city_income * INCOME_FACTOR[r] * (1 + rng.normal(0, 0.006))
                quarterly_rows.append(
                    [f"{year}-Q{q + 1}", code, _fmt(gdp, 2), _fmt(growth, 1), str(round(income))]
                )
    _write_csv(
        out_dir / "econ_quarterly.csv",
        ["period", "region_code", "gdp", "gdp_growth", "disposable_income"],
        quarterly_rows,
    )

    # City-only monthly series: 城镇调查失业率.
    unemployment_year = {2020: 5.6, 2021: 5.2, 2022: 5.45, 2023: 5.25, 2024: 5.15, 2025: 5.2, 2026: 5.15}
    seasonal = np.array([0.05, 0.3, 0.15, 0.05, -0.05, 0.0, 0.12, 0.1, -0.05, -0.1, -0.1, -0.05])
    unemployment = _by_year(unemployment_year, months) + seasonal[month_of_year] + _ar1(rng, n, 0.05, 0.5)
    city_rows = [[_month_str(months[j]), _fmt(unemployment[j], 1)] for j in np.flatnonzero(written)]
    _write_csv(out_dir / "econ_city_monthly.csv", ["period", "unemployment_rate"], city_rows)

    return {
        "econ_monthly.csv": len(monthly_rows),
        "econ_cumulative.csv": len(cumulative_rows),
        "econ_quarterly.csv": len(quarterly_rows),
        "econ_city_monthly.csv": len(city_rows),
    }


# --------------------------------------------------------------------------- entry points


def generate(
    out_dir: Path, seed: int = DEFAULT_SEED, service_rows: int = DEFAULT_SERVICE_ROWS
) -> dict[str, int]:
    """Write the sample city into ``out_dir``; return each file's row count.

    ``service_rows`` sets the number of 一网通办 cases; the other record files
    scale with it, the published statistics do not.
    """
    if service_rows < 1000:
        raise ValueError("service_rows must be at least 1000")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / STAMP_NAME
    stamp.unlink(missing_ok=True)  # a half-written sample is never taken as ready

    scale = service_rows / DEFAULT_SERVICE_ROWS
    rng_service, rng_hotline, rng_eval, rng_startup, rng_property, rng_econ = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    tables = {
        "service_records.parquet": service_records(rng_service, service_rows),
        "hotline_tickets.parquet": hotline_tickets(rng_hotline, scale),
        "evaluations.parquet": evaluations(rng_eval, round(EVALUATIONS_FULL * scale)),
        "enterprise_startups.parquet": enterprise_startups(rng_startup, round(STARTUPS_FULL * scale)),
        "property_registrations.parquet": property_registrations(rng_property, round(PROPERTY_FULL * scale)),
    }
    summary: dict[str, int] = {}
    for name, table in tables.items():
        _write_parquet(table, out_dir / name)
        summary[name] = table.num_rows
    summary.update(econ_files(rng_econ, out_dir))
    # made-up region polygons for the map page (org.geojson); no randomness drawn from the seed
    write_geojson(out_dir / GEOJSON_NAME)
    summary[GEOJSON_NAME] = sum(1 for _ in CITY.walk())  # one polygon per region

    stamp.write_text(
        f"generator_version={GENERATOR_VERSION}\nseed={seed}\nservice_rows={service_rows}\n", encoding="utf-8"
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample.generate", description="Generate the sample city 示范市."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_SERVICE_ROWS,
        help="number of 一网通办 cases; other record files scale with it (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    started = time.perf_counter()
    summary = generate(args.out, seed=args.seed, service_rows=args.rows)
    elapsed = time.perf_counter() - started
    for name, rows in summary.items():
        print(f"{name:34s} {rows:>10,d} rows")
    print(f"wrote {CITY.name} (seed {args.seed}) to {args.out} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
