"""Attributes a shop's own text brings, beyond the shipped gazetteers (which stay as priors).

Two steps. Per item, `candidates` proposes the words of a title or feature bullet that are
shaped like product properties whatever the domain: hyphenated compounds ("Adhesive-Backed",
"High-Precision", "Non-Slip") and words formed to describe ("refillable", "waterproof",
"cordless", "galvanized"). They are emitted below the confidence floor, as candidates. Then,
over the whole shop, `promote` keeps the candidates that mark out a subset of its items: found on
at least `MIN_ITEMS` items (so a one-off word is not an attribute), on at most `MAX_SHARE` of
them (a word on every item marks out nothing) and, where the items have categories, at least
`MIN_LIFT` times as common within one category as in the shop ("graduated" in lab glassware,
not "compatible" everywhere); those become `feature` attributes with extractor
"discovered". Near-duplicate spellings merge later in `ingest.resolve` (RapidFuzz), like every
other attribute.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from typing import Final

from spacy.tokens import Doc

from ingest.extract.base import BRAND, Mention
from ingest.extract.candidates import Candidate
from ingest.extract.patterns import joining_dash
from ingest.resolve import normal_form

DISCOVERED: Final = "discovered"  # the extractor of candidates and of what they become
CANDIDATE_CONFIDENCE = 0.35  # below the floor: only the shop-wide count makes it an attribute
DISCOVERED_CONFIDENCE = 0.6
MIN_ITEMS = 3
MAX_SHARE = 0.1
# Where titles open with the maker's or the line's name, a compound that opens most titles it is
# in ("Bel-Art", "Shop-Vac", "Q-Tip") is a name, where a property ("Adhesive-Backed") seldom is.
NAME_OPENINGS = 0.8
BRAND_LED_SHARE = 0.5
# A candidate followed by the same word in this share of the titles it is in, on this many
# titles at least, is part of a product type's name ("Hook-Up Wire"): a lexicalised compound,
# where a few titles of one product line ("Adhesive-Backed Sanding Roll") repeat a property.
FIXED_COMPOUND_SHARE = 0.9
FIXED_COMPOUND_ITEMS = 10
FOLLOWING = re.compile(r"(?:\s+|\s*-\s*)([A-Za-z]+)\b")
_WORDS = re.compile(r"[a-z0-9]+")
MIN_LIFT = 2.0  # within some category, at least twice as common as in the whole shop
DESCRIPTIVE = re.compile(r"(?:able|ible|proof|less|ized|ised|ated|tight)$")
MIN_WORD_CHARS = 6
MAX_PARTS = 3
OPINION_VALENCE = 1.0  # VADER scores from -4 to 4; "backed" (0.1) describes, "stunning" praises
# Praise, or words about the offer rather than the product, shaped like a property, which the
# sentiment lexicon does not score.
PRAISE = frozenset(
    {
        "effortless", "flawless", "timeless", "endless", "priceless", "unbeatable", "available",
        "suitable", "applicable", "affordable",
        # what the product fits, not what it is ("Compatible with X", "Arduino compatible")
        "compatible", "interchangeable",
    }
)  # fmt: skip


def candidates(
    doc: Doc, taken: Sequence[Candidate], valence: Mapping[str, float]
) -> list[Candidate]:
    """Property-shaped words of one title or bullet that no other candidate covers."""
    found = []
    index = 0
    while index < len(doc):
        end = _compound_end(doc, index)
        span = doc[index:end]
        words = [token.lower_ for token in span if token.text != "-"]
        shaped = len(words) > 1 or (
            len(words) == 1
            and len(words[0]) >= MIN_WORD_CHARS
            and DESCRIPTIVE.search(words[0]) is not None
        )
        candidate = Candidate("feature", index, end, CANDIDATE_CONFIDENCE, DISCOVERED)
        if (
            shaped
            and all(_descriptive(word, valence) for word in words)
            and not any(candidate.overlaps(other) for other in taken)
        ):
            found.append(candidate)
        index = end
    return found


def _descriptive(word: str, valence: Mapping[str, float]) -> bool:
    """A word that can describe: letters only, more than one ("Shimmer-I" is a name), no
    praise."""
    return (
        word.isalpha()
        and len(word) > 1
        and abs(valence.get(word, 0.0)) < OPINION_VALENCE
        and word not in PRAISE
    )


def _compound_end(doc: Doc, start: int) -> int:
    """The end of the hyphenated compound that starts at `start` ("Adhesive-Backed"), or the
    next token when there is none."""
    end = start + 1
    parts = 1
    while (
        parts < MAX_PARTS
        and end + 1 < len(doc)
        and joining_dash(doc, end)
        and doc[end + 1].is_alpha
    ):
        end += 2
        parts += 1
    return end


def promote(
    found: Mapping[str, Sequence[Mention]],
    forms: Mapping[str, str],
    categories: Mapping[str, str | None],
    names: Set[str] = frozenset(),
    brand_led: bool = False,
) -> dict[str, list[Mention]]:
    """item id -> its candidates that the shop's counts make attributes. `forms` maps a
    candidate's text to its normal form (what counts as one word), `categories` every item of
    the shop to its category; a form that is one of `names` (the shop's brands) is a name, and
    so is one that opens most of the titles it is in, in a shop whose titles open with the
    brand (`brand_led`)."""
    items_with: Counter[str] = Counter()
    in_category: Counter[tuple[str, str | None]] = Counter()
    opening: Counter[str] = Counter()  # items whose title the form opens
    for item_id, mentions in found.items():
        for form in {forms[m.text] for m in mentions}:
            items_with[form] += 1
            in_category[form, categories.get(item_id)] += 1
        opening.update({forms[m.text] for m in mentions if m.source == "title" and m.start == 0})
    shop = max(len(categories), 1)
    sizes = Counter(categories.values())
    known = len(sizes) > 1  # categories to compare against
    kept = {
        form
        for form, count in items_with.items()
        if MIN_ITEMS <= count <= MAX_SHARE * shop
        and form not in names
        and not (brand_led and opening[form] >= NAME_OPENINGS * count)
        and (not known or _lift(form, count, in_category, sizes, shop) >= MIN_LIFT)
    }
    return {
        item_id: [
            m.model_copy(update={"confidence": DISCOVERED_CONFIDENCE})
            for m in mentions
            if forms[m.text] in kept
        ]
        for item_id, mentions in found.items()
    }


def _lift(
    form: str,
    count: int,
    in_category: Mapping[tuple[str, str | None], int],
    sizes: Mapping[str | None, int],
    shop: int,
) -> float:
    """How much more often the form is found within its strongest category than in the shop
    as a whole."""
    return max(
        (
            (in_category[form, category] / size) / (count / shop)
            for category, size in sizes.items()
            if in_category.get((form, category), 0)
        ),
        default=0.0,
    )


def following_word(text: str, end: int) -> str | None:
    """The word right after a mention that ends at `end` (spaces or a hyphen between), lower
    case; None where punctuation or the end of the text comes first."""
    match = FOLLOWING.match(text, end)
    return match.group(1).lower() if match else None


def type_words(
    found: Mapping[str, Sequence[Mention]],
    forms: Mapping[str, str],
    followers: Mapping[str, Mapping[str, str]],
    categories: Mapping[str, str | None],
) -> dict[str, set[str]]:
    """item id -> the texts of its candidates that are the first word of a product-type name
    rather than a property: the candidate and the noun after it in the title make a compound
    that the shop names as a category ("Variable | Resistors" under "... Resistors Variable
    Resistors") or that the candidate nearly always makes, on many titles ("Hook-Up | Wire" in
    every title that says "hook-up")."""
    named = " | ".join(" ".join(_WORDS.findall(c.lower())) for c in set(categories.values()) if c)
    after: dict[str, Counter[str]] = {}
    for item_id, mentions in found.items():
        for mention in mentions:
            word = followers.get(item_id, {}).get(mention.text)
            if word is not None:
                after.setdefault(forms[mention.text], Counter())[word] += 1
    fixed = {
        form: word
        for form, words in after.items()
        for word, count in words.most_common(1)
        if sum(words.values()) >= FIXED_COMPOUND_ITEMS
        and count >= FIXED_COMPOUND_SHARE * sum(words.values())
    }
    out: dict[str, set[str]] = {}
    for item_id, mentions in found.items():
        for mention in mentions:
            form = forms[mention.text]
            word = followers.get(item_id, {}).get(mention.text)
            if word is None:
                continue
            stem = word.removesuffix("es") if word.endswith("es") else word.removesuffix("s")
            in_category = re.search(rf"\b{re.escape(form)} {re.escape(stem)}(?:e?s)?\b", named)
            if fixed.get(form) == word or in_category is not None:
                out.setdefault(item_id, set()).add(mention.text)
    return out


def discover(
    items: Mapping[str, list[Mention]],
    categories: Mapping[str, str | None],
    followers: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, list[Mention]]:
    """Every item's mentions with its discovery candidates replaced by those the shop's counts
    make attributes (none of them a brand's name, nor the first word of a product type's name,
    where `followers` gives the word after each title candidate: item id -> text -> word)."""
    found = {
        item_id: [m for m in mentions if m.extractor == DISCOVERED]
        for item_id, mentions in items.items()
    }
    forms = {m.text: normal_form(m.text, m.kind) for ms in found.values() for m in ms}
    if followers:
        typed = type_words(found, forms, followers, categories)
        found = {
            item_id: [m for m in mentions if m.text not in typed.get(item_id, set())]
            for item_id, mentions in found.items()
        }
    brands = {normal_form(m.text, BRAND) for ms in items.values() for m in ms if m.kind == BRAND}
    shop = {item_id: categories.get(item_id) for item_id in items}
    promoted = promote(found, forms, shop, brands, _brand_led(items))
    return {
        item_id: [m for m in mentions if m.extractor != DISCOVERED] + promoted[item_id]
        for item_id, mentions in items.items()
    }


def _brand_led(items: Mapping[str, list[Mention]]) -> bool:
    """Whether most titles open with their item's brand (as Amazon's do)."""
    led = sum(
        any(m.kind == BRAND and m.source == "title" and m.start == 0 for m in mentions)
        for mentions in items.values()
    )
    return led >= BRAND_LED_SHARE * max(len(items), 1)
