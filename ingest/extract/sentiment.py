"""Aspect sentiment: the VADER polarity lexicon (it ships inside the `vaderSentiment` wheel)
applied to the words near an aspect, with the review's star rating as a weak prior.

Only the clause around the aspect counts: "great recipes but too many ads" gives "recipes" the
praise and not "ads". A negator up to three words before a polar word flips and damps it, as in
VADER ("not great" is mildly negative).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache

from spacy.tokens import Doc, Token
from vaderSentiment.vaderSentiment import (
    N_SCALAR,
    NEGATE,
    SentimentIntensityAnalyzer,
)

from kg.records import Sentiment

WINDOW = 6  # words on each side of the aspect
NEGATION_REACH = 3
BOUNDARIES = frozenset(
    {".", "!", "?", ";", "but", "however", "although", "though", "except", "yet", "\n"}
)
# 5 stars adds this much to the score, 1 star takes it away; one mildly polar word (|v| >= 1)
# outweighs it, so the text decides whenever it says something.
RATING_PRIOR = 0.5
THRESHOLD = 0.5


class Polarity:
    def __init__(self, valence: Mapping[str, float], negators: frozenset[str]) -> None:
        self.valence = valence
        self.negators = negators

    def score(self, doc: Doc, start: int, end: int) -> float:
        """Summed valence of the words in the clause window around doc[start:end]."""
        total = 0.0
        for token in _window(doc, start, end):
            if token.lower_ in self.negators:  # "no" is polar in VADER, but here it negates
                continue
            value = self.valence.get(token.lower_, 0.0)
            if value and self._negated(doc, token.i):
                value *= N_SCALAR
            total += value
        return total

    def sentiment(self, doc: Doc, start: int, end: int, rating: float | None) -> Sentiment:
        prior = 0.0 if rating is None else RATING_PRIOR * (rating - 3) / 2
        score = self.score(doc, start, end) + prior
        if score >= THRESHOLD:
            return "positive"
        if score <= -THRESHOLD:
            return "negative"
        return "neutral"

    def _negated(self, doc: Doc, index: int) -> bool:
        for token in reversed(doc[max(0, index - NEGATION_REACH) : index]):
            if token.lower_ in BOUNDARIES:
                return False
            if token.lower_ in self.negators:
                return True
        return False


def _window(doc: Doc, start: int, end: int) -> Iterator[Token]:
    for index in range(start - 1, max(-1, start - 1 - WINDOW), -1):
        if doc[index].lower_ in BOUNDARIES:
            break
        yield doc[index]
    for index in range(end, min(len(doc), end + WINDOW)):
        if doc[index].lower_ in BOUNDARIES:
            break
        yield doc[index]


@lru_cache(maxsize=1)
def vader_polarity() -> Polarity:
    lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon
    # spaCy splits "isn't" into "is" + "n't"; VADER lists only whole words.
    negators = frozenset(NEGATE) | {"n't", "nt", "no"}
    return Polarity(lexicon, negators)
