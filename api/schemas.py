"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kg.paths import GraphPath
from kg.records import InteractionKind, ItemLinkType

Id = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]
Strategy = Literal["personalised", "context", "search", "popular"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored


class Explanation(BaseModel):
    sentence: str  # "You bought X; Y shares its brand Z."
    score: float  # product of the path's consecutive node similarities in the model
    cypher: str  # paste into Neo4j Browser to see exactly this path
    path: GraphPath


class Recommendation(BaseModel):
    item_id: str
    title: str | None
    score: float
    explanations: list[Explanation] | None  # null: not asked for, or Neo4j unreachable


class Recommendations(BaseModel):
    user_id: str | None
    strategy: Strategy  # popular: nothing known about the asker, the shop's best sellers
    model: str  # the model directory that scored
    items: list[Recommendation]
    warnings: list[str] = Field(default_factory=list)


class ContextRequest(Body):
    """Recommendations for anyone: a search-style query, items they like, brands, categories
    or attributes by name or id, and/or a user id; all given are combined."""

    query: ShortText | None = None
    liked_items: list[Id] = Field(default_factory=list, max_length=100)
    attributes: list[ShortText] = Field(default_factory=list, max_length=100)
    user_id: Id | None = None
    k: int = Field(10, ge=1, le=1000)
    category: Id | None = None
    explain: bool = True
    exclude_seen: bool = True


class NewItem(Body):
    id: Id
    title: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    description: LongText | None = None
    brand: ShortText | None = None
    categories: list[ShortText] = Field(
        default_factory=list, max_length=20, description="category path, root first"
    )
    features: list[ShortText] = Field(default_factory=list, max_length=100)
    price: float | None = Field(None, ge=0)
    links: dict[ItemLinkType, list[Id]] = Field(
        default_factory=dict, description="related items: ALSO_BOUGHT, ALSO_VIEWED, ..."
    )


class ItemAdded(BaseModel):
    item_id: str
    created: bool  # false: an existing item was updated
    embedding: Literal["inductive", "trained"]  # trained items keep their learned embedding
    brands: list[str]
    categories: list[str]
    attributes: list[str]


class Event(Body):
    user_id: Id
    item_id: Id
    kind: InteractionKind
    ts: int | None = Field(None, ge=0, description="unix seconds; default now (send it to make "
                           "retries idempotent)")  # fmt: skip
    rating: float | None = Field(None, ge=0, le=5)
    review: LongText | None = None


class Events(Body):
    events: list[Event] = Field(min_length=1, max_length=1000)


class EventsRecorded(BaseModel):
    recorded: int
    users_updated: list[str]


class ExplainResponse(BaseModel):
    user_id: str
    item_id: str
    explanations: list[Explanation] | None
    warnings: list[str] = Field(default_factory=list)


class Readiness(BaseModel):
    ready: bool
    neo4j: bool
    catalogue_loaded: bool
    model: str
    items: int
    users: int
