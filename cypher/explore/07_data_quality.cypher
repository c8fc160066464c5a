// Data quality: items missing a name, brand, category or attributes
// One row per gap: how many items have it, their share of the catalogue, and a few ids to look
// at. "only an id" is an item the data named (a review, a link) but described nowhere.
:param examples => 5;

CALL () { MATCH (i:Item) RETURN count(i) AS total }
MATCH (i:Item)
WITH total, i, [gap IN [
    CASE WHEN i.name IS NULL THEN 'no name' END,
    CASE WHEN i.title IS NULL THEN 'no clean title (named from other fields)' END,
    CASE WHEN NOT EXISTS { (i)-[:HAS_BRAND]->() } THEN 'no brand' END,
    CASE WHEN NOT EXISTS { (i)-[:IN_CATEGORY]->() } THEN 'no category' END,
    CASE WHEN NOT EXISTS { (i)-[:HAS_ATTRIBUTE]->() } THEN 'no attributes' END,
    CASE WHEN size(keys(i)) = 1 THEN 'only an id' END
  ] WHERE gap IS NOT NULL] AS gaps
UNWIND gaps AS gap
WITH total, gap, count(*) AS items, collect(i.id)[..$examples] AS examples
RETURN gap, items, round(100.0 * items / total, 1) AS pct_of_items, examples
ORDER BY items DESC;
