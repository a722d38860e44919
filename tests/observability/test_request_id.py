import re

import pytest

from config.observability import REQUEST_ID_HEADER, clean_request_id, current_request_id

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_the_id_from_nginx_is_kept_on_request_context_and_response(client) -> None:  # type: ignore[no-untyped-def]
    # Given nginx's $request_id
    rid = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    # When the request is served
    response = client.get("/_echo/1/", HTTP_X_REQUEST_ID=rid)
    # Then the view saw it on the request and in the context variable, and it is echoed
    assert response.status_code == 200
    assert response.json() == {"request_id": rid, "context": rid}
    assert response[REQUEST_ID_HEADER] == rid


def test_without_an_id_one_is_generated_per_request(client) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/_echo/1/")
    second = client.get("/_echo/2/")
    assert HEX32.match(first[REQUEST_ID_HEADER])
    assert HEX32.match(second[REQUEST_ID_HEADER])
    assert first[REQUEST_ID_HEADER] != second[REQUEST_ID_HEADER]
    assert first.json()["context"] == first[REQUEST_ID_HEADER]


@pytest.mark.parametrize(
    "bad", ["", "short", "has space 1234567", "x" * 200, "abc\r\nSet-Cookie: a=b", "é" * 12]
)
def test_an_invalid_incoming_id_is_replaced(client, bad: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/_echo/1/", HTTP_X_REQUEST_ID=bad)
    assert HEX32.match(response[REQUEST_ID_HEADER])


def test_accepted_formats() -> None:
    assert clean_request_id("6f1c2a3b-1d2e-4f50-8a9b-0c1d2e3f4a5b") is not None
    assert clean_request_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0") is not None
    assert clean_request_id(None) is None


@pytest.mark.django_db
def test_the_id_is_on_error_responses_and_the_context_is_reset(client) -> None:  # type: ignore[no-untyped-def]
    client.raise_request_exception = False
    response = client.get("/_boom/", HTTP_X_REQUEST_ID="boom-request-0001")
    assert response.status_code == 500
    assert response[REQUEST_ID_HEADER] == "boom-request-0001"
    assert current_request_id() == "-"


@pytest.mark.django_db
def test_project_views_carry_the_header(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz", HTTP_X_REQUEST_ID="healthz-probe-0001")
    assert response[REQUEST_ID_HEADER] == "healthz-probe-0001"
