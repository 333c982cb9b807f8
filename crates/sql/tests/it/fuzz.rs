//! Mutation fuzzing of the SQL front end (#15 item 16), on the stable
//! toolchain.
//!
//! The corpus is the 22 TPC-H queries (`datasets/tpch/queries/`) and the
//! seeds of `tests/fuzz/` (windows, set operations, CTEs, casts, dates,
//! every join kind). Proptest changes a corpus query token by token
//! (deleting, repeating, swapping, inserting SQL's keywords and symbols,
//! numbers at the edges of their types, deep parentheses) and runs the
//! result through `ctx.sql`, the optimizer (`explain`) and execution over
//! the TPC-H tables with no rows. Each step must give a plan, rows or an
//! error; a panic, or a stack overflow (which aborts the binary), fails.
//!
//! Each run tries `PARFRAME_FUZZ_CASES` (default 64) new queries from a
//! fresh random seed; failures are shrunk and their seeds kept under
//! `proptest-regressions/`. A longer campaign:
//! `PARFRAME_FUZZ_CASES=20000 cargo test --release -p parframe-sql --test it fuzz`.
//! A query that once failed goes into `tests/fuzz/` with its fix.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use parframe::datasets::tpch::TpchTable;
use parframe::prelude::*;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PARFRAME_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// The corpus: (name, query text), sorted by name.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("../../datasets/tpch/queries"),
        root.join("tests/fuzz"),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "sql") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The test tables `t` and `u` and the eight TPC-H tables, empty.
fn fuzz_ctx() -> Context {
    let c = crate::ctx();
    for t in TpchTable::ALL {
        let empty = Table::try_new(t.schema(), Vec::new()).unwrap();
        c.register_table(t.name(), c.lazy(empty));
    }
    c
}

/// Splits SQL into tokens (words, quoted strings, single symbols,
/// whitespace runs) that concatenate back to the text.
fn tokens(sql: &str) -> Vec<String> {
    let cs: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let start = i;
        let c = cs[i];
        if c.is_alphanumeric() || c == '_' || c == '.' {
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_' || cs[i] == '.') {
                i += 1;
            }
        } else if c.is_whitespace() {
            while i < cs.len() && cs[i].is_whitespace() {
                i += 1;
            }
        } else if c == '\'' || c == '"' {
            i += 1;
            while i < cs.len() && cs[i] != c {
                i += 1;
            }
            i = (i + 1).min(cs.len());
        } else {
            i += 1;
        }
        out.push(cs[start..i].iter().collect());
    }
    out
}

/// Words and symbols inserted by mutations: SQL's structure, its
/// operators, and literals at the edges of their types.
const VOCABULARY: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "HAVING",
    "ORDER BY",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "FULL JOIN",
    "CROSS JOIN",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "EXISTS",
    "BETWEEN",
    "LIKE",
    "IS NULL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "UNION",
    "UNION ALL",
    "INTERSECT",
    "EXCEPT",
    "WITH",
    "DISTINCT",
    "OVER",
    "PARTITION BY",
    "ROWS",
    "RANGE",
    "UNBOUNDED",
    "PRECEDING",
    "FOLLOWING",
    "CURRENT ROW",
    "QUALIFY",
    "WINDOW",
    "INTERVAL",
    "DATE",
    "TIMESTAMP",
    "CAST",
    "EXTRACT",
    "SUBSTRING",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "ROW_NUMBER",
    "RANK",
    "NULL",
    "TRUE",
    "FALSE",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "<",
    ">=",
    "||",
    "::",
    "(",
    ")",
    ",",
    ";",
    ".",
    "'x'",
    "''",
    "'1995-13-45'",
    "'%a_b%'",
    "0",
    "1",
    "-1",
    "0.0",
    "1e308",
    "1e-400",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999999999999999999",
    "0.00000000000000000000000000000000000001",
    "DECIMAL(38, 37)",
    "DECIMAL(0, 0)",
    "INT",
    "DOUBLE",
    "VARCHAR",
    "t",
    "u",
    "k",
    "x",
    "y",
    "lineitem",
    "l_orderkey",
    "l_shipdate",
    "o_orderdate",
    "n_name",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: u16,
    },
    Repeat {
        at: u16,
    },
    Swap {
        at: u16,
    },
    Insert {
        at: u16,
        word: &'static str,
    },
    Replace {
        at: u16,
        word: &'static str,
    },
    /// Wrap the token in `depth` parentheses.
    Nest {
        at: u16,
        depth: u16,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let word = || prop::sample::select(VOCABULARY);
    prop_oneof![
        any::<u16>().prop_map(|at| Mutation::Delete { at }),
        any::<u16>().prop_map(|at| Mutation::Repeat { at }),
        any::<u16>().prop_map(|at| Mutation::Swap { at }),
        (any::<u16>(), word()).prop_map(|(at, w)| Mutation::Insert { at, word: w }),
        (any::<u16>(), word()).prop_map(|(at, w)| Mutation::Replace { at, word: w }),
        (any::<u16>(), 1u16..3000).prop_map(|(at, depth)| Mutation::Nest { at, depth }),
    ]
}

fn apply(toks: &mut Vec<String>, m: &Mutation) {
    let pos = |at: u16, n: usize| (at as usize * n) >> 16;
    let n = toks.len();
    match m {
        Mutation::Delete { at } if n > 0 => {
            toks.remove(pos(*at, n));
        }
        Mutation::Repeat { at } if n > 0 => {
            let p = pos(*at, n);
            let t = toks[p].clone();
            toks.insert(p, t);
        }
        Mutation::Swap { at } if n > 1 => toks.swap(pos(*at, n - 1), pos(*at, n - 1) + 1),
        Mutation::Insert { at, word } => {
            toks.insert(pos(*at, n + 1), format!(" {word} "));
        }
        Mutation::Replace { at, word } if n > 0 => toks[pos(*at, n)] = (*word).to_string(),
        Mutation::Nest { at, depth } if n > 0 => {
            let p = pos(*at, n);
            let d = *depth as usize;
            toks[p] = format!("{}{}{}", "(".repeat(d), toks[p], ")".repeat(d));
        }
        _ => {}
    }
}

/// Plans, optimizes and runs `sql`; `Err` with the panic's message when a
/// step panicked (errors are fine).
fn run_without_panic(ctx: &Context, sql: &str) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        let outcome = match ctx.sql(sql) {
            Err(_) => "refused",
            Ok(lf) => {
                let _ = lf.explain();
                match lf.collect() {
                    Ok(_) => "ran",
                    Err(_) => "failed to run",
                }
            }
        };
        // `PARFRAME_FUZZ_TRACE=1`: one line per input, to see how far
        // mutants get (a campaign's statistics).
        if std::env::var_os("PARFRAME_FUZZ_TRACE").is_some() {
            eprintln!("fuzz outcome: {outcome}");
        }
    }))
    .map_err(|p| parframe_common::panic_message(&*p))
}

#[test]
fn the_corpus_plans_and_runs() {
    let ctx = fuzz_ctx();
    for (name, sql) in corpus() {
        assert_eq!(tokens(&sql).concat(), sql, "{name}");
        // Every seed is a query that works: mutations start from real SQL.
        let lf = ctx.sql(&sql).unwrap_or_else(|e| panic!("{name}: {e}"));
        lf.collect().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_sql(pick in any::<prop::sample::Index>(), ms in prop::collection::vec(mutation(), 1..6)) {
        let files = corpus();
        let (name, sql) = pick.get(&files);
        let mut toks = tokens(sql);
        for m in &ms {
            apply(&mut toks, m);
        }
        let query = toks.concat();
        let ctx = fuzz_ctx();
        if let Err(panic) = run_without_panic(&ctx, &query) {
            return Err(TestCaseError::fail(format!(
                "{name} with {ms:?} panicked: {panic}\n{query}"
            )));
        }
    }
}
