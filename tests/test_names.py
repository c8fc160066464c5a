"""Display names (`kg.names`): the title, else the name a description opens with, else the
category leaf and brand; every loader and the API's item rows get them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.clean import unique_products
from ingest.sources.amazon2018.load import product_rows
from ingest.sources.amazon2018.read import read_products
from ingest.sources.table.load import item_rows
from ingest.sources.table.read import TableItem
from ingest.summary import SourceTally
from kg.names import MAX_NAME_CHARS, description_name, item_name
from kg.records import ItemRow

META = Path(__file__).resolve().parents[1] / "data/sample/meta_Magazine_Subscriptions.json.gz"


@pytest.mark.parametrize(
    ("description", "name"),
    [
        ("Elle is the world's largest fashion magazine.", "Elle"),
        ("Bass Player magazine is written for serious musicians.", "Bass Player"),
        ("FLIGHT JOURNAL includes articles on aviation history.", "Flight Journal"),
        ("MAXIMUM PC is the ultimate upgrade.", "Maximum PC"),
        ("ATLANTA HOMES AND LIFESTYLES offers ideas.", "Atlanta Homes and Lifestyles"),
        ("Teddy Bear & Friends is an art magazine.", "Teddy Bear & Friends"),
        ("The Magazine Antiques brings you architecture.", "The Magazine Antiques"),
        ("Good Housekeeping magazine, together with the Institute", "Good Housekeeping"),
        # ... or later, opening a clause or one of the first sentences.
        ("Long synonymous with glamour, Vogue is unparalleled.", "Vogue"),
        ("A magazine for women. Victoria is an elegant magazine.", "Victoria"),
        ("Includes features on sales, pricing and design.", None),
        # Openings that are no name: a verb, a pronoun, an article alone, a question.
        ("Covers the latest trends in design.", None),
        ("This magazine is edited for pilots.", None),
        ("The only magazine devoted to the story.", None),
        ("If you love horses, you'll love Horse Illustrated.", None),
        ("Each issue offers recipes.", None),
        ("Ready to take better pictures? Want to buy smart?", None),
        ("Great reads. Fun stories. Nice pictures. Vogue is late.", None),  # past 3 sentences
        ("One Two Three Four Five Six Seven is long.", None),  # more than six words
    ],
)
def test_a_description_gives_the_name_it_opens_with(description: str, name: str | None) -> None:
    assert description_name(description) == name


def test_the_title_wins_then_the_description_then_category_and_brand() -> None:
    assert item_name("Nude lipstick", "Elle is a magazine.", "GlowCo", "Lips") == "Nude lipstick"
    assert item_name(None, "Elle is a magazine.", "Hearst", "Fashion") == "Elle"
    assert item_name(None, "Covers fashion.", "Hearst", "Fashion") == "Fashion by Hearst"
    assert item_name(None, None, None, "Fashion") == "Fashion"
    assert item_name(None, None, "Hearst", None) == "Hearst"
    assert item_name(None, None, None, None) is None


def test_a_long_title_is_cut_at_a_word() -> None:
    name = item_name("word " * 200)
    assert name is not None and len(name) <= MAX_NAME_CHARS and name.endswith("word…")


def test_an_item_row_without_a_name_takes_it_from_its_text() -> None:
    """What the API writes: no brand or category at hand, the name still comes with the row."""
    assert ItemRow(id="i1", description="Vogue is the fashion authority.").name == "Vogue"
    assert ItemRow(id="i1", title="Red lipstick").name == "Red lipstick"
    assert ItemRow(id="i1", title="Red lipstick", name="Given").name == "Given"
    assert ItemRow(id="i1").name is None
    assert ItemRow.model_validate({"id": "i1", "title": "Red"}).model_dump()["name"] == "Red"


def test_table_items_are_named_from_brand_and_category_leaf() -> None:
    item = TableItem(item_id="t1", brand="Acme", category="Tools > Hand tools")
    (row, *_) = item_rows(item)
    assert isinstance(row, ItemRow) and row.name == "Hand tools by Acme"
    assert item_rows(TableItem(item_id="t2", brand="unknown", category=""))[0] == ItemRow(id="t2")


def test_the_sample_catalogue_is_named() -> None:
    """Issue 15: >= 95% of the demo's catalogue shows a name; the sample keeps few titles."""
    products = list(unique_products(read_products(META), SourceTally(META.name)))
    catalogue = {product.asin for product in products}
    rows = [product_rows(product, catalogue)[0] for product in products]
    assert all(isinstance(row, ItemRow) for row in rows)
    named = sum(1 for row in rows if isinstance(row, ItemRow) and row.name)
    titled = sum(1 for row in rows if isinstance(row, ItemRow) and row.title)
    assert named / len(rows) >= 0.99 and titled / len(rows) < 0.1
