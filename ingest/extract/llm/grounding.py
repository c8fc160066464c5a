"""Grounding: an LLM value is kept only where the source text holds it.

Small models copy the prompt's example, paraphrase, or invent; a value survives only if it is
found in one of the input's fields, and the mention then carries the field's own text at the
found offsets, never the model's wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz

from kg.records import SourceField

# Fuzzy matches below this score (0-100) are treated as not found.
FUZZY_THRESHOLD = 90.0
# partial_ratio compares windows as long as the value, so a letter missing from the value
# ("acne wsh") scores below the threshold against the true words; it only proposes candidates.
_CANDIDATE_CUTOFF = 75.0


@dataclass(frozen=True)
class Span:
    source: SourceField
    start: int
    end: int
    score: float  # 1.0 for an exact match, else the fuzzy similarity in [0.9, 1)


def _fold(text: str) -> str:
    """Lower case, every non-alphanumeric character a space, and exactly as long as `text`
    (so "Oil-Free" reads "oil free" and offsets in the folded text are offsets in `text`;
    "İ" lowers to two characters, of which the first, "i", is kept)."""
    return "".join(char.lower()[0] if char.isalnum() else " " for char in text)


def _whole_words(folded: str, start: int, end: int) -> tuple[int, int]:
    """Trim the spaces at either end of [start, end), then widen it to whole words."""
    while start < end and folded[start] == " ":
        start += 1
    while end > start and folded[end - 1] == " ":
        end -= 1
    while start > 0 and folded[start - 1].isalnum():
        start -= 1
    while end < len(folded) and folded[end].isalnum():
        end += 1
    return start, end


def locate(value: str, fields: Mapping[SourceField, str]) -> Span | None:
    """Where `value` occurs in `fields`: the first whole-word match ignoring case and
    punctuation; else the best fuzzy match, widened to whole words, scoring at least
    FUZZY_THRESHOLD against the value; else None."""
    words = _fold(value).split()
    if not words:
        return None
    needle = " ".join(words)
    folded = {source: _fold(text) for source, text in fields.items()}
    # Folding turns ", " into two spaces: any run of spaces separates two words.
    exact = re.compile(rf"(?<!\w){' +'.join(map(re.escape, words))}(?!\w)")
    for source, text in folded.items():
        if match := exact.search(text):
            return Span(source, match.start(), match.end(), 1.0)
    best: Span | None = None
    for source, text in folded.items():
        hit = fuzz.partial_ratio_alignment(needle, text, score_cutoff=_CANDIDATE_CUTOFF)
        if hit is None:
            continue
        # partial_ratio scores a value found inside a longer word ("wash" in "washable") as
        # 100: score the whole words the match touches instead.
        start, end = _whole_words(text, hit.dest_start, hit.dest_end)
        score = fuzz.ratio(needle, " ".join(text[start:end].split()))
        if score >= FUZZY_THRESHOLD and (best is None or score / 100 > best.score):
            best = Span(source, start, end, score / 100)
    return best
