"""Explanations: the graph paths to each recommended item, ranked by the model's embedding
similarity along the path, each told in one plain sentence with the Cypher that shows it; only
an admin sees other customers' ids in them."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from api.schemas import Explanation, Recommendations
from kg.paths import GraphPath, PathNode, PathRelationship, RawPath, path_cypher
from kg.projection import Candidates, NodeKey

MAX_EXPLANATIONS = 3
CANDIDATE_PATHS = 8  # per item, fetched from the graph and ranked; more costs latency
# What someone did to an item, "{x}" being its name and "{their}" whose cart it went in.
DID = {"view": "viewed {x}", "click": "clicked on {x}", "cart": "put {x} in {their} cart",
       "purchase": "bought {x}", "rate": "rated {x}"}  # fmt: skip
# (relationship type) -> what a link (a)-[type]->(b) states, as the source's lists mean it:
# Amazon's `also_buy` of a is "customers who bought a also bought" the items it lists, and
# every loader writes such a list as (a)-[:ALSO_BOUGHT]->(b).
ITEM_LINK_PHRASES = {
    "ALSO_BOUGHT": "customers who bought {a} also bought {b}",
    "ALSO_VIEWED": "customers who viewed {a} also viewed {b}",
    "BOUGHT_TOGETHER": "{a} is often bought together with {b}",
}
# What an item's link to a brand, category or attribute (by the attribute's kind) says about
# it: "{also}" is "also " when another item has the same link, "{x}" the entity's name. A kind
# not listed (a shop's own, from `kgrec ingest table`) reads "has the <kind> <name>".
HAS_PHRASES = {
    "Brand": "is {also}by {x}", "Category": "is {also}in the {x} category",
    "colour": "is {also}{x}", "material": "is {also}made of {x}", "size": "{also}comes in {x}",
    "ingredient": "{also}contains {x}", "scent": "{also}smells of {x}",
    "skin_type": "is {also}for {x}", "hair_type": "is {also}for {x}", "use": "is {also}for {x}",
    "audience": "is {also}for {x}", "topic": "is {also}about {x}",
    "format": "is {also}available as {x}", "feature": "is {also}described as {x}",
}  # fmt: skip
# A relation read as a verb: one that ends with a preposition or opens with one of VERBS.
PREPOSITIONS = frozenset({"by", "of", "in", "on", "with", "from", "for", "at", "to", "as"})
VERBS = frozenset({"has", "is"})
# A relation's last segment ("film.film.directed_by", ".../ontology/director") and its words.
RELATION_TAIL = re.compile(r"[^./#:]+$")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# Unit embedding vectors of these nodes, one row each; a zero row for a node the model lacks.
UnitVectors = Callable[[Sequence[NodeKey]], NDArray[np.float32]]


def explain(
    targets: Sequence[str], candidates: Mapping[str, Sequence[RawPath]], units: UnitVectors
) -> dict[str, list[Explanation]]:
    """Each target's best `MAX_EXPLANATIONS` candidate paths, most similar first (ties: in
    the graph's order), all targets scored together. A path that says what a better one said
    (two customers who bought the same pair, say) is left out: each fact is told once."""
    flat = [(target, raw) for target in targets for raw in candidates.get(target, ())]
    scores = path_scores([raw for _, raw in flat], units)
    return _told(targets, [target for target, _ in flat], scores, lambda n: flat[n][1])


def explain_candidates(
    targets: Sequence[str], candidates: Candidates, units: UnitVectors
) -> dict[str, list[Explanation]]:
    """`explain` over the projection's candidates: scored from their hops, and only those it
    tells built into paths."""
    scores = hop_scores(len(candidates), candidates.keys, candidates.hops, units)
    return _told(targets, candidates.targets, scores, candidates.build)


def _told(
    targets: Sequence[str],
    target_of: Sequence[str],
    scores: NDArray[np.float64],
    build: Callable[[int], RawPath],
) -> dict[str, list[Explanation]]:
    """Per target, its candidates (numbered in the graph's order: candidate n is for
    `target_of[n]`, scores `scores[n]`, and `build(n)` makes it) ranked and told."""
    ranked: dict[str, list[tuple[float, int]]] = {target: [] for target in targets}
    for n, (target, score) in enumerate(zip(target_of, scores.tolist(), strict=True)):
        ranked[target].append((-score, n))
    return {target: _distinct(sorted(entries), build) for target, entries in ranked.items()}


def _distinct(
    ranked: Sequence[tuple[float, int]], build: Callable[[int], RawPath]
) -> list[Explanation]:
    told: dict[str, Explanation] = {}
    for negative, n in ranked:
        path = GraphPath.from_raw(build(n))
        said = sentence(path)
        if said not in told:
            told[said] = Explanation(sentence=said, score=round(-negative, 4),
                                     cypher=path_cypher(path), path=path)  # fmt: skip
            if len(told) == MAX_EXPLANATIONS:
                break
    return list(told.values())


def path_scores(paths: Sequence[RawPath], units: UnitVectors) -> NDArray[np.float64]:
    """How strongly the model links each path's ends through it: the product of consecutive
    nodes' cosine similarities (negative or unknown count 0), so each extra hop must be a
    strong one to beat a shorter path."""
    rows: dict[NodeKey, int] = {}
    hops: list[tuple[int, int, int]] = []  # (path, row of one end, row of the other)
    for index, path in enumerate(paths):
        nodes = [rows.setdefault((label, node_id), len(rows)) for label, node_id, _ in path.nodes]
        hops.extend((index, a, b) for a, b in itertools.pairwise(nodes))
    path_index, a, b = np.array(hops, dtype=np.int64).reshape(-1, 3).T
    return hop_scores(len(paths), list(rows), (path_index, a, b), units)


def hop_scores(
    n_paths: int,
    keys: Sequence[NodeKey],
    hops: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]],
    units: UnitVectors,
) -> NDArray[np.float64]:
    """`path_scores` of paths given as hops: (path, node, next node), nodes indexing `keys`."""
    scores = np.ones(n_paths)
    path, a, b = hops
    if len(path):
        vectors = units(keys)
        similarity = np.einsum("ij,ij->i", vectors[a], vectors[b])
        np.multiply.at(scores, path, np.maximum(similarity, 0.0))
    return scores


def as_seen(explanations: list[Explanation] | None, *, admin: bool) -> list[Explanation] | None:
    """The explanations as a caller sees them: other customers' ids only with an admin key."""
    if admin or explanations is None:
        return explanations
    return [without_other_customers(explanation) for explanation in explanations]


def answer_as_seen(body: Recommendations, *, admin: bool) -> Recommendations:
    for item in body.items:
        item.explanations = as_seen(item.explanations, admin=admin)
    return body


def without_other_customers(explanation: Explanation) -> Explanation:
    """Another customer on the path keeps no id, in the path or in its Cypher (which then
    matches any such customer); the sentence never names them."""
    if all(node.label != "User" for node in explanation.path.nodes[1:]):
        return explanation  # no other customer on it
    path = explanation.path.without_other_users()
    return explanation.model_copy(update={"path": path, "cypher": path_cypher(path)})


def sentence(path: GraphPath) -> str:
    """One plain sentence for a path, each link told the way its stored edge points, e.g.
    'You bought "X"; "Y" is also by Z.'."""
    nodes, rels = path.nodes, path.relationships
    start = nodes[0]
    if start.label == "User":  # the first hop is the user's own interaction
        opening = "You " + _did(rels[0], nodes[1], "your")
        return f"{opening}; {_rest(nodes[1:], rels[1:])}."
    if start.label == "Item":
        return f"You like {_name(start)}; {_rest(nodes, rels)}."
    # A brand, category or attribute the request named: the item (or the item linked to the
    # target) that has it comes first.
    holder = nodes[1]
    told = f"{_name(holder)} {_has(start, also=False)}, as you asked"
    if len(rels) > 1:
        told += "; " + _link_phrase(rels[1], nodes[1:])
    return _capital(told) + "."


def _rest(nodes: Sequence[PathNode], rels: Sequence[PathRelationship]) -> str:
    """The part after the opening, from the anchor item `nodes[0]` to the target."""
    anchor, middle, target = nodes[0], nodes[1], nodes[-1]
    if len(nodes) == 2:
        return _link_phrase(rels[0], nodes)
    if middle.label == "User":  # another customer: (anchor)<-(them)->(target)
        first, then = _did(rels[0], anchor, "their"), _did(rels[1], target, "their")
        return f"another customer who {first} also {then}"
    if middle.label == "Entity":  # the same fact about both items
        return _shared_fact(rels[0].relation or "", anchor, middle, target)
    return f"{_name(target)} {_has(middle, also=True)}"


def _did(interaction: PathRelationship, item: PathNode, their: str) -> str:
    template = DID.get(interaction.kind or "", "interacted with {x}")
    return template.format(x=_name(item), their=their)


def _has(entity: PathNode, *, also: bool) -> str:
    """What linking to `entity` says about an item: "is by GlowCo", "is also made of silk"."""
    kind = entity.label if entity.label != "Attribute" else attribute_kind(entity.id or "")
    template = HAS_PHRASES.get(kind, "{also}has the {kind} {x}")
    return template.format(also="also " if also else "", kind=kind.replace("_", " "),
                           x=_name(entity))  # fmt: skip


def attribute_kind(attribute_id: str) -> str:
    """An attribute's kind, the part of its id before ":" ("colour:red"); "attribute" for an
    id without one."""
    kind, colon, _ = attribute_id.partition(":")
    return kind if colon else "attribute"


def _link_phrase(rel: PathRelationship, pair: Sequence[PathNode]) -> str:
    """What the edge between the two nodes of `pair` states, from its start to its end."""
    head, tail = (pair[0], pair[1]) if rel.start < rel.end else (pair[1], pair[0])
    if rel.type == "RELATED":
        return _fact(rel.relation or "", head, tail)
    phrase = ITEM_LINK_PHRASES.get(rel.type, "{a} is linked to {b}")
    return phrase.format(a=_name(head), b=_name(tail))


def _fact(relation: str, head: PathNode, tail: PathNode) -> str:
    """(head)-[relation]->(tail) in words: "X is directed by Y", "Y is the sequel of X"."""
    words = relation_words(relation)
    if _is_predicate(words):
        return f"{_name(head)} {_verb(words)} {_name(tail)}"
    return f"{_name(tail)} is the {words} of {_name(head)}"


def _shared_fact(relation: str, anchor: PathNode, entity: PathNode, target: PathNode) -> str:
    """Both items have the same fact about `entity`; an unnamed entity's id says nothing, so
    the anchor stands in for it."""
    words = relation_words(relation)
    if _is_predicate(words):
        verb = _verb(words)
        also = verb.replace("is ", "is also ", 1) if verb.startswith("is ") else f"also {verb}"
        if entity.name:
            return f"{_name(target)} {also} {entity.name}"
        return f"{_name(target)} {verb} the same one as {_name(anchor)}"
    if entity.name:
        return f"{_name(target)} has the same {words}, {entity.name}"
    return f"{_name(target)} has the same {words} as {_name(anchor)}"


def _is_predicate(words: str) -> bool:
    """A relation told as a verb ("directed by", "has genre"), not a noun ("sequel")."""
    split = words.split()
    return bool(split) and (split[-1] in PREPOSITIONS or split[0] in VERBS)


def _verb(words: str) -> str:
    return words if words.split()[0] in VERBS else f"is {words}"


def relation_words(relation: str) -> str:
    """A relation in plain words: "film.film.directed_by" -> "directed by", "hasGenre" -> "has
    genre"; acronyms keep their case ("ISBN"). A relation without words stays as it is."""
    tail = RELATION_TAIL.search(relation.strip().rstrip("./#:"))
    words = CAMEL.sub(" ", tail.group() if tail else "").replace("_", " ").replace("-", " ")
    plain = " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in words.split())
    return plain or relation


def _name(node: PathNode) -> str:
    """A node as a sentence names it: an item by its display name in quotes (its id only when
    the graph has no name for it), anything else by its name."""
    if node.label == "Item":
        return f'"{node.name}"' if node.name else f"item {node.id}"
    return node.name or str(node.id)  # only another customer has no id, and they have a name


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
