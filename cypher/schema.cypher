// kgrec graph schema (Neo4j 5.26). Applied by `kg.schema.apply_schema`; every statement is
// idempotent (IF NOT EXISTS), so applying it again changes nothing. Statements end with `;`.

// One unique id per node label; MERGE on `id` uses these as its index.
CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT item_id IF NOT EXISTS FOR (n:Item) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT brand_id IF NOT EXISTS FOR (n:Brand) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT category_id IF NOT EXISTS FOR (n:Category) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT attribute_id IF NOT EXISTS FOR (n:Attribute) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT review_id IF NOT EXISTS FOR (n:Review) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE;
// The graph's version stamp (`kg.version`): one node, bumped by every kg.write transaction.
CREATE CONSTRAINT graph_version_id IF NOT EXISTS FOR (n:GraphVersion) REQUIRE n.id IS UNIQUE;

// Lookups by name (Browser exploration, resolving user input to entities).
CREATE INDEX brand_name IF NOT EXISTS FOR (n:Brand) ON (n.name);
CREATE INDEX category_name IF NOT EXISTS FOR (n:Category) ON (n.name);
CREATE INDEX attribute_name IF NOT EXISTS FOR (n:Attribute) ON (n.name);
CREATE INDEX attribute_kind IF NOT EXISTS FOR (n:Attribute) ON (n.kind);
CREATE INDEX entity_name IF NOT EXISTS FOR (n:Entity) ON (n.name);

// Keyword search (Lucene BM25, English stemming and stop words) over item text and over the
// names of brands, categories and attributes: the lexical half of `GET /search`.
//   CALL db.index.fulltext.queryNodes('item_search', 'sanding roll')
// (`item_text`, its default-analyzer predecessor, is dropped.) The vector half, a cosine index
// on Item.text_embedding, is made by `kgrec train` and the API at the encoder's dimension.
DROP INDEX item_text IF EXISTS;
CREATE FULLTEXT INDEX item_search IF NOT EXISTS FOR (n:Item) ON EACH [n.title, n.description]
  OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}};
CREATE FULLTEXT INDEX entity_search IF NOT EXISTS FOR (n:Brand|Category|Attribute) ON EACH [n.name]
  OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}};
