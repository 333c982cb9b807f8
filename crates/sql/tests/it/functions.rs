//! The function registry: names are unique, and every name of every entry
//! is reachable from SQL (its example runs).

use std::collections::HashMap;

use parframe::prelude::*;
use parframe::sql::functions::{FunctionKind, functions, lookup};

fn registry_ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!(
        "s" => ["apple", "banana", "cherry"],
        "i" => [1i64, 2, 3],
        "f" => [1.5, -2.5, 4.0],
    )
    .unwrap();
    ctx.register_table("t", ctx.lazy(t));
    ctx
}

#[test]
fn no_two_functions_share_a_name() {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for f in functions() {
        for n in f.names() {
            assert_eq!(n, n.to_ascii_lowercase(), "names are lower case: {n}");
            if let Some(other) = seen.insert(n, f.name) {
                panic!("'{n}' names both {other} and {}", f.name);
            }
        }
    }
}

#[test]
fn every_name_is_reachable_from_sql() {
    let ctx = registry_ctx();
    for f in functions() {
        for name in f.names() {
            let call = f.example.replace("{}", name);
            let q = match f.kind() {
                FunctionKind::Scalar => format!("SELECT {call} AS r FROM t"),
                FunctionKind::Aggregate => format!("SELECT {call} AS r FROM t"),
            };
            let out = ctx
                .sql(&q)
                .and_then(|lf| lf.collect())
                .unwrap_or_else(|e| panic!("{}: {q}: {e}", f.name));
            let rows = match f.kind() {
                FunctionKind::Scalar => 3,
                FunctionKind::Aggregate => 1,
            };
            assert_eq!(out.num_rows(), rows, "{q}");
            assert!(std::ptr::eq(lookup(name).unwrap(), f), "{name}");
            assert!(
                std::ptr::eq(lookup(&name.to_uppercase()).unwrap(), f),
                "{name}"
            );
        }
    }
}

#[test]
fn arity_errors_show_the_signature() {
    let ctx = registry_ctx();
    let e = ctx
        .sql("SELECT lower(s, s) FROM t")
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("lower(string) -> string"), "{e}");
    let e = ctx.sql("SELECT sum(*) FROM t").map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("sum(*)"), "{e}");
}
