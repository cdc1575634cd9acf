"""Operator endpoints and the published API schema."""


def test_healthz_answers_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_every_dependency(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "channel_layer": "ok", "storage": "ok"},
    }


def test_openapi_schema_describes_the_chat_api(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "SAMIA Chat API"
    for path in (
        "/api/auth/token",
        "/api/auth/refresh",
        "/api/me",
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/messages",
        "/api/sessions/{session_id}/read",
        "/api/sessions/{session_id}/status",
        "/api/messages/{message_id}",
        "/api/messages/{message_id}/redact",
    ):
        assert path in schema["paths"], path
