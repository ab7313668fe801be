"""A/B assignment: deterministic, stable across processes, uniform, fast; the config is validated."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from scipy.stats import chi2, chi2_contingency

from feature_store.service.experiments import CHAMPION, Experiment, Variant, parse_experiments
from recsys.errors import SettingsError
from recsys.settings import load_settings
from tests.support import ROOT

TWO_WAY: list[dict[str, Any]] = [
    {
        "name": "ranker",
        "salt": "ranker-1",
        "variants": [
            {"name": "baseline", "share": 0.5, "reads": "champion"},
            {"name": "tags", "share": 0.5, "reads": "tags"},
        ],
    }
]
IDS = [f"U{n:07d}" for n in range(100_000)]


def experiment(shares: tuple[float, ...], salt: str = "s1") -> Experiment:
    return Experiment("e", salt, tuple(Variant(f"v{i}", s) for i, s in enumerate(shares)))


def chi_square(counts: Counter[str], expected: dict[str, float]) -> float:
    return sum((counts[name] - e) ** 2 / e for name, e in expected.items())


def test_the_default_experiment_splits_traffic_between_the_two_deepfm_lists() -> None:
    experiments = parse_experiments(load_settings().service_experiments)
    (only,) = experiments.experiments
    assert [(v.name, v.share, v.reads) for v in only.variants] == [
        ("baseline", 0.5, "baseline"),
        ("tags", 0.5, "tags"),
    ]
    assert {experiments.assign(f"U{n}").reads for n in range(100)} == {"baseline", "tags"}


def test_assignment_is_a_pure_function_of_salt_and_user_id() -> None:
    first, again = parse_experiments(TWO_WAY), parse_experiments(TWO_WAY)
    assert [first.assign(u).variant for u in IDS[:1000]] == [again.assign(u).variant for u in IDS[:1000]]
    # Pinned values: a change of hash or of the share mapping would move users between arms.
    assert first.experiments[0].bucket("U0000001") == 0x7CC4FCDAE798C699
    assert [first.assign(f"U{n}").variant for n in range(8)] == [
        "baseline",
        "tags",
        "baseline",
        "tags",
        "baseline",
        "baseline",
        "baseline",
        "baseline",
    ]


def test_assignment_is_the_same_in_another_process() -> None:
    # A fresh interpreter has another hash() seed: the assignment must not depend on it.
    code = (
        "import json, sys; from feature_store.service.experiments import parse_experiments; "
        "e = parse_experiments(json.loads(sys.argv[1])); "
        "print(json.dumps([e.assign(f'U{n:07d}').variant for n in range(2000)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TWO_WAY)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    here = parse_experiments(TWO_WAY)
    assert json.loads(out.stdout) == [here.assign(u).variant for u in IDS[:2000]]


@pytest.mark.parametrize("shares", [(0.5, 0.5), (0.1, 0.3, 0.6), (0.25, 0.25, 0.25, 0.25)])
def test_assignment_is_uniform_over_100k_ids(shares: tuple[float, ...]) -> None:
    e = experiment(shares)
    counts = Counter(e.assign(u).name for u in IDS)
    expected = {f"v{i}": s * len(IDS) for i, s in enumerate(shares)}
    # p = 0.001 critical value: a fair hash fails this one time in a thousand (ids are fixed,
    # so the test is deterministic: it passes or fails for the hash, not by chance).
    assert chi_square(counts, expected) < chi2.ppf(0.999, len(shares) - 1)


def test_experiments_with_different_salts_assign_independently() -> None:
    a, b = experiment((0.5, 0.5), salt="a"), experiment((0.5, 0.5), salt="b")
    table = Counter((a.assign(u).name, b.assign(u).name) for u in IDS)
    _, p, _, _ = chi2_contingency(
        [[table["v0", "v0"], table["v0", "v1"]], [table["v1", "v0"], table["v1", "v1"]]]
    )
    assert p > 0.001


def test_a_new_salt_reshuffles_users() -> None:
    a, b = experiment((0.5, 0.5), salt="a"), experiment((0.5, 0.5), salt="a2")
    same = sum(a.assign(u).name == b.assign(u).name for u in IDS[:10_000])
    assert 4_700 < same < 5_300  # about half stay by chance, as for an unrelated split


def test_10k_assignments_take_well_under_10_ms() -> None:
    experiments = parse_experiments(TWO_WAY)
    ids = IDS[:10_000]
    best = float("inf")
    for _ in range(5):  # best of five: the machine is shared
        started = time.perf_counter()
        for user_id in ids:
            experiments.assign(user_id)
        best = min(best, time.perf_counter() - started)
    assert best < 0.010, f"10k assignments took {best * 1000:.1f} ms"


def test_only_the_first_experiment_chooses_the_list_and_all_are_reported() -> None:
    config = [
        *TWO_WAY,
        {
            "name": "ui",
            "salt": "ui-1",
            "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}],
        },
    ]
    experiments = parse_experiments(config)
    assignment = experiments.assign("U42")
    assert assignment.experiment == "ranker"
    assert set(assignment.experiments) == {"ranker", "ui"}
    assert assignment.reads == ("tags" if assignment.variant == "tags" else CHAMPION)
    assert experiments.labels() == [("ranker", "baseline"), ("ranker", "tags"), ("ui", "a"), ("ui", "b")]


def _with(**changes: Any) -> list[dict[str, Any]]:
    entry = json.loads(json.dumps(TWO_WAY[0]))
    entry.update(changes)
    return [entry]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "at least one experiment"),
        (
            _with(variants=[{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}]),
            "add up to 1, they add up to 0.9",
        ),
        (_with(variants=[{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}]), "variant names repeat"),
        (
            _with(variants=[{"name": "a", "share": 0}, {"name": "b", "share": 1}]),
            "share must be a number in (0, 1]",
        ),
        (_with(variants=[{"name": "a", "share": 1, "weight": 2}]), "unknown field(s) ['weight']"),
        (_with(variants=[{"name": "a", "share": 1, "reads": "a:b"}]), "reads must be 1-64 letters"),
        (_with(variants=[]), "variants must be a non-empty list"),
        (_with(salt=""), "salt must be a non-empty string"),
        (_with(name="has space"), "name must be 1-64 letters"),
        (_with(owner="me"), "unknown field(s) ['owner']"),
        (
            [*TWO_WAY, {"name": "ui", "salt": "ui", "variants": [{"name": "a", "share": 1, "reads": "x"}]}],
            "only the first experiment chooses the published list",
        ),
        (
            [*TWO_WAY, {"name": "ui", "salt": "ranker-1", "variants": [{"name": "a", "share": 1}]}],
            "share a salt",
        ),
        (
            [*TWO_WAY, {**TWO_WAY[0], "salt": "other", "variants": [{"name": "a", "share": 1}]}],
            "names repeat",
        ),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_setting_and_the_problem(
    config: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(SettingsError, match="RECSYS_SERVICE_EXPERIMENTS") as caught:
        parse_experiments(config)
    assert message in str(caught.value)


def test_the_setting_binds_to_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_SERVICE_EXPERIMENTS", json.dumps(TWO_WAY))
    experiments = parse_experiments(load_settings().service_experiments)
    assert [v.reads for v in experiments.first.variants] == [CHAMPION, "tags"]
