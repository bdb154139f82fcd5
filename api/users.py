"""Users API: who am I, and admins adding users."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api import db
from api.auth import current_user, requires
from api.params import json_body
from gis.core import audit
from gis.core.sessions import revoke_all
from gis.core.users import create_user, get_user, user_grid_codes

bp = Blueprint("users", __name__, url_prefix="/api/v1")


@bp.get("/me")
@requires("admin", "planner", "commander", "worker", "viewer")
def me():
    """The signed-in user, their role and grid scope."""
    user = current_user()
    return jsonify(name=user.name, display_name=user.display_name, role=user.role,
                   grids=user_grid_codes(db.session(), user.id))


@bp.post("/users")
@requires("admin")
def add_user():
    """Create a user; the token is in the response once and never again."""
    body = json_body()
    session = db.session()
    user, token = create_user(session, body.get("name", ""), body.get("role", ""),
                              grids=body.get("grids") or [], password=body.get("password"),
                              display_name=body.get("display_name"))
    session.commit()
    return jsonify(name=user.name, role=user.role, grids=user_grid_codes(session, user.id),
                   token=token), 201


@bp.post("/users/<name>/signout")
@requires("admin")
def sign_out_everywhere(name: str):
    """End every signed-in session of a user at once (their API token is `gridgov user token`'s to rotate)."""
    session = db.session()
    user = get_user(session, name)
    ended = revoke_all(session, user.id)
    audit.record(session, "signout_everywhere", "user", user.name, after={"sessions_ended": ended})
    session.commit()
    return jsonify(name=user.name, sessions_ended=ended)
