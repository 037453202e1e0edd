"""refdesk.http.Api, the router every HTTP function uses, on routers made up here:
domain errors become the same JSON answers in one place with one log line, the body guard,
API Gateway's path parameters, the chat API's origin rule and CORS, and headers every answer
keeps."""
from __future__ import annotations

import base64
import json
import os
import warnings

import pytest

# As in Lambda, the service is named before refdesk.http makes its child logger (the conftest
# sets the variable only per test, after this module is imported); otherwise the logger would
# be "service_undefined.refdesk.http" and write through no handler of the "refdesk" logger.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "refdesk")

from refdesk import errors, http  # noqa: E402
from refdesk.http import Api, Router  # noqa: E402

ORIGIN = "https://library.example.org"


class LambdaContext:
    function_name, function_version, memory_limit_in_mb = "test", "$LATEST", 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def event(method: str = "GET", path: str = "/things", *, body: bytes | str | None = None, b64: bool = False,
          headers: dict | None = None, path_params: dict | None = None, route: str | None = None) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    answer = {
        "version": "2.0", "routeKey": route or f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.7"},
                           "domainName": "api.example.org", "stage": "$default", "requestId": "req-1"},
        "isBase64Encoded": b64,
    }
    if raw is not None:
        answer["body"] = base64.b64encode(raw).decode() if b64 else raw.decode("utf-8", "surrogateescape")
    if path_params is not None:
        answer["pathParameters"] = path_params
    return answer


def refusals(caplog) -> list:
    return [record for record in caplog.records if record.getMessage() == "request refused"]


def error_of(answer: dict) -> dict:
    assert answer["headers"]["content-type"] == "application/json"
    body = json.loads(answer["body"])
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]


ERRORS = [
    (errors.BadRequest("bad"), 400, "bad_request"),
    (errors.Forbidden("no"), 403, "forbidden"),
    (errors.Forbidden("no", code="origin_not_allowed"), 403, "origin_not_allowed"),
    (errors.NotFound("gone"), 404, "not_found"),
    (errors.Conflict("closed", code="closed"), 409, "closed"),
    (errors.PayloadTooLarge("big"), 413, "too_large"),
    (errors.UnsupportedMediaType("type"), 415, "unsupported_media_type"),
    (errors.RateLimited("slow down", retry_after=7), 429, "rate_limited"),
]


@pytest.fixture
def raising():
    """An Api whose GET /things raises whatever `raising.error` is."""
    things = Router()
    state = {}

    @things.get("/things")
    def get_things():
        raise state["error"]

    api = Api(things)

    def call(error):
        state["error"] = error
        return api.resolve(event(), LambdaContext())

    return call


@pytest.mark.parametrize("error, status, code", ERRORS, ids=[code for _, _, code in ERRORS])
def test_a_domain_error_is_its_status_and_json_with_one_warning(raising, caplog, error, status, code):
    answer = raising(error)

    assert answer["statusCode"] == status
    assert error_of(answer) == {"code": code, "message": error.message}
    assert ("retry-after" in answer["headers"]) == (status == 429)
    [line] = refusals(caplog)
    assert line.levelname == "WARNING"
    assert (line.status, line.code, line.route) == (status, code, "GET /things")


def test_retry_after_is_the_errors_seconds(raising):
    assert raising(errors.RateLimited("slow down", retry_after=42))["headers"]["retry-after"] == "42"


def test_an_unexpected_exception_is_not_turned_into_a_4xx(raising):
    with pytest.raises(ZeroDivisionError):
        raising(ZeroDivisionError())


def test_an_unknown_path_or_method_is_a_404_json_answer_with_a_log_line(caplog):
    things = Router()

    @things.post("/things")
    def post_things():
        return http.respond(200, "ok")

    api = Api(things)

    for answer in (api.resolve(event("GET", "/things"), LambdaContext()),
                   api.resolve(event("POST", "/other"), LambdaContext())):
        assert answer["statusCode"] == 404
        assert error_of(answer)["code"] == "not_found"
    assert len(refusals(caplog)) == 2


# --- the body guard --------------------------------------------------------------------

@pytest.fixture
def echo():
    things = Router()

    @things.post("/things")
    def post_things():
        request = http.request(things)
        kind = request.headers.get("x-read", "json")
        value = request.json() if kind == "json" else request.form() if kind == "form" else request.text()
        return http.json_response(200, {"read": value, "bytes": len(request.body)})

    api = Api(things)
    return lambda **kwargs: api.resolve(event("POST", "/things", **kwargs), LambdaContext())


@pytest.mark.parametrize("kwargs, status, code", [
    ({"body": "not base64!", "b64": False, "headers": {"content-type": "text/plain", "x-read": "text"}}, 200, None),
    ({"body": None, "headers": {"content-type": "application/json"}}, 400, "bad_request"),  # no body is no JSON
    ({"body": b"{}", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
    ({"body": b"{}", "headers": {}}, 415, "unsupported_media_type"),
    ({"body": b"{not json", "headers": {"content-type": "application/json"}}, 400, "bad_request"),
    ({"body": b"[1, 2]", "headers": {"content-type": "application/json"}}, 400, "bad_request"),
    ({"body": b'{"a": "\xff\xfe"}', "b64": True, "headers": {"content-type": "application/json"}}, 400,
     "bad_request"),
    ({"body": b"a=%ZZ&&b", "b64": True, "headers": {"content-type": http.FORM, "x-read": "form"}}, 400,
     "bad_request"),
    ({"body": b"a=\xff", "b64": True, "headers": {"content-type": http.FORM, "x-read": "form"}}, 400,
     "bad_request"),
    ({"body": b"x" * (64 * 1024 + 1), "b64": True, "headers": {"content-type": "text/plain"}}, 413, "too_large"),
], ids=["text-passes", "no-body", "wrong-type", "no-type", "not-json", "json-array", "not-utf8",
        "malformed-form", "form-not-utf8", "oversized"])
def test_bad_bodies_get_a_clear_4xx(echo, caplog, kwargs, status, code):
    answer = echo(**kwargs)

    assert answer["statusCode"] == status
    if code:
        assert error_of(answer)["code"] == code
        assert len(refusals(caplog)) == 1


def test_invalid_base64_is_400_before_any_route_runs(caplog):
    things, ran = Router(), []

    @things.post("/things")
    def post_things():
        ran.append(True)
        return http.respond(200)

    bad = event("POST", "/things", headers={"content-type": http.FORM})
    bad.update(body="bm90 base64 at all%%", isBase64Encoded=True)

    answer = Api(things).resolve(bad, LambdaContext())

    assert answer["statusCode"] == 400 and error_of(answer)["code"] == "bad_request"
    assert ran == [] and len(refusals(caplog)) == 1


def test_a_body_of_exactly_64_kib_is_accepted(echo):
    answer = echo(body=b"x" * (64 * 1024), b64=True, headers={"content-type": "text/plain", "x-read": "text"})

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["bytes"] == 64 * 1024


def test_the_base64_body_reaches_the_route_as_the_raw_bytes(echo):
    answer = echo(body='{"word": "caf\u00e9"}', b64=True, headers={"content-type": "application/json"})

    assert json.loads(answer["body"]) == {"read": {"word": "caf\u00e9"}, "bytes": len('{"word": "caf\u00e9"}'.encode())}


# --- path parameters -------------------------------------------------------------------

def test_route_variables_are_api_gateways_decoded_path_parameters():
    things = Router()

    @things.get("/things/<id>")
    def get_thing(id: str):  # noqa: A002
        return http.json_response(200, {"id": id})

    api = Api(things)
    decoded = api.resolve(event("GET", "/things/a%2Fb", path_params={"id": "a/b"}), LambdaContext())
    missing = api.resolve(event("GET", "/things/a"), LambdaContext())

    assert json.loads(decoded["body"]) == {"id": "a/b"}
    assert missing["statusCode"] == 404


# --- CORS for the chat API -------------------------------------------------------------

@pytest.fixture
def chat_api():
    chat = Router()

    @chat.post("/chat")
    def post_chat():
        return http.json_response(201, {"ok": True})

    @chat.get("/chat/limited")
    def limited():
        raise errors.RateLimited("too many", retry_after=3)

    return Api(chat, allowed_origins=(ORIGIN, "http://localhost:3000"))


def test_an_allowed_origin_is_echoed_with_vary_and_exposed_retry_after(chat_api):
    ok = chat_api.resolve(event("POST", "/chat", headers={"origin": "http://localhost:3000"}), LambdaContext())
    limited = chat_api.resolve(event("GET", "/chat/limited", headers={"origin": ORIGIN}), LambdaContext())

    assert ok["statusCode"] == 201
    assert ok["headers"]["access-control-allow-origin"] == "http://localhost:3000"
    assert ok["headers"]["vary"] == "Origin"
    assert limited["statusCode"] == 429
    assert limited["headers"]["access-control-allow-origin"] == ORIGIN
    assert limited["headers"]["access-control-expose-headers"].lower() == "retry-after"


def test_a_preflight_from_an_allowed_origin_is_204_cached_for_ten_minutes(chat_api):
    answer = chat_api.resolve(event("OPTIONS", "/chat", headers={
        "origin": ORIGIN, "access-control-request-method": "POST"}), LambdaContext())

    assert answer["statusCode"] == 204 and not answer["body"]
    headers = answer["headers"]
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-max-age"] == "600"
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in
                                                 headers["access-control-allow-headers"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in headers["access-control-allow-methods"].split(",")}


@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_another_origin_is_refused_even_for_a_preflight(chat_api, caplog, method):
    answer = chat_api.resolve(event(method, "/chat", headers={"origin": "https://evil.example.com"}),
                              LambdaContext())

    assert answer["statusCode"] == 403
    assert error_of(answer)["code"] == "origin_not_allowed"
    assert not any(name.startswith("access-control-") for name in answer["headers"])
    assert [line.code for line in refusals(caplog)] == ["origin_not_allowed"]


def test_without_allowed_origins_no_browser_gets_in_and_nothing_says_star():
    chat = Router()

    @chat.post("/chat")
    def post_chat():
        return http.respond(200)

    api = Api(chat, allowed_origins=())

    browser = api.resolve(event("POST", "/chat", headers={"origin": ORIGIN}), LambdaContext())
    server = api.resolve(event("POST", "/chat"), LambdaContext())

    assert browser["statusCode"] == 403
    assert server["statusCode"] == 200
    assert "access-control-allow-origin" not in server["headers"]


# --- headers ---------------------------------------------------------------------------

def test_always_headers_are_on_every_answer_and_names_are_lower_case():
    things = Router()

    @things.get("/things")
    def get_things():
        return http.respond(200, "hi", headers={"Cache-Control": "public, max-age=15"})

    @things.get("/broken")
    def broken():
        raise errors.NotFound("no such thing")

    api = Api(things, headers={"Access-Control-Allow-Origin": "*"})

    for path, status in (("/things", 200), ("/broken", 404), ("/nowhere", 404)):
        answer = api.resolve(event("GET", path), LambdaContext())
        assert answer["statusCode"] == status
        assert answer["headers"]["access-control-allow-origin"] == "*"
        assert all(name == name.lower() for name in answer["headers"])
    assert api.resolve(event("GET", "/things"), LambdaContext())["headers"]["cache-control"] == "public, max-age=15"


def test_bytes_are_answered_base64_encoded():
    things = Router()

    @things.get("/things")
    def get_things():
        return http.respond(200, b"\x89PNG\x00", "image/png")

    answer = Api(things).resolve(event(), LambdaContext())

    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == b"\x89PNG\x00"


def test_an_event_without_a_stage_is_taken_as_the_default_stage():
    things = Router()

    @things.get("/things")
    def get_things():
        return http.respond(200, "ok")

    bare = event()
    del bare["requestContext"]["stage"]

    assert Api(things).resolve(bare, LambdaContext())["statusCode"] == 200


# --- metrics ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_metrics_left_over():
    """The tests above add metrics without a handler to flush them."""
    from refdesk.observability import metrics

    metrics.provider.clear_metrics()
    yield
    metrics.provider.clear_metrics()


def test_a_flush_without_metrics_prints_and_warns_nothing(capsys):
    from refdesk.observability import metrics

    @metrics.log_metrics
    def handler(event, context):
        return "done"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert handler({}, LambdaContext()) == "done"

    assert "_aws" not in capsys.readouterr().out


def test_metrics_are_flushed_as_emf_with_their_dimensions(capsys):
    from refdesk.observability import count, metrics

    @metrics.log_metrics
    def handler(event, context):
        count("ConversationOpened", channel="sms")
        return "done"

    handler({}, LambdaContext())

    [line] = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emf = json.loads(line)
    assert emf["ConversationOpened"] == [1.0] and emf["channel"] == "sms"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "RefDesk"


# --- one request at a time per process ---------------------------------------------------

def test_resolvers_called_from_many_threads_take_turns():
    """Lambda runs one request at a time in a process and the layer is written for that; the local
    stack calls the handlers (all of them, in one process) from a thread per request."""
    import threading
    import time as clock

    first, second = Router(), Router()

    @first.get("/one/<id>")
    def one(id: str):  # noqa: A002
        clock.sleep(0.001)
        return http.json_response(200, {"id": id, "query": http.request(first).raw_query})

    @second.get("/two/<id>")
    def two(id: str):  # noqa: A002
        return http.json_response(200, {"id": id, "query": http.request(second).raw_query})

    apis = {"one": Api(first), "two": Api(second)}
    answers, threads = {}, []

    def call(name: str, n: int):
        request = event("GET", f"/{name}/{n}", path_params={"id": str(n)})
        request["rawQueryString"] = f"n={n}"
        answers[(name, n)] = apis[name].resolve(request, LambdaContext())

    for n in range(20):
        for name in apis:
            threads.append(threading.Thread(target=call, args=(name, n)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {key: (answer["statusCode"], json.loads(answer["body"])) for key, answer in answers.items()} == {
        (name, n): (200, {"id": str(n), "query": f"n={n}"}) for n in range(20) for name in apis}
