"""Cadres of every type and their contracts: most grids held, some twice, a few by nobody."""
from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

from data import names as nm
from data.demo.layout import largest_remainder
from data.demo.plane import multi, plane_to_lonlat
from data.demo.records import DISTRICT_NAME, Area, GridRec, Scale
from gis.core import clock
from gis.core.models import CADRE_TYPES

CADRE_ROLES = {
    "镇街领导": ("包片领导",),
    "三官一律": ("驻村法官", "联系检察官", "社区民警", "法律顾问"),
    "机关干部": ("联系干部",),
    "网格员": ("专职网格员",),
    "下沉力量": ("下沉巡查",),
    "社会力量": ("志愿服务",),
}
CADRE_PREFIX = {"镇街领导": "LD", "三官一律": "SG", "机关干部": "JG", "网格员": "WG", "下沉力量": "XC",
                "社会力量": "SH"}


def draw_cadres(areas: list[Area], grids: list[GridRec], sc: Scale, rng, as_of: dt.datetime):
    """Cadres of every type and their contracts: most grids held, some by two, a few by nobody."""
    streets = [a for a in areas if a.level == "street"]
    comms = [a for a in areas if a.level == "community"]
    grids_of: dict[str, list[GridRec]] = {}
    for g in grids:
        grids_of.setdefault(g.community_code, []).append(g)
    today = as_of.astimezone(clock.zone(clock.DEFAULT_ZONE)).date()  # the district's today
    cadres: list[dict] = []
    contracts: list[dict] = []
    counters: dict[str, int] = {}

    def new_cadre(ctype: str, street: Area, org: str) -> dict:
        counters[street.code + ctype] = counters.get(street.code + ctype, 0) + 1
        code = f"{CADRE_PREFIX[ctype]}{street.code}{counters[street.code + ctype]:03d}"
        c = dict(code=code, name="", type=ctype, organisation=org, phone="")
        cadres.append(c)
        return c

    def contract(c: dict, codes: list[str], role: str, since_days: int, until: dt.date | None = None):
        start = today - dt.timedelta(days=since_days)
        for code in codes:
            contracts.append(dict(cadre_code=c["code"], grid_code=code, role=role, valid_from=start,
                                  valid_to=until, geom=None))

    # Budget by type, scaled to the wanted total.
    n_workers = max(1, round(len(grids) / sc.grids_per_worker))
    rest = max(0, sc.cadres - n_workers)
    budget = {"镇街领导": max(len(streets), round(rest * 0.22)), "三官一律": round(rest * 0.42),
              "机关干部": round(rest * 0.22), "下沉力量": max(1, round(rest * 0.07)),
              "社会力量": max(1, round(rest * 0.07))}
    street_of = {a.code: a for a in streets}

    # 网格员: each community's grids in code order, in runs; a few posts vacant, a few shared.
    per_comm = largest_remainder(np.array([len(grids_of.get(c.code, [])) for c in comms], float), n_workers)
    for comm, k in zip(comms, per_comm, strict=True):
        gs = grids_of.get(comm.code, [])
        if not gs:
            continue
        street = street_of[comm.parent_code]
        runs = np.array_split(np.arange(len(gs)), max(1, int(k)))
        last: tuple[dict, list[str]] | None = None
        for run in runs:
            if not len(run):
                continue
            c = new_cadre("网格员", street, f"{comm.name}网格化服务管理站")
            held = [gs[i].code for i in run]
            r = rng.random()
            if r < 0.10 and len(held) > 1:
                held = held[:-1]  # the last grid of the run is vacant
            elif r < 0.14:
                held = []  # the post is vacant: the cadre waits for an assignment
            if rng.random() < 0.06 and held:
                # This post changed hands last month: the old contract ended.
                old = new_cadre("网格员", street, c["organisation"])
                contract(old, held, "专职网格员", int(rng.integers(400, 900)), today - dt.timedelta(days=30))
                contract(c, held, "专职网格员", 30)
            else:
                contract(c, held, "专职网格员", int(rng.integers(60, 900)))
            if last is not None and held and rng.random() < 0.5:
                # The previous worker also covers the first grid of this run (兼职): held twice.
                contract(last[0], held[:1], "兼职网格员", int(rng.integers(10, 200)))
            last = (c, held)

    # 镇街领导: each leader 包片 whole communities of their street; the secretary holds two more.
    by_street = {s.code: [c for c in comms if c.parent_code == s.code] for s in streets}
    per_street = np.maximum(1, largest_remainder(np.array([len(by_street[s.code]) for s in streets], float),
                                                  budget["镇街领导"]))
    for s, k in zip(streets, per_street, strict=True):
        cs = by_street[s.code]
        leaders = [new_cadre("镇街领导", s, s.name + ("党工委" if s.name.endswith("街道") else "党委"))
                   for _ in range(int(k))]
        covered = cs[: max(1, len(cs) - (1 if len(cs) > 3 else 0))]  # one community waits for a leader
        for j, comm in enumerate(covered):
            contract(leaders[j % len(leaders)], [g.code for g in grids_of.get(comm.code, [])], "包片领导",
                     int(rng.integers(100, 700)))
        if len(cs) > 1 and len(leaders) > 1:
            # The secretary also holds a second community, already held by a colleague.
            contract(leaders[0], [g.code for g in grids_of.get(cs[1].code, [])], "包片领导", 45)

    # 三官一律 and 机关干部: each assigned into one community (进村入网).
    for ctype, orgs in (("三官一律", None), ("机关干部", nm.AGENCIES)):
        for j in range(budget[ctype]):
            comm = comms[int(rng.integers(0, len(comms)))]
            s = street_of[comm.parent_code]
            if ctype == "三官一律":
                role = CADRE_ROLES[ctype][j % 4]
                org = {"驻村法官": f"{DISTRICT_NAME}人民法院", "联系检察官": f"{DISTRICT_NAME}人民检察院",
                       "社区民警": f"{s.name.removesuffix('街道').removesuffix('镇')}派出所",
                       "法律顾问": f"{nm.SURNAMES[j % len(nm.SURNAMES)]}{'信诚和达'[j % 4]}律师事务所"}[role]
            else:
                role, org = "联系干部", orgs[j % len(orgs)]
            c = new_cadre(ctype, s, org)
            contract(c, [g.code for g in grids_of.get(comm.code, [])], role, int(rng.integers(30, 500)))

    # 下沉力量 and 社会力量: drawn patrol / service areas that cut across grids.
    for ctype in ("下沉力量", "社会力量"):
        for j in range(budget[ctype]):
            g = grids[int(rng.integers(0, len(grids)))]
            s = street_of[next(a.parent_code for a in comms if a.code == g.community_code)]
            org = ("区城管执法局" if j % 2 else f"{s.name}综合执法队") if ctype == "下沉力量" else \
                f"{s.name.removesuffix('街道').removesuffix('镇')}{nm.SOCIAL_ORGS[j % len(nm.SOCIAL_ORGS)]}"
            c = new_cadre(ctype, s, org)
            area = g.geom_m.centroid.buffer(float(rng.uniform(250, 600)), quad_segs=8)
            area = area.intersection(shapely.coverage_union_all([a.geom_m for a in areas if a.level == "district"]))
            contracts.append(dict(cadre_code=c["code"], grid_code=None, role=CADRE_ROLES[ctype][0],
                                  valid_from=today - dt.timedelta(days=int(rng.integers(10, 300))), valid_to=None,
                                  geom=multi(shapely.transform(area, plane_to_lonlat()))))

    who = nm.person_names(rng, len(cadres))
    phones = nm.phone_numbers(rng, len(cadres))
    for c, name, phone in zip(cadres, who, phones, strict=True):
        c["name"], c["phone"] = name, phone
    assert set(c["type"] for c in cadres) == set(CADRE_TYPES)
    return cadres, contracts
