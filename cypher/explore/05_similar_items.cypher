// Items similar to X by the stored embeddings
// Nearest items by the trained model's item embedding (`embedding`, vector index
// item_embedding, written by `kgrec train`). An item without one (added since training) is
// compared by its text vector (`text_embedding`, index item_text_embedding) instead; an item
// with neither gets one row whose `note` says so, instead of an error.
:param item => 'B00005N7TG';
:param k => 10;

MATCH (i:Item {id: $item})
OPTIONAL CALL (i) {
  WITH i WHERE i.embedding IS NOT NULL
  CALL db.index.vector.queryNodes('item_embedding', $k + 1, i.embedding) YIELD node, score
  RETURN node, score, 'model embedding' AS compared_by
  UNION
  WITH i WHERE i.embedding IS NULL AND i.text_embedding IS NOT NULL
  CALL db.index.vector.queryNodes('item_text_embedding', $k + 1, i.text_embedding)
    YIELD node, score
  RETURN node, score, 'text vector' AS compared_by
}
WITH i, node, score, compared_by WHERE node IS NULL OR node <> i
RETURN coalesce(i.name, i.id) AS item, node.id AS similar_id,
       coalesce(node.name, node.title, node.id) AS similar, round(score, 3) AS score,
       compared_by,
       CASE WHEN node IS NULL THEN 'no embedding nor text vector: run kgrec train' END AS note
ORDER BY score DESC
LIMIT $k;
