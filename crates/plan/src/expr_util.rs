//! Expression helpers for rules: conjunctions, column substitution, and
//! splitting a join condition into hash keys and a residual.

use std::collections::HashMap;

use arrow_schema::{DataType, Field, Schema};
use parframe_common::{Error, Result, column_not_found};
use parframe_core::expr::BinaryOp;
use parframe_core::{Expr, ScalarValue};

use crate::join::joinable;

/// The value of an integer literal as `i128` (`None` for other types).
pub fn integer_value(v: &ScalarValue) -> Option<i128> {
    Some(match v {
        ScalarValue::Int8(x) => *x as i128,
        ScalarValue::Int16(x) => *x as i128,
        ScalarValue::Int32(x) => *x as i128,
        ScalarValue::Int64(x) => *x as i128,
        ScalarValue::UInt8(x) => *x as i128,
        ScalarValue::UInt16(x) => *x as i128,
        ScalarValue::UInt32(x) => *x as i128,
        ScalarValue::UInt64(x) => *x as i128,
        _ => return None,
    })
}

/// The conjuncts of `e` (`a AND (b AND c)` gives `[a, b, c]`).
pub fn split_conjunction(e: &Expr) -> Vec<Expr> {
    split_by(e, BinaryOp::And)
}

/// The disjuncts of `e` (`a OR (b OR c)` gives `[a, b, c]`).
pub fn split_disjunction(e: &Expr) -> Vec<Expr> {
    split_by(e, BinaryOp::Or)
}

fn split_by(e: &Expr, by: BinaryOp) -> Vec<Expr> {
    let mut out = Vec::new();
    #[recursive::recursive]
    fn go(e: &Expr, by: BinaryOp, out: &mut Vec<Expr>) {
        match e {
            Expr::Binary { left, op, right } if *op == by => {
                go(left, by, out);
                go(right, by, out);
            }
            other => out.push(other.clone()),
        }
    }
    go(e, by, &mut out);
    out
}

/// `a AND b AND ...` (`None` for no conjuncts).
pub fn conjunction(parts: impl IntoIterator<Item = Expr>) -> Option<Expr> {
    parts.into_iter().reduce(|a, b| a.and(b))
}

/// `e` with every column `c` that `map` knows replaced by `map[c]`
/// (aliases of the replacement are dropped: a column reference inside an
/// expression has no name of its own).
pub fn substitute(e: &Expr, map: &HashMap<String, Expr>) -> Result<Expr> {
    e.clone().transform_up(&mut |n| match &n {
        Expr::Column(c) => Ok(match map.get(c) {
            Some(Expr::Alias { expr, .. }) => (**expr).clone(),
            Some(r) => r.clone(),
            None => n,
        }),
        _ => Ok(n),
    })
}

/// `e` with columns renamed by `map` (names it does not know are kept).
pub fn rename_columns(e: &Expr, map: &HashMap<String, String>) -> Result<Expr> {
    e.clone().transform_up(&mut |n| match &n {
        Expr::Column(c) => Ok(match map.get(c) {
            Some(r) => Expr::Column(r.clone()),
            None => n,
        }),
        _ => Ok(n),
    })
}

/// Whether `e` is the literal `true`.
pub fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Boolean(true)))
}

/// A join condition split into equi-join keys and the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitJoin {
    /// Left key columns (input names).
    pub left_on: Vec<String>,
    /// Right key columns (input names), pairwise equal to `left_on`.
    pub right_on: Vec<String>,
    /// The conjuncts that are not key equalities (over the pair names).
    pub residual: Option<Expr>,
}

/// The pair schema of a join condition: every left column under its name,
/// then every right column, with `suffix` appended while its name clashes;
/// each entry says whether it is a left column and its input name.
pub fn pair_names(left: &Schema, right: &Schema, suffix: &str) -> Vec<(String, bool, String)> {
    let mut out: Vec<(String, bool, String)> = left
        .fields()
        .iter()
        .map(|f| (f.name().clone(), true, f.name().clone()))
        .collect();
    for f in right.fields() {
        let mut name = f.name().clone();
        while out.iter().any(|(n, _, _)| n == &name) {
            name.push_str(suffix);
        }
        out.push((name, false, f.name().clone()));
    }
    out
}

/// Splits `on` (over the pair names, see [`pair_names`]) into equalities
/// `left column = right column` of joinable, equal types (the hash keys)
/// and the rest. Errors when `on` is not a Boolean expression over those
/// columns.
pub fn split_join_condition(
    on: &Expr,
    left: &Schema,
    right: &Schema,
    suffix: &str,
) -> Result<SplitJoin> {
    let names = pair_names(left, right, suffix);
    let fields: Vec<Field> = names
        .iter()
        .map(|(n, is_left, input)| {
            let s = if *is_left { left } else { right };
            s.field_with_name(input)
                .map(|f| f.clone().with_name(n).with_nullable(true))
                .map_err(|_| column_not_found(input, s.fields().iter().map(|f| f.name().as_str())))
        })
        .collect::<Result<_>>()?;
    let pair = Schema::new(fields);
    let f = on.to_field(&pair)?;
    if f.data_type() != &DataType::Boolean {
        return Err(Error::type_mismatch(
            format!("join condition {on}"),
            format!("the condition is {}, not Boolean", f.data_type()),
        ));
    }
    let side = |c: &str| names.iter().find(|(n, _, _)| n == c);
    let mut out = SplitJoin {
        left_on: Vec::new(),
        right_on: Vec::new(),
        residual: None,
    };
    let mut rest = Vec::new();
    for c in split_conjunction(on) {
        if let Expr::Binary {
            left: a,
            op: BinaryOp::Eq,
            right: b,
        } = &c
            && let (Expr::Column(a), Expr::Column(b)) = (&**a, &**b)
            && let (Some(sa), Some(sb)) = (side(a), side(b))
            && sa.1 != sb.1
        {
            let (l, r) = if sa.1 { (sa, sb) } else { (sb, sa) };
            let tl = left.field_with_name(&l.2).map(|f| f.data_type().clone());
            let tr = right.field_with_name(&r.2).map(|f| f.data_type().clone());
            if let (Ok(tl), Ok(tr)) = (tl, tr)
                && tl == tr
                && joinable(&tl)
            {
                out.left_on.push(l.2.clone());
                out.right_on.push(r.2.clone());
                continue;
            }
        }
        rest.push(c);
    }
    out.residual = conjunction(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use parframe_core::{col, lit};

    use super::*;

    #[test]
    fn equalities_between_sides_become_keys() {
        let l = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("x", DataType::Int64, true),
        ]);
        let r = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("y", DataType::Int32, true),
        ]);
        let on = col("id_right")
            .eq(col("id"))
            .and(col("x").gt(lit(1i64)))
            .and(col("x").eq(col("y")));
        let s = split_join_condition(&on, &l, &r, "_right").unwrap();
        assert_eq!(s.left_on, vec!["id".to_string()]);
        assert_eq!(s.right_on, vec!["id".to_string()]);
        // Different types (Int64 vs Int32): compared in the residual.
        assert_eq!(
            s.residual,
            Some(col("x").gt(lit(1i64)).and(col("x").eq(col("y"))))
        );
        assert!(split_join_condition(&col("x"), &l, &r, "_right").is_err());
        assert!(split_join_condition(&col("nope").eq(col("x")), &l, &r, "_right").is_err());
    }
}
