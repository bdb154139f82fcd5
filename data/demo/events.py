"""Events of the last 90 days: hotspots and background near homes, categories, times and statuses."""
from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

from data import names as nm
from data.demo.plane import contains_by_group, snap
from data.demo.records import Buildings, Events, GridRec, Scale
from gis.core import clock
from gis.core.models import EVENT_STATUSES

# The statuses the generator draws, one probability each below ('merged' needs a case to join).
DEMO_STATUSES = ("reported", "registered", "dispatched", "in_progress", "handled", "closed", "rejected")
assert set(DEMO_STATUSES) <= set(EVENT_STATUSES)
DAYS = 90
# Every demo event lies inside a grid, at least this far from its edges, so that which grid
# it is in never hangs on the last bits of a projection (the loader assigns events in WGS84).
EVENT_EDGE_MARGIN_M = 0.5
EVENT_PULLS = 4  # halvings of its offset from its building before an event is put on the building


# How often each major class is reported (share of all cases), before the hotspots.
MAJOR_MIX = {
    ("event", "市容环境"): 22, ("event", "街面秩序"): 20, ("event", "宣传广告"): 8, ("event", "施工管理"): 6,
    ("event", "突发事件"): 2, ("event", "其他"): 2, ("event", "矛盾纠纷"): 10, ("event", "安全隐患"): 9,
    ("event", "公共服务"): 11, ("component", "公用设施"): 3, ("component", "道路交通"): 3,
    ("component", "市容环境"): 1.5, ("component", "园林绿化"): 1.5, ("component", "房屋土地"): 0.5,
    ("component", "其他"): 0.5,
}
# Hotspots: what kind of place, which categories (by name) dominate there, when it is busy.
THEMES = {
    "market": (("无照经营游商", "店外经营", "暴露垃圾", "非机动车乱停放", "占道废品收购"), "day", "农贸市场"),
    "construction": (("施工扰民", "工地扬尘", "无证掘路", "积存垃圾渣土"), "day", "建设工地"),
    "old_compound": (("邻里纠纷", "物业纠纷", "消防安全隐患", "电动车违规充电", "高空坠物隐患", "环境卫生诉求"),
                     "evening", "老旧小区"),
    "school_gate": (("机动车乱停放", "非机动车乱停放", "交通信号灯", "无照经营游商"), "school", "校门口"),
    "night_market": (("店外经营", "暴露垃圾", "道路不洁", "施工扰民"), "night", "夜市街"),
    "village": (("电动车违规充电", "消防安全隐患", "乱堆物堆料", "土地纠纷", "违规张贴悬挂广告"), "evening", "城中村"),
}
THEME_SHARES = {"market": 0.2, "construction": 0.15, "old_compound": 0.2, "school_gate": 0.1,
                "night_market": 0.15, "village": 0.2}
USE_THEMES = {
    "old": ("old_compound", "night_market", "market"), "urban_estate": ("old_compound",),
    "urban_mixed": ("night_market", "old_compound"), "commercial": ("night_market", "market"),
    "village": ("village",), "suburb_estate": ("construction",), "industrial": ("construction",),
    "farmland": ("construction",), "school": ("school_gate",), "market": ("market",),
    "hospital": ("market",), "park": ("night_market",),
}
HOURS = {
    "day": np.array([0, 0, 0, 0, 0, 1, 2, 5, 9, 10, 10, 9, 7, 7, 8, 9, 9, 8, 6, 4, 3, 2, 1, 0], float),
    "evening": np.array([1, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 5, 5, 6, 6, 7, 8, 9, 10, 9, 7, 4, 2], float),
    "school": np.array([0, 0, 0, 0, 0, 1, 3, 12, 6, 2, 2, 5, 6, 3, 2, 3, 10, 12, 4, 1, 1, 0, 0, 0], float),
    "night": np.array([3, 2, 1, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 5, 9, 12, 13, 12, 9, 6], float),
}
DESCRIPTIONS = {
    "矛盾纠纷": "群众反映{t}，当事双方情绪激动，请网格员尽快上门调解。",
    "安全隐患": "巡查发现{t}，存在安全风险，请尽快核实并督促整改。",
    "公共服务": "居民来电求助：{t}，请社区跟进办理并回复。",
    "突发事件": "紧急：{t}，已影响通行，请立即派员处置。",
}


def _category_weights(cats: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([c["code"] for c in cats])
    weights = np.zeros(len(cats))
    by_major: dict[tuple, list[int]] = {}
    for i, c in enumerate(cats):
        by_major.setdefault((c.get("kind", "event"), c.get("major_name", "")), []).append(i)
    for key, idx in by_major.items():
        share = MAJOR_MIX.get(key, 1.0)
        decay = np.array([0.7 ** k for k in range(len(idx))])  # scalar pow, not NumPy's SIMD kernels
        weights[idx] = share * decay / decay.sum()
    return codes, weights / weights.sum()


def _hotspot_place(theme: str, grid: GridRec, building_name: str, pool: nm.NamePool) -> str:
    """What people call the place of a hotspot, e.g. 锦湖农贸市场, 东港村, 丽景花园."""
    community = grid.name.split("第")[0] if "第" in grid.name else grid.name.removesuffix("网格")
    if theme == "old_compound":
        return building_name.rstrip("0123456789栋号楼")
    if theme == "village":
        return community if community.endswith("村") else community + "城中村"
    if theme == "school_gate":
        return pool.any() + "小学校门口"
    if theme == "construction":
        return pool.any() + "项目"
    return pool.any() + THEMES[theme][2]


def draw_events(grids, b: Buildings, sc: Scale, rng, as_of: dt.datetime, cats: list[dict], to_ll,
                pool: nm.NamePool):
    """Events over the last 90 days: hotspots plus background near homes."""
    cats = [c for c in cats if str(c.get("active", "true")).lower() not in ("false", "f", "0")]
    codes, weights = _category_weights(cats)
    by_name = {c["name"]: c["code"] for c in cats}
    cat_name = {c["code"]: c["name"] for c in cats}
    cat_major = {c["code"]: c.get("major_name", "") for c in cats}
    urgent = {c["code"]: bool(c.get("urgent")) for c in cats}
    n = sc.events
    # Days are the district's days: day 0 starts at local midnight DAYS - 1 days before today, so a
    # market's morning and a night market's evening fall at those local hours (times stay UTC here).
    tz = clock.zone(clock.DEFAULT_ZONE)
    first_day = as_of.astimezone(tz).date() - dt.timedelta(days=DAYS - 1)
    start = np.datetime64(clock.midnight(first_day, tz).astimezone(dt.UTC).replace(tzinfo=None), "s")

    # Hotspots: first the kind of place (a fixed mix), then a building on land of a fitting use.
    n_hot = max(6, len(grids) // 25)
    use_of = np.array([g.use for g in grids])[b.grid]
    themes, shares = zip(*THEME_SHARES.items(), strict=True)
    hotspots = []
    taken: set[int] = set()
    fitting: dict[str, np.ndarray] = {}  # theme → buildings on land of a fitting use, found once
    for rank in range(n_hot):
        theme = str(rng.choice(themes, p=np.array(shares) / sum(shares)))
        if theme not in fitting:
            uses = [u for u, ts in USE_THEMES.items() if theme in ts]
            found = np.flatnonzero(np.isin(use_of, uses))
            fitting[theme] = found if len(found) else np.arange(len(b))
        cand = fitting[theme]
        bi = int(cand[rng.integers(0, len(cand))])
        if bi in taken:
            continue
        taken.add(bi)
        g = grids[b.grid[bi]]
        first = int(rng.integers(0, 70))
        hotspots.append(dict(building=int(bi), theme=theme, sigma=float(rng.uniform(25, 90)),
                             intensity=1.0 / (rank + 1) ** 0.7, first_day=first,
                             last_day=int(min(DAYS, first + rng.integers(20, 91))),
                             place=_hotspot_place(theme, g, b.name[bi], pool)))
    is_hot = rng.random(n) < 0.5
    hot_idx = np.full(n, -1)
    inten = np.array([h["intensity"] for h in hotspots])
    hot_idx[is_hot] = rng.choice(len(hotspots), int(is_hot.sum()), p=inten / inten.sum())

    # Positions: around the hotspot, or near a home (weighted by residents).
    x = np.empty(n)
    y = np.empty(n)
    hs = hot_idx[is_hot]
    hb_arr = np.array([h["building"] for h in hotspots])
    sig = np.array([h["sigma"] for h in hotspots])
    x[is_hot] = b.cx[hb_arr[hs]] + rng.normal(0, 1, len(hs)) * sig[hs]
    y[is_hot] = b.cy[hb_arr[hs]] + rng.normal(0, 1, len(hs)) * sig[hs]
    bg = ~is_hot
    pw = (b.population + 15).astype(float)
    home = rng.choice(len(b), int(bg.sum()), p=pw / pw.sum())
    x[bg] = b.cx[home] + rng.normal(0, 14, len(home))
    y[bg] = b.cy[home] + rng.normal(0, 14, len(home))
    source = np.empty(n, dtype=int)  # the building each event was drawn around
    source[is_hot], source[bg] = hb_arr[hs], home
    x, y = _inside_grids(x, y, b.cx[source], b.cy[source], b.grid[source], grids)
    lonlat = to_ll(np.column_stack([x, y]))

    # Categories: the theme's own most of the time at a hotspot, else the district mix.
    cat = rng.choice(codes, n, p=weights)
    for h_i, h in enumerate(hotspots):
        own = [by_name[nm_] for nm_ in THEMES[h["theme"]][0] if nm_ in by_name]
        sel = np.flatnonzero((hot_idx == h_i) & (rng.random(n) < 0.75))
        if own and len(sel):
            cat[sel] = rng.choice(own, len(sel))

    # Times: recent days a little busier, weekends quieter, hours by the place's rhythm.
    weekday = (first_day.weekday() + np.arange(DAYS)) % 7  # 0 = Monday, of the local day
    per_day = (1 + 0.4 * np.arange(DAYS) / (DAYS - 1)) * np.where(weekday >= 5, 0.75, 1.0)
    day = rng.choice(DAYS, n, p=per_day / per_day.sum())
    for h_i, h in enumerate(hotspots):
        sel = hot_idx == h_i
        day[sel] = rng.integers(h["first_day"], max(h["first_day"] + 1, h["last_day"]), int(sel.sum()))
    rhythm = np.array(["day"] * n, dtype=object)
    for h_i, h in enumerate(hotspots):
        rhythm[hot_idx == h_i] = THEMES[h["theme"]][1]
    hour = np.empty(n, dtype=int)
    for key, prof in HOURS.items():
        sel = rhythm == key
        hour[sel] = rng.choice(24, int(sel.sum()), p=prof / prof.sum())
    secs = day.astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    occurred = start + secs.astype("timedelta64[s]")
    end = np.datetime64(as_of.replace(tzinfo=None), "s")
    # Today's hours still to come happened yesterday at the same hour instead (no pile-up at "now").
    occurred = np.where(occurred > end - np.timedelta64(600, "s"), occurred - np.timedelta64(86400, "s"), occurred)
    occurred = np.minimum(occurred, end - np.timedelta64(600, "s"))
    delay = np.minimum(rng.exponential(25 * 60, n).astype(np.int64) + 60, 6 * 3600)
    reported = np.minimum(occurred + delay.astype("timedelta64[s]"), end)

    # Statuses follow the age of the case; urgent categories close sooner.
    age_days = (end - occurred).astype(np.int64) / 86400
    urg = np.array([urgent.get(c, False) for c in cat])
    age_days = np.where(urg, age_days * 2.5, age_days)
    status = np.empty(n, dtype=object)
    bands = (
        (age_days < 3, (0.2, 0.18, 0.2, 0.2, 0.1, 0.1, 0.02)),
        ((age_days >= 3) & (age_days < 10), (0.02, 0.04, 0.08, 0.12, 0.15, 0.56, 0.03)),
        (age_days >= 10, (0.0, 0.01, 0.01, 0.02, 0.04, 0.88, 0.04)),
    )
    for sel, p in bands:
        status[sel] = rng.choice(DEMO_STATUSES, int(sel.sum()), p=np.array(p) / sum(p))
    work = np.minimum((end - reported).astype(np.int64), (age_days * 0.3 * 86400).astype(np.int64) + 1800)
    updated = reported + np.maximum(work, 0).astype("timedelta64[s]")

    accuracy = np.where(rng.random(n) < 0.6, np.round(rng.uniform(3, 30, n), 1), np.nan)
    spots = [h["place"] + ("附近" if h["theme"] == "old_compound" else "") for h in hotspots]
    place = np.empty(n, dtype=object)
    place[is_hot] = np.array(spots, dtype=object)[hot_idx[is_hot]]
    place[bg] = np.array(b.name, dtype=object)[home] + "附近"
    cname = np.array([cat_name[c] for c in codes], dtype=object)[np.searchsorted(codes, cat)] \
        if np.all(codes[:-1] <= codes[1:]) else np.array([cat_name[c] for c in cat], dtype=object)
    titles = (place + cname).tolist()
    template = {m: DESCRIPTIONS.get(m, "网格员巡查发现：{t}，请相关部门处理。") for m in set(cat_major.values())}
    majors = [cat_major[c] for c in cat]
    descs = [template[m].format(t=t) for m, t in zip(majors, titles, strict=True)]
    # Residents who report disputes, hazards and requests often leave a name and phone.
    resident = np.isin(np.array(majors, dtype=object), ["矛盾纠纷", "公共服务", "安全隐患"]) & (rng.random(n) < 0.45)
    who = nm.person_names(rng, int(resident.sum()))
    phones = nm.phone_numbers(rng, int(resident.sum()))
    honor = rng.choice(["女士", "先生"], int(resident.sum()))
    contacts: list[dict | None] = [None] * n
    for j, i in enumerate(np.flatnonzero(resident)):
        contacts[i] = {"name": who[j][0] + honor[j], "phone": phones[j]}
    events = Events(lonlat[:, 0], lonlat[:, 1], cat, titles, descs, status.astype(str), occurred, reported, updated,
                    accuracy, contacts, hot_idx, source)
    return events, hotspots


def _inside_grids(x: np.ndarray, y: np.ndarray, sx: np.ndarray, sy: np.ndarray, sg: np.ndarray,
                  grids: list[GridRec]) -> tuple[np.ndarray, np.ndarray]:
    """Event positions snapped to 1 cm and at least EVENT_EDGE_MARGIN_M inside a grid.

    (sx, sy) is the centre of the building each event was drawn around and sg that building's
    grid. A position in no grid (it fell in the bay, beyond the outline, or on a grid's edge) is
    pulled halfway back towards its building, again if need be, and at last onto the building's
    centre, which is always well inside its grid.
    """
    inner = shapely.buffer(np.array([g.geom_m for g in grids], dtype=object), -EVENT_EDGE_MARGIN_M)
    x, y = snap(x), snap(y)
    # Most stay in their building's grid: test those by grid, the rest against every grid.
    todo = np.flatnonzero(~contains_by_group(inner, sg, x, y))
    tree = shapely.STRtree(inner)
    for pull in range(EVENT_PULLS + 2):
        inside, _ = tree.query(shapely.points(x[todo], y[todo]), predicate="within")
        todo = np.delete(todo, inside)
        if not len(todo):
            return x, y
        if pull > EVENT_PULLS:
            break
        keep = 0.5 if pull < EVENT_PULLS else 0.0
        x[todo] = snap(sx[todo] + (x[todo] - sx[todo]) * keep)
        y[todo] = snap(sy[todo] + (y[todo] - sy[todo]) * keep)
    raise RuntimeError(f"{len(todo)} demo events lie outside every grid even on their building's centre")
