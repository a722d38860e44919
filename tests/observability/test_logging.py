import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from config.observability import RequestIdFilter, logging_config


@pytest.fixture
def configured() -> Iterator[callable]:  # type: ignore[valid-type]
    """Applies a logging_config() and captures the console handler's output; restores after."""
    buffers: list[io.StringIO] = []

    def apply(**kwargs) -> io.StringIO:  # type: ignore[no-untyped-def]
        logging.config.dictConfig(logging_config(**kwargs))
        buffer = io.StringIO()
        (handler,) = logging.getLogger().handlers
        handler.setStream(buffer)  # type: ignore[attr-defined]
        buffers.append(buffer)
        return buffer

    yield apply
    logging.config.dictConfig(django_settings.LOGGING)


def test_the_json_formatter_writes_one_parseable_line_per_record(client, configured) -> None:  # type: ignore[no-untyped-def]
    # Given JSON logs
    out = configured(level="INFO", json=True)
    # When a request logs, then something logs outside any request, then an exception is logged
    client.get("/_echo/1/", HTTP_X_REQUEST_ID="json-log-request-1")
    logging.getLogger("concerto.test").warning("outside %s", "a request")
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("concerto.test").exception("failed")
    # Then every line is a JSON object with the fields, the request id where there is one
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    echo = by_message["echo view"]
    assert {"time", "level", "logger", "message", "request_id"} <= echo.keys()
    assert echo["request_id"] == "json-log-request-1"
    assert echo["level"] == "INFO"
    assert echo["logger"] == "concerto.test.observability"
    assert by_message["outside a request"]["request_id"] == "-"
    failed = by_message["failed"]
    assert failed["level"] == "ERROR"
    assert "ValueError: bad value" in failed["exc_info"]


def test_text_logs_carry_the_request_id_too(client, configured) -> None:  # type: ignore[no-untyped-def]
    out = configured(level="INFO", json=False)
    client.get("/_echo/1/", HTTP_X_REQUEST_ID="text-log-request-1")
    assert any("[text-log-request-1]" in line and "echo view" in line for line in out.getvalue().splitlines())


def test_the_level_is_applied_and_checked(configured) -> None:  # type: ignore[no-untyped-def]
    out = configured(level="warning", json=True)
    logging.getLogger("concerto.test").info("hidden")
    assert out.getvalue() == ""
    with pytest.raises(ValueError):
        logging_config(level="LOUD", json=True)


def test_the_filter_keeps_an_explicit_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.request_id = "given-by-caller"
    assert RequestIdFilter().filter(record)
    assert record.request_id == "given-by-caller"
