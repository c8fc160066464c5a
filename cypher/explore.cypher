// Exploration queries for Neo4j Browser (http://127.0.0.1:7474/browser/, credentials from
// `kgrec neo4j browser`). Paste one at a time; set parameters first, e.g.
//   :param item => 'B00005N7P0'
//   :param user => 'A5QQOOZJOVPSF'

// What is in the graph: nodes per label.
MATCH (n) RETURN labels(n)[0] AS label, count(*) AS nodes ORDER BY nodes DESC;

// Relationships per type.
MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS relationships ORDER BY relationships DESC;

// One item and everything around it (switch to the graph view).
MATCH (i:Item {id: $item})-[r]-(m) RETURN i, r, m LIMIT 100;

// A user's history, newest first.
MATCH (:User {id: $user})-[r:INTERACTED]->(i:Item)
RETURN i.id AS item, i.title AS title, r.kind AS kind, r.rating AS rating,
       datetime({epochSeconds: r.ts}) AS at
ORDER BY r.ts DESC LIMIT 25;

// The biggest brands by number of items.
MATCH (b:Brand)<-[:HAS_BRAND]-(i:Item)
RETURN b.name AS brand, count(i) AS items ORDER BY items DESC LIMIT 20;

// The category tree with item counts.
MATCH (c:Category)
OPTIONAL MATCH (c)-[:SUBCATEGORY_OF]->(parent:Category)
OPTIONAL MATCH (c)<-[:IN_CATEGORY]-(i:Item)
RETURN parent.name AS parent, c.name AS category, count(i) AS items
ORDER BY parent, items DESC;

// Items bought together with this one, and how often they are co-rated.
MATCH (:Item {id: $item})-[:ALSO_BOUGHT|BOUGHT_TOGETHER]->(other:Item)
OPTIONAL MATCH (other)<-[:INTERACTED]-(u:User)-[:INTERACTED]->(:Item {id: $item})
RETURN other.id AS item, other.title AS title, count(DISTINCT u) AS shared_users
ORDER BY shared_users DESC LIMIT 20;

// Why might this user like this item? Paths of up to 3 hops.
MATCH p = shortestPath((:User {id: $user})-[*..3]-(:Item {id: $item}))
RETURN p;

// Extracted attributes with their provenance: the fields and extractors that found each link
// (one link per item and attribute, however many found it).
MATCH (i:Item)-[r:HAS_ATTRIBUTE]->(a:Attribute)
RETURN a.kind AS kind, a.name AS attribute, r.sources AS sources, r.extractors AS extractors,
       count(i) AS items ORDER BY items DESC LIMIT 25;

// Keyword search over titles and descriptions (full-text index `item_search`, stemmed).
CALL db.index.fulltext.queryNodes('item_search', 'science') YIELD node, score
RETURN node.id AS item, node.title AS title, score LIMIT 10;

// Brands, categories and attributes by name (full-text index `entity_search`), with how many
// items each has: what GET /search treats as named when a query holds all of a name's words.
CALL db.index.fulltext.queryNodes('entity_search', 'science') YIELD node, score
RETURN labels(node)[0] AS label, node.name AS name, score,
       COUNT { (node)<-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]-(:Item) } AS items LIMIT 10;

// An item's facts from your own knowledge graph (`kgrec ingest table --triples`), both ways.
MATCH (:Item {id: $item})-[r:RELATED]-(other)
RETURN r.relation AS relation, labels(other)[0] AS label, other.id AS id,
       coalesce(other.title, other.name) AS name LIMIT 50;
