"""The in-memory recommender the API serves from.

The catalogue's item embeddings sit in one matrix; a ranking is one matrix-vector product with
the filters (seen items, a category) applied before an exact top-k, which at 10^4 items takes
a fraction of a millisecond. Past `KGREC_API_ANN_MIN_ITEMS` trained items (the break-even
`bench/ann.py` measures), a ranking of the whole catalogue scores only the candidates an HNSW
index (`api/ann.py`) and the item-item term propose, each exactly as below it.

Users: the trained embedding, moved by every event since training (online, no retraining):
normalise(n_trained * trained + sum of weight * item embedding over new events). A user the
model never saw is the weighted mean of the items of their events. Context requests (a query,
liked items, brands/categories/attributes) become one vector: the query and the named entities
are embedded as a virtual new item by the trained GNN (its text through the model's projection,
its links through the model's layers), liked items contribute their embeddings.

Scores are the model's (`gnn.scoring`): the dot products times the blend's GNN weight plus
(the asker's items) @ (the item-link + EASE + text matrix) when the model has an item-item
term; the asker's items are everything the graph and the events since say they interacted
with (or liked), so this part moves online too. A request with no such items is ranked by its
vector. `similar` weighs the vectors fully whatever the blend: validation measured rankings
from a user's history, and an item's likeness (a new item's too) is what its vector says. A
new item borrows the term of its nearest trained items, as training fills the columns of
items without interactions, and gets the blend's cold offset, as trained items without
interactions do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from api.ann import CANDIDATES, ItemIndex
from api.compute import COMPUTING
from gnn.dataset import item_text
from gnn.infer import LoadedModel
from gnn.scoring import COLD_NEIGHBOURS, blended, borrow_weights
from kg.catalogue import Catalogue, Entity, UserInteraction
from kg.export import node_type
from kg.records import InteractionKind

Vector = NDArray[np.float32]

# How far one event moves a user, in units of one training interaction.
EVENT_WEIGHTS: dict[InteractionKind, float] = {
    "view": 0.25, "click": 0.5, "cart": 1.0, "purchase": 1.0, "rate": 1.0,
}  # fmt: skip
LOW_RATING = 2.5  # a rating at or below this moves the user nowhere
ENTITY_RELATIONS = {"Brand": "has_brand", "Category": "in_category", "Attribute": "has_attribute"}


@dataclass(frozen=True)
class ItemUpdate:
    """An item as `Recommender.add_items` takes it: its embedding (kept only if the model was
    not trained on it), title, categories and display name (None: keep the one it has)."""

    id: str
    vector: Vector
    title: str
    categories: Sequence[str]
    name: str | None = None


class UnknownError(LookupError):
    """An id the service does not know; the message names it."""


def event_weight(kind: InteractionKind, rating: float | None) -> float:
    """How far one event moves its user (a low rating: nowhere)."""
    return 0.0 if rating is not None and rating <= LOW_RATING else EVENT_WEIGHTS[kind]


def normalise(vector: Vector) -> Vector:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class Recommender:
    def __init__(self, model: LoadedModel, ann_min_items: int | None = None) -> None:
        """`ann_min_items`: from this many trained items on, rankings of the whole catalogue
        score the candidates an ANN index proposes instead of every item (None: never)."""
        self.model = model
        self.name = model.path.name
        n_items = len(model.items)
        # Copies: new items extend them.
        self.item_ids: list[str] = list(model.scorer.item_ids)
        self.item_row = dict(model.scorer.item_row)
        self.items: Vector = model.items.numpy().astype(np.float32)
        self.trained_items = n_items
        self.user_row = {user: row for row, user in enumerate(model.ids["user"])}
        self.users: Vector = model.users.numpy().astype(np.float32)
        self.nodes: Vector = model.nodes.numpy().astype(np.float32)
        self.blend = model.blend
        self.item_item = model.item_item  # spreads the asker's items over the catalogue
        # (new items x trained items): whose term each item added since training borrows.
        self.borrowed = sp.csr_matrix((0, n_items), dtype=np.float32)
        self.cold_neighbours = int(model.config.get("ease_cold_neighbours", COLD_NEIGHBOURS))
        # The cold offset of each trained item, then (last) that of every item added since.
        trained = model.scorer.offsets
        self.offsets = None if trained is None else np.append(trained, model.blend.cold)
        self.node_row = {
            kind: {node: model.index.offset[kind] + row for row, node in enumerate(ids)}
            for kind, ids in model.ids.items()
        }
        self.online: dict[str, Vector] = {}  # user -> weighted sum of items since training
        self.seen: dict[str, set[int]] = {}
        self.trained_counts: dict[str, int] = {}
        self.popularity = np.zeros(n_items, dtype=np.float32)
        self.category_rows: dict[str, NDArray[np.int64]] = {}
        self.titles: dict[str, str] = {}
        self.names: dict[str, str] = {}  # display names (`Catalogue.names`)
        self.entities: dict[str, Entity] = {}  # lower-cased id or name -> entity
        self.catalogue_loaded = False
        self._write_lock = threading.Lock()  # events and new items; reads need none
        wanted = ann_min_items is not None and n_items >= ann_min_items
        self.index = ItemIndex(self.items) if wanted else None

    # -- state from the graph -------------------------------------------------------------

    def load_catalogue(self, catalogue: Catalogue) -> None:
        row_of = self.item_row
        seen = {user: rows for user, items in catalogue.user_items.items()
                if (rows := {row_of[item] for item in items if item in row_of})}  # fmt: skip
        popularity = np.zeros(len(self.item_ids), dtype=np.float32)
        for rows in seen.values():
            popularity[list(rows)] += 1
        entities = self._entity_index(catalogue.entities)
        with self._write_lock:
            self.seen = seen
            self.trained_counts = {user: len(rows) for user, rows in seen.items()}
            self.popularity = popularity
            self.category_rows = {
                category: np.array(
                    [self.item_row[i] for i in items if i in self.item_row], dtype=np.int64
                )
                for category, items in catalogue.category_items.items()
            }
            self.titles = catalogue.titles
            self.names = catalogue.names
            self.entities = entities
            self.catalogue_loaded = True

    def add_entities(self, entities: Iterable[Entity]) -> None:
        """Brands, categories and attributes a new item brought, resolvable from now on."""
        with self._write_lock:
            self.entities = {**self._entity_index(entities), **self.entities}

    @staticmethod
    def _entity_index(entities: Iterable[Entity]) -> dict[str, Entity]:
        """Lower-cased name and id -> entity; the first entity of a name wins."""
        index: dict[str, Entity] = {}
        for entity in entities:
            for key in (entity.name, entity.id):
                if key:
                    index.setdefault(key.lower(), entity)
        return index

    # -- lookups --------------------------------------------------------------------------

    def knows_user(self, user_id: str) -> bool:
        return user_id in self.user_row or user_id in self.seen or user_id in self.online

    def display_name(self, item_id: str) -> str | None:
        """What answers call an item: its name, else its title (stubs have neither)."""
        return self.names.get(item_id) or self.titles.get(item_id)

    def knows_item(self, item_id: str) -> bool:
        return item_id in self.item_row

    def resolve_entities(self, names: Iterable[str]) -> list[Entity]:
        found = []
        for name in names:
            entity = self.entities.get(name.strip().lower())
            if entity is None:
                raise UnknownError(f"unknown brand, category or attribute {name!r}")
            found.append(entity)
        return found

    def category(self, category: str) -> NDArray[np.int64]:
        """Rows of the items in a category (by id or name) or below it."""
        rows = self.category_rows.get(category)
        if rows is None:
            entity = self.entities.get(category.strip().lower())
            if entity is None or entity.label != "Category":
                raise UnknownError(f"unknown category {category!r}")
            rows = self.category_rows.get(entity.id, np.zeros(0, dtype=np.int64))
        return rows

    def node_vectors(self, keys: Sequence[tuple[str, str]]) -> NDArray[np.float32]:
        """The embeddings of these (label, id) nodes, users and items with their online state,
        one row each; a zero row for a node the model does not know."""
        vectors = np.zeros((len(keys), self.items.shape[1]), dtype=np.float32)
        items: dict[int, int] = {}  # key's position -> row of `items`
        others: dict[int, int] = {}  # key's position -> row of `nodes`
        for n, (label, node_id) in enumerate(keys):
            if label == "User":
                if (user := self.user_vector(node_id)) is not None:
                    vectors[n] = user
            elif label == "Item":
                if (row := self.item_row.get(node_id)) is not None:
                    items[n] = row
            elif (row := self.node_row.get(node_type(label), {}).get(node_id)) is not None:
                others[n] = row
        vectors[list(items)] = self.items[list(items.values())]
        vectors[list(others)] = self.nodes[list(others.values())]
        return vectors

    def user_vector(self, user_id: str) -> Vector | None:
        row = self.user_row.get(user_id)
        online = self.online.get(user_id)
        if row is None and online is None:
            return None
        if online is None:
            return self.users[row]
        trained = (
            self.users[row] * max(self.trained_counts.get(user_id, 1), 1)
            if row is not None
            else 0.0
        )
        return normalise(trained + online)

    # -- ranking --------------------------------------------------------------------------

    def top_k(
        self,
        vector: Vector | None,
        k: int,
        *,
        exclude: Iterable[int] = (),
        within: NDArray[np.int64] | None = None,
        history: Iterable[int] = (),
        vector_weight: float | None = None,
    ) -> list[tuple[str, float]]:
        """The k best items for `vector` (None: the most popular), `exclude` left out, only
        rows `within` if given. `history` (the asker's items) feeds the model's item-item
        term; `vector_weight` is the dot products' weight beside it (None: the blend's)."""
        with COMPUTING:
            return self._top_k(vector, k, exclude, within, history, vector_weight)

    def _top_k(
        self,
        vector: Vector | None,
        k: int,
        exclude: Iterable[int],
        within: NDArray[np.int64] | None,
        history: Iterable[int],
        vector_weight: float | None,
    ) -> list[tuple[str, float]]:
        items, popularity = self.items, self.popularity  # see add_item: rows of items suffice
        weight = self.blend.vector_weight if vector_weight is None else vector_weight
        # Rows the caller found before an item added since grew `items` are not in it yet.
        exclude = [row for row in exclude if row < len(items)]
        if within is None and vector is not None and self.index is not None:
            within = self._proposed(self.index, vector, k + len(exclude), history)
        if within is None:  # the whole catalogue: no copy of the matrix
            rows = np.arange(len(items))
            if vector is None:
                scores = popularity[: len(items)].copy()
            else:
                scores = blended(items @ vector, self.item_item_scores(history, rows), weight,
                                 self.item_offsets(rows))  # fmt: skip
            scores[exclude] = -np.inf
        else:
            rows = within[within < len(items)]
            if vector is None:
                scores = popularity[rows]
            else:
                scores = blended(items[rows] @ vector, self.item_item_scores(history, rows),
                                 weight, self.item_offsets(rows))  # fmt: skip
            if exclude:
                scores = np.where(np.isin(rows, exclude), -np.inf, scores)
        k = min(k, len(rows))
        best = np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.item_ids[rows[i]], float(scores[i])) for i in best if scores[i] != -np.inf]

    def _proposed(
        self, index: ItemIndex, vector: Vector, n: int, history: Iterable[int]
    ) -> NDArray[np.int64]:
        """The rows worth scoring for `vector` and `history`: the index's nearest (at least n)
        and those the item-item term reaches from the history's trained items."""
        found = index.search(vector, n)
        known = [row for row in history if row < self.trained_items]
        if self.item_item is None or not known:
            return found
        return np.union1d(found, self.item_item.reached(known, max(n, CANDIDATES)))

    def item_item_scores(self, history: Iterable[int], rows: NDArray[np.int64]) -> Vector | None:
        """The item-item term of these history items for the item `rows` (new items: what
        they borrow), None without a term."""
        known = [row for row in history if row < self.trained_items]
        if self.item_item is None or not known:
            return None
        # `borrowed` may have grown past `rows`: a new item since they were read.
        spread = self.item_item.spread_to_new(known, self.borrowed)
        spread = np.append(spread, np.float32(0))  # for an item added but not yet borrowing
        linked: Vector = spread[np.minimum(rows, len(spread) - 1)]
        return linked

    def item_offsets(self, rows: NDArray[np.int64]) -> Vector | None:
        """The blend's cold offset of the item `rows`, None without one."""
        if self.offsets is None:
            return None
        offsets: Vector = self.offsets[np.minimum(rows, self.trained_items)]
        return offsets

    def seen_rows(self, user_id: str | None) -> set[int]:
        return self.seen.get(user_id, set()) if user_id else set()

    def similar(self, item_id: str, k: int) -> list[tuple[str, float]]:
        row = self.item_row.get(item_id)
        if row is None:
            raise UnknownError(f"unknown item {item_id!r}")
        return self.top_k(self.items[row], k, exclude=[row], history=[row], vector_weight=1.0)

    def context_vector(
        self,
        text_vector: Vector | None,
        liked: Sequence[str],
        entities: Sequence[Entity],
        user_id: str | None,
    ) -> Vector | None:
        """One vector out of everything a context request says (None: it says nothing)."""
        parts: list[Vector] = []
        if text_vector is not None or entities:
            parts.append(self.embed_item(text_vector, self._entity_links(entities)))
        for item in liked:
            row = self.item_row.get(item)
            if row is None:
                raise UnknownError(f"unknown item {item!r}")
            parts.append(self.items[row])
        if user_id and (user := self.user_vector(user_id)) is not None:
            parts.append(user)
        return normalise(np.sum(parts, axis=0)) if parts else None

    def entity_text(self, entities: Sequence[Entity]) -> str:
        """What a virtual item made of named entities says, for the text encoder."""
        names = {label: [e.name or e.id for e in entities if e.label == label]
                 for label in ENTITY_RELATIONS}  # fmt: skip
        text = item_text(None, None, names["Brand"], names["Category"])
        return ". ".join(part for part in (text, ", ".join(names["Attribute"])) if part)

    def embed_item(self, text_vector: Vector | None, links: dict[str, list[str]]) -> Vector:
        """A new (or virtual) item's embedding by the trained model, from text and links."""
        if text_vector is None:
            text_vector = np.zeros(self.model.item_projection.shape[1], dtype=np.float32)
        return self.model.embed_new_item(text_vector, links).numpy().astype(np.float32)

    @staticmethod
    def _entity_links(entities: Sequence[Entity]) -> dict[str, list[str]]:
        links: dict[str, list[str]] = {}
        for entity in entities:
            links.setdefault(ENTITY_RELATIONS[entity.label], []).append(entity.id)
        return links

    # -- writes (after the graph accepted them) -------------------------------------------

    def add_item(
        self,
        item_id: str,
        vector: Vector,
        title: str,
        categories: Sequence[str],
        name: str | None = None,
    ) -> bool:
        """`add_items` of one item."""
        [inductive] = self.add_items([ItemUpdate(item_id, vector, title, categories, name)])
        return inductive

    def add_items(self, updates: Sequence[ItemUpdate]) -> list[bool]:
        """Make items recommendable, or refresh them: each one's title, its display name when
        given, its categories (exactly these from now on) and its embedding, unless it is a
        trained item, whose learned embedding is kept (then False). As if one after the other,
        but the item matrix and all that grows with it are copied once."""
        with self._write_lock:
            self.titles = {**self.titles, **{update.id: update.title for update in updates}}
            if named := {update.id: update.name for update in updates if update.name}:
                self.names = {**self.names, **named}
            latest = {update.id: update for update in updates}  # an item given twice: its last
            known = {item: row for item in latest if (row := self.item_row.get(item)) is not None}
            new = [item for item in latest if item not in known]
            rows = {**known, **{item: len(self.item_ids) + n for n, item in enumerate(new)}}
            placed = [item for item in latest if rows[item] >= self.trained_items]
            if placed:  # new items, and items added since training again: their vectors
                at = np.array([rows[item] for item in placed], dtype=np.int64)
                vectors = np.stack([latest[item].vector for item in placed])
                # Readers take `items` first: everything indexed by its rows grows before it.
                self._borrow(at, vectors)
                self.popularity = np.append(self.popularity, np.zeros(len(new), np.float32))
                self.item_ids.extend(new)
                self.item_row.update({item: rows[item] for item in new})
                items = np.concatenate([self.items, np.empty((len(new), self.items.shape[1]),
                                                             dtype=np.float32)])  # fmt: skip
                items[at] = vectors
                self.items = items
                if self.index is not None:
                    self.index.extend(items)
            self._categorise({rows[item]: latest[item].categories for item in latest},
                             updated=set(known.values()))  # fmt: skip
            return [rows[update.id] >= self.trained_items for update in updates]

    def adopt_placed(self, source: Recommender) -> list[str]:
        """Take the items `source`, a recommender over the same model, placed since training:
        their rows, embeddings and borrowed terms as they are, nothing recomputed (titles,
        categories and popularity come with the catalogue). Before any item is placed here.
        Returns their ids."""
        assert source.name == self.name and len(self.item_ids) == self.trained_items
        with source._write_lock:
            placed = source.item_ids[self.trained_items :]
            items, borrowed = source.items, source.borrowed
        with self._write_lock:
            self.popularity = np.append(self.popularity, np.zeros(len(placed), np.float32))
            self.borrowed = borrowed  # never written in place: each change makes a new matrix
            self.item_ids.extend(placed)
            self.item_row.update({item: self.trained_items + n for n, item in enumerate(placed)})
            self.items = np.concatenate([self.items, items[self.trained_items :]])
            if self.index is not None:
                self.index.extend(self.items)
        return placed

    def _categorise(self, categories: dict[int, Sequence[str]], *, updated: set[int]) -> None:
        """Rows into their categories; those `updated` (not new) out of those they left."""
        if updated:
            stale = np.fromiter(updated, dtype=np.int64)
            for category, members in list(self.category_rows.items()):
                if not (held := np.isin(members, stale)).any():
                    continue
                left = [row for row in members[held] if category not in categories[row]]
                if left:
                    self.category_rows[category] = members[~np.isin(members, left)]
        joining: dict[str, list[int]] = {}
        for row, names in categories.items():
            for category in dict.fromkeys(names):
                joining.setdefault(category, []).append(row)
        for category, rows in joining.items():
            members = self.category_rows.get(category, np.zeros(0, dtype=np.int64))
            if len(fresh := np.setdiff1d(rows, members, assume_unique=True)):
                self.category_rows[category] = np.append(members, fresh)

    def _borrow(self, rows: NDArray[np.int64], vectors: Vector) -> None:
        """Items added since training, at `rows`, borrow the item-item term of the trained
        items nearest their `vectors`."""
        weights = borrow_weights(vectors, self.items[: self.trained_items], self.cold_neighbours)
        new = rows - self.trained_items
        had = self.borrowed.shape[0]
        source = np.arange(max(had, int(new.max()) + 1))  # each row's row in the stack below
        source[new] = had + np.arange(len(new))
        self.borrowed = sp.csr_matrix(sp.vstack([self.borrowed, weights], format="csr")[source])

    def record_event(self, user_id: str, item_id: str, kind: InteractionKind,
                     rating: float | None) -> None:  # fmt: skip
        row = self.item_row[item_id]
        weight = event_weight(kind, rating)
        with self._write_lock:
            seen = self.seen.get(user_id, set())
            if row not in seen:
                self.seen[user_id] = seen | {row}  # a new set: rankings may be reading the old
                popularity = self.popularity.copy()
                popularity[row] += 1
                self.popularity = popularity
            if weight:
                self.online[user_id] = self.online.get(user_id, 0.0) + weight * self.items[row]

    def fold_users(self, interactions: Iterable[UserInteraction]) -> None:
        """Users the model was not trained on, from their interactions in the graph (after a
        restart, say): each moves them as its event did online. Replaces what was folded."""
        folded: dict[str, Vector] = {}
        for interaction in interactions:
            row = self.item_row.get(interaction.item)
            weight = event_weight(interaction.kind, interaction.rating)
            if row is not None and weight and interaction.user not in self.user_row:
                vector = folded.get(interaction.user, 0.0) + weight * self.items[row]
                folded[interaction.user] = vector
        with self._write_lock:
            self.online.update(folded)
