"""Entity resolution: mentions -> canonical Brand and Attribute ids, and the kg rows for them.

Surface forms are first reduced to a normal form (HTML entities unescaped, NFKC, case- and
accent-folded, punctuation dropped, plurals and units folded, gazetteer aliases mapped to their
canonical term, company suffixes dropped from brands). Normal forms of one kind that are still
near-duplicates ("conde nast" / "cond nast") are merged with RapidFuzz. Everything depends only
on the multiset of mentions, never on their order, so the same input always yields the same ids:
clusters are connected components, and a cluster's id is its most frequent normal form (ties
broken lexicographically).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process

from ingest.extract.base import BRAND, Mention
from ingest.extract.gazetteers import load_gazetteers
from kg.records import (
    AttributeRow,
    BrandRow,
    ItemAttributeRow,
    ItemBrandRow,
    ReviewMentionRow,
    Sentiment,
)

# Mentions below this are candidates, not facts: consumers (the loader, the benchmark) skip them.
MIN_CONFIDENCE = 0.5
SIMILARITY = 90.0  # RapidFuzz ratio (0-100) at or above which two normal forms are one entity
MIN_FUZZY_CHARS = 6  # shorter forms differ by a letter too easily ("men" / "man")
MIN_FUZZY_WORD_CHARS = 9  # one word a letter apart is mostly another word ("baking" / "banking")
MIN_TYPO_CHARS = 10  # company suffixes this long are told apart from real words by one typo
MAX_FORM_CHARS = 256  # ids stay short whatever the source wrote
MAX_NAME_CHARS = 1024
FUZZY_BLOCK = 2000  # rows per RapidFuzz block: memory stays O(block x forms)

WORD = re.compile(r"\d+(?:\.\d+)?|\.\d+|[^\W_]+")
JOINERS = re.compile(r"['\u2019`]|(?<=[^\W\d_])\.(?=[^\W\d_])")  # "l'oreal", "m.a.c"
DIGITS = re.compile(r"\d+(?:\.\d+)?")
PACK_OF = re.compile(r"\bpack of (\d+(?:\.\d+)?)\b")
IRREGULAR = {"women": "woman", "men": "man", "children": "child", "feet": "foot", "teeth": "tooth"}
NOT_PLURAL = frozenset({"news", "series", "species", "lens", "gps", "always", "perhaps"})
# Plurals in "-ies" whose singular ends in "-ie" ("movies", not "movy").
IE_SINGULARS = frozenset(
    {
        "movie", "cookie", "calorie", "brownie", "zombie", "selfie", "smoothie", "rookie",
        "goodie", "freebie", "hoodie", "veggie", "newbie", "foodie", "techie", "indie", "genie",
    }
)  # fmt: skip
HEAD_WORDS = {"skin_type": {"skin", "type"}, "hair_type": {"hair", "type"}}
SHOP_FIELDS = frozenset({"metadata", "details"})  # a brand named there is the shop's own
MIN_TEXT_BRAND_ITEMS = 3
# "Starbucks.com" and "Starbucks" are one retailer.
WEB_DOMAIN = re.compile(r"(?i)\.(?:com|net|org|co\.uk|co|de|ca|fr|jp)\b")
PRODUCT_TAILS: tuple[tuple[str, ...], ...] = (
    ("e", "gift", "card"), ("egift", "card"), ("gift", "card"), ("gift", "cards"),
    ("gift", "certificate"), ("egift",), ("ecard",),
)  # fmt: skip
BRAND_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company",
        "plc", "gmbh", "lp", "llp", "ag", "sa", "publications", "publishing", "publishers",
    }
)  # fmt: skip


def _basic(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [_number(word) for word in WORD.findall(JOINERS.sub("", text))]


def _number(word: str) -> str:
    if not DIGITS.fullmatch(word) and not word.startswith("."):
        return word
    if "." in word:
        word = word.rstrip("0").rstrip(".")
    return "0" + word if word.startswith(".") else word or "0"


def _singular(word: str) -> str:
    if word in IRREGULAR:
        return IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha() or word in NOT_PLURAL or word.endswith("ics"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-1] if word[:-1] in IE_SINGULARS else word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def _units() -> Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """First word -> (unit words, canonical unit), longest first, so "fl oz" beats "fl"."""
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
    for entry in load_gazetteers().units:
        for form in entry.forms:
            words = tuple(_basic(form))
            by_first[words[0]].append((words, entry.canonical))
    return {
        first: tuple(sorted(set(units), key=lambda u: -len(u[0])))
        for first, units in by_first.items()
    }


def _fold_units(words: list[str]) -> list[str]:
    folded: list[str] = []
    index = 0
    while index < len(words):
        for unit, canonical in _units().get(words[index], ()):
            if tuple(words[index : index + len(unit)]) == unit:
                folded.append(canonical)
                index += len(unit)
                break
        else:
            folded.append(words[index])
            index += 1
    return folded


@lru_cache(maxsize=1)
def _aliases() -> Mapping[tuple[str, str], str]:
    return {
        (kind, _plain_form(alias, kind)): _plain_form(canonical, kind)
        for kind, alias, canonical in load_gazetteers().aliases()
    }


def _plain_form(text: str, kind: str) -> str:
    if kind == BRAND:  # a name, not a quantity: "PC Products" holds no "pc" (count)
        words = _basic(WEB_DOMAIN.sub("", text))
        while len(words) > 1 and (_company_suffix(words[-1]) or _product_tail(words)):
            words = words[: -_product_tail(words) or -1]
        if len(words) > 1 and words[0] == "the":
            words.pop(0)
    else:
        words = [_singular(word) for word in _fold_units(_basic(text))]
        while len(words) > 1 and words[-1] in HEAD_WORDS.get(kind, ()):
            words.pop()
    form = PACK_OF.sub(r"\1 pack", " ".join(words))
    return form[:MAX_FORM_CHARS].strip()


def _product_tail(words: list[str]) -> int:
    """How many closing words name what the retailer sells rather than who it is ("Starbucks
    eGift Card" is Starbucks); 0 when none do, or when nothing would be left."""
    for tail in PRODUCT_TAILS:
        if len(words) > len(tail) and tuple(words[-len(tail) :]) == tail:
            return len(tail)
    return 0


def _company_suffix(word: str) -> bool:
    """A legal-form word, also misspelt in long ones ("Bonnier Corpiration"): source data
    is typed by hand, and the typo would otherwise split one publisher in two."""
    if word in BRAND_SUFFIXES:
        return True
    return len(word) >= MIN_TYPO_CHARS and any(
        fuzz.ratio(word, suffix) >= SIMILARITY
        for suffix in BRAND_SUFFIXES
        if len(suffix) >= MIN_TYPO_CHARS
    )


@lru_cache(maxsize=1 << 16)  # mentions repeat a lot: the same few thousand forms
def normal_form(text: str, kind: str) -> str:
    """The comparable form of a surface form: "6 Ounce" and "6 oz." both give "6 oz",
    "Condé Nast Publications" gives "conde nast", "for Dry Skin" (skin_type) gives "dry".
    Empty when nothing comparable is left (punctuation only)."""
    form = _plain_form(text, kind)
    return _aliases().get((kind, form), form)


def similar(a: str, b: str) -> bool:
    """Whether two normal forms name the same entity: equal, or near-equal with the same
    numbers ("16 oz" and "6 oz" never merge)."""
    if a == b:
        return True
    if min(len(a), len(b)) < MIN_FUZZY_CHARS or DIGITS.findall(a) != DIGITS.findall(b):
        return False
    if " " not in a and " " not in b and min(len(a), len(b)) < MIN_FUZZY_WORD_CHARS:
        return False
    return fuzz.ratio(a, b) >= SIMILARITY


class Canonical(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    id: str
    name: str


@dataclass(frozen=True)
class Resolution:
    """What every (kind, normal form) resolved to, and the surface forms seen per entity."""

    canonical: Mapping[tuple[str, str], Canonical]
    surface_forms: Mapping[str, tuple[str, ...]]  # entity id -> sorted surface forms
    shop_brands: frozenset[str] = frozenset()  # brand ids the source's own fields name

    def of(self, mention: Mention) -> Canonical | None:
        """None only for a mention with nothing comparable in it."""
        return self.canonical.get((mention.kind, normal_form(mention.text, mention.kind)))

    def brand_rows(self) -> list[BrandRow]:
        return [
            BrandRow(id=c.id, name=c.name, surface_forms=list(self.surface_forms[c.id]))
            for c in self._entities()
            if c.kind == BRAND
        ]

    def attribute_rows(self) -> list[AttributeRow]:
        return [
            AttributeRow(
                id=c.id, name=c.name, kind=c.kind, surface_forms=list(self.surface_forms[c.id])
            )
            for c in self._entities()
            if c.kind != BRAND
        ]

    def _entities(self) -> list[Canonical]:
        return sorted(set(self.canonical.values()), key=lambda c: c.id)


def _surface(text: str) -> str:
    return " ".join(html.unescape(text).split())[:MAX_NAME_CHARS]


def resolve(mentions: Iterable[Mention]) -> Resolution:
    """Cluster all mentions of each kind into canonical entities."""
    forms: dict[str, Counter[str]] = defaultdict(Counter)  # kind -> normal form -> mentions
    surfaces: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    shop: set[str] = set()  # brand forms the source's brand field or details name
    for mention in mentions:
        form = normal_form(mention.text, mention.kind)
        if form:
            forms[mention.kind][form] += 1
            surfaces[mention.kind, form][_surface(mention.text)] += 1
            if mention.kind == BRAND and mention.source in SHOP_FIELDS:
                shop.add(form)
    canonical: dict[tuple[str, str], Canonical] = {}
    seen: dict[str, tuple[str, ...]] = {}
    for kind, counts in forms.items():
        # A brand the text names as a known brand plus more words is that brand ("Nioxin
        # System 3" is Nioxin): the shop's own brand field is the reference.
        owners = _shop_prefixes(counts, shop) if kind == BRAND else {}
        for cluster in _clusters(sorted(form for form in counts if form not in owners)):
            cluster += [form for form, owner in owners.items() if owner in cluster]
            head = min(cluster, key=lambda form: (-counts[form], form))
            names: Counter[str] = Counter()
            for form in cluster:
                names.update(surfaces[kind, form])
            name = min(names, key=lambda surface: (-names[surface], surface))
            entity_id = head if kind == BRAND else f"{kind}:{head}"
            entity = Canonical(kind=kind, id=entity_id, name=name)
            canonical.update({(kind, form): entity for form in cluster})
            seen[entity_id] = tuple(sorted(names))
    shop_brands = frozenset(canonical[BRAND, form].id for form in shop)
    return Resolution(canonical, seen, shop_brands)


def _shop_prefixes(counts: Mapping[str, int], shop: set[str]) -> dict[str, str]:
    """Brand form of two or more words -> the one shop brand form it is part of, or else the
    longest shop brand form that its first words are, for forms the shop's own fields do not
    name."""
    owners = {}
    for form in counts:
        words = form.split()
        if form in shop:
            continue
        if len(words) < 2:
            continue  # one word is part of too many names ("Jason" of "Jason Industrial")
        # A title's spelling of one shop brand, part of its name ("brown sharpe" of "tesa
        # brown sharpe"), is that brand.
        parts = [
            name for name in shop if len(name.split()) > len(words) and f" {form} " in f" {name} "
        ]
        if len(parts) == 1:
            owners[form] = parts[0]
            continue
        prefix = next(
            (" ".join(words[:n]) for n in range(len(words) - 1, 0, -1)
             if " ".join(words[:n]) in shop),
            None,
        )  # fmt: skip
        if prefix is not None:
            owners[form] = prefix
    return owners


def brand_support(items: Iterable[Iterable[Mention]], resolution: Resolution) -> frozenset[str]:
    """The brand ids a load links items to: every brand the shop's own fields name, and a brand
    only the text names when it is found on at least `MIN_TEXT_BRAND_ITEMS` items (one title's
    opening words are a product name, a first name or a place as often as a maker)."""
    found_on: Counter[str] = Counter()
    for mentions in items:
        found_on.update(
            {entity.id for m in mentions if m.kind == BRAND and (entity := resolution.of(m))}
        )
    return resolution.shop_brands | {
        brand for brand, count in found_on.items() if count >= MIN_TEXT_BRAND_ITEMS
    }


def _clusters(forms: Sequence[str]) -> list[list[str]]:
    """Connected components of the `similar` graph over sorted, distinct normal forms. Only
    forms with the same first character are compared (a blocking key: near-duplicates almost
    never differ there), in blocks, so memory stays bounded on large vocabularies."""
    parent = list(range(len(forms)))

    def find(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    blocks: dict[str, list[int]] = defaultdict(list)
    for index, form in enumerate(forms):
        if len(form) >= MIN_FUZZY_CHARS:
            blocks[form[0]].append(index)
    for members in blocks.values():
        choices = [forms[index] for index in members]
        for offset in range(0, len(members), FUZZY_BLOCK):
            rows = members[offset : offset + FUZZY_BLOCK]
            scores = process.cdist(
                [forms[index] for index in rows], choices, scorer=fuzz.ratio,
                score_cutoff=SIMILARITY, dtype="uint8", workers=1,
            )  # fmt: skip
            for row, column in zip(*scores.nonzero(), strict=True):
                a, b = rows[row], members[column]
                if a < b and similar(forms[a], forms[b]):
                    parent[find(b)] = find(a)
    groups: dict[int, list[str]] = defaultdict(list)
    for index, form in enumerate(forms):
        groups[find(index)].append(form)
    return list(groups.values())


def item_rows(
    item_id: str, mentions: Iterable[Mention], resolution: Resolution
) -> tuple[list[ItemBrandRow], list[ItemAttributeRow]]:
    """One row per entity, whichever fields and extractors found it: a brand named in the
    metadata and the title is one link (two would weigh it twice in the graph)."""
    brands, attributes = [], []
    for entity, group in _grouped(mentions, resolution).items():
        provenance = _provenance(group)
        if entity.kind == BRAND:
            brands.append(ItemBrandRow(item_id=item_id, brand_id=entity.id, **provenance))
        else:
            attributes.append(
                ItemAttributeRow(item_id=item_id, attribute_id=entity.id, **provenance)
            )
    return brands, attributes


def review_rows(
    review_id: str, mentions: Iterable[Mention], resolution: Resolution
) -> list[ReviewMentionRow]:
    """One row per attribute a review mentions; sentiment by vote of its mentions."""
    return [
        ReviewMentionRow(review_id=review_id, attribute_id=entity.id, sentiment=_vote(group),
                         **_provenance(group))
        for entity, group in _grouped(mentions, resolution).items()
        if entity.kind != BRAND
    ]  # fmt: skip


def _grouped(mentions: Iterable[Mention], resolution: Resolution) -> dict[Canonical, list[Mention]]:
    groups: dict[Canonical, list[Mention]] = defaultdict(list)
    for mention in mentions:
        entity = resolution.of(mention)
        if entity is not None:
            groups[entity].append(mention)
    return dict(sorted(groups.items(), key=lambda pair: pair[0].id))


def _provenance(group: list[Mention]) -> dict[str, Any]:
    """All the fields and extractors that found an entity, the best mention's confidence,
    field and extractor, and the number of mentions."""
    best = min(group, key=lambda m: (-m.confidence, m.start or 0, m.extractor, m.text))
    return {
        "source": best.source, "sources": sorted({m.source for m in group}),
        "extractor": best.extractor, "extractors": sorted({m.extractor for m in group}),
        "confidence": best.confidence, "mentions": len(group),
    }  # fmt: skip


def _vote(group: list[Mention]) -> Sentiment:
    votes = Counter(m.sentiment for m in group if m.sentiment in ("positive", "negative"))
    balance = votes["positive"] - votes["negative"]
    return "positive" if balance > 0 else "negative" if balance < 0 else "neutral"
