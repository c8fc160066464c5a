"""Load Amazon Review Data 2018 files into the graph: source records -> `kg.records` rows ->
`kg.write.GraphWriter`.

Metadata first (items, categories, then their relationships), then reviews (users, reviews,
interactions), then what the extraction step found in their texts (brands, the metadata's own
brand field included, attributes, review aspects). Rows are written in chunks as the files
stream past, so memory holds one chunk, the sets of ids that deduplication and link filtering
need, and the extracted mentions. Every write is a MERGE on a stable id: loading the same files
again changes nothing, and a run killed half-way is completed by running it again.
"""

from __future__ import annotations

import time
from collections.abc import Container
from functools import partial
from pathlib import Path
from typing import Any

from ingest.categories import category_leaf, category_rows
from ingest.clean import clean_text, clean_title, parse_price, unique_products, unique_reviews
from ingest.extract.base import ItemText, ReviewText
from ingest.extract.brands import usable_brand
from ingest.extract.stage import ExtractionStage, MetadataExtractor
from ingest.records import AmazonProduct, AmazonReview
from ingest.sources.amazon2018.read import check_files, read_products, read_reviews
from ingest.stream import Progress, feeding, mapped, quiet, reported
from ingest.summary import IngestSummary, SourceTally
from ingest.write import SharedIds, write_extracted, write_rows
from kg.names import item_name
from kg.records import (
    InteractionRow,
    ItemLinkRow,
    ItemLinkType,
    ItemRow,
    ReviewRow,
    Row,
    UserRow,
    review_id,
)
from kg.write import (
    CATEGORIES,
    INTERACTIONS,
    ITEM_CATEGORIES,
    ITEM_LINKS,
    ITEMS,
    REVIEWS,
    USERS,
    GraphWriter,
    WriteSpec,
)

SCAN, PRODUCTS, REVIEWS_STAGE = "scanning metadata", "products", "reviews"
# Nodes before the relationships that point at them, within every chunk.
PRODUCT_WRITES: tuple[WriteSpec[Any], ...] = (ITEMS, CATEGORIES, ITEM_CATEGORIES, ITEM_LINKS)
REVIEW_WRITES: tuple[WriteSpec[Any], ...] = (USERS, REVIEWS, INTERACTIONS)
_SENTENCE_END = (".", "!", "?", "…")


def load_amazon2018(
    graph_writer: GraphWriter,
    reviews: Path,
    meta: Path | None = None,
    progress: Progress | None = None,
    extraction: ExtractionStage | None = None,
) -> IngestSummary:
    """Write the reviews file, and the metadata file when given, to the graph. Without an
    `extraction` step only the metadata's brand field gives brands."""
    started = time.perf_counter()
    report = progress or quiet
    stage = extraction or ExtractionStage([MetadataExtractor()])
    check_files(reviews, meta)  # before anything is written
    summary = IngestSummary(sources=[])
    seen: SharedIds = set()
    if meta is not None:
        catalogue, lines = _scan_catalogue(meta, report)
        tally = SourceTally(meta.name)
        summary.sources.append(tally)
        products = unique_products(reported(read_products(meta), PRODUCTS, lines, report), tally)
        rows = feeding(partial(product_rows, catalogue=catalogue), item_text, stage.add_item)
        write_rows(mapped(products, rows, tally), PRODUCT_WRITES, graph_writer, summary, seen)
    tally = SourceTally(reviews.name)
    summary.sources.append(tally)
    ratings = unique_reviews(reported(read_reviews(reviews), REVIEWS_STAGE, None, report), tally)
    to_rows = feeding(review_rows, review_text, stage.add_review)
    write_rows(mapped(ratings, to_rows, tally), REVIEW_WRITES, graph_writer, summary, seen)
    write_extracted(stage, graph_writer, summary, seen, report)
    summary.seconds = time.perf_counter() - started
    return summary


def product_rows(product: AmazonProduct, catalogue: Container[str]) -> list[Row]:
    """The item, its category path, and its links to other items of `catalogue`."""
    item_id = product.asin
    categories = category_rows(item_id, product.category)
    title, description = clean_title(product.title), _description(product)
    brand = usable_brand(clean_text(product.brand))
    rows: list[Row] = [
        ItemRow(
            id=item_id,
            title=title,
            description=description,
            name=item_name(title, description, brand, category_leaf(categories)),
            price=parse_price(product.price),
        ),
        *categories,
    ]
    links: tuple[tuple[list[str], ItemLinkType], ...] = (
        (product.also_buy, "ALSO_BOUGHT"),
        (product.also_view, "ALSO_VIEWED"),
    )
    for targets, link_type in links:
        # Only items of this catalogue: a link must not create an item that has no metadata.
        rows.extend(
            ItemLinkRow(source_id=item_id, target_id=target, type=link_type)
            for target in dict.fromkeys(targets)
            if target != item_id and target in catalogue
        )
    return rows


def item_text(product: AmazonProduct) -> ItemText:
    """What extraction reads of a product: its cleaned text fields and its brand field."""
    return ItemText(
        item_id=product.asin,
        title=clean_title(product.title),
        description=_description(product),
        features=[feature for feature in map(clean_text, product.feature) if feature],
        metadata_brand=clean_text(product.brand),
        category=" > ".join(product.category) or None,
    )


def _description(product: AmazonProduct) -> str | None:
    return "\n\n".join(filter(None, map(clean_text, product.description))) or None


def review_text(review: AmazonReview) -> ReviewText | None:
    text = _review_text(review.summary, review.review_text)
    if text is None:
        return None
    return ReviewText(review_id=_review_id(review), item_id=review.asin, text=text,
                      rating=review.overall)  # fmt: skip


def _review_id(review: AmazonReview) -> str:
    return review_id(review.reviewer_id, review.asin, review.unix_review_time)


def review_rows(review: AmazonReview) -> list[Row]:
    """The user, the review (only when it has text), and the rating as an interaction."""
    user_id, item_id, ts = review.reviewer_id, review.asin, review.unix_review_time
    rows: list[Row] = [UserRow(id=user_id, name=clean_text(review.reviewer_name))]
    text = _review_text(review.summary, review.review_text)
    if text is not None:
        rows.append(
            ReviewRow(id=_review_id(review), user_id=user_id, item_id=item_id,
                      rating=review.overall, ts=ts, text=text)
        )  # fmt: skip
    rows.append(
        InteractionRow(user_id=user_id, item_id=item_id, kind="rate", ts=ts,
                       rating=review.overall, weight=1.0)
    )  # fmt: skip
    return rows


def _review_text(summary: str, body: str) -> str | None:
    """Summary and body as one text, without doubling the summary's own full stop."""
    head, tail = clean_text(summary), clean_text(body)
    if head and tail:
        return f"{head} {tail}" if head.endswith(_SENTENCE_END) else f"{head}. {tail}"
    return head or tail


def _scan_catalogue(meta: Path, report: Progress) -> tuple[set[str], int]:
    """First pass over the metadata: the asins it holds, and its number of records."""
    asins: set[str] = set()
    records = 0
    for record in read_products(meta):
        records += 1
        if isinstance(record, AmazonProduct):
            asins.add(record.asin)
        report(SCAN, records, None)
    return asins, records
