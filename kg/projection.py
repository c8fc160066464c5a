"""The part of the graph explanation paths walk, held in memory: the paths `kg.paths` asks
Neo4j for, found without a round trip.

`PathProjection.read` takes, in a few streaming reads, every user, item, brand, category,
attribute and entity (id and name) and the relationships the shapes of `kg.paths` cross, as
CSR adjacency by row node: a user's INTERACTED edges (with kind), an item's INTERACTED edges
from its users, its item links (ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|RELATED, either
direction, the direction kept), its HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE edges and its RELATED
edges to entities (with relation). `candidates` searches the same shapes with the same
exclusions over it in numpy, each shape joining its start side and its item side on the middle
node as the query does (a category's thousands of items are never expanded). It answers with
each candidate's nodes as index arrays, so that ranking (`api.explain`) scores them all in numpy
and builds only the few it tells, in the query's raw form. Every path it returns
is one the graph held when it was read (or that the API wrote since: `add_interactions`,
`add_item`), so its Cypher replays.

A popular item's users and links are sampled (`CAP` of them, evenly, in a fixed order), so
one request's work stays bounded; Neo4j's query stops at `per_item` paths a target instead,
so the two may offer different candidates for an item with more than that.

Writes swap in new arrays (copy on write, under a lock): a request reads one consistent
`Edges` snapshot; node tables only grow.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kg.connection import Graph
from kg.paths import RawPath
from kg.records import InteractionRow

Ints = NDArray[np.int64]
# The nodes and relationships of a path up to and including its item m.
Opening = tuple[list[list[Any]], list[list[Any]]]
# A shape's candidates node by node along the path: the table of the node at that position and
# each candidate's row in it.
Positions = list[tuple["Nodes", "Ints"]]
NodeKey = tuple[str, str]  # (label, id)
LINK_TYPES = ("ALSO_BOUGHT", "ALSO_VIEWED", "BOUGHT_TOGETHER", "RELATED")
HAS_TYPES = ("HAS_BRAND", "IN_CATEGORY", "HAS_ATTRIBUTE")
FACT_LABELS = ("Brand", "Category", "Attribute")
CAP = 256  # an item's users (or links) one request looks at, at most
NAME = "toString(coalesce(n.name, n.title))"  # what the paths query returns as a node's name
# Each query collects its rows into one record (`Graph.read_collected`).
NODES = {
    "User": f"MATCH (n:User) RETURN collect(['User', n.id, {NAME}])",
    "Item": f"MATCH (n:Item) RETURN collect(['Item', n.id, {NAME}])",
    "Fact": "MATCH (n) WHERE n:Brand OR n:Category OR n:Attribute "
    f"RETURN collect([labels(n)[0], n.id, {NAME}])",
    "Entity": f"MATCH (n:Entity) RETURN collect(['Entity', n.id, {NAME}])",
}
# Edges grouped by their start node: its id, then the end's id and the relationship's
# properties per edge.
# They grow with the edges: read a page of start nodes at a time (`Graph.read_collected_paged`).
INTERACTED = (
    "MATCH (u:User)-[r:INTERACTED]->(i:Item) WHERE u.id > $after AND u.id <= $upto "
    "WITH u, collect([i.id, r.kind, r.ts]) AS edges RETURN collect([u.id, edges])"
)
LINKED = (
    "MATCH (a:Item)-[r:{type}]->(b:{label}) WHERE a.id > $after AND a.id <= $upto "
    "WITH a, collect([b.id, r.relation]) AS edges RETURN collect([a.id, edges])"
)


class Nodes:
    """One table of nodes by (label, id), each with its name; it only grows."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []
        self.names: list[str | None] = []
        self.index: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, label: str, node_id: str, name: str | None = None) -> int:
        """The node's row, added if new; a name given replaces the one held."""
        key = (label, node_id)
        row = self.index.get(key)
        if row is None:
            self.keys.append(key)
            self.names.append(name)
            row = self.index[key] = len(self.keys) - 1
        elif name is not None:
            self.names[row] = name
        return row

    def raw(self, row: int) -> list[Any]:
        label, node_id = self.keys[row]
        return [label, node_id, self.names[row]]

    def rows(self, label: str, ids: Iterable[str]) -> Ints:
        """The rows of those of `ids` that are nodes here, each once."""
        found = {self.index.get((label, node_id)) for node_id in ids}
        return np.array(sorted(row for row in found if row is not None), dtype=np.int64)


class Strings:
    """Relationship properties (kinds, relations) as codes; 0 is None."""

    def __init__(self) -> None:
        self.values: list[str | None] = [None]
        self.codes: dict[str | None, int] = {None: 0}

    def code(self, value: str | None) -> int:
        found = self.codes.get(value)
        if found is None:
            self.values.append(value)
            found = self.codes[value] = len(self.values) - 1
        return found


@dataclass(frozen=True)
class Adjacency:
    """Edges grouped by row node (CSR): `other` the node at the far end, `kind` what kind of
    edge (a type's index, direction), `prop` a `Strings` code, `ts` an interaction's time."""

    indptr: Ints
    other: Ints
    kind: Ints
    prop: Ints
    ts: Ints

    @classmethod
    def build(
        cls, rows: int, row: Ints, other: Ints, kind: Ints, prop: Ints, ts: Ints
    ) -> Adjacency:
        """From one array per column, edges kept in their order within a row."""
        order = np.argsort(row, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=rows))])
        return cls(indptr.astype(np.int64), other[order], kind[order], prop[order], ts[order])

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def expand(self, rows: Ints, cap: int = CAP) -> tuple[Ints, Ints]:
        """(position in `rows`, edge) of each row's edges, at most `cap` a row, evenly spread
        over a longer row. Rows past this table (nodes added since its snapshot) have none."""
        starts = self.indptr[np.minimum(rows, self.rows)]
        counts = self.indptr[np.minimum(rows + 1, self.rows)] - starts
        taken = np.minimum(counts, cap)
        origin = np.repeat(np.arange(len(rows)), taken)
        step = np.arange(len(origin)) - np.repeat(np.cumsum(taken) - taken, taken)
        return origin, starts[origin] + step * counts[origin] // taken[origin]

    def has(self, row: int, other: int, kind: int, prop: int, ts: int) -> bool:
        if row >= self.rows:
            return False
        edges = slice(self.indptr[row], self.indptr[row + 1])
        return bool(np.any((self.other[edges] == other) & (self.kind[edges] == kind)
                           & (self.prop[edges] == prop) & (self.ts[edges] == ts)))  # fmt: skip

    def added(self, rows: int, edges: Sequence[tuple[int, int, int, int, int]]) -> Adjacency:
        """A copy with `rows` rows and these edges appended to their rows."""
        indptr = np.concatenate([self.indptr, np.full(rows - self.rows, self.indptr[-1])])
        if not edges:
            return replace(self, indptr=indptr)
        new = np.array(edges, dtype=np.int64).T
        at = indptr[new[0] + 1]
        counts = np.bincount(new[0], minlength=rows)
        old = (self.other, self.kind, self.prop, self.ts)
        columns = (
            np.insert(column, at, values) for column, values in zip(old, new[1:], strict=True)
        )
        return Adjacency(indptr + np.concatenate([[0], np.cumsum(counts)]), *columns)

    def removed(self, row: int, other: int, kind: int) -> Adjacency:
        """A copy without the row's edges to `other` of this kind."""
        if row >= self.rows:
            return self
        start, end = self.indptr[row], self.indptr[row + 1]
        gone = start + np.flatnonzero((self.other[start:end] == other)
                                      & (self.kind[start:end] == kind))  # fmt: skip
        if not len(gone):
            return self
        indptr = self.indptr.copy()
        indptr[row + 1 :] -= len(gone)
        columns = (np.delete(column, gone) for column in (self.other, self.kind, self.prop,
                                                           self.ts))  # fmt: skip
        return Adjacency(indptr, *columns)


@dataclass(frozen=True)
class Edges:
    """One consistent snapshot of every adjacency a search reads."""

    interacted: Adjacency  # user -> item, kind: 0, prop: the interaction's kind
    interactors: Adjacency  # item -> user, the same edges
    links: Adjacency  # item -> item, kind: type index * 2 + 1 if stored from the row item
    has: Adjacency  # item -> fact (brand, category, attribute), kind: the HAS_TYPES index
    related: Adjacency  # item -> entity, prop: the relation


@dataclass(frozen=True)
class Found:
    """One shape's candidate paths, as row arrays, and how to turn row j into a RawPath."""

    targets: Ints  # the target item of each candidate
    nodes: Positions
    build: Callable[[int], RawPath]


@dataclass(frozen=True)
class Candidates:
    """The candidate paths a search keeps, numbered shape by shape in the graph's order: each
    one's target, its hops as pairs of nodes (indexes into `keys`, each node once), and how to
    build it. Ranking needs only the hops; only the paths it picks are built."""

    targets: list[str]
    keys: list[NodeKey]
    hops: tuple[Ints, Ints, Ints]  # (candidate, node, next node) per hop
    build: Callable[[int], RawPath]

    def __len__(self) -> int:
        return len(self.targets)

    def by_target(self) -> dict[str, list[RawPath]]:
        """Every candidate built, per target in order."""
        answer: dict[str, list[RawPath]] = {}
        for n, target in enumerate(self.targets):
            answer.setdefault(target, []).append(self.build(n))
        return answer


def _zeros(*like: Ints) -> Ints:
    return np.zeros(sum(map(len, like)), dtype=np.int64)


def _fact_label(rel_type: str) -> str:
    return FACT_LABELS[HAS_TYPES.index(rel_type)]


def _join(left: Ints, right: Ints) -> tuple[Ints, Ints]:
    """Every (i, j) with left[i] == right[j]."""
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    lo = np.searchsorted(ordered, left, "left")
    hi = np.searchsorted(ordered, left, "right")
    counts = hi - lo
    i = np.repeat(np.arange(len(left)), counts)
    step = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, order[lo[i] + step]


def _capped(found: Sequence[Found], goal: Ints, per_item: int) -> list[Ints]:
    """Per shape, which of its candidates are among the first `per_item` of their target,
    shape by shape (as the query stops at `per_item` paths a target)."""
    taken = np.zeros(len(goal), dtype=np.int64)
    kept: list[Ints] = []
    for shape in found:
        position = np.searchsorted(goal, shape.targets)
        order = np.argsort(position, kind="stable")
        ordered = position[order]
        rank = np.empty(len(position), dtype=np.int64)
        rank[order] = np.arange(len(position)) - np.searchsorted(ordered, ordered)
        keep = np.flatnonzero(rank + taken[position] < per_item)
        taken += np.bincount(position[keep], minlength=len(goal))
        kept.append(keep)
    return kept


def _member(values: Ints, sorted_set: Ints) -> NDArray[np.bool_]:
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[at] == values)


class PathProjection:
    def __init__(self) -> None:
        self.users = Nodes()
        self.items = Nodes()
        self.facts = Nodes()
        self.entities = Nodes()
        self.strings = Strings()
        nothing = np.zeros(0, dtype=np.int64)
        empty = Adjacency.build(0, nothing, nothing, nothing, nothing, nothing)
        self.edges = Edges(empty, empty, empty, empty, empty)
        self._writing = threading.Lock()

    @classmethod
    def read(cls, graph: Graph) -> PathProjection:
        """The projection of the graph as it is now: one read (one record) per node table, and
        per edge type a record a page of start nodes."""
        projection = cls()
        tables = {"User": projection.users, "Item": projection.items,
                  "Fact": projection.facts, "Entity": projection.entities}  # fmt: skip
        for name, table in tables.items():
            for row in graph.read_collected(NODES[name]):
                table.add(*row)
        read = partial(projection._read_edges, graph)
        user, item, kind, ts = read(INTERACTED, projection.users, "User", "Item")
        links = [read(LINKED.format(type=rel_type, label="Item"), projection.items, "Item", "Item")
                 for rel_type in LINK_TYPES]  # fmt: skip
        has = [read(LINKED.format(type=rel_type, label=label), projection.items, "Item", label)
               for rel_type, label in zip(HAS_TYPES, FACT_LABELS, strict=True)]  # fmt: skip
        related = read(LINKED.format(type="RELATED", label="Entity"), projection.items, "Item",
                       "Entity")  # fmt: skip
        users, items = len(projection.users), len(projection.items)  # with those edges added
        # An item link from both ends: kind = type index * 2, + 1 on the end it starts from.
        starts, ends, props = (np.concatenate([found[c] for found in links]) for c in (0, 1, 2))
        types = np.concatenate([np.full(len(found[0]), 2 * n) for n, found in enumerate(links)])
        has_types = np.concatenate([np.full(len(found[0]), n) for n, found in enumerate(has)])
        has_items, has_facts = (np.concatenate([found[c] for found in has]) for c in (0, 1))
        projection.edges = Edges(
            interacted=Adjacency.build(users, user, item, _zeros(user), kind, ts),
            interactors=Adjacency.build(items, item, user, _zeros(user), kind, ts),
            links=Adjacency.build(
                items, np.concatenate([starts, ends]), np.concatenate([ends, starts]),
                np.concatenate([types + 1, types]), np.concatenate([props, props]),
                _zeros(starts, ends),
            ),
            has=Adjacency.build(items, has_items, has_facts, has_types, _zeros(has_items),
                                _zeros(has_items)),
            related=Adjacency.build(items, related[0], related[1], _zeros(related[0]),
                                    related[2], _zeros(related[0])),
        )  # fmt: skip
        return projection

    def _read_edges(
        self, graph: Graph, query: str, starts: Nodes, start_label: str, end_label: str
    ) -> tuple[Ints, Ints, Ints, Ints]:
        """(start row, end row, property code, ts) per edge the grouped query returns. A node
        written after its table was read (a write in flight) is added, unnamed: the graph
        holds it."""
        ends = {"User": self.users, "Item": self.items, "Entity": self.entities}.get(
            end_label, self.facts
        )
        found: list[tuple[int, int, int, int]] = []
        code = self.strings.code
        for start_id, edges in graph.read_collected_paged(query, start_label):
            start = starts.add(start_label, start_id)
            for end_id, prop, *ts in edges:
                found.append((start, ends.add(end_label, end_id), code(prop), ts[0] if ts else 0))
        columns = np.array(found, dtype=np.int64).reshape(-1, 4).T
        return columns[0], columns[1], columns[2], columns[3]

    # -- writes the API makes -------------------------------------------------------------

    def add_interactions(self, interactions: Iterable[InteractionRow]) -> None:
        """INTERACTED edges written; one held already (same ends, kind, ts) is skipped."""
        with self._writing:
            edges = self.edges
            new: list[tuple[int, int, int, int, int]] = []
            for row in interactions:
                user, item = (
                    self.users.add("User", row.user_id),
                    self.items.add("Item", row.item_id),
                )
                edge = (user, item, 0, self.strings.code(row.kind), row.ts)
                if edge not in new and not edges.interacted.has(*edge):
                    new.append(edge)
            users, items = len(self.users), len(self.items)
            self.edges = replace(
                edges,
                interacted=edges.interacted.added(users, new),
                interactors=edges.interactors.added(items, [(i, u, k, p, t)
                                                            for u, i, k, p, t in new]),
                **{name: getattr(edges, name).added(items, [])
                   for name in ("links", "has", "related")},
            )  # fmt: skip

    def add_item(
        self,
        item_id: str,
        name: str | None,
        links: Iterable[tuple[str, str]],
        names: Mapping[tuple[str, str], str | None],
        dropped: Iterable[tuple[str, str]],
    ) -> None:
        """An item written: its name, its (type, target id) links (HAS_BRAND & co. and item
        links from it; other types are no part of paths), the `names` of the brands,
        categories and attributes written with it by (label, id), and the (type, target id)
        of the links the write deleted."""
        with self._writing:
            edges = self.edges
            item = self.items.add("Item", item_id, name)
            has = edges.has
            new_has: list[tuple[int, int, int, int, int]] = []
            new_links: list[tuple[int, int, int, int, int]] = []
            for rel_type, target_id in dropped:
                if (row := self.facts.index.get((_fact_label(rel_type), target_id))) is not None:
                    has = has.removed(item, row, HAS_TYPES.index(rel_type))
            for rel_type, target_id in links:
                if rel_type in HAS_TYPES:
                    label = _fact_label(rel_type)
                    fact = self.facts.add(label, target_id, names.get((label, target_id)))
                    edge = (item, fact, HAS_TYPES.index(rel_type), 0, 0)
                    if edge not in new_has and not has.has(*edge):
                        new_has.append(edge)
                elif rel_type in LINK_TYPES:
                    other, kind = self.items.add("Item", target_id), LINK_TYPES.index(rel_type) * 2
                    edge = (item, other, kind + 1, 0, 0)
                    if edge not in new_links and not edges.links.has(*edge):
                        new_links += [edge, (other, item, kind, 0, 0)]
            users, items = len(self.users), len(self.items)
            self.edges = Edges(
                interacted=edges.interacted.added(users, []),
                interactors=edges.interactors.added(items, []),
                links=edges.links.added(items, new_links),
                has=has.added(items, new_has),
                related=edges.related.added(items, []),
            )

    # -- search ---------------------------------------------------------------------------

    def candidates(
        self,
        targets: Sequence[str],
        *,
        user_id: str | None = None,
        liked: Sequence[str] = (),
        entities: Sequence[str] = (),
        per_item: int = 30,
    ) -> Candidates:
        """What `kg.paths.explanation_paths` answers, from memory, not yet built: up to
        `per_item` candidate paths to each target, the shapes in the query's order; a target
        no path reaches has none."""
        edges = self.edges  # one snapshot for the whole search
        goal = self.items.rows("Item", targets)
        found: list[Found] = []
        user = self.users.index.get(("User", user_id)) if user_id else None
        if user is not None and len(goal):
            _, interactions = edges.interacted.expand(np.array([user]))
            start = edges.interacted.other[interactions]
            opening = partial(self._opening, user, interactions, edges.interacted)
            found += self._from_items(edges, start, goal, opening, partial(self._user_items,
                                                                          user, start))  # fmt: skip
            found.append(self._co_customers(edges, user, interactions, goal))
        if liked and len(goal):
            likes = self.items.rows("Item", liked)
            found += self._from_items(
                edges, likes, goal, lambda j: ([self.items.raw(likes[j])], []),
                lambda origin: [(self.items, likes[origin])],
            )  # fmt: skip
        if entities and len(goal):
            chosen = np.array(sorted({row for label in FACT_LABELS for node_id in entities
                                      if (row := self.facts.index.get((label, node_id)))
                                      is not None}), dtype=np.int64)  # fmt: skip
            found += self._from_entities(edges, chosen, goal)
        return self._indexed(found, _capped(found, goal, per_item))

    def _indexed(self, found: Sequence[Found], kept: Sequence[Ints]) -> Candidates:
        """The `kept` candidates of each shape `found`, numbered shape by shape, their nodes
        indexed once."""
        starts = np.cumsum([0] + [len(keep) for keep in kept])
        # Each node once: its table's number and its row as one code. `columns`: per shape and
        # position on the path, the code of each kept candidate's node there.
        tables = [self.users, self.items, self.facts, self.entities]
        stride = max(map(len, tables)) + 1
        number = {id(table): n for n, table in enumerate(tables)}
        columns = [number[id(table)] * stride + rows[keep]
                   for shape, keep in zip(found, kept, strict=True)
                   for table, rows in shape.nodes]  # fmt: skip
        codes, index = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *columns]),
                                 return_inverse=True)  # fmt: skip
        keys = [tables[code // stride].keys[code % stride] for code in codes.tolist()]
        along = iter(np.split(index, np.cumsum([len(column) for column in columns])[:-1]))
        hops: list[tuple[Ints, Ints, Ints]] = [(np.zeros(0, dtype=np.int64),) * 3]
        for shape, start, keep in zip(found, starts[:-1], kept, strict=True):
            nodes = [next(along) for _ in shape.nodes]
            candidate = start + np.arange(len(keep))
            hops += [(candidate, a, b) for a, b in itertools.pairwise(nodes)]
        path, a, b = (np.concatenate([hop[c] for hop in hops]) for c in range(3))

        def build(n: int) -> RawPath:
            shape = int(np.searchsorted(starts, n, "right")) - 1
            return found[shape].build(int(kept[shape][n - starts[shape]]))

        targets = [self.items.keys[row][1] for shape, keep in zip(found, kept, strict=True)
                   for row in shape.targets[keep].tolist()]  # fmt: skip
        return Candidates(targets, keys, (path, a, b), build)

    def _user_items(self, user: int, start: Ints, origin: Ints) -> Positions:
        """The opening's nodes, (u) and (m), of candidates from the user's `start[origin]`."""
        return [(self.users, np.full(len(origin), user)), (self.items, start[origin])]

    def _opening(self, user: int, interactions: Ints, adjacency: Adjacency, j: int) -> Opening:
        """(u)-[:INTERACTED]->(m), the user's j-th interaction: its nodes and relationship."""
        edge = interactions[j]
        kind = self.strings.values[adjacency.prop[edge]]
        hop = ["INTERACTED", self.users.keys[user][1], kind, None]
        return [self.users.raw(user), self.items.raw(adjacency.other[edge])], [hop]

    def _link(self, row: int, edge: int, links: Adjacency) -> list[Any]:
        """An item link as the query returns it; `row` the item whose edge list holds it."""
        other, kind = int(links.other[edge]), int(links.kind[edge])
        start = row if kind % 2 else other
        relation = self.strings.values[links.prop[edge]]
        return [LINK_TYPES[kind // 2], self.items.keys[start][1], None, relation]

    def _from_items(
        self,
        edges: Edges,
        start: Ints,
        goal: Ints,
        opening: Callable[[int], Opening],
        opening_nodes: Callable[[Ints], Positions],
    ) -> list[Found]:
        """The shapes from items m (the user's, each after its opening hop, or liked ones):
        (m)-[link]-(t), (m)-[:HAS_...]->(x)<-[:HAS_...]-(t), (m)-[r]->(:Entity)<-[r]-(t)."""
        origin, link = edges.links.expand(start)
        t = edges.links.other[link]
        keep = _member(t, goal) & (t != start[origin])
        origin, link = origin[keep], link[keep]

        def linked(j: int) -> RawPath:
            nodes, rels = opening(int(origin[j]))
            edge = int(link[j])
            target = self.items.raw(edges.links.other[edge])
            return RawPath(
                [*nodes, target], [*rels, self._link(int(start[origin[j]]), edge, edges.links)]
            )

        t = edges.links.other[link]
        return [
            Found(t, [*opening_nodes(origin), (self.items, t)], linked),
            self._shared(edges.has, self.facts, start, goal, opening, opening_nodes),
            self._shared(edges.related, self.entities, start, goal, opening, opening_nodes),
        ]

    def _shared(
        self,
        adjacency: Adjacency,
        middle: Nodes,
        start: Ints,
        goal: Ints,
        opening: Callable[[int], Opening],
        opening_nodes: Callable[[Ints], Positions],
    ) -> Found:
        """(m)-[a]->(x)<-[b]-(t), m <> t: two HAS_... edges to a brand, category or attribute,
        or two RELATED edges to an entity with the same relation; joined on x from both item
        sides."""
        facts = middle is self.facts
        from_m, a = adjacency.expand(start)
        from_t, b = adjacency.expand(goal)
        # A fact: x alone; an entity: x and the relation (None never equals anything).
        width = len(self.strings.values) + 1
        keys = adjacency.other * width + (0 if facts else adjacency.prop)
        i, j = _join(keys[a], keys[b])
        origin, a, b, t = from_m[i], a[i], b[j], goal[from_t[j]]
        keep = start[origin] != t
        if not facts:
            keep &= adjacency.prop[a] != 0
        origin, a, b, t = origin[keep], a[keep], b[keep], t[keep]

        def hop(item: int, edge: int) -> list[Any]:
            start_id = self.items.keys[item][1]
            if facts:
                return [HAS_TYPES[adjacency.kind[edge]], start_id, None, None]
            return ["RELATED", start_id, None, self.strings.values[adjacency.prop[edge]]]

        def shared(n: int) -> RawPath:
            nodes, rels = opening(int(origin[n]))
            m, target = int(start[origin[n]]), int(t[n])
            return RawPath(
                [*nodes, middle.raw(int(adjacency.other[a[n]])), self.items.raw(target)],
                [*rels, hop(m, int(a[n])), hop(target, int(b[n]))],
            )

        positions = [*opening_nodes(origin), (middle, adjacency.other[a]), (self.items, t)]
        return Found(t, positions, shared)

    def _co_customers(self, edges: Edges, user: int, interactions: Ints, goal: Ints) -> Found:
        """(u)-[:INTERACTED]->(m)<-[:INTERACTED]-(v)-[:INTERACTED]->(t), v <> u, m <> t:
        joined on v, the users of the user's items and of the targets (each sampled)."""
        users = edges.interactors
        start = edges.interacted.other[interactions]
        from_m, r1 = users.expand(start)
        from_t, r2 = users.expand(goal)
        i, j = _join(users.other[r1], users.other[r2])
        origin, r1, r2, t = from_m[i], r1[i], r2[j], goal[from_t[j]]
        keep = (users.other[r1] != user) & (start[origin] != t)
        origin, r1, r2, t = origin[keep], r1[keep], r2[keep], t[keep]

        def co_customer(n: int) -> RawPath:
            nodes, rels = self._opening(user, interactions, edges.interacted, int(origin[n]))
            other = self.users.raw(users.other[r1[n]])
            did = [["INTERACTED", other[1], self.strings.values[users.prop[edge]], None]
                   for edge in (r1[n], r2[n])]  # fmt: skip
            return RawPath([*nodes, other, self.items.raw(int(t[n]))], [*rels, *did])

        positions = [(self.users, np.full(len(t), user)), (self.items, start[origin]),
                     (self.users, users.other[r1]), (self.items, t)]  # fmt: skip
        return Found(t, positions, co_customer)

    def _from_entities(self, edges: Edges, chosen: Ints, goal: Ints) -> list[Found]:
        """(e)<-[:HAS_...]-(t) and (e)<-[:HAS_...]-(x:Item)-[link]-(t), x <> t, e a brand,
        category or attribute asked for; from the targets' side only."""
        has, links = edges.has, edges.links
        from_t, h = has.expand(goal)
        keep = _member(has.other[h], chosen)
        from_t, h = from_t[keep], h[keep]

        def own(n: int) -> RawPath:
            t, edge = int(goal[from_t[n]]), int(h[n])
            hop = [HAS_TYPES[has.kind[edge]], self.items.keys[t][1], None, None]
            return RawPath([self.facts.raw(int(has.other[edge])), self.items.raw(t)], [hop])

        from_t2, link = links.expand(goal)
        x = links.other[link]
        keep = x != goal[from_t2]
        from_t2, link, x = from_t2[keep], link[keep], x[keep]
        from_x, h2 = has.expand(x)
        keep = _member(has.other[h2], chosen)
        from_x, h2 = from_x[keep], h2[keep]

        def via(n: int) -> RawPath:
            edge, x_row = int(h2[n]), int(x[from_x[n]])
            t = int(goal[from_t2[from_x[n]]])
            hop = [HAS_TYPES[has.kind[edge]], self.items.keys[x_row][1], None, None]
            nodes = [self.facts.raw(int(has.other[edge])), self.items.raw(x_row), self.items.raw(t)]
            return RawPath(nodes, [hop, self._link(t, int(link[from_x[n]]), links)])

        owned, reached = goal[from_t], goal[from_t2[from_x]]
        return [
            Found(owned, [(self.facts, has.other[h]), (self.items, owned)], own),
            Found(reached, [(self.facts, has.other[h2]), (self.items, x[from_x]),
                            (self.items, reached)], via),
        ]  # fmt: skip
