"""The extraction step of a load: item and review texts -> mentions -> canonical Brand and
Attribute entities -> graph rows with provenance.

Texts are extracted in batches as the source streams past (each extractor's answers cached on
disk, so a rerun or a resumed run extracts nothing twice), and resolved all at once at the end:
canonical ids depend on the whole corpus (a cluster's id is its most frequent form), never on
the order or the batches the texts came in. Two shop-wide steps come first, as one item's text
cannot settle them alone: titles are read against every brand the shop's brand field names
(`brands.place_known_brands`), and discovery candidates found on enough items become attributes
(`discovery.discover`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import version
from itertools import chain
from typing import Any, TypeVar

from pydantic import BaseModel

from ingest.extract import discovery, scents
from ingest.extract.base import BRAND, EntityExtractor, ItemText, Mention, ReviewText
from ingest.extract.brands import is_opening, place_known_brands, title_words, usable_brand
from ingest.extract.mention_cache import MentionCache
from ingest.resolve import (
    MIN_CONFIDENCE,
    brand_support,
    item_rows,
    resolve,
    review_rows,
)
from kg.records import Row
from kg.settings import Settings
from kg.write import ATTRIBUTES, BRANDS, ITEM_ATTRIBUTES, ITEM_BRANDS, REVIEW_MENTIONS, WriteSpec

R = TypeVar("R", bound=BaseModel)
Extract = Callable[[EntityExtractor, Sequence[R]], list[list[Mention]]]

# Entities before the relationships that point at them; reviews must already be in the graph.
EXTRACTED_WRITES: tuple[WriteSpec[Any], ...] = (
    BRANDS, ATTRIBUTES, ITEM_BRANDS, ITEM_ATTRIBUTES, REVIEW_MENTIONS,
)  # fmt: skip
BATCH_SIZE = 64


class MetadataExtractor:
    """The source's own brand field and nothing else: what a load without text extraction
    (`--no-extract`) still knows, resolved like any other brand mention."""

    name = "metadata"
    cache_tag = "metadata-1"

    def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]:
        found = []
        for item in items:
            brand = usable_brand(item.metadata_brand)
            found.append(
                [Mention(kind=BRAND, text=brand, source="metadata", extractor="metadata")]
                if brand
                else []
            )
        return found

    def extract_reviews(self, reviews: Sequence[ReviewText]) -> list[list[Mention]]:
        return [[] for _ in reviews]


def build_extractors(settings: Settings, *, text: bool = True) -> list[EntityExtractor]:
    """spaCy + rules, plus the LLM when one is configured; only metadata brands if not `text`."""
    if not text:
        return [MetadataExtractor()]
    # Imported here: loading spaCy and the LLM code is only worth it when text is extracted.
    from ingest.extract.llm import build_llm_extractor
    from ingest.extract.spacy_rules import SpacyExtractor

    extractors: list[EntityExtractor] = [SpacyExtractor(settings)]
    llm = build_llm_extractor(settings)
    if llm is not None:
        extractors.append(llm)
    return extractors


def cache_tag(extractor: EntityExtractor) -> str:
    """Cached answers are reused only by the same extractor of the same kgrec version."""
    own = getattr(extractor, "cache_tag", "")
    return f"{extractor.name}:{own}:kgrec-{version('kgrec')}"


class ExtractionStage:
    def __init__(
        self,
        extractors: Sequence[EntityExtractor],
        cache: MentionCache | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.extractors = extractors
        self.cache = cache
        self.batch_size = batch_size
        self.item_mentions: dict[str, list[Mention]] = {}
        self.known_mentions: dict[str, list[Mention]] = {}  # stated by the source, not extracted
        self.item_categories: dict[str, str | None] = {}
        self.inside_titles: Counter[str] = Counter()  # word -> titles holding it after the first
        self.scent_cued: set[str] = set()  # items whose text speaks of scent
        self.followers: dict[str, dict[str, str]] = {}  # item -> discovery candidate -> next word
        self.review_mentions: dict[str, list[Mention]] = {}
        self.extracted = 0  # texts an extractor read this run
        self.cached = 0  # texts answered from the cache
        self._items: list[ItemText] = []
        self._reviews: list[ReviewText] = []

    def add_item(self, item: ItemText) -> None:
        self._note(item)
        self._items.append(item)
        if len(self._items) >= self.batch_size:
            self._flush_items()

    def add_review(self, review: ReviewText) -> None:
        self._reviews.append(review)
        if len(self._reviews) >= self.batch_size:
            self._flush_reviews()

    def add_extracted_item(self, item: ItemText, mentions: list[Mention]) -> None:
        """An item whose text was extracted elsewhere (`extract_items` in a Spark partition):
        as `add_item`, with its mentions given. Added in source order, the shop-wide steps
        and the resolution come out as a load of the same file's."""
        self._note(item)
        self._record_item(item, mentions)

    def add_extracted_review(self, review_id: str, mentions: list[Mention]) -> None:
        self.review_mentions[review_id] = mentions

    def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]:
        """The mentions each item's text holds (cached answers reused), nothing kept here."""
        return self._extract(items, lambda e, batch: e.extract_items(batch))

    def extract_reviews(self, reviews: Sequence[ReviewText]) -> list[list[Mention]]:
        return self._extract(reviews, lambda e, batch: e.extract_reviews(batch))

    def add_known(self, item_id: str, mention: Mention) -> None:
        """An entity the source states outright (a table's attribute row): resolved with what
        the extractors find, so the item's one link to it carries every provenance."""
        self.known_mentions.setdefault(item_id, []).append(mention)

    def rows(self) -> Iterator[list[Row]]:
        """All entities first, then each item's and review's links to them."""
        self._flush_items()
        self._flush_reviews()
        # Shop-wide steps: what one item's text cannot settle alone.
        placed = place_known_brands(self.item_mentions, self.inside_titles)
        self.item_mentions = scents.scented(
            discovery.discover(placed, self.item_categories, self.followers),
            self.scent_cued,
            self.item_categories,
        )
        for item_id, known in self.known_mentions.items():
            self.item_mentions[item_id] = [*self.item_mentions.get(item_id, []), *known]
        self.known_mentions = {}
        resolution = resolve(
            chain.from_iterable(chain(self.item_mentions.values(), self.review_mentions.values()))
        )
        support = brand_support(self.item_mentions.values(), resolution)
        brand_rows = [row for row in resolution.brand_rows() if row.id in support]
        yield [*brand_rows, *resolution.attribute_rows()]
        for item_id, mentions in sorted(self.item_mentions.items()):
            brands, attributes = item_rows(item_id, mentions, resolution)
            yield [*(row for row in brands if row.brand_id in support), *attributes]
        for review_id, mentions in sorted(self.review_mentions.items()):
            yield list(review_rows(review_id, mentions, resolution))

    def _note(self, item: ItemText) -> None:
        """What the shop-wide steps count of an item: its category, title words, scent cue."""
        self.item_categories[item.item_id] = item.category
        if item.title:
            self.inside_titles.update(title_words(item.title))
        if scents.cued(item):
            self.scent_cued.add(item.item_id)

    def _record_item(self, item: ItemText, mentions: list[Mention]) -> None:
        following = {
            m.text: word
            for m in mentions
            if m.extractor == discovery.DISCOVERED and m.source == "title" and m.end is not None
            and item.title and (word := discovery.following_word(item.title, m.end))
        }  # fmt: skip
        if following:
            self.followers[item.item_id] = following
        self.item_mentions[item.item_id] = mentions

    def _flush_items(self) -> None:
        for item, mentions in zip(self._items, self.extract_items(self._items), strict=True):
            self._record_item(item, mentions)
        self._items = []

    def _flush_reviews(self) -> None:
        found = self.extract_reviews(self._reviews)
        self.review_mentions.update(zip((r.review_id for r in self._reviews), found, strict=True))
        self._reviews = []

    def _extract(self, records: Sequence[R], extract: Extract[R]) -> list[list[Mention]]:
        found: list[list[Mention]] = [[] for _ in records]
        if not records:
            return found
        for extractor in self.extractors:
            tag = cache_tag(extractor)
            keys = [MentionCache.key(tag, record) for record in records]
            known = self.cache.get_many(keys) if self.cache else {}
            missing = [index for index, key in enumerate(keys) if key not in known]
            self.cached += len(records) - len(missing)
            self.extracted += len(missing)
            if missing:
                fresh = extract(extractor, [records[index] for index in missing])
                answers = {
                    keys[index]: mentions for index, mentions in zip(missing, fresh, strict=True)
                }
                if self.cache:
                    self.cache.put_many(answers)
                known.update(answers)
            for index, key in enumerate(keys):
                found[index].extend(m for m in known[key] if _kept(m))
        return found


def _kept(mention: Mention) -> bool:
    """Below the floor are loose candidates (most noun chunks), not entities; discovery
    candidates and title openings wait for the shop-wide counts and brands."""
    waiting = mention.extractor == discovery.DISCOVERED or is_opening(mention)
    return mention.confidence >= MIN_CONFIDENCE or waiting
