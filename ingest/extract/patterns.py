"""Token-pattern rules (spaCy Matcher, tokenizer attributes only, so they run on the blank
pipeline too): numeric sizes ("6 Ounce", "8.5 oz", "100 ml"), "X-free", "SPF 30",
"made of/from X" (material), "made with X" (ingredient) and "for dry or sensitive skin"
(skin_type / hair_type, one candidate per qualifier)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc

from ingest.extract.candidates import Candidate
from ingest.extract.gazetteers import Gazetteers

# Confidence of each rule: how often it names a real attribute, by construction of the rule.
SIZE_CONFIDENCE = 0.95
FREE_CONFIDENCE = 0.9
TYPE_CONFIDENCE = 0.9
MADE_CONFIDENCE = 0.75

TYPE_HEADS = {"skin": "skin_type", "hair": "hair_type"}
HEAD_WORDS = frozenset({"skin", "hair", "type", "types"})
CONNECTORS = frozenset({",", "/", "or", "and", "&", "+", "to"})
DASHES = ["-", "\u2013"]  # hyphen, en dash
COUNT_UNITS = frozenset({"count", "pack"})  # "1 count" says nothing about the product
ONE = frozenset({"1", "one", "a", "single"})
# "toll-free" and "hassle-free" are promises, not properties of the product.
NOT_FREE_FROM = frozenset({"toll", "tax", "duty", "hassle", "worry", "risk", "stress", "trouble"})
# "made from scratch", "made with love": idioms, not materials or ingredients.
MADE_IDIOMS = frozenset({"scratch", "love", "care", "pride"})
Pattern = list[dict[str, Any]]
NUMBER = r"(?:\d+(?:[.,]\d+)?|\.\d+)"
TOLERANCE = ("\u00b1", "+/-", "/-", "+-")  # "+/- 0.05mm" is an accuracy, not a size
EXTRAS = frozenset({"free", "bonus", "plus"})  # what comes with the product has its own size
EXTRA_WINDOW = 3


class PatternRules:
    def __init__(self, nlp: Language, gazetteers: Gazetteers) -> None:
        self.matcher = Matcher(nlp.vocab)
        self.unit_of: dict[tuple[str, ...], str] = {}
        for entry in gazetteers.units:
            for form in entry.forms:
                self.unit_of[tuple(t.lower_ for t in nlp.make_doc(form))] = entry.canonical
        self._add_sizes(gazetteers)
        free_from = sorted(gazetteers.free_from)
        self.matcher.add(
            "free",
            [
                [{"IS_ALPHA": True, "IS_STOP": False}, {"ORTH": {"IN": DASHES}}, {"LOWER": "free"}],
                [{"LOWER": {"IN": free_from}}, {"LOWER": "free"}],
            ],
            greedy="LONGEST",
        )
        self.matcher.add(
            "spf", [[{"LOWER": "spf"}, {"LIKE_NUM": True, "OP": "?"}]], greedy="LONGEST"
        )
        # "made of 100% cotton": the share is skipped, the material is the alphabetic words.
        share: Pattern = [{"LIKE_NUM": True, "OP": "?"}, {"ORTH": "%", "OP": "?"}]
        thing: Pattern = [{"IS_ALPHA": True, "IS_STOP": False, "OP": "{1,3}"}]
        for label, linkers in (("material", ["of", "from"]), ("ingredient", ["with"])):
            made: Pattern = [{"LOWER": "made"}, {"LOWER": {"IN": linkers}}]
            self.matcher.add(label, [made + share + thing], greedy="LONGEST")
        self.qualifiers = self._qualifier_phrases(nlp, gazetteers)
        words = sorted({word for phrase in self.qualifiers for word in phrase} | CONNECTORS)
        for head, kind in TYPE_HEADS.items():
            pattern: Pattern = [
                {"LOWER": "for"},
                {"LOWER": {"IN": words}, "OP": "{1,8}"},
                {"LOWER": head},
            ]
            self.matcher.add(kind, [pattern], greedy="LONGEST")

    def _add_sizes(self, gazetteers: Gazetteers) -> None:
        number: Pattern = [{"LIKE_NUM": True}, {"ORTH": {"IN": DASHES}, "OP": "?"}]
        patterns = [number + [{"LOWER": token} for token in unit] for unit in self.unit_of]
        patterns.append([{"LOWER": "pack"}, {"LOWER": "of"}, {"LIKE_NUM": True}])
        # Number and unit in one token where the tokenizer could not split them ("28.4g/1oz").
        units = sorted(
            (form for entry in gazetteers.units for form in entry.forms if form.isalpha()),
            key=len,
            reverse=True,
        )
        glued = rf"^{NUMBER}(?:{'|'.join(map(re.escape, units))})$"
        self.glued = re.compile(glued)
        patterns.append([{"LOWER": {"REGEX": glued}}])
        self.matcher.add("size", patterns, greedy="LONGEST")

    @staticmethod
    def _qualifier_phrases(nlp: Language, gazetteers: Gazetteers) -> frozenset[tuple[str, ...]]:
        """ "dry", "color - treated", "acne - prone" ...: the type terms less their head words."""
        phrases = set()
        for kind in TYPE_HEADS.values():
            for form in (form for entry in gazetteers.kinds[kind] for form in entry.forms):
                words = [t.lower_ for t in nlp.make_doc(form)]
                while words and words[-1] in HEAD_WORDS:
                    words.pop()
                if words:
                    phrases.add(tuple(words))
        return frozenset(phrases)

    def __call__(self, doc: Doc) -> list[Candidate]:
        found: list[Candidate] = []
        for match_id, start, end in self.matcher(doc):
            label = doc.vocab.strings[match_id]
            if label == "size":
                start = fraction_start(doc, start)
                if self._is_size(doc, start, end) and not self._in_code(doc, start):
                    found.append(Candidate("size", start, end, SIZE_CONFIDENCE, "rule"))
            elif label in ("free", "spf"):
                if doc[start].lower_ not in NOT_FREE_FROM and _glued(doc, start, end):
                    found.append(Candidate("feature", start, end, FREE_CONFIDENCE, "rule"))
            elif label in ("material", "ingredient"):
                first = next(i for i in range(start + 2, end) if doc[i].is_alpha)
                if doc[first].lower_ not in MADE_IDIOMS:
                    found.append(Candidate(label, first, end, MADE_CONFIDENCE, "rule"))
            else:
                found.extend(self._type_qualifiers(doc, label, start, end))
        return found

    def _is_size(self, doc: Doc, start: int, end: int) -> bool:
        """A number with a unit that measures this product: not "1 count", not a tolerance
        ("+/- 0.05mm"), not the size of something that comes free with it ("with a bonus 25 pc
        pipette set")."""
        words = [token.lower_ for token in doc[start:end] if token.text not in DASHES]
        unit = self.unit_of.get(tuple(words[1:]))
        if unit in COUNT_UNITS and words[0] in ONE:
            return False
        before = doc[max(0, start - EXTRA_WINDOW) : start]
        if any(token.lower_ in EXTRAS for token in before):
            return False
        return not (
            doc[start].text.startswith(TOLERANCE)
            or any(token.text.endswith(TOLERANCE) for token in doc[max(0, start - 1) : start])
        )

    def _in_code(self, doc: Doc, start: int) -> bool:
        """Whether the number is the tail of a part or model code written as one word with it
        ("P6/20L" is no 20 litres): a part before it, with no space between, mixes letters
        and digits and is no size itself ("28.4g/1oz" is two sizes)."""
        index = start
        while index > 0 and not doc[index - 1].whitespace_:
            index -= 1
            word = doc[index].lower_
            mixed = any(c.isalpha() for c in word) and any(c.isdigit() for c in word)
            if mixed and not self.glued.match(word):
                return True
        return False

    def _type_qualifiers(self, doc: Doc, kind: str, start: int, end: int) -> Iterator[Candidate]:
        """One candidate per qualifier between "for" and the head word; the one right before
        the head takes it along ("Dry Hair"), the others stand alone ("Wet")."""
        head = end - 1
        spans: list[tuple[int, int]] = []
        position = start + 1
        while position < head:
            if doc[position].lower_ in CONNECTORS:
                position += 1
                continue
            length = self._longest_qualifier(doc, position, head)
            if length:
                spans.append((position, position + length))
            position += max(length, 1)
        for index, (first, last) in enumerate(spans):
            final = index == len(spans) - 1 and last == head
            yield Candidate(kind, first, end if final else last, TYPE_CONFIDENCE, "rule")

    def _longest_qualifier(self, doc: Doc, position: int, limit: int) -> int:
        for length in range(limit - position, 0, -1):
            words = tuple(token.lower_ for token in doc[position : position + length])
            if words in self.qualifiers:
                return length
        return 0


def fraction_start(doc: Doc, start: int) -> int:
    """Where a size that starts at `start` really starts, when its number is the denominator of
    a fraction the tokenizer split ("5/8-Inch" is 5/8 inch, not 8; "1-1/2 Inch" and
    "2 1/2 inch" are one and a half and two and a half)."""

    def glued(index: int) -> bool:
        return not doc[index].whitespace_

    if not (
        start >= 2
        and doc[start - 1].text == "/"
        and doc[start - 2].like_num
        and glued(start - 2)
        and glued(start - 1)
    ):
        return start
    start -= 2
    if start >= 2 and doc[start - 1].text in DASHES and glued(start - 2) and glued(start - 1):
        return start - 2 if doc[start - 2].is_digit else start
    if start >= 1 and doc[start - 1].is_digit and doc[start - 1].whitespace_:
        return start - 1
    return start


def joining_dash(doc: Doc, index: int, dashes: Collection[str] = ("-",)) -> bool:
    """Whether the token at `index` (> 0) is a dash written without spaces, so that it joins
    the words on either side into one ("paraben-free", "sister-in-law") rather than separating
    two phrases ("Teddy Bear - Free Shipping")."""
    return (
        doc[index].text in dashes and not doc[index - 1].whitespace_ and not doc[index].whitespace_
    )


def _glued(doc: Doc, start: int, end: int) -> bool:
    """Whether every dash inside the match joins its words."""
    return all(
        doc[i].text not in DASHES or joining_dash(doc, i, DASHES) for i in range(start + 1, end)
    )
