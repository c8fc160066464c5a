// What do reviewers praise or complain about?
// Per attribute that reviews mention: how often, the share of positive and negative mentions,
// the mean rating of those reviews, and a complaint and a praise to read. Most complained
// about first.
:param min_mentions => 3;

MATCH (r:Review)-[m:MENTIONS]->(a:Attribute)
WITH a, count(*) AS mentions,
     count(CASE m.sentiment WHEN 'positive' THEN 1 END) AS positive,
     count(CASE m.sentiment WHEN 'negative' THEN 1 END) AS negative,
     avg(r.rating) AS mean_rating,
     collect(CASE m.sentiment WHEN 'negative' THEN left(r.text, 160) END)[0] AS a_complaint,
     collect(CASE m.sentiment WHEN 'positive' THEN left(r.text, 160) END)[0] AS a_praise
WHERE mentions >= $min_mentions
RETURN a.kind AS kind, a.name AS attribute, mentions,
       round(100.0 * positive / mentions) AS pct_positive,
       round(100.0 * negative / mentions) AS pct_negative,
       round(mean_rating, 2) AS mean_rating, a_complaint, a_praise
ORDER BY negative DESC, mentions DESC
LIMIT 25;
