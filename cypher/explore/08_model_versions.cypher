// Model versions and their metrics
// Every model whose embeddings were written into the graph (a ModelVersion node, recorded by
// kg.embeddings.record_model_version as they are written), newest first: when it was made and
// embedded, the model it was retrained from, how many interactions it learned from, and its
// test metrics. The models directory's registry says which version serves.
:param versions => 10;

MATCH (m:ModelVersion)
RETURN m.id AS version, m.created AS created, m.embedded AS embedded,
       m.parent AS retrained_from, toInteger(m.interactions) AS interactions,
       round(m.ndcg_at_10, 4) AS ndcg_at_10, round(m.recall_at_20, 4) AS recall_at_20,
       round(m.hr_at_10, 4) AS hr_at_10, round(m.coverage_at_10, 4) AS coverage_at_10
ORDER BY m.created DESC
LIMIT $versions;
