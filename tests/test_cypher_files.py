from __future__ import annotations

from kg import Graph, Settings
from kg.schema import read_statements
from kg.write import GraphWriter
from tests.graph_fixtures import write_shop


def test_every_exploration_query_runs(graph: Graph, neo4j_settings: Settings) -> None:
    """cypher/explore.cypher is what analysts paste into Browser: each query must run."""
    write_shop(GraphWriter(graph))
    statements = read_statements(neo4j_settings.cypher_dir / "explore.cypher")
    assert len(statements) >= 8
    for statement in statements:
        graph.read(statement, {"item": "i1", "user": "u1"})
