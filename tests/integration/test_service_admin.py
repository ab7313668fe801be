"""The lookup service's admin endpoints against a real redis-server: the API key, the bandit reset,
and experiment configs that reach every worker (two or three apps sharing one Redis).

Versions are published and apps built with test_service.py's helpers.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import redis

from feature_store.service.admin import DISABLED, EXPERIMENTS_KEY, key_id
from feature_store.service.bandit import STRATEGIES, stats_key
from feature_store.service.experiments import parse_experiments
from tasks.feedback import RESTORE_LUA
from tests.integration.test_service import GLOBAL, app_client, metric, publish, user_rows, users_in

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 in TestClient; httpx still works
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

KEY = "admin-test-key-9f2c4e1a7b3d5f60"
AUTH = {"Authorization": f"Bearer {KEY}"}
USERS = [f"U{n}" for n in range(10)] + ["NEW-1", "NEW-2"]
SETTINGS_EXPERIMENT = "deepfm_tags"  # the default RECSYS_SERVICE_EXPERIMENTS
RANKER2 = [
    {
        "name": "ranker2",
        "salt": "ranker2-test",
        "variants": [
            {"name": "control", "share": 0.5, "reads": "champion"},
            {"name": "treatment", "share": 0.5, "reads": "tags"},
        ],
    },
    {"name": "banner", "salt": "banner-test", "variants": [{"name": "on", "share": 1.0}]},
]
ENDPOINTS = [
    ("POST", "/v1/admin/bandit/reset"),
    ("GET", "/v1/admin/experiments"),
    ("PUT", "/v1/admin/experiments"),
    ("DELETE", "/v1/admin/experiments"),
    ("POST", "/v1/admin/experiments/reload"),
]
# Every arm well tried, the context arm rewarded best: UCB1 (and epsilon-greedy's greedy pick) takes it.
WARM = {f"{a}:n": 1000 for a in STRATEGIES} | {f"{a}:r": 10 for a in STRATEGIES} | {"context:r": 500}


@pytest.fixture
def published(redis_url: str) -> redis.Redis:
    """Version 1: champion lists for U0..U9 and tags lists for two users (so ``tags`` is a list)."""
    client = redis.Redis.from_url(redis_url)
    users = [user_rows("champion", f"U{n}", GLOBAL[n : n + 30]) for n in range(10)]
    users += [user_rows("tags", u, GLOBAL[40:50]) for u in users_in("tags", 2)]
    publish(client, users)
    return client


def admin_client(redis_url: str, **settings: Any) -> TestClient:
    return app_client(redis_url, service_admin_api_key=KEY, **settings)


def served(api: TestClient, user: str) -> tuple[str, str]:
    body = api.get(f"/v1/users/{user}/recommendations").json()
    return body["experiment"], body["variant"]


def cold_strategies(api: TestClient, count: int) -> set[str]:
    return {
        api.get(f"/v1/users/COLD-{n}/recommendations", params={"context": "category:phones"}).json()[
            "strategy"
        ]
        for n in range(count)
    }


def within(seconds: float, check: Callable[[], bool]) -> float:
    """How long until ``check()`` held; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - started


def expected(config: list[dict[str, Any]], user: str) -> tuple[str, str]:
    assignment = parse_experiments(config).assign(user)
    return assignment.experiment, assignment.variant


# -- the key ------------------------------------------------------------------------------------


def test_with_no_key_configured_the_admin_endpoints_are_disabled_and_a_stored_config_ignored(
    redis_url: str, published: redis.Redis
) -> None:
    published.hset(EXPERIMENTS_KEY, mapping={"config": json.dumps(RANKER2), "version": 1})
    published.hset(stats_key("all"), mapping={**WARM, "_t": time.time()})
    with app_client(redis_url) as api:
        for method, path in ENDPOINTS:
            response = api.request(method, path, headers=AUTH, json=RANKER2 if method == "PUT" else None)
            assert response.status_code == 403, (method, path)
            assert response.json() == {"error": "admin_disabled", "message": DISABLED, "problems": []}
        assert served(api, "U1")[0] == SETTINGS_EXPERIMENT
        assert (
            metric(api, 'recsys_service_admin_actions_total{action="bandit_reset",outcome="disabled"}') == 1
        )
    assert published.hget(EXPERIMENTS_KEY, "version") == b"1"  # untouched
    assert published.hlen(stats_key("all")) == len(WARM) + 1


def test_a_missing_or_wrong_key_is_refused_changes_nothing_and_never_reaches_the_logs(
    redis_url: str, published: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    published.hset(stats_key("all"), mapping={**WARM, "_t": time.time()})
    caplog.set_level(logging.INFO)
    with admin_client(redis_url) as api:
        for headers in [{}, {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer "}]:
            response = api.post("/v1/admin/bandit/reset", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == 'Bearer realm="recsys-admin"'
            assert response.json()["error"] == "unauthorized"
            assert "Authorization: Bearer <key> or X-API-Key" in response.json()["message"]
        for headers in [{"Authorization": f"Bearer {KEY}x"}, {"X-API-Key": KEY[:-1]}]:
            response = api.post("/v1/admin/bandit/reset", headers=headers)
            assert response.status_code == 403 and response.json() == {
                "error": "forbidden", "message": "the API key is wrong", "problems": []
            }  # fmt: skip
        refused = api.put("/v1/admin/experiments", headers={"X-API-Key": "nope"}, json=RANKER2)
        assert refused.status_code == 403
        assert not published.exists(EXPERIMENTS_KEY)
        assert published.hlen(stats_key("all")) == len(WARM) + 1
        assert served(api, "U1")[0] == SETTINGS_EXPERIMENT

        assert api.get("/v1/admin/experiments", headers={"X-API-Key": KEY}).status_code == 200
        actions = 'recsys_service_admin_actions_total{action="bandit_reset",outcome="%s"}'
        assert metric(api, actions % "unauthorized") == 3 and metric(api, actions % "forbidden") == 2
    assert KEY not in caplog.text and KEY[:-1] not in caplog.text
    assert f"admin: experiments_get by key {key_id(KEY)}: ok" in caplog.text
    assert "admin: bandit_reset from testclient refused: forbidden" in caplog.text


def test_the_openapi_document_lists_the_admin_endpoints_with_their_security(
    redis_url: str, published: redis.Redis
) -> None:
    with admin_client(redis_url) as api:
        doc = api.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["AdminBearer"] | {"description": None} == {
        "type": "http", "scheme": "bearer", "description": None
    }  # fmt: skip
    assert (schemes["AdminApiKey"]["type"], schemes["AdminApiKey"]["in"]) == ("apiKey", "header")
    assert schemes["AdminApiKey"]["name"] == "X-API-Key"
    for method, path in ENDPOINTS:
        operation = doc["paths"][path][method.lower()]
        assert operation["security"] == [{"AdminBearer": []}, {"AdminApiKey": []}], path
        assert {"401", "403", "503"} <= set(operation["responses"]), path
    put = doc["paths"]["/v1/admin/experiments"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert {"400", "409"} <= set(put["responses"])
    assert "security" not in doc["paths"]["/v1/users/{user_id}/recommendations"]["get"]


# -- the bandit ---------------------------------------------------------------------------------


def test_a_bandit_reset_clears_every_bucket_for_good_and_cold_starts_pick_as_a_fresh_bandit(
    redis_url: str, published: redis.Redis
) -> None:
    for bucket in ("all", "ctx:category:phones", "ctx:none"):
        published.hset(stats_key(bucket), mapping={**WARM, "_t": time.time()})
    with admin_client(redis_url) as api, app_client(redis_url, service_bandit_refresh_s=0.2) as other:
        assert cold_strategies(api, 5) == {"context"} == cold_strategies(other, 5)  # both read the stats

        response = api.post("/v1/admin/bandit/reset", headers=AUTH)
        assert response.status_code == 200
        body = response.json()
        assert body["buckets"] == ["all", "ctx:category:phones", "ctx:none"] and body["cleared"] == 3
        for bucket in body["buckets"]:
            assert published.hgetall(stats_key(bucket)) == {b"_t": repr(body["reset_at"]).encode()}
            # The hourly restore rebuilds absent buckets only: it leaves a reset one alone.
            assert published.eval(RESTORE_LUA, 1, stats_key(bucket), "global:n", "99") == 0

        # This worker dropped its cached copy (its refresh is 1 s): all arms untried, picked at random.
        assert len(cold_strategies(api, 24)) > 1
        time.sleep(0.3)  # the other worker within its service_bandit_refresh_s
        assert len(cold_strategies(other, 24)) > 1
        assert metric(api, 'recsys_service_admin_actions_total{action="bandit_reset",outcome="ok"}') == 1


def test_a_reset_of_one_context_resets_its_bucket_only(redis_url: str, published: redis.Redis) -> None:
    for bucket in ("all", "ctx:category:phones", "ctx:tag:CA001"):
        published.hset(stats_key(bucket), mapping={**WARM, "_t": time.time()})
    with admin_client(redis_url) as api:
        one = api.post("/v1/admin/bandit/reset", params={"context": "category:phones"}, headers=AUTH).json()
        assert (one["buckets"], one["cleared"]) == (["ctx:category:phones"], 1)
        none = api.post("/v1/admin/bandit/reset", params={"context": "none"}, headers=AUTH).json()
        assert (none["buckets"], none["cleared"]) == (["ctx:none"], 0)  # held nothing; now fresh
        bad = api.post("/v1/admin/bandit/reset", params={"context": "colour:red"}, headers=AUTH)
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "context"
    assert published.hlen(stats_key("ctx:category:phones")) == 1
    assert published.hkeys(stats_key("ctx:none")) == [b"_t"]
    assert published.hlen(stats_key("all")) == published.hlen(stats_key("ctx:tag:CA001")) == len(WARM) + 1


# -- experiments --------------------------------------------------------------------------------


def with_variants(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": "x", "salt": "x-salt", "variants": variants}]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "the body is not JSON"),
        (json.dumps(RANKER2[0]).encode(), "the body must be a JSON list of experiment objects"),
        (b"[]", "configure at least one experiment"),
        (json.dumps([{"name": "x", "variants": [{"name": "a", "share": 1}]}]).encode(), "salt must be"),
        (
            json.dumps(with_variants([{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}])).encode(),
            "experiment 'x': variant shares must add up to 1, they add up to 0.9",
        ),
        (
            json.dumps(with_variants([{"name": "a", "share": 1, "reads": "deepfm"}])).encode(),
            "experiment 'x' variant 'a' reads 'deepfm': the serving version v1 holds no such list",
        ),
    ],
    ids=["not-json", "not-a-list", "empty", "no-salt", "shares", "unpublished-reads"],
)
def test_a_bad_experiments_body_is_a_400_naming_the_problem_and_changes_nothing(
    redis_url: str, published: redis.Redis, body: bytes, problem: str
) -> None:
    with admin_client(redis_url) as api:
        response = api.put("/v1/admin/experiments", content=body, headers=AUTH)
        assert response.status_code == 400
        answer = response.json()
        assert answer["error"] == "invalid_experiments" and problem in answer["message"]
        assert answer["problems"] == [
            {"field": "experiments", "location": "body", "problem": answer["message"], "value": None}
        ]
        state = api.get("/v1/admin/experiments", headers=AUTH).json()
        assert (state["source"], state["version"], state["stored_version"]) == ("settings", None, None)
        assert served(api, "U1")[0] == SETTINGS_EXPERIMENT
    assert not published.exists(EXPERIMENTS_KEY)


def test_a_put_config_reaches_every_worker_within_the_poll_interval_and_delete_goes_back(
    redis_url: str, published: redis.Redis
) -> None:
    poll_s = 0.2  # service_pointer_ttl_s: how often a worker looks at the stored config
    with admin_client(redis_url) as api, admin_client(redis_url, service_pointer_ttl_s=poll_s) as worker:
        assert served(worker, "U1")[0] == SETTINGS_EXPERIMENT
        response = api.put("/v1/admin/experiments", json=RANKER2, headers=AUTH)
        assert response.status_code == 200
        state = response.json()
        assert state | {"updated_at": None} == {
            "source": "redis", "version": 1, "stored_version": 1, "updated_at": None,
            "updated_by": key_id(KEY), "experiments": RANKER2,
        }  # fmt: skip
        assert all(served(api, u) == expected(RANKER2, u) for u in USERS)  # this worker at once

        waited = within(poll_s + 1.0, lambda: served(worker, "U1")[0] == "ranker2")
        assert waited <= poll_s + 1.0
        # The same deterministic assignment in both workers: a pure function of the user id.
        assert all(served(worker, u) == served(api, u) == expected(RANKER2, u) for u in USERS)
        assert {served(api, u)[1] for u in USERS} == {"control", "treatment"}
        answer = worker.get("/v1/users/U3/recommendations").json()
        assert answer["experiments"] == {"ranker2": expected(RANKER2, "U3")[1], "banner": "on"}
        feedback = worker.post(
            "/v1/feedback", json={"request_id": answer["request_id"], "event": "impression", "user_id": "U3"}
        ).json()
        assert (feedback["experiment"], feedback["variant"]) == expected(RANKER2, "U3")
        assert metric(worker, "recsys_service_experiments_version") == 1
        assert worker.get("/v1/admin/experiments", headers=AUTH).json()["version"] == 1

        with admin_client(redis_url) as late:  # a worker started now applies it before serving
            assert served(late, "U1") == expected(RANKER2, "U1")

        deleted = api.delete("/v1/admin/experiments", headers=AUTH).json()
        assert (deleted["source"], deleted["version"], deleted["experiments"][0]["name"]) == (
            "settings", 2, SETTINGS_EXPERIMENT
        )  # fmt: skip
        assert served(api, "U1")[0] == SETTINGS_EXPERIMENT
        within(poll_s + 1.0, lambda: served(worker, "U1")[0] == SETTINGS_EXPERIMENT)
    assert published.hget(EXPERIMENTS_KEY, "version") == b"2"
    assert not published.hexists(EXPERIMENTS_KEY, "config")


def test_reload_makes_this_worker_read_the_stored_config_now_and_refuses_an_invalid_one(
    redis_url: str, published: redis.Redis
) -> None:
    with admin_client(redis_url) as api, admin_client(redis_url) as worker:  # both look every 60 s
        assert api.put("/v1/admin/experiments", json=RANKER2, headers=AUTH).status_code == 200
        lagging = worker.get("/v1/admin/experiments", headers=AUTH).json()
        assert (lagging["source"], lagging["version"], lagging["stored_version"]) == ("settings", None, 1)
        assert served(worker, "U1")[0] == SETTINGS_EXPERIMENT

        reloaded = worker.post("/v1/admin/experiments/reload", headers=AUTH).json()
        assert (reloaded["source"], reloaded["version"], reloaded["stored_version"]) == ("redis", 1, 1)
        assert served(worker, "U1") == expected(RANKER2, "U1")

        published.hset(EXPERIMENTS_KEY, "config", "[]")  # by hand: parse_experiments refuses it
        published.hincrby(EXPERIMENTS_KEY, "version", 1)
        refused = worker.post("/v1/admin/experiments/reload", headers=AUTH)
        assert refused.status_code == 409 and refused.json()["error"] == "invalid_stored_config"
        assert "configure at least one experiment" in refused.json()["message"]
        assert served(worker, "U1") == expected(RANKER2, "U1")  # serves on what it served


def test_a_put_before_anything_is_published_is_a_409(redis_url: str) -> None:
    with admin_client(redis_url) as api:
        response = api.put("/v1/admin/experiments", json=RANKER2, headers=AUTH)
        assert response.status_code == 409 and response.json()["error"] == "not_published"
        assert "publish first" in response.json()["message"]
