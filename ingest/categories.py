"""The rows of an item's category path, named the same way by every source.

A source's category list is not always a category path: Amazon metadata sometimes goes on with
the product's marketing bullets ("No expiration, no fees.", whole sentences), which would become
a chain of categories holding hundreds of items. A path is kept only while its parts look like
category names and is cut at the first that does not (what follows a bullet is no category
either); the cut travels with the rows as a `CategoryPartSetAside`, for the load summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.clean import clean_text, normalise_name
from ingest.records import EXCERPT_CHARS, CategoryPartSetAside, printable
from kg.records import CategoryRow, ItemCategoryRow, Row

CATEGORY_SEPARATOR = " > "
MAX_NAME_CHARS = 60
MAX_NAME_WORDS = 8
SENTENCE = "a sentence, not a category name"

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Punctuation that ends a word: a sentence's end, unless it closes an abbreviation.
_STOP = re.compile(r"(\S*?)([.!?;:…])(?=\s|$)")
_ABBREVIATION = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]|[A-Z][a-z]{0,3}")  # "D.C.", "St.", "Vol."
_WEB_ADDRESS = re.compile(r"://|^www\.|^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/\S*)?$", re.I)
_PRICE = re.compile(r"[$£€]\s*\d[\d,]*(?:\.\d+)?(?:\s*-\s*[$£€]?\s*\d[\d,]*(?:\.\d+)?)?")
# Words that make a part a sentence addressed to someone, or a clause: category names are noun
# phrases. Verbs count in lowercase only, as sentences write them ("Can Openers", "Will & Grace"
# are names); imperatives count where they open the part ("Redeem at ...").
_PERSONAL = frozenset({"you", "your", "yours", "you're", "you'll", "you've", "we", "our", "ours",
                       "we're", "we'll", "we've", "i'm", "i've", "i'll"})  # fmt: skip
_FINITE = frozenset({"is", "are", "was", "were", "will", "can", "could", "would", "should",
                     "must", "has", "have", "had", "does"})  # fmt: skip
_IMPERATIVE = frozenset({"buy", "order", "redeem", "receive", "choose", "click", "save", "enjoy",
                         "makes", "includes", "contains"})  # fmt: skip


def not_a_category(name: str) -> str | None:
    """Why a cleaned category path part is not a category name, or None if it looks like one."""
    if _WEB_ADDRESS.search(name):
        return "a web address, not a category name"
    if _PRICE.fullmatch(name):
        return "a price, not a category name"
    words = _WORD.findall(name.replace("\u2019", "'"))
    if len(name) > MAX_NAME_CHARS or len(words) > MAX_NAME_WORDS:
        return "too long for a category name"
    for stop in _STOP.finditer(name):
        inside = stop.end() < len(name)
        if stop.group(2) == ":" and inside:
            continue  # a subtitle: "Star Wars: The Clone Wars"
        if stop.group(2) == "." and _ABBREVIATION.fullmatch(stop.group(1)):
            continue
        return SENTENCE
    folded = [word.casefold() for word in words]
    if (
        _PERSONAL.intersection(folded)
        or _FINITE.intersection(words)
        or any(word.endswith("n't") for word in folded)
        or (folded and folded[0] in _IMPERATIVE)
    ):
        return SENTENCE
    return None


def category_rows(item_id: str, path: Iterable[str]) -> list[Row]:
    """The categories of a path (root first), each under its parent, and the item's link to the
    last one. The id is the normalised path joined by " > ", so "Music" under "Arts" and under
    "Professional" are two categories. A path is cut at its first part that does not look like
    a category name; a `CategoryPartSetAside` among the rows says where and why."""
    parts = [(name, key) for raw in path
             if (name := clean_text(raw)) and (key := normalise_name(raw))]  # fmt: skip
    rows: list[Row] = []
    parent_id: str | None = None
    for position, (name, key) in enumerate(parts):
        reason = not_a_category(name)
        if reason is not None:
            rows.append(
                CategoryPartSetAside(item_id=item_id, part=printable(name)[:EXCERPT_CHARS],
                                     reason=reason, following=len(parts) - position - 1)
            )  # fmt: skip
            break
        category_id = key if parent_id is None else f"{parent_id}{CATEGORY_SEPARATOR}{key}"
        rows.append(CategoryRow(id=category_id, name=name, parent_id=parent_id))
        parent_id = category_id
    if parent_id is not None:
        rows.append(
            ItemCategoryRow(
                item_id=item_id, category_id=parent_id, source="metadata", extractor="metadata"
            )
        )
    return rows


def category_leaf(rows: Iterable[Row]) -> str | None:
    """The name of the deepest category `category_rows` kept of a path."""
    names = [row.name for row in rows if isinstance(row, CategoryRow)]
    return names[-1] if names else None
