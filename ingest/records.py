"""Raw source records as read from a file, before cleaning: one pydantic model per record kind.

Only the fields the loader uses are declared; every other field of the source is ignored, so a
new field upstream changes nothing here. A line that cannot become a record is a `Rejected`; a
category path cut short where it stops naming categories leaves a `CategoryPartSetAside`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
)

from kg.records import Row

EXCERPT_CHARS = 200
MAX_ID_CHARS = 1024  # kg.records.Id
MAX_NAME_CHARS = 1024  # brand and category names are indexed; Neo4j caps index keys at ~8 KB


def _encodable(value: str) -> str:
    # JSON may escape a lone surrogate (\ud800); Python accepts it, but the Neo4j driver cannot
    # encode it as UTF-8 and would fail the whole batch later.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("contains a lone surrogate escape (not valid Unicode)") from exc
    return value


def _missing_as(default: Any) -> BeforeValidator:
    # Amazon rows write an absent value as null as often as they leave the key out.
    return BeforeValidator(lambda value: default if value is None else value)


# Length limits sit right after `str` so they are string limits; after a validator pydantic
# applies them generically (and words the error as "items").
Encodable = AfterValidator(_encodable)
OptionalText = Annotated[str, _missing_as(""), Encodable]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), _missing_as(""), Encodable]
SourceId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_CHARS), Encodable
]
TextList = Annotated[list[Annotated[str, Encodable]], _missing_as([])]
NameList = Annotated[list[Name], _missing_as([])]
IdList = Annotated[list[str], _missing_as([])]  # only ids of the catalogue are linked


class SourceRecord(BaseModel):
    # Source field names are camelCase; aliases keep Python names snake_case.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AmazonReview(SourceRecord):
    """One line of an Amazon 2018 reviews file (`<Category>_5.json.gz`)."""

    asin: SourceId
    reviewer_id: SourceId = Field(alias="reviewerID")
    reviewer_name: OptionalText = Field("", alias="reviewerName")
    overall: StrictFloat = Field(ge=1, le=5, allow_inf_nan=False)
    unix_review_time: StrictInt = Field(ge=0, le=2**63 - 1, alias="unixReviewTime")  # Neo4j int64
    summary: OptionalText = ""
    review_text: OptionalText = Field("", alias="reviewText")


class AmazonProduct(SourceRecord):
    """One line of an Amazon 2018 metadata file (`meta_<Category>.json.gz`)."""

    asin: SourceId
    title: OptionalText = ""
    description: TextList = Field(default_factory=list)
    brand: Name = ""
    category: NameList = Field(default_factory=list)  # a path, root first
    feature: TextList = Field(default_factory=list)  # kept for ingest.extract
    also_buy: IdList = Field(default_factory=list)
    also_view: IdList = Field(default_factory=list)
    price: OptionalText = ""  # as scraped: "$12.99", "", or page residue


class Rejected(BaseModel):
    """A source line set aside, with enough context to find and fix it."""

    model_config = ConfigDict(frozen=True)

    source: str  # the file name
    line: int = Field(ge=1)
    reason: str
    excerpt: str = Field("", max_length=EXCERPT_CHARS)

    @classmethod
    def of(cls, source: str, line: int, reason: str, raw: str = "") -> Rejected:
        return cls(source=source, line=line, reason=reason, excerpt=printable(raw)[:EXCERPT_CHARS])


class CategoryPartSetAside(Row):
    """Not a graph row: where an item's category path was cut, and why. It travels with the
    item's rows (`ingest.categories.category_rows`) to `ingest.stream.mapped`, which counts it
    in the source's tally instead of writing it."""

    item_id: str
    part: str  # the first part that is no category name (an excerpt, printable)
    reason: str
    following: int = Field(0, ge=0)  # the parts after it, left out with it


def printable(text: str) -> str:
    """`text` with control characters escaped, so an excerpt cannot drive the terminal."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def validation_reason(error: ValidationError) -> str:
    """One line per problem: "missing asin", "invalid overall: Input should be ..."."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "record"
        if item["type"] == "missing":
            problems.append(f"missing {field}")
        else:
            problems.append(f"invalid {field}: {item['msg']}")
    return "; ".join(problems)
