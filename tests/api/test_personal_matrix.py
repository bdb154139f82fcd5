"""Role × personal field × output: every declared field is shown to its readers only, in the outputs declared
for it, never in a layer, a tile or the public view; free text is masked for everyone else; reads are audited."""
from __future__ import annotations

import io
import json
import math

import mapbox_vector_tile
import pytest
from sqlalchemy import func, select

from gis.core import personal
from gis.core.models import ROLES, AuditEntry, Event, EventMove, User
from gis.duties import create_department, set_member
from layers.registry import LAYERS
from tests.conftest import auth
from tests.factories import grid, hierarchy, lonlat, point_event, rect
from tests.images import gps_of, photo

PHONE, MASKED_PHONE = "13812345678", "138****5678"
ID_NUMBER = "350203198807150012"
ANONYMOUS = None
# A value for each kind of declared field, so the test covers fields declared after it was written.
VALUES = {"contact": {"phone": PHONE, "first_name": "林"}, "phone": PHONE, "name": "林阿姨", "id_number": ID_NUMBER,
          "location": 121.4712}


@pytest.fixture
def town(session, make_user):
    _, _, community = hierarchy(session)
    g = grid(session, community, 1, rect(0, 0, 200, 200))
    event = point_event(session, 50, 50, grid=g, title=f"楼道堆物 联系{PHONE}", description=f"身份证{ID_NUMBER}",
                        contact=VALUES["contact"])
    session.add(EventMove(event_id=event.id, move="note", from_status="reported", to_status="reported",
                          note=f"请回电 {PHONE}"))
    session.commit()
    tokens = {role: make_user(role, grids=[g.code] if role == "worker" else ()) for role in ROLES}
    return {"grid": g, "event": event.id, "tokens": tokens}


def tile_at(lon: float, lat: float, z: int = 16) -> str:
    """The path of the z/x/y tile holding a point (the slippy-map formula)."""
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return f"{z}/{int((lon + 180) / 360 * n)}/{int(y)}"


def headers_of(town, role):
    return auth(town["tokens"][role]) if role else {}


def test_the_declaration_covers_every_kind_and_only_allowed_outputs():
    assert personal.PERSONAL_FIELDS
    for f in personal.PERSONAL_FIELDS:
        assert f.kind in VALUES and "layer" not in f.outputs
        assert f.kind != "id_number" or f.encrypted


def test_no_layer_exposes_a_declared_personal_column():
    for f in personal.PERSONAL_FIELDS:
        for spec in LAYERS:
            if f"{f.table} " in spec.source or f"{f.table}\n" in spec.source:
                assert f.column not in spec.properties, (spec.name, f.column)


@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
def test_event_json_shows_each_declared_field_only_to_its_readers(client, town, role):
    response = client.get(f"/api/v1/events/{town['event']}", headers=headers_of(town, role))
    if role in (None, "viewer", "department"):  # a department reads only its own cases
        assert response.status_code in (401, 403)
        assert PHONE not in response.get_data(as_text=True)
        return
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    for f in personal.fields_of("events"):
        if "event_json" in f.outputs and role in f.readers:
            assert body[f.column] == VALUES[f.kind]
        else:
            assert f.column not in body
    text = json.dumps(body, ensure_ascii=False)
    if personal.sees_personal(role):
        assert PHONE in body["title"] and ID_NUMBER in body["description"]
    else:
        assert PHONE not in text and ID_NUMBER not in text
        assert MASKED_PHONE in body["title"]


@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
def test_the_timeline_masks_notes_for_roles_without_access(client, town, role):
    response = client.get(f"/api/v1/events/{town['event']}/timeline", headers=headers_of(town, role))
    if response.status_code != 200:
        assert response.status_code in (401, 403) and PHONE not in response.get_data(as_text=True)
        return
    notes = " ".join(m.get("note") or "" for m in response.json["timeline"])
    assert (PHONE in notes) == personal.sees_personal(role)
    assert personal.sees_personal(role) or MASKED_PHONE in notes


@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
def test_layers_and_tiles_never_carry_personal_data_for_any_role(client, town, role):
    lon, lat = lonlat(50, 50)
    for spec in LAYERS:
        if role not in spec.roles and spec.roles != ():
            continue
        geo = client.get(f"/layers/{spec.name}.geojson?bbox={lon - .01},{lat - .01},{lon + .01},{lat + .01}",
                         headers=headers_of(town, role))
        text = geo.get_data(as_text=True)
        assert PHONE not in text and ID_NUMBER not in text, spec.name
    tile = client.get(f"/tiles/events/{tile_at(lon, lat)}.mvt", headers=headers_of(town, role))
    assert PHONE.encode() not in tile.data


def test_an_events_tile_shows_the_title_masked_even_to_staff(client, town):
    lon, lat = lonlat(50, 50)
    tile = client.get(f"/tiles/events/{tile_at(lon, lat)}.mvt", headers=auth(town["tokens"]["admin"]))
    assert tile.status_code == 200
    features = [f for layer in mapbox_vector_tile.decode(tile.data).values() for f in layer["features"]]
    assert features and all(PHONE not in f["properties"]["title"] for f in features)
    assert any(MASKED_PHONE in f["properties"]["title"] for f in features)


@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
def test_the_open311_view_never_shows_a_contact(client, town, role):
    key = {"api_key": town["tokens"][role]} if role else {}
    for fmt in ("json", "xml"):
        response = client.get(f"/open311/v2/requests.{fmt}", query_string=key)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "林" not in text or personal.sees_personal(role)
        if not personal.sees_personal(role):
            assert PHONE not in text and ID_NUMBER not in text


def test_reading_a_contact_is_audited_and_a_masked_read_is_not(client, session, town):
    for role in ROLES:
        client.get(f"/api/v1/events/{town['event']}", headers=headers_of(town, role))
    rows = session.execute(select(AuditEntry.actor, AuditEntry.after).where(AuditEntry.action == "read")).all()
    readers = {f.readers for f in personal.fields_of("events") if "event_json" in f.outputs}
    expected = sorted(r for group in readers for r in group if r in ROLES)
    assert sorted(actor.split("-")[0] for actor, _ in rows) == expected
    assert all(after["ids"] == [town["event"]] and "contact" in after["fields"] for _, after in rows)


@pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
def test_a_photos_position_reaches_only_the_readers_declared_for_it(client, session, town, role):
    made = client.post(f"/api/v1/events/{town['event']}/attachments", headers=headers_of(town, "admin"),
                       data={"file": (io.BytesIO(photo(lonlat=lonlat(50, 50))), "p.jpg")},
                       content_type="multipart/form-data")
    assert made.status_code == 201, made.get_data(as_text=True)
    before = session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))  # the upload's own rows
    event = client.get(f"/api/v1/events/{town['event']}", headers=headers_of(town, role))
    original = client.get(made.json["original_url"], headers=headers_of(town, role))
    if role in (None, "viewer", "department"):  # a department reads only its own cases
        assert event.status_code in (401, 403) and original.status_code in (401, 403)
        return
    listed = event.json["attachments"][0]
    for f in personal.fields_of("attachments"):
        assert (f.column in listed) == ("event_json" in f.outputs and role in f.readers), (role, f.column)
    readers = {r for f in personal.fields_of("attachments") if "photo" in f.outputs for r in f.readers}
    assert original.status_code == 200 and bool(gps_of(original.data)) == (role in readers)
    outputs = [after["output"] for after in session.scalars(select(AuditEntry.after).where(
        AuditEntry.action == "read", AuditEntry.entity == "attachments", AuditEntry.id > before))]
    assert sorted(outputs) == (["event_json", "photo"] if role in readers else [])


def test_a_department_member_reads_its_own_case_with_personal_data_masked(client, session, town):
    owner = create_department(session, "CGJ", "城管执法局", "district")
    member = session.scalar(select(User).where(User.role == "department"))
    set_member(session, member, owner)
    session.get(Event, town["event"]).owner_department_id = owner.id
    session.commit()
    response = client.get(f"/api/v1/events/{town['event']}/timeline", headers=headers_of(town, "department"))
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert PHONE not in text and ID_NUMBER not in text and MASKED_PHONE in text
    assert not personal.sees_personal("department")
