"""Users API: who am I and my language, and admins adding users."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api import db
from api.auth import current_user, requires
from api.hub import hub
from api.params import json_body
from gis.core.errors import InvalidInput
from gis.core.models import ROLES
from gis.core.users import create_user, set_lang, user_grid_codes
from gis.core.users import sign_out_everywhere as end_sessions

bp = Blueprint("users", __name__, url_prefix="/api/v1")


@bp.get("/me")
@requires(*ROLES)
def me():
    """The signed-in user, their role, grid scope and department (issue 25)."""
    user = current_user()
    return jsonify(name=user.name, display_name=user.display_name, role=user.role, lang=user.lang,
                   grids=user_grid_codes(db.session(), user.id), department_id=user.department_id)


@bp.patch("/me")
@requires(*ROLES)
def set_my_lang():
    """Choose the language I read gridgov in: {"lang": "zh" | "en" | null (follow the browser)}."""
    body = json_body()
    if "lang" not in body:
        raise InvalidInput("Missing lang", 'Send {"lang": "zh"}, {"lang": "en"} or {"lang": null}.', parameter="lang")
    if body["lang"] is not None and not isinstance(body["lang"], str):
        raise InvalidInput("Invalid lang", "`lang` is a string (zh or en) or null.", parameter="lang")
    session = db.session()
    user = set_lang(session, current_user().name, body["lang"])
    session.commit()
    # The token's cached Principal carries the old choice until this process hears the NOTIFY on
    # users; the next request of the one who just chose must already read their language.
    hub().generations.bump("users")
    return jsonify(name=user.name, lang=user.lang)


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
    ended = end_sessions(session, name)
    session.commit()
    return jsonify(name=name, sessions_ended=ended)
