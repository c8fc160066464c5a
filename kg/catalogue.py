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

TITLES = (
    "MATCH (i:Item) WHERE i.title IS NOT NULL OR i.name IS NOT NULL "
    "RETURN i.id AS id, i.title AS title, i.name AS name"
)
INTERACTIONS = "MATCH (u:User)-[:INTERACTED]->(i:Item) RETURN DISTINCT u.id AS user, i.id AS item"
CATEGORY_ITEMS = (
    "MATCH (i:Item)-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..]->(c:Category) "
    "RETURN c.id AS category, collect(DISTINCT i.id) AS items"
)
ENTITY_ITEMS = (
    "MATCH (i:Item)-[:HAS_BRAND|HAS_ATTRIBUTE]->(e) "
    "RETURN labels(e)[0] AS label, e.id AS id, collect(DISTINCT i.id) AS items"
)
ENTITIES = (
    "MATCH (n) WHERE n:Brand OR n:Category OR n:Attribute "
    "RETURN labels(n)[0] AS label, n.id AS id, n.name AS name"
)

# Items with a text vector that a model does not hold: added since it was trained.
UNTRAINED_ITEMS = """MATCH (i:Item) WHERE i.text_embedding IS NOT NULL AND NOT i.id IN $known
RETURN i.id AS id, i.title AS title, i.text_embedding AS text_vector,
  [(i)-[r:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]->(x)
   | [type(r), x.id]] AS links,
  [(i)-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..]->(c) | c.id] AS categories"""
# The interactions of users a model does not hold: they came (through the API, say) since.
UNTRAINED_USER_INTERACTIONS = (
    "MATCH (u:User)-[r:INTERACTED]->(i:Item) WHERE NOT u.id IN $known "
    "RETURN u.id AS user, i.id AS item, r.kind AS kind, r.ts AS ts, r.rating AS rating"
)


class Entity(BaseModel):
    label: str  # Brand, Category or Attribute
    id: str
    name: str | None = None


class Catalogue(BaseModel):
    titles: dict[str, str]  # item id -> title (related-product stubs have none)
    names: dict[str, str]  # item id -> display name: its `name`, else its title
    interactions: list[tuple[str, str]]  # distinct (user id, item id)
    category_items: dict[str, list[str]]  # category id -> items in it or below it
    # (Brand or Attribute, its id) -> its items
    entity_items: dict[tuple[str, str], list[str]]
    entities: list[Entity]


def read_catalogue(graph: Graph) -> Catalogue:
    titled = graph.read(TITLES)
    return Catalogue(
        titles={row["id"]: row["title"] for row in titled if row["title"] is not None},
        names={row["id"]: row["name"] or row["title"] for row in titled},
        interactions=[(row["user"], row["item"]) for row in graph.read(INTERACTIONS)],
        category_items={row["category"]: row["items"] for row in graph.read(CATEGORY_ITEMS)},
        entity_items={(row["label"], row["id"]): row["items"] for row in graph.read(ENTITY_ITEMS)},
        entities=[Entity.model_validate(row) for row in graph.read(ENTITIES)],
    )


class StoredItem(BaseModel):
    """An item as the graph holds it for placing it without the model: its text vector and
    its links, (relationship type, target id)."""

    id: str
    title: str | None
    text_vector: list[float]
    links: list[tuple[str, str]]
    categories: list[str]  # its categories and those above them


def read_untrained_items(graph: Graph, known: Sequence[str]) -> list[StoredItem]:
    """Items with a text vector whose ids are not `known` (the model's items)."""
    rows = graph.read(UNTRAINED_ITEMS, {"known": list(known)})
    return [StoredItem.model_validate(row) for row in rows]


class UserInteraction(BaseModel):
    user: str
    item: str
    kind: InteractionKind
    ts: int
    rating: float | None


def read_untrained_interactions(graph: Graph, known: Sequence[str]) -> list[UserInteraction]:
    """The interactions of the users whose ids are not `known` (the model's users)."""
    rows = graph.read(UNTRAINED_USER_INTERACTIONS, {"known": list(known)})
    return [UserInteraction.model_validate(row) for row in rows]
