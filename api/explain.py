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

MAX_EXPLANATIONS = 3
CANDIDATE_PATHS = 8  # per item, fetched from the graph and ranked; more costs latency
VERBS = {"view": "viewed", "click": "clicked on", "cart": "put in your cart",
         "purchase": "bought", "rate": "rated"}  # fmt: skip
# (relationship type) -> how two items it links relate, "{a}" and "{b}" being their names.
ITEM_LINK_PHRASES = {
    "ALSO_BOUGHT": "customers who bought {a} also bought {b}",
    "ALSO_VIEWED": "customers who viewed {a} also viewed {b}",
    "BOUGHT_TOGETHER": "{a} is often bought together with {b}",
}
SHARED = {"Brand": "{t} shares its brand, {x}", "Category": "{t} is in the same category, {x}",
          "Attribute": "{t} is also {x}"}  # fmt: skip
ASKED = {"Brand": "{t} is by {x}, which you asked for", "Category": "{t} is in {x}, which you "
         "asked for", "Attribute": "{t} is {x}, which you asked for"}  # fmt: skip
# A relation's last segment ("film.film.directed_by", ".../ontology/director") and its words.
RELATION_TAIL = re.compile(r"[^./#:]+$")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

NodeKey = tuple[str, str]  # (label, id)
# Unit embedding vectors of these nodes, one row each; a zero row for a node the model lacks.
UnitVectors = Callable[[Sequence[NodeKey]], NDArray[np.float32]]


def explain(
    targets: Sequence[str], candidates: Mapping[str, Sequence[RawPath]], units: UnitVectors
) -> dict[str, list[Explanation]]:
    """Each target's best `MAX_EXPLANATIONS` candidate paths, most similar first (ties: in
    the graph's order), all targets scored together."""
    flat = [(target, raw) for target in targets for raw in candidates.get(target, ())]
    scores = path_scores([raw for _, raw in flat], units)
    ranked: dict[str, list[tuple[float, int, RawPath]]] = {target: [] for target in targets}
    for order, ((target, raw), score) in enumerate(zip(flat, scores, strict=True)):
        ranked[target].append((-float(score), order, raw))
    return {
        target: [
            _explanation(raw, -negative) for negative, _, raw in sorted(entries)[:MAX_EXPLANATIONS]
        ]
        for target, entries in ranked.items()
    }


def path_scores(paths: Sequence[RawPath], units: UnitVectors) -> NDArray[np.float64]:
    """How strongly the model links each path's ends through it: the product of consecutive
    nodes' cosine similarities (negative or unknown count 0), so each extra hop must be a
    strong one to beat a shorter path."""
    rows: dict[NodeKey, int] = {}
    hops: list[tuple[int, int, int]] = []  # (path, row of one end, row of the other)
    for index, path in enumerate(paths):
        nodes = [rows.setdefault((label, node_id), len(rows)) for label, node_id, _ in path.nodes]
        hops.extend((index, a, b) for a, b in itertools.pairwise(nodes))
    scores = np.ones(len(paths))
    if hops:
        vectors = units(list(rows))
        index, a, b = np.array(hops).T
        similarity = np.einsum("ij,ij->i", vectors[a], vectors[b])
        np.multiply.at(scores, index, np.maximum(similarity, 0.0))
    return scores


def _explanation(raw: RawPath, score: float) -> Explanation:
    path = GraphPath.from_raw(raw)
    return Explanation(
        sentence=sentence(path), score=round(score, 4), cypher=path_cypher(path), path=path
    )


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
    path = explanation.path.without_other_users()
    if path == explanation.path:  # no other customer on it
        return explanation
    return explanation.model_copy(update={"path": path, "cypher": path_cypher(path)})


def sentence(path: GraphPath) -> str:
    """One plain sentence for a path, e.g. "You bought X; Y shares its brand, Z."."""
    nodes, rels = path.nodes, path.relationships
    start, target = nodes[0], nodes[-1]
    t = _name(target)
    if start.label == "User":  # the first hop is the user's own interaction
        verb = VERBS.get(rels[0].kind or "", "interacted with")
        opening, nodes, rels = f"You {verb} {_name(nodes[1])}", nodes[1:], rels[1:]
    elif start.label == "Item":
        opening = f"You like {_name(start)}"
    else:  # a brand, category or attribute the request named
        x = _name(start)
        if len(rels) == 1:
            return _capital(ASKED[start.label].format(t=t, x=x)) + "."
        via = nodes[1]
        return (
            _capital(
                f"{_name(via)} is {_entity_phrase(start)}, which you asked for; "
                + _link_phrase(rels[1], via, target)
            )
            + "."
        )
    return f"{opening}; {_rest(nodes, rels, t)}."


def _rest(nodes: Sequence[PathNode], rels: Sequence[PathRelationship], t: str) -> str:
    """The part after the opening, from the anchor item `nodes[0]` to the target."""
    anchor, middle = nodes[0], nodes[1]
    if len(nodes) == 2:
        return _link_phrase(rels[0], anchor, middle)
    if middle.label == "User":
        return f"another customer who bought {_name(anchor)} also bought {t}"
    if middle.label == "Entity":  # the same fact about both items; ids of entities say nothing
        relation = relation_words(rels[0].relation or "")
        if middle.name:
            return f"{t} shares its {relation}, {middle.name}"
        return f"{t} shares its {relation} with {_name(anchor)}"
    return SHARED[middle.label].format(t=t, x=_name(middle))


def _link_phrase(rel: PathRelationship, a: PathNode, b: PathNode) -> str:
    if rel.type == "RELATED":  # a fact: its direction matters ("sequel")
        head, tail = (a, b) if rel.start < rel.end else (b, a)
        relation = relation_words(rel.relation or "")
        return f"{_name(head)} is linked to {_name(tail)} ({relation})"
    phrase = ITEM_LINK_PHRASES.get(rel.type, "{a} is linked to {b}")
    return phrase.format(a=_name(a), b=_name(b))


def relation_words(relation: str) -> str:
    """A relation in plain words: "film.film.directed_by" -> "directed by", "hasGenre" -> "has
    genre"; acronyms keep their case ("ISBN"). A relation without words stays as it is."""
    tail = RELATION_TAIL.search(relation.strip().rstrip("./#:"))
    words = CAMEL.sub(" ", tail.group() if tail else "").replace("_", " ").replace("-", " ")
    plain = " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in words.split())
    return plain or relation


def _entity_phrase(entity: PathNode) -> str:
    return {"Brand": "by {x}", "Category": "in {x}", "Attribute": "{x}"}[entity.label].format(
        x=_name(entity)
    )


def _name(node: PathNode) -> str:
    if node.label == "Item":
        return f'"{node.name}"' if node.name else f"item {node.id}"
    return node.name or str(node.id)  # only another customer has no id, and they have a name


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
