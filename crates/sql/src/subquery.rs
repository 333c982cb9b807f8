//! Subqueries in expressions, decorrelated into joins (the approach of
//! DuckDB's and DataFusion's decorrelation: a correlated subquery becomes
//! a join on its correlation keys, never a per-row re-execution).
//!
//! - `[NOT] EXISTS (SELECT ... WHERE inner = outer AND ...)`, as a
//!   condition of `WHERE` (joined to the others by `AND`): a semi (anti)
//!   join on the correlated equalities. Correlated conditions that are not
//!   equalities (`l2.x <> l1.x`) are checked on the pairs: the outer rows
//!   get a row number, the pairs of outer and inner rows matching the
//!   equalities are filtered by those conditions, and the outer rows are
//!   semi (anti) joined with the row numbers that remain. An uncorrelated
//!   `EXISTS` counts the subquery's first row.
//! - `x [NOT] IN (SELECT y ...)` (correlated or not), as a `WHERE`
//!   condition: a semi (anti) join on `x = y` and the correlation keys.
//!   `NOT IN` keeps SQL's three-valued logic: a row is kept only when the
//!   subquery (for its correlation keys) is empty, or when it has no null
//!   `y` and `x` is not null (`x NOT IN (1, NULL)` is never true). Done
//!   by joining the count of rows and of non-null `y` per correlation key.
//! - Scalar subqueries `(SELECT ...)` anywhere in `WHERE` and the select
//!   list: an uncorrelated one is aggregated to one row (its value, or
//!   null when it has no rows; more than one row is an error, as SQL
//!   requires) and joined to every row. A correlated one with an
//!   aggregate (`SELECT min(c) FROM ... WHERE inner = outer`) is grouped
//!   by the inner correlation keys and left-joined on them, a `count`
//!   giving 0 where the outer row has no group; a correlated lookup
//!   without one (`SELECT name FROM u WHERE u.id = t.id`) likewise, with
//!   each key's row count checked when run (more than one row is an
//!   error). In `HAVING` (and the select list of an aggregating query)
//!   uncorrelated ones are joined after the aggregation.
//!
//! - `IN` / `EXISTS` elsewhere (inside `OR`, `NOT (...)`, `CASE`, the
//!   select list): a "mark join", a left join with the distinct keys
//!   that tells whether a row matched, with `IN`'s three-valued result
//!   from the counts above.
//!
//! The joins use exec's hash join (null keys never match, which is SQL's
//! `=`); a one-row table is joined on a constant key column, a hash join
//! with a one-row build side rather than a cross product.
//!
//! Refused (with the position): correlated subqueries with `ORDER BY`,
//! `LIMIT`, `GROUP BY` or set operations, outer columns in a subquery's
//! select list, correlation to a query two levels out, correlated
//! `DISTINCT` lookups, and `IN`/`EXISTS` in `HAVING` or the select list
//! of an aggregation.

use std::sync::atomic::Ordering;

use arrow_array::{Array, Int64Array, RecordBatch};
use parframe_common::{Error, Result};
use parframe_core::{Expr, ScalarValue, col, lit, when};
use parframe_exec::agg::{count, count_rows, first};
use parframe_exec::window::{Window, row_number};
use parframe_exec::{JoinOptions, JoinType, LazyFrame};
use sqlparser::ast::{
    self, BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident,
    InTarget, Query, Select, SelectItem, SetExpr, Spanned, UnaryOperator,
};
use sqlparser::tokenizer::Span;

use crate::error::{at, err, position, unsupported};
use crate::expr::{balanced, find_aggregate, function_name, row_expr, visit};
use crate::planner::SqlPlanner;
use crate::scope::{Scope, resolve_compound};

/// Whether `e` holds a subquery (in the constructs the translator reads).
pub(crate) fn has_subquery(e: &ast::Expr) -> bool {
    let mut found = false;
    visit(e, &mut |sub| {
        found |= matches!(
            sub,
            ast::Expr::Subquery(_)
                | ast::Expr::Exists { .. }
                | ast::Expr::In {
                    target: InTarget::Subquery(_),
                    ..
                }
        );
    });
    found
}

/// Rewrites `e` in place: where `f` gives a replacement for a node, the
/// node is replaced (and not descended into); otherwise its children are
/// visited (the constructs [`visit`] reads).
#[recursive::recursive]
pub(crate) fn rewrite(
    e: &mut ast::Expr,
    f: &mut dyn FnMut(&ast::Expr) -> Result<Option<ast::Expr>>,
) -> Result<()> {
    if let Some(r) = f(e)? {
        *e = r;
        return Ok(());
    }
    match e {
        ast::Expr::BinaryOp { left, right, .. } => {
            rewrite(left, f)?;
            rewrite(right, f)?;
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr) => rewrite(expr, f)?,
        ast::Expr::Between {
            expr, low, high, ..
        } => {
            rewrite(expr, f)?;
            rewrite(low, f)?;
            rewrite(high, f)?;
        }
        ast::Expr::In { expr, target, .. } => {
            rewrite(expr, f)?;
            if let InTarget::List(list) = target {
                for x in list {
                    rewrite(x, f)?;
                }
            }
        }
        ast::Expr::Like { expr, pattern, .. } | ast::Expr::ILike { expr, pattern, .. } => {
            rewrite(expr, f)?;
            rewrite(pattern, f)?;
        }
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            for x in operand.iter_mut().chain(else_result.iter_mut()) {
                rewrite(x, f)?;
            }
            for w in conditions {
                rewrite(&mut w.condition, f)?;
                rewrite(&mut w.result, f)?;
            }
        }
        ast::Expr::Function(func) => {
            if let FunctionArguments::List(l) = &mut func.args {
                for a in &mut l.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        rewrite(x, f)?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The conditions of `a AND b AND ...` (parentheses looked through).
fn conjuncts(e: &ast::Expr) -> Vec<&ast::Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            ast::Expr::Nested(inner) => stack.push(inner),
            ast::Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// `a AND b AND ...` of the conditions (`None` when there are none).
fn and_all(terms: Vec<ast::Expr>) -> Option<ast::Expr> {
    let mut it = terms.into_iter();
    let first = it.next()?;
    Some(it.fold(first, |acc, t| ast::Expr::BinaryOp {
        left: Box::new(acc),
        op: BinaryOperator::And,
        right: Box::new(t),
    }))
}

/// A quoted identifier naming a hidden column.
pub(crate) fn ident(name: &str) -> ast::Expr {
    ast::Expr::Identifier(Ident::with_quote('"', name))
}

/// Whether a column reference `e` names a column of the outer query: it
/// does not resolve in the subquery's own tables (which take precedence,
/// as in SQL; an ambiguous name there is theirs, and an error later) and
/// resolves in the outer query's.
fn is_outer(e: &ast::Expr, inner: &Scope, outer: &Scope) -> bool {
    match e {
        ast::Expr::Identifier(id) => {
            let ambiguous = inner
                .ambiguous
                .iter()
                .any(|a| a == &id.value || a.eq_ignore_ascii_case(&id.value));
            !ambiguous && inner.resolve(id).is_err() && outer.resolve(id).is_ok()
        }
        ast::Expr::CompoundIdentifier(parts) => {
            resolve_compound(inner, parts, e.span()).is_err()
                && resolve_compound(outer, parts, e.span()).is_ok()
        }
        _ => false,
    }
}

/// Which scopes the columns of `e` come from: (some inner, some outer).
/// Columns of neither are counted as inner (planning the subquery reports
/// them).
fn sides(e: &ast::Expr, inner: &Scope, outer: &Scope) -> (bool, bool) {
    let (mut i, mut o) = (false, false);
    visit(e, &mut |sub| {
        if matches!(
            sub,
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
        ) {
            if is_outer(sub, inner, outer) {
                o = true;
            } else {
                i = true;
            }
        }
    });
    (i, o)
}

/// What the outer query asks of a subquery.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Exists,
    In,
    Scalar,
}

/// A subquery planned as a frame to join with the outer rows.
struct Sub {
    frame: LazyFrame,
    /// Correlation keys: the outer expression and the frame's key column.
    keys: Vec<(ast::Expr, String)>,
    /// The value column (`IN`, scalar).
    value: Option<String>,
    /// Correlated conditions that are not equalities, over the outer
    /// scope and the frame's columns.
    residual: Vec<ast::Expr>,
    /// A correlated `count(...)`: 0 where there is no group.
    count: bool,
    /// A correlated lookup without an aggregate: the column counting the
    /// rows of each key (more than one is an error).
    single: Option<String>,
    /// The names of the hidden columns of this subquery start so.
    prefix: String,
    span: Span,
}

impl Sub {
    /// The same subquery without a value or conditions (for the extra
    /// joins of `IN`).
    fn clone_keys(&self) -> Sub {
        Sub {
            frame: self.frame.clone(),
            keys: self.keys.clone(),
            value: None,
            residual: Vec::new(),
            count: false,
            single: None,
            prefix: self.prefix.clone(),
            span: self.span,
        }
    }
}

impl SqlPlanner {
    fn next_prefix(&self) -> String {
        format!("__pf_sq{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Plans a subquery of an outer query whose rows are in `outer`.
    fn plan_subquery(&self, q: &Query, outer: &Scope, kind: Kind, span: Span) -> Result<Sub> {
        let prefix = self.next_prefix();
        let uncorrelated = |frame: LazyFrame| -> Result<Sub> {
            let value = match kind {
                Kind::Exists => None,
                Kind::In | Kind::Scalar => {
                    let schema = frame.schema();
                    let [f] = schema.fields().iter().collect::<Vec<_>>()[..] else {
                        return err(
                            format!(
                                "a subquery used as a value must return one column; this one \
                                 returns {}",
                                schema.fields().len()
                            ),
                            span,
                        );
                    };
                    Some(f.name().clone())
                }
            };
            Ok(Sub {
                frame,
                keys: Vec::new(),
                value,
                residual: Vec::new(),
                count: false,
                single: None,
                prefix: prefix.clone(),
                span,
            })
        };
        let SetExpr::Select(s) = q.body.as_ref() else {
            return uncorrelated(self.plan_query(q)?);
        };
        if q.with.is_some() {
            return uncorrelated(self.plan_query(q)?);
        }
        let (_, inner) = self.plan_from(s)?;
        let conds: Vec<&ast::Expr> = s.selection.as_ref().map(conjuncts).unwrap_or_default();
        let correlated = |e: &ast::Expr| sides(e, &inner, outer).1;
        if !conds.iter().any(|c| correlated(c)) {
            return uncorrelated(self.plan_query(q)?);
        }
        // Correlated: a SELECT with its correlated conditions taken out.
        if q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
            return unsupported("ORDER BY / LIMIT in a correlated subquery", span);
        }
        let items: Vec<&ast::Expr> = s
            .projection
            .iter()
            .filter_map(|p| match p {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                _ => None,
            })
            .collect();
        for e in items.iter().copied().chain(s.having.iter()) {
            if correlated(e) {
                return unsupported(
                    "a column of the outer query in a subquery's select list or HAVING",
                    e.span(),
                );
            }
        }
        let grouped = !matches!(&s.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
            || s.having.is_some();
        if grouped {
            return unsupported("GROUP BY / HAVING in a correlated subquery", span);
        }
        let mut keep: Vec<ast::Expr> = Vec::new();
        let mut keys: Vec<(ast::Expr, ast::Expr)> = Vec::new();
        let mut residual_src: Vec<&ast::Expr> = Vec::new();
        for c in conds {
            if !correlated(c) {
                keep.push(c.clone());
                continue;
            }
            if let ast::Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = c
            {
                match (sides(left, &inner, outer), sides(right, &inner, outer)) {
                    ((true, false), (false, true)) => {
                        keys.push(((**right).clone(), (**left).clone()));
                        continue;
                    }
                    ((false, true), (true, false)) => {
                        keys.push(((**left).clone(), (**right).clone()));
                        continue;
                    }
                    _ => {}
                }
            }
            residual_src.push(c);
        }
        let mut projection: Vec<SelectItem> = Vec::new();
        let key_names: Vec<String> = (0..keys.len()).map(|i| format!("{prefix}_k{i}")).collect();
        for ((_, inner_e), name) in keys.iter().zip(&key_names) {
            projection.push(SelectItem::ExprWithAlias {
                expr: inner_e.clone(),
                alias: Ident::new(name.as_str()),
            });
        }
        // Residual conditions read inner columns through hidden columns of
        // the frame.
        let mut residual = Vec::new();
        let mut n_res = 0usize;
        for c in residual_src {
            let mut r = c.clone();
            rewrite(&mut r, &mut |x| {
                let inner_col = match x {
                    ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => {
                        !is_outer(x, &inner, outer)
                    }
                    ast::Expr::Subquery(_) | ast::Expr::Exists { .. } => {
                        return unsupported(
                            "a subquery inside a correlated condition of a subquery",
                            x.span(),
                        );
                    }
                    _ => return Ok(None),
                };
                if !inner_col {
                    return Ok(None);
                }
                let name = format!("{prefix}_r{n_res}");
                n_res += 1;
                projection.push(SelectItem::ExprWithAlias {
                    expr: x.clone(),
                    alias: Ident::new(name.as_str()),
                });
                Ok(Some(ident(&name)))
            })?;
            residual.push(r);
        }
        let mut value = None;
        let mut count = false;
        let mut single = None;
        let mut ns: Select = (**s).clone();
        ns.selection = and_all(keep);
        ns.distinct = None;
        match kind {
            Kind::Exists => {
                if items.iter().any(|e| find_aggregate(e).is_some()) {
                    return unsupported("a correlated EXISTS over an aggregate", span);
                }
            }
            Kind::In | Kind::Scalar => {
                let [item] = items[..] else {
                    return err(
                        "a subquery used as a value must return one column",
                        s.projection.first().map(|p| p.span()).unwrap_or(span),
                    );
                };
                if items.len() != s.projection.len() {
                    return err("a subquery used as a value must return one column", span);
                }
                let name = format!("{prefix}_v");
                projection.push(SelectItem::ExprWithAlias {
                    expr: item.clone(),
                    alias: Ident::new(name.as_str()),
                });
                value = Some(name);
                let aggregating = find_aggregate(item).is_some();
                if kind == Kind::In && aggregating {
                    return unsupported("a correlated IN subquery over an aggregate", span);
                }
                if kind == Kind::Scalar {
                    if !aggregating {
                        // A lookup (`SELECT name FROM u WHERE u.id = t.id`):
                        // at most one row per key, checked when run: its
                        // value as min(...) of its group, and the group's
                        // row count.
                        if s.distinct.is_some() {
                            return unsupported(
                                "DISTINCT in a correlated scalar subquery without an aggregate",
                                span,
                            );
                        }
                        if let Some(SelectItem::ExprWithAlias { expr, .. }) = projection.last_mut()
                        {
                            *expr = call("min", vec![item.clone()]);
                        }
                        let n = format!("{prefix}_n");
                        projection.push(SelectItem::ExprWithAlias {
                            expr: call("count", Vec::new()),
                            alias: Ident::new(n.as_str()),
                        });
                        single = Some(n);
                    }
                    if !residual.is_empty() {
                        return unsupported(
                            "a correlated condition that is not an equality in a scalar subquery",
                            residual[0].span(),
                        );
                    }
                    count = aggregating && is_count(item)?;
                    ns.group_by = GroupByExpr::Expressions(
                        keys.iter().map(|(_, i)| i.clone()).collect(),
                        Vec::new(),
                    );
                }
            }
        }
        ns.projection = projection;
        let frame = self.plan_select(&ns, &[], None)?;
        Ok(Sub {
            frame,
            keys: keys.into_iter().map(|(o, _)| o).zip(key_names).collect(),
            value,
            residual,
            count,
            single,
            prefix,
            span,
        })
    }

    /// `WHERE` with subqueries: the plain conditions filter first, then each
    /// condition with a subquery joins (or filters) in turn. The output has
    /// the input's columns.
    pub(crate) fn filter_with_subqueries(
        &self,
        lf: LazyFrame,
        scope: &Scope,
        w: &ast::Expr,
    ) -> Result<LazyFrame> {
        let original: Vec<Expr> = scope
            .schema
            .fields()
            .iter()
            .map(|f| col(f.name().as_str()))
            .collect();
        let (with_sub, plain): (Vec<&ast::Expr>, Vec<&ast::Expr>) =
            conjuncts(w).into_iter().partition(|c| has_subquery(c));
        let mut lf = lf;
        let plain = plain
            .iter()
            .map(|c| row_expr(c, scope))
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = balanced(plain, Expr::and) {
            lf = lf.filter(p).map_err(at(w.span()))?;
        }
        let mut scope = scope.clone();
        for c in with_sub {
            (lf, scope) = self.condition(lf, scope, c)?;
        }
        lf.select(original).map_err(at(w.span()))
    }

    /// One `WHERE` condition holding a subquery.
    fn condition(&self, lf: LazyFrame, scope: Scope, c: &ast::Expr) -> Result<(LazyFrame, Scope)> {
        let mut c = c;
        let mut negated = false;
        loop {
            match c {
                ast::Expr::Nested(inner) => c = inner,
                ast::Expr::UnaryOp {
                    op: UnaryOperator::Not,
                    expr,
                } if matches!(
                    strip(expr),
                    ast::Expr::Exists { .. }
                        | ast::Expr::In {
                            target: InTarget::Subquery(_),
                            ..
                        }
                        | ast::Expr::UnaryOp {
                            op: UnaryOperator::Not,
                            ..
                        }
                ) =>
                {
                    negated = !negated;
                    c = expr;
                }
                _ => break,
            }
        }
        let span = c.span();
        match c {
            ast::Expr::Exists {
                subquery,
                negated: n,
            } => {
                let sub = self.plan_subquery(subquery, &scope, Kind::Exists, span)?;
                self.exists(lf, scope, sub, negated != *n)
            }
            ast::Expr::In {
                expr,
                target: InTarget::Subquery(q),
                negated: n,
                global: false,
            } => {
                if has_subquery(expr) {
                    return unsupported("a subquery on the left of IN (subquery)", expr.span());
                }
                let sub = self.plan_subquery(q, &scope, Kind::In, span)?;
                self.in_subquery(lf, scope, expr, sub, negated != *n)
            }
            other => {
                // Scalar subqueries anywhere in the condition.
                let (lf, scope, rewritten) = self.scalars(lf, scope, other)?;
                let p = row_expr(&rewritten, &scope)?;
                let lf = lf.filter(p).map_err(at(span))?;
                Ok((lf, scope))
            }
        }
    }

    /// Joins every scalar subquery of `e` (correlated ones on their keys)
    /// and returns `e` reading their value columns.
    pub(crate) fn scalars(
        &self,
        lf: LazyFrame,
        scope: Scope,
        e: &ast::Expr,
    ) -> Result<(LazyFrame, Scope, ast::Expr)> {
        let mut lf = lf;
        let mut scope = scope;
        let mut out = e.clone();
        rewrite(&mut out, &mut |x| match x {
            ast::Expr::Subquery(q) => {
                let sub = self.plan_subquery(q, &scope, Kind::Scalar, x.span())?;
                let (l, s, value) = self.join_scalar(lf.clone(), &scope, sub)?;
                lf = l;
                scope = s;
                Ok(Some(value))
            }
            ast::Expr::Exists { subquery, negated } => {
                let sub = self.plan_subquery(subquery, &scope, Kind::Exists, x.span())?;
                let (l, s, value) = self.mark_exists(lf.clone(), &scope, sub, *negated)?;
                lf = l;
                scope = s;
                Ok(Some(value))
            }
            ast::Expr::In {
                expr,
                target: InTarget::Subquery(q),
                negated,
                global: false,
            } => {
                if has_subquery(expr) {
                    return unsupported("a subquery on the left of IN (subquery)", expr.span());
                }
                let sub = self.plan_subquery(q, &scope, Kind::In, x.span())?;
                let (l, s, value) = self.mark_in(lf.clone(), &scope, expr, sub, *negated)?;
                lf = l;
                scope = s;
                Ok(Some(value))
            }
            _ => Ok(None),
        })?;
        Ok((lf, scope, out))
    }

    /// Uncorrelated scalar subqueries of the select list and `HAVING` of an
    /// aggregating query: each replaced by a hidden column, returned with
    /// the one-row frame to join after the aggregation.
    pub(crate) fn scalars_after_aggregation(
        &self,
        scope: &Scope,
        e: &ast::Expr,
        joins: &mut Vec<(LazyFrame, String)>,
    ) -> Result<ast::Expr> {
        let mut out = e.clone();
        rewrite(&mut out, &mut |x| match x {
            ast::Expr::Subquery(q) => {
                let sub = self.plan_subquery(q, scope, Kind::Scalar, x.span())?;
                if !sub.keys.is_empty() {
                    return unsupported(
                        "a correlated subquery in the select list or HAVING of an aggregation",
                        x.span(),
                    );
                }
                let (one, value) = one_row(&sub)?;
                joins.push((one, sub.prefix.clone()));
                Ok(Some(ident(&value)))
            }
            ast::Expr::Exists { .. }
            | ast::Expr::In {
                target: InTarget::Subquery(_),
                ..
            } => unsupported(
                "IN / EXISTS subqueries in the select list or HAVING of an aggregation",
                x.span(),
            ),
            _ => Ok(None),
        })?;
        Ok(out)
    }

    /// A scalar subquery joined to the outer rows: its value column (an
    /// expression reading it).
    fn join_scalar(
        &self,
        lf: LazyFrame,
        scope: &Scope,
        sub: Sub,
    ) -> Result<(LazyFrame, Scope, ast::Expr)> {
        if sub.keys.is_empty() {
            let (one, value) = one_row(&sub)?;
            let lf = join_constant(&lf, &one, &sub.prefix, sub.span)?;
            let scope = extended(scope, &lf);
            return Ok((lf, scope, ident(&value)));
        }
        let Some(value) = sub.value.clone() else {
            return err("a scalar subquery without a value", sub.span);
        };
        let (lf, lk, frame, rk) = align_keys(&lf, scope, &sub)?;
        let lf = lf
            .join_with(
                &frame,
                lk,
                rk,
                JoinType::Left,
                JoinOptions::new().coalesce_keys(false),
            )
            .map_err(at(sub.span))?;
        let lf = match &sub.single {
            Some(n) => at_most_one_row(lf, n, sub.span)?,
            None => lf,
        };
        let scope = extended(scope, &lf);
        let v = ident(&value);
        let v = if sub.count {
            // count over no rows is 0, not the null of an unmatched row.
            ast::Expr::Case {
                case_token: ast::helpers::attached_token::AttachedToken::empty(),
                end_token: ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![ast::CaseWhen {
                    condition: ast::Expr::IsNull(Box::new(v.clone())),
                    result: ast::Expr::value(ast::Value::Number("0".into(), false)),
                }],
                else_result: Some(Box::new(v)),
            }
        } else {
            v
        };
        Ok((lf, scope, v))
    }

    /// `[NOT] EXISTS`.
    fn exists(
        &self,
        lf: LazyFrame,
        scope: Scope,
        sub: Sub,
        negated: bool,
    ) -> Result<(LazyFrame, Scope)> {
        let span = sub.span;
        if sub.keys.is_empty() && sub.residual.is_empty() {
            // Uncorrelated: whether the subquery has a row.
            let n = format!("{}_n", sub.prefix);
            let one = sub
                .frame
                .limit(1)
                .group_by(Vec::<Expr>::new())
                .agg([count_rows().alias(n.as_str())])
                .map_err(at(span))?;
            let lf = join_constant(&lf, &one, &sub.prefix, span)?;
            let none = col(n.as_str())
                .clone()
                .is_null()
                .or(col(n.as_str()).eq(lit(0i64)));
            let p = if negated { none } else { none.not() };
            let lf = lf.filter(p).map_err(at(span))?;
            let scope = extended(&scope, &lf);
            return Ok((lf, scope));
        }
        let how = if negated {
            JoinType::Anti
        } else {
            JoinType::Semi
        };
        if sub.residual.is_empty() {
            let (lf, lk, frame, rk) = align_keys(&lf, &scope, &sub)?;
            let lf = lf.join(&frame, lk, rk, how).map_err(at(span))?;
            let scope = extended(&scope, &lf);
            return Ok((lf, scope));
        }
        // Conditions beyond equalities: the join's residual, which a pair
        // of rows with equal keys must also pass (evaluated inside the
        // semi or anti join, on the pairs).
        let (left, lk, frame, rk) = align_keys(&lf, &scope, &sub)?;
        let pairs = pairs_of(&left, &lk, &frame, &rk, span)?;
        let pscope = extended(&scope, &pairs);
        let rest = sub
            .residual
            .iter()
            .map(|r| row_expr(r, &pscope))
            .collect::<Result<Vec<_>>>()?;
        let on = crate::relation::pair_condition(
            (&lk, &rk),
            left.schema().fields().len(),
            &frame.schema(),
            &pscope.schema,
            rest,
            span,
        )?;
        let lf = left
            .join_on_with(&frame, how, on, JoinOptions::new())
            .map_err(at(span))?;
        let scope = extended(&scope, &lf);
        Ok((lf, scope))
    }

    /// For `EXISTS` with correlated conditions beyond equalities: the outer
    /// rows numbered, and the numbers of those with a pair of outer and
    /// inner rows that matches the equalities and passes the conditions.
    fn passing_rows(
        &self,
        lf: LazyFrame,
        scope: &Scope,
        sub: &Sub,
    ) -> Result<(LazyFrame, LazyFrame, String)> {
        let span = sub.span;
        let rid = format!("{}_row", sub.prefix);
        let numbered = lf
            .with_window_columns([row_number().over(Window::new()).alias(rid.as_str())])
            .map_err(at(span))?;
        let nscope = extended(scope, &numbered);
        let (left, lk, frame, rk) = align_keys(&numbered, &nscope, sub)?;
        let pairs = pairs_of(&left, &lk, &frame, &rk, span)?;
        let pscope = extended(&nscope, &pairs);
        let conds = sub
            .residual
            .iter()
            .map(|r| row_expr(r, &pscope))
            .collect::<Result<Vec<_>>>()?;
        let mut pairs = pairs;
        if let Some(p) = balanced(conds, Expr::and) {
            pairs = pairs.filter(p).map_err(at(span))?;
        }
        let ids = pairs.select([col(rid.as_str())]).map_err(at(span))?;
        Ok((numbered, ids, rid))
    }

    /// `[NOT] EXISTS` as a value (inside `OR`, `CASE`, the select list): a
    /// left join with the distinct correlation keys (a "mark join"); the
    /// value is whether a row matched.
    fn mark_exists(
        &self,
        lf: LazyFrame,
        scope: &Scope,
        sub: Sub,
        negated: bool,
    ) -> Result<(LazyFrame, Scope, ast::Expr)> {
        let span = sub.span;
        let m = format!("{}_m", sub.prefix);
        let flag = format!("{}_flag", sub.prefix);
        let mark = |f: LazyFrame, cols: Vec<Expr>| -> Result<LazyFrame> {
            f.select(cols)
                .and_then(|f| f.distinct())
                .and_then(|f| f.with_column(lit(true).alias(m.as_str())))
                .map_err(at(span))
        };
        let (joined, found) = if sub.keys.is_empty() && sub.residual.is_empty() {
            let n = format!("{}_n", sub.prefix);
            let one = sub
                .frame
                .limit(1)
                .group_by(Vec::<Expr>::new())
                .agg([count_rows().alias(n.as_str())])
                .map_err(at(span))?;
            let joined = join_constant(&lf, &one, &sub.prefix, span)?;
            (joined, col(n.as_str()).gt(lit(0i64)))
        } else if sub.residual.is_empty() {
            let (l, lk, frame, rk) = align_keys(&lf, scope, &sub)?;
            let marks = mark(frame, rk.iter().map(|k| col(k.as_str())).collect())?;
            let joined = l
                .join_with(
                    &marks,
                    lk,
                    rk,
                    JoinType::Left,
                    JoinOptions::new().coalesce_keys(false),
                )
                .map_err(at(span))?;
            (joined, col(m.as_str()).is_not_null())
        } else {
            let (numbered, ids, rid) = self.passing_rows(lf, scope, &sub)?;
            let marks = mark(ids, vec![col(rid.as_str())])?;
            let joined = numbered
                .join_with(
                    &marks,
                    [rid.as_str()],
                    [rid.as_str()],
                    JoinType::Left,
                    JoinOptions::new().coalesce_keys(false),
                )
                .map_err(at(span))?;
            (joined, col(m.as_str()).is_not_null())
        };
        let value = if negated { found.not() } else { found };
        let lf = joined
            .with_column(value.alias(flag.as_str()))
            .map_err(at(span))?;
        let scope = extended(scope, &lf);
        Ok((lf, scope, ident(&flag)))
    }

    /// `x [NOT] IN (subquery)` as a value: SQL's three-valued result from
    /// a mark join on (correlation keys, x = y) and the count of rows and
    /// of non-null `y` per correlation key: true on a match; false when
    /// the subquery is empty; null when x is null or a `y` is; else false.
    fn mark_in(
        &self,
        lf: LazyFrame,
        scope: &Scope,
        x: &ast::Expr,
        sub: Sub,
        negated: bool,
    ) -> Result<(LazyFrame, Scope, ast::Expr)> {
        let span = sub.span;
        if !sub.residual.is_empty() {
            return unsupported(
                "a correlated condition that is not an equality in an IN subquery",
                sub.residual[0].span(),
            );
        }
        let Some(value) = sub.value.clone() else {
            return err("IN needs a subquery with one column", span);
        };
        let (m, n, nv, flag) = (
            format!("{}_m", sub.prefix),
            format!("{}_n", sub.prefix),
            format!("{}_nv", sub.prefix),
            format!("{}_flag", sub.prefix),
        );
        let corr_keys = sub.keys.clone();
        let mut with_x = sub.clone_keys();
        with_x.keys.push((x.clone(), value.clone()));
        let (l, lk, frame, rk) = align_keys(&lf, scope, &with_x)?;
        let marks = frame
            .select(rk.iter().map(|k| col(k.as_str())))
            .and_then(|f| f.distinct())
            .and_then(|f| f.with_column(lit(true).alias(m.as_str())))
            .map_err(at(span))?;
        let l = l
            .join_with(
                &marks,
                lk,
                rk,
                JoinType::Left,
                JoinOptions::new().coalesce_keys(false),
            )
            .map_err(at(span))?;
        let stats = sub
            .frame
            .group_by(
                corr_keys
                    .iter()
                    .map(|(_, k)| col(k.as_str()))
                    .collect::<Vec<_>>(),
            )
            .agg([
                count_rows().alias(n.as_str()),
                count(value.as_str()).alias(nv.as_str()),
            ])
            .map_err(at(span))?;
        let lscope = extended(scope, &l);
        let l = if corr_keys.is_empty() {
            join_constant(&l, &stats, &sub.prefix, span)?
        } else {
            let mut stats_sub = sub.clone_keys();
            stats_sub.frame = stats;
            let (l, lk, frame, rk) = align_keys(&l, &lscope, &stats_sub)?;
            l.join_with(
                &frame,
                lk,
                rk,
                JoinType::Left,
                JoinOptions::new().coalesce_keys(false),
            )
            .map_err(at(span))?
        };
        let x_expr = row_expr(x, scope)?;
        let (cm, cn, cnv) = (col(m.as_str()), col(n.as_str()), col(nv.as_str()));
        let found = when(cm.is_not_null(), lit(true))
            .when(
                cn.clone().is_null().or(cn.clone().eq(lit(0i64))),
                lit(false),
            )
            .when(
                x_expr.is_null().or(cnv.lt(cn)),
                lit(ScalarValue::Null).cast(arrow_schema::DataType::Boolean),
            )
            .otherwise(lit(false));
        let value = if negated { found.not() } else { found };
        let lf = l
            .with_column(value.alias(flag.as_str()))
            .map_err(at(span))?;
        let scope = extended(scope, &lf);
        Ok((lf, scope, ident(&flag)))
    }

    /// `x [NOT] IN (subquery)`.
    fn in_subquery(
        &self,
        lf: LazyFrame,
        scope: Scope,
        x: &ast::Expr,
        sub: Sub,
        negated: bool,
    ) -> Result<(LazyFrame, Scope)> {
        let span = sub.span;
        if !sub.residual.is_empty() {
            return unsupported(
                "a correlated condition that is not an equality in an IN subquery",
                sub.residual[0].span(),
            );
        }
        let Some(value) = sub.value.clone() else {
            return err("IN needs a subquery with one column", span);
        };
        let corr_keys = sub.keys.clone();
        let mut with_x = Sub {
            frame: sub.frame.clone(),
            keys: sub.keys.clone(),
            value: None,
            residual: Vec::new(),
            count: false,
            single: None,
            prefix: sub.prefix.clone(),
            span,
        };
        with_x.keys.push((x.clone(), value.clone()));
        let how = if negated {
            JoinType::Anti
        } else {
            JoinType::Semi
        };
        let (joined, lk, frame, rk) = align_keys(&lf, &scope, &with_x)?;
        let out = joined.join(&frame, lk, rk, how).map_err(at(span))?;
        if !negated {
            let scope = extended(&scope, &out);
            return Ok((out, scope));
        }
        // NOT IN: no match is not enough when x or a y is null.
        let x_expr = row_expr(x, &scope)?;
        let x_nullable = x_expr
            .to_field(&scope.schema)
            .map(|f| f.is_nullable())
            .unwrap_or(true);
        let y_nullable = sub
            .frame
            .schema()
            .field_with_name(&value)
            .map(|f| f.is_nullable())
            .unwrap_or(true);
        if !x_nullable && !y_nullable {
            let scope = extended(&scope, &out);
            return Ok((out, scope));
        }
        let n = format!("{}_n", sub.prefix);
        let nv = format!("{}_nv", sub.prefix);
        let stats_keys: Vec<Expr> = corr_keys.iter().map(|(_, k)| col(k.as_str())).collect();
        let stats = sub
            .frame
            .group_by(stats_keys)
            .agg([
                count_rows().alias(n.as_str()),
                count(value.as_str()).alias(nv.as_str()),
            ])
            .map_err(at(span))?;
        let oscope = extended(&scope, &out);
        let with_stats = if corr_keys.is_empty() {
            join_constant(&out, &stats, &sub.prefix, span)?
        } else {
            let stats_sub = Sub {
                frame: stats,
                keys: corr_keys,
                value: None,
                residual: Vec::new(),
                count: false,
                single: None,
                prefix: sub.prefix.clone(),
                span,
            };
            let (l, lk, frame, rk) = align_keys(&out, &oscope, &stats_sub)?;
            l.join_with(
                &frame,
                lk,
                rk,
                JoinType::Left,
                JoinOptions::new().coalesce_keys(false),
            )
            .map_err(at(span))?
        };
        let (n, nv) = (col(n.as_str()), col(nv.as_str()));
        let keep = n
            .clone()
            .is_null()
            .or(n.clone().eq(lit(0i64)))
            .or(n.eq(nv).and(x_expr.is_not_null()));
        let lf = with_stats.filter(keep).map_err(at(span))?;
        let scope = extended(&scope, &lf);
        Ok((lf, scope))
    }
}

/// Looks through parentheses.
fn strip(e: &ast::Expr) -> &ast::Expr {
    match e {
        ast::Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

/// Whether a correlated scalar subquery's value is `count(...)` itself
/// (0 for outer rows without a group); an error when `count` is inside
/// a larger expression (its value over no rows is not built).
fn is_count(item: &ast::Expr) -> Result<bool> {
    if let ast::Expr::Function(f) = strip(item)
        && function_name(f) == "count"
    {
        return Ok(true);
    }
    let mut nested = None;
    visit(item, &mut |x| {
        if let ast::Expr::Function(f) = x
            && function_name(f) == "count"
            && nested.is_none()
        {
            nested = Some(f.span());
        }
    });
    match nested {
        Some(span) => unsupported(
            "count(...) inside an expression of a correlated scalar subquery (its value where \
             no rows correlate)",
            span,
        ),
        None => Ok(false),
    }
}

/// The scope of `lf`: `scope`'s names, and `lf`'s other columns by their
/// exact names.
pub(crate) fn extended(scope: &Scope, lf: &LazyFrame) -> Scope {
    Scope {
        schema: lf.schema(),
        ..scope.clone()
    }
}

/// Every pair of an outer row and a subquery row with equal keys (keys not
/// coalesced; no keys at all: every pair, a cross product).
fn pairs_of(
    left: &LazyFrame,
    lk: &[String],
    frame: &LazyFrame,
    rk: &[String],
    span: Span,
) -> Result<LazyFrame> {
    let how = if lk.is_empty() {
        JoinType::Cross
    } else {
        JoinType::Inner
    };
    left.join_with(
        frame,
        lk.to_vec(),
        rk.to_vec(),
        how,
        JoinOptions::new().coalesce_keys(false),
    )
    .map_err(at(span))
}

/// The outer key columns (expressions computed as hidden columns) and the
/// frame with its key columns cast to their types.
fn align_keys(
    lf: &LazyFrame,
    scope: &Scope,
    sub: &Sub,
) -> Result<(LazyFrame, Vec<String>, LazyFrame, Vec<String>)> {
    let mut lf = lf.clone();
    let mut frame = sub.frame.clone();
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut computed = Vec::new();
    let frame_schema = frame.schema();
    let mut casts = Vec::new();
    for (i, (outer, inner)) in sub.keys.iter().enumerate() {
        let e = row_expr(outer, scope)?;
        let t = e
            .to_field(&scope.schema)
            .map_err(at(outer.span()))?
            .data_type()
            .clone();
        let name = match &e {
            Expr::Column(c) => c.clone(),
            _ => {
                let name = format!("{}_o{i}", sub.prefix);
                computed.push(e.alias(name.as_str()));
                name
            }
        };
        let rt = frame_schema
            .field_with_name(inner)
            .map_err(|e| Error::sql(e.to_string(), position(sub.span)))?
            .data_type()
            .clone();
        if rt != t {
            casts.push(col(inner.as_str()).cast(t).alias(inner.as_str()));
        }
        left.push(name);
        right.push(inner.clone());
    }
    if !computed.is_empty() {
        lf = lf.with_columns(computed).map_err(at(sub.span))?;
    }
    if !casts.is_empty() {
        frame = frame.with_columns(casts).map_err(at(sub.span))?;
    }
    Ok((lf, left, frame, right))
}

/// An uncorrelated scalar subquery as one row: its value (null when it has
/// no rows), an error when it has more than one. Returns the frame and
/// the value's column.
fn one_row(sub: &Sub) -> Result<(LazyFrame, String)> {
    let Some(v) = &sub.value else {
        return err("a scalar subquery without a value", sub.span);
    };
    let n = format!("{}_n", sub.prefix);
    let value = format!("{}_v", sub.prefix);
    let agg = sub
        .frame
        .group_by(Vec::<Expr>::new())
        .agg([
            count_rows().alias(n.as_str()),
            first(v.as_str()).alias(value.as_str()),
        ])
        .map_err(at(sub.span))?;
    Ok((at_most_one_row(agg, &n, sub.span)?, value))
}

/// `lf` unchanged, or an error when it is run if its row-count column `n`
/// exceeds 1 somewhere (a scalar subquery with more than one row).
fn at_most_one_row(lf: LazyFrame, n: &str, span: Span) -> Result<LazyFrame> {
    let schema = lf.schema();
    let pos = position(span);
    let idx = schema
        .index_of(n)
        .map_err(|e| Error::sql(e.to_string(), pos))?;
    lf.map_batches_with_schema(schema, move |batch: RecordBatch| {
        let c = batch.column(idx);
        let c = arrow_cast::cast(c, &arrow_schema::DataType::Int64)?;
        if let Some(a) = c.as_any().downcast_ref::<Int64Array>()
            && a.iter().flatten().any(|rows| rows > 1)
        {
            return Err(Error::sql(
                "a scalar subquery returned more than one row",
                pos,
            ));
        }
        Ok(batch)
    })
    .map_err(at(span))
}

/// A call `name(args)` (`name(*)` without arguments) as SQL.
fn call(name: &str, args: Vec<ast::Expr>) -> ast::Expr {
    let args = if args.is_empty() {
        vec![FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
    } else {
        args.into_iter()
            .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
            .collect()
    };
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// `lf` with the one row of `one` on every row: a left join on a constant
/// key column (a hash join with one build row). The key column stays in
/// the output (hidden; callers select their columns afterwards).
fn join_constant(lf: &LazyFrame, one: &LazyFrame, prefix: &str, span: Span) -> Result<LazyFrame> {
    let key = format!("{prefix}_c");
    let k = || lit(ScalarValue::Int64(0)).alias(key.as_str());
    let l = lf.with_column(k()).map_err(at(span))?;
    let r = one.with_column(k()).map_err(at(span))?;
    l.join(&r, [key.as_str()], [key.as_str()], JoinType::Left)
        .map_err(at(span))
}

/// Joins the one-row frames of [`SqlPlanner::scalars_after_aggregation`]
/// to the aggregate's output.
pub(crate) fn join_after_aggregation(
    lf: LazyFrame,
    joins: &[(LazyFrame, String)],
    span: Span,
) -> Result<LazyFrame> {
    let mut lf = lf;
    for (one, prefix) in joins {
        lf = join_constant(&lf, one, prefix, span)?;
    }
    Ok(lf)
}
