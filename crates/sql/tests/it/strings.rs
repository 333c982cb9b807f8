//! String functions and operators: SUBSTRING, ||, TRIM, POSITION, LIKE /
//! ILIKE with ESCAPE, replace, pads, regexps — each against plain Rust
//! `str` code over the same values (nulls included).

use parframe::prelude::*;

use crate::{error_of, strings};

const WORDS: [Option<&str>; 8] = [
    Some("apple"),
    Some("  banana split "),
    Some("cherry_pie%"),
    None,
    Some(""),
    Some("Ærøskøbing"),
    Some("xxabcxx"),
    Some("a.b.c"),
];

fn ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!("s" => WORDS.to_vec()).unwrap();
    ctx.register_table("w", ctx.lazy(t));
    ctx
}

/// One output column of `SELECT <expr> AS r FROM w` as text ("null").
fn column(expr: &str) -> Vec<String> {
    let q = format!("SELECT {expr} AS r FROM w");
    let t = ctx()
        .sql(&q)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    strings(&t, "r")
}

/// `f` over every word, nulls staying null.
fn naive(f: impl Fn(&str) -> String) -> Vec<String> {
    WORDS
        .iter()
        .map(|w| w.map_or("null".to_string(), &f))
        .collect()
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

#[test]
fn substring_is_one_based_in_characters() {
    let want = naive(|s| chars(s).iter().skip(1).take(3).collect());
    assert_eq!(column("SUBSTRING(s FROM 2 FOR 3)"), want);
    assert_eq!(column("substring(s, 2, 3)"), want);
    assert_eq!(column("substr(s, 2, 3)"), want);
    let rest = naive(|s| chars(s).iter().skip(2).collect());
    assert_eq!(column("SUBSTRING(s FROM 3)"), rest);
    // The standard's window: start 0 with length 2 covers position 1 only.
    let first = naive(|s| chars(s).iter().take(1).collect());
    assert_eq!(column("SUBSTRING(s FROM 0 FOR 2)"), first);
}

#[test]
fn concatenation_is_null_when_a_side_is() {
    assert_eq!(column("s || '!' || s"), naive(|s| format!("{s}!{s}")));
    assert_eq!(column("concat(s, '-')"), naive(|s| format!("{s}-")));
    // concat_ws skips nulls.
    let ws: Vec<String> = WORDS
        .iter()
        .map(|w| match w {
            Some(s) => format!("<{s}"),
            None => "<".to_string(),
        })
        .collect();
    assert_eq!(column("concat_ws('', '<', s)"), ws);
}

#[test]
fn trims_match_str_trim_matches() {
    assert_eq!(column("trim(s)"), naive(|s| s.trim().to_string()));
    assert_eq!(column("ltrim(s)"), naive(|s| s.trim_start().to_string()));
    assert_eq!(column("rtrim(s)"), naive(|s| s.trim_end().to_string()));
    let x = |s: &str| s.trim_matches('x').to_string();
    assert_eq!(column("TRIM(BOTH 'x' FROM s)"), naive(x));
    assert_eq!(
        column("TRIM(LEADING 'xa' FROM s)"),
        naive(|s| s.trim_start_matches(['x', 'a']).to_string())
    );
    assert_eq!(
        column("TRIM(TRAILING 'x' FROM s)"),
        naive(|s| s.trim_end_matches('x').to_string())
    );
    assert_eq!(column("trim(s, 'x')"), naive(x));
}

#[test]
fn position_counts_characters_from_one() {
    let pos = |sub: &'static str| {
        naive(move |s| match s.find(sub) {
            Some(b) => (s[..b].chars().count() + 1).to_string(),
            None => "0".to_string(),
        })
    };
    assert_eq!(column("POSITION('b' IN s)"), pos("b"));
    assert_eq!(column("strpos(s, 'øb')"), pos("øb"));
    assert_eq!(column("instr(s, 'an')"), pos("an"));
}

#[test]
fn replace_pad_left_right_reverse_lengths() {
    assert_eq!(
        column("replace(s, 'a', 'AA')"),
        naive(|s| s.replace('a', "AA"))
    );
    let pad = |left: bool| {
        move |s: &str| {
            let c = chars(s);
            if c.len() >= 7 {
                return c[..7].iter().collect();
            }
            let fill: String = "*".repeat(7 - c.len());
            if left {
                format!("{fill}{s}")
            } else {
                format!("{s}{fill}")
            }
        }
    };
    assert_eq!(column("lpad(s, 7, '*')"), naive(pad(true)));
    assert_eq!(column("rpad(s, 7, '*')"), naive(pad(false)));
    assert_eq!(
        column("left(s, 3)"),
        naive(|s| chars(s).iter().take(3).collect())
    );
    assert_eq!(
        column("right(s, 3)"),
        naive(|s| {
            let c = chars(s);
            c[c.len().saturating_sub(3)..].iter().collect()
        })
    );
    assert_eq!(column("reverse(s)"), naive(|s| s.chars().rev().collect()));
    assert_eq!(column("octet_length(s)"), naive(|s| s.len().to_string()));
    assert_eq!(
        column("length(s)"),
        naive(|s| s.chars().count().to_string())
    );
    assert_eq!(
        column("split_part(s, '.', 2)"),
        naive(|s| s.split('.').nth(1).unwrap_or("").to_string())
    );
}

/// SQL LIKE by backtracking over characters (`%`, `_`, `escape`).
fn like(s: &[char], p: &[char], escape: char) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((&c, rest)) if c == escape && !rest.is_empty() => {
            s.first() == Some(&rest[0]) && like(&s[1..], &rest[1..], escape)
        }
        Some(('%', rest)) => (0..=s.len()).any(|i| like(&s[i..], rest, escape)),
        Some(('_', rest)) => !s.is_empty() && like(&s[1..], rest, escape),
        Some((c, rest)) => s.first() == Some(c) && like(&s[1..], rest, escape),
    }
}

#[test]
fn like_and_ilike_match_a_naive_matcher() {
    for p in [
        "%an%", "a%e", "_pple", "%a%b%", "%", "", "ch%\\%", "%\\_%", "%s_l%", "Ær%",
    ] {
        let pc = chars(p);
        let want = naive(|s| like(&chars(s), &pc, '\\').to_string());
        assert_eq!(column(&format!("s LIKE '{p}'")), want, "LIKE '{p}'");
        let not: Vec<String> = want
            .iter()
            .map(|w| match w.as_str() {
                "true" => "false".into(),
                "false" => "true".into(),
                other => other.into(),
            })
            .collect();
        assert_eq!(column(&format!("s NOT LIKE '{p}'")), not, "NOT LIKE '{p}'");
        let lower = chars(&p.to_lowercase());
        let want_i = naive(|s| like(&chars(&s.to_lowercase()), &lower, '\\').to_string());
        let upper = p.to_uppercase();
        assert_eq!(
            column(&format!("s ILIKE '{upper}'")),
            want_i,
            "ILIKE '{upper}'"
        );
    }
    // ESCAPE names another escape character.
    let pc = chars("%#%");
    assert_eq!(
        column("s LIKE '%#%' ESCAPE '#'"),
        naive(|s| like(&chars(s), &pc, '#').to_string())
    );
    // A pattern from a column.
    assert_eq!(
        column("s LIKE s"),
        naive(|s| like(&chars(s), &chars(s), '\\').to_string())
    );
}

#[test]
fn regexps() {
    assert_eq!(
        column("regexp_like(s, 'an+a')"),
        naive(|s| s.contains("ana").to_string())
    );
    assert_eq!(
        column("regexp_replace(s, '[aeiou]', '')"),
        naive(|s| s.chars().filter(|c| !"aeiou".contains(*c)).collect())
    );
    assert_eq!(
        column("regexp_extract(s, '([a-z])\\.([a-z])', 2)"),
        WORDS
            .iter()
            .map(|w| match w {
                Some("a.b.c") => "b".to_string(),
                None => "null".to_string(),
                Some(_) => "null".to_string(),
            })
            .collect::<Vec<_>>()
    );
}

#[test]
fn bad_string_calls_are_errors_with_positions() {
    let c = ctx();
    let e = error_of(
        c.sql("SELECT s LIKE 'a' ESCAPE 'xy' FROM w")
            .and_then(|l| l.collect()),
        "escape",
    );
    assert!(e.contains("one character") && e.contains("line 1"), "{e}");
    let e = error_of(
        c.sql("SELECT regexp_like(s, s) FROM w")
            .and_then(|l| l.collect()),
        "regexp",
    );
    assert!(e.contains("argument 2 must be a string literal"), "{e}");
    let e = error_of(
        c.sql("SELECT regexp_like(s, '(') FROM w")
            .and_then(|l| l.collect()),
        "regexp",
    );
    assert!(e.to_lowercase().contains("regex"), "{e}");
    let e = error_of(
        c.sql("SELECT substring(s, 'a') FROM w")
            .and_then(|l| l.collect()),
        "substring",
    );
    assert!(e.contains("substring"), "{e}");
}
