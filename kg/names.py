"""An item's display name (the `name` property of `Item` nodes): what API answers, explanations
and Neo4j Browser captions call it.

The clean title when there is one. Many sources have none worth keeping (the Amazon magazine
sample's titles are scraped HTML fragments, which cleaning drops), so the name falls back to
what they do have: the name their description gives first ("Elle is the world's largest
fashion magazine" -> "Elle"), else the category leaf and brand ("Equestrian by EG Media").
"""

from __future__ import annotations

import re

# A description that opens with its product's name goes on with one of these, lower case
# ("Coral includes ...", "Bass Player magazine is ..."): a capitalised word next would be more
# of the name, and any other word means the opening was no name ("Covers the latest ...").
_NAME_VERBS = frozenset({
    "is", "are", "was", "has", "have", "includes", "offers", "brings", "provides", "covers",
    "focuses", "delivers", "features", "helps", "gives", "presents", "reaches", "requires",
    "celebrates", "lets", "sets", "reports", "explores", "contains", "showcases", "keeps",
    "shows", "combines", "serves", "publishes", "tells", "takes",
})  # fmt: skip
_PRODUCT_NOUNS = frozenset({"magazine", "journal", "newsletter"})  # "Discover magazine provides"
# Sentence openers that are not names, though capitalised ("This magazine is", "Each issue
# offers"); "The" may open one ("The Magazine Antiques brings").
_NOT_NAMES = frozenset({
    "a", "an", "this", "these", "that", "each", "every", "our", "your", "its", "it", "we", "you",
    "if", "in", "for", "with", "get", "discover", "now", "here", "from", "all", "more", "plus",
    "also", "includes", "included", "including", "features", "featuring", "published",
    "written", "covering", "subscribe", "save", "enjoy",
})  # fmt: skip
_JOINERS = frozenset({"and", "&", "of", "the", "for", "in", "on", "de", "la", "to"})
_NAME_WORD = re.compile(r"[A-Z0-9][\w'\u2019.&+-]*")
_MAX_NAME_WORDS = 6
_SENTENCES = 3  # a name given later is more likely another product's
_SENTENCE = re.compile(r"[.!?:;](?:\s|$)")
MAX_NAME_CHARS = 300  # a caption, not a text: a longer title is cut at a word


def item_name(
    title: str | None,
    description: str | None = None,
    brand: str | None = None,
    category: str | None = None,
) -> str | None:
    """The display name from an item's clean title, description, usable brand name and the leaf
    of its category path; None when none of them gives one."""
    if title:
        name = title
    elif description and (opening := description_name(description)):
        name = opening
    elif category and brand:
        name = f"{category} by {brand}"
    else:
        name = category or brand or ""
    return _shortened(name) or None


def description_name(description: str) -> str | None:
    """The name a description gives its product first: up to six capitalised words (joined by
    "and", "of", ...) followed by a verb or "magazine", opening one of its first sentences or a
    clause of one ("Long synonymous with glamour, Vogue is ..."); all-caps words are given
    title case."""
    sentences = _SENTENCE.split(description.strip()[:1000], maxsplit=_SENTENCES)[:_SENTENCES]
    for sentence in sentences:
        for clause in [sentence, *sentence.split(", ")[1:]]:
            if name := _opening_name(clause):
                return name
    return None


def _opening_name(text: str) -> str | None:
    words = text.split(maxsplit=_MAX_NAME_WORDS + 1)
    name: list[str] = []
    ends_name = False
    for word in words[: _MAX_NAME_WORDS + 1]:
        if _NAME_WORD.fullmatch(word) or (name and word.lower() in _JOINERS):
            name.append(word)
            continue
        ends_name = word in _NAME_VERBS or word.lower().rstrip(",") in _PRODUCT_NOUNS
        break
    while name and name[-1].lower() in _JOINERS:
        name.pop()
    if not ends_name or not name or name[0].lower() in _NOT_NAMES:
        return None
    return " ".join(_readable_case(word) for word in name)


def _readable_case(word: str) -> str:
    """ "WATERCOLOR" -> "Watercolor"; short all-caps words stay ("PC", "GQ") but joiners
    ("AND")."""
    if word.isupper() and len(word) > 3:
        return word.capitalize()
    if word.isupper() and word.lower() in _JOINERS:
        return word.lower()
    return word


def _shortened(text: str) -> str:
    if len(text) <= MAX_NAME_CHARS:
        return text
    return text[: MAX_NAME_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
