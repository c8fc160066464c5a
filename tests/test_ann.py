"""The HNSW index the API ranks big catalogues through (`api/ann.py`): it proposes nearly all of
the exact top 10, finds the rows added after it was built, and may be searched while it grows."""

from __future__ import annotations

import threading

import numpy as np

from api.ann import CANDIDATES, ItemIndex, Vector

DIM, ITEMS, CLUSTERS = 32, 20_000, 200


def clustered(rng: np.random.Generator, n: int) -> Vector:
    """Unit vectors around CLUSTERS centres, like the embeddings of a shop's categories."""
    centres = rng.normal(size=(CLUSTERS, DIM))
    vectors = centres[rng.integers(CLUSTERS, size=n)] + 0.5 * rng.normal(size=(n, DIM))
    units: Vector = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return units


def test_the_index_proposes_nearly_all_of_the_exact_top_10() -> None:
    rng = np.random.default_rng(0)
    items = clustered(rng, ITEMS)
    index = ItemIndex(items)
    queries = clustered(rng, 200)
    hits = []
    for query in queries:
        exact = set(np.argsort(-(items @ query))[:10].tolist())
        proposed = index.search(query, 10)
        assert len(proposed) == CANDIDATES and len(set(proposed.tolist())) == CANDIDATES
        hits.append(len(exact & set(proposed[:10].tolist())) / 10)
    assert np.mean(hits) >= 0.95  # the first 10 proposed alone; all CANDIDATES get rescored


def test_rows_added_later_are_found_and_searches_run_while_it_grows() -> None:
    rng = np.random.default_rng(1)
    items = clustered(rng, 2_000)
    index = ItemIndex(items)
    grown = np.concatenate([items, clustered(rng, 3_000)])
    failures: list[BaseException] = []

    def search() -> None:
        try:
            for query in clustered(np.random.default_rng(2), 300):
                assert len(index.search(query, 10)) == CANDIDATES
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    searcher = threading.Thread(target=search)
    searcher.start()
    for end in range(2_100, len(grown) + 1, 100):  # as POST /items grows the matrix
        index.extend(grown[:end])
    searcher.join()
    assert not failures
    assert len(index) == len(grown)
    index.extend(grown)  # nothing new: nothing added twice
    assert len(index) == len(grown)
    for row in (2_000, 3_777, len(grown) - 1):
        assert index.search(grown[row], 1)[0] == row  # a unit vector's best match: itself
