"""Explanations: the graph paths to each recommended item, ranked by the model's embedding
similarity along the path, each told in one plain sentence with the Cypher that shows it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from api.schemas import Explanation
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

NodeKey = tuple[str, str]  # (label, id)
Similarity = Callable[[NodeKey, NodeKey], float | None]


def explain(candidates: Sequence[RawPath], similarity: Similarity) -> list[Explanation]:
    """The best `MAX_EXPLANATIONS` candidate paths, most similar first."""
    scored = sorted(
        ((path_score(raw, similarity), index, raw) for index, raw in enumerate(candidates)),
        key=lambda entry: (-entry[0], entry[1]),
    )
    explanations = []
    for score, _, raw in scored[:MAX_EXPLANATIONS]:
        path = GraphPath.from_raw(raw)
        explanations.append(
            Explanation(sentence=sentence(path), score=round(score, 4), cypher=path_cypher(path),
                        path=path)
        )  # fmt: skip
    return explanations


def path_score(path: RawPath, similarity: Similarity) -> float:
    """How strongly the model links the path's ends through it: the product of consecutive
    nodes' similarities (negatives and unknown pairs count 0), so each extra hop must be a
    strong one to beat a shorter path."""
    keys = [(label, node_id) for label, node_id, _ in path.nodes]
    return math.prod(max(similarity(a, b) or 0.0, 0.0) for a, b in itertools.pairwise(keys))


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
                + _link_phrase(rels[1].type, via, target)
            )
            + "."
        )
    return f"{opening}; {_rest(nodes, rels, t)}."


def _rest(nodes: Sequence[PathNode], rels: Sequence[PathRelationship], t: str) -> str:
    """The part after the opening, from the anchor item `nodes[0]` to the target."""
    anchor, middle = nodes[0], nodes[1]
    if len(nodes) == 2:
        return _link_phrase(rels[0].type, anchor, middle)
    if middle.label == "User":
        return f"another customer who bought {_name(anchor)} also bought {t}"
    return SHARED[middle.label].format(t=t, x=_name(middle))


def _link_phrase(rel_type: str, a: PathNode, b: PathNode) -> str:
    phrase = ITEM_LINK_PHRASES.get(rel_type, "{a} is linked to {b}")
    return phrase.format(a=_name(a), b=_name(b))


def _entity_phrase(entity: PathNode) -> str:
    return {"Brand": "by {x}", "Category": "in {x}", "Attribute": "{x}"}[entity.label].format(
        x=_name(entity)
    )


def _name(node: PathNode) -> str:
    if node.label == "Item":
        return f'"{node.name}"' if node.name else f"item {node.id}"
    return node.name or node.id


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
