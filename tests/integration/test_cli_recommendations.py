"""`recsys recommendations status|rollback` against a real redis-server."""

from __future__ import annotations

import pandas as pd
import pytest
import redis

from feature_store.recommendations import RecommendationReader, publish_recommendations
from recsys.cli import main

pytestmark = pytest.mark.integration


def _lists(item: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": "champion",
            "user_id": ["u1", "u1"],
            "rank": [1, 2],
            "item_id": [item, "i9"],
            "score": [2.0, 1.0],
            "channel": "faiss",
            "stage": "fine",
        }
    )


def test_status_lists_versions_and_rollback_serves_the_previous_one(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    client = redis.Redis.from_url(redis_url)
    assert main(["recommendations", "rollback"]) == 1  # nothing to roll back to: a clear error
    assert "no complete version" in capsys.readouterr().err
    for day, item in (("2026-11-07", "old"), ("2026-11-08", "new")):
        publish_recommendations(client, day, _lists(item), None, None, keep=3, batch_size=10, verify_sample=5)

    assert main(["recommendations", "status"]) == 0
    status = capsys.readouterr().out
    assert "rec:current -> v2" in status and "v1  complete  dt=2026-11-07" in status

    assert main(["recommendations", "rollback"]) == 0
    assert "now v1 (was v2)" in capsys.readouterr().out
    found = RecommendationReader(client, pointer_ttl_s=0.0).user("champion", "u1")
    assert found is not None and found[0].item_id == "old"


def test_show_prints_a_users_list_and_says_when_there_is_none(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    assert main(["recommendations", "show", "--user", "u1"]) == 1
    assert "nothing is published" in capsys.readouterr().err
    client = redis.Redis.from_url(redis_url)
    publish_recommendations(
        client, "2026-11-08", _lists("i1"), None, None, keep=2, batch_size=10, verify_sample=5
    )
    assert main(["recommendations", "show", "--user", "u1", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "1. i1" in out and "faiss" in out and "i9" not in out
    assert main(["recommendations", "show", "--user", "stranger"]) == 0
    assert "cold start" in capsys.readouterr().out
