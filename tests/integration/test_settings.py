"""/internal/settings: read and change platform settings (DB-backed)."""

import json

import pytest

from apxtest import assert_problem, describe, header_tokens, media_type

PATH = "/internal/settings"


def get_settings(http, internal):
    r = http.get(PATH, headers=internal)
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("settings"), dict), describe(r)
    return body["settings"]


def patch(http, internal, body, ctype="application/json"):
    headers = dict(internal)
    if ctype is not None:
        headers["Content-Type"] = ctype
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return http.patch(PATH, headers=headers, data=body)


@pytest.fixture
def original(http, internal):
    """The settings before the test; access_token_lifetime is put back afterwards."""
    before = get_settings(http, internal)
    yield before
    r = patch(http, internal, {"access_token_lifetime": before["access_token_lifetime"]})
    assert r.status_code == 200, "could not restore settings:%s" % describe(r)
    assert get_settings(http, internal)["access_token_lifetime"] == before["access_token_lifetime"]


def _unchanged(http, internal, original):
    now = get_settings(http, internal)
    assert now == original, "rejected input changed the settings: %r -> %r" % (original, now)


def _other_value(original):
    return 600 if original["access_token_lifetime"] != 600 else 700


# ------------------------------------------------------------------ reading

def test_settings_get(http, internal):
    s = get_settings(http, internal)
    v = s.get("access_token_lifetime")
    assert isinstance(v, int) and not isinstance(v, bool), s
    assert 60 <= v <= 86400, s


def test_settings_default_access_token_lifetime_is_900(http, internal):
    # fresh stack; every test here restores the value it changed
    assert get_settings(http, internal)["access_token_lifetime"] == 900


# ------------------------------------------------------------------ changing

def test_settings_patch_changes_value(http, internal, original):
    new = _other_value(original)
    r = patch(http, internal, {"access_token_lifetime": new})
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    assert r.json()["settings"]["access_token_lifetime"] == new, describe(r)
    assert "no-store" in r.headers.get("Cache-Control", "").lower(), describe(r)
    after = get_settings(http, internal)
    assert after["access_token_lifetime"] == new
    # other settings untouched
    assert {k: v for k, v in after.items() if k != "access_token_lifetime"} == \
        {k: v for k, v in original.items() if k != "access_token_lifetime"}


def test_settings_patch_is_seen_by_every_worker(http, internal, original):
    new = _other_value(original)
    assert patch(http, internal, {"access_token_lifetime": new}).status_code == 200
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as ex:
        seen = list(ex.map(lambda _: get_settings(http, internal)["access_token_lifetime"],
                           range(32)))
    assert set(seen) == {new}, "some worker still answers an old value: %r" % seen


@pytest.mark.parametrize("value", [60, 86400])
def test_settings_patch_accepts_bounds(http, internal, original, value):
    r = patch(http, internal, {"access_token_lifetime": value})
    assert r.status_code == 200, describe(r)
    assert get_settings(http, internal)["access_token_lifetime"] == value


def test_settings_patch_accepts_json_with_charset(http, internal, original):
    new = _other_value(original)
    r = patch(http, internal, {"access_token_lifetime": new}, ctype="application/json; charset=utf-8")
    assert r.status_code == 200, describe(r)
    assert get_settings(http, internal)["access_token_lifetime"] == new


# ------------------------------------------------------------------ refusing

@pytest.mark.smoke
@pytest.mark.parametrize("raw", [
    b'{"access_token_lifetime": ',
    b"{oops}",
    b"{'access_token_lifetime': 600}",
    b'{"access_token_lifetime": 600,}',
    b'{"access_token_lifetime": 600} trailing',
    b"",
    b"\xff\xfe{}",
], ids=["truncated", "bare-word", "single-quotes", "trailing-comma", "trailing-garbage", "empty",
        "bad-utf8"])
def test_settings_malformed_json_400(http, internal, stack, original, raw):
    r = patch(http, internal, raw)
    assert_problem(r, 400, slug="malformed-json", stack=stack)
    _unchanged(http, internal, original)


@pytest.mark.parametrize("raw", [b"[600]", b'"600"', b"600", b"null", b"true"])
def test_settings_json_not_object_400(http, internal, stack, original, raw):
    r = patch(http, internal, raw)
    assert_problem(r, 400, stack=stack)
    _unchanged(http, internal, original)


def test_settings_unknown_key_422(http, internal, stack, original):
    r = patch(http, internal, {"no_such_setting": 1})
    assert_problem(r, 422, field="no_such_setting", stack=stack)
    _unchanged(http, internal, original)


def test_settings_unknown_key_with_valid_key_changes_nothing(http, internal, stack, original):
    r = patch(http, internal, {"access_token_lifetime": _other_value(original), "no_such_setting": 1})
    assert_problem(r, 422, field="no_such_setting", stack=stack)
    _unchanged(http, internal, original)


@pytest.mark.parametrize("value", [59, 86401, 0, -1, -900, 10 ** 12, "600", 600.5, 6e2,
                                   True, None, [600], {"v": 600}],
                         ids=lambda v: repr(v))
def test_settings_bad_value_422(http, internal, stack, original, value):
    r = patch(http, internal, {"access_token_lifetime": value})
    assert_problem(r, 422, field="access_token_lifetime", stack=stack)
    _unchanged(http, internal, original)


def test_settings_integer_beyond_int64_refused(http, internal, stack, original):
    # valid JSON that a C parser cannot hold: 400 (parse) or 422 (range), never 200/500
    r = patch(http, internal, b'{"access_token_lifetime": 9223372036854775808}')
    assert r.status_code in (400, 422), describe(r)
    assert_problem(r, r.status_code, stack=stack)
    _unchanged(http, internal, original)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "multipart/form-data; boundary=x", None])
def test_settings_wrong_content_type_415(http, internal, stack, original, ctype):
    r = patch(http, internal, {"access_token_lifetime": _other_value(original)}, ctype=ctype)
    assert_problem(r, 415, stack=stack)
    _unchanged(http, internal, original)


@pytest.mark.smoke
@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT"])
def test_settings_other_methods_405(http, internal, stack, method):
    r = http.request(method, PATH, headers=internal)
    assert_problem(r, 405, stack=stack)
    assert header_tokens(r.headers.get("Allow")) == {"GET", "PATCH"}, describe(r)


def test_settings_patch_answer_is_current_settings(http, internal, original):
    new = _other_value(original)
    r = patch(http, internal, {"access_token_lifetime": new})
    assert r.status_code == 200, describe(r)
    assert r.json()["settings"] == get_settings(http, internal), describe(r)
