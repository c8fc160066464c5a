"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ingest.categories import category_rows
from ingest.records import MAX_ID_CHARS, Encodable
from kg.paths import GraphPath
from kg.records import InteractionKind, ItemLinkType, review_id

# Every string refuses a lone surrogate ("\ud800" in JSON): neither Neo4j nor the text encoder
# can take it. Length limits come first so that they are string limits.
Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS), Encodable]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=2000), Encodable]
LongText = Annotated[str, StringConstraints(max_length=100_000), Encodable]
Strategy = Literal["personalised", "context", "search", "popular"]
# 9999-12-31T23:59:59Z: the last second Python's datetime holds (Neo4j's int64 holds more).
MAX_TS = 253_402_300_799


class Body(BaseModel):
    # A misspelt field is an error, not ignored; JSON types are not coerced (true is no number,
    # 1 no boolean; an int is still a float); NaN and Infinity are no numbers.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Explanation(BaseModel):
    sentence: str  # "You bought X; Y shares its brand Z."
    score: float  # product of the path's consecutive node similarities in the model
    cypher: str  # paste into Neo4j Browser to see exactly this path
    path: GraphPath


class Recommendation(BaseModel):
    item_id: str
    # What to call it: its title, else a name from its description, brand or category.
    name: str | None
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
    title: ShortText
    description: LongText | None = None
    brand: ShortText | None = None
    categories: list[ShortText] = Field(
        default_factory=list, max_length=20,
        description=f"category path, root first; each category's id, the case-folded path down "
                    f"to it joined by ' > ', must fit {MAX_ID_CHARS} characters",
    )  # fmt: skip
    features: list[ShortText] = Field(default_factory=list, max_length=100)
    price: float | None = Field(None, ge=0)
    links: dict[ItemLinkType, list[Id]] = Field(
        default_factory=dict, description="related items: ALSO_BOUGHT, ALSO_VIEWED, ..."
    )

    @field_validator("categories")
    @classmethod
    def _category_ids_fit(cls, path: list[str]) -> list[str]:
        """A category's id is the case-folded path down to it ("beauty > lips"): each must fit
        kg's ids, so the path is turned into its rows here (the ids depend on the path alone)."""
        try:
            category_rows("any item", path)
        except ValidationError:
            raise ValueError(
                f"the category path is too long: a category's id is the case-folded path down "
                f"to it joined by ' > ', at most {MAX_ID_CHARS} characters; send fewer or "
                f"shorter categories"
            ) from None
        return path


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
    ts: int | None = Field(
        None, ge=0, le=MAX_TS,
        description=f"unix seconds, 0 to {MAX_TS} (the end of year 9999); default now (send it "
                    "to make retries idempotent)",
    )  # fmt: skip
    rating: float | None = Field(None, ge=0, le=5)
    review: LongText | None = Field(
        None, description=f"review text; its id, '<user_id>:<item_id>:<ts>', must fit "
                          f"{MAX_ID_CHARS} characters",
    )  # fmt: skip

    @field_validator("review")
    @classmethod
    def _review_id_fits(cls, review: str | None, info: ValidationInfo) -> str | None:
        """A review's id is built from the event ("<user_id>:<item_id>:<ts>") and must fit
        kg's ids. Without a ts the server's clock decides, so the longest ts is assumed."""
        user, item = info.data.get("user_id"), info.data.get("item_id")
        if review is None or user is None or item is None:
            return review  # a bad id is reported on its own field
        ts = info.data.get("ts")
        length = len(review_id(user, item, MAX_TS if ts is None else ts))
        if length > MAX_ID_CHARS:
            raise ValueError(
                f"a review's id is '<user_id>:<item_id>:<ts>', here {length} characters, over "
                f"the {MAX_ID_CHARS} an id may have; shorten user_id or item_id, or send the "
                f"event without a review"
            )
        return review


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


class KnownUser(BaseModel):
    id: str
    items: int  # the items they interacted with


class Readiness(BaseModel):
    ready: bool
    neo4j: bool
    catalogue_loaded: bool
    model: str
    items: int
    users: int
