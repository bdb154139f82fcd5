"""The worker page as an installable offline app: its manifest, its service worker and the headers they need."""
from __future__ import annotations

from tests.webmap.test_map_pages import PASSWORD, sign_in


def test_the_service_worker_is_served_at_the_root_with_a_policy_that_lets_it_fetch_this_origin(client):
    response = client.get("/sw.js?v=1")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    # Other scripts get default-src 'none'; a service worker governed by that could fetch nothing.
    assert response.headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
    assert b"addEventListener(\"fetch\"" in response.data
    assert client.get("/static/js/worker.js").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_manifest_names_the_worker_page_in_chinese(client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["start_url"] == "/map/worker" and manifest["display"] == "standalone"
    assert manifest["short_name"] == "网格员"
    icon = manifest["icons"][0]["src"]
    assert client.get(icon).status_code == 200
    english = client.get("/manifest.webmanifest", headers={"Accept-Language": "en"}).get_json()
    assert english["short_name"] == "Grid worker"


def test_the_worker_page_links_its_manifest_and_registers_a_versioned_service_worker(client, make_user):
    make_user("worker", password=PASSWORD, name="w9")
    sign_in(client, "w9")
    html = client.get("/map/worker").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '"sw": "/sw.js?v=' in html
    assert '"accuracy_warn_m": 50.0' in html and '"snap_m": 30.0' in html
