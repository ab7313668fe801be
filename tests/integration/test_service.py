"""The lookup service against a real redis-server: endpoints, A/B, cold start, breaker, privacy.

Small hand-made versions are published with ``publish_recommendations``; most tests drive the
app in-process (TestClient, which runs its lifespan); the outage test runs real uvicorn
workers in a subprocess and stops and restarts a real redis-server under a load loop.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import redis

from feature_store.recommendations import publish_recommendations
from feature_store.service.app import create_app
from feature_store.service.bandit import STRATEGIES, stats_key
from feature_store.service.experiments import parse_experiments
from feature_store.service.feedback import STREAM, parse_request_id
from feature_store.service.privacy import DEVELOPMENT_USER_HASH_KEY, UserHasher
from feature_store.service.schemas import Recommendations
from recsys.settings import load_settings
from tests.support import ROOT, free_port

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 in TestClient; httpx still works
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

GLOBAL = [f"P{n}" for n in range(60)]  # the catalog: 60 popular items and 5 new ones
NEW = [f"N{n}" for n in range(5)]
PHONES = [f"P{n}" for n in range(20, 30)]
TAGS_EXPERIMENT = [
    {
        "name": "ranker",
        "salt": "ranker-test",
        "variants": [
            {"name": "baseline", "share": 0.5, "reads": "champion"},
            {"name": "tags", "share": 0.5, "reads": "tags"},
        ],
    }
]


def users_in(variant: str, count: int, config: list[dict[str, Any]] = TAGS_EXPERIMENT) -> list[str]:
    experiments = parse_experiments(config)
    found = (f"U{n}" for n in range(10_000) if experiments.assign(f"U{n}").variant == variant)
    return [next(found) for _ in range(count)]


def user_rows(variant: str, user_id: str, items: list[str]) -> pd.DataFrame:
    n = len(items)
    return pd.DataFrame(
        {
            "variant": [variant] * n,
            "user_id": [user_id] * n,
            "rank": range(1, n + 1),
            "item_id": items,
            "score": [float(n - r) for r in range(n)],
            "channel": ["faiss"] * n,
            "stage": ["fine"] * n,
        }
    )


def item_rows(kind: str, key: str, items: list[str]) -> pd.DataFrame:
    n = len(items)
    return pd.DataFrame(
        {
            "kind": [kind] * n,
            "key": [key] * n,
            "rank": range(1, n + 1),
            "item_id": items,
            "score": range(n, 0, -1),
        }
    )


def publish(
    client: redis.Redis,
    users: list[pd.DataFrame],
    global_items: list[str] = GLOBAL,
    dt: str = "2026-11-05",
    aliases: dict[str, str] | None = None,
) -> int:
    lists = pd.concat(
        [
            item_rows("segment", "global", global_items),
            item_rows("segment", "trending", GLOBAL[10:20]),
            item_rows("segment", "new_arrivals", NEW),
            item_rows("segment", "category:phones", PHONES),
            item_rows("segment", "tag:CA001", GLOBAL[30:35]),
            item_rows("similar", "P1", ["P2", "P3", "P4"]),
        ],
        ignore_index=True,
    )
    report = publish_recommendations(
        client,
        dt,
        pd.concat(users, ignore_index=True),
        lists,
        None,
        keep=2,
        batch_size=100,
        verify_sample=10,
        aliases=aliases,
    )
    return report.version


@pytest.fixture
def store(redis_url: str) -> redis.Redis:
    """Redis with version 1: champion lists for U0..U9 (30 items; U9 only 3), tags lists for two users."""
    client = redis.Redis.from_url(redis_url)
    users = [user_rows("champion", f"U{n}", GLOBAL[n : n + 30]) for n in range(9)]
    users.append(user_rows("champion", "U9", ["P50", "P51", "P52"]))
    users += [user_rows("tags", u, NEW + GLOBAL[40:50]) for u in users_in("tags", 2)]
    publish(client, users)
    return client


def app_client(redis_url: str, **settings: Any) -> TestClient:
    options: dict[str, Any] = {"redis_url": redis_url, "service_pointer_ttl_s": 60.0} | settings
    return TestClient(create_app(load_settings(**options)))


@pytest.fixture
def api(redis_url: str, store: redis.Redis) -> Iterator[TestClient]:
    with app_client(redis_url) as client:
        yield client


def round_trips(api: TestClient) -> list[tuple[str, int]]:
    """From now on, the store's Redis round trips: (GET, 1), (MGET, keys) or (pipeline, commands)."""
    store = api.app.state.lookup.store  # type: ignore[attr-defined]
    calls: list[tuple[str, int]] = []
    get, mget, execute = store.get, store.mget, store.execute

    async def counted_get(key: str) -> Any:
        calls.append(("GET", 1))
        return await get(key)

    async def counted_mget(keys: list[str]) -> Any:
        calls.append(("MGET", len(keys)))
        return await mget(keys)

    async def counted_execute(pipe: Any) -> Any:
        commands = [c[0][0] for c in pipe.command_stack]
        if commands and all(c in ("HINCRBY", "EXPIRE") for c in commands):
            return await execute(pipe)  # the worker's hourly counts, sent off the request path
        calls.append(("pipeline", len(pipe.command_stack)))
        return await execute(pipe)

    store.get, store.mget, store.execute = counted_get, counted_mget, counted_execute
    return calls


def metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " ") or (
            line.startswith(line_start + "{") and line.split(" ")[0] == line_start
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- reading --------------------------------------------------------------------------


def test_a_user_with_a_published_list_gets_it_in_rank_order(api: TestClient) -> None:
    # U4: no list of its variant's own (U0 and U3 have tags lists), so champion's is read.
    body = api.get("/v1/users/U4/recommendations", params={"k": 5}).json()
    assert [i["item_id"] for i in body["items"]] == GLOBAL[4:9]
    assert body["items"][0] == {"item_id": "P4", "score": 30.0, "channel": "faiss", "stage": "fine"}
    assert (body["source"], body["reads"], body["version"], body["fallback"]) == (
        "personal",
        "champion",
        1,
        False,
    )
    assert body["experiment"] == "deepfm_tags" and body["variant"] in {"baseline", "tags"}
    assert body["experiments"] == {"deepfm_tags": body["variant"]}
    token = parse_request_id(body["request_id"])
    assert token is not None and (token.version, token.source) == (1, "personal")


def test_the_default_k_and_a_short_list_topped_up_to_k(api: TestClient) -> None:
    assert len(api.get("/v1/users/U3/recommendations").json()["items"]) == 20  # service_default_k
    items = api.get("/v1/users/U9/recommendations", params={"k": 10}).json()["items"]
    assert [i["item_id"] for i in items] == ["P50", "P51", "P52", *GLOBAL[:7]]
    assert [i["channel"] for i in items[3:]] == ["global"] * 7


def test_a_variant_reads_its_own_list_and_falls_back_to_champion_recorded(
    redis_url: str, store: redis.Redis
) -> None:
    with_list, without = users_in("tags", 3)[:2], users_in("tags", 3)[2]
    baseline = users_in("baseline", 1)[0]
    with app_client(redis_url, service_experiments=TAGS_EXPERIMENT) as api:
        own = api.get(f"/v1/users/{with_list[0]}/recommendations", params={"k": 5}).json()
        assert (own["variant"], own["reads"], own["variant_fallback"]) == ("tags", "tags", False)
        assert [i["item_id"] for i in own["items"]] == NEW
        fell_back = api.get(f"/v1/users/{without}/recommendations", params={"k": 5}).json()
        assert (fell_back["variant"], fell_back["reads"], fell_back["variant_fallback"]) == (
            "tags",
            "champion",
            True,
        )
        assert fell_back["source"] == "personal"
        other = api.get(f"/v1/users/{baseline}/recommendations").json()
        assert (other["variant"], other["reads"], other["variant_fallback"]) == (
            "baseline",
            "champion",
            False,
        )
        assert metric(api, 'recsys_service_variant_fallbacks_total{reads="tags"}') == 1.0


def test_a_variant_whose_ranker_is_the_champion_reads_champion_through_the_alias(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    baseline, tags = users_in("baseline", 1)[0], users_in("tags", 1)[0]
    users = [user_rows("champion", u, GLOBAL[:10]) for u in (baseline, tags)]
    users += [user_rows("baseline", u, NEW + GLOBAL[40:45]) for u in (baseline, tags)]
    publish(client, users, aliases={"tags": "champion"})  # the champion ranker is the tags variant
    experiment = [
        {
            **TAGS_EXPERIMENT[0],
            "variants": [{**v, "reads": v["name"]} for v in TAGS_EXPERIMENT[0]["variants"]],
        }
    ]
    with app_client(redis_url, service_experiments=experiment) as api:
        api.get("/v1/users/NEW-9/recommendations")  # the snapshot and the bandit's statistics, warmed
        calls = round_trips(api)
        own = api.get(f"/v1/users/{tags}/recommendations", params={"k": 5}).json()
        other = api.get(f"/v1/users/{baseline}/recommendations", params={"k": 5}).json()
    assert (own["variant"], own["reads"], own["variant_fallback"]) == ("tags", "champion", False)
    assert [i["item_id"] for i in own["items"]] == GLOBAL[:5]
    assert (other["variant"], other["reads"], other["variant_fallback"]) == ("baseline", "baseline", False)
    assert [i["item_id"] for i in other["items"]] == NEW
    # The alias named champion: no second key for a fallback list. Baseline's list, and champion's.
    assert calls == [("MGET", 1), ("MGET", 2)]


def test_a_cold_user_gets_k_items_from_a_bandit_strategy(api: TestClient) -> None:
    body = api.get("/v1/users/NEW-1/recommendations", params={"k": 30}).json()
    assert body["source"] == "cold_start" and body["reads"] is None
    assert body["strategy"] in {"global", "trending", "new_arrivals"}  # no context: no context arm
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert parse_request_id(body["request_id"]).source == body["strategy"]  # type: ignore[union-attr]


def test_cold_start_returns_the_whole_catalog_when_it_holds_fewer_than_k(api: TestClient) -> None:
    ids = [
        i["item_id"] for i in api.get("/v1/users/NEW-2/recommendations", params={"k": 100}).json()["items"]
    ]
    assert sorted(ids) == sorted(GLOBAL + NEW)


def test_the_context_arm_serves_the_context_segment_when_it_earns_most(
    api: TestClient, store: redis.Redis
) -> None:
    # Every arm well tried; the context arm rewarded best: UCB1 picks it.
    stats = {f"{a}:n": 1000 for a in STRATEGIES} | {f"{a}:r": 10 for a in STRATEGIES} | {"context:r": 500}
    store.hset(stats_key("all"), mapping={**stats, "_t": time.time()})
    body = api.get("/v1/users/NEW-3/recommendations", params={"k": 15, "context": "category:phones"}).json()
    assert (body["strategy"], body["context"]) == ("context", "category:phones")
    assert [i["item_id"] for i in body["items"]] == PHONES + GLOBAL[:5]
    assert body["items"][0]["channel"] == "category:phones"
    token = parse_request_id(body["request_id"])
    assert token is not None and (token.source, token.context) == ("context", "category:phones")


@pytest.mark.parametrize(
    ("user", "query"),
    [
        ("U4", {"k": 5}),  # champion's list, the variant's missing
        ("U3", {"k": 5}),  # its tags list
        ("U9", {"k": 10}),  # a short list, topped up
        ("NEW-1", {"k": 7}),  # cold start
        ("NEW-2", {"k": 7, "context": "category:phones"}),
    ],
)
def test_the_fast_lane_answers_as_fastapi_does(api: TestClient, user: str, query: dict[str, Any]) -> None:
    route = 'route="/v1/users/{user_id}/recommendations"'
    counted = metric(api, f'recsys_service_requests_total{{{route},status="200"}}')
    fast = api.get(f"/v1/users/{user}/recommendations", params=query)
    # A leading zero is not a plain query: FastAPI parses it, and the endpoint answers.
    slow = api.get(f"/v1/users/{user}/recommendations", params={**query, "k": f"0{query['k']}"})
    assert fast.status_code == slow.status_code == 200
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert int(fast.headers["content-length"]) == len(fast.content)
    # The bytes the response model gives, as FastAPI sent them before the fast lane.
    assert Recommendations.model_validate_json(fast.content).model_dump_json().encode() == fast.content
    mine, theirs = fast.json(), slow.json()
    if mine["source"] == "cold_start":  # the bandit's choice may differ: the rest may not
        assert theirs["source"] == "cold_start" and len(theirs["items"]) == len(mine["items"])
        mine, theirs = ({**b, "strategy": None, "items": None, "request_id": None} for b in (mine, theirs))
    assert {**mine, "request_id": None} == {**theirs, "request_id": None}
    assert metric(api, f'recsys_service_requests_total{{{route},status="200"}}') == counted + 2


def test_the_fast_lane_leaves_other_methods_and_errors_as_they_were(api: TestClient) -> None:
    for method in ("HEAD", "POST"):  # FastAPI's GET routes take neither: the fast lane passes them on
        assert api.request(method, "/v1/users/U1/recommendations").status_code == 405
    bad = api.get("/v1/users/U%201/recommendations")  # plain query: the fast lane's 422
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "user_id"
    route = 'route="/v1/users/{user_id}/recommendations"'
    assert metric(api, f'recsys_service_requests_total{{{route},status="422"}}') == 1.0


def test_similar_items(api: TestClient) -> None:
    body = api.get("/v1/items/P1/similar", params={"k": 2}).json()
    assert [i["item_id"] for i in body["items"]] == ["P2", "P3"] and body["fallback"] is False
    missing = api.get("/v1/items/P999/similar")
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown_item" and "P999" in missing.json()["message"]


def test_one_redis_round_trip_per_request(api: TestClient) -> None:
    api.get("/v1/users/NEW-4/recommendations")  # warms the bandit's cached statistics
    calls = round_trips(api)
    for path in [
        "/v1/users/U1/recommendations",  # the variant's list (none here), and champion's
        "/v1/users/NEW-4/recommendations",
        "/v1/users/NEW-5/recommendations?context=category:phones",  # and the context's segment
        "/v1/items/P1/similar",
    ]:
        assert api.get(path).status_code == 200
    assert calls == [("MGET", 2), ("MGET", 2), ("MGET", 3), ("GET", 1)]  # round trips, and keys in each


def test_the_bandit_statistics_ride_along_in_one_pipeline_when_stale(
    redis_url: str, store: redis.Redis
) -> None:
    with app_client(redis_url, service_bandit_refresh_s=0.0) as api:  # stale at every request
        api.get("/v1/users/NEW-4/recommendations")
        calls = round_trips(api)
        body = api.get("/v1/users/NEW-4/recommendations", params={"context": "category:phones"}).json()
    assert calls == [("pipeline", 2)]  # MGET of the lists and the segment, HGETALL of the statistics
    assert body["source"] == "cold_start" and len(body["items"]) == 20


def test_a_publish_moves_the_service_and_its_snapshot_to_the_new_version(
    redis_url: str, store: redis.Redis
) -> None:
    with app_client(redis_url, service_pointer_ttl_s=0.0) as api:
        assert api.get("/v1/users/NEW-6/recommendations").json()["version"] == 1
        publish(store, [user_rows("champion", "U1", ["P7"])], global_items=GLOBAL[::-1], dt="2026-11-06")
        body = api.get("/v1/users/U1/recommendations", params={"k": 3}).json()
        assert body["version"] == 2 and [i["item_id"] for i in body["items"]] == ["P7", "P59", "P58"]
        snapshot = api.app.state.lookup.store.snapshot  # type: ignore[attr-defined]
        assert snapshot.version == 2 and snapshot.segments["global"][0].item_id == "P59"
        assert metric(api, "recsys_service_version") == 2.0


# -- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field", "problem"),
    [
        ("/v1/users/U%201/recommendations", "user_id", "without whitespace"),
        ("/v1/users/U1/recommendations?k=0", "k", "greater than or equal to 1"),
        ("/v1/users/U1/recommendations?k=101", "k", "less than or equal to 100"),
        ("/v1/users/U1/recommendations?k=ten", "k", "valid integer"),
        (
            "/v1/users/U1/recommendations?context=phones",
            "context",
            "use category:<name>, tag:<code> or persona:<code>",
        ),
        ("/v1/users/U1/recommendations?context=category:", "context", "unknown context"),
        ("/v1/users/U1/recommendations?context=tag:XX999", "context", "unknown tag 'XX999'"),
        ("/v1/users/U1/recommendations?context=persona:gamer", "context", "personas are TA001"),
        ("/v1/users/U1/recommendations?context=category:tv", "context", "unknown category 'tv'"),
        ("/v1/items/P1/similar?k=500", "k", "less than or equal to 100"),
        ("/v1/items/P%091/similar", "item_id", "control characters"),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field_and_the_problem(
    api: TestClient, path: str, field: str, problem: str
) -> None:
    response = api.get(path)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["problems"][0]["field"] == field and problem in body["problems"][0]["problem"]
    assert body["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"request_id": "abc"}, "request_id", "not a request id issued by this service"),
        ({"event": "view"}, "event", "'impression', 'click', 'cart' or 'purchase'"),
        ({"item_id": None}, "item_id", "required for a click event"),
        ({"user_id": "a b"}, "user_id", "without whitespace"),
        ({"extra": 1}, "extra", "Extra inputs are not permitted"),
    ],
)
def test_bad_feedback_is_a_422_naming_the_field(
    api: TestClient, change: dict[str, Any], field: str, problem: str
) -> None:
    body = {"request_id": "0123456789abcdef.v1.global", "event": "click", "user_id": "U1", "item_id": "P1"}
    response = api.post("/v1/feedback", json=body | change)
    assert response.status_code == 422, response.text
    (found,) = response.json()["problems"]
    assert (found["field"], found["location"]) == (field, "body") and problem in found["problem"]


# -- feedback, health, metrics, documents ----------------------------------------------


def test_feedback_lands_in_the_stream_and_rewards_the_cold_start_strategy(
    api: TestClient, store: redis.Redis
) -> None:
    answer = api.get("/v1/users/NEW-7/recommendations", params={"context": "category:phones"}).json()
    strategy, rid = answer["strategy"], answer["request_id"]
    first = answer["items"][0]["item_id"]
    out = api.post("/v1/feedback", json={"request_id": rid, "event": "impression", "user_id": "NEW-7"})
    assert (
        out.status_code == 202
        and out.json()["queued"] is False
        and out.json()["variant"] == answer["variant"]
    )
    api.post("/v1/feedback", json={"request_id": rid, "event": "click", "user_id": "NEW-7", "item_id": first})

    entries = store.xrange(STREAM)
    assert entries[0][0].decode() == out.json()["stream_id"]
    fields = {k.decode(): v.decode() for k, v in entries[1][1].items()}
    assert set(fields) == {
        "event_id", "ts_ms", "event", "request_id", "user_id", "item_id", "experiment", "variant",
        "experiments", "source", "context", "version",
    }  # fmt: skip
    assert (fields["event"], fields["item_id"], fields["request_id"], fields["source"]) == (
        "click",
        first,
        rid,
        strategy,
    )
    assert json.loads(fields["experiments"]) == {"deepfm_tags": answer["variant"]}
    assert (fields["context"], fields["version"]) == ("category:phones", "1")
    for bucket in ("all", "ctx:category:phones"):
        raw = store.hgetall(stats_key(bucket))
        pulls, reward = (float(raw[f"{strategy}:{f}".encode()]) for f in "nr")
        assert (pulls, reward) == (pytest.approx(1.0), pytest.approx(0.2))  # decayed by milliseconds
    variant = f'experiment="deepfm_tags",variant="{answer["variant"]}"'
    assert metric(api, f"recsys_service_impressions_total{{{variant}}}") == 1.0
    assert metric(api, f"recsys_service_clicks_total{{{variant}}}") == 1.0


def test_health_readiness_and_the_metrics_names(api: TestClient, store: redis.Redis) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json() | {"reason": None} == {
        "ready": True, "version": 1, "breaker": "closed", "reason": None
    }  # fmt: skip
    api.get("/v1/users/U1/recommendations")
    api.get("/v1/users/NEW-8/recommendations")
    text = api.get("/metrics").text
    for name in [
        "recsys_service_request_seconds_bucket",
        "recsys_service_requests_total",
        "recsys_service_recommendations_total",
        "recsys_service_cold_starts_total",
        "recsys_service_read_batch_requests_count",
        "recsys_service_breaker_state",
        "recsys_service_version",
    ]:
        assert name in text, name
    assert 'route="/v1/users/{user_id}/recommendations"' in text and "U1" not in text
    store.flushall()  # the pointer is gone: not ready, but the snapshot still answers
    not_ready = api.get("/readyz")
    assert not_ready.status_code == 503 and "nothing published" in not_ready.json()["reason"]


def test_nothing_published_is_not_ready_and_a_503_that_says_why(redis_url: str) -> None:
    with app_client(redis_url) as api:
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 503
        response = api.get("/v1/users/U1/recommendations")
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "rec:current is unset" in response.json()["message"]


def test_the_openapi_document_lists_every_endpoint(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    assert set(doc["paths"]) >= {
        "/v1/users/{user_id}/recommendations", "/v1/items/{item_id}/similar", "/v1/feedback",
        "/healthz", "/readyz", "/metrics",
    }  # fmt: skip
    params = {p["name"]: p for p in doc["paths"]["/v1/users/{user_id}/recommendations"]["get"]["parameters"]}
    assert params["k"]["schema"]["maximum"] == 100 and params["k"]["schema"]["default"] == 20


def test_logs_and_audit_records_hold_hashed_user_ids_only(
    redis_url: str, store: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    user = "shopper-4711"
    publish(store, [user_rows("champion", user, GLOBAL[:5])], dt="2026-11-07")
    caplog.set_level(logging.DEBUG)
    with app_client(redis_url, service_audit_sample_rate=1.0) as api:
        api.get(f"/v1/users/{user}/recommendations", params={"k": 3})
        api.get(f"/v1/users/{user}/recommendations", params={"k": 3, "context": "category:nope"})
        api.post(
            "/v1/feedback",
            json={"request_id": "0123456789abcdef.v1.global", "event": "impression", "user_id": user},
        )
    audits = [json.loads(r.getMessage()) for r in caplog.records if r.name == "recsys.audit"]
    assert len(audits) == 1  # the 422 served nothing
    assert audits[0]["user"] == UserHasher(DEVELOPMENT_USER_HASH_KEY)(user)
    assert audits[0]["items"] == GLOBAL[:3] and audits[0]["source"] == "personal"
    assert any(r.name == "feature_store.service.access" for r in caplog.records)
    service_side = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert service_side and not any(user in message for message in service_side)


def test_production_refuses_to_start_without_a_user_hash_key(redis_url: str) -> None:
    from recsys.errors import SettingsError

    settings = load_settings(
        redis_url=redis_url, environment="production", registry_hmac_key="k", redis_password="p"
    )
    with pytest.raises(SettingsError, match="RECSYS_SERVICE_USER_HASH_KEY"):
        create_app(settings)


# -- Redis going away ------------------------------------------------------------------


class RestartableRedis:
    """A real redis-server that can be stopped (saving its data) and started again on its port."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, *args, "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """SHUTDOWN SAVE: writes dump.rdb, which the next start loads, like a restart in production."""
        redis.Redis(port=self.port).shutdown(save=True)
        assert self.process is not None
        self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def flaky_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path)
    users = [user_rows("champion", f"U{n}", GLOBAL[n : n + 30]) for n in range(9)]
    publish(redis.Redis(port=server.port), users)
    yield server
    server.kill()


def test_the_breaker_opens_serves_the_snapshot_and_recovers(flaky_redis: RestartableRedis) -> None:
    settings = {"service_breaker_failures": 3, "service_breaker_open_s": 0.5, "service_redis_timeout_s": 0.2}
    with app_client(flaky_redis.url, **settings) as api:
        rid = api.get("/v1/users/U1/recommendations").json()["request_id"]
        flaky_redis.stop()
        answers = [api.get("/v1/users/U1/recommendations", params={"k": 62}).json() for _ in range(5)]
        assert [a["fallback_reason"] for a in answers] == ["redis_error"] * 3 + ["breaker_open"] * 2
        assert all(a["source"] == "fallback" and a["version"] == 1 for a in answers)
        assert [i["item_id"] for i in answers[0]["items"]] == GLOBAL + NEW[:2]  # popular, then new arrivals
        similar = api.get("/v1/items/P1/similar", params={"k": 3}).json()
        assert similar["fallback"] and [i["item_id"] for i in similar["items"]] == ["P0", "P2", "P3"]
        held = api.post("/v1/feedback", json={"request_id": rid, "event": "impression", "user_id": "U1"})
        assert held.status_code == 202 and held.json()["queued"] is True
        assert api.get("/readyz").status_code == 503
        assert metric(api, "recsys_service_breaker_state") == 2.0
        assert (
            metric(api, 'recsys_service_fallbacks_total{reason="breaker_open",route="recommendations"}')
            == 2.0
        )

        flaky_redis.start()
        time.sleep(0.5)  # the open time
        back = api.get("/v1/users/U1/recommendations").json()
        assert (back["source"], back["fallback"]) == ("personal", False)
        assert (
            api.post("/v1/feedback", json={"request_id": rid, "event": "impression", "user_id": "U1"}).json()[
                "queued"
            ]
            is False
        )
        assert redis.Redis(port=flaky_redis.port).xlen(STREAM) == 2  # the held event went out first
        assert metric(api, "recsys_service_breaker_state") == 0.0


def test_a_redis_that_hangs_is_timed_out_and_opens_the_breaker(flaky_redis: RestartableRedis) -> None:
    """A Redis that accepts the command and never answers (CLIENT PAUSE) costs a request its
    timeout, not the client's default of forever: the store times every call itself."""
    settings = {"service_breaker_failures": 2, "service_breaker_open_s": 30.0, "service_redis_timeout_s": 0.2}
    with app_client(flaky_redis.url, **settings) as api:
        assert api.get("/v1/users/U1/recommendations").json()["source"] == "personal"
        redis.Redis(port=flaky_redis.port).client_pause(3000, all=True)
        started = time.monotonic()
        answers = [api.get("/v1/users/U1/recommendations").json() for _ in range(3)]
        elapsed = time.monotonic() - started
    assert [a["fallback_reason"] for a in answers] == ["redis_error", "redis_error", "breaker_open"]
    assert all(a["source"] == "fallback" for a in answers)
    assert elapsed < 1.5  # two timeouts of 0.2 s, then the open breaker answers at once


def _serve(redis_url: str, port: int, open_s: float, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")} | {
        "RECSYS_REDIS_URL": redis_url,
        "RECSYS_SERVICE_PORT": str(port),
        "RECSYS_SERVICE_WORKERS": str(workers),
        "RECSYS_SERVICE_BREAKER_OPEN_S": str(open_s),
        "RECSYS_SERVICE_POINTER_TTL_S": "0.2",
        "RECSYS_SERVICE_REDIS_TIMEOUT_S": "0.2",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the workers' logging
        return subprocess.Popen(
            [sys.executable, "-m", "feature_store.service"], cwd=ROOT, env=env, stderr=out
        )


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the service did not become ready")


@pytest.mark.slow
def test_uvicorn_workers_ride_out_a_redis_restart_without_a_5xx(
    flaky_redis: RestartableRedis, tmp_path: Path
) -> None:
    port, open_s, workers, log = free_port(), 1.5, 2, tmp_path / "service.log"
    base = f"http://127.0.0.1:{port}"
    service = _serve(flaky_redis.url, port, open_s, workers, log)
    results: list[tuple[float, int, bool]] = []  # (answered at, status, fallback)
    stop = threading.Event()

    def load(n: int) -> None:
        paths = [
            f"/v1/users/U{n}/recommendations",
            f"/v1/users/NEW-{n}/recommendations",
            "/v1/items/P1/similar",
        ]
        with httpx.Client(base_url=base, timeout=5) as client:
            i = 0
            while not stop.is_set():
                response = client.get(paths[i % 3])
                results.append(
                    (time.monotonic(), response.status_code, response.json().get("fallback", False))
                )
                i += 1

    try:
        _wait_ready(base, service, log)
        threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        stopped = time.monotonic()
        flaky_redis.stop()
        time.sleep(2.0)  # longer than the open time: every worker's first probe fails
        flaky_redis.start()
        restarted = time.monotonic()
        time.sleep(open_s + 1.5)
        stop.set()
        for t in threads:
            t.join()
        metrics_text = httpx.get(f"{base}/metrics").text
    finally:
        service.terminate()
        service.wait(timeout=20)

    assert len(results) > 100 and {status for _, status, _ in results} == {200}  # no 5xx, no 4xx
    during = [fallback for at, _, fallback in results if stopped + 0.1 < at < restarted]
    assert during and all(during)  # the snapshot answered while Redis was away
    recovered = min(at for at, _, fallback in results if at > restarted and not fallback)
    assert recovered - restarted <= open_s + 0.3, "recovery takes at most the open time"
    after = [fallback for at, _, fallback in results if at > restarted + open_s + 0.3]
    assert after and not any(after)  # every worker is back on Redis
    assert 'recsys_service_fallbacks_total{reason="breaker_open",route="recommendations"}' in metrics_text
    assert "recsys_service_read_batch_requests_count" in metrics_text  # the reads went batched


def test_each_worker_adds_its_hourly_request_counts_into_redis_for_the_alert_rules(
    redis_url: str, store: redis.Redis
) -> None:
    with app_client(redis_url, service_rollup_flush_s=60.0) as api:
        for path in [
            "/v1/users/U1/recommendations",
            "/v1/users/U2/recommendations",
            "/v1/users/NEW-7/recommendations",
        ]:
            assert api.get(path).status_code == 200
    # Shutting down sends what the worker still holds (the flush interval had not come round).
    totals: dict[str, int] = {}
    for key in store.scan_iter(match="service:hourly:*"):
        for name, n in store.hgetall(key).items():
            totals[name.decode()] = totals.get(name.decode(), 0) + int(n)
        assert 0 < store.ttl(key) <= 15 * 86400
    assert totals["requests"] == 3 and totals["cold_start"] == 1
    assert sum(n for name, n in totals.items() if name.startswith("le:")) == 3
