"""Item retrieval by inner product: one ``Retriever`` interface, an exact numpy twin and FAISS.

Up to ``index_exact_max_items`` items FAISS searches exactly (``IndexFlatIP``); above it an
approximate index (HNSW or IVF, by ``index_kind``) is built, and the build is gated: its
recall@k against the exact twin on a sample of queries must reach ``index_min_recall``.
An approximate index may widen its search (efSearch / nprobe) a few times to get there.

Saved layout of one index (``save_index`` writes it to ``<root>/<model_version>/``)::

    header.json   format, kind, dim, count, params, model_version, sha256 of each file
    header.sig    HMAC-SHA256 of header.json (when saved with a key: the serving index)
    index.faiss   the FAISS index (vectors.npy for the brute-force twin)
    ids.npy       the caller's int64 item id of each FAISS row

Item ids stay outside FAISS (an id array, not ``IndexIDMap``) so every kind, the twin
included, maps rows to ids the same way and the ids can be checked on load.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from recsys.errors import IndexFormatError, IndexInputError, IndexRecallError
from recsys.files import fsync_dir, replace_dir
from recsys.settings import Settings

log = logging.getLogger(__name__)

Scores = npt.NDArray[np.float32]
ItemIds = npt.NDArray[np.int64]
Kind = Literal["brute_force", "flat", "hnsw", "ivf"]

FORMAT_VERSION = 1
HEADER_FILE = "header.json"
SIGNATURE_FILE = "header.sig"
# Domain separation: the key also signs registry manifests; a header signature is never one.
_SIGNATURE_CONTEXT = b"recsys index header v1\n"
IDS_FILE = "ids.npy"
INDEX_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
MISSING_ID = -1  # id of a result slot an approximate index could not fill (score -inf)

_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# The knob each approximate kind widens when its recall is short, and its faiss attribute.
_SEARCH_KNOB = {"hnsw": "ef_search", "ivf": "nprobe"}
_RECALL_HINT = {
    "hnsw": "raise hnsw_ef_search or tune_steps, or rebuild with a larger hnsw_m / hnsw_ef_construction",
    "ivf": "raise ivf_nprobe or tune_steps",
    "flat": "an exact index should not miss: check the sample queries and vectors for ties",
    "brute_force": "an exact index should not miss: check the sample queries and vectors for ties",
}


class Retriever(Protocol):
    """Top-k items by inner product for a batch of query (user) vectors."""

    @property
    def kind(self) -> Kind: ...

    @property
    def dim(self) -> int: ...

    @property
    def size(self) -> int: ...

    def search(self, queries: npt.ArrayLike, k: int) -> tuple[Scores, ItemIds]:
        """Scores and item ids, shape ``(len(queries), min(k, size))``, best first."""
        ...

    def save(self, directory: Path) -> None:
        """Write the header and data files into ``directory`` (created if missing)."""
        ...


@dataclass(frozen=True)
class IndexParams:
    """Build and search parameters of the approximate indexes (bench/index.py measures them).

    ``ivf_nlist`` None means about 4·sqrt(items), capped so each list gets ≥ 39 training
    points (FAISS's own minimum). ``tune_steps`` is how many times a short recall may widen
    efSearch / nprobe by half before the build fails; 0 turns tuning off.
    """

    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 160
    ivf_nlist: int | None = None
    ivf_nprobe: int = 48
    tune_steps: int = 3
    recall_queries: int = 1000


@dataclass
class BuiltIndex:
    """A built retriever with what its build measured."""

    retriever: FaissRetriever
    kind: Kind
    build_s: float
    recall_at_k: float
    k: int
    model_version: str
    params: dict[str, int]


class BruteForceRetriever:
    """Exact inner-product search in numpy: the reference twin of every FAISS index.

    Items are scanned in blocks so a score block stays under ``block_bytes`` (1M × 64 items
    never need a queries × items matrix); each block keeps its top-k by ``argpartition``,
    merged into a running top-k, sorted once at the end (ties: lower row first).
    """

    def __init__(
        self,
        item_ids: npt.ArrayLike,
        vectors: npt.ArrayLike,
        *,
        model_version: str = "",
        block_bytes: int = 64 << 20,
    ) -> None:
        self._ids, self._vectors = check_items(item_ids, vectors)
        self._model_version = model_version
        self._block_bytes = block_bytes
        self._order: npt.NDArray[np.intp] | None = None

    @property
    def kind(self) -> Kind:
        return "brute_force"

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def size(self) -> int:
        return int(self._ids.shape[0])

    @property
    def max_norm(self) -> float:
        """Largest item vector norm (bounds the rounding error of a score)."""
        return float(np.linalg.norm(self._vectors, axis=1).max())

    def search(self, queries: npt.ArrayLike, k: int) -> tuple[Scores, ItemIds]:
        q = check_queries(queries, self.dim, self.kind)
        k = _check_k(k, self.size)
        scores = np.empty((q.shape[0], k), dtype=np.float32)
        rows = np.empty((q.shape[0], k), dtype=np.int64)
        query_block = max(1, min(q.shape[0], 256))
        item_block = max(k, self._block_bytes // (4 * query_block))
        for start in range(0, q.shape[0], query_block):
            stop = start + query_block
            scores[start:stop], rows[start:stop] = self._top_k(q[start:stop], k, item_block)
        return scores, self._ids[rows]

    def _top_k(self, q: Scores, k: int, item_block: int) -> tuple[Scores, ItemIds]:
        best_scores = np.empty((q.shape[0], 0), dtype=np.float32)
        best_rows = np.empty((q.shape[0], 0), dtype=np.int64)
        for first in range(0, self.size, item_block):
            block = q @ self._vectors[first : first + item_block].T
            if block.shape[1] > k:
                part = np.argpartition(block, block.shape[1] - k, axis=1)[:, -k:]
            else:
                part = np.broadcast_to(np.arange(block.shape[1]), block.shape)
            best_scores = np.concatenate([best_scores, np.take_along_axis(block, part, axis=1)], axis=1)
            best_rows = np.concatenate([best_rows, part + first], axis=1)
            if best_scores.shape[1] > k:
                keep = np.argpartition(best_scores, best_scores.shape[1] - k, axis=1)[:, -k:]
                best_scores = np.take_along_axis(best_scores, keep, axis=1)
                best_rows = np.take_along_axis(best_rows, keep, axis=1)
        order = np.lexsort((best_rows, -best_scores), axis=1)
        return np.take_along_axis(best_scores, order, axis=1), np.take_along_axis(best_rows, order, axis=1)

    def score(self, queries: npt.ArrayLike, item_ids: npt.ArrayLike) -> Scores:
        """Exact inner products of each query with its row of item ids; ``MISSING_ID`` scores -inf."""
        q = check_queries(queries, self.dim, self.kind)
        wanted = np.asarray(item_ids, dtype=np.int64)
        if wanted.ndim != 2 or wanted.shape[0] != q.shape[0]:
            raise IndexInputError(f"item ids to score must have shape ({q.shape[0]}, k), got {wanted.shape}")
        if self._order is None:
            self._order = np.argsort(self._ids, kind="stable")
        sorted_ids = self._ids[self._order]
        slot = np.minimum(np.searchsorted(sorted_ids, wanted), self.size - 1)
        known = sorted_ids[slot] == wanted
        unknown = ~known & (wanted != MISSING_ID)
        if unknown.any():
            raise IndexInputError(f"item ids {wanted[unknown][:5].tolist()} are not in the exact index")
        rows = self._order[slot]
        scores: Scores = np.einsum("qd,qkd->qk", q, self._vectors[rows]).astype(np.float32)
        scores[~known] = -np.inf
        return scores

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / VECTORS_FILE, self._vectors, allow_pickle=False)
        np.save(directory / IDS_FILE, self._ids, allow_pickle=False)
        _write_header(directory, self.kind, self.dim, self.size, {}, self._model_version, VECTORS_FILE)


class FaissRetriever:
    """A FAISS index over item vectors; FAISS row ``r`` is the caller's item ``item_ids[r]``."""

    def __init__(
        self, index: Any, item_ids: ItemIds, kind: Kind, params: dict[str, int], model_version: str
    ) -> None:
        if int(index.ntotal) != item_ids.shape[0]:
            raise IndexInputError(f"faiss index has {index.ntotal} rows but {item_ids.shape[0]} item ids")
        self._index = index
        self._ids = item_ids
        self._kind = kind
        self._params = dict(params)
        self._model_version = model_version
        self._apply_search_params()

    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def size(self) -> int:
        return int(self._ids.shape[0])

    @property
    def params(self) -> dict[str, int]:
        return dict(self._params)

    def set_search_param(self, name: str, value: int) -> None:
        """Change a search-time parameter (``ef_search`` for HNSW, ``nprobe`` for IVF)."""
        if _SEARCH_KNOB.get(self._kind) != name or value < 1:
            raise IndexInputError(f"{self._kind} index has no search parameter {name}={value}")
        self._params[name] = int(value)
        self._apply_search_params()

    def _apply_search_params(self) -> None:
        if self._kind == "hnsw":
            self._index.hnsw.efSearch = self._params["ef_search"]
        elif self._kind == "ivf":
            self._index.nprobe = self._params["nprobe"]

    def search(self, queries: npt.ArrayLike, k: int) -> tuple[Scores, ItemIds]:
        q = check_queries(queries, self.dim, self.kind)
        k = _check_k(k, self.size)
        if self._kind == "hnsw" and self._params["ef_search"] < k:
            # A beam narrower than k cannot fill k slots; widen it for this call only.
            wider = faiss.SearchParametersHNSW(efSearch=k)  # type: ignore[attr-defined]  # bundled .pyi lacks it
            scores, rows = self._index.search(q, k, params=wider)
        else:
            scores, rows = self._index.search(q, k)
        missing = rows < 0
        ids = self._ids[np.where(missing, 0, rows)]
        if missing.any():
            ids[missing] = MISSING_ID
            scores[missing] = -np.inf
        return scores.astype(np.float32, copy=False), ids

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / INDEX_FILE))
        np.save(directory / IDS_FILE, self._ids, allow_pickle=False)
        _write_header(
            directory, self.kind, self.dim, self.size, self._params, self._model_version, INDEX_FILE
        )


def check_items(item_ids: npt.ArrayLike, vectors: npt.ArrayLike) -> tuple[ItemIds, Scores]:
    """Item ids as unique non-negative int64 and vectors as finite C-contiguous float32.

    Raises:
        IndexInputError: shapes, lengths, dtypes, finiteness or uniqueness are wrong.
    """
    ids = np.asarray(item_ids)
    vecs = np.asarray(vectors)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise IndexInputError(f"item ids must be a 1-D integer array, got shape {ids.shape} {ids.dtype}")
    if vecs.ndim != 2 or vecs.shape[0] == 0 or vecs.shape[1] == 0 or vecs.dtype.kind not in "fiu":
        raise IndexInputError(
            f"item vectors must be a non-empty 2-D numeric array (items, dim), got shape {vecs.shape} "
            f"{vecs.dtype}"
        )
    if ids.shape[0] != vecs.shape[0]:
        raise IndexInputError(f"{ids.shape[0]} item ids for {vecs.shape[0]} item vectors: lengths differ")
    if ids.dtype == np.uint64 and ids.max() > np.iinfo(np.int64).max:
        raise IndexInputError("item ids must fit in int64")
    ids = ids.astype(np.int64)
    if ids.min() < 0:
        raise IndexInputError(
            f"item ids must be non-negative ({MISSING_ID} marks a missing result); "
            f"row {int(np.argmin(ids))} has {int(ids.min())}"
        )
    unique, counts = np.unique(ids, return_counts=True)
    if unique.shape[0] != ids.shape[0]:
        raise IndexInputError(
            f"{ids.shape[0] - unique.shape[0]} duplicate item ids, e.g. {unique[counts > 1][:5].tolist()}"
        )
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    _check_finite(vecs, "item vector")
    return ids, vecs


def check_queries(queries: npt.ArrayLike, dim: int, kind: str) -> Scores:
    """Queries as finite C-contiguous float32 ``(n, dim)``; a 1-D query is one row."""
    q = np.asarray(queries)
    if q.ndim == 1:
        q = q[np.newaxis, :]
    if q.ndim != 2 or q.dtype.kind not in "fiu":
        raise IndexInputError(f"queries must be a 2-D numeric array (queries, dim), got {q.shape} {q.dtype}")
    if q.shape[1] != dim:
        raise IndexInputError(
            f"queries have dimension {q.shape[1]} but the {kind} index holds dimension {dim}"
        )
    q = np.ascontiguousarray(q, dtype=np.float32)
    _check_finite(q, "query")
    return q


def _check_finite(array: Scores, what: str) -> None:
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise IndexInputError(f"{bad.shape[0]} {what}(s) hold NaN or infinity, first at row {int(bad[0])}")


def _check_k(k: int, size: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise IndexInputError(f"k must be a positive integer, got {k!r}")
    return min(int(k), size)


def _ivf_nlist(n: int, params: IndexParams) -> int:
    nlist = params.ivf_nlist or round(4 * math.sqrt(n))
    return max(1, min(nlist, n // 39))


def _build_faiss(vectors: Scores, kind: Kind, params: IndexParams, seed: int) -> tuple[Any, dict[str, int]]:
    """A filled FAISS index of ``kind`` and the parameters it was built with."""
    n, dim = vectors.shape
    index: Any  # faiss's bundled annotations type each class apart; they share the Index API
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index, {}
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
        index.add(vectors)
        return index, {
            "m": params.hnsw_m,
            "ef_construction": params.hnsw_ef_construction,
            "ef_search": params.hnsw_ef_search,
        }
    if kind == "ivf":
        nlist = _ivf_nlist(n, params)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on a seeded sample: 64 points per list is plenty and keeps 1M-item training short.
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))]
        index.cp.seed = seed
        index.train(sample)
        index.add(vectors)
        return index, {"nlist": nlist, "nprobe": min(params.ivf_nprobe, nlist)}
    raise IndexInputError(f"unknown index kind {kind!r}; expected flat, hnsw or ivf")


def recall_at_k(
    reference: BruteForceRetriever, queries: npt.ArrayLike, found: ItemIds, exact: Scores
) -> float:
    """Share of found items that belong in the exact top-k, ties included.

    A found item counts when its exact score (recomputed by ``reference``, not trusted from
    the index) reaches the query's k-th exact score less float32 rounding, so items tied at
    the boundary are not counted as misses. ``exact`` is ``reference.search(queries, k)[0]``.
    """
    q = check_queries(queries, reference.dim, reference.kind)
    true_scores = reference.score(q, found)
    kth = exact[:, -1:]
    # A float32 dot product of d terms is off by at most about d·eps·|q|·|v|.
    scale = np.linalg.norm(q, axis=1, keepdims=True) * reference.max_norm
    tolerance = 2 * q.shape[1] * np.finfo(np.float32).eps * scale
    hits = (true_scores >= kth - tolerance).sum()
    return float(hits) / float(exact.size)


def _recall_queries(
    vectors: Scores, sample_queries: npt.ArrayLike | None, count: int, seed: int, dim: int
) -> Scores:
    """Up to ``count`` caller queries, else item vectors with noise of half their spread."""
    rng = np.random.default_rng(seed)
    if sample_queries is not None:
        q = check_queries(sample_queries, dim, "sample query")
        if q.shape[0] > count:
            q = q[np.sort(rng.choice(q.shape[0], size=count, replace=False))]
        return q
    picked = vectors[rng.choice(vectors.shape[0], size=min(count, vectors.shape[0]), replace=False)]
    noise = rng.standard_normal(picked.shape).astype(np.float32) * (0.5 * vectors.std(axis=0))
    return np.ascontiguousarray(picked + noise, dtype=np.float32)


def build_index(
    item_ids: npt.ArrayLike,
    vectors: npt.ArrayLike,
    *,
    settings: Settings,
    model_version: str,
    sample_queries: npt.ArrayLike | None = None,
    k: int = 100,
    seed: int = 0,
    params: IndexParams | None = None,
) -> BuiltIndex:
    """Build the item index ``settings`` asks for and gate it on recall@k against exact search.

    Args:
        sample_queries: user vectors to measure recall with (up to ``params.recall_queries``
            are sampled); None uses perturbed item vectors.
        k: the k of the recall gate (and of the recommendation lists it protects).

    Raises:
        IndexInputError: malformed items, queries or model version.
        IndexRecallError: recall@k stays below ``settings.index_min_recall`` after tuning.
    """
    params = params or IndexParams()
    _check_version(model_version)
    ids, vecs = check_items(item_ids, vectors)
    k = _check_k(k, ids.shape[0])
    kind: Kind = "flat" if ids.shape[0] <= settings.index_exact_max_items else settings.index_kind
    started = time.perf_counter()
    index, built_params = _build_faiss(vecs, kind, params, seed)
    build_s = time.perf_counter() - started
    retriever = FaissRetriever(index, ids, kind, built_params, model_version)
    log.info("built %s index of %d items × %d in %.1f s, params %s", kind, *vecs.shape, build_s, built_params)

    reference = BruteForceRetriever(ids, vecs, model_version=model_version)
    queries = _recall_queries(vecs, sample_queries, params.recall_queries, seed, reference.dim)
    exact = reference.search(queries, k)[0]
    recall = recall_at_k(reference, queries, retriever.search(queries, k)[1], exact)
    knob = _SEARCH_KNOB.get(kind)
    steps = params.tune_steps if knob is not None else 0
    while recall < settings.index_min_recall and steps > 0 and knob is not None:
        steps -= 1
        current = retriever.params[knob]
        # Steps of 1.5x land near the threshold (search cost grows with the knob); nprobe
        # cannot exceed the number of lists, efSearch has no such ceiling.
        widened = math.ceil(1.5 * current)
        if kind == "ivf":
            widened = min(widened, built_params["nlist"])
        if widened == current:
            break
        retriever.set_search_param(knob, widened)
        new_recall = recall_at_k(reference, queries, retriever.search(queries, k)[1], exact)
        log.warning(
            "%s index recall@%d %.4f is below %.3f with %s=%d: raised %s to %d, recall now %.4f",
            kind, k, recall, settings.index_min_recall, knob, current, knob, widened, new_recall,
        )  # fmt: skip
        recall = new_recall
    if recall < settings.index_min_recall:
        shown = ", ".join(f"{name}={value}" for name, value in retriever.params.items()) or "none"
        raise IndexRecallError(
            f"{kind} index for model {model_version} ({ids.shape[0]} items) has recall@{k} {recall:.4f} "
            f"on {queries.shape[0]} queries, below RECSYS_INDEX_MIN_RECALL {settings.index_min_recall} "
            f"(params {shown}, tune steps {params.tune_steps}): {_RECALL_HINT[kind]}"
        )
    log.info("%s index recall@%d %.4f on %d queries", kind, k, recall, queries.shape[0])
    return BuiltIndex(retriever, kind, build_s, recall, k, model_version, retriever.params)


def save_index(built: BuiltIndex, root: Path, *, key: bytes | None = None) -> Path:
    """Write ``built`` to ``root/<model_version>/`` atomically and return that directory.

    Files go to a temporary directory beside it, renamed into place; an existing directory
    of the same version is replaced whole (a retried build task rewrites its own output).
    With ``key`` (the registry's signing key) the header is signed: the header holds every
    file's SHA-256, so ``load_retriever(..., key=key)`` then trusts nothing it did not write.
    """
    _check_version(built.model_version)
    final = Path(root) / built.model_version
    final.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = final.parent / f".tmp-{final.name}-{token}"
    try:
        built.retriever.save(tmp)
        if key is not None:
            (tmp / SIGNATURE_FILE).write_text(_header_signature((tmp / HEADER_FILE).read_bytes(), key) + "\n")
        fsync_dir(tmp)
        replace_dir(tmp, final, token)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_retriever(
    directory: Path, *, model_version: str | None = None, key: bytes | None = None
) -> Retriever:
    """Load an index written by ``save`` / ``save_index``, checking its header and checksums.

    With ``key`` the header's signature is checked first (an index saved without that key is
    refused), so a file edited together with its checksum is refused too.

    Raises:
        IndexFormatError: the header or a file is missing, corrupt, of another format or of
            another model version than ``model_version`` (when given); or, with ``key``, the
            header is unsigned or does not match its signature.
    """
    directory = Path(directory)
    header = _read_header(directory, key)
    if model_version is not None and header["model_version"] != model_version:
        raise IndexFormatError(
            f"index at {directory} is for model {header['model_version']!r}, not {model_version!r}"
        )
    for name, digest in header["sha256"].items():
        if _sha256(directory / name) != digest:
            raise IndexFormatError(f"{directory / name} does not match its checksum in {HEADER_FILE}")
    ids = np.load(directory / IDS_FILE, allow_pickle=False)
    kind = header["kind"]
    if kind == "brute_force":
        vectors = np.load(directory / VECTORS_FILE, allow_pickle=False)
        loaded: Retriever = BruteForceRetriever(ids, vectors, model_version=header["model_version"])
    else:
        index = faiss.read_index(str(directory / INDEX_FILE))
        loaded = FaissRetriever(index, ids, kind, header["params"], header["model_version"])
    if (loaded.size, loaded.dim) != (header["count"], header["dim"]):
        raise IndexFormatError(
            f"index at {directory} holds {loaded.size} items × {loaded.dim}, "
            f"its header says {header['count']} × {header['dim']}"
        )
    return loaded


def _write_header(
    directory: Path, kind: Kind, dim: int, count: int, params: dict[str, int], model_version: str, data: str
) -> None:
    header = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "metric": "inner_product",
        "dim": dim,
        "count": count,
        "params": params,
        "model_version": model_version,
        "sha256": {name: _sha256(directory / name) for name in (data, IDS_FILE)},
    }
    # Written last: a directory without a header is an unfinished save.
    (directory / HEADER_FILE).write_text(json.dumps(header, indent=2, sort_keys=True) + "\n")


def _header_signature(header: bytes, key: bytes) -> str:
    return hmac.new(key, _SIGNATURE_CONTEXT + header, hashlib.sha256).hexdigest()


def _read_header(directory: Path, key: bytes | None = None) -> dict[str, Any]:
    path = directory / HEADER_FILE
    if not path.is_file():
        raise IndexFormatError(f"no index at {directory}: {HEADER_FILE} is missing (unfinished save?)")
    raw = path.read_bytes()  # read once: the bytes checked are the bytes parsed
    if key is not None:
        signature_path = directory / SIGNATURE_FILE
        signature = ""
        if signature_path.is_file():
            signature = signature_path.read_bytes().decode("ascii", errors="replace").strip()
        if not signature:
            raise IndexFormatError(f"index at {directory} is unsigned: {SIGNATURE_FILE} is missing or empty")
        if not hmac.compare_digest(_header_signature(raw, key), signature):
            raise IndexFormatError(
                f"{path} does not match {SIGNATURE_FILE}: the index was edited, or signed with "
                "another key (check RECSYS_REGISTRY_HMAC_KEY)"
            )
    try:
        header: dict[str, Any] = json.loads(raw.decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"{path} is not valid JSON: {exc}") from exc
    if header.get("format") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path} has format {header.get('format')!r}; this code reads {FORMAT_VERSION}"
        )
    expected = {"kind", "dim", "count", "params", "model_version", "sha256"}
    if not expected <= header.keys() or header["kind"] not in ("brute_force", "flat", "hnsw", "ivf"):
        raise IndexFormatError(f"{path} lacks {sorted(expected - header.keys())} or names an unknown kind")
    return header


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise IndexFormatError(f"index file {path} is missing")
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _check_version(model_version: str) -> None:
    if not _VERSION_NAME.match(model_version):
        raise IndexInputError(
            f"model version {model_version!r} cannot name an index directory: "
            "use letters, digits, '.', '_' or '-' (not starting with '.' or '-')"
        )
