"""Authentication and authorization as UiAuthenticator/MaintenanceResource answer them."""

from __future__ import annotations

import requests

from tests.structr_emulator.auth import WRONG_CREDENTIALS
from tests.structr_emulator.harness import Emulator
from tests.structr_emulator.pytest_fixtures import EmulatorFactory

DEPLOY = "/structr/rest/maintenance/deploy"
ENV = "/structr/rest/_env"


def _as(emulator: Emulator, user: str, password: str) -> dict[str, str]:
    return {"X-User": user, "X-Password": password}


def test_admin_headers_work_and_wrong_password_is_401(emulator: Emulator) -> None:
    assert emulator.rest("GET", ENV).status_code == 200
    response = requests.get(emulator.url + ENV, headers=_as(emulator, "admin", "nope"), timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == WRONG_CREDENTIALS


def test_user_is_found_by_name_then_email(emulator: Emulator) -> None:
    emulator.rest("POST", "/structr/rest/User",
                  json={"name": "ops", "eMail": "ops@example.com", "password": "s3cret", "isAdmin": True})  # fmt: skip
    for login in ("ops", "ops@example.com"):
        response = requests.get(emulator.url + ENV, headers=_as(emulator, login, "s3cret"), timeout=10)
        assert response.status_code == 200, login


def test_superuser_from_config_is_not_a_database_node(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(superuser_password="very-secret")
    headers = _as(emulator, "superadmin", "very-secret")
    assert requests.get(emulator.url + ENV, headers=headers, timeout=10).status_code == 200
    assert (
        requests.get(emulator.url + "/structr/deploy?mode=test&name=x", headers=headers, timeout=10).status_code == 200
    )
    names = [user["name"] for user in emulator.rest("GET", "/structr/rest/User").json()["result"]]
    assert names == ["admin"]
    bad = requests.get(emulator.url + ENV, headers=_as(emulator, "superadmin", "wrong"), timeout=10)
    assert bad.status_code == 401


def test_superuser_disabled_without_password(emulator: Emulator) -> None:
    response = requests.get(emulator.url + ENV, headers=_as(emulator, "superadmin", ""), timeout=10)
    assert response.status_code == 401


def test_login_session_cookie_and_session_token(emulator: Emulator) -> None:
    session = requests.Session()
    bad = session.post(emulator.url + "/structr/rest/login", json={"name": "admin", "password": "x"}, timeout=10)
    assert bad.status_code == 401
    response = session.post(emulator.url + "/structr/rest/login", json={"name": "admin", "password": "admin"},
                            timeout=10)  # fmt: skip
    assert response.status_code == 200
    assert "JSESSIONID" in session.cookies
    assert session.get(emulator.url + ENV, timeout=10).status_code == 200
    token = session.cookies["JSESSIONID"]
    response = requests.get(emulator.url + ENV, headers={"X-StructrSessionToken": token}, timeout=10)
    assert response.status_code == 200
    session.post(emulator.url + "/structr/rest/logout", timeout=10)
    assert requests.get(emulator.url + ENV, headers={"X-StructrSessionToken": token}, timeout=10).status_code == 401


def test_anonymous_gets_401_access_denied_on_maintenance(emulator: Emulator) -> None:
    response = requests.post(emulator.url + DEPLOY, json={"mode": "export", "target": "/tmp/x"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "Access denied"


def test_non_admin_gets_401_without_grant_and_403_with_grant(emulator: Emulator) -> None:
    emulator.rest("POST", "/structr/rest/User", json={"name": "bob", "password": "pw"})
    headers = _as(emulator, "bob", "pw")
    response = requests.post(emulator.url + DEPLOY, json={"mode": "export", "target": "/tmp/x"}, headers=headers,
                             timeout=10)  # fmt: skip
    assert response.status_code == 401
    emulator.set_grant("_maintenance", 4)  # AUTH_USER_POST
    response = requests.post(emulator.url + DEPLOY, json={"mode": "export", "target": "/tmp/x"}, headers=headers,
                             timeout=10)  # fmt: skip
    assert response.status_code == 403
    assert response.json()["message"] == "Use of the maintenance endpoint is restricted to admin users"


def test_non_admin_access_to_types_follows_resource_access_grants(emulator: Emulator) -> None:
    emulator.add_schema_type("Project")
    emulator.rest("POST", "/structr/rest/User", json={"name": "carol", "password": "pw"})
    headers = _as(emulator, "carol", "pw")
    assert requests.get(emulator.url + "/structr/rest/Project", headers=headers, timeout=10).status_code == 401
    emulator.set_grant("Project", 1)  # AUTH_USER_GET
    assert requests.get(emulator.url + "/structr/rest/Project", headers=headers, timeout=10).status_code == 200
    assert requests.get(emulator.url + "/structr/rest/Project", timeout=10).status_code == 401
    emulator.set_grant("Project", 1 | 16)  # and NON_AUTH_USER_GET
    assert requests.get(emulator.url + "/structr/rest/Project", timeout=10).status_code == 200
