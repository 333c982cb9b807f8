//! Queries: `WITH`, the body, `ORDER BY`, `LIMIT`/`OFFSET`.

use parframe_common::Result;
use parframe_exec::{LazyFrame, SortKey};
use sqlparser::ast::{Ident, LimitClause, OrderByKind, OrderBySort, Query, SetExpr, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{at, unsupported};
use crate::expr::{first_words, limit_value};
use crate::planner::SqlPlanner;
use crate::relation::rename_columns;
use crate::select::{Item, output_ref};

/// The sort order of one `ORDER BY` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderKey {
    /// The output column.
    pub column: String,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS LAST`.
    pub nulls_last: bool,
}

/// Sorts `lf` by `keys`, keeping the first `limit` rows when given (a
/// top-k, which never sorts the whole input). The single place that calls
/// the sort operator.
pub(crate) fn sort_frame(
    lf: &LazyFrame,
    keys: &[OrderKey],
    limit: Option<usize>,
    span: Span,
) -> Result<LazyFrame> {
    let keys: Vec<SortKey> = keys
        .iter()
        .map(|k| {
            let key = if k.descending {
                SortKey::desc(k.column.as_str())
            } else {
                SortKey::asc(k.column.as_str())
            };
            key.nulls_last(k.nulls_last)
        })
        .collect();
    match limit {
        Some(n) => lf.top_k(keys, n).map_err(at(span)),
        None => lf.sort(keys).map_err(at(span)),
    }
}

impl SqlPlanner {
    pub(crate) fn plan_query(&self, q: &Query) -> Result<LazyFrame> {
        let mut planner = self.clone();
        if let Some(with) = &q.with {
            if with.recursive {
                return unsupported("WITH RECURSIVE", with.span());
            }
            for cte in &with.cte_tables {
                let mut lf = planner.plan_query(&cte.query)?;
                if !cte.alias.columns.is_empty() {
                    let names: Vec<&Ident> = cte.alias.columns.iter().map(|c| &c.name).collect();
                    lf = rename_columns(&lf, &names, cte.alias.span())?;
                }
                planner.ctes.insert(cte.alias.name.value.to_lowercase(), lf);
            }
        }
        if q.fetch.is_some() {
            return unsupported("FETCH", q.span());
        }
        if !q.locks.is_empty() {
            return unsupported("FOR UPDATE/SHARE", q.span());
        }
        if q.for_clause.is_some() || q.settings.is_some() || q.format_clause.is_some() {
            return unsupported("FOR/SETTINGS/FORMAT clauses", q.span());
        }
        if !q.pipe_operators.is_empty() {
            return unsupported("pipe operators", q.span());
        }
        // `LIMIT n OFFSET m` (or MySQL's `LIMIT m, n`): the body keeps its
        // first n + m rows (a top-k when sorted), then m are skipped.
        let (limit, offset) = match &q.limit_clause {
            None => (None, 0),
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return unsupported("LIMIT BY", q.span());
                }
                let limit = match limit {
                    None => None,
                    Some(e) => Some(limit_value(e)?),
                };
                let offset = match offset {
                    None => 0,
                    Some(o) => limit_value(&o.value)?,
                };
                (limit, offset)
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit_value(limit)?), limit_value(offset)?)
            }
        };
        let lf = planner.plan_body(q, limit.map(|n| n.saturating_add(offset)))?;
        Ok(if offset > 0 { lf.offset(offset) } else { lf })
    }

    /// The body of a query with its `ORDER BY`, keeping the first `limit`
    /// rows when given.
    fn plan_body(&self, q: &Query, limit: Option<usize>) -> Result<LazyFrame> {
        let planner = self;
        let order = match &q.order_by {
            None => Vec::new(),
            Some(o) => {
                if o.interpolate.is_some() {
                    return unsupported("ORDER BY ... INTERPOLATE", q.span());
                }
                match &o.kind {
                    OrderByKind::All(_) => return unsupported("ORDER BY ALL", q.span()),
                    OrderByKind::Expressions(items) => items.clone(),
                }
            }
        };
        match q.body.as_ref() {
            SetExpr::Select(s) => planner.plan_select(s, &order, limit),
            SetExpr::Query(inner) if order.is_empty() && limit.is_none() => {
                planner.plan_query(inner)
            }
            SetExpr::SetOperation { .. } | SetExpr::Values(_) | SetExpr::Query(_) => {
                let lf = planner.plan_set(q.body.as_ref())?;
                // ORDER BY over a set operation: output names or positions.
                let items: Vec<Item> = lf
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| Item {
                        sql: None,
                        name: f.name().clone(),
                    })
                    .collect();
                let mut keys = Vec::new();
                for o in &order {
                    let Some(i) = output_ref(&o.expr, &items)? else {
                        return unsupported(
                            "ORDER BY expressions over a UNION, VALUES or subquery (order by \
                             output names or positions)",
                            o.expr.span(),
                        );
                    };
                    if matches!(o.options.sort, Some(OrderBySort::Using(_)))
                        || o.with_fill.is_some()
                    {
                        return unsupported("ORDER BY ... USING / WITH FILL", o.span());
                    }
                    keys.push(OrderKey {
                        column: items[i].name.clone(),
                        descending: matches!(o.options.sort, Some(OrderBySort::Desc)),
                        nulls_last: o.options.nulls_first.map(|f| !f).unwrap_or(true),
                    });
                }
                if !keys.is_empty() {
                    let span = order.first().map(|o| o.span()).unwrap_or_else(Span::empty);
                    sort_frame(&lf, &keys, limit, span)
                } else {
                    Ok(match limit {
                        Some(n) => lf.limit(n),
                        None => lf,
                    })
                }
            }
            other => unsupported(
                format!("the query form '{}'", first_words(&other.to_string())),
                other.span(),
            ),
        }
    }
}
