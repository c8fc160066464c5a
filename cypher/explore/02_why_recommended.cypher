// Why was item X recommended to user U?
// The paths of up to three hops the API explains a recommendation with, from what the user
// rated to the item: an also-bought or also-viewed link, a shared brand, category or attribute
// (the rarest first: a brand of five items says more than a category of hundreds), or another
// customer who rated both; each kind capped on its own. `already_rated` says whether the user
// rated the item themselves (then it would not be recommended to them). The example is the
// demo model's second recommendation for its user.
:param user => 'A8N76G7E26DM4';
:param item => 'B00005N7RA';

MATCH (u:User {id: $user}), (t:Item {id: $item})
CALL (u, t) {
  MATCH p = (u)-[:INTERACTED]->(m:Item)-[:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|RELATED]-(t)
  WHERE m <> t
  RETURN p, 1 AS kind, 'linked items' AS why, 2 AS sharing LIMIT 5
  UNION ALL
  MATCH p = (u)-[:INTERACTED]->(m:Item)-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]->(x)
            <-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]-(t)
  WHERE m <> t
  WITH p, x, COUNT { (x)<-[:HAS_BRAND|IN_CATEGORY|HAS_ATTRIBUTE]-(:Item) } AS sharing
  RETURN p, 2 AS kind, 'same ' + toLower(labels(x)[0]) + ': ' + x.name AS why, sharing
  ORDER BY sharing LIMIT 10
  UNION ALL
  MATCH p = (u)-[:INTERACTED]->(m:Item)<-[:INTERACTED]-(v:User)-[:INTERACTED]->(t)
  WHERE v <> u AND m <> t
  RETURN p, 3 AS kind, 'another customer rated both' AS why, 2 AS sharing LIMIT 5
}
RETURN why, [n IN nodes(p) | CASE WHEN n:User THEN n.id ELSE coalesce(n.name, n.id) END] AS path,
       sharing AS items_sharing_it, EXISTS { (u)-[:INTERACTED]->(t) } AS already_rated, p
ORDER BY kind, sharing;
