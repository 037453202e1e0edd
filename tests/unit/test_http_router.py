"""refdesk.http's own router (issue 18: Powertools' event handler cost a quarter of a webhook's cold
start): which route answers, 404 for a path or a method without one, route variables, the chat
API's preflight and CORS headers, bodies both ways, the request each router reads, and the
correlation id in the log lines. The error mapping and the body guard: tests/unit/test_http_api.py."""
from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_http_api import (ORIGIN, LambdaContext, chat_api, error_of, event,  # noqa: F401 - a fixture
                                      refusals)

from refdesk import http  # noqa: E402 - after test_http_api, which names the service first
from refdesk.http import Api, Router  # noqa: E402

LAYER = Path(__file__).resolve().parents[2] / "layers" / "refdesk"


@pytest.fixture
def api():
    """GET and HEAD /card.vcf, GET /things/<id>, DELETE /things/<id>, GET /things/<id>/parts/<part>."""
    things = Router()

    @things.route("/card.vcf", method=["GET", "HEAD"])
    def card():
        return http.respond(200, "" if http.request(things).method == "HEAD" else "BEGIN:VCARD")

    @things.get("/things/<id>")
    def get_thing(id: str):  # noqa: A002
        return http.json_response(200, {"got": id})

    @things.delete("/things/<id>")
    def delete_thing(id: str):  # noqa: A002
        return http.json_response(202, {"deleted": id})

    @things.get("/things/<id>/parts/<part>")
    def get_part(id: str, part: str):  # noqa: A002
        return http.json_response(200, {"thing": id, "part": part})

    return Api(things)


def call(api: Api, method: str, path: str, **kwargs) -> dict:
    return api.resolve(event(method, path, **kwargs), LambdaContext())


# --- routing -----------------------------------------------------------------------------

def test_the_route_of_the_method_and_path_answers_with_its_variables(api):
    got = call(api, "GET", "/things/t1", path_params={"id": "t1"})
    deleted = call(api, "DELETE", "/things/t1", path_params={"id": "t1"})
    part = call(api, "GET", "/things/t1/parts/p2", path_params={"id": "t1", "part": "p2"})

    assert (got["statusCode"], json.loads(got["body"])) == (200, {"got": "t1"})
    assert (deleted["statusCode"], json.loads(deleted["body"])) == (202, {"deleted": "t1"})
    assert json.loads(part["body"]) == {"thing": "t1", "part": "p2"}


def test_one_route_may_take_several_methods(api):
    get, head = call(api, "GET", "/card.vcf"), call(api, "HEAD", "/card.vcf")

    assert (get["statusCode"], get["body"]) == (200, "BEGIN:VCARD")
    assert (head["statusCode"], head["body"]) == (200, "")


@pytest.mark.parametrize("method, path", [
    ("POST", "/things/t1"),  # a method the path has no route for
    ("PUT", "/card.vcf"),
    ("GET", "/cardXvcf"),  # the dot is a dot
    ("GET", "/card.vcf/more"),
    ("GET", "/things"),
    ("GET", "/things/"),  # a variable is never empty
    ("GET", "/things/t1/parts"),
    ("GET", "/nowhere"),
], ids=["method", "method-multi", "dot", "longer", "shorter", "empty-variable", "partial", "unknown"])
def test_a_path_or_method_without_a_route_is_a_404_json_answer_with_one_log_line(api, caplog, method, path):
    answer = call(api, method, path, path_params={"id": "t1"})

    assert answer["statusCode"] == 404
    assert error_of(answer)["code"] == "not_found"
    assert [(line.status, line.code) for line in refusals(caplog)] == [(404, "not_found")]


def test_a_variable_spans_one_raw_segment_and_its_value_is_the_decoded_path_parameter(api):
    encoded = call(api, "GET", "/things/a%2Fb%20c", path_params={"id": "a/b c"})
    two_segments = call(api, "GET", "/things/a/b", path_params={"id": "a/b"})

    assert json.loads(encoded["body"]) == {"got": "a/b c"}
    assert two_segments["statusCode"] == 404


def test_the_body_guard_runs_before_the_404(api):
    answer = call(api, "GET", "/nowhere", body=b"x" * (http.MAX_WEBHOOK_BODY + 1), b64=True)

    assert answer["statusCode"] == 413 and error_of(answer)["code"] == "too_large"


def test_every_router_of_an_api_reads_the_current_request():
    first, second = Router(), Router()

    @first.post("/one")
    def one():
        return http.respond(200, http.request(first).text())

    @second.post("/two")
    def two():
        return http.respond(200, http.request(second).text())

    api = Api(first, second)
    headers = {"content-type": "text/plain"}

    assert call(api, "POST", "/one", body="to one", headers=headers)["body"] == "to one"
    assert call(api, "POST", "/two", body="to two", headers=headers)["body"] == "to two"
    assert first.context == {}  # nothing of a request outlives it


# --- bodies ------------------------------------------------------------------------------

def test_a_base64_body_reaches_the_route_decoded_and_bytes_go_back_base64_encoded():
    echo = Router()

    @echo.post("/echo")
    def answer():
        return http.respond(200, http.request(echo).body[::-1], "application/octet-stream")

    answer_ = call(Api(echo), "POST", "/echo", body=b"\x00\xffabc", b64=True)

    assert answer_["isBase64Encoded"] is True
    assert base64.b64decode(answer_["body"]) == b"cba\xff\x00"
    assert answer_["headers"]["content-type"] == "application/octet-stream"


def test_a_text_answer_is_not_encoded_and_carries_no_cookies_key(api):
    answer = call(api, "GET", "/card.vcf")

    assert answer == {"statusCode": 200, "headers": {"content-type": http.TEXT}, "body": "BEGIN:VCARD",
                      "isBase64Encoded": False}


# --- CORS ----------------------------------------------------------------------------------

CORS = {"access-control-allow-origin": ORIGIN, "access-control-allow-headers": "Authorization,Content-Type",
        "access-control-expose-headers": "Retry-After", "access-control-max-age": "600", "vary": "Origin"}


def test_an_allowed_origin_gets_the_cors_headers_on_every_answer(chat_api):  # noqa: F811
    created = call(chat_api, "POST", "/chat", headers={"origin": ORIGIN})
    limited = call(chat_api, "GET", "/chat/limited", headers={"origin": ORIGIN})
    missing = call(chat_api, "GET", "/chat/nowhere", headers={"origin": ORIGIN})

    for answer, status in ((created, 201), (limited, 429), (missing, 404)):
        assert answer["statusCode"] == status
        assert {name: value for name, value in answer["headers"].items() if name in CORS} == CORS


def test_a_preflight_names_the_apis_methods_and_runs_no_route(chat_api):  # noqa: F811
    answer = call(chat_api, "OPTIONS", "/chat/limited", headers={"Origin": ORIGIN})

    assert answer["statusCode"] == 204 and answer["body"] == ""
    assert answer["headers"] == {**CORS, "access-control-allow-methods": "GET,OPTIONS,POST"}


def test_a_star_or_blank_allowed_origin_lets_no_other_browser_in():
    answer = call(Api(Router(), allowed_origins=("*", "")), "POST", "/chat",
                  headers={"origin": "https://elsewhere.example"})

    assert answer["statusCode"] == 403 and error_of(answer)["code"] == "origin_not_allowed"
    assert answer["headers"]["vary"] == "Origin" and "access-control-allow-origin" not in answer["headers"]


def test_a_server_without_an_origin_gets_no_cors_headers(chat_api):  # noqa: F811
    answer = call(chat_api, "POST", "/chat")

    assert answer["statusCode"] == 201
    assert not any(name.startswith("access-control-") for name in answer["headers"])


def test_an_api_that_is_not_for_browsers_has_no_preflight(api):
    answer = call(api, "OPTIONS", "/card.vcf", headers={"origin": ORIGIN})

    assert answer["statusCode"] == 404
    assert "vary" not in answer["headers"] and "access-control-allow-origin" not in answer["headers"]


# --- the entry point ---------------------------------------------------------------------

def test_the_log_lines_of_a_request_carry_its_correlation_id(api, monkeypatch):
    out = io.StringIO()
    for handler in logging.getLogger("refdesk").handlers:
        monkeypatch.setattr(handler, "stream", out)

    answer = http.lambda_handler(api)(event("GET", "/nowhere"), LambdaContext())

    assert answer["statusCode"] == 404
    [line] = [json.loads(line) for line in out.getvalue().splitlines() if '"request refused"' in line]
    assert line["correlation_id"] == "req-1"  # API Gateway's requestContext.requestId


def test_the_router_imports_no_powertools_event_handler():
    """What the router replaced: Powertools' event_handler imports every resolver (AppSync, asyncio …)."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, refdesk.http; print(sorted(sys.modules))"],
                            capture_output=True, text=True, check=True, env={"PYTHONPATH": str(LAYER),
                                                                              "POWERTOOLS_SERVICE_NAME": "refdesk"})
    assert "aws_lambda_powertools.event_handler" not in loaded.stdout
    assert "'asyncio'" not in loaded.stdout
