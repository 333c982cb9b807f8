//! Expressions: operators, literals, `CASE`, `IN`, `BETWEEN`, `LIKE`,
//! casts, and scalar function calls (through the function registry).

use arrow_schema::DataType;
use parframe_common::Result;
use parframe_core::{Expr, ScalarValue, col, lit, when};
use sqlparser::ast::{
    self, BinaryOperator, CastKind, FunctionArg, FunctionArgExpr, FunctionArguments, InTarget,
    Spanned, UnaryOperator, Value,
};
use sqlparser::tokenizer::Span;

use crate::error::{err, sql_error, unsupported};
use crate::functions::{self, Builder, Function, ScalarArgs};
use crate::scope::{Scope, resolve_compound};
use crate::syntax;
use crate::types::sql_type;

/// The lower-case name of a call.
pub(crate) fn function_name(f: &ast::Function) -> String {
    f.name.to_string().to_ascii_lowercase()
}

/// The registry entry of `f` when it calls an aggregate.
pub(crate) fn aggregate_function(f: &ast::Function) -> Option<&'static Function> {
    // `sum(x) OVER (...)` is a window function, not an aggregate.
    functions::lookup(&function_name(f))
        .filter(|d| matches!(d.builder, Builder::Aggregate(_)) && f.over.is_none())
}

/// The span of the first aggregate call inside `e`, if any.
pub(crate) fn find_aggregate(e: &ast::Expr) -> Option<Span> {
    let mut found = None;
    visit(e, &mut |sub| {
        if found.is_none()
            && let ast::Expr::Function(f) = sub
            && aggregate_function(f).is_some()
        {
            found = Some(f.span());
        }
    });
    found
}

/// Calls `f` on `e` and its sub-expressions (of the constructs translated).
#[recursive::recursive]
pub(crate) fn visit(e: &ast::Expr, f: &mut dyn FnMut(&ast::Expr)) {
    f(e);
    match e {
        ast::Expr::BinaryOp { left, right, .. } => {
            visit(left, f);
            visit(right, f);
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr)
        | ast::Expr::Extract { expr, .. }
        | ast::Expr::Floor { expr, .. }
        | ast::Expr::Ceil { expr, .. } => {
            visit(expr, f);
        }
        ast::Expr::IsDistinctFrom(a, b)
        | ast::Expr::IsNotDistinctFrom(a, b)
        | ast::Expr::Position { expr: a, r#in: b }
        | ast::Expr::AtTimeZone {
            timestamp: a,
            time_zone: b,
        } => {
            visit(a, f);
            visit(b, f);
        }
        ast::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            visit(expr, f);
            for x in substring_from.iter().chain(substring_for.iter()) {
                visit(x, f);
            }
        }
        ast::Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            visit(expr, f);
            for x in trim_what.iter() {
                visit(x, f);
            }
            for x in trim_characters.iter().flatten() {
                visit(x, f);
            }
        }
        ast::Expr::Between {
            expr, low, high, ..
        } => {
            visit(expr, f);
            visit(low, f);
            visit(high, f);
        }
        ast::Expr::In {
            expr,
            target: InTarget::List(list),
            ..
        } => {
            visit(expr, f);
            for x in list {
                visit(x, f);
            }
        }
        ast::Expr::Like { expr, pattern, .. } | ast::Expr::ILike { expr, pattern, .. } => {
            visit(expr, f);
            visit(pattern, f);
        }
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            for x in operand.iter().chain(else_result.iter()) {
                visit(x, f);
            }
            for w in conditions {
                visit(&w.condition, f);
                visit(&w.result, f);
            }
        }
        ast::Expr::Function(func) => {
            if let FunctionArguments::List(l) = &func.args {
                for a in &l.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        visit(x, f);
                    }
                }
            }
        }
        _ => {}
    }
}

/// How the leaves of an expression are translated: columns (from input
/// rows, or after `GROUP BY` from keys and aggregates) and aggregates are
/// the implementor's business; everything else goes back through
/// [`translate_with`].
pub(crate) trait Leaf {
    /// Translates a sub-expression.
    fn leaf(&mut self, e: &ast::Expr) -> Result<Expr>;
    /// The type of an expression this translator made (`None`: unknown).
    fn data_type(&mut self, e: &Expr) -> Option<DataType>;
}

/// Row-level expressions over a scope's columns.
pub(crate) struct Row<'a>(pub(crate) &'a Scope);

impl Leaf for Row<'_> {
    #[recursive::recursive]
    fn leaf(&mut self, e: &ast::Expr) -> Result<Expr> {
        match e {
            ast::Expr::Identifier(i) => Ok(col(self.0.resolve(i)?)),
            ast::Expr::CompoundIdentifier(parts) => {
                Ok(col(resolve_compound(self.0, parts, e.span())?))
            }
            ast::Expr::Function(f) if aggregate_function(f).is_some() => err(
                format!(
                    "aggregate function '{}' is not allowed here",
                    function_name(f)
                ),
                f.span(),
            ),
            _ => translate_with(e, self),
        }
    }

    fn data_type(&mut self, e: &Expr) -> Option<DataType> {
        e.to_field(&self.0.schema)
            .ok()
            .map(|f| f.data_type().clone())
    }
}

/// Translates a row-level expression over the input.
pub(crate) fn row_expr(e: &ast::Expr, scope: &Scope) -> Result<Expr> {
    Row(scope).leaf(e)
}

/// The operands of a chain of one associative operator (`a OR b OR c`,
/// parsed left-deep), gathered without recursion.
fn chain<'e>(e: &'e ast::Expr, op: &BinaryOperator) -> Vec<&'e ast::Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            ast::Expr::BinaryOp { left, op: o, right } if o == op => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// Combines terms into a balanced tree of `f` (depth log2 n, so a long
/// `OR` chain or `IN` list does not make a deep expression).
pub(crate) fn balanced(mut terms: Vec<Expr>, f: fn(Expr, Expr) -> Expr) -> Option<Expr> {
    while terms.len() > 1 {
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        let mut it = terms.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => f(a, b),
                None => a,
            });
        }
        terms = next;
    }
    terms.pop()
}

/// Division: `/` is the expression layer's true division (integers and
/// decimals divide as `Float64`, as in DuckDB and polars: one rule for SQL
/// and the Rust API, see `parframe_core::expr`'s "Division"); `//` is
/// [`Expr::div_trunc`], integer division truncating toward zero.
fn divide(l: Expr, r: Expr, t: &mut dyn Leaf, integer: bool, span: Span) -> Result<Expr> {
    if !integer {
        return Ok(l / r);
    }
    let ints = match (t.data_type(&l), t.data_type(&r)) {
        (Some(a), Some(b)) => a.is_integer() && b.is_integer(),
        // Unknown here: the expression layer checks the types.
        _ => true,
    };
    if !ints {
        return unsupported("// on non-integers (cast the operands to integers)", span);
    }
    Ok(l.div_trunc(r))
}

/// Translates the structure of `e` (operators, literals, casts, scalar
/// functions), with `t` translating sub-expressions.
pub(crate) fn translate_with(e: &ast::Expr, t: &mut dyn Leaf) -> Result<Expr> {
    match e {
        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => t.leaf(e),
        ast::Expr::Value(v) => Ok(lit(scalar(&v.value, e.span())?)),
        ast::Expr::Nested(inner) => t.leaf(inner),
        ast::Expr::BinaryOp {
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            ..
        } => {
            let terms = chain(e, op)
                .into_iter()
                .map(|x| t.leaf(x))
                .collect::<Result<Vec<_>>>()?;
            let out = if *op == BinaryOperator::And {
                balanced(terms, Expr::and)
            } else {
                // Conjuncts shared by every branch move out of the OR, so
                // a join condition written in each branch becomes a key.
                crate::factor::or_factored(terms)
            };
            out.ok_or_else(|| sql_error("empty AND/OR", e.span()))
        }
        ast::Expr::BinaryOp { left, op, right } => {
            let l = t.leaf(left)?;
            let r = t.leaf(right)?;
            Ok(match op {
                BinaryOperator::Plus => l + r,
                BinaryOperator::Minus => l - r,
                BinaryOperator::Multiply => l * r,
                BinaryOperator::Divide => divide(l, r, t, false, e.span())?,
                BinaryOperator::DuckIntegerDivide | BinaryOperator::MyIntegerDivide => {
                    divide(l, r, t, true, e.span())?
                }
                BinaryOperator::Modulo => l % r,
                BinaryOperator::Eq => l.eq(r),
                BinaryOperator::NotEq => l.not_eq(r),
                BinaryOperator::Lt => l.lt(r),
                BinaryOperator::LtEq => l.lt_eq(r),
                BinaryOperator::Gt => l.gt(r),
                BinaryOperator::GtEq => l.gt_eq(r),
                BinaryOperator::StringConcat => l.concat(r),
                other => return unsupported(format!("the operator {other}"), e.span()),
            })
        }
        _ => translate_rest(e, t),
    }
}

/// [`translate_with`] for everything but identifiers, literals and binary
/// operators.
fn translate_rest(e: &ast::Expr, t: &mut dyn Leaf) -> Result<Expr> {
    let span = e.span();
    match e {
        ast::Expr::UnaryOp { op, expr } => {
            let x = t.leaf(expr)?;
            match op {
                UnaryOperator::Not => Ok(x.not()),
                UnaryOperator::Minus => Ok(-x),
                UnaryOperator::Plus => Ok(x),
                other => unsupported(format!("the operator {other}"), span),
            }
        }
        ast::Expr::IsNull(x) => Ok(t.leaf(x)?.is_null()),
        ast::Expr::IsNotNull(x) => Ok(t.leaf(x)?.is_not_null()),
        ast::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let x = t.leaf(expr)?;
            let b = x.clone().gt_eq(t.leaf(low)?).and(x.lt_eq(t.leaf(high)?));
            Ok(if *negated { b.not() } else { b })
        }
        ast::Expr::In {
            expr,
            target,
            negated,
            global,
        } => {
            let InTarget::List(list) = target else {
                return unsupported("IN with a subquery, UNNEST or table", span);
            };
            if *global {
                return unsupported("GLOBAL IN", span);
            }
            let x = t.leaf(expr)?;
            let items = list.iter().map(|i| t.leaf(i)).collect::<Result<Vec<_>>>()?;
            if items.is_empty() {
                return err("IN () needs at least one value", span);
            }
            // Literals of the exact kinds (strings, integers, dates...) are
            // one hash-set test; decimal and float literals, which may equal
            // a value of another scale, and expressions stay comparisons.
            let literals: Option<Vec<ScalarValue>> = items
                .iter()
                .map(|i| match i {
                    Expr::Literal(v)
                        if !matches!(
                            v,
                            ScalarValue::Decimal128(..)
                                | ScalarValue::Float64(_)
                                | ScalarValue::Float32(_)
                        ) =>
                    {
                        Some(v.clone())
                    }
                    _ => None,
                })
                .collect();
            if let Some(values) = literals {
                return Ok(if *negated {
                    x.is_not_in(values)
                } else {
                    x.is_in(values)
                });
            }
            let terms = items.into_iter().map(|i| x.clone().eq(i)).collect();
            let Some(acc) = balanced(terms, Expr::or) else {
                return err("IN () needs at least one value", span);
            };
            Ok(if *negated { acc.not() } else { acc })
        }
        ast::Expr::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        }
        | ast::Expr::ILike {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            let ilike = matches!(e, ast::Expr::ILike { .. });
            if *any {
                return unsupported("LIKE ANY", span);
            }
            let x = t.leaf(expr)?;
            let p = t.leaf(pattern)?;
            syntax::like(x, p, ilike, *negated, escape_char.as_deref())
        }
        ast::Expr::Cast {
            kind,
            expr,
            data_type,
            format,
        } => {
            if format.is_some() {
                return unsupported("CAST ... FORMAT", span);
            }
            let to = sql_type(data_type, span)?;
            // CAST is strict; TRY_CAST (SAFE_CAST) gives null where a
            // value does not convert.
            Ok(if matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                t.leaf(expr)?.try_cast(to)
            } else {
                t.leaf(expr)?.cast(to)
            })
        }
        ast::Expr::TypedString(ts) => match ts.value.value.clone().into_string() {
            Some(text) => syntax::typed_literal(&ts.data_type, &text, span),
            None => err(format!("{} literal needs a string", ts.data_type), span),
        },
        ast::Expr::Interval(iv) => syntax::interval_literal(iv, span),
        ast::Expr::Extract { field, expr, .. } => syntax::extract(field, t.leaf(expr)?, span),
        ast::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let s = t.leaf(expr)?;
            syntax::substring(s, substring_from.as_deref(), substring_for.as_deref(), t)
        }
        ast::Expr::Trim {
            expr,
            trim_where,
            trim_what,
            trim_characters,
        } => syntax::trim(
            trim_where.as_ref(),
            trim_what.as_deref(),
            expr,
            trim_characters.as_deref(),
            t,
            span,
        ),
        ast::Expr::Position { expr, r#in } => {
            let sub = t.leaf(expr)?;
            Ok(t.leaf(r#in)?.str().strpos(sub))
        }
        ast::Expr::AtTimeZone {
            timestamp,
            time_zone,
        } => syntax::at_time_zone(t.leaf(timestamp)?, time_zone),
        ast::Expr::Floor { expr, field } | ast::Expr::Ceil { expr, field } => {
            if !matches!(
                field,
                ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime)
            ) {
                return unsupported("FLOOR/CEIL with a scale or TO unit", span);
            }
            let f = if matches!(e, ast::Expr::Floor { .. }) {
                parframe_core::MathFunc::Floor
            } else {
                parframe_core::MathFunc::Ceil
            };
            Ok(t.leaf(expr)?.math(f))
        }
        ast::Expr::IsDistinctFrom(a, b) => Ok(t.leaf(a)?.is_distinct_from(t.leaf(b)?)),
        ast::Expr::IsNotDistinctFrom(a, b) => Ok(t.leaf(a)?.is_not_distinct_from(t.leaf(b)?)),
        ast::Expr::Function(f) => scalar_function(f, t),
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            // The simple form `CASE x WHEN a THEN ..` compares `x = a`.
            let operand = match operand {
                Some(x) => Some(t.leaf(x)?),
                None => None,
            };
            let mut builder: Option<parframe_core::CaseBuilder> = None;
            for w in conditions {
                let c = t.leaf(&w.condition)?;
                let c = match &operand {
                    Some(x) => x.clone().eq(c),
                    None => c,
                };
                let v = t.leaf(&w.result)?;
                builder = Some(match builder {
                    None => when(c, v),
                    Some(b) => b.when(c, v),
                });
            }
            let Some(builder) = builder else {
                return err("CASE needs at least one WHEN", span);
            };
            Ok(match else_result {
                Some(e) => builder.otherwise(t.leaf(e)?),
                None => builder.end(),
            })
        }
        ast::Expr::Subquery(_) | ast::Expr::Exists { .. } => unsupported(
            "a subquery here (subqueries are planned in WHERE, the select list and HAVING)",
            span,
        ),
        ast::Expr::Wildcard(_) | ast::Expr::QualifiedWildcard(..) => {
            unsupported("* inside an expression", span)
        }
        other => unsupported(
            format!("the expression '{}'", first_words(&other.to_string())),
            span,
        ),
    }
}

pub(crate) fn scalar(v: &Value, span: Span) -> Result<ScalarValue> {
    Ok(match v {
        // Integers are Int64; a number with a point (and no exponent) is
        // an exact decimal of its digits (`0.06` is Decimal(2, 2)), as the
        // SQL standard and DuckDB have it, as is an integer too large for
        // Int64; exponents (`1e3`) and over 38 digits are Float64.
        Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => ScalarValue::Int64(i),
            Err(_) => match ScalarValue::decimal_from_str(n) {
                Ok(d) if !n.contains(['e', 'E']) => d,
                _ => match n.parse::<f64>() {
                    Ok(f) => ScalarValue::Float64(f),
                    Err(_) => return err(format!("bad number '{n}'"), span),
                },
            },
        },
        Value::SingleQuotedString(s)
        | Value::DoubleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::UnicodeStringLiteral(s)
        | Value::NationalStringLiteral(s)
        | Value::TripleSingleQuotedString(s)
        | Value::TripleDoubleQuotedString(s) => ScalarValue::Utf8(s.clone()),
        Value::Boolean(b) => ScalarValue::Boolean(*b),
        Value::Null => ScalarValue::Null,
        other => return unsupported(format!("the literal {other}"), span),
    })
}

pub(crate) fn string_literal(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::EscapedStringLiteral(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn number_literal(e: &ast::Expr) -> Option<f64> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        ast::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => number_literal(expr).map(|x| -x),
        _ => None,
    }
}

pub(crate) fn limit_value(e: &ast::Expr) -> Result<usize> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n
                .parse::<usize>()
                .map_err(|_| sql_error(format!("expected a row count, got '{n}'"), e.span())),
            _ => err("expected a row count", e.span()),
        },
        _ => unsupported("an expression as a row count", e.span()),
    }
}

pub(crate) fn first_words(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().take(4).collect();
    let mut out = words.join(" ");
    if s.split_whitespace().count() > 4 {
        out.push_str(" …");
    }
    out
}

/// A scalar function call, resolved through the registry.
fn scalar_function(f: &ast::Function, t: &mut dyn Leaf) -> Result<Expr> {
    let span = f.span();
    let name = function_name(f);
    if f.over.is_some() {
        return unsupported(format!("window functions ({name} OVER ...)"), span);
    }
    if f.filter.is_some() || !f.within_group.is_empty() {
        return unsupported(format!("FILTER/WITHIN GROUP on {name}"), span);
    }
    let args: Vec<&ast::Expr> = match &f.args {
        FunctionArguments::List(l) if l.duplicate_treatment.is_none() && l.clauses.is_empty() => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                other => err(
                    format!("unexpected argument '{other}' of {name}"),
                    other.span(),
                ),
            })
            .collect::<Result<_>>()?,
        FunctionArguments::None => Vec::new(),
        _ => return unsupported(format!("the arguments of {name}"), span),
    };
    let Some(def) = functions::lookup(&name) else {
        return unsupported(
            format!("the function '{name}'; {}", functions::supported_list()),
            span,
        );
    };
    let Builder::Scalar(build) = def.builder else {
        return err(
            format!("aggregate function '{name}' is not allowed here"),
            span,
        );
    };
    def.check_arity(&name, args.len(), span)?;
    let exprs = args.iter().map(|a| t.leaf(a)).collect::<Result<Vec<_>>>()?;
    build(&ScalarArgs {
        name: &name,
        exprs,
        sql: args,
        span,
    })
}
