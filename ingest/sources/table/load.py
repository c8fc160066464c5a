"""Load your own tables (`ingest.sources.table.read`) into the graph: items (with category path),
users, interactions, reviews, item attributes, item links and entity triples, in that order,
each file streamed in chunks, then the brands (the brand column among them) and attributes
extraction finds in the item and review texts.

Items and users are unique by id and reviews by review id: the first row wins, later ones are
set aside. An interaction or review may name a user or item no table lists; MERGE then creates
it with only its id. A review is a Review node only: interactions come from their own table.
Attributes and links name items of the items table only (the others are set aside); a triple's
end is that item when the items table has its id, else an Entity (named by its first name).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ingest.categories import CATEGORY_SEPARATOR, category_leaf, category_rows
from ingest.clean import clean_text, clean_title, unique
from ingest.extract.base import ItemText, Mention, ReviewText
from ingest.extract.brands import usable_brand
from ingest.extract.stage import ExtractionStage, MetadataExtractor
from ingest.records import Rejected
from ingest.resolve import normal_form
from ingest.sources.table.read import (
    TableAttribute,
    TableInteraction,
    TableItem,
    TableKind,
    TableLink,
    TableRecord,
    TableReview,
    TableTriple,
    TableUser,
    check_table,
    read_table,
    row_count,
)
from ingest.stream import Progress, SetAside, feeding, mapped, quiet, readable, reported
from ingest.summary import IngestSummary, SourceTally
from ingest.write import ITEM_WRITES, SharedIds, write_extracted, write_rows
from kg.names import item_name
from kg.records import (
    EntityRow,
    InteractionRow,
    ItemLinkRow,
    ItemRow,
    RelatedLabel,
    RelatedRow,
    ReviewRow,
    Row,
    UserRow,
)
from kg.records import review_id as built_review_id
from kg.write import (
    ENTITIES,
    INTERACTIONS,
    ITEM_LINKS,
    RELATED,
    REVIEWS,
    USERS,
    GraphWriter,
    WriteSpec,
)


@dataclass(frozen=True)
class TableFiles:
    items: Path
    users: Path | None = None
    interactions: Path | None = None
    reviews: Path | None = None
    attributes: Path | None = None
    links: Path | None = None
    triples: Path | None = None

    def given(self) -> list[tuple[TableKind, Path]]:
        """The tables passed, in load order (items before what points at them)."""
        tables: list[tuple[TableKind, Path | None]] = [
            ("items", self.items), ("users", self.users),
            ("interactions", self.interactions), ("reviews", self.reviews),
            ("attributes", self.attributes), ("links", self.links), ("triples", self.triples),
        ]  # fmt: skip
        return [(kind, path) for kind, path in tables if path is not None]


@dataclass
class Loaded:
    """What a load has written so far, where later rows depend on it: the items table's ids
    (attributes and links point only at these, triples make them Items) and the entities
    already named (the first name wins)."""

    items: set[str] = field(default_factory=set)
    named_entities: set[str] = field(default_factory=set)


def check_tables(files: TableFiles) -> list[str]:
    """Raise unless every table is there with its required columns; return one note per table
    with columns the layout does not know (they are ignored)."""
    notes = []
    for kind, path in files.given():
        ignored = check_table(path, kind)
        if ignored:
            notes.append(f"{path.name}: ignoring unknown column(s) {', '.join(ignored)}")
    return notes


def load_tables(
    graph_writer: GraphWriter,
    files: TableFiles,
    progress: Progress | None = None,
    extraction: ExtractionStage | None = None,
) -> IngestSummary:
    """Write every table of `files` to the graph, then what `extraction` finds in the item and
    review texts (without it, brands come from the items' brand column only)."""
    started = time.perf_counter()
    report = progress or quiet
    stage = extraction or ExtractionStage([MetadataExtractor()])
    check_tables(files)  # before anything is written
    summary = IngestSummary(sources=[])
    seen: SharedIds = set()
    loaded = Loaded()
    loads = _loads(loaded, stage)
    for kind, path in files.given():
        tally = SourceTally(path.name)
        summary.sources.append(tally)
        records = reported(read_table(path, kind, loaded.items), kind, row_count(path), report)
        to_rows, specs, kept = loads[kind]
        write_rows(mapped(kept(records, tally), to_rows, tally), specs, graph_writer, summary,
                   seen)  # fmt: skip
    write_extracted(stage, graph_writer, summary, seen, report)
    summary.seconds = time.perf_counter() - started
    return summary


def item_rows(item: TableItem) -> list[Row]:
    categories = category_rows(item.item_id, item.category.split(CATEGORY_SEPARATOR.strip()))
    title, description = clean_title(item.title), clean_text(item.description)
    name = item_name(title, description, usable_brand(item.brand), category_leaf(categories))
    return [ItemRow(id=item.item_id, title=title, description=description, name=name,
                    price=item.price), *categories]  # fmt: skip


def item_text(item: TableItem) -> ItemText:
    return ItemText(
        item_id=item.item_id,
        title=clean_title(item.title),
        description=clean_text(item.description),
        metadata_brand=item.brand,
        category=item.category or None,
    )


def review_text(review: TableReview) -> ReviewText | None:
    text = clean_text(review.text)
    if text is None:
        return None
    return ReviewText(review_id=review_id(review), item_id=review.item_id, text=text,
                      rating=review.rating)  # fmt: skip


def user_rows(user: TableUser) -> list[Row]:
    return [UserRow(id=user.user_id, name=clean_text(user.name))]


def interaction_rows(event: TableInteraction) -> list[Row]:
    return [
        InteractionRow(user_id=event.user_id, item_id=event.item_id, kind=event.kind,
                       ts=event.ts, rating=event.rating, weight=event.weight, split=event.split)
    ]  # fmt: skip


def review_rows(review: TableReview) -> list[Row]:
    text = clean_text(review.text)
    if text is None:
        raise SetAside("no text once markup is removed")
    return [
        ReviewRow(id=review_id(review), user_id=review.user_id, item_id=review.item_id,
                  rating=review.rating, ts=review.ts, text=text)
    ]  # fmt: skip


def review_id(review: TableReview) -> str:
    """The review's own id, else the one every loader builds (`kg.records.review_id`)."""
    if review.review_id is not None:
        return review.review_id
    return built_review_id(review.user_id, review.item_id, review.ts)


def attribute_mention(attribute: TableAttribute) -> Mention:
    """The attribute row as a mention the source states outright: the extraction step resolves
    it with what it finds in the texts, so the id is the one extraction gives the same kind and
    name ("colour:dark red") and the item has one link to it whoever found it."""
    name = clean_text(attribute.name)
    if not name or not normal_form(name, attribute.kind):
        raise SetAside("no name once markup and punctuation are removed")
    return Mention(
        kind=attribute.kind, text=name, source="metadata", extractor="metadata", confidence=1.0
    )


def stated_rows(attribute: TableAttribute, stage: ExtractionStage) -> list[Row]:
    """No rows of its own: the attribute goes to the extraction step, which writes it with what
    it finds in the texts."""
    stage.add_known(attribute.item_id, attribute_mention(attribute))
    return []


def link_rows(link: TableLink) -> list[Row]:
    return [ItemLinkRow(source_id=link.source_id, target_id=link.target_id, type=link.type)]


def triple_rows(triple: TableTriple, loaded: Loaded) -> list[Row]:
    """The fact, and each end that is an entity with a name not written yet."""
    rows: list[Row] = []
    labels: list[RelatedLabel] = []
    for end, name in ((triple.head, triple.head_name), (triple.tail, triple.tail_name)):
        if end in loaded.items:
            labels.append("Item")
            continue
        labels.append("Entity")
        cleaned = clean_text(name)
        if cleaned and end not in loaded.named_entities:
            loaded.named_entities.add(end)
            rows.append(EntityRow(id=end, name=cleaned))
    rows.append(
        RelatedRow(head_id=triple.head, head_label=labels[0], relation=triple.relation,
                   tail_id=triple.tail, tail_label=labels[1])
    )  # fmt: skip
    return rows


Kept = Callable[[Iterator[TableRecord | Rejected], SourceTally], Iterator[Any]]
Load = tuple[Callable[[Any], list[Row]], tuple[WriteSpec[Any], ...], Kept]


def _first_by(key: Callable[[Any], str], what: str) -> Kept:
    return lambda records, tally: unique(records, key, f"duplicate {what} (first row kept)", tally)


def _loads(loaded: Loaded, stage: ExtractionStage) -> dict[TableKind, Load]:
    """Per table: its records -> rows, the writes of those rows (nodes first), and which records
    are kept. The items' ids go to `loaded` as they are written; item and review texts and the
    stated attributes go to the extraction `stage`."""
    items = feeding(item_rows, lambda item: item.item_id, loaded.items.add)
    return {
        "items": (
            feeding(items, item_text, stage.add_item),
            ITEM_WRITES,
            _first_by(lambda item: item.item_id, "item_id"),
        ),
        "users": (user_rows, (USERS,), _first_by(lambda user: user.user_id, "user_id")),
        "interactions": (interaction_rows, (INTERACTIONS,), readable),
        "reviews": (
            feeding(review_rows, review_text, stage.add_review),
            (REVIEWS,),
            _first_by(review_id, "review id"),
        ),
        "attributes": (partial(stated_rows, stage=stage), (), readable),
        "links": (link_rows, (ITEM_LINKS,), readable),
        "triples": (partial(triple_rows, loaded=loaded), (ENTITIES, RELATED), readable),
    }  # fmt: skip
