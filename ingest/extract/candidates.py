"""A candidate entity: a token span of one doc with a kind, before it becomes a `Mention`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spacy.tokens import Doc

from ingest.extract.base import Mention
from kg.records import Extractor, Sentiment, SourceField


@dataclass(frozen=True)
class Candidate:
    kind: str
    start: int  # token indices into the doc, end exclusive
    end: int
    confidence: float
    extractor: Extractor

    def overlaps(self, other: Candidate) -> bool:
        return self.start < other.end and other.start < self.end

    def mention(self, doc: Doc, source: SourceField, sentiment: Sentiment | None = None) -> Mention:
        span = doc[self.start : self.end]
        return Mention(
            kind=self.kind,
            text=span.text,
            source=source,
            extractor=self.extractor,
            confidence=self.confidence,
            start=span.start_char,
            end=span.end_char,
            sentiment=sentiment,
        )


def select(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Non-overlapping candidates in text order: longer spans first (the most specific term:
    "tea tree oil" over "tea tree"), then higher confidence, then position and kind, so the
    choice never depends on the order the rules ran in."""
    chosen: list[Candidate] = []
    ranked = sorted(
        set(candidates), key=lambda c: (c.start - c.end, -c.confidence, c.start, c.kind)
    )
    for candidate in ranked:
        if not any(candidate.overlaps(taken) for taken in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: (c.start, c.end))
