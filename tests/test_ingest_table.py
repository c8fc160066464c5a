"""Your own tables (CSV and Parquet): the layout's checks, rows set aside with their numbers,
the graph they load into (against the real Neo4j) and `kgrec ingest table`."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from ingest.cli import ingest_app
from ingest.records import Rejected
from ingest.sources.files import SourceFormatError
from ingest.sources.table.load import TableFiles, check_tables, load_tables
from ingest.sources.table.read import (
    TableInteraction,
    TableItem,
    TableKind,
    check_table,
    read_table,
)
from kg import Graph
from kg.read import counts
from kg.write import GraphWriter, delete_all
from tests.helpers import snapshot

DATA = Path(__file__).parent / "data" / "table"
FILES = TableFiles(
    items=DATA / "items.csv",
    users=DATA / "users.csv",
    interactions=DATA / "interactions.csv",
    reviews=DATA / "reviews.csv",
)
HOSTILE = "') DETACH DELETE n //"
INJECTION = "x'}) MATCH (n) DETACH DELETE n //"


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    return path


def rejected(records: list[Any]) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in records if isinstance(r, Rejected)]


def as_parquet(files: TableFiles, folder: Path) -> TableFiles:
    """The CSV tables as Parquet, with the types a dataframe would give them."""
    numbers = ("price", "rating", "weight")
    paths: dict[str, Path] = {}
    for kind, source in files.given():
        with source.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        columns: dict[str, pa.Array] = {}
        for name in rows[0]:
            values: list[Any] = [row[name] or None for row in rows]
            if name == "ts":  # Parquet timestamps, not text
                values = [_timestamp(v) for v in values]
                columns[name] = pa.array(values, pa.timestamp("s", tz="UTC"))
            elif name in numbers:
                columns[name] = pa.array([v and float(v.lstrip("$")) for v in values])
            else:
                columns[name] = pa.array(values, pa.string())
        paths[kind] = folder / f"{kind}.parquet"
        pq.write_table(pa.table(columns), paths[kind])
    return TableFiles(**paths)


def _timestamp(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- the layout ----------------------------------------------------------------------------


def test_missing_columns_and_files_are_clear_errors(tmp_path: Path) -> None:
    no_id = write_csv(tmp_path / "items.csv", [["title", "price"], ["A", "1"]])
    with pytest.raises(SourceFormatError) as error:
        check_table(no_id, "items")
    assert str(error.value) == (
        f"items table {no_id} lacks item_id. Its columns: title, price. Pass a CSV or Parquet "
        "file with the columns item_id (required), title, description, brand, category, price."
    )
    no_ts = tmp_path / "events.parquet"
    pq.write_table(pa.table({"user_id": ["u"], "item_id": ["i"], "kind": ["view"]}), no_ts)
    with pytest.raises(SourceFormatError, match=r"lacks ts\. Its columns: user_id, item_id, kind"):
        check_table(no_ts, "interactions")
    with pytest.raises(FileNotFoundError, match=r"users table .*nope.csv does not exist"):
        check_table(tmp_path / "nope.csv", "users")
    wrong = write_csv(tmp_path / "items.xlsx", [["item_id"]])
    with pytest.raises(SourceFormatError, match=r"must be \.csv, \.csv\.gz or \.parquet"):
        check_table(wrong, "items")
    assert check_tables(FILES) == ["items.csv: ignoring unknown column(s) colour"]


def test_bad_csv_rows_are_set_aside_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    lines = [
        b"user_id,item_id,kind,ts,rating,extra",
        b"u1,i1,purchase,1500000000,,x",                  # 2 kept
        b"u1,i1,buy,1500000000,,",                        # 3
        b"u1,i1,view,yesterday,,",                        # 4
        b'u1,"i\n2",view,2020-01-01T12:00:00+02:00,7,',   # 5-6: a value spans two lines
        b"u1,i1,view,1500000000",                         # 7
        b"u\xff,i1,view,1500000000,,",                    # 8
        b",i1,view,1500000000,,",                         # 9
        b"",                                              # 10 blank: skipped
        b"u2,i3,rate,2020-01-01,4.5,",                    # 11 kept
    ]  # fmt: skip
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    assert check_table(path, "interactions") == ["extra"]
    records = list(read_table(path, "interactions"))
    assert rejected(records) == [
        (3, "invalid kind: Input should be 'view', 'click', 'cart', 'purchase' or 'rate'"),
        (4, "invalid ts: Value error, not unix seconds or an ISO-8601 date-time"),
        (5, "invalid rating: Input should be less than or equal to 5"),
        (7, "expected 6 fields, got 4"),
        (8, "not UTF-8"),
        (9, "missing user_id"),
    ]
    kept = [r for r in records if isinstance(r, TableInteraction)]
    assert [(r.user_id, r.item_id, r.kind, r.ts, r.rating) for r in kept] == [
        ("u1", "i1", "purchase", 1_500_000_000, None),
        ("u2", "i3", "rate", 1_577_836_800, 4.5),
    ]


def test_bad_parquet_rows_are_set_aside_with_their_row(tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    table = pa.table({
        "item_id": pa.array([1, 2, None, 4], pa.int64()),  # numeric ids become strings
        "price": pa.array([1.5, -2.0, 3.0, float("nan")]),
        "title": ["a", "b", "c", "d"],
    })  # fmt: skip
    pq.write_table(table, path)
    records = list(read_table(path, "items"))
    assert rejected(records) == [
        (2, "invalid price: Input should be greater than or equal to 0"),
        (3, "missing item_id"),
        (4, "invalid price: Input should be a finite number"),
    ]
    assert [r.item_id for r in records if isinstance(r, TableItem)] == ["1"]


# --- into the graph ------------------------------------------------------------------------


def test_csv_and_parquet_load_the_same_graph_and_a_rerun_changes_nothing(
    graph: Graph, tmp_path: Path
) -> None:
    summary = load_tables(GraphWriter(graph), FILES)
    assert [(t.source, t.read, t.kept) for t in summary.sources] == [
        ("items.csv", 4, 4), ("users.csv", 2, 2), ("interactions.csv", 4, 4), ("reviews.csv", 2, 2),
    ]  # fmt: skip
    result = counts(graph)
    assert result.nodes == {"User": 2, "Item": 4, "Brand": 4, "Category": 11, "Attribute": 0,
                            "Review": 2, "Entity": 0}  # fmt: skip
    assert result.relationships["INTERACTED"] == 4
    assert result.relationships["IN_CATEGORY"] == 4
    item = graph.read(
        "MATCH (i:Item {id: 'B000C1Z3LS'})-[:IN_CATEGORY]->(c), (i)-[:HAS_BRAND]->(b) "
        "RETURN i.description AS d, i.price AS p, c.id AS c, b.name AS b"
    )
    assert item == [{
        "d": "A bright, citrus scent. Layered with florals.", "p": 49.8,
        "c": "beauty > fragrance > women's > eau de parfum", "b": "Clinique",
    }]  # fmt: skip
    assert graph.read("MATCH (i:Item {id: 'B000Q0VBOS'}) RETURN i.title AS t") == [
        {"t": "Light Blue by Dolce & Gabbana for Women Eau De Toilette Spray, 0.84-Ounce"}
    ]
    events = graph.read(
        "MATCH (u)-[r:INTERACTED]->(i) RETURN u.id AS u, i.id AS i, r.kind AS kind, r.ts AS ts, "
        "r.split AS split, r.weight AS w, r.rating AS rating ORDER BY ts, kind"
    )
    assert events == [
        {"u": "A65UWTN0W4Z1E", "i": "B000BIVY24", "kind": "purchase", "ts": 1277596800,
         "split": "train", "w": 1.0, "rating": None},
        {"u": "A65UWTN0W4Z1E", "i": "B000TBZHNK", "kind": "view", "ts": 1277596900,
         "split": "valid", "w": 0.5, "rating": None},
        {"u": "A2NBUZIH3G31PD", "i": "B000C1Z3LS", "kind": "purchase", "ts": 1369180800,
         "split": "test", "w": 1.0, "rating": None},
        {"u": "A2NBUZIH3G31PD", "i": "B000C1Z3LS", "kind": "rate", "ts": 1369180800,
         "split": None, "w": 1.0, "rating": 4.0},
    ]  # fmt: skip
    assert graph.read("MATCH (r:Review) RETURN r.id AS id, r.text AS text ORDER BY id") == [
        {"id": "A65UWTN0W4Z1E:B000BIVY24:1277596800",
         "text": "Works great. Holds all day & smells nice."},
        {"id": "r-2", "text": "Lovely, light scent."},
    ]  # fmt: skip

    from_csv = snapshot(graph)
    again = load_tables(GraphWriter(graph, batch_size=1), FILES)
    assert (again.nodes_created, again.relationships_created) == (0, 0)
    assert snapshot(graph) == from_csv

    delete_all(graph)
    parquet = load_tables(GraphWriter(graph), as_parquet(FILES, tmp_path))
    assert [t.set_aside.total() for t in parquet.sources] == [0, 0, 0, 0]
    assert snapshot(graph) == from_csv


def test_hostile_strings_are_stored_as_plain_text(graph: Graph, tmp_path: Path) -> None:
    items = write_csv(tmp_path / "items.csv", [
        ["item_id", "title", "brand", "category"],
        [INJECTION, HOSTILE, HOSTILE, f"{HOSTILE} > {INJECTION}"],
        ["i2", "<script>alert(1)</script>Soap", "`Acme`", "Home"],
    ])  # fmt: skip
    reviews = write_csv(tmp_path / "reviews.csv", [
        ["review_id", "user_id", "item_id", "text"],
        [HOSTILE, INJECTION, INJECTION, f"{HOSTILE}\n{INJECTION}"],
    ])  # fmt: skip
    load_tables(GraphWriter(graph), TableFiles(items=items, reviews=reviews))
    assert graph.read("MATCH (i:Item) RETURN i.id AS id, i.title AS t ORDER BY id") == [
        {"id": "i2", "t": "Soap"}, {"id": INJECTION, "t": HOSTILE},
    ]  # fmt: skip
    assert graph.read("MATCH (b:Brand) RETURN b.name AS n ORDER BY n") == [
        {"n": HOSTILE}, {"n": "`Acme`"},
    ]  # fmt: skip
    leaf = graph.read("MATCH (:Item {id: $id})-[:IN_CATEGORY]->(c) RETURN c.id AS id",
                      {"id": INJECTION})  # fmt: skip
    assert leaf == [{"id": f"{HOSTILE.casefold()} > {INJECTION.casefold()}"}]
    assert graph.read("MATCH (u:User)-[:WROTE]->(r:Review) RETURN u.id AS u, r.text AS t") == [
        {"u": INJECTION, "t": f"{HOSTILE} {INJECTION}"}
    ]
    assert counts(graph).total_nodes == 2 + 2 + 3 + 1 + 1  # items, brands, categories, user, review


# --- the command ---------------------------------------------------------------------------


@pytest.mark.usefixtures("server_env")
def test_the_command_loads_and_reports(graph: Graph, tmp_path: Path) -> None:
    runner = CliRunner()
    kinds: tuple[TableKind, ...] = ("items", "interactions")
    args = [part for kind in kinds for part in (f"--{kind}", str(getattr(FILES, kind)))]
    result = runner.invoke(ingest_app, ["table", *args, "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    for expected in ("note: items.csv: ignoring unknown column(s) colour", "Source files",
                     "interactions.csv", "In the graph now", "Loaded in"):  # fmt: skip
        assert expected in result.output
    assert counts(graph).relationships["INTERACTED"] == 4

    bad = write_csv(tmp_path / "events.csv", [["user", "item"], ["u", "i"]])
    failed = runner.invoke(ingest_app, ["table", "--items", str(FILES.items),
                                        "--interactions", str(bad)])  # fmt: skip
    assert failed.exit_code == 1
    message = " ".join(failed.output.split())
    assert "lacks user_id, item_id, kind, ts" in message and "(required)" in message
    assert "Traceback" not in failed.output


# --- your own knowledge graph: item attributes, item links, entity triples -----------------


def film_shop(folder: Path) -> TableFiles:
    """Three films with attributes, links and a knowledge graph around them: entities with and
    without names, two relations between one pair, facts between entities and items."""
    return TableFiles(
        items=write_csv(folder / "items.csv", [
            ["item_id", "title"],
            ["i1", "The Dark Knight"], ["i2", "The Dark Knight Rises"], ["i3", "Inception"],
        ]),
        interactions=write_csv(folder / "interactions.csv", [
            ["user_id", "item_id", "kind", "ts"],
            ["u1", "i1", "purchase", "1600000000"], ["u2", "i3", "view", "1600000100"],
        ]),
        attributes=write_csv(folder / "attributes.csv", [
            ["item_id", "kind", "name"],
            ["i1", "genre", "Superhero Films"],
            ["i2", "Genre", "superhero film"],  # the same attribute, another surface form
            ["i3", "format", "Blu-ray"],
        ]),
        links=write_csv(folder / "links.csv", [
            ["source_id", "target_id", "type"],
            ["i1", "i2", "also_bought"], ["i2", "i3", "BOUGHT_TOGETHER"],
        ]),
        triples=write_csv(folder / "triples.csv", [
            ["head", "relation", "tail", "head_name", "tail_name"],
            ["i1", "film.film.sequel", "i2", "", ""],
            ["i1", "film.film.directed_by", "m.0nolan", "", "Christopher Nolan"],
            ["i2", "film.film.directed_by", "m.0nolan", "", ""],
            ["i3", "film.film.directed_by", "m.0nolan", "", "C. Nolan"],  # the first name stays
            ["i3", "film.film.written_by", "m.0nolan", "", ""],
            ["i1", "film.film.genre", "m.0action", "", ""],
            ["i2", "film.film.genre", "m.0action", "", ""],
            ["m.0nolan", "people.person.nationality", "m.0uk", "", "United Kingdom"],
            ["m.0wb", "film.production_company.films", "i3", "Warner Bros.", ""],
        ]),
    )  # fmt: skip


@pytest.mark.usefixtures("server_env")
def test_attributes_links_and_triples_load_through_the_command_once(
    graph: Graph, tmp_path: Path
) -> None:
    files = film_shop(tmp_path)
    args = [part for kind, path in files.given() for part in (f"--{kind}", str(path))]
    runner = CliRunner()
    result = runner.invoke(ingest_app, ["table", *args, "--no-extract"])
    assert result.exit_code == 0, result.output
    for name in ("attributes.csv", "links.csv", "triples.csv", "entities", "related"):
        assert name in result.output

    assert counts(graph).nodes == {"User": 2, "Item": 3, "Brand": 0, "Category": 0,
                                   "Attribute": 2, "Review": 0, "Entity": 4}  # fmt: skip
    assert graph.read(
        "MATCH (a:Attribute) RETURN a.id AS id, a.name AS name, a.kind AS kind, "
        "a.surface_forms AS forms ORDER BY id"
    ) == [
        {"id": "format:blu ray", "name": "Blu-ray", "kind": "format", "forms": ["Blu-ray"]},
        {"id": "genre:superhero film", "name": "Superhero Films", "kind": "genre",
         "forms": ["Superhero Films", "superhero film"]},
    ]  # fmt: skip
    assert graph.read(
        "MATCH (i:Item)-[r:HAS_ATTRIBUTE]->(a) RETURN i.id AS item, a.id AS attribute, "
        "r {.source, .extractor, .confidence, .mentions} AS r ORDER BY item"
    ) == [
        {"item": item, "attribute": attribute,
         "r": {"source": "metadata", "extractor": "metadata", "confidence": 1.0, "mentions": 1}}
        for item, attribute in (("i1", "genre:superhero film"), ("i2", "genre:superhero film"),
                                ("i3", "format:blu ray"))
    ]  # fmt: skip
    assert graph.read(
        "MATCH (a:Item)-[r:ALSO_BOUGHT|BOUGHT_TOGETHER]->(b:Item) "
        "RETURN a.id AS a, type(r) AS type, b.id AS b ORDER BY a"
    ) == [{"a": "i1", "type": "ALSO_BOUGHT", "b": "i2"},
          {"a": "i2", "type": "BOUGHT_TOGETHER", "b": "i3"}]  # fmt: skip

    # Entities with the name first given, or none at all (no `name` property).
    assert graph.read("MATCH (e:Entity) RETURN properties(e) AS e ORDER BY e.id") == [
        {"e": {"id": "m.0action"}},
        {"e": {"id": "m.0nolan", "name": "Christopher Nolan"}},
        {"e": {"id": "m.0uk", "name": "United Kingdom"}},
        {"e": {"id": "m.0wb", "name": "Warner Bros."}},
    ]
    facts = graph.read(
        "MATCH (a)-[r:RELATED]->(b) RETURN labels(a) AS a, a.id AS head, r.relation AS relation, "
        "labels(b) AS b, b.id AS tail, keys(r) AS keys ORDER BY head, relation"
    )
    assert all(row["keys"] == ["relation"] for row in facts)
    assert [(*row["a"], row["head"], row["relation"], *row["b"], row["tail"]) for row in facts] == [
        ("Item", "i1", "film.film.directed_by", "Entity", "m.0nolan"),
        ("Item", "i1", "film.film.genre", "Entity", "m.0action"),
        ("Item", "i1", "film.film.sequel", "Item", "i2"),
        ("Item", "i2", "film.film.directed_by", "Entity", "m.0nolan"),
        ("Item", "i2", "film.film.genre", "Entity", "m.0action"),
        ("Item", "i3", "film.film.directed_by", "Entity", "m.0nolan"),
        ("Item", "i3", "film.film.written_by", "Entity", "m.0nolan"),
        ("Entity", "m.0nolan", "people.person.nationality", "Entity", "m.0uk"),
        ("Entity", "m.0wb", "film.production_company.films", "Item", "i3"),
    ]

    loaded = snapshot(graph)
    again = runner.invoke(ingest_app, ["table", *args, "--no-extract", "--batch-size", "2"])
    assert again.exit_code == 0, again.output
    assert "0 nodes and 0 relationships created" in " ".join(again.output.split())
    assert snapshot(graph) == loaded

    delete_all(graph)
    parquet = load_tables(GraphWriter(graph), as_parquet(files, tmp_path))
    assert all(tally.set_aside.total() == 0 for tally in parquet.sources)
    assert snapshot(graph) == loaded


def test_bad_attribute_link_and_triple_rows_are_set_aside_and_the_rest_loads(
    graph: Graph, tmp_path: Path
) -> None:
    items = write_csv(tmp_path / "items.csv", [["item_id", "title"], ["i1", "A"], ["i2", "B"]])
    attributes = write_csv(tmp_path / "attributes.csv", [
        ["item_id", "kind", "name"],
        ["i1", "colour", "Red"],      # 2 kept
        ["i1", "k" * 65, "Red"],      # 3
        ["i1", "skin type", "dry"],   # 4
        ["i1", "Brand", "Acme"],      # 5
        ["i9", "colour", "Red"],      # 6
        ["i2", "colour", ""],         # 7
        ["i2", "colour", "!!!"],      # 8: read, but nothing names the attribute
    ])  # fmt: skip
    links = write_csv(tmp_path / "links.csv", [
        ["source_id", "target_id", "type"],
        ["i1", "i2", "also_viewed"],      # 2 kept
        ["i1", "i2", "SIMILAR"],          # 3
        ["i1", "i1", "ALSO_BOUGHT"],      # 4
        ["i1", "i9", "ALSO_BOUGHT"],      # 5
        ["i9", "i1", "bought_together"],  # 6
    ])  # fmt: skip
    triples = write_csv(tmp_path / "triples.csv", [
        ["head", "relation", "tail"],
        ["i1", "film.film.genre", "m.0action"],    # 2 kept
        ["i1", " ", "m.0action"],                  # 3
        ["i1", "r" * 257, "m.0action"],            # 4
        ["m.0action", "similar_to", "m.0action"],  # 5
    ])  # fmt: skip
    catalogue = {"i1", "i2"}
    assert rejected(list(read_table(attributes, "attributes", catalogue))) == [
        (3, "invalid kind: String should have at most 64 characters"),
        (4, "invalid kind: String should match pattern '^[a-z0-9_]+$'"),
        (5, "invalid kind: Value error, brands go in the items table's brand column"),
        (6, "invalid item_id: Value error, not in the items table"),
        (7, "missing name"),
    ]
    assert rejected(list(read_table(links, "links", catalogue))) == [
        (3, "invalid type: Input should be 'ALSO_BOUGHT', 'ALSO_VIEWED' or 'BOUGHT_TOGETHER'"),
        (4, "invalid target_id: Value error, the same as source_id (a self link)"),
        (5, "invalid target_id: Value error, not in the items table"),
        (6, "invalid source_id: Value error, not in the items table"),
    ]
    assert rejected(list(read_table(triples, "triples"))) == [
        (3, "missing relation"),
        (4, "invalid relation: String should have at most 256 characters"),
        (5, "invalid tail: Value error, the same as head (a self link)"),
    ]

    files = TableFiles(items=items, attributes=attributes, links=links, triples=triples)
    summary = load_tables(GraphWriter(graph), files)
    assert [(t.source, t.read, t.kept) for t in summary.sources] == [
        ("items.csv", 2, 2), ("attributes.csv", 7, 1), ("links.csv", 5, 1), ("triples.csv", 4, 1),
    ]  # fmt: skip
    assert [example.line for example in summary.sources[2].examples] == [3, 4, 5, 6]
    assert summary.sources[1].set_aside["no name once markup and punctuation are removed"] == 1
    result = counts(graph)
    assert (result.nodes["Item"], result.nodes["Attribute"], result.nodes["Entity"]) == (2, 1, 1)
    assert {rel: result.relationships[rel] for rel in ("HAS_ATTRIBUTE", "ALSO_VIEWED", "RELATED")
            } == {"HAS_ATTRIBUTE": 1, "ALSO_VIEWED": 1, "RELATED": 1}  # fmt: skip


@pytest.mark.usefixtures("server_env")
@pytest.mark.parametrize(
    ("kind", "header", "missing"),
    [("attributes", ["item_id", "name"], "kind"), ("links", ["source_id", "target_id"], "type"),
     ("triples", ["head", "tail", "head_name"], "relation")],
)  # fmt: skip
def test_a_new_table_without_its_columns_stops_the_load_before_any_write(
    graph: Graph, tmp_path: Path, kind: TableKind, header: list[str], missing: str
) -> None:
    table = write_csv(tmp_path / f"{kind}.csv", [header, ["x"] * len(header)])
    result = CliRunner().invoke(ingest_app, ["table", "--items", str(FILES.items),
                                             f"--{kind}", str(table)])  # fmt: skip
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"{kind} table {table} lacks {missing}" in message and "(required)" in message
    assert counts(graph).total_nodes == 0


@pytest.mark.usefixtures("server_env")
def test_a_stated_attribute_the_text_also_names_is_one_link_with_both_provenances(
    graph: Graph, tmp_path: Path
) -> None:
    files = TableFiles(
        items=write_csv(tmp_path / "items.csv", [
            ["item_id", "title", "brand"], ["s1", "Waterproof Hiking Boot, Brown", "Trailco"],
        ]),
        attributes=write_csv(tmp_path / "attributes.csv", [
            ["item_id", "kind", "name"], ["s1", "feature", "Waterproof"], ["s1", "fit", "Wide"],
        ]),
    )  # fmt: skip
    args = ["--items", str(files.items), "--attributes", str(files.attributes)]
    result = CliRunner().invoke(ingest_app, ["table", *args])
    assert result.exit_code == 0, result.output
    links = graph.read_values(
        "MATCH (:Item {id: 's1'})-[r:HAS_ATTRIBUTE]->(a:Attribute) "
        "RETURN a.id, r.sources, r.extractors"
    )
    by_id = {row[0]: (row[1], row[2]) for row in links}
    assert len(links) == len(by_id)  # one link per attribute
    assert by_id["feature:waterproof"] == (["metadata", "title"], ["metadata", "rule"])
    assert by_id["fit:wide"] == (["metadata"], ["metadata"])
    assert "colour:brown" in by_id  # found in the title only
