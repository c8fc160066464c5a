// A user's neighbourhood
// What surrounds one customer: the ten items they rated last, each item's brand and category,
// its three strongest attributes, and the user's own review of it. Every kind is
// capped on its own, so a long review history cannot crowd brands and attributes out of the
// picture. Switch to the graph view to see it.
:param user => 'A2BSKT65F16LAQ';

MATCH (u:User {id: $user})-[r:INTERACTED]->(i:Item)
WITH u, r, i ORDER BY r.ts DESC LIMIT 10
CALL (u, i) {
  MATCH p = (i)-[:HAS_BRAND|IN_CATEGORY]->()
  RETURN p
  UNION
  MATCH p = (i)-[a:HAS_ATTRIBUTE]->()
  WITH p, a ORDER BY a.confidence DESC, a.mentions DESC LIMIT 3
  RETURN p
  UNION
  MATCH p = (i)<-[:REVIEWS]-(:Review)<-[:WROTE]-(u)
  RETURN p
}
RETURN u, r, i, p;
