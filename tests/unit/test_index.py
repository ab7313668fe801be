"""Item retrieval: FAISS against numpy's exact top-k, save → reload, the recall gate, bad inputs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from models.index import (
    MISSING_ID,
    BruteForceRetriever,
    IndexParams,
    build_index,
    load_retriever,
    save_index,
)
from recsys.errors import IndexFormatError, IndexInputError, IndexRecallError, RecsysError
from recsys.settings import Settings, load_settings

Array = npt.NDArray[np.float32]
FAST_HNSW = IndexParams(hnsw_m=16, hnsw_ef_construction=40, hnsw_ef_search=100, recall_queries=500)


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread() -> Iterator[None]:
    """One OpenMP thread: these indexes are small, and spinning threads on shared cores cost more."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def clustered(items: int, dim: int, seed: int) -> tuple[npt.NDArray[np.int64], Array]:
    """Unit item vectors around 50 centres, with sparse shuffled ids (not row numbers)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim))
    vectors = centres[rng.integers(0, 50, items)] + 0.7 * rng.standard_normal((items, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = rng.permutation(items * 10)[:items].astype(np.int64) + 5
    return ids, vectors.astype(np.float32)


def near_items(vectors: Array, count: int, seed: int) -> Array:
    """Queries from the items' own distribution: item vectors plus noise of norm about 0.3."""
    rng = np.random.default_rng(seed)
    picked = vectors[rng.choice(vectors.shape[0], count, replace=False)]
    noise = 0.3 / np.sqrt(vectors.shape[1]) * rng.standard_normal(picked.shape)
    return (picked + noise).astype(np.float32)


def numpy_top_k(
    ids: npt.NDArray[np.int64], vectors: Array, queries: Array, k: int
) -> tuple[Array, npt.NDArray[np.int64]]:
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def overlap(found: npt.NDArray[np.int64], exact: npt.NDArray[np.int64]) -> float:
    return float(np.mean([np.intersect1d(f, e).size / e.size for f, e in zip(found, exact, strict=True)]))


def approximate(kind: str, **overrides: object) -> Settings:
    return load_settings(index_exact_max_items=1000, index_kind=kind, **overrides)


def test_brute_force_in_small_blocks_matches_numpy_argsort() -> None:
    ids, vectors = clustered(3001, 24, seed=1)
    queries = near_items(vectors, 300, seed=2)
    retriever = BruteForceRetriever(ids, vectors, block_bytes=1 << 14)  # many item and query blocks
    scores, found = retriever.search(queries, 50)
    exact_scores, exact_ids = numpy_top_k(ids, vectors, queries, 50)
    np.testing.assert_array_equal(found, exact_ids)
    np.testing.assert_allclose(scores, exact_scores, rtol=1e-5, atol=1e-5)
    assert retriever.search(queries[:2], 5000)[1].shape == (2, 3001)  # k above the size: every item


def test_exact_faiss_index_matches_numpy_argsort() -> None:
    ids, vectors = clustered(5000, 32, seed=3)
    queries = near_items(vectors, 200, seed=4)
    built = build_index(ids, vectors, settings=load_settings(), model_version="m1", k=100)
    assert built.kind == "flat"
    assert built.recall_at_k == pytest.approx(1.0)
    scores, found = built.retriever.search(queries, 100)
    exact_scores, exact_ids = numpy_top_k(ids, vectors, queries, 100)
    # FAISS and numpy round differently, so two near-tied items may swap places: same sets.
    np.testing.assert_array_equal(np.sort(found, axis=1), np.sort(exact_ids, axis=1))
    np.testing.assert_allclose(scores, exact_scores, rtol=1e-5, atol=1e-5)
    assert (found == exact_ids).mean() > 0.99


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_index_reaches_the_recall_target(kind: str) -> None:
    ids, vectors = clustered(20_000, 32, seed=5)
    built = build_index(ids, vectors, settings=approximate(kind), model_version="m1", params=FAST_HNSW)
    assert built.kind == kind
    assert built.recall_at_k >= 0.95
    # Recall on queries the gate never saw, counted against numpy's exact top-k.
    queries = near_items(vectors, 300, seed=6)
    assert (
        overlap(built.retriever.search(queries, 100)[1], numpy_top_k(ids, vectors, queries, 100)[1]) >= 0.95
    )


def test_recall_gate_fails_a_bad_index_and_names_it() -> None:
    ids, vectors = clustered(20_000, 32, seed=7)
    bad = IndexParams(ivf_nprobe=1, tune_steps=0, recall_queries=500)
    with pytest.raises(IndexRecallError) as failure:
        build_index(ids, vectors, settings=approximate("ivf"), model_version="m1", params=bad)
    message = str(failure.value)
    assert "ivf index for model m1" in message
    assert "below RECSYS_INDEX_MIN_RECALL 0.95" in message
    assert "nprobe=1" in message
    recall = float(message.split("recall@100 ")[1].split()[0])
    assert 0 < recall < 0.95


def test_gate_widens_nprobe_until_recall_is_reached(caplog: pytest.LogCaptureFixture) -> None:
    ids, vectors = clustered(20_000, 32, seed=7)
    params = IndexParams(ivf_nprobe=1, tune_steps=10, recall_queries=500)
    with caplog.at_level(logging.WARNING, logger="models.index"):
        built = build_index(ids, vectors, settings=approximate("ivf"), model_version="m1", params=params)
    assert built.recall_at_k >= 0.95
    assert built.params["nprobe"] > 1
    assert "raised nprobe to" in caplog.text


def test_hnsw_beam_narrower_than_k_still_fills_k() -> None:
    ids, vectors = clustered(5000, 16, seed=8)
    params = IndexParams(hnsw_m=8, hnsw_ef_construction=40, hnsw_ef_search=1, tune_steps=0)
    built = build_index(
        ids, vectors, settings=approximate("hnsw", index_min_recall=0.5), model_version="m1", params=params
    )
    found = built.retriever.search(near_items(vectors, 20, seed=9), 100)[1]
    assert (found != MISSING_ID).all()


def test_unfilled_ivf_slots_are_missing_ids_with_minus_infinity() -> None:
    ids, vectors = clustered(2000, 16, seed=10)  # about 40 items per list, k = 100, one list probed
    params = IndexParams(ivf_nprobe=1, tune_steps=0)
    settings = approximate("ivf", index_min_recall=0.01)
    built = build_index(ids, vectors, settings=settings, model_version="m1", params=params)
    scores, found = built.retriever.search(near_items(vectors, 10, seed=11), 100)
    missing = found == MISSING_ID
    assert missing.any()
    assert np.isneginf(scores[missing]).all()
    assert np.isin(found[~missing], ids).all()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_then_reload_gives_the_same_results(tmp_path: Path, kind: str) -> None:
    ids, vectors = clustered(5000, 16, seed=12)
    settings = load_settings() if kind == "flat" else approximate(kind)
    built = build_index(ids, vectors, settings=settings, model_version="2026-11-02.1", params=FAST_HNSW)
    path = save_index(built, tmp_path)
    assert path == tmp_path / "2026-11-02.1"
    header = json.loads((path / "header.json").read_text())
    assert (header["kind"], header["dim"], header["count"]) == (kind, 16, 5000)
    assert header["model_version"] == "2026-11-02.1"
    assert header["params"] == built.params

    loaded = load_retriever(path, model_version="2026-11-02.1")
    queries = near_items(vectors, 50, seed=13)
    before, after = built.retriever.search(queries, 20), loaded.search(queries, 20)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_array_equal(after[0], before[0])


def test_brute_force_twin_saves_and_reloads(tmp_path: Path) -> None:
    ids, vectors = clustered(500, 8, seed=14)
    twin = BruteForceRetriever(ids, vectors, model_version="m1")
    twin.save(tmp_path / "twin")
    loaded = load_retriever(tmp_path / "twin")
    assert loaded.kind == "brute_force"
    queries = near_items(vectors, 5, seed=15)
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], twin.search(queries, 10)[1])


def test_save_replaces_a_version_whole_and_leaves_no_debris(tmp_path: Path) -> None:
    ids, vectors = clustered(300, 8, seed=16)
    save_index(build_index(ids, vectors, settings=load_settings(), model_version="m1"), tmp_path)
    path = save_index(
        build_index(ids[:200], vectors[:200], settings=load_settings(), model_version="m1"), tmp_path
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m1"]
    assert load_retriever(path).size == 200


def _corrupt_ids(path: Path) -> None:
    np.save(path / "ids.npy", np.arange(300, dtype=np.int64))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: (p / "header.json").unlink(), "header.json is missing"),
        (lambda p: (p / "index.faiss").unlink(), "index.faiss is missing"),
        (_corrupt_ids, "does not match its checksum"),
        (lambda p: (p / "header.json").write_text('{"format": 99}'), "has format 99"),
        (lambda p: (p / "header.json").write_text("{"), "is not valid JSON"),
    ],
)
def test_damaged_saved_index_fails_clearly(tmp_path: Path, damage: object, expected: str) -> None:
    ids, vectors = clustered(300, 8, seed=17)
    path = save_index(build_index(ids, vectors, settings=load_settings(), model_version="m1"), tmp_path)
    damage(path)  # type: ignore[operator]
    with pytest.raises(IndexFormatError, match=expected):
        load_retriever(path)


def test_loading_another_model_version_is_refused(tmp_path: Path) -> None:
    ids, vectors = clustered(300, 8, seed=18)
    path = save_index(build_index(ids, vectors, settings=load_settings(), model_version="m1"), tmp_path)
    with pytest.raises(IndexFormatError, match="is for model 'm1', not 'm2'"):
        load_retriever(path, model_version="m2")


_IDS, _VECTORS = clustered(100, 8, seed=19)
_NAN = _VECTORS.copy()
_NAN[17, 3] = np.nan
_INF = _VECTORS.copy()
_INF[42, 0] = np.inf


@pytest.mark.parametrize(
    ("ids", "vectors", "expected"),
    [
        (_IDS[:99], _VECTORS, "99 item ids for 100 item vectors"),
        (_IDS, _NAN, r"1 item vector\(s\) hold NaN or infinity, first at row 17"),
        (_IDS, _INF, "first at row 42"),
        (
            np.concatenate([_IDS[:98], _IDS[:2]]),
            _VECTORS,
            re.escape(f"2 duplicate item ids, e.g. {sorted(_IDS[:2].tolist())}"),
        ),
        (np.where(np.arange(100) == 5, -3, _IDS), _VECTORS, "must be non-negative.*row 5 has -3"),
        (_IDS.astype(np.float64), _VECTORS, "1-D integer array"),
        (_IDS, _VECTORS[:, 0], "non-empty 2-D numeric array"),
        (_IDS[:0], _VECTORS[:0], "non-empty 2-D numeric array"),
    ],
)
def test_bad_items_fail_clearly(ids: np.ndarray, vectors: np.ndarray, expected: str) -> None:
    with pytest.raises(IndexInputError, match=expected):
        build_index(ids, vectors, settings=load_settings(), model_version="m1")


def test_bad_queries_and_arguments_fail_clearly() -> None:
    built = build_index(_IDS, _VECTORS, settings=load_settings(), model_version="m1")
    with pytest.raises(
        IndexInputError, match="queries have dimension 7 but the flat index holds dimension 8"
    ):
        built.retriever.search(np.zeros((3, 7), dtype=np.float32), 10)
    with pytest.raises(IndexInputError, match=r"1 query\(s\) hold NaN or infinity, first at row 1"):
        built.retriever.search(np.array([[0.0] * 8, [np.nan] * 8]), 10)
    with pytest.raises(IndexInputError, match="k must be a positive integer"):
        built.retriever.search(_VECTORS[:2], 0)
    with pytest.raises(
        IndexInputError, match=re.escape("model version '../m1' cannot name an index directory")
    ):
        build_index(_IDS, _VECTORS, settings=load_settings(), model_version="../m1")
    with pytest.raises(IndexInputError, match="queries have dimension 4"):
        build_index(
            _IDS, _VECTORS, settings=load_settings(), model_version="m1", sample_queries=np.ones((5, 4))
        )
    assert issubclass(IndexInputError, RecsysError) and issubclass(IndexRecallError, RecsysError)
