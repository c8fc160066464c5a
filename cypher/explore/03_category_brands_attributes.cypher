// Top brands and attributes per category
// For the biggest categories (their subcategories' items included), the brands with the most
// items there and the attributes most items there have.
:param categories => 15;

MATCH (i:Item)-[:IN_CATEGORY]->(:Category)-[:SUBCATEGORY_OF*0..]->(c:Category)
WITH c, collect(DISTINCT i) AS members
ORDER BY size(members) DESC LIMIT $categories
CALL (members) {
  UNWIND members AS i
  MATCH (i)-[:HAS_BRAND]->(b:Brand)
  WITH b, count(*) AS items ORDER BY items DESC LIMIT 3
  RETURN collect(b.name + ' (' + items + ')') AS top_brands
}
CALL (members) {
  UNWIND members AS i
  MATCH (i)-[:HAS_ATTRIBUTE]->(a:Attribute)
  WITH a, count(*) AS items ORDER BY items DESC LIMIT 5
  RETURN collect(a.kind + ': ' + a.name + ' (' + items + ')') AS top_attributes
}
RETURN c.id AS category, size(members) AS items, top_brands, top_attributes
ORDER BY items DESC;
