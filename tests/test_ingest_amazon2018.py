"""Amazon Review Data 2018 ingest: the real sample files, hostile lines, the graph it writes
(against the real Neo4j) and `kgrec ingest amazon2018` as a user runs it."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from ingest.categories import not_a_category
from ingest.clean import (
    clean_text,
    clean_title,
    normalise_name,
    parse_price,
    unique_products,
    unique_reviews,
)
from ingest.extract.spacy_rules import SpacyExtractor
from ingest.extract.stage import ExtractionStage
from ingest.records import AmazonProduct, AmazonReview, Rejected
from ingest.sources.amazon2018.load import load_amazon2018
from ingest.sources.amazon2018.read import MAX_LINE_BYTES, read_products, read_reviews
from ingest.summary import IngestSummary, SourceTally
from kg import Graph
from kg.read import counts
from kg.settings import PROJECT_ROOT
from kg.write import GraphWriter
from tests.helpers import kgrec, snapshot

SAMPLE = PROJECT_ROOT / "data" / "sample"
REVIEWS = SAMPLE / "Magazine_Subscriptions_5.json.gz"
META = SAMPLE / "meta_Magazine_Subscriptions.json.gz"
HOSTILE = "') DETACH DELETE n //"
HTML_TITLE = '<span class="a-size-medium a-color-secondary"'


def review(**fields: Any) -> dict[str, Any]:
    return {"overall": 5.0, "verified": True, "reviewTime": "01 2, 2014", "reviewerID": "u1",
            "asin": "i1", "reviewerName": "Ann", "reviewText": "Great.", "summary": "Five stars",
            "unixReviewTime": 1388620800} | fields  # fmt: skip


def product(**fields: Any) -> dict[str, Any]:
    return {"asin": "i1", "title": "A magazine", "description": ["About things."],
            "brand": "Acme", "category": ["Magazine Subscriptions", "Hobbies"],
            "also_buy": [], "also_view": [], "price": "$9.99"} | fields  # fmt: skip


def write_lines(path: Path, lines: list[dict[str, Any] | str | bytes]) -> Path:
    """Write JSON lines, gzipped when the name ends in .gz."""
    raw = b"".join(
        (line if isinstance(line, bytes) else
         (line if isinstance(line, str) else json.dumps(line)).encode()) + b"\n"
        for line in lines
    )  # fmt: skip
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def by_line(records: list[Any]) -> dict[int, str]:
    return {r.line: r.reason for r in records if isinstance(r, Rejected)}


# --- reading -------------------------------------------------------------------------------


def test_the_sample_files_read_in_full() -> None:
    reviews = list(read_reviews(REVIEWS))
    products = list(read_products(META))
    assert len(reviews) == 2375 and all(isinstance(r, AmazonReview) for r in reviews)
    assert len(products) == 3385 and all(isinstance(p, AmazonProduct) for p in products)

    product_tally, review_tally = SourceTally(META.name), SourceTally(REVIEWS.name)
    kept_products = list(unique_products(products, product_tally))
    kept_reviews = list(unique_reviews(reviews, review_tally))
    assert len(kept_products) == 2320 == len({p.asin for p in kept_products})
    assert product_tally.set_aside == {"duplicate asin": 3385 - 2320}
    assert len(kept_reviews) == 2375 - 47
    assert review_tally.set_aside == {"duplicate review": 47}


def test_a_truncated_gzip_keeps_the_records_before_it(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(REVIEWS.read_bytes()[:3000])
    records = list(read_reviews(cut))
    *good, last = records
    assert good and all(isinstance(r, AmazonReview) for r in good)
    assert isinstance(last, Rejected) and last.line == len(good) + 1
    assert last.reason == f"truncated or corrupt gzip after line {len(good)}"


def test_hostile_review_lines_are_set_aside_with_their_reason(tmp_path: Path) -> None:
    long_line = json.dumps(review(reviewText="x" * (MAX_LINE_BYTES + 10)))
    path = write_lines(tmp_path / "reviews.json.gz", [
        review(),                                            # 1 kept
        "this is not JSON",                                  # 2
        "[1, 2, 3]",                                         # 3
        {k: v for k, v in review().items() if k != "asin"},  # 4
        b'{"asin": "i1", "reviewerID": "u\xff\xfe"}',        # 5
        review(overall=7),                                   # 6
        long_line,                                           # 7
        "",                                                  # 8 blank: skipped
        review(reviewerID="u2", reviewText="Très bien, très joli. 日本語のレビュー。"),  # 9 kept
        "[" * 100_000,                                       # 10
        review(reviewerID="u3", asin="i\ud800"),             # 11 lone surrogate escape
        review(reviewerID="u4"),                             # 12 kept: the stream goes on
    ])  # fmt: skip
    records = list(read_reviews(path))
    assert by_line(records) == {
        2: "not JSON: Expecting value",
        3: "not a JSON object: a JSON list",
        4: "missing asin",
        5: "not UTF-8: invalid start byte at byte 31",
        6: "invalid overall: Input should be less than or equal to 5",
        7: f"line too long ({len(long_line)} bytes > 1048576)",
        10: "not JSON: nested too deeply",
        11: "invalid asin: Input should be a valid string, unable to parse raw data as a unicode "
        "string",
    }
    kept = [r for r in records if isinstance(r, AmazonReview)]
    assert [r.reviewer_id for r in kept] == ["u1", "u2", "u4"]
    assert kept[1].review_text == "Très bien, très joli. 日本語のレビュー。"
    excerpts = [r.excerpt for r in records if isinstance(r, Rejected)]
    assert all(len(e) <= 200 for e in excerpts) and "this is not JSON" in excerpts


def test_hostile_product_lines(tmp_path: Path) -> None:
    big = "Long description. " * 12_000  # ~200 KB: long, but under the 1 MB line limit
    path = write_lines(tmp_path / "meta.json", [  # plain JSON lines, not gzip
        product(asin="a1", description=[big]),
        product(asin="a2", title=HTML_TITLE),
        product(asin="a3", title=HOSTILE),
        product(asin="a4", title=None, description=None, category=None, also_buy=None),
        product(asin="a5", also_view="B000000000"),
        product(asin="a6", brand="b" * 2000),
        product(asin=""),
    ])  # fmt: skip
    records = list(read_products(path))
    assert by_line(records) == {
        5: "invalid also_view: Input should be a valid list",
        6: "invalid brand: String should have at most 1024 characters",
        7: "invalid asin: String should have at least 1 character",
    }
    kept = {r.asin: r for r in records if isinstance(r, AmazonProduct)}
    assert kept["a1"].description == [big]
    assert clean_title(kept["a2"].title) is None
    assert clean_title(kept["a3"].title) == HOSTILE
    assert (kept["a4"].title, kept["a4"].description, kept["a4"].category) == ("", [], [])


def test_a_missing_file_names_the_path_and_what_to_pass(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json.gz"
    with pytest.raises(FileNotFoundError, match=rf"{missing} does not exist.*reviews file"):
        read_reviews(missing)
    with pytest.raises(FileNotFoundError, match=r"is not a file.*meta_Magazine"):
        read_products(tmp_path)


# --- cleaning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (HTML_TITLE, None),
        ("\n\n\n<script", None),
        (' Magazines" />', None),
        ("   ", None),
        ("Disney &amp; Me", "Disney & Me"),
        ("&amp;quot;Oma&amp;quot; Luben", '"Oma" Luben'),
        ("<i>Maximum PC</i> brings<br/>tons of news", "Maximum PC brings tons of news"),
        ("cr&ecirc;pe <script>alert(1)</script>shop <!-- x -->", "crêpe shop"),
        ("3 < 5 and AT&T", "3 < 5 and AT&T"),
        (HOSTILE, HOSTILE),
        ("Zeitschrift für Küche, 日本語", "Zeitschrift für Küche, 日本語"),
    ],
)
def test_clean_text(raw: str, clean: str | None) -> None:
    assert clean_text(raw) == clean


def test_clean_text_is_linear_on_unclosed_markup() -> None:
    assert clean_text("<a " * 300_000) is not None  # html.parser takes hours on this


def test_a_scraped_stylesheet_is_not_a_title() -> None:
    assert clean_title(".a-box-inner{background-color:#fff}#aloha .x{color:gray}") is None
    assert clean_title("PC World") == "PC World"


@pytest.mark.parametrize(
    ("raw", "price"),
    [("$12.99", 12.99), ("12.99", 12.99), ("$1,299.00", 1299.0), ("", None),
     ("$10.00 - $20.00", None), (".a-box-inner{", None), ("$" + "9" * 400, None)],
)  # fmt: skip
def test_parse_price(raw: str, price: float | None) -> None:
    assert parse_price(raw) == price


def test_normalise_name() -> None:
    assert normalise_name("F&amp;W  Publications ") == normalise_name("F&W Publications")
    assert normalise_name("F&W Publications") == "f&w publications"


# --- into the graph ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def review_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 review lines of the sample."""
    path = tmp_path_factory.mktemp("slice") / "reviews_300.json.gz"
    with gzip.open(REVIEWS, "rb") as source:
        path.write_bytes(gzip.compress(b"".join(islice(source, 300))))
    return path


def test_the_sample_loads_and_a_rerun_changes_nothing(graph: Graph, review_slice: Path) -> None:
    summary = load_amazon2018(GraphWriter(graph), review_slice, META)
    meta_tally, review_tally = summary.sources
    assert (meta_tally.read, meta_tally.kept) == (3385, 2320)
    assert (review_tally.read, review_tally.kept) == (300, 300 - review_tally.set_aside.total())

    with gzip.open(REVIEWS, "rt") as lines:
        reviews = [json.loads(line) for line in islice(lines, 300)]
    with gzip.open(META, "rt") as lines:
        meta_asins = {json.loads(line)["asin"] for line in lines}
    result = counts(graph)
    # Links stay inside the catalogue: every item is in the metadata or reviewed.
    assert result.nodes["Item"] == len(meta_asins | {r["asin"] for r in reviews})
    assert result.nodes["User"] == len({r["reviewerID"] for r in reviews})
    assert result.relationships["INTERACTED"] == review_tally.kept
    assert result.relationships["WROTE"] == result.nodes["Review"] > 0
    for kind in ("Brand", "Category"):
        assert result.nodes[kind] > 0
    for rel in ("HAS_BRAND", "IN_CATEGORY", "SUBCATEGORY_OF", "ALSO_BOUGHT", "ALSO_VIEWED"):
        assert result.relationships[rel] > 0

    before = snapshot(graph)
    again = load_amazon2018(GraphWriter(graph, batch_size=700), review_slice, META)
    assert (again.nodes_created, again.relationships_created) == (0, 0)
    assert counts(graph) == result
    assert snapshot(graph) == before

    # A product known from both files: its brand, category path and a review.
    item = graph.read(
        "MATCH (i:Item {id: 'B00005N7P0'})-[hb:HAS_BRAND]->(b:Brand), "
        "(i)-[:IN_CATEGORY]->(leaf:Category)-[:SUBCATEGORY_OF*]->(root:Category) "
        "WHERE NOT (root)-[:SUBCATEGORY_OF]->() "
        "RETURN b.id AS brand_id, b.name AS brand, hb.source AS source, hb.extractor AS by, "
        "leaf.id AS leaf_id, leaf.name AS leaf, root.name AS root, i.title AS title, "
        "i.description AS description"
    )
    assert len(item) == 1
    found = item[0]
    assert (found["brand_id"], found["brand"]) == ("future us", "Future US, Inc.")
    assert (found["source"], found["by"]) == ("metadata", "metadata")
    assert found["leaf_id"] == "magazine subscriptions > technology > computers & internet"
    assert (found["leaf"], found["root"]) == ("Computers & Internet", "Magazine Subscriptions")
    assert found["title"] is None  # the scraped title is only markup
    assert "<i>" not in found["description"] and "Maximum PC" in found["description"]
    text = graph.read(
        "MATCH (:User {id: 'A5QQOOZJOVPSF'})-[:WROTE]->(r:Review)-[:REVIEWS]->"
        "(:Item {id: 'B00005N7P0'}) RETURN r.text AS t, r.rating AS rating"
    )
    assert text == [{"t": text[0]["t"], "rating": 4.0}]
    assert text[0]["t"].startswith("Cheapskates guide. I'm old, and so is my computer.")


def test_a_brand_from_the_metadata_and_the_title_is_one_link(graph: Graph, tmp_path: Path) -> None:
    meta = write_lines(tmp_path / "meta.json.gz", [
        product(asin="a1", title="Hobby Monthly by Acme Publishing", brand="Acme"),
    ])  # fmt: skip
    reviews = write_lines(tmp_path / "reviews.json.gz", [review(asin="a1")])
    extractor = SpacyExtractor()

    def load() -> IngestSummary:
        return load_amazon2018(GraphWriter(graph), reviews, meta,
                               extraction=ExtractionStage([extractor]))  # fmt: skip

    load()
    links = graph.read(
        "MATCH (:Item {id: 'a1'})-[r:HAS_BRAND]->(b:Brand) "
        "RETURN b.id AS brand, r.sources AS sources, r.extractors AS by, r.mentions AS mentions"
    )
    assert [(link["brand"], link["sources"]) for link in links] == [("acme", ["metadata", "title"])]
    assert "metadata" in links[0]["by"] and links[0]["mentions"] >= 2
    before = snapshot(graph)
    again = load()
    assert snapshot(graph) == before
    assert (again.writes["item_brands"].created, again.writes["item_brands"].already_there) == (
        0, 1,
    )  # fmt: skip


def test_a_category_path_is_cut_where_it_stops_naming_categories(
    graph: Graph, tmp_path: Path
) -> None:
    path = ["Gift Cards", "Gift Card Recipients", "No expiration, no fees.",
            "Redeemable toward millions of items storewide"]  # fmt: skip
    meta = write_lines(tmp_path / "meta.json.gz", [product(asin="a1", category=path)])
    reviews = write_lines(tmp_path / "reviews.json.gz", [review(asin="a1")])
    summary = load_amazon2018(GraphWriter(graph), reviews, meta)
    assert graph.read("MATCH (:Item {id: 'a1'})-[:IN_CATEGORY]->(c) RETURN c.id AS id") == [
        {"id": "gift cards > gift card recipients"}
    ]
    assert counts(graph).nodes["Category"] == 2
    tally = summary.sources[0]
    assert tally.kept == 1 and not tally.set_aside  # the item is loaded; only its path is cut
    assert tally.category_parts == {"a sentence, not a category name": 1,
                                    "after a part set aside": 1}  # fmt: skip
    [cut] = tally.category_cuts
    assert (cut.item_id, cut.part, cut.following) == ("a1", "No expiration, no fees.", 1)


@pytest.mark.parametrize(
    "part",
    ["Gift cards have no fees", "Your perfect companion", "Choose from 100 designs",
     "Great gift! Ships free", "$24.99", "www.example.com", "x" * 61,
     "one two three four five six seven eight nine"],
)  # fmt: skip
def test_parts_that_are_no_category_names(part: str) -> None:
    assert not_a_category(part) is not None


@pytest.mark.parametrize(
    "part",
    ["Washington, D.C.", "St. Louis", "Star Wars: The Clone Wars", "Can Openers", "Will & Grace",
     "Men's", "Kids' Clothing", "Under $25", "Amazon.com Gift Cards", "Ages 9-12",
     "Professional & Educational Journals", "Travel, City & Regional"],
)  # fmt: skip
def test_category_names_are_kept(part: str) -> None:
    assert not_a_category(part) is None


def test_the_summary_counts_new_rows_and_rows_already_there(graph: Graph, tmp_path: Path) -> None:
    meta = write_lines(tmp_path / "meta.json.gz", [
        product(asin="a1", also_buy=["a2"]), product(asin="a2", brand="Other"),
    ])  # fmt: skip
    reviews = write_lines(tmp_path / "reviews.json.gz", [
        review(asin="a1"), review(asin="a2", reviewerID="u2"),
    ])  # fmt: skip
    first = load_amazon2018(GraphWriter(graph), reviews, meta)
    second = load_amazon2018(GraphWriter(graph), reviews, meta)
    assert first.writes["items"].rows == 2
    for kind, write in first.writes.items():
        assert (write.created, write.already_there, write.ends_created) == (write.rows, 0, 0), kind
    for kind, write in second.writes.items():
        assert (write.created, write.already_there, write.ends_created) == (0, write.rows, 0), kind


def test_an_item_first_made_as_a_link_end_is_counted_once(graph: Graph, tmp_path: Path) -> None:
    """With one record per batch, a1's also_buy link creates a2 (its id only) before a2's own
    row, which then finds it already there."""
    meta = write_lines(tmp_path / "meta.json.gz", [
        product(asin="a1", also_buy=["a2"]), product(asin="a2"),
    ])  # fmt: skip
    reviews = write_lines(tmp_path / "reviews.json.gz", [review(asin="a1")])
    summary = load_amazon2018(GraphWriter(graph, batch_size=1), reviews, meta)
    items, links = summary.writes["items"], summary.writes["item_links"]
    assert (items.rows, items.created, items.already_there) == (2, 1, 1)
    assert (links.rows, links.created, links.ends_created) == (1, 1, 1)
    assert items.created + links.ends_created == counts(graph).nodes["Item"] == 2


def test_hostile_values_are_stored_as_plain_text(graph: Graph, tmp_path: Path) -> None:
    meta = write_lines(tmp_path / "meta.json.gz", [
        product(asin="a1", title=HOSTILE, brand=HOSTILE, also_buy=["a2", "elsewhere", "a1"]),
        product(asin="a2", title=HTML_TITLE, category=["Zeitschriften", "Küche &amp; Wein"],
                description=["x" * 200_000]),
    ])  # fmt: skip
    reviews = write_lines(tmp_path / "reviews.json.gz", [
        review(asin="a1", reviewerID=HOSTILE, reviewerName=HOSTILE, summary=HOSTILE,
               reviewText=""),
        review(asin="a2", summary="", reviewText=""),  # a rating without text: no Review node
        "not JSON",
    ])  # fmt: skip
    summary = load_amazon2018(GraphWriter(graph), reviews, meta)
    assert summary.sources[1].set_aside == {"not JSON": 1}
    assert graph.read("MATCH (i:Item) RETURN i.id AS id, i.title AS title ORDER BY id") == [
        {"id": "a1", "title": HOSTILE}, {"id": "a2", "title": None},
    ]  # fmt: skip
    assert graph.read("MATCH (b:Brand) RETURN b.name AS name ORDER BY name") == [
        {"name": HOSTILE}, {"name": "Acme"},
    ]  # fmt: skip
    assert graph.read("MATCH (:Item {id: 'a2'})-[:IN_CATEGORY]->(c) RETURN c.id AS id") == [
        {"id": "zeitschriften > küche & wein"}
    ]
    links = graph.read("MATCH (a)-[:ALSO_BOUGHT]->(b) RETURN a.id AS a, b.id AS b")
    assert links == [{"a": "a1", "b": "a2"}]  # not to itself, not outside the catalogue
    assert graph.read("MATCH (u:User)-[:WROTE]->(r) RETURN u.id AS u, r.text AS t") == [
        {"u": HOSTILE, "t": HOSTILE}
    ]
    assert counts(graph).relationships["INTERACTED"] == 2


# --- the command ---------------------------------------------------------------------------


def test_the_command_loads_and_prints_a_summary(
    graph: Graph, server_env: dict[str, str], tmp_path: Path
) -> None:
    reviews = write_lines(tmp_path / "reviews.json.gz", [review(), "[]", review(reviewerID="u2")])
    bullet = product(category=["Magazine Subscriptions", "Hobbies", "No expiration, no fees."])
    meta = write_lines(tmp_path / "meta.json.gz", [bullet, product()])
    result = kgrec("ingest", "amazon2018", "--reviews", str(reviews), "--meta", str(meta),
                   "--batch-size", "1", env=server_env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    for expected in ("Source files", "duplicate asin", "not a JSON object", "reviews.json.gz:2",
                     "In the graph now", "INTERACTED", "Loaded in", "already there",
                     "meta.json.gz: category parts set aside: 1 (1 a sentence, not a category "
                     "name)", "item i1: 'No expiration, no fees.'"):  # fmt: skip
        assert expected in " ".join(result.stdout.split())
    assert counts(graph).nodes == {"User": 2, "Item": 1, "Brand": 1, "Category": 2,
                                   "Attribute": 0, "Review": 2, "Entity": 0}  # fmt: skip


def test_the_command_names_a_missing_file(server_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing_5.json.gz"
    result = kgrec("ingest", "amazon2018", "--reviews", str(missing), env=server_env)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert f"{missing} does not exist" in message and "--help" in message
    assert "Traceback" not in result.stderr
