"""Noun chunks as "feature" candidates (trained pipelines only: chunks need the parse).

Two uses. A feature-gazetteer hit that heads a noun chunk grows to the descriptive part of the
chunk ("tips" -> "riding tips", "advice" -> "expert advice"). Any other noun chunk becomes a
low-confidence feature candidate, reduced to the same descriptive part ("the best new recipes"
-> "recipes"); chunks headed by a generic noun ("issue", "way") or overlapping a name are
dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

from spacy.tokens import Doc, Span, Token

from ingest.extract.candidates import Candidate

EXPANDED_CONFIDENCE = 0.6
CHUNK_CONFIDENCE = 0.3  # below the benchmark's threshold: most chunks are not features
MAX_WORDS = 4
# Kinds whose hit grows to its chunk's descriptive part: "tips" -> "riding tips", "health" ->
# "horse health".
GROWN_KINDS = frozenset({"feature", "topic"})
MAX_CHARS = 40
TRIMMED_POS = frozenset({"DET", "PRON", "NUM", "PUNCT", "CCONJ", "ADP", "PART", "SYM", "SPACE"})
# Adjectives that rank or date a thing rather than describe it (no polarity, so VADER misses them).
NON_DESCRIPTIVE = frozenset(
    {
        "latest", "new", "newest", "more", "most", "many", "much", "other", "various", "own",
        "first", "last", "next", "same", "such", "several", "few", "recent", "current", "top",
        "only", "certain", "whole", "entire", "full", "real", "true", "big", "small", "little",
        "great", "good", "different", "every", "each", "all", "any", "some", "extra", "total",
    }
)  # fmt: skip
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "WORK_OF_ART", "EVENT"})
TITLE_CASE_SHARE = 0.6


class ChunkFeatures:
    def __init__(self, valence: Mapping[str, float], generic_nouns: frozenset[str]) -> None:
        self.valence = valence
        self.generic_nouns = generic_nouns

    def expand(self, doc: Doc, chosen: list[Candidate]) -> list[Candidate]:
        """`chosen` with each feature hit that heads a chunk grown to the chunk's descriptive
        part; candidates that end up inside a grown one are dropped."""
        roots = {chunk.root.i: chunk for chunk in doc.noun_chunks}
        prose = not _title_case(doc)
        grown: list[Candidate] = []
        for candidate in chosen:
            chunk = roots.get(candidate.end - 1)
            start = self._descriptive_start(chunk, prose) if chunk is not None else None
            kind = candidate.kind if candidate.kind in GROWN_KINDS else "feature"
            bigger = Candidate(kind, start or 0, candidate.end, EXPANDED_CONFIDENCE, "spacy")
            clean = not any(o.overlaps(bigger) and not _inside(o, bigger) for o in chosen)
            if (
                candidate.kind in GROWN_KINDS
                and start is not None
                and start < candidate.start
                and clean
            ):
                grown.append(bigger)
            else:
                grown.append(candidate)
        return [c for c in grown if not any(c is not g and _inside(c, g) for g in grown)]

    def candidates(self, doc: Doc, taken: list[Candidate]) -> list[Candidate]:
        """Low-confidence features from the noun chunks that no rule candidate touches."""
        names = [ent for ent in doc.ents if ent.label_ in NAME_LABELS]
        prose = not _title_case(doc)
        found = []
        for chunk in doc.noun_chunks:
            start = self._descriptive_start(chunk, prose)
            if start is None or not self._plausible(doc[start : chunk.end]):
                continue
            candidate = Candidate("feature", start, chunk.end, CHUNK_CONFIDENCE, "spacy")
            if any(candidate.overlaps(other) for other in taken) or any(
                start < ent.end and ent.start < chunk.end for ent in names
            ):
                continue
            found.append(candidate)
        return found

    def _descriptive_start(self, chunk: Span, prose: bool) -> int | None:
        """Where the descriptive part before the head starts (the head itself when nothing
        before it describes), or None for a chunk whose head is a stop word or opinion."""
        root = chunk.root
        if self._opinion(root):
            return None
        start = root.i
        for token in reversed(chunk.doc[chunk.start : root.i]):
            if not self._modifier(token) or (prose and _named(token)):
                break  # a name's words are not a description: "the Daily IQ newsletter"
            start = token.i
        while chunk.doc[start].text == "-":
            start += 1
        return start

    def _modifier(self, token: Token) -> bool:
        """Noun modifiers ("riding tips", "product reviews") and hyphenated compounds
        ("full-color photos", "how-to tips") describe a thing; bare adjectives in product and
        magazine copy mostly praise it ("resonant stories"), so they are left out."""
        doc = token.doc
        hyphenated = token.text == "-" or any(
            0 <= i < len(doc) and doc[i].text == "-" and doc[i].whitespace_ == ""
            for i in (token.i - 1, token.i + 1)
        )
        if hyphenated:
            return token.text == "-" or token.is_alpha
        return (token.pos_ == "NOUN" or token.tag_ == "VBG") and not self._opinion(token)

    def _opinion(self, token: Token) -> bool:
        word = token.lower_
        return (
            token.pos_ in TRIMMED_POS
            or token.is_stop
            or word in NON_DESCRIPTIVE
            or self.valence.get(word, 0.0) != 0.0
        )

    def _plausible(self, span: Span) -> bool:
        root = span.root
        return (
            root.pos_ == "NOUN"
            and root.lower_ not in self.generic_nouns
            and 1 <= len(span) <= MAX_WORDS
            and len(span.text) <= MAX_CHARS
            and all(token.is_alpha or token.text == "-" for token in span)
            and not all(token.is_stop for token in span)
        )


def _named(token: Token) -> bool:
    """A word of a name, in prose: inside a named entity, or capitalised mid-sentence. (In a
    title-case product title, case and the small model's entities say little.)"""
    capitalised = token.is_title or token.is_upper
    return token.ent_type_ in NAME_LABELS or (
        capitalised and len(token) > 1 and not token.is_sent_start
    )


def _title_case(doc: Doc) -> bool:
    """Whether most words are capitalised (a product title), so that case and the named
    entities the small model finds there say little about names."""
    words = [token for token in doc if token.is_alpha and not token.is_stop]
    capitalised = sum(token.is_title or token.is_upper for token in words)
    return capitalised > TITLE_CASE_SHARE * len(words)


def _inside(inner: Candidate, outer: Candidate) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end
