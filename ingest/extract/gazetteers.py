"""Term lists (package data under `gazetteers/`) and the spaCy PhraseMatcher built from them.

Each file holds one term a line; a line may add aliases after "|" ("anti-aging | antiaging"),
the first form being the canonical one that `ingest.resolve` folds the others to. "#" starts a
comment. Files named after an attribute kind (`colour.txt` ...) are matched in item text and
reviews; `units.txt`, `free_from.txt`, `review_aspects.txt` and `generic_nouns.txt` feed the
pattern rules, review aspects and noun-chunk filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from spacy.language import Language
from spacy.matcher import PhraseMatcher

from ingest.extract.base import ATTRIBUTE_KINDS

PACKAGE = "ingest.extract"
FOLDER = "gazetteers"


@dataclass(frozen=True)
class Entry:
    """One line: the canonical term first, then its aliases (all lower case)."""

    forms: tuple[str, ...]

    @property
    def canonical(self) -> str:
        return self.forms[0]


@dataclass(frozen=True)
class Gazetteers:
    kinds: Mapping[str, tuple[Entry, ...]]  # attribute kind -> its terms
    review_aspects: tuple[Entry, ...]  # emitted as kind "feature", reviews only
    units: tuple[Entry, ...]
    free_from: frozenset[str]
    generic_nouns: frozenset[str]

    def aliases(self) -> Iterator[tuple[str, str, str]]:
        """(kind, alias, canonical) for every alias of every kind term."""
        for kind, entries in (*self.kinds.items(), ("feature", self.review_aspects)):
            for entry in entries:
                for alias in entry.forms[1:]:
                    yield kind, alias, entry.canonical


def parse_entries(lines: Iterable[str]) -> tuple[Entry, ...]:
    entries = []
    for line in lines:
        text = line.split("#", 1)[0]
        forms = tuple(form.strip().lower() for form in text.split("|") if form.strip())
        if forms:
            entries.append(Entry(forms))
    return tuple(entries)


def read_entries(name: str) -> tuple[Entry, ...]:
    text = files(PACKAGE).joinpath(FOLDER, f"{name}.txt").read_text(encoding="utf-8")
    return parse_entries(text.splitlines())


def _words(name: str) -> frozenset[str]:
    return frozenset(form for entry in read_entries(name) for form in entry.forms)


@lru_cache(maxsize=1)
def load_gazetteers() -> Gazetteers:
    """The packaged term lists; a term listed under two kinds is a data error."""
    kinds = {kind: read_entries(kind) for kind in ATTRIBUTE_KINDS}
    owner: dict[str, str] = {}
    for kind, entries in kinds.items():
        for form in (form for entry in entries for form in entry.forms):
            if owner.setdefault(form, kind) != kind:
                raise ValueError(f"gazetteer term {form!r} is listed as {owner[form]} and {kind}")
    return Gazetteers(
        kinds=kinds,
        review_aspects=read_entries("review_aspects"),
        units=read_entries("units"),
        free_from=_words("free_from"),
        generic_nouns=_words("generic_nouns"),
    )


def phrase_matcher(
    nlp: Language, terms: Mapping[str, Iterable[Entry]], *, attr: str = "LOWER"
) -> PhraseMatcher:
    """A case-insensitive matcher whose match labels are the mapping's keys (the kinds).

    Patterns are tokenised by `nlp.make_doc`, so they split exactly like the text does and the
    matcher works on a blank pipeline too.
    """
    matcher = PhraseMatcher(nlp.vocab, attr=attr)
    for kind, entries in terms.items():
        forms = [form for entry in entries for form in entry.forms]
        matcher.add(kind, [nlp.make_doc(form) for form in forms])
    return matcher
