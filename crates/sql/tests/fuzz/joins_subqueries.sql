SELECT t.k, u.name, coalesce(u.x, -1) AS ux
FROM t LEFT JOIN u ON t.k = u.k AND u.x > 10
WHERE t.x IN (SELECT x FROM t WHERE y > 2.0)
  AND EXISTS (SELECT 1 FROM u u2 WHERE u2.k = t.k)
  AND t.x NOT IN (7, 8, 9)
ORDER BY t.k NULLS FIRST
