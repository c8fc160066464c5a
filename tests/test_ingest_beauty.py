"""Amazon 2014 Beauty ingest: a real excerpt of both folders (tests/data/beauty), hostile files,
the graph it writes (against the real Neo4j) and `kgrec ingest beauty` as a user runs it."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.cli import ingest_app
from ingest.records import Rejected
from ingest.sources.beauty.load import BRAND_CHECK, CATEGORY_CHECK, load_beauty
from ingest.sources.beauty.read import (
    BeautyFiles,
    IndexLine,
    read_index_lines,
    read_items,
    read_label_pairs,
    read_names,
)
from ingest.sources.files import SourceFormatError
from ingest.summary import IngestSummary, SourceTally
from kg import Graph
from kg.read import counts
from kg.write import GraphWriter
from tests.helpers import snapshot

EXCERPT = Path(__file__).parent / "data" / "beauty"
FILES = BeautyFiles(kg=EXCERPT / "kg", seq=EXCERPT / "seq")
# Counted from the excerpt's files: 40 products, 30 users, 27 train + 6 test pairs; link lines
# name 570 + 408 + 31 related products (none the product itself), 821 of them outside the
# catalogue.
PRODUCTS, USERS, TRAIN, TEST = 40, 30, 27, 6
LINKS = {"ALSO_BOUGHT": 570, "ALSO_VIEWED": 408, "BOUGHT_TOGETHER": 31}
OUTSIDE = 821


def gz_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        return stream.read().split("\n")[:-1]


def write_gz(path: Path, lines: list[str]) -> None:
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode()))


def tallies(summary: IngestSummary) -> dict[str, SourceTally]:
    return {tally.source: tally for tally in summary.sources}


@pytest.fixture()
def copy(tmp_path: Path) -> BeautyFiles:
    """A copy of the excerpt to damage."""
    shutil.copytree(EXCERPT, tmp_path / "beauty", ignore=shutil.ignore_patterns("*.py", "*.md"))
    return BeautyFiles(kg=tmp_path / "beauty" / "kg", seq=tmp_path / "beauty" / "seq")


# --- reading -------------------------------------------------------------------------------


def test_the_excerpt_reads_in_full() -> None:
    products = list(read_names(FILES.pgpr("product")))
    assert [p.index for p in products if not isinstance(p, Rejected)] == list(range(PRODUCTS))
    items = list(read_items(FILES.items))
    assert len(items) == PRODUCTS and not any(isinstance(i, Rejected) for i in items)
    pairs = list(read_label_pairs(FILES.train_labels, USERS, PRODUCTS))
    assert len(pairs) == TRAIN and not any(isinstance(p, Rejected) for p in pairs)


def test_unknown_values_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "items.tsv.gz"
    write_gz(path, ["item_id\ttitle\tbrand\tprice\tcategories",
                    "B1\tunknown\tunknown\tunknown\tMakeup|Face",
                    "B2\tA title\t\t3.50\tunknown"])  # fmt: skip
    first, second = read_items(path)
    assert not isinstance(first, Rejected) and not isinstance(second, Rejected)
    assert (first.title, first.brand, first.price, first.categories) == ("", "", "", "Makeup|Face")
    assert (second.title, second.price, second.categories) == ("A title", "3.50", "")


def test_hostile_lines_are_set_aside_with_their_reason(tmp_path: Path) -> None:
    links = tmp_path / "also_viewed_p_p.txt.gz"
    write_gz(links, ["0 1", "", "2 x7", "5", "-1", "1 2 3"])
    records = list(read_index_lines(links, 4, "related_product.txt"))
    assert records[0] == IndexLine(index=0, targets=(0, 1))
    assert records[1] == IndexLine(index=1, targets=())  # an empty line: no links
    assert [(r.line, r.reason) for r in records if isinstance(r, Rejected)] == [
        (3, "not an index: 'x7'"),
        (4, "index 5 out of range (related_product.txt has 4 lines)"),
        (5, "not an index: '-1'"),
    ]
    assert records[-1] == IndexLine(index=5, targets=(1, 2, 3))

    labels = tmp_path / "train_labels.txt.gz"
    write_gz(labels, ["0\t1\t2", "1", "7\t1", "1\t9", "2\t0"])
    pairs = list(read_label_pairs(labels, users=3, items=3))
    assert [(r.line, r.reason) for r in pairs if isinstance(r, Rejected)] == [
        (2, "expected user_idx<TAB>item_idx[<TAB>item_idx...], got 1 column"),
        (3, "index 7 out of range (users.txt has 3 lines)"),
        (4, "index 9 out of range (product.txt has 3 lines)"),
    ]
    assert [(p.user, p.item) for p in pairs if not isinstance(p, Rejected)] == [
        (0, 1), (0, 2), (2, 0),
    ]  # fmt: skip

    names = tmp_path / "brand.txt.gz"
    write_gz(names, ["Acme", "", "Zeta"])
    assert [r.reason if isinstance(r, Rejected) else r.name for r in read_names(names)] == [
        "Acme", "empty line: no name for this index", "Zeta",
    ]  # fmt: skip


def test_a_missing_file_or_a_wrong_header_is_a_clear_error(copy: BeautyFiles) -> None:
    copy.pgpr("brand_p_b").unlink()
    with pytest.raises(FileNotFoundError, match=r"brand_p_b.txt.gz does not exist.*--kg.*PGPR"):
        copy.check()
    with pytest.raises(FileNotFoundError, match=r"interactions.tsv.gz does not exist.*--seq"):
        BeautyFiles(kg=FILES.kg, seq=copy.seq / "nowhere").check()
    write_gz(copy.items, ["asin\ttitle", "B1\tx"])
    with pytest.raises(SourceFormatError, match=r"items.tsv.gz does not start with the header"):
        BeautyFiles(kg=FILES.kg, seq=copy.seq).check()


# --- into the graph ------------------------------------------------------------------------


def test_the_excerpt_loads_and_a_rerun_changes_nothing(graph: Graph) -> None:
    summary = load_beauty(GraphWriter(graph, 100), FILES.kg, FILES.seq)
    by_source = tallies(summary)
    assert all(not t.set_aside for t in summary.sources), {
        t.source: t.set_aside for t in summary.sources if t.set_aside
    }
    assert by_source["interactions.tsv.gz"].kept == TRAIN + TEST
    assert by_source[BRAND_CHECK].kept > 0 and by_source[CATEGORY_CHECK].kept > 0

    result = counts(graph)
    assert result.nodes["Item"] == PRODUCTS + OUTSIDE
    assert result.nodes["User"] == USERS
    assert result.nodes["Brand"] == len({line for line in gz_lines(FILES.pgpr("brand"))})
    assert result.relationships["INTERACTED"] == TRAIN + TEST
    assert {k: result.relationships[k] for k in LINKS} == LINKS
    assert result.relationships["IN_CATEGORY"] == PRODUCTS
    splits = graph.read(
        "MATCH ()-[r:INTERACTED]->() RETURN r.split AS split, r.kind AS kind, count(*) AS n "
        "ORDER BY split"
    )
    assert splits == [{"split": "test", "kind": "purchase", "n": TEST},
                      {"split": "train", "kind": "purchase", "n": TRAIN}]  # fmt: skip
    # Only catalogue items carry text; the related products outside it are bare ids.
    assert graph.read("MATCH (i:Item) WHERE i.title IS NOT NULL RETURN count(i) AS n") == [
        {"n": PRODUCTS}
    ]

    # One product end to end: items.tsv text, brand_p_b brand, category path under "Beauty",
    # and the timestamp of its pair in interactions.tsv.
    item = graph.read(
        "MATCH (i:Item {id: 'B000BIVY24'})-[:HAS_BRAND]->(b:Brand), "
        "(i)-[:IN_CATEGORY]->(leaf:Category)-[:SUBCATEGORY_OF*]->(root:Category) "
        "WHERE NOT (root)-[:SUBCATEGORY_OF]->() "
        "RETURN i.title AS title, i.price AS price, b.id AS brand, leaf.id AS leaf, "
        "root.name AS root"
    )
    assert item == [{
        "title": "Bumble and Bumble Tonic Lotion, 8-Ounce Spray Bottle", "price": 24.58,
        "brand": "bumble and bumble", "root": "Beauty",
        "leaf": "beauty > hair care > styling products > creams, gels & lotions",
    }]  # fmt: skip
    user, asin, ts = gz_lines(FILES.interactions)[1].split("\t")
    assert graph.read(
        "MATCH (:User {id: $user})-[r:INTERACTED]->(:Item {id: $item}) RETURN r.ts AS ts",
        {"user": user, "item": asin},
    ) == [{"ts": int(ts)}]

    before = snapshot(graph)
    again = load_beauty(GraphWriter(graph, 70), FILES.kg, FILES.seq)
    assert (again.nodes_created, again.relationships_created) == (0, 0)
    assert counts(graph) == result
    assert snapshot(graph) == before


def test_damaged_files_keep_their_good_rows(graph: Graph, copy: BeautyFiles) -> None:
    items = copy.items.read_bytes()
    copy.items.write_bytes(items[: len(items) // 2])  # a truncated gzip
    viewed = gz_lines(copy.pgpr("also_viewed_p_p"))
    viewed[0] = viewed[0] + " x7"  # a non-integer index
    viewed[1] = viewed[1] + " 999999"  # an index out of range
    write_gz(copy.pgpr("also_viewed_p_p"), viewed)
    inter = gz_lines(copy.interactions)
    # A row with a column too few, and a pair no label file has.
    write_gz(copy.interactions, [*inter[:2], "A1\tB1", *inter[3:], f"{inter[1].split()[0]}\tX\t5"])
    brands = gz_lines(copy.pgpr("brand"))
    write_gz(copy.pgpr("brand"), ["", *brands[1:]])  # brand 0 loses its name

    summary = load_beauty(GraphWriter(graph), copy.kg, copy.seq)
    by_source = tallies(summary)
    items_tally = by_source["items.tsv.gz"]
    [reason] = items_tally.set_aside
    assert reason.startswith("truncated or corrupt gzip after line")
    assert 0 < items_tally.kept < PRODUCTS
    assert by_source["also_viewed_p_p.txt.gz"].set_aside == {
        "not an index": 1, "index 999999 out of range": 1,
    }  # fmt: skip
    assert by_source["interactions.tsv.gz"].set_aside == {
        "expected 3 tab-separated columns, got 2": 1, "item not in product.txt": 1,
    }  # fmt: skip
    # The pair of the short row has no timestamp now; its label is set aside, the rest load.
    labels = by_source["train_labels.txt.gz"].set_aside + by_source["test_labels.txt.gz"].set_aside
    assert labels == {"pair not in interactions.tsv": 1}
    assert by_source["brand.txt.gz"].set_aside == {"empty line": 1}
    assert by_source["brand_p_b.txt.gz"].set_aside == {"a brand index with no name": 1}

    result = counts(graph)
    assert result.relationships["INTERACTED"] == TRAIN + TEST - 1
    assert result.relationships["ALSO_VIEWED"] < LINKS["ALSO_VIEWED"]
    assert result.relationships["ALSO_BOUGHT"] == LINKS["ALSO_BOUGHT"]
    assert result.nodes["User"] == USERS - 1  # the set-aside pair was its user's only one


# --- the command ---------------------------------------------------------------------------


@pytest.mark.usefixtures("server_env")
def test_the_command_loads_and_names_what_is_missing(graph: Graph, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(ingest_app, ["beauty", "--kg", str(FILES.kg), "--seq", str(FILES.seq)])
    assert result.exit_code == 0, result.output
    for expected in ("Source files", "also_bought_p_p.txt.gz", BRAND_CHECK, "In the graph now",
                     "ALSO_BOUGHT", "Loaded in"):  # fmt: skip
        assert expected in result.output
    assert counts(graph).relationships["INTERACTED"] == TRAIN + TEST

    missing = runner.invoke(ingest_app, ["beauty", "--kg", str(tmp_path), "--seq", str(tmp_path)])
    assert missing.exit_code == 1
    message = " ".join(missing.output.split())
    assert "product.txt.gz does not exist" in message and "github.com/orcax/PGPR" in message
    assert "Traceback" not in missing.output
