"""The default extractor: spaCy + pattern rules + gazetteers, no model beyond spaCy's own.

Items: every text field (title, description, features, details) runs through the full pipeline
(less the lemmatizer). Gazetteer terms and pattern rules give attribute candidates (extractor
"rule"); with a trained pipeline, a feature term that heads a noun chunk grows to the chunk's
descriptive part ("riding tips", extractor "spacy"), and other noun chunks become low-confidence
"feature" candidates (0.3: most chunks are not features, so consumers should filter on
confidence). Gazetteer hits and discovery candidates first pass the context rules of
`ingest.extract.context` (a topic must be presented as a subject, what a product is for is not
its property, a finish and a hue are one shade). Brands come from `ingest.extract.brands`.
Overlapping candidates are resolved longest-first, and attribute candidates inside the item's
brand name are dropped ("Organic" in "Organic Root Stimulator").

Reviews: the aspects a review names (the gazetteers plus the review-aspect list), each with a
sentiment from the words around it and the rating as a weak prior. By default reviews are only
tokenized: tagging and parsing would cut throughput from thousands to ~100 reviews/s on 2 cores,
below what ingestion needs; `review_noun_chunks=True` adds noun-chunk aspects at that cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Token

from ingest.extract import context, discovery
from ingest.extract.base import BRAND, ItemText, Mention, ReviewText
from ingest.extract.brands import BrandFinder
from ingest.extract.candidates import Candidate, select
from ingest.extract.chunks import ChunkFeatures
from ingest.extract.fields import item_fields, readable
from ingest.extract.gazetteers import Entry, load_gazetteers, phrase_matcher
from ingest.extract.nlp import Pipeline, load_pipeline
from ingest.extract.patterns import PatternRules, joining_dash
from ingest.extract.sentiment import vader_polarity
from ingest.resolve import MIN_CONFIDENCE
from kg.records import SourceField
from kg.settings import Settings

# Longer fields are scraped page residue; the cap bounds time and memory per field.
MAX_FIELD_CHARS = 20_000
TERM_CONFIDENCE = 0.7  # one-word gazetteer terms ("print", "rose") are the most ambiguous
PHRASE_CONFIDENCE = 0.8
# A named size ("mini", "XL", "full size") has no unit and no quantity: a candidate, not a size.
NAMED_SIZE_CONFIDENCE = 0.3
# Topics, audiences and formats are things: with a parse, a one-word term that describes
# another noun ("baby back ribs", "expert advice", "digital thermometer") is not one, unless it
# says which edition ("digital edition").
NOUN_KINDS = frozenset({"topic", "audience", "format"})
MODIFIER_POS = frozenset({"ADJ", "ADV"})
MODIFIER_DEPS = frozenset({"compound", "amod", "nmod"})
LIST_JOINERS = frozenset({"/", ",", "&", "and", "or"})
EDITION_WORDS = frozenset(
    {"edition", "editions", "version", "magazine", "subscription", "issue", "issues", "access"}
)
# A title names the product; what a magazine or book is about, and which edition it is, are
# in its description ("Digital Pen Type PH Meter" is no digital edition).
NOT_IN_TITLES = frozenset({"topic", "format"})
# Short fields that name product properties; prose (descriptions, reviews) describes too much.
DISCOVERY_FIELDS = frozenset({"title", "features"})
# Named entities whose words are a name, not a description ("Olive Garden", "TV Guide").
NAME_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "WORK_OF_ART", "EVENT", "PRODUCT", "NORP"}
)


class SpacyExtractor:
    name = "spacy"
    cache_tag = "context-9"  # bumped when the rules change what they find

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        pipeline: Pipeline | None = None,
        known_brands: Iterable[str] = (),
        review_noun_chunks: bool = False,
    ) -> None:
        self.pipeline = pipeline or load_pipeline(settings)
        nlp = self.pipeline.nlp
        gazetteers = load_gazetteers()
        self.terms = phrase_matcher(nlp, gazetteers.kinds)
        # First words of the dictionary's phrases: "Stainless" alone is stainless steel cut
        # short, not a property of its own.
        self.openers = frozenset(
            form.split()[0]
            for entries in gazetteers.kinds.values()
            for entry in entries
            for form in entry.forms
            if " " in form
        )
        aspects: Mapping[str, Iterable[Entry]] = {
            **gazetteers.kinds,
            "feature": (*gazetteers.kinds["feature"], *gazetteers.review_aspects),
        }
        self.aspects = phrase_matcher(nlp, aspects)
        self.rules = PatternRules(nlp, gazetteers)
        self.polarity = vader_polarity()
        self.chunks = ChunkFeatures(self.polarity.valence, gazetteers.generic_nouns)
        self.brands = BrandFinder(nlp, known_brands, self.polarity.valence)
        self.review_noun_chunks = review_noun_chunks and self.pipeline.trained

    def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]:
        fields = [
            (index, source, text[:MAX_FIELD_CHARS])
            for index, item in enumerate(items)
            for source, text in item_fields(item)
        ]
        docs = self.pipeline.pipe((text for _, _, text in fields), analyse=True)
        per_item: list[list[tuple[SourceField, Doc]]] = [[] for _ in items]
        for (index, source, _), doc in zip(fields, docs, strict=True):
            per_item[index].append((source, doc))
        catalogue = self.brands.catalogue(items)
        return [
            self._item(item, item_docs, catalogue)
            for item, item_docs in zip(items, per_item, strict=True)
        ]

    def extract_reviews(self, reviews: Sequence[ReviewText]) -> list[list[Mention]]:
        texts = (readable(review.text[:MAX_FIELD_CHARS]) for review in reviews)
        docs = self.pipeline.pipe(texts, analyse=self.review_noun_chunks)
        found = []
        for review, doc in zip(reviews, docs, strict=True):
            _, chosen = self._candidates(doc, self.aspects, "review")
            sentiment = self.polarity.sentiment
            found.append(
                [
                    c.mention(doc, "review", sentiment(doc, c.start, c.end, review.rating))
                    for c in chosen
                ]
            )
        return found

    def _item(
        self, item: ItemText, docs: list[tuple[SourceField, Doc]], catalogue: PhraseMatcher
    ) -> list[Mention]:
        attributes: list[Mention] = []
        rule_starts: dict[SourceField, set[int]] = {}
        for source, doc in docs:
            rules, chosen = self._candidates(doc, self.terms, source)
            rule_starts[source] = {c.start for c in rules}
            names = _name_spans(doc, catalogue, titled=source == "title")
            if source in DISCOVERY_FIELDS:
                found = [c for c in chosen if c.confidence >= MIN_CONFIDENCE]
                proposed = discovery.candidates(doc, found, self.polarity.valence)
                chosen += [
                    c
                    for c in proposed
                    if context.said_of_item(doc, c) and not self._shortened_term(doc, c)
                ]
            attributes += [c.mention(doc, source) for c in chosen if not _inside(c, names)]
        brands = self.brands.find(item, docs, rule_starts, catalogue)
        return brands + [m for m in attributes if not _inside_brand(m, brands)]

    def _shortened_term(self, doc: Doc, candidate: Candidate) -> bool:
        """Whether a discovery candidate is the first word of a dictionary phrase, said alone."""
        span = doc[candidate.start : candidate.end]
        return len(span) == 1 and span.text.lower() in self.openers

    def _candidates(
        self, doc: Doc, terms: PhraseMatcher, source: SourceField
    ) -> tuple[list[Candidate], list[Candidate]]:
        """(gazetteer + pattern candidates, final candidates incl. noun-chunk features)."""
        terms_found = context.read(doc, self._terms(doc, terms, source))
        rules = context.after_sizes(doc, select([*terms_found, *self.rules(doc)]))
        if not doc.has_annotation("DEP"):
            return rules, rules
        grown = self.chunks.expand(doc, rules)
        final = sorted(grown + self.chunks.candidates(doc, grown), key=lambda c: c.start)
        return rules, final

    @staticmethod
    def _terms(doc: Doc, terms: PhraseMatcher, source: SourceField) -> list[Candidate]:
        found = []
        for match_id, start, end in terms(doc):
            kind = doc.vocab.strings[match_id]
            if kind in NOT_IN_TITLES and source == "title":
                continue
            if kind in NOUN_KINDS and end - start == 1 and _describes_another(doc[start], kind):
                continue
            if _in_compound(doc, start, end):
                continue  # "sister-in-law" is not about law
            if kind == "size":
                confidence = NAMED_SIZE_CONFIDENCE
            else:
                confidence = PHRASE_CONFIDENCE if end - start > 1 else TERM_CONFIDENCE
            found.append(Candidate(kind, start, end, confidence, "rule"))
        return found


def _in_compound(doc: Doc, start: int, end: int) -> bool:
    """Whether the span is part of a longer hyphenated word."""
    before = start >= 2 and joining_dash(doc, start - 1)
    after = end + 1 < len(doc) and joining_dash(doc, end)
    return before or after


def _describes_another(token: Token, kind: str) -> bool:
    """Whether a one-word term is used as a modifier ("an entertaining mix" is not about
    entertaining, "baby back ribs" are not for babies); needs a tagger and parser."""
    if not token.doc.has_annotation("POS"):
        return False
    if token.pos_ in MODIFIER_POS:
        return True
    following = token.nbor() if token.i + 1 < len(token.doc) else None
    if following is not None and following.lower_ == "of":
        return True  # "the art of trapping" is about trapping
    if following is not None and following.lower_ in LIST_JOINERS:
        return False  # "science/technology" lists two topics
    if (
        kind == "audience"
        and token.tag_ == "NN"
        and following is not None
        and following.is_alpha
        and following.pos_ not in ("VERB", "AUX")
    ):
        return True  # a singular audience word before another word names a kind of thing:
        # "baby back ribs", "baby wipes" (the parser does not always say so)
    head = token.head
    return (
        token.doc.has_annotation("DEP")
        and token.dep_ in MODIFIER_DEPS
        and head.i > token.i
        and head.pos_ in ("NOUN", "PROPN")
        and not (kind == "format" and head.lower_ in EDITION_WORDS)
    )


def _name_spans(doc: Doc, catalogue: PhraseMatcher, *, titled: bool) -> list[tuple[int, int]]:
    """Token spans that are proper names: the shop's brands wherever they appear and, outside
    title-case titles, named entities and runs of two or more capitalised proper nouns."""
    spans = [(start, end) for _, start, end in catalogue(doc)]
    if titled or not doc.has_annotation("ENT_IOB"):
        return spans
    spans += [
        (ent.start, ent.end)
        for ent in doc.ents
        # The small model also tags lower-case phrases ("tips & techniques") as names.
        if ent.label_ in NAME_LABELS
        and all(
            token.is_title or token.is_upper
            for token in ent
            if token.is_alpha and not token.is_stop
        )
    ]
    run: list[int] = []
    for token in [*doc, None]:
        if (
            token is not None
            and token.pos_ == "PROPN"
            and token.is_title
            and not token.is_sent_start
        ):
            run.append(token.i)
            continue
        if len(run) >= 2:
            spans.append((run[0], run[-1] + 1))
        run = []
    return spans


def _inside(candidate: Candidate, names: list[tuple[int, int]]) -> bool:
    """Strictly inside a name: a word of "Olive Garden" is not a colour, but a topic that is a
    whole named entity ("World War II") stays."""
    return any(
        start <= candidate.start
        and candidate.end <= end
        and candidate.end - candidate.start < end - start
        for start, end in names
    )


def _inside_brand(mention: Mention, brands: list[Mention]) -> bool:
    return any(
        brand.kind == BRAND
        and brand.confidence >= MIN_CONFIDENCE  # not a title's opening words, only candidates
        and brand.source == mention.source
        and brand.start is not None
        and brand.end is not None
        and mention.start is not None
        and mention.end is not None
        and brand.start <= mention.start
        and mention.end <= brand.end
        for brand in brands
    )
