"""Extraction on shops nobody tuned for: each class of error seen on unseen catalogues, on text
written here. Real spaCy pipeline, no graph needed (the stage's rows are what a load writes)."""

from __future__ import annotations

import pytest

from ingest.extract.base import BRAND, ItemText, Mention
from ingest.extract.spacy_rules import SpacyExtractor
from ingest.extract.stage import ExtractionStage
from ingest.resolve import MIN_CONFIDENCE, normal_form
from kg.records import AttributeRow, BrandRow, ItemAttributeRow, ItemBrandRow, Row


@pytest.fixture(scope="module")
def extractor() -> SpacyExtractor:
    return SpacyExtractor()


def kept(mentions: list[Mention]) -> set[tuple[str, str]]:
    return {
        (m.kind, normal_form(m.text, m.kind))
        for m in mentions
        if m.kind != BRAND and m.confidence >= MIN_CONFIDENCE
    }


def loaded(extractor: SpacyExtractor, items: list[ItemText]) -> list[Row]:
    stage = ExtractionStage([extractor])
    for item in items:
        stage.add_item(item)
    return [row for rows in stage.rows() for row in rows]


def test_dictionary_words_inside_proper_names_are_not_attributes(
    extractor: SpacyExtractor,
) -> None:
    texts = {
        "olive": "Treat a friend to dinner at Olive Garden, the family restaurant.",
        "ribs": "Our smokehouse serves baby back ribs and brisket every day.",
        "scratch": "Every loaf is made from scratch in our bakery.",
        "law": "A thoughtful gift for your sister-in-law.",
        "bear": "Teddy Bear - Free One-Day Shipping",
    }
    items = [ItemText(item_id=key, description=text) for key, text in texts.items()]
    found = dict(zip(texts, extractor.extract_items(items), strict=True))
    assert ("colour", "olive") not in kept(found["olive"])
    assert ("audience", "baby") not in kept(found["ribs"])
    assert ("material", "scratch") not in kept(found["scratch"])
    assert ("topic", "law") not in kept(found["law"])
    assert not any(value.endswith("free") for _, value in kept(found["bear"]))
    # The same words still count where they describe the product.
    (plain,) = extractor.extract_items(
        [ItemText(item_id="p", description="An olive green scarf for babies, made of wool.")]
    )
    assert {("colour", "olive green"), ("material", "wool")} <= kept(plain) or {
        ("colour", "olive"),
        ("material", "wool"),
    } <= kept(plain)


def test_a_size_needs_a_unit_and_must_measure_the_product(extractor: SpacyExtractor) -> None:
    item = ItemText(
        item_id="f",
        title="Acme 1.75mm PLA Filament, 1kg Spool - Accuracy +/- 0.05mm, "
        "with a Free 25 pc Nozzle Set, XL",
    )
    (mentions,) = extractor.extract_items([item])
    sizes = {value for kind, value in kept(mentions) if kind == "size"}
    assert sizes == {"1.75 mm", "1 kg"}


def test_a_retailers_spellings_are_one_brand_with_every_surface_form(
    extractor: SpacyExtractor,
) -> None:
    items = [
        ItemText(item_id="g1", title="Starbucks Gift Card", metadata_brand="Starbucks"),
        ItemText(item_id="g2", title="Starbucks.com eGift", metadata_brand="Starbucks.com"),
        ItemText(item_id="g3", title="Coffee card", metadata_brand="Starbucks eGift Card"),
        ItemText(item_id="g4", title="Gift Card for any occasion", metadata_brand="Gift Card"),
    ]
    rows = loaded(extractor, items)
    brands = [row for row in rows if isinstance(row, BrandRow)]
    assert [brand.id for brand in brands] == ["starbucks"]
    assert {"Starbucks", "Starbucks.com", "Starbucks eGift Card"} <= set(brands[0].surface_forms)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert links == {("g1", "starbucks"), ("g2", "starbucks"), ("g3", "starbucks")}


def test_no_brand_is_invented_from_a_title_without_support(extractor: SpacyExtractor) -> None:
    one_off = [
        ItemText(item_id="p1", title="Paris Eau de Parfum Spray for Women, 3.4 Ounce"),
        ItemText(item_id="p2", title="Ed Hardy Love Kills Slowly Perfume, 1.7 oz"),
        # On many items, a specification opening titles is still no maker, though one item's
        # brand field says it is.
        *(ItemText(item_id=f"f{n}", title=f"3D Printer Filament {n}, 1kg") for n in range(4)),
        ItemText(item_id="f4", title="3D Printer Nozzle", metadata_brand="3D"),
    ]
    rows = loaded(extractor, one_off)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert links == {("f4", "3 d")}
    # Named on several items, or named in the brand field elsewhere, a brand is kept.
    repeated = [
        ItemText(item_id=f"s{n}", title=f"SHARKK Hair Brush, Model {n}, Black") for n in range(3)
    ]
    field = [
        ItemText(item_id="n1", title="Nioxin System 3 Cleanser, 10 oz"),
        ItemText(item_id="n2", title="Scalp Therapy Conditioner, 10 oz", metadata_brand="Nioxin"),
    ]
    rows = loaded(extractor, repeated + field)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert {("s0", "sharkk"), ("s1", "sharkk"), ("s2", "sharkk")} <= links
    assert ("n1", "nioxin") in links


def test_attributes_are_discovered_from_the_shops_own_text(extractor: SpacyExtractor) -> None:
    """A property no gazetteer lists becomes an attribute when it marks out a subset of the
    shop: on three items of forty, not on one."""
    titles = [f"Sanding Roll, {n * 20 + 40} Grit, 10 Yard" for n in range(40)]
    titles[:3] = [f"Adhesive-Backed Sanding Roll, {g} Grit" for g in (60, 80, 120)]
    titles[3] = "Self-Centering Drill Guide"
    items = [ItemText(item_id=f"i{n}", title=title) for n, title in enumerate(titles)]
    rows = loaded(extractor, items)
    attributes = {row.id: row for row in rows if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert "feature:self centering" not in attributes
    links = [
        row
        for row in rows
        if isinstance(row, ItemAttributeRow) and row.attribute_id == "feature:adhesive backed"
    ]
    assert {row.item_id for row in links} == {"i0", "i1", "i2"}
    assert all(row.extractor == "discovered" for row in links)


def test_a_brand_the_shop_knows_opening_a_title_is_that_items_brand(
    extractor: SpacyExtractor,
) -> None:
    """The shop's brand field, over all items, is what titles are read against: a title with
    no brand field, and one whose brand field names the parent company, both get the brand
    that opens them, when some item's brand field names it."""
    items = [
        ItemText(item_id="k1", title="Bel-Art Spinbar Magnetic Stir Bar", metadata_brand="Bel-Art"),
        ItemText(item_id="k2", title="Bel-Art Labmat Bench Liner, 50 Feet"),
        ItemText(item_id="k3", title="Bel-Art Desiccator Plate", metadata_brand="SP Scienceware"),
        ItemText(item_id="k4", title="Kimble Glass Beaker, 250 ml", metadata_brand="Kimble"),
        ItemText(item_id="k5", title="Mystery Widget, Blue"),
    ]
    rows = loaded(extractor, items)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert links == {("k1", "bel art"), ("k2", "bel art"), ("k3", "bel art"), ("k4", "kimble")}


def test_a_discovered_property_must_mark_out_items_within_a_category(
    extractor: SpacyExtractor,
) -> None:
    """Found as often in every category as in the shop, a word marks out nothing."""
    items = [
        ItemText(item_id=f"{c}{n}", title=f"Sanding Roll {c} model {n}", category=f"Tools > {c}")
        for c in "ABCD"
        for n in range(10)
    ]
    for n in range(3):
        items[n] = ItemText(
            item_id=f"A{n}", title=f"Adhesive-Backed Sanding Roll {n}", category="Tools > A"
        )
    for c in range(4):
        index = 10 * c + 5
        items[index] = ItemText(
            item_id=items[index].item_id,
            title=f"Universal-Fit Sanding Roll {c}",
            category=items[index].category,
        )
    attributes = {row.id for row in loaded(extractor, items) if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert "feature:universal fit" not in attributes


def test_a_compound_that_opens_the_titles_it_is_in_is_a_name(extractor: SpacyExtractor) -> None:
    """In a shop whose titles open with the brand (most catalogues'), a compound that opens
    the titles it is in names a maker or a line, not a property."""
    titles = [f"Kimble Beaker {n}, 250 ml" for n in range(40)]
    titles[:4] = [f"Bel-Art Spinbar Stir Bar, size {n}" for n in range(4)]
    titles[4:7] = [f"Kimble Adhesive-Backed Label Set {n}" for n in range(3)]
    items = [
        ItemText(item_id=f"t{n}", title=title, metadata_brand=None if n < 4 else "Kimble")
        for n, title in enumerate(titles)
    ]
    attributes = {row.id for row in loaded(extractor, items) if isinstance(row, AttributeRow)}
    assert "feature:adhesive backed" in attributes
    assert "feature:bel art" not in attributes


def test_a_topic_must_be_presented_as_a_subject(extractor: SpacyExtractor) -> None:
    """A topic word counts where a publication lists it or a cue names it, not as a word of
    ordinary prose or a gerund doing something to an object."""
    text = (
        "Each issue covers gardening, travel and food. Readers save time and money with handy "
        "hints, and the top names in the business write for us. Techniques range from brining "
        "shrimp to baking ham. Expect in-depth articles on all types of motorcycles."
    )
    (mentions,) = extractor.extract_items([ItemText(item_id="m", description=text)])
    topics = {value for kind, value in kept(mentions) if kind == "topic"}
    assert {"gardening", "travel", "food"} <= topics
    assert not {"money", "business", "baking"} & topics


def test_an_audience_word_listed_with_topics_is_a_topic(extractor: SpacyExtractor) -> None:
    texts = {
        "topic": "It covers the traditional values of home, family and children.",
        "audience": "A magazine for women and children.",
    }
    items = [ItemText(item_id=key, description=text) for key, text in texts.items()]
    found = dict(zip(texts, extractor.extract_items(items), strict=True))
    assert ("topic", "child") in kept(found["topic"])
    assert ("audience", "child") not in kept(found["topic"])
    assert ("audience", "child") in kept(found["audience"])


def test_what_a_product_is_for_or_comes_with_is_not_its_property(
    extractor: SpacyExtractor,
) -> None:
    """A feature or material in a "for ..." phrase names what the product is used on; a word
    discovery proposes in a "with ..." phrase describes a part."""
    items = [
        ItemText(
            item_id="for",
            title="Blue Glass Spray Bottle is Great for Essential Oils, Organic Beauty Products "
            "and Aromatherapy",
        ),
        ItemText(
            item_id="with", title="Ceramic Hair Dryer with Folding Handle and Retractable Cord"
        ),
        ItemText(item_id="own", title="Retractable Extension Cord Reel, 25 Feet"),
    ]
    found = dict(zip(("for", "with", "own"), extractor.extract_items(items), strict=True))
    assert {("colour", "blue"), ("material", "glass")} <= kept(found["for"])
    assert not {("feature", "organic"), ("feature", "aromatherapy")} & kept(found["for"])
    assert ("material", "ceramic") in kept(found["with"])

    def discovered(mentions: list[Mention]) -> set[str]:
        return {m.text.lower() for m in mentions if m.extractor == "discovered"}

    assert "retractable" not in discovered(found["with"])
    assert "retractable" in discovered(found["own"])


def test_a_finish_before_a_hue_is_one_shade(extractor: SpacyExtractor) -> None:
    (mentions,) = extractor.extract_items(
        [ItemText(item_id="e", title="Acme Cream Eyeliner, Metallic Olive, 0.17 Ounce")]
    )
    colours = {value for kind, value in kept(mentions) if kind == "colour"}
    assert colours == {"metallic olive"}


def test_a_description_does_not_grow_into_a_name(extractor: SpacyExtractor) -> None:
    text = "Subscribers also get The Daily IQ newsletter, which delivers insights every day."
    (mentions,) = extractor.extract_items([ItemText(item_id="n", description=text)])
    features = {value for kind, value in kept(mentions) if kind == "feature"}
    assert "newsletter" in features
    assert not any("iq" in value.split() for value in features)


def test_a_product_line_is_not_the_maker(extractor: SpacyExtractor) -> None:
    """Titles name the maker, then the line. A brand field holding the line yields to the
    maker that opens the title; of two known openings, the maker is the one the shop's brand
    field names more often. A line opening the title does not displace a maker that the shop
    names more often ("Travel Smart by Conair")."""
    items = [
        ItemText(item_id="j1", title="John Frieda Frizz-Ease Serum, 1.69 Ounces",
                 metadata_brand="Frizz-Ease"),
        *(ItemText(item_id=f"j{n}", title=f"John Frieda Sheer Blonde Shampoo {n}",
                   metadata_brand="John Frieda") for n in (2, 3)),
        *(ItemText(item_id=f"t{n}", title=f"TIGI Catwalk Shampoo {n}", metadata_brand="TIGI")
          for n in range(3)),
        ItemText(item_id="t3", title="TIGI Bed Head Conditioner", metadata_brand="TIGI Bed Head"),
        ItemText(item_id="t4", title="TIGI Bed Head Superstar Thickening Spray"),
        *(ItemText(item_id=f"c{n}", title=f"Conair Hair Dryer {n}", metadata_brand="Conair")
          for n in range(3)),
        ItemText(item_id="c3", title="Travel Smart by Conair Sundry Kit", metadata_brand="Conair"),
        ItemText(item_id="c4", title="Travel Smart Adapter Plug", metadata_brand="Travel Smart"),
    ]  # fmt: skip
    rows = loaded(extractor, items)
    links = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    assert {("j1", "john frieda"), ("j2", "john frieda"), ("t4", "tigi")} <= links
    assert {("t3", "tigi bed head"), ("c3", "conair")} <= links  # their own fields: kept
    assert not {("j1", "frizz ease"), ("t4", "tigi bed head")} & links


def test_a_known_brand_placed_shop_wide_is_a_name_not_attributes(
    extractor: SpacyExtractor,
) -> None:
    """A title's opening brand that only the whole shop knows (its brand field names it on
    another item, extracted in another batch) is a name: no colour is read inside it."""
    stage = ExtractionStage([extractor], batch_size=1)
    for item in (
        ItemText(item_id="b1", title="Blue Buffalo Dog Food, 30 lb", metadata_brand="Blue Buffalo"),
        ItemText(item_id="b2", title="Blue Buffalo wilderness cat food, 11 lb"),
        ItemText(item_id="b3", title="Blue dog bowl, 2 quart", metadata_brand="Acme"),
    ):
        stage.add_item(item)
    rows = [row for group in stage.rows() for row in group]
    brands = {(row.item_id, row.brand_id) for row in rows if isinstance(row, ItemBrandRow)}
    colours = {
        row.item_id
        for row in rows
        if isinstance(row, ItemAttributeRow) and row.attribute_id == "colour:blue"
    }
    assert ("b2", "blue buffalo") in brands
    assert colours == {"b3"}
