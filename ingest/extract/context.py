"""Context rules, kind by kind: whether a dictionary or discovery hit is said of this item, read
from the words around it. They need spaCy's parse; on the blank pipeline every hit stands.

- A topic is something a publication covers. A one-word topic term counts where it is listed
  with another topic ("food and nutrition, health and fitness") or is what a cue names
  ("articles on gardening", "covering aviation"); elsewhere it is a word of ordinary prose
  ("save time and money", "the top names in the business", "with wit and style"). A gerund with
  an object is an activity done to that object ("baking ham"), not a subject.
- An audience word listed only with topics is one of them ("the values of home, family and
  children"): the kind is read from the company a word keeps.
- What a product is for is not a property of it: a feature or material inside a "for ..."
  phrase names what the product is used on or with ("great for organic beauty products",
  "brush for glass"). A property-shaped word that discovery proposes inside a "with ..."
  phrase describes the part it comes with ("dryer with retractable cord"), not the product.
- A finish before a hue, or two colour words, name one shade ("Metallic Olive", "Cobalt
  Blue"), not two colours.
- A scent word before a material or "shaped" is no scent ("Amber Glass", "Pear shaped"); the
  shop-wide half of the scent rule (a scent context for the product type) is
  `ingest.extract.scents`.
- A dimension word after a size names what the size measures ("90 ml Volume").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spacy.tokens import Doc, Token

from ingest.extract import discovery
from ingest.extract.candidates import Candidate

LIST_DEPS = frozenset({"conj", "appos"})
# What introduces the subjects a publication covers.
TOPIC_PREPOSITIONS = frozenset({"on", "about"})
MAX_CLIMB = 3  # "of" within "of": "on every aspect of the history of aviation"
TOPIC_TO = frozenset({"devoted", "dedicated", "guide", "introduction"})  # "a guide to X"
TOPIC_VERBS = frozenset(
    {
        "cover", "covers", "covered", "covering", "include", "includes", "including",
        "explore", "explores", "exploring", "stress", "stresses", "emphasize", "emphasizes",
    }
)  # fmt: skip
SLASH = "/"  # "science/technology" lists two subjects
PURPOSE_KINDS = frozenset({"feature", "material"})
PURPOSE = "for"
PART = "with"
# The basic colour terms (Berlin and Kay): two of them side by side are two colours.
BASIC_HUES = frozenset(
    {
        "black", "white", "red", "green", "yellow", "blue", "brown", "purple", "pink", "orange",
        "grey", "gray",
    }
)  # fmt: skip
# What a scent word describes when it is no scent: "Pear shaped", "Amber Glass" (a material).
SHAPE_WORDS = frozenset({"shaped", "shape"})
# What a size measures: "90 ml Volume" is a size, not volumizing.
DIMENSIONS = frozenset(
    {"volume", "length", "width", "height", "depth", "diameter", "thickness", "capacity", "weight"}
)


def read(doc: Doc, candidates: Sequence[Candidate]) -> list[Candidate]:
    """The gazetteer candidates of one doc after the context rules: topics and audiences
    re-read from their lists and cues, features and materials of a purpose phrase dropped,
    finish + hue merged into one shade."""
    if not doc.has_annotation("DEP"):
        return list(candidates)
    topics = _covered(candidates, "topic")
    audiences = _covered(candidates, "audience")
    listed = _covered(candidates, *{c.kind for c in candidates})
    materials = frozenset(c.start for c in candidates if c.kind == "material")
    found = []
    for candidate in _shades(doc, candidates):
        single = candidate.end - candidate.start == 1
        token = doc[candidate.start : candidate.end].root
        if candidate.kind == "audience" and single and _listed_only_with(token, topics, audiences):
            candidate = Candidate("topic", candidate.start, candidate.end,
                                  candidate.confidence, candidate.extractor)  # fmt: skip
        if candidate.kind == "topic" and single and not _covered_topic(token, listed):
            continue
        if not said_of_item(doc, candidate):
            continue
        if candidate.kind == "scent" and not named_scent(doc, candidate, materials):
            continue
        found.append(candidate)
    return found


def said_of_item(doc: Doc, candidate: Candidate) -> bool:
    """False for a feature or material in a purpose phrase ("for ..."), and for a discovered
    word in a part phrase ("with ..."): those describe something else."""
    if not doc.has_annotation("DEP"):
        return True
    preposition = _preposition(doc[candidate.start : candidate.end].root)
    if preposition is None:
        return True
    if preposition == PURPOSE:
        return candidate.kind not in PURPOSE_KINDS
    if preposition == PART:
        return candidate.extractor != discovery.DISCOVERED
    return True


def _preposition(token: Token) -> str | None:
    """The preposition whose phrase holds the token (the nearest one above it), lower case."""
    for ancestor in token.ancestors:
        if ancestor.pos_ == "ADP" or ancestor.dep_ == "prep":
            return ancestor.lower_
        if ancestor.pos_ in ("VERB", "AUX"):
            return None  # a clause of its own: whatever governs it governs a statement
    return None


def _covered(candidates: Iterable[Candidate], *kinds: str) -> frozenset[int]:
    """The token indices the candidates of these kinds cover."""
    return frozenset(
        index for c in candidates if c.kind in kinds for index in range(c.start, c.end)
    )


def _list_of(token: Token) -> tuple[Token, list[Token]]:
    """The first item of the list the token is in (itself when in none) and the other items."""
    first = token
    while first.dep_ in LIST_DEPS and first.head.i != first.i:
        first = first.head
    members: list[Token] = []
    stack = [first]
    while stack:
        item = stack.pop()
        if item.i != token.i:
            members.append(item)
        stack.extend(child for child in item.children if child.dep_ in LIST_DEPS)
    return first, members


def _covered_topic(token: Token, listed: frozenset[int]) -> bool:
    """Whether a one-word topic term is presented as a subject: listed with other terms the
    dictionaries know ("news, in-depth features and how-to tips") or named by a cue ("on",
    "about", "covering", "a guide to"), also as what a phrase is made of ("on all types of
    motorcycles", "the history, philosophy and technical aspects of martial arts"); and not a
    gerund acting on an object."""
    if token.tag_ == "VBG" and any(child.dep_ == "dobj" for child in token.children):
        return False
    node = token
    for _ in range(MAX_CLIMB):
        first, members = _list_of(node)
        if any(_covers(member, listed) for member in [*members, *_slashed(node)]):
            return True
        cue = first.head
        if first.dep_ == "dobj":
            return cue.lower_ in TOPIC_VERBS
        if first.dep_ != "pobj":
            return False
        if cue.lower_ in TOPIC_PREPOSITIONS or cue.lower_ in TOPIC_VERBS:
            return True
        if cue.lower_ == "to" and cue.head.lower_ in TOPIC_TO:
            return True
        # Only "of" passes a cue on: "types of motorcycles" are motorcycles, but the "names in
        # the business" are not the business.
        node = cue.head
        if cue.lower_ != "of" or node.pos_ not in ("NOUN", "PROPN") or node.i == first.i:
            return False
    return False


def _slashed(token: Token) -> list[Token]:
    """The words a slash joins to this one ("science/technology")."""
    doc = token.doc
    return [
        doc[token.i + 2 * step]
        for step in (-1, 1)
        if 0 <= token.i + 2 * step < len(doc) and doc[token.i + step].text == SLASH
    ]


def _covers(token: Token, listed: frozenset[int]) -> bool:
    """Whether a dictionary term covers the token or a compound part of it ("home
    improvement project")."""
    return token.i in listed or any(
        child.dep_ == "compound" and child.i in listed for child in token.children
    )


def _listed_only_with(token: Token, topics: frozenset[int], audiences: frozenset[int]) -> bool:
    _, members = _list_of(token)
    return any(m.i in topics for m in members) and not any(m.i in audiences for m in members)


def _shades(doc: Doc, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates with each colour that directly precedes another colour merged into it: a
    finish before a hue ("Metallic Olive") and a hue named by two colour words ("Cobalt Blue",
    "Navy Blue") are one shade. Two basic hues are two colours ("Red Black Assorted")."""
    colours = {c.start: c for c in candidates if c.kind == "colour"}
    merged: list[Candidate] = []
    absorbed: set[Candidate] = set()
    for candidate in candidates:
        following = colours.get(candidate.end)
        if (
            candidate.kind == "colour"
            and following is not None
            and candidate not in absorbed
            and not _basic_hue(doc, candidate)
        ):
            merged.append(
                Candidate("colour", candidate.start, following.end,
                          max(candidate.confidence, following.confidence), candidate.extractor)
            )  # fmt: skip
            absorbed |= {candidate, following}
    return [c for c in candidates if c not in absorbed] + merged


def _basic_hue(doc: Doc, candidate: Candidate) -> bool:
    return doc[candidate.start : candidate.end].text.lower() in BASIC_HUES


def named_scent(doc: Doc, candidate: Candidate, materials: frozenset[int]) -> bool:
    """Whether a scent term is said as a scent: not when it names the colour or kind of a
    material ("Amber Glass") or a shape ("Pear shaped", "pear-shaped")."""
    after = candidate.end
    if after < len(doc) and doc[after].text in ("-", "\u2013") and not doc[after - 1].whitespace_:
        after += 1
    return not (after in materials or (after < len(doc) and doc[after].lower_ in SHAPE_WORDS))


def after_sizes(doc: Doc, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates less a dimension word that names what the size before it measures ("90 ml
    Volume", "25 ft Length"): the size is the attribute, not the word."""
    ends = {c.end for c in candidates if c.kind == "size"}
    return [
        c
        for c in candidates
        if not (
            c.kind != "size"
            and c.end - c.start == 1
            and c.start in ends
            and doc[c.start].lower_ in DIMENSIONS
        )
    ]
