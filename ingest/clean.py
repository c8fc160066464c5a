"""Clean scraped values (HTML, entities, page residue, prices) and drop duplicate records.

Markup is removed with linear-time regular expressions, not `html.parser`: on unclosed
constructs ("<a <a <a ...") the stdlib parser of CPython 3.11.7 is quadratic (100 KB took
5 minutes), and one hostile line must not stall an ingest.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

from ingest.records import AmazonProduct, AmazonReview, Rejected
from ingest.summary import SourceTally

T = TypeVar("T")

# Script and style bodies, and comments, are not text; unclosed ones run to the end.
_HIDDEN = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)", re.I | re.S)
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)[^<>]*>|<[!?][^<>]*>")
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "ul", "ol", "td", "tr", "table", "h1", "h2",
                         "h3", "h4", "h5", "h6"})  # fmt: skip
# Scraped values were cut at arbitrary points: a tag opened but never closed at the end
# ('<span class="a-size-medium a-color-secondary"'), or the tail of a tag at the start
# (' Magazines" />').
_OPEN_TAG_AT_END = re.compile(r"<[A-Za-z!?/][^<>]*\Z")
_TAG_TAIL_AT_START = re.compile(r"\A[^<>]*[\"']\s*/?>")
# A stylesheet scraped into a title: "selector{property:value}".
_CSS_RULE = re.compile(r"\{[^{}:]*:[^{}]*\}")
_PRICE = re.compile(r"\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_UNESCAPE_ROUNDS = 3  # scraped text is often escaped twice ("&amp;quot;"); never loop forever


def _tag_gap(match: re.Match[str]) -> str:
    # "a<br>b" is two words, "<i>Maxim</i>'s" is one.
    return " " if (match.group(1) or "").lower() in _BLOCK_TAGS else ""


def clean_text(value: str | None) -> str | None:
    """Plain text: HTML tags and entities removed, whitespace collapsed; None if nothing is left.
    Text that merely looks like code (Cypher, SQL) is kept as it is: it is only ever stored."""
    if not value:
        return None
    # Cut-off residue is judged on the value as scraped; decoded "&lt;" must stay text.
    text = _TAG_TAIL_AT_START.sub("", _OPEN_TAG_AT_END.sub("", value))
    for _ in range(_UNESCAPE_ROUNDS):
        if "<" not in text and "&" not in text:
            break
        stripped = html.unescape(_TAG.sub(_tag_gap, _HIDDEN.sub(" ", text)))
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()) or None


def clean_title(value: str | None) -> str | None:
    """`clean_text`, and None for a title that is page residue (a scraped stylesheet)."""
    text = clean_text(value)
    return None if text is None or _CSS_RULE.search(text) else text


def normalise_name(value: str | None) -> str | None:
    """The id form of a name: cleaned, then case-folded ("F&amp;W  Media" -> "f&w media")."""
    text = clean_text(value)
    return text.casefold() if text else None


def parse_price(value: str | None) -> float | None:
    """ "$1,299.00" -> 1299.0. A range ("$10.00 - $20.00") or anything else is not one price."""
    match = _PRICE.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    price = float(match.group(1).replace(",", "") + (match.group(2) or ""))
    return price if math.isfinite(price) else None


def unique(
    records: Iterable[T | Rejected],
    key: Callable[[T], Hashable],
    duplicate: str,
    tally: SourceTally,
) -> Iterator[T]:
    """The records whose key is seen for the first time, in order. Rejected lines and later
    duplicates are counted in `tally` and not passed on. Keeps the keys in memory."""
    seen: set[Hashable] = set()
    for record in records:
        if isinstance(record, Rejected):
            tally.reject(record)
            continue
        record_key = key(record)
        if record_key in seen:
            tally.drop(duplicate)
            continue
        seen.add(record_key)
        yield record


def unique_products(
    records: Iterable[AmazonProduct | Rejected], tally: SourceTally
) -> Iterator[AmazonProduct]:
    """One product per asin: the first line wins. In the Amazon 2018 metadata the repeated lines
    are identical copies, so which one is kept does not matter there."""
    return unique(records, lambda p: p.asin, "duplicate asin (first line kept)", tally)


def unique_reviews(
    records: Iterable[AmazonReview | Rejected], tally: SourceTally
) -> Iterator[AmazonReview]:
    """One review per (reviewerID, asin, unixReviewTime), the key of its graph id; first wins."""
    return unique(
        records,
        lambda r: (r.reviewer_id, r.asin, r.unix_review_time),
        "duplicate review (same reviewerID, asin and unixReviewTime; first line kept)",
        tally,
    )
