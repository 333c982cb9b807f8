//! `SELECT`: the select list (`*` expansion, names), `WHERE`, `DISTINCT`,
//! the `ORDER BY` keys of a select, and the aggregation around it.

use std::collections::HashMap;

use parframe_common::Result;
use parframe_core::{Expr, col};
use parframe_exec::LazyFrame;
use sqlparser::ast::{
    self, Distinct, GroupByExpr, OrderBySort, Select, SelectItem, SelectItemQualifiedWildcardKind,
    Spanned, Value,
};
use sqlparser::tokenizer::Span;

use crate::aggregate::{AggState, Grouping, grouping};
use crate::error::{at, err, sql_error, unsupported};
use crate::expr::{find_aggregate, row_expr};
use crate::planner::SqlPlanner;
use crate::query::{OrderKey, sort_frame};
use crate::scope::Scope;
use crate::window::{Windows, has_window};

impl SqlPlanner {
    pub(crate) fn plan_select(
        &self,
        s: &Select,
        order: &[ast::OrderByExpr],
        limit: Option<usize>,
    ) -> Result<LazyFrame> {
        check_select(s)?;
        let (input, scope) = self.plan_from(s)?;
        let mut input = input;
        if let Some(w) = &s.selection {
            if let Some(span) = find_aggregate(w) {
                return err("aggregate functions are not allowed in WHERE", span);
            }
            if crate::subquery::has_subquery(w) {
                input = self.filter_with_subqueries(input, &scope, w)?;
            } else {
                let pred = row_expr(w, &scope)?;
                input = input.filter(pred).map_err(at(w.span()))?;
            }
        }
        let group_all = match &s.group_by {
            GroupByExpr::All(modifiers) if !modifiers.is_empty() => {
                return unsupported("GROUP BY ALL with modifiers", s.span());
            }
            GroupByExpr::All(_) => true,
            GroupByExpr::Expressions(..) => false,
        };
        let aggregating = group_all
            || matches!(&s.group_by, GroupByExpr::Expressions(e, _) if !e.is_empty())
            || s.having.is_some()
            || s.projection.iter().any(|p| match p {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    find_aggregate(e).is_some()
                }
                _ => false,
            });

        // The select list: (SQL expression when there is one, output name).
        let mut items = select_items(s, &scope, aggregating)?;
        // Scalar subqueries of the select list: joined to the input rows
        // (or, when aggregating, to the aggregate's output).
        let mut scope = scope;
        let mut after_agg: Vec<(LazyFrame, String)> = Vec::new();
        for it in &mut items {
            if let Some(e) = it.sql.as_ref().filter(|e| crate::subquery::has_subquery(e)) {
                let e = if aggregating {
                    self.scalars_after_aggregation(&scope, e, &mut after_agg)?
                } else {
                    let (lf, sc, e) = self.scalars(input, scope, e)?;
                    input = lf;
                    scope = sc;
                    e
                };
                it.sql = Some(e);
            }
        }
        let having = match &s.having {
            Some(h) if crate::subquery::has_subquery(h) => {
                Some(self.scalars_after_aggregation(&scope, h, &mut after_agg)?)
            }
            other => other.clone(),
        };
        // Window calls (select list, QUALIFY): over the input rows here,
        // over the aggregate's output (after HAVING) when aggregating.
        let mut windows = Windows::default();
        let mut qualify = s.qualify.clone();
        if !aggregating {
            let named = &s.named_window;
            for e in items
                .iter_mut()
                .filter_map(|it| it.sql.as_mut())
                .chain(qualify.as_mut())
            {
                if has_window(e) {
                    *e =
                        self.rewrite_windows(e, &mut |x| row_expr(x, &scope), named, &mut windows)?;
                }
            }
            if !windows.is_empty() {
                input = windows.apply(input, s.span())?;
                scope = crate::subquery::extended(&scope, &input);
            }
        }
        let mut qualify_pred: Option<(Expr, Span)> = None;
        let distinct = matches!(s.distinct, Some(Distinct::Distinct));

        let (frame, outputs, mut mode) = if aggregating {
            let mut state = AggState::new(scope.clone());
            state.joined = after_agg
                .iter()
                .map(|(_, prefix)| format!("{prefix}_v"))
                .collect();
            let grouping = match &s.group_by {
                // GROUP BY ALL: every select item without an aggregate.
                GroupByExpr::All(_) => Grouping {
                    exprs: items
                        .iter()
                        .filter_map(|it| it.sql.clone())
                        .filter(|e| find_aggregate(e).is_none())
                        .collect(),
                    sets: None,
                },
                GroupByExpr::Expressions(exprs, modifiers) => grouping(exprs, modifiers, s.span())?,
            };
            let keys = state.add_keys(&grouping.exprs, &items)?;
            for e in items
                .iter_mut()
                .filter_map(|it| it.sql.as_mut())
                .chain(qualify.as_mut())
            {
                if has_window(e) {
                    *e = self.rewrite_windows(
                        e,
                        &mut |x| state.translate(x),
                        &s.named_window,
                        &mut windows,
                    )?;
                }
            }
            state.joined.extend(windows.names.iter().cloned());
            state.sets = grouping.sets.map(|sets| {
                sets.iter()
                    .map(|set| set.iter().map(|&i| keys[i]).collect())
                    .collect()
            });
            let outputs = items
                .iter()
                .map(|it| match &it.sql {
                    Some(e) => state.translate(e),
                    None => Ok(col(it.name.as_str())),
                })
                .collect::<Result<Vec<_>>>()?;
            let having = match &having {
                Some(h) => Some((state.translate(h)?, h.span())),
                None => None,
            };
            if let Some(q) = &qualify {
                qualify_pred = Some((state.translate(q)?, q.span()));
            }
            (
                FrameAfterAgg::Pending {
                    input: input.clone(),
                    having,
                },
                outputs,
                Mode::Agg(Box::new(state)),
            )
        } else {
            if let Some(q) = &qualify {
                qualify_pred = Some((row_expr(q, &scope)?, q.span()));
            }
            let outputs = items
                .iter()
                .map(|it| match &it.sql {
                    Some(e) => row_expr(e, &scope),
                    None => Ok(col(it.name.as_str())),
                })
                .collect::<Result<Vec<_>>>()?;
            (
                FrameAfterAgg::Ready(input.clone()),
                outputs,
                Mode::Row(scope),
            )
        };

        // ORDER BY keys: an output column, or a hidden column computed next
        // to the outputs and dropped after sorting.
        let mut keys: Vec<OrderKey> = Vec::new();
        let mut hidden: Vec<Expr> = Vec::new();
        for o in order {
            if o.with_fill.is_some() {
                return unsupported("ORDER BY ... WITH FILL", o.span());
            }
            let descending = match &o.options.sort {
                None | Some(OrderBySort::Asc) => false,
                Some(OrderBySort::Desc) => true,
                Some(OrderBySort::Using(_)) => return unsupported("ORDER BY ... USING", o.span()),
            };
            let nulls_last = o.options.nulls_first.map(|f| !f).unwrap_or(true);
            let column = match output_ref(&o.expr, &items)? {
                Some(i) => items[i].name.clone(),
                None => {
                    if distinct {
                        return err(
                            "with SELECT DISTINCT, ORDER BY expressions must appear in the select list",
                            o.expr.span(),
                        );
                    }
                    let name = format!("__pf_order{}", hidden.len());
                    let e = mode.translate(&o.expr)?;
                    hidden.push(e.alias(name.as_str()));
                    name
                }
            };
            keys.push(OrderKey {
                column,
                descending,
                nulls_last,
            });
        }

        let base = match frame {
            FrameAfterAgg::Ready(lf) => lf,
            FrameAfterAgg::Pending { input, having } => {
                let Mode::Agg(state) = mode else {
                    return unsupported("an aggregation without its state", s.span());
                };
                let mut lf = state.aggregate(&input, s.span())?;
                lf = crate::subquery::join_after_aggregation(lf, &after_agg, s.span())?;
                if let Some((pred, span)) = having {
                    lf = lf.filter(pred).map_err(at(span))?;
                }
                windows.apply(lf, s.span())?
            }
        };
        let base = match qualify_pred {
            Some((pred, span)) => base.filter(pred).map_err(at(span))?,
            None => base,
        };

        let mut select: Vec<Expr> = outputs
            .into_iter()
            .zip(&items)
            .map(|(e, it)| e.alias(it.name.as_str()))
            .collect();
        let n_out = select.len();
        select.extend(hidden);
        let mut lf = base.select(select).map_err(at(s.span()))?;
        if distinct {
            lf = lf.distinct().map_err(at(s.span()))?;
        }
        if !keys.is_empty() {
            let span = order.first().map(|o| o.span()).unwrap_or_else(Span::empty);
            lf = sort_frame(&lf, &keys, limit, span)?;
            if lf.schema().fields().len() > n_out {
                lf = lf
                    .select(items.iter().map(|it| col(it.name.as_str())))
                    .map_err(at(span))?;
            }
        } else if let Some(n) = limit {
            lf = lf.limit(n);
        }
        Ok(lf)
    }
}
/// Rejects the parts of a SELECT that have no plan.
pub(crate) fn check_select(s: &Select) -> Result<()> {
    let span = s.span();
    if let Some(Distinct::On(_)) = &s.distinct {
        return unsupported("DISTINCT ON", span);
    }
    let checks: [(bool, &str); 12] = [
        (s.top.is_some(), "TOP"),
        (s.into.is_some(), "SELECT INTO"),
        (!s.lateral_views.is_empty(), "LATERAL VIEW"),
        (s.prewhere.is_some(), "PREWHERE"),
        (!s.connect_by.is_empty(), "CONNECT BY"),
        (!s.cluster_by.is_empty(), "CLUSTER BY"),
        (!s.distribute_by.is_empty(), "DISTRIBUTE BY"),
        (!s.sort_by.is_empty(), "SORT BY"),
        (s.value_table_mode.is_some(), "SELECT AS VALUE/STRUCT"),
        (s.exclude.is_some(), "EXCLUDE"),
        (s.select_modifiers.is_some(), "select modifiers"),
        (!s.optimizer_hints.is_empty(), "optimizer hints"),
    ];
    for (bad, what) in checks {
        if bad {
            return unsupported(what, span);
        }
    }
    Ok(())
}

/// One item of the select list after `*` expansion.
pub(crate) struct Item {
    /// The SQL expression (`None` for a column of `*`).
    pub(crate) sql: Option<ast::Expr>,
    /// The output column name.
    pub(crate) name: String,
}

pub(crate) fn select_items(s: &Select, scope: &Scope, aggregating: bool) -> Result<Vec<Item>> {
    let mut items: Vec<Item> = Vec::new();
    for p in &s.projection {
        match p {
            SelectItem::UnnamedExpr(e) => {
                let name = default_name(e, scope);
                items.push(Item {
                    sql: Some(e.clone()),
                    name,
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => items.push(Item {
                sql: Some(expr.clone()),
                name: alias.value.clone(),
            }),
            SelectItem::ExprWithAliases { expr, .. } => {
                return unsupported("several aliases for one expression", expr.span());
            }
            SelectItem::Wildcard(opts) | SelectItem::QualifiedWildcard(_, opts) => {
                if opts.opt_ilike.is_some()
                    || opts.opt_exclude.is_some()
                    || opts.opt_except.is_some()
                    || opts.opt_replace.is_some()
                    || opts.opt_rename.is_some()
                    || opts.opt_alias.is_some()
                {
                    return unsupported("* with ILIKE/EXCLUDE/EXCEPT/REPLACE/RENAME", p.span());
                }
                // `t.*`: the columns that table `t` contributed, in order.
                let mut only: Option<Vec<String>> = None;
                if let SelectItem::QualifiedWildcard(kind, _) = p {
                    let table = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(n) if n.0.len() == 1 => {
                            n.0.first().and_then(|p| p.as_ident())
                        }
                        _ => None,
                    };
                    let cols: Vec<String> = scope
                        .columns
                        .iter()
                        .filter(|(q, _, _)| table.is_some_and(|t| t.value.eq_ignore_ascii_case(q)))
                        .map(|(_, _, o)| o.clone())
                        .collect();
                    if cols.is_empty() {
                        return err(format!("unknown table in '{p}'"), p.span());
                    }
                    only = Some(cols);
                }
                if aggregating {
                    return err(
                        "SELECT * cannot be used with GROUP BY or aggregates; list the columns",
                        p.span(),
                    );
                }
                for f in scope.schema.fields() {
                    if only.as_ref().is_some_and(|o| !o.contains(f.name())) {
                        continue;
                    }
                    items.push(Item {
                        sql: None,
                        name: f.name().clone(),
                    });
                }
            }
        }
    }
    // Duplicate names get a suffix, as the lazy API needs unique columns.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for it in &mut items {
        let n = seen.entry(it.name.clone()).or_insert(0);
        if *n > 0 {
            it.name = format!("{}_{}", it.name, n);
        }
        *n += 1;
    }
    Ok(items)
}

/// The output name of an unaliased select item: a column's name, else the
/// expression as written.
pub(crate) fn default_name(e: &ast::Expr, scope: &Scope) -> String {
    match e {
        ast::Expr::Identifier(i) => scope.resolve(i).unwrap_or_else(|_| i.value.clone()),
        ast::Expr::CompoundIdentifier(parts) => parts
            .last()
            .map(|i| scope.resolve(i).unwrap_or_else(|_| i.value.clone()))
            .unwrap_or_default(),
        ast::Expr::Nested(inner) => default_name(inner, scope),
        other => other.to_string(),
    }
}

/// Which output an ORDER BY / GROUP BY item refers to: a position, an
/// output name, or an expression written the same as a select item.
pub(crate) fn output_ref(e: &ast::Expr, items: &[Item]) -> Result<Option<usize>> {
    if let ast::Expr::Value(v) = e
        && let Value::Number(n, _) = &v.value
    {
        let pos: usize = n
            .parse()
            .map_err(|_| sql_error(format!("bad position '{n}'"), e.span()))?;
        if pos == 0 || pos > items.len() {
            return err(
                format!(
                    "position {pos} is not in the select list (1..={})",
                    items.len()
                ),
                e.span(),
            );
        }
        return Ok(Some(pos - 1));
    }
    if let ast::Expr::Identifier(i) = e {
        if let Some(k) = items.iter().position(|it| it.name == i.value) {
            return Ok(Some(k));
        }
        if i.quote_style.is_none()
            && let Some(k) = items
                .iter()
                .position(|it| it.name.eq_ignore_ascii_case(&i.value))
        {
            return Ok(Some(k));
        }
    }
    Ok(items.iter().position(|it| it.sql.as_ref() == Some(e)))
}

/// How the columns of an expression are read: from the input rows, or
/// (after GROUP BY) from keys and aggregates.
pub(crate) enum Mode {
    Row(Scope),
    Agg(Box<AggState>),
}

impl Mode {
    pub(crate) fn translate(&mut self, e: &ast::Expr) -> Result<Expr> {
        match self {
            Mode::Row(scope) => {
                if let Some(span) = find_aggregate(e) {
                    return err("aggregate function in a query without GROUP BY", span);
                }
                row_expr(e, scope)
            }
            Mode::Agg(state) => state.translate(e),
        }
    }
}

pub(crate) enum FrameAfterAgg {
    Ready(LazyFrame),
    Pending {
        input: LazyFrame,
        having: Option<(Expr, Span)>,
    },
}
