"""Apply `cypher/schema.cypher` (constraints and indexes) idempotently."""

from __future__ import annotations

from pathlib import Path

from kg.connection import Graph

# The labels and relationship types of DESIGN.md. Queries that cannot take a label as a
# parameter (count store lookups) are built from these constants only, never from input.
# Bookkeeping nodes are left out, so exports, counts and training never see them:
# `(:GraphVersion)` (`kg.version`) and `(:ModelVersion)` (`kg.embeddings`).
NODE_LABELS = ("User", "Item", "Brand", "Category", "Attribute", "Review", "Entity")
RELATIONSHIP_TYPES = (
    "INTERACTED", "WROTE", "REVIEWS", "MENTIONS", "HAS_BRAND", "IN_CATEGORY",
    "SUBCATEGORY_OF", "HAS_ATTRIBUTE", "ALSO_BOUGHT", "ALSO_VIEWED", "BOUGHT_TOGETHER", "RELATED",
)  # fmt: skip


def read_statements(path: Path) -> list[str]:
    """The `;`-terminated statements of a .cypher file, without `//` comment lines."""
    lines = [line for line in path.read_text().splitlines() if not line.strip().startswith("//")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def apply_schema(graph: Graph, schema_file: Path, await_s: int = 300) -> int:
    """Create every constraint and index that does not exist yet; wait until all are online.
    Returns the number of statements applied."""
    statements = read_statements(schema_file)
    for statement in statements:
        graph.run(statement)
    graph.run("CALL db.awaitIndexes($seconds)", {"seconds": await_s})
    return len(statements)


def describe_schema(graph: Graph) -> list[tuple[str, str]]:
    """(kind, name) of every constraint and index, sorted: what `apply_schema` changes."""
    constraints = graph.read("SHOW CONSTRAINTS YIELD name RETURN 'constraint' AS kind, name")
    indexes = graph.read("SHOW INDEXES YIELD name RETURN 'index' AS kind, name")
    return sorted((row["kind"], row["name"]) for row in constraints + indexes)


def drop_schema(graph: Graph) -> None:
    """Drop every constraint and index (tests start from nothing)."""
    for row in graph.read("SHOW CONSTRAINTS YIELD name"):
        graph.run(f"DROP CONSTRAINT `{_quoted(row['name'])}` IF EXISTS")
    for row in graph.read("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'"):
        graph.run(f"DROP INDEX `{_quoted(row['name'])}` IF EXISTS")


def _quoted(name: str) -> str:
    return name.replace("`", "``")
