// Cold-start items and their links
// Catalogue items no one has interacted with yet, and what the model can place them by: their
// brand, categories, attributes and links to other items. Best-linked first.
:param limit => 25;

MATCH (i:Item)
WHERE NOT EXISTS { (i)<-[:INTERACTED]-() } AND i.name IS NOT NULL
WITH i, COUNT { (i)-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|RELATED]-() } AS links
ORDER BY links DESC, i.id LIMIT $limit
RETURN i.id AS item, i.name AS name, links,
       [(i)-[:HAS_BRAND]->(b) | b.name] AS brands,
       [(i)-[:IN_CATEGORY]->(c) | c.id] AS categories,
       [(i)-[:HAS_ATTRIBUTE]->(a) | a.kind + ': ' + a.name][..8] AS attributes,
       [(i)-[:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]-(o) | coalesce(o.name, o.id)][..5] AS linked_items;
