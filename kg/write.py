"""Batched upserts: `UNWIND $rows AS row MERGE ...`, one transaction per batch.

Every writer is idempotent (MERGE on stable ids), so writing the same rows again changes
nothing. Rows are validated per batch before it is sent: a batch holding a bad row is held
back whole (nothing half-written), the other batches are written, and `InvalidRowsError`
then names every bad row by position and id. A transaction that creates a node or a
relationship, and every `write_atomically`, bumps the graph's version stamp (`kg.version`) as
its last statement, so that the API notices another writer's load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any, Generic, TypeVar, get_args

from neo4j import ManagedTransaction
from pydantic import ValidationError

from kg.connection import Graph
from kg.records import (
    AttributeRow,
    BrandRow,
    CategoryRow,
    EntityRow,
    InteractionRow,
    ItemAttributeRow,
    ItemBrandRow,
    ItemCategoryRow,
    ItemLinkRow,
    ItemLinkType,
    ItemRow,
    RelatedLabel,
    RelatedRow,
    ReviewMentionRow,
    ReviewRow,
    Row,
    UserRow,
)
from kg.version import GraphStamp, bump

R = TypeVar("R", bound=Row)

PROVENANCE_SET = (
    "SET r.source = row.source, r.sources = row.sources, r.extractor = row.extractor, "
    "r.extractors = row.extractors, r.confidence = row.confidence, r.mentions = row.mentions"
)


def _upsert_nodes(label: str) -> str:
    return f"UNWIND $rows AS row MERGE (n:{label} {{id: row.id}}) SET n += row.props"


def _link(start: str, start_key: str, rel: str, end: str, end_key: str, tail: str) -> str:
    """MERGE both endpoints by id, then the relationship; `tail` keys and sets its properties."""
    return (
        f"UNWIND $rows AS row MERGE (a:{start} {{id: row.{start_key}}}) "
        f"MERGE (b:{end} {{id: row.{end_key}}}) MERGE (a)-[r:{rel}{tail}"
    )


@dataclass(frozen=True)
class WriteSpec(Generic[R]):
    """How one kind of row becomes Cypher: the row model, the queries, the row's parameters.

    A row with an `id` is a node: the first query MERGEs the rows' nodes and creates no other
    node, so its counters tell how many rows were new. Any other row is a relationship, and
    each query MERGEs one relationship per row."""

    name: str
    model: type[R]
    queries: Callable[[list[R]], list[tuple[str, list[dict[str, Any]]]]]
    describe: Callable[[Mapping[str, Any]], str]

    @property
    def of_nodes(self) -> bool:
        return "id" in self.model.model_fields


def _node_params(row: Row) -> dict[str, Any]:
    data = row.model_dump(exclude_none=True)
    return {"id": data.pop("id"), "props": data}


def _nodes(label: str) -> Callable[[list[Any]], list[tuple[str, list[dict[str, Any]]]]]:
    query = _upsert_nodes(label)
    return lambda rows: [(query, [_node_params(r) for r in rows])]


def _same(*queries: str) -> Callable[[list[Any]], list[tuple[str, list[dict[str, Any]]]]]:
    """Each query, in order, with the rows as they are."""

    def build(rows: list[Any]) -> list[tuple[str, list[dict[str, Any]]]]:
        params = [row.model_dump() for row in rows]
        return [(query, params) for query in queries]

    return build


# Node kinds with links: the rows' own nodes first, then the links, whose ends a row may not
# have written (those are created with their id only), so that the counters tell them apart.
CATEGORY_QUERIES = (
    "UNWIND $rows AS row MERGE (c:Category {id: row.id}) SET c.name = row.name",
    "UNWIND $rows AS row WITH row WHERE row.parent_id IS NOT NULL "
    "MATCH (c:Category {id: row.id}) MERGE (p:Category {id: row.parent_id}) "
    "MERGE (c)-[:SUBCATEGORY_OF]->(p)",
)
# Surface forms accumulate: a later load adds the spellings it saw, never drops earlier ones.
SURFACE_FORMS_SET = (
    "{node}.surface_forms = reduce(acc = coalesce({node}.surface_forms, []), "
    "s IN row.surface_forms | CASE WHEN s IN acc THEN acc ELSE acc + s END)"
)
BRAND_QUERY = "UNWIND $rows AS row MERGE (b:Brand {id: row.id}) SET b.name = row.name, " + (
    SURFACE_FORMS_SET.format(node="b")
)
ATTRIBUTE_QUERY = (
    "UNWIND $rows AS row MERGE (a:Attribute {id: row.id}) "
    "SET a.name = row.name, a.kind = row.kind, " + SURFACE_FORMS_SET.format(node="a")
)
REVIEW_QUERIES = (
    "UNWIND $rows AS row MERGE (r:Review {id: row.id}) "
    "SET r.rating = row.rating, r.ts = row.ts, r.text = row.text",
    "UNWIND $rows AS row MATCH (r:Review {id: row.id}) "
    "MERGE (u:User {id: row.user_id}) MERGE (i:Item {id: row.item_id}) "
    "MERGE (u)-[:WROTE]->(r) MERGE (r)-[:REVIEWS]->(i)",
)
INTERACTION_MERGE = _link(
    "User", "user_id", "INTERACTED", "Item", "item_id", " {kind: row.kind, ts: row.ts}]->(b)"
)
INTERACTION_SET = " SET r.weight = row.weight, r.rating = row.rating, r.split = row.split"
INTERACTION_QUERY = INTERACTION_MERGE + INTERACTION_SET
ITEM_LINK_QUERIES: dict[str, str] = {
    link_type: _link("Item", "source_id", link_type, "Item", "target_id", "]->(b)")
    for link_type in get_args(ItemLinkType)
}


def _grouped(
    queries: Mapping[Any, str], key: Callable[[Any], Any]
) -> Callable[[list[Any]], list[tuple[str, list[dict[str, Any]]]]]:
    """One query per group of rows, `key` picking each row's query (a relationship type or a
    label is never a parameter)."""

    def grouped(rows: list[Any]) -> list[tuple[str, list[dict[str, Any]]]]:
        by_key: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            by_key.setdefault(key(row), []).append(row.model_dump())
        return [(queries[group], params) for group, params in by_key.items()]

    return grouped


def _by_id(row: Mapping[str, Any]) -> str:
    return f"id={row.get('id')!r}"


def _by_ends(start: str, end: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: f"{start}={row.get(start)!r}, {end}={row.get(end)!r}"


USERS = WriteSpec("users", UserRow, _nodes("User"), _by_id)
ITEMS = WriteSpec("items", ItemRow, _nodes("Item"), _by_id)
BRANDS = WriteSpec("brands", BrandRow, _same(BRAND_QUERY), _by_id)
CATEGORIES = WriteSpec("categories", CategoryRow, _same(*CATEGORY_QUERIES), _by_id)
ATTRIBUTES = WriteSpec("attributes", AttributeRow, _same(ATTRIBUTE_QUERY), _by_id)
REVIEWS = WriteSpec("reviews", ReviewRow, _same(*REVIEW_QUERIES), _by_id)
INTERACTIONS = WriteSpec(
    "interactions", InteractionRow, _same(INTERACTION_QUERY), _by_ends("user_id", "item_id")
)
ITEM_LINKS = WriteSpec(
    "item_links",
    ItemLinkRow,
    _grouped(ITEM_LINK_QUERIES, lambda row: row.type),
    _by_ends("source_id", "target_id"),
)


def _extracted(rel: str, end: str, end_key: str) -> str:
    """One relationship per (item, entity), keyed on the pair alone: its row holds the
    provenance of every mention of the pair, so SET replaces what a write stored before."""
    return _link("Item", "item_id", rel, end, end_key, "]->(b) ") + PROVENANCE_SET


ITEM_BRANDS = WriteSpec(
    "item_brands", ItemBrandRow, _same(_extracted("HAS_BRAND", "Brand", "brand_id")),
    _by_ends("item_id", "brand_id"),
)  # fmt: skip
ITEM_CATEGORIES = WriteSpec(
    "item_categories", ItemCategoryRow,
    _same(_extracted("IN_CATEGORY", "Category", "category_id")),
    _by_ends("item_id", "category_id"),
)  # fmt: skip
ITEM_ATTRIBUTES = WriteSpec(
    "item_attributes", ItemAttributeRow,
    _same(_extracted("HAS_ATTRIBUTE", "Attribute", "attribute_id")),
    _by_ends("item_id", "attribute_id"),
)  # fmt: skip
REVIEW_MENTIONS = WriteSpec(
    "review_mentions",
    ReviewMentionRow,
    _same(_link("Review", "review_id", "MENTIONS", "Attribute", "attribute_id", "]->(b) ")
          + PROVENANCE_SET + ", r.sentiment = row.sentiment"),
    _by_ends("review_id", "attribute_id"),
)  # fmt: skip

# Entities and facts: (:Item|Entity)-[:RELATED {relation}]->(:Item|Entity), one query per pair
# of end labels.
RELATED_QUERIES: dict[tuple[str, str], str] = {
    (head, tail): _link(
        head, "head_id", "RELATED", tail, "tail_id", " {relation: row.relation}]->(b)"
    )
    for head in get_args(RelatedLabel)
    for tail in get_args(RelatedLabel)
}
ENTITIES = WriteSpec("entities", EntityRow, _nodes("Entity"), _by_id)
RELATED = WriteSpec(
    "related",
    RelatedRow,
    _grouped(RELATED_QUERIES, lambda row: (row.head_label, row.tail_label)),
    _by_ends("head_id", "tail_id"),
)


@dataclass(frozen=True)
class RowError:
    index: int  # position of the row in the input, counted from 0
    key: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.index} ({self.key}): {self.reason}"


@dataclass
class WriteSummary:
    """What writing one kind of row did. `created` counts the rows whose node (node kinds) or
    relationship (relationship kinds) was new; the others found theirs already there. Nodes a
    row only links to are created with their id alone when missing: `ends_created`."""

    kind: str
    rows: int = 0
    batches: int = 0
    created: int = 0
    ends_created: int = 0
    nodes_created: int = 0  # all of them: the rows' own and link ends
    relationships_created: int = 0
    properties_set: int = 0
    rejected_rows: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def already_there(self) -> int:
        return self.rows - self.created

    def add(self, other: WriteSummary) -> None:
        """Count the rows `other` wrote in this summary too."""
        self.rows += other.rows
        self.batches += other.batches
        self.created += other.created
        self.ends_created += other.ends_created
        self.nodes_created += other.nodes_created
        self.relationships_created += other.relationships_created
        self.properties_set += other.properties_set


class InvalidRowsError(ValueError):
    """Some batches held invalid rows and were not written; the others were."""

    def __init__(self, summary: WriteSummary) -> None:
        shown = "\n  ".join(str(error) for error in summary.errors[:10])
        more = len(summary.errors) - 10
        super().__init__(
            f"{len(summary.errors)} invalid {summary.kind} row(s); their batches "
            f"({summary.rejected_rows} rows) were not written, {summary.rows} rows were.\n  "
            + shown
            + (f"\n  ... and {more} more" if more > 0 else "")
            + "\nFix or drop these rows and write again: writes are idempotent."
        )
        self.summary = summary
        self.errors = summary.errors


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors()
    )


class GraphWriter:
    """Writes typed rows (or plain dicts in their shape) to the graph in batches."""

    def __init__(
        self,
        graph: Graph,
        batch_size: int = 5000,
        on_batch: Callable[[str, int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.graph = graph
        self.batch_size = batch_size
        self.on_batch = on_batch

    def users(self, rows: Iterable[UserRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(USERS, rows)

    def items(self, rows: Iterable[ItemRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ITEMS, rows)

    def brands(self, rows: Iterable[BrandRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(BRANDS, rows)

    def categories(self, rows: Iterable[CategoryRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(CATEGORIES, rows)

    def attributes(self, rows: Iterable[AttributeRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ATTRIBUTES, rows)

    def reviews(self, rows: Iterable[ReviewRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(REVIEWS, rows)

    def interactions(self, rows: Iterable[InteractionRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(INTERACTIONS, rows)

    def item_links(self, rows: Iterable[ItemLinkRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ITEM_LINKS, rows)

    def item_brands(self, rows: Iterable[ItemBrandRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ITEM_BRANDS, rows)

    def item_categories(self, rows: Iterable[ItemCategoryRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ITEM_CATEGORIES, rows)

    def item_attributes(self, rows: Iterable[ItemAttributeRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ITEM_ATTRIBUTES, rows)

    def review_mentions(self, rows: Iterable[ReviewMentionRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(REVIEW_MENTIONS, rows)

    def entities(self, rows: Iterable[EntityRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(ENTITIES, rows)

    def related(self, rows: Iterable[RelatedRow | Mapping[str, Any]]) -> WriteSummary:
        return self.write(RELATED, rows)

    def write(self, spec: WriteSpec[R], rows: Iterable[R | Mapping[str, Any]]) -> WriteSummary:
        """Validate and write `rows` batch by batch; raise `InvalidRowsError` at the end if any
        batch was held back."""
        summary = WriteSummary(spec.name)
        offset = 0
        for batch in _batches(rows, self.batch_size):
            valid, errors = self._validate(spec, batch, offset)
            offset += len(batch)
            if errors:
                summary.errors.extend(errors)
                summary.rejected_rows += len(batch)
                continue
            summary.add(self.graph.write_transaction(partial(_run_counted, spec=spec, rows=valid)))
            if self.on_batch:
                self.on_batch(spec.name, len(batch))
        if summary.errors:
            raise InvalidRowsError(summary)
        return summary

    @staticmethod
    def _validate(
        spec: WriteSpec[R], batch: list[R | Mapping[str, Any]], offset: int
    ) -> tuple[list[R], list[RowError]]:
        valid: list[R] = []
        errors: list[RowError] = []
        for position, row in enumerate(batch, start=offset):
            if isinstance(row, spec.model):
                valid.append(row)
                continue
            if not isinstance(row, Mapping):
                reason = f"expected a mapping, got {type(row).__name__}"
                errors.append(RowError(position, "?", reason))
                continue
            try:
                valid.append(spec.model.model_validate(row))
            except ValidationError as exc:
                errors.append(RowError(position, spec.describe(row), _reason(exc)))
        return valid, errors


def _run_all(tx: ManagedTransaction, *, spec: WriteSpec[R], rows: list[R]) -> WriteSummary:
    done = WriteSummary(spec.name, rows=len(rows), batches=1)
    for position, (query, params) in enumerate(spec.queries(rows)):
        counters = tx.run(query, rows=params).consume().counters
        if spec.of_nodes and position == 0:
            done.created = counters.nodes_created
        done.nodes_created += counters.nodes_created
        done.relationships_created += counters.relationships_created
        done.properties_set += counters.properties_set
    if not spec.of_nodes:
        done.created = done.relationships_created
    done.ends_created = done.nodes_created - (done.created if spec.of_nodes else 0)
    return done


def _run_counted(tx: ManagedTransaction, *, spec: WriteSpec[R], rows: list[R]) -> WriteSummary:
    """`_run_all`, the graph's version stamp bumped in the same transaction when it created a
    node or relationship (rows written again move nothing; a changed name alone does not
    count: it changes no path, only how one is told)."""
    done = _run_all(tx, spec=spec, rows=rows)
    if done.nodes_created or done.relationships_created:
        bump(tx)
    return done


# Every kind, nodes before the relationships that point at them.
WRITE_ORDER: tuple[WriteSpec[Any], ...] = (
    USERS, ITEMS, BRANDS, CATEGORIES, ATTRIBUTES, ENTITIES, REVIEWS, INTERACTIONS, ITEM_LINKS,
    RELATED, ITEM_BRANDS, ITEM_CATEGORIES, ITEM_ATTRIBUTES, REVIEW_MENTIONS,
)  # fmt: skip


# The links an item's text and metadata give it: writing the item again replaces them.
DROP_STALE_LINKS = (
    "UNWIND $items AS item "
    "MATCH (:Item {id: item.id})-[r:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]->(e) "
    "WHERE NOT [type(r), e.id] IN item.keep "
    "WITH item, r, type(r) AS type, e.id AS target DELETE r "
    "RETURN item.id AS item, type, target"
)
# The interactions, each saying whether this write created it (a retried event finds its own).
# The mark is set on creation only and removed in the same transaction.
NEW_INTERACTIONS = (
    INTERACTION_MERGE
    + " ON CREATE SET r.kgrec_new = true"
    + INTERACTION_SET
    + " WITH row, r, r.kgrec_new IS NOT NULL AS created REMOVE r.kgrec_new "
    "RETURN row.at AS at, created"
)


@dataclass(frozen=True)
class AtomicWrite:
    """What `write_atomically` changed beyond upserting its rows."""

    new_interactions: list[InteractionRow]  # the others were already there
    dropped_links: list[tuple[str, str, str]]  # (item id, relationship type, target id)
    stamp: GraphStamp  # the graph's version stamp this write made (`kg.version`)


def write_atomically(graph: Graph, rows: Sequence[Row]) -> AtomicWrite:
    """Write typed rows of any kinds in ONE transaction, so either all land or none: for small
    writes that belong together (an API request), not for bulk loads. An `ItemRow` among them
    is its item whole: the item's brand, category and attribute links become those the rows
    give it (the others are deleted)."""
    by_model: dict[type[Row], list[Row]] = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row)
    if unknown := set(by_model) - {spec.model for spec in WRITE_ORDER}:
        raise TypeError(f"no write for {', '.join(sorted(m.__name__ for m in unknown))}")
    interactions = [row for row in rows if isinstance(row, InteractionRow)]
    items = _kept_links(rows)

    def work(tx: ManagedTransaction) -> AtomicWrite:
        dropped_links: list[tuple[str, str, str]] = []
        if items:
            dropped = tx.run(DROP_STALE_LINKS, items=items)
            dropped_links = [(r["item"], r["type"], r["target"]) for r in dropped]
        for spec in WRITE_ORDER:
            if spec is not INTERACTIONS and (batch := by_model.get(spec.model)):
                _run_all(tx, spec=spec, rows=batch)
        new = _new_interactions(tx, interactions)
        return AtomicWrite(new, dropped_links, bump(tx))

    return graph.write_transaction(work)


def _kept_links(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Each item row's id with the [type, target id] of the extracted links the rows give it."""
    keep: dict[str, list[list[str]]] = {row.id: [] for row in rows if isinstance(row, ItemRow)}
    for row in rows:
        if isinstance(row, ItemBrandRow):
            item, link = row.item_id, ["HAS_BRAND", row.brand_id]
        elif isinstance(row, ItemCategoryRow):
            item, link = row.item_id, ["IN_CATEGORY", row.category_id]
        elif isinstance(row, ItemAttributeRow):
            item, link = row.item_id, ["HAS_ATTRIBUTE", row.attribute_id]
        else:
            continue
        if item in keep:
            keep[item].append(link)
    return [{"id": item, "keep": links} for item, links in keep.items()]


def _new_interactions(
    tx: ManagedTransaction, rows: Sequence[InteractionRow]
) -> list[InteractionRow]:
    """MERGE the interactions; those whose relationship this write created. Rows of one
    (user, item, kind, ts) are one interaction, the last row's properties winning as writing
    them in turn would (one statement could not tell which of them created it)."""
    distinct = list({(r.user_id, r.item_id, r.kind, r.ts): r for r in rows}.values())
    if not distinct:
        return []
    params = [{**row.model_dump(), "at": at} for at, row in enumerate(distinct)]
    return [distinct[r["at"]] for r in tx.run(NEW_INTERACTIONS, rows=params) if r["created"]]


def delete_all(graph: Graph, batch_size: int = 10_000) -> None:
    """Delete every node and relationship, in batches so a large graph does not need one huge
    transaction (constraints and indexes stay). Relationships go first: detaching 10k
    well-linked nodes at once can exceed the transaction memory pool."""
    with graph.session() as session:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
        for query in (
            "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF $size ROWS",
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $size ROWS",
        ):
            session.run(query, size=batch_size).consume()
