"""Every write route leaves audit rows naming the caller, how they came, their address and the request id."""
from __future__ import annotations

import datetime as dt
import io
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from api.auth import SAFE_METHODS
from tests.conftest import auth
from tests.factories import cadre, lonlat, three_grids
from tests.images import photo

# Write routes that need no audit row here, each with its reason. Anything else that accepts a
# write must have a recipe below, so a new write route without an audit row fails this test.
EXEMPT = {
    "auth.login": "a form post with its own audit rows (login, login_failed): tests/api/test_login_security.py",
    "auth.logout": "a form post with its own audit row (logout): tests/api/test_login_security.py",
    "grids.validate": "a dry run: checks an edit and rolls back, writes nothing",
    "grids.preview": "a dry run: runs the commit and rolls it back, writes nothing",
}
ADDRESS = "10.9.8.7"
FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()


def _contract(ctx, **body) -> tuple[int, str]:
    made = ctx.client.post("/api/v1/contracts", headers=auth(ctx.planner),
                           json={"cadre_code": "C001", "grid_code": ctx.g["b"].code, "role": "包片", **body})
    assert made.status_code == 201, made.get_data(as_text=True)
    return made.json["id"], made.headers["ETag"]


def _etags(ctx, *codes) -> str:
    return ", ".join(ctx.client.get(f"/api/v1/grids/{c}", headers=auth(ctx.planner)).headers["ETag"] for c in codes)


def _event(ctx) -> int:
    lon, lat = lonlat(50, 50)
    made = ctx.client.post("/api/v1/events", headers=auth(ctx.commander),
                           json={"lon": lon, "lat": lat, "category": "11002", "title": "积存垃圾"})
    assert made.status_code == 201, made.get_data(as_text=True)
    return made.json["id"]


def _open311(ctx):
    lon, lat = lonlat(60, 60)
    return {"json": {"service_code": "11002", "lat": lat, "long": lon, "description": "垃圾"}}


def _public_report(ctx) -> int:
    made = ctx.client.post("/open311/v2/requests.json", headers=auth(ctx.commander), **_open311(ctx))
    assert made.status_code == 201, made.get_data(as_text=True)
    return int(made.json[0]["service_request_id"])


def _department(ctx, code: str = "CGJ") -> str:
    made = ctx.client.post("/api/v1/departments", headers=auth(ctx.admin),
                           json={"code": code, "name": "城管执法局", "level": "district"})
    assert made.status_code == 201, made.get_data(as_text=True)
    return code


# endpoint: ctx → (role, method, path, request kwargs); earlier requests a recipe makes are set-up.
RECIPES = {
    "contracts.add_contract": lambda ctx: ("planner", "POST", "/api/v1/contracts", {"json": {
        "cadre_code": "C001", "grid_code": ctx.g["a"].code, "role": "包片"}}),
    "contracts.patch_contract": lambda ctx: (lambda made: ("planner", "PATCH", f"/api/v1/contracts/{made[0]}", {
        "json": {"valid_to": "2099-01-01"}, "headers": {"If-Match": made[1]}}))(_contract(ctx)),
    "contracts.end": lambda ctx: (lambda made: ("planner", "POST", f"/api/v1/contracts/{made[0]}/end", {
        "json": {"on": FUTURE}, "headers": {"If-Match": made[1]}}))(_contract(ctx, valid_from="2020-01-01")),
    "contracts.withdraw": lambda ctx: (lambda made: ("planner", "DELETE", f"/api/v1/contracts/{made[0]}", {
        "headers": {"If-Match": made[1]}}))(_contract(ctx, valid_from=FUTURE)),
    "contracts.import_": lambda ctx: ("planner", "POST", "/api/v1/contracts/import", {
        "data": f"cadre_code,grid_code,role,valid_from,valid_to\nC002,{ctx.g['c'].code},包片,2021-01-01,\n",
        "content_type": "text/csv"}),
    "events.report": lambda ctx: ("worker", "POST", "/api/v1/events", {"json": dict(zip(
        ("lon", "lat"), lonlat(40, 40))) | {"category": "11001", "title": "暴露垃圾"}}),
    "workflow.make_move": lambda ctx: ("commander", "POST", f"/api/v1/events/{_event(ctx)}/moves", {
        "json": {"move": "register"}}),
    "workflow.put_setting": lambda ctx: ("admin", "PUT", "/api/v1/workflow/settings/ranking_min_count", {
        "json": {"value": 3}}),
    "users.add_user": lambda ctx: ("admin", "POST", "/api/v1/users", {"json": {"name": "新用户", "role": "viewer",
                                                                                "password": "long enough"}}),
    "grids.commit": lambda ctx: ("planner", "POST", "/api/v1/grid-edits", {
        "json": {"op": "retire", "grid": ctx.g["c"].code, "into": ctx.g["b"].code, "note": "并入邻格"},
        "headers": {"If-Match": _etags(ctx, ctx.g["b"].code, ctx.g["c"].code)}}),
    "events.publish_event": lambda ctx: ("commander", "POST", f"/api/v1/events/{_public_report(ctx)}/publish", {
        "json": {"reply": "已安排清运"}}),
    "users.set_my_lang": lambda ctx: ("worker", "PATCH", "/api/v1/me", {"json": {"lang": "en"}}),
    "users.sign_out_everywhere": lambda ctx: ("admin", "POST", f"/api/v1/users/{ctx.names['worker']}/signout", {}),
    "open311.create_request": lambda ctx: ("commander", "POST", "/open311/v2/requests.json", _open311(ctx)),
    "open311.create_request_bare": lambda ctx: ("commander", "POST", "/open311/v2/requests", _open311(ctx)),
    "departments.post_department": lambda ctx: ("admin", "POST", "/api/v1/departments", {
        "json": {"code": "SWJ", "name": "水务局", "level": "district"}}),
    "departments.post_responsibilities": lambda ctx: ("admin", "POST", "/api/v1/responsibilities/import", {
        "data": f"category,level,owner,valid_from\n11002,grid,{_department(ctx)},2021-01-01\n",
        "content_type": "text/csv"}),
    "attachments.upload": lambda ctx: ("worker", "POST", f"/api/v1/events/{_event(ctx)}/attachments", {
        "data": {"file": (io.BytesIO(photo(lonlat=lonlat(50, 50))), "p.jpg")}, "content_type": "multipart/form-data"}),
}


def _write_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if (rule.methods or set()) - SAFE_METHODS}


@pytest.fixture
def ctx(app, session, make_user):
    g = three_grids(session)
    cadre(session, "C001")
    cadre(session, "C002")
    session.commit()
    names = {role: f"审计-{role}" for role in ("admin", "planner", "commander", "worker")}
    tokens = {role: make_user(role, name=name, grids=[g["a"].code] if role == "worker" else ())
              for role, name in names.items()}
    return SimpleNamespace(client=app.test_client(), g=g, names=names, **tokens)


def test_every_write_route_has_a_recipe_or_a_reason(app):
    assert _write_endpoints(app) - set(EXEMPT) - set(RECIPES) == set(), "a write route neither audited nor exempt"
    assert set(RECIPES) | set(EXEMPT) <= _write_endpoints(app), "a recipe or exemption for a route that is gone"


@pytest.mark.parametrize("endpoint", sorted(RECIPES))
def test_a_successful_write_leaves_audit_rows_with_its_origin(ctx, session, endpoint):
    role, method, path, kwargs = RECIPES[endpoint](ctx)
    request_id = f"audit-{uuid.uuid4().hex[:12]}"
    headers = auth(getattr(ctx, role)) | kwargs.pop("headers", {}) | {"X-Request-Id": request_id}
    answer = ctx.client.open(path, method=method, headers=headers, environ_base={"REMOTE_ADDR": ADDRESS}, **kwargs)
    assert answer.status_code < 300, answer.get_data(as_text=True)
    rows = session.execute(text("SELECT actor, via, address, action FROM audit_log WHERE request_id = :rid"),
                           {"rid": request_id}).all()
    assert rows, f"{method} {path} wrote no audit row"
    assert {(actor, via, address) for actor, via, address, _ in rows} == {(ctx.names[role], "token", ADDRESS)}


@pytest.mark.parametrize("endpoint", ["grids.validate", "grids.preview"])
def test_a_dry_run_leaves_no_audit_row(ctx, session, endpoint):
    path = {"grids.validate": "/api/v1/grid-edits/validate", "grids.preview": "/api/v1/grid-edits/preview"}[endpoint]
    answer = ctx.client.post(path, headers=auth(ctx.planner) | {"X-Request-Id": "dry-run"},
                             json={"op": "retire", "grid": ctx.g["c"].code, "into": ctx.g["b"].code})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert session.scalar(text("SELECT count(*) FROM audit_log WHERE request_id = 'dry-run'")) == 0
