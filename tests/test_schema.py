from __future__ import annotations

from pathlib import Path

from kg import Graph, Settings
from kg.schema import NODE_LABELS, apply_schema, describe_schema, drop_schema, read_statements
from kg.version import VERSION_LABEL


def test_read_statements_skips_comments_and_splits_on_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "s.cypher"
    path.write_text(
        "// a comment; with a semicolon\nCREATE INDEX a IF NOT EXISTS\nFOR (n:X) ON (n.y);\n\n"
        "CREATE INDEX b IF NOT EXISTS FOR (n:X) ON (n.z);\n"
    )
    assert read_statements(path) == [
        "CREATE INDEX a IF NOT EXISTS\nFOR (n:X) ON (n.y)",
        "CREATE INDEX b IF NOT EXISTS FOR (n:X) ON (n.z)",
    ]


def test_schema_applied_twice_changes_nothing(graph: Graph, neo4j_settings: Settings) -> None:
    schema_file = neo4j_settings.cypher_dir / "schema.cypher"
    drop_schema(graph)
    assert all(kind == "index" for kind, _ in describe_schema(graph))  # only token lookups left
    apply_schema(graph, schema_file)
    first = describe_schema(graph)
    apply_schema(graph, schema_file)
    assert describe_schema(graph) == first
    assert {("index", "item_search"), ("index", "entity_search")} <= set(first)


def test_every_label_has_a_unique_id_constraint(graph: Graph) -> None:
    rows = graph.read(
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties "
        "WHERE type = 'UNIQUENESS' RETURN labelsOrTypes[0] AS label, properties AS props"
    )
    unique_ids = {row["label"] for row in rows if row["props"] == ["id"]}
    assert unique_ids == {*NODE_LABELS, VERSION_LABEL}  # the version stamp's one node too


def test_indexes_are_online_after_apply(graph: Graph) -> None:
    states = {row["state"] for row in graph.read("SHOW INDEXES YIELD state")}
    assert states == {"ONLINE"}
