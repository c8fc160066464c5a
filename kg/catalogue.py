"""What a recommendation service keeps in memory about the shop, read in a few queries: item
titles, who interacted with what, which items sit under which category (subcategories
included), which items have which brand or attribute, and the names of brands, categories and
attributes; and what a model lacks: the items and the users' interactions added since it was
trained."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from kg.connection import Graph
from kg.records import InteractionKind

# Each query collects its rows into one record: the driver reads a record in one or two small
# socket reads, and on a busy API each read waits for the GIL; a reload reads this while the
# API serves (Beauty's 200k interactions as records: 30 s of a reload under load).
TITLES = (
    "MATCH (i:Item) WHERE i.title IS NOT NULL OR i.name IS NOT NULL "
    "RETURN collect([i.id, i.title, i.name])"
)
# Grows with every interaction: read a page of users at a time (`Graph.read_collected_paged`).
USER_ITEMS = (
    "MATCH (u:User)-[:INTERACTED]->(i:Item) WHERE u.id > $after AND u.id <= $upto "
    "WITH u, collect(DISTINCT i.id) AS items RETURN collect([u.id, items])"
)
CATEGORY_ITEMS = (
    "MATCH (i:Item)-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..]->(c:Category) "
    "WITH c, collect(DISTINCT i.id) AS items RETURN collect([c.id, items])"
)
ENTITY_ITEMS = (
    "MATCH (i:Item)-[:HAS_BRAND|HAS_ATTRIBUTE]->(e) "
    "WITH e, collect(DISTINCT i.id) AS items RETURN collect([labels(e)[0], e.id, items])"
)
ENTITIES = (
    "MATCH (n) WHERE n:Brand OR n:Category OR n:Attribute "
    "RETURN collect([labels(n)[0], n.id, n.name])"
)

# Items with a text vector that a model does not hold: added since it was trained.
UNTRAINED_ITEM_IDS = (
    "MATCH (i:Item) WHERE i.text_embedding IS NOT NULL AND NOT i.id IN $known RETURN collect(i.id)"
)
# These items as placing them takes them.
STORED_ITEMS = """UNWIND $ids AS id
MATCH (i:Item {id: id}) WHERE i.text_embedding IS NOT NULL
RETURN collect({id: i.id, title: i.title, text_vector: i.text_embedding,
  links: [(i)-[r:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]->(x)
          | [type(r), x.id]],
  categories: [(i)-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..]->(c) | c.id]})"""
# The interactions of users a model does not hold: they came (through the API, say) since.
UNTRAINED_USER_INTERACTIONS = (
    "MATCH (u:User)-[r:INTERACTED]->(i:Item) WHERE NOT u.id IN $known "
    "RETURN collect({user: u.id, item: i.id, kind: r.kind, ts: r.ts, rating: r.rating})"
)


class Entity(BaseModel):
    label: str  # Brand, Category or Attribute
    id: str
    name: str | None = None


class Catalogue(BaseModel):
    titles: dict[str, str]  # item id -> title (related-product stubs have none)
    names: dict[str, str]  # item id -> display name: its `name`, else its title
    user_items: dict[str, list[str]]  # user id -> the items they interacted with, each once
    category_items: dict[str, list[str]]  # category id -> items in it or below it
    # (Brand or Attribute, its id) -> its items
    entity_items: dict[tuple[str, str], list[str]]
    entities: list[Entity]


def read_catalogue(graph: Graph) -> Catalogue:
    titled = graph.read_collected(TITLES)
    return Catalogue(
        titles={item: title for item, title, _ in titled if title is not None},
        names={item: name or title for item, title, name in titled},
        user_items=dict(graph.read_collected_paged(USER_ITEMS, "User")),
        category_items=dict(graph.read_collected(CATEGORY_ITEMS)),
        entity_items={
            (label, entity): items for label, entity, items in graph.read_collected(ENTITY_ITEMS)
        },
        entities=[
            Entity(label=label, id=entity, name=name)
            for label, entity, name in graph.read_collected(ENTITIES)
        ],
    )


class StoredItem(BaseModel):
    """An item as the graph holds it for placing it without the model: its text vector and
    its links, (relationship type, target id)."""

    id: str
    title: str | None
    text_vector: list[float]
    links: list[tuple[str, str]]
    categories: list[str]  # its categories and those above them


def untrained_item_ids(graph: Graph, known: Sequence[str]) -> list[str]:
    """Ids of the items with a text vector that are not `known` (the model's items)."""
    ids: list[str] = graph.read_collected(UNTRAINED_ITEM_IDS, {"known": list(known)})
    return ids


def read_stored_items(graph: Graph, ids: Sequence[str]) -> list[StoredItem]:
    """These items (those of them with a text vector) with their vectors and links. Read a
    few hundred at a time: each vector arrives as hundreds of Python floats, and a reload that
    read thousands at once left the heap that much larger for good (the holes they left among
    what it kept could not be handed back)."""
    rows = graph.read_collected(STORED_ITEMS, {"ids": list(ids)})
    return [StoredItem.model_validate(row) for row in rows]


class UserInteraction(BaseModel):
    user: str
    item: str
    kind: InteractionKind
    ts: int
    rating: float | None


def read_untrained_interactions(graph: Graph, known: Sequence[str]) -> list[UserInteraction]:
    """The interactions of the users whose ids are not `known` (the model's users)."""
    rows = graph.read_collected(UNTRAINED_USER_INTERACTIONS, {"known": list(known)})
    return [UserInteraction.model_validate(row) for row in rows]
