SELECT CAST(x AS DECIMAL(10, 2)) * 1.25 AS d, CAST('2024-02-29' AS DATE) + INTERVAL '1' MONTH AS m,
       EXTRACT(YEAR FROM DATE '1998-12-01') AS yr, substring(k FROM 1 FOR 1) || '-' || upper(k) AS s,
       CASE WHEN y BETWEEN 2 AND 4 THEN 'mid' WHEN y IS NULL THEN NULL ELSE 'edge' END AS c,
       nullif(x, 3) AS n, x // 2 AS q, x % 2 AS r, -y AS neg
FROM t WHERE k LIKE 'a%' OR k ILIKE 'B_'
