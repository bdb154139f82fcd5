import datetime as dt
from gis import workflow, stats
from tests.factories import hierarchy, grid, rect, event, person

def test_smoke(session):
    _, _, com = hierarchy(session)
    g = grid(session, com, 1, rect(0, 0, 200, 200))
    w, _ = person(session, "worker", "w1", grids=[g.code])
    w2, _ = person(session, "worker", "w2", grids=[g.code])
    c, _ = person(session, "commander", "c1")
    e = event(session, grid=g, reporter=w)
    for user, move, kw in [(c, "register", {}), (c, "dispatch", {"handler": "w1"}), (w, "start", {}),
                           (w, "handle", {"note": "done"}), (w2, "rework", {"note": "not clean"}),
                           (w, "handle", {"note": "done again"}), (w2, "verify", {})]:
        workflow.apply_move(session, e.id, user, move, **kw)
    session.commit()
    print(workflow.timeline(session, e.id))
    print(workflow.case_summary(session, e))
    print(session.execute(__import__("sqlalchemy").text("select * from case_stats_daily")).all())
    r = stats.indicators(session, stats.StatsQuery(group="grid"))
    print(r.as_dict())
    print(stats.to_csv(r))
    print(workflow.tick(session))
    print(workflow.find_duplicates(session, category="16001", lon=121.4705, lat=31.2305, at=dt.datetime.now(dt.UTC)))
