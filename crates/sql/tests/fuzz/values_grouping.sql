SELECT a, b, sum(c) AS s, count(DISTINCT c) AS d
FROM (VALUES (1, 'x', 2.5), (1, 'y', NULL), (2, 'x', 4.0)) AS v(a, b, c)
GROUP BY GROUPING SETS ((a, b), (a), ())
ORDER BY a NULLS LAST, b
