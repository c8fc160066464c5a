"""Brand candidates of one item, conservative by design (one brand an item, precision first).

Evidence, strongest first: the source's own brand field (metadata); a "Brand"/"Publisher" detail;
a brand known from the catalogue (any item's metadata brand, or `known` names) at the start of
the title or after "by"; "... by X" in the title; a named entity that opens the title (short
ones only: long ones are product names as often as brands); a company name in the description
("Hearst Communications", "published by ..."); last, an all-caps word that opens a title
written in mixed case ("SHARKK Hair Brush"). When the metadata names a brand, text candidates
count only if they name the same brand; otherwise the strongest candidate is kept if it reaches
`MIN_CONFIDENCE`, together with the other mentions of that brand.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from rapidfuzz import fuzz
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token

from ingest.extract.base import BRAND, ItemText, Mention
from ingest.extract.fields import readable
from ingest.resolve import BRAND_SUFFIXES, SHOP_FIELDS, normal_form, similar
from kg.records import Extractor, SourceField

METADATA_CONFIDENCE = 0.9
CORROBORATED_CONFIDENCE = 0.95  # text that names the metadata's brand
DETAILS_CONFIDENCE = 0.9
KNOWN_CONFIDENCE = 0.85
BY_CONFIDENCE = 0.7
TITLE_ENTITY_CONFIDENCE = {1: 0.65, 2: 0.6, 3: 0.55}  # by length in words
COMPANY_CONFIDENCE = 0.6
CAPS_CONFIDENCE = 0.55
MIN_CAPS_LETTERS = 4  # shorter all-caps words are mostly acronyms ("LED", "UV", "DIY")
MAX_CAPS_WORDS = 2
MIN_CONFIDENCE = 0.5
# What a title may open with that specifies the product rather than naming its maker ("3D
# Printer Filament", "4K Camera"): never read from a title as a brand (a brand field that says
# so is still believed for its own item).
SPECIFICATIONS = frozenset({"2d", "3d", "4d", "4k", "5k", "8k", "hd", "uhd", "fhd", "2x", "3x"})
# A word with two or more digits is a part or model number ("F24675-0000", "18UL1007STRKIT",
# "RD1503"), never a maker's name read from text ("3M" and "AMZ3D" have one digit).
MODEL_NUMBER = re.compile(r"\d.*\d")
OPENING_CONFIDENCE = 0.2  # a title's opening words: a brand only if the shop knows it
MIN_MAKER_ITEMS = 2  # titles a maker the brand field never names must open
MAX_MAKER_WORDS = 3
# A parent company's items in a shop are mostly its makers' lines; a distributor of generic
# goods ("Small Parts") has titles that open with whatever the product is ("Polycarbonate").
MIN_MAKER_SHARE = 0.2
MIN_SHARED_PREFIX = 4  # "ninja" in "NinjaFlex" and "NinjaTek"
SAME_SPELLING = 80  # RapidFuzz ratio of two spellings of one name, spaces removed
NUMBER_WORDS = frozenset(
    {
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "twenty", "fifty", "hundred", "dozen", "pair", "pack", "set",
    }
)  # fmt: skip
WORD_EDGES = "\"'()[]{},;:.!?|/*+"  # stripped off a title word before it is counted
MAX_OPENING_WORDS = 4
MAX_BY_WORDS = 3
MAX_BRAND_WORDS = 6

TRADEMARKS = str.maketrans("", "", "\u00ae\u2122\u00a9")  # (R), TM, (C)
JUNK_BRANDS = frozenset(
    {
        "unknown", "n a", "na", "none", "generic", "unbranded", "null", "no brand",
        "gift card", "gift cards", "egift card", "e gift card", "new",
    }
)  # fmt: skip
# Entity labels that do not name a maker: numbers, and places or peoples ("Paris Eau de Parfum").
NOT_NAMES = frozenset(
    {
        "CARDINAL", "QUANTITY", "MONEY", "DATE", "TIME", "PERCENT", "ORDINAL", "GPE", "LOC",
        "NORP", "FAC", "EVENT", "LANGUAGE",
    }
)  # fmt: skip
DETAIL_KEYS = ("brand", "manufacturer", "publisher", "maker")
COMPANY_WORDS = BRAND_SUFFIXES | {
    "media", "press", "group", "communications", "magazines", "enterprises", "holdings", "brands",
}  # fmt: skip
PUBLISHER_CUES = (("published", "by"), ("publisher",), ("publishers", "of"), ("publication", "of"))
NAME_JOINERS = frozenset({"&", "'", "-", "'s"})
FIELD_ORDER: dict[SourceField, int] = {
    "metadata": 0, "details": 1, "title": 2, "description": 3, "features": 4, "review": 5,
}  # fmt: skip


def usable_brand(name: str | None) -> str | None:
    """The brand name with whitespace tidied, or None for a placeholder ("unknown", "N/A"),
    scraped markup or a product title ("VicTsing 5m USB Waterproof Endoscope ...")."""
    if name is None:
        return None
    name = " ".join(readable(name).translate(TRADEMARKS).split())
    form = normal_form(name, BRAND)
    if not form or form in JUNK_BRANDS or "<" in name or '="' in name:
        return None
    if len(form.split()) > MAX_BRAND_WORDS:
        return None  # a product title in the brand field, not a name
    return name


def same_brand(a: str, b: str) -> bool:
    return similar(normal_form(a, BRAND), normal_form(b, BRAND))


class BrandFinder:
    def __init__(
        self, nlp: Language, known: Iterable[str] = (), valence: Mapping[str, float] | None = None
    ) -> None:
        self.nlp = nlp
        self.known = tuple(known)
        # Words with a sentiment praise or describe a product; they are not part of its maker's
        # name ("Clarisonic | Gentle Hydro Cleanser").
        self.valence = valence or {}

    def catalogue(self, items: Sequence[ItemText]) -> PhraseMatcher:
        """A matcher for the brands this batch's metadata (and `known`) name."""
        matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        names = {usable_brand(name) for name in (*self.known, *(i.metadata_brand for i in items))}
        patterns = [self.nlp.make_doc(name) for name in sorted(n for n in names if n)]
        patterns = [doc for doc in patterns if len(doc.text) >= 3]  # "O", "Q" match anything
        if patterns:
            matcher.add(BRAND, patterns)
        return matcher

    def find(
        self,
        item: ItemText,
        docs: Sequence[tuple[SourceField, Doc]],
        attribute_starts: dict[SourceField, set[int]],
        catalogue: PhraseMatcher,
    ) -> list[Mention]:
        candidates: list[Mention] = []
        openings: list[Mention] = []
        for source, doc in docs:
            starts = attribute_starts.get(source, set())
            if source == "title":
                candidates += self._in_title(doc, starts, catalogue)
                openings = _openings(doc)
            elif source == "description":
                candidates += self._companies(doc)
        candidates += self._details(dict(docs).get("details"))
        return decide(usable_brand(item.metadata_brand), candidates) + openings

    def _in_title(self, doc: Doc, starts: set[int], catalogue: PhraseMatcher) -> list[Mention]:
        found = []
        after_by = {token.i + 1 for token in doc if token.lower_ == "by" and token.i > 0}
        for _, start, end in catalogue(doc):
            if start == 0 or start in after_by or end - start > 1:
                found.append(_mention(doc[start:end], "title", "rule", KNOWN_CONFIDENCE))
        catalogued = len(found)
        for start in sorted(after_by):
            end = start
            while end < len(doc) and end - start < MAX_BY_WORDS and _name_word(doc, end, starts):
                end += 1
            if end > start and doc[end - 1].text not in NAME_JOINERS:
                found.append(_mention(doc[start:end], "title", "rule", BY_CONFIDENCE))
        opening = next((e for e in doc.ents if e.start == 0 and e.label_ not in NOT_NAMES), None)
        if opening is not None and 0 not in starts:  # "Glycolic Acid ..." opens with an attribute
            # An attribute or opinion word inside the entity ends the brand: "Palmer's | Cocoa
            # Butter Formula", "Clarisonic | Gentle Hydro".
            ends = [i for i in range(1, opening.end) if i in starts or self._opinion(doc[i])]
            end = min(ends, default=opening.end)
            confidence = TITLE_ENTITY_CONFIDENCE.get(end)
            if confidence is not None:
                found.append(_mention(doc[0:end], "title", "spacy", confidence))
        caps = self._caps_opening(doc, starts)
        if caps:
            found.append(_mention(doc[0:caps], "title", "rule", CAPS_CONFIDENCE))
        # What the shop's brand field names stands; text read as a name must not be an id.
        return found[:catalogued] + [m for m in found[catalogued:] if not model_number(m.text)]

    def _opinion(self, token: Token) -> bool:
        return self.valence.get(token.lower_, 0.0) != 0.0

    def _caps_opening(self, doc: Doc, starts: set[int]) -> int:
        """How many all-caps words open a mixed-case title as a name (0 for none)."""
        if not any(c.islower() for c in doc.text):
            return 0  # an all-caps title says nothing by its case
        end = 0
        while (
            end < min(len(doc), MAX_CAPS_WORDS)
            and end not in starts
            and doc[end].is_alpha
            and doc[end].is_upper
            and len(doc[end]) >= MIN_CAPS_LETTERS
            and not doc[end].is_stop
            and not self._opinion(doc[end])
        ):
            end += 1
        return end

    @staticmethod
    def _companies(doc: Doc) -> list[Mention]:
        found = []
        for ent in doc.ents:
            if ent.label_ != "ORG":
                continue
            before = tuple(token.lower_ for token in doc[max(0, ent.start - 2) : ent.start])
            cue = any(before[-len(cue) :] == cue for cue in PUBLISHER_CUES)
            if model_number(ent.text):
                continue
            if cue or ent[-1].lower_.strip(".") in COMPANY_WORDS:
                found.append(_mention(ent, "description", "spacy", COMPANY_CONFIDENCE))
        return found

    @staticmethod
    def _details(doc: Doc | None) -> list[Mention]:
        if doc is None:
            return []
        found = []
        offset = 0
        for line in doc.text.split("\n"):
            key, _, value = line.partition(": ")
            if usable_brand(value) and any(word in key.lower() for word in DETAIL_KEYS):
                start = offset + len(key) + 2 + len(value) - len(value.lstrip())
                name = value.strip()
                found.append(
                    Mention(
                        kind=BRAND, text=name, source="details", extractor="rule",
                        confidence=DETAILS_CONFIDENCE, start=start, end=start + len(name),
                    )
                )  # fmt: skip
            offset += len(line) + 1
        return found


def _openings(doc: Doc) -> list[Mention]:
    """The title's first one to `MAX_OPENING_WORDS` words, up to the first punctuation, as
    candidates below the floor: the load checks them against every brand the shop's brand
    field names (`ingest.extract.stage`), which one batch cannot know."""
    found = []
    for end in range(1, min(len(doc), MAX_OPENING_WORDS) + 1):
        if doc[end - 1].is_punct and doc[end - 1].text not in NAME_JOINERS:
            break
        opening = _mention(doc[0:end], "title", "rule", OPENING_CONFIDENCE)
        if doc[end - 1].text not in NAME_JOINERS and not _specification(opening):
            found.append(opening)
    return found


def model_number(text: str) -> bool:
    """Whether a name read from text holds a part or model number ("B60800-3100 Thermometer",
    "18UL1007STRKIT"): an id, not a maker."""
    return any(MODEL_NUMBER.search(word) for word in text.split())


def _specification(mention: Mention) -> bool:
    """Whether text read as a brand specifies the product instead ("3D Printer Filament")."""
    return normal_form(mention.text, BRAND).replace(" ", "") in SPECIFICATIONS


def _name_word(doc: Doc, index: int, attribute_starts: set[int]) -> bool:
    token = doc[index]
    if index in attribute_starts:
        return False
    return token.text in NAME_JOINERS or (token.text[:1].isupper() and not token.is_stop)


def _mention(span: Span, source: SourceField, extractor: Extractor, confidence: float) -> Mention:
    return Mention(
        kind=BRAND, text=span.text, source=source, extractor=extractor,
        confidence=confidence, start=span.start_char, end=span.end_char,
    )  # fmt: skip


def decide(metadata: str | None, candidates: list[Mention]) -> list[Mention]:
    """The mentions of the one brand the evidence supports (empty when it is too weak)."""
    candidates = [m for m in candidates if usable_brand(m.text) and not _specification(m)]
    if metadata is not None:
        agreeing = [
            m.model_copy(update={"confidence": max(m.confidence, CORROBORATED_CONFIDENCE)})
            for m in candidates
            if same_brand(m.text, metadata)
        ]
        own = Mention(
            kind=BRAND, text=metadata, source="metadata", extractor="metadata",
            confidence=METADATA_CONFIDENCE,
        )  # fmt: skip
        return [own, *agreeing]
    ranked = sorted(candidates, key=lambda m: (-m.confidence, FIELD_ORDER[m.source], m.start or 0))
    if not ranked or ranked[0].confidence < MIN_CONFIDENCE:
        return []
    return [m for m in candidates if same_brand(m.text, ranked[0].text)]


def is_opening(mention: Mention) -> bool:
    """A title's opening words, waiting for the shop-wide brand check."""
    return mention.kind == BRAND and mention.confidence < MIN_CONFIDENCE


def place_known_brands(
    items: Mapping[str, list[Mention]], inside_titles: Mapping[str, int] | None = None
) -> dict[str, list[Mention]]:
    """Every item's mentions after the shop-wide brand check: a brand the shop's brand field
    names anywhere, opening an item's title, is that item's brand where nothing else names one,
    where the item's own brand field names another brand the title never mentions (it often
    holds the parent company: "SP Scienceware" for a "Bel-Art" title), and where the brand
    field names a product line that the title gives after its maker ("John Frieda Frizz-Ease"
    with the brand field "Frizz-Ease", a name the field gives on fewer items). Of several
    known openings, the maker is the one the shop's brand field names on the most items
    ("TIGI" before "TIGI Bed Head", one of its lines), the longest on a tie. Where the shop's
    word counts are given (`inside_titles`: word -> items whose title holds it after its first
    word), a maker the brand field never names is found as well (`_makers`). The title
    openings themselves go."""
    shop: Counter[str] = Counter()  # brand form -> items whose own fields name it
    for mentions in items.values():
        shop.update(
            {
                normal_form(m.text, BRAND)
                for m in mentions
                if m.kind == BRAND and m.source in SHOP_FIELDS
            }
        )
    makers = _makers(items, shop, inside_titles) if inside_titles is not None else {}
    placed = {}
    for item_id, mentions in items.items():
        rest = [m for m in mentions if not is_opening(m)]
        known = [m for m in mentions if is_opening(m) and normal_form(m.text, BRAND) in shop]
        named = {m.source for m in rest if m.kind == BRAND}
        confirmed = "metadata" in named and len(named) > 1  # the text names the field's brand
        maker = makers.get(item_id)
        if maker is not None and not known:
            rest = [m for m in rest if m.kind != BRAND]
            rest.append(maker.model_copy(update={"confidence": KNOWN_CONFIDENCE}))
        elif known:
            best = max(known, key=lambda m: (shop[normal_form(m.text, BRAND)], len(m.text)))
            if not confirmed or _line_after(best, rest, shop):
                rest = [m for m in rest if m.kind != BRAND]
                rest.append(best.model_copy(update={"confidence": KNOWN_CONFIDENCE}))
        spelled = _field_words(mentions)
        placed[item_id] = _outside_brands(rest, spelled)
        if _field_brands(placed[item_id]):
            # The title's own spelling of the field's brand: one more surface form of it.
            placed[item_id] += [
                m.model_copy(update={"confidence": CORROBORATED_CONFIDENCE})
                for m in spelled
                if normal_form(m.text, BRAND) not in shop
            ]
    return placed


def _field_brands(mentions: Sequence[Mention]) -> list[Mention]:
    """The brands the item's own brand field names."""
    return [m for m in mentions if m.kind == BRAND and m.source == "metadata"]


def _field_words(mentions: list[Mention]) -> list[Mention]:
    """The longest title opening that is part of the item's own brand field ("Brown & Sharpe"
    for the field "TESA Brown & Sharpe", "Durable" for "Durable Packaging"): words of the
    maker's name, whichever brand the item ends up with."""
    fields = [normal_form(m.text, BRAND).split() for m in _field_brands(mentions)]
    inside = [
        m
        for m in mentions
        if is_opening(m)
        and (words := normal_form(m.text, BRAND).split())
        and any(_contiguous(words, field) for field in fields)
    ]
    return sorted(inside, key=lambda m: len(m.text))[-1:]


def _contiguous(part: list[str], whole: list[str]) -> bool:
    return any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def _makers(
    items: Mapping[str, list[Mention]], shop: Mapping[str, int], inside_titles: Mapping[str, int]
) -> dict[str, Mention]:
    """item id -> the maker its title opens with, where the item's brand field names a company
    the title never mentions (a parent company or distributor: "SP Scienceware" on titles
    that open "Bel-Art ..." and "H-B DURAC ..."). The maker is an opening that several titles
    of the same field's items share, up to where they part ("Bel-Art | Single Scale ...",
    "Bel-Art | Labmat ..."), on at least `MIN_MAKER_SHARE` of the field's items, and that
    reads as a name (`_name_like`)."""
    groups: dict[str, dict[str, list[Mention]]] = defaultdict(dict)  # field brand -> items
    described: Counter[str] = Counter()  # attribute form -> items
    for item_id, mentions in items.items():
        own = {normal_form(m.text, BRAND) for m in _field_brands(mentions)}
        in_text = any(
            m.kind == BRAND and m.source != "metadata" and not is_opening(m) for m in mentions
        )
        if len(own) == 1 and not in_text:
            groups[own.pop()][item_id] = [m for m in mentions if is_opening(m)]
        described.update(
            {
                normal_form(m.text, m.kind)
                for m in mentions
                if m.kind != BRAND and m.confidence >= MIN_CONFIDENCE
            }
        )
    found: dict[str, tuple[tuple[int, int], Mention]] = {}
    for field, members in groups.items():
        with_opening: dict[str, set[str]] = defaultdict(set)
        mention_of: dict[tuple[str, str], Mention] = {}
        for item_id, openings in members.items():
            for opening in openings:
                form = normal_form(opening.text, BRAND)
                with_opening[form].add(item_id)
                mention_of[item_id, form] = opening
        for form, covered in with_opening.items():
            longer = [o for o in with_opening if o.startswith(form + " ")]
            # The titles may spell one form apart ("No Rinse", "No-Rinse"), and `_name_like`
            # reads the spelling: take the most common one, ties to the first in sorted order,
            # never the one a set of item ids happens to yield first (that follows the hash
            # seed, so the same shop loaded twice could find the maker once and not once).
            text = _most_common(mention_of[item_id, form].text for item_id in covered)
            if (
                len(covered) < max(MIN_MAKER_ITEMS, MIN_MAKER_SHARE * len(members))
                or form in shop
                or any(with_opening[o] == covered for o in longer)  # not where titles part
                or not _name_like(text, form, len(covered), inside_titles, described)
                or _same_company(form, field)
            ):
                continue
            rank = (len(covered), len(form))
            for item_id in covered:
                if item_id not in found or rank > found[item_id][0]:
                    found[item_id] = (rank, mention_of[item_id, form])
    return {item_id: mention for item_id, (_, mention) in found.items()}


def _most_common(texts: Iterable[str]) -> str:
    """The most frequent of `texts`, the first in sorted order on a tie: whatever order the
    texts come in."""
    counts = Counter(texts)
    return min(counts, key=lambda text: (-counts[text], text))


def _name_like(
    text: str,
    form: str,
    titles: int,
    inside_titles: Mapping[str, int],
    described: Mapping[str, int],
) -> bool:
    """Whether a title opening shared by `titles` titles reads as a maker's name: capitalised,
    at most `MAX_MAKER_WORDS` words, no digits and no number word ("Ten 1 Inch Balls"), no
    word that the shop uses as an attribute ("Bare Copper Wire") and none that other titles
    hold after their first word ("Glass Graduated ...", "Pro Gaff ...": "glass" and "pro"
    describe products all over the shop)."""
    words = form.split()
    return (
        text[:1].isupper()
        and len(words) <= MAX_MAKER_WORDS
        and not any(c.isdigit() for c in text)
        and not set(words) & NUMBER_WORDS
        and not any(described.get(word, 0) for word in words)
        and all(
            inside_titles.get(_word(raw), 0) - (titles if index else 0) < titles
            for index, raw in enumerate(text.split())
        )
    )


def _same_company(maker: str, field: str) -> bool:
    """Whether a title's opening and the brand field name one company in other spellings:
    a shared word ("GE Silicone" and "GE Momentive"), one written together or apart
    ("Break-Free" and "BreakFree", "Shark Navigator" and "SharkNinja"), near-equal letters
    ("Türlen" and "TRLEN"), or initials ("IPG" for "Intertape Polymer Group")."""
    own, other = maker.split(), field.split()
    joined, field_joined = "".join(own), "".join(other)
    shortest = min(len(joined), len(field_joined))
    prefix = next(
        (i for i, (a, b) in enumerate(zip(joined, field_joined, strict=False)) if a != b), shortest
    )
    return (
        bool(set(own) & set(other))
        or prefix >= min(MIN_SHARED_PREFIX, shortest)
        or fuzz.ratio(joined, field_joined) >= SAME_SPELLING
        or joined == "".join(word[0] for word in other)
        or field_joined == "".join(word[0] for word in own)
    )


def title_words(title: str) -> set[str]:
    """The words of a title after its first, as `_makers` counts them."""
    return {_word(word) for word in title.split()[1:]} - {""}


def _word(word: str) -> str:
    return word.strip(WORD_EDGES).lower()


def _outside_brands(mentions: list[Mention], names: Sequence[Mention] = ()) -> list[Mention]:
    """The mentions less the attributes found inside the item's brand where a field names it
    ("Blue" in a "Blue Buffalo" title), or inside other `names`: once the shop-wide check has
    placed a brand that one batch could not know, its words are a name, not a description."""
    spans = [
        (m.source, m.start, m.end)
        for m in [*mentions, *names]
        if m.kind == BRAND and (m.confidence >= MIN_CONFIDENCE or m in names)
        and m.start is not None
    ]  # fmt: skip
    return [
        m
        for m in mentions
        if m.kind == BRAND
        or m.start is None
        or m.end is None
        or not any(
            source == m.source and start <= m.start and end is not None and m.end <= end
            for source, start, end in spans
        )
    ]


def _line_after(maker: Mention, mentions: list[Mention], shop: Mapping[str, int]) -> bool:
    """Whether the brand the item's field names is a product line of `maker`, the known brand
    opening its title: another brand, given in the title only after the maker, and named by
    the shop's brand field on fewer items. ("Travel Smart by Conair" with the brand field
    "Conair" stays Conair's: the line opens the title, but the shop names Conair more often.)"""
    own = _field_brands(mentions)
    in_title = [m for m in mentions if m.kind == BRAND and m.source == "title"]
    items = shop[normal_form(maker.text, BRAND)]
    return (
        bool(own and in_title)
        and not any(same_brand(m.text, maker.text) for m in own)
        and all(shop[normal_form(m.text, BRAND)] < items for m in own)
        and all(m.start is not None and maker.end is not None and m.start >= maker.end
                for m in in_title)
    )  # fmt: skip
