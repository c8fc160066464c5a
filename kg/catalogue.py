"""What a recommendation service keeps in memory about the shop, read in a few queries: item
titles, who interacted with what, which items sit under which category (subcategories
included) and the names of brands, categories and attributes."""

from __future__ import annotations

from pydantic import BaseModel

from kg.connection import Graph

TITLES = "MATCH (i:Item) WHERE i.title IS NOT NULL RETURN i.id AS id, i.title AS title"
INTERACTIONS = "MATCH (u:User)-[:INTERACTED]->(i:Item) RETURN DISTINCT u.id AS user, i.id AS item"
CATEGORY_ITEMS = (
    "MATCH (i:Item)-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..]->(c:Category) "
    "RETURN c.id AS category, collect(DISTINCT i.id) AS items"
)
ENTITIES = (
    "MATCH (n) WHERE n:Brand OR n:Category OR n:Attribute "
    "RETURN labels(n)[0] AS label, n.id AS id, n.name AS name"
)


class Entity(BaseModel):
    label: str  # Brand, Category or Attribute
    id: str
    name: str | None = None


class Catalogue(BaseModel):
    titles: dict[str, str]  # item id -> title (related-product stubs have none)
    interactions: list[tuple[str, str]]  # distinct (user id, item id)
    category_items: dict[str, list[str]]  # category id -> items in it or below it
    entities: list[Entity]


def read_catalogue(graph: Graph) -> Catalogue:
    return Catalogue(
        titles={row["id"]: row["title"] for row in graph.read(TITLES)},
        interactions=[(row["user"], row["item"]) for row in graph.read(INTERACTIONS)],
        category_items={row["category"]: row["items"] for row in graph.read(CATEGORY_ITEMS)},
        entities=[Entity.model_validate(row) for row in graph.read(ENTITIES)],
    )
