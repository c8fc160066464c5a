"""`kgrec ingest spark` in Spark's local[2] mode against the real Neo4j: the graph it writes is
the single-machine loader's, node for node and relationship for relationship, text extraction
included; a rerun changes nothing; bad input gets the loader's clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ingest.extract.mention_cache import MentionCache
from ingest.extract.stage import ExtractionStage, build_extractors
from ingest.sources.amazon2018.load import load_amazon2018
from kg import Graph, Settings
from kg.schema import apply_schema
from kg.settings import PROJECT_ROOT
from kg.write import GraphWriter, delete_all
from tests.helpers import kgrec, snapshot

SAMPLE = PROJECT_ROOT / "data" / "sample"
REVIEWS = SAMPLE / "Magazine_Subscriptions_5.json.gz"
META = SAMPLE / "meta_Magazine_Subscriptions.json.gz"


def hostile_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The sample with what a real file holds too: later duplicates that differ (the first
    line wins), a line that is no JSON, a review without its asin."""
    meta_lines = gzip.decompress(META.read_bytes()).decode().splitlines()
    review_lines = gzip.decompress(REVIEWS.read_bytes()).decode().splitlines()
    meta_lines.insert(5, json.dumps(json.loads(meta_lines[2]) | {"title": "A later copy"}))
    review_lines[7:7] = ["{not json", json.dumps({"reviewerID": "u", "overall": 5.0})]
    review_lines.append(json.dumps(json.loads(review_lines[3]) | {"reviewText": "Later."}))
    reviews, meta = tmp_path / "reviews.json.gz", tmp_path / "meta.json.gz"
    with gzip.open(reviews, "wt") as out:
        out.write("\n".join(review_lines) + "\n")
    with gzip.open(meta, "wt") as out:
        out.write("\n".join(meta_lines) + "\n")
    return reviews, meta


def test_the_spark_load_writes_the_single_machine_graph(
    neo4j_settings: Settings, tmp_path: Path, server_env: dict[str, str]
) -> None:
    reviews, meta = hostile_copy(tmp_path)
    with Graph.connect(neo4j_settings, wait_s=30) as graph:
        delete_all(graph)
        apply_schema(graph, neo4j_settings.cypher_dir / "schema.cypher")
        with MentionCache(tmp_path / "single.sqlite") as cache:
            stage = ExtractionStage(build_extractors(neo4j_settings), cache)
            single = load_amazon2018(GraphWriter(graph, 500), reviews, meta, extraction=stage)
        expected = snapshot(graph)
        delete_all(graph)

        env = server_env
        args = ("ingest", "spark", "--reviews", str(reviews), "--meta", str(meta),
                "--master", "local[2]", "--partitions", "3", "--batch-size", "500")  # fmt: skip
        first = kgrec(*args, env=env, timeout=900)
        assert first.returncode == 0, first.stderr[-3000:]
        loaded = snapshot(graph)
        assert len(loaded) == len(expected) > 10_000
        assert loaded == expected
        assert "A later copy" not in str(loaded) and "Later." not in str(loaded)
        # The summary counts what the single-machine load counted.
        for tally in single.sources:
            assert f"{tally.kept:,}" in first.stdout
        assert "duplicate" in first.stdout and "not JSON" in first.stdout

        again = kgrec(*args, env=env, timeout=900)
        assert again.returncode == 0, again.stderr[-3000:]
        assert snapshot(graph) == expected


def test_a_missing_file_is_named_before_spark_starts(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    result = kgrec("ingest", "spark", "--reviews", str(tmp_path / "nope.json.gz"),
                   env=server_env)  # fmt: skip
    assert result.returncode == 1
    assert "nope.json.gz" in result.stderr and "Pass the path" in result.stderr


def test_a_master_spark_cannot_start_on_is_a_clear_error_and_loads_nothing(
    neo4j_settings: Settings, tmp_path: Path, server_env: dict[str, str]
) -> None:
    with Graph.connect(neo4j_settings, wait_s=30) as graph:
        delete_all(graph)
        result = kgrec("ingest", "spark", "--reviews", str(REVIEWS), "--master", "nowhere[2]",
                       env=server_env)  # fmt: skip
        assert result.returncode == 1
        assert "could not start Spark with --master 'nowhere[2]'" in result.stderr
        assert "Nothing was loaded" in result.stderr
        assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
