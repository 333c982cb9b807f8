//! SQL over files: a query parsed by `sqlparser` and planned onto the
//! lazy API ([`LazyFrame`]).
//!
//! Supported: `SELECT` lists with expressions, aliases and `*`; `FROM` a file
//! path in single quotes (format from the extension, `*`/`?` wildcards in the
//! file name), `read_csv('f.csv', delim=';', header=true, nullstr='NA')`,
//! `read_parquet('f')`, `read_ipc('f')`, a table registered with
//! [`SqlPlanner::register`] (`--table name=path`), a `WITH` table, or a
//! subquery; `WHERE`; `GROUP BY` names, positions, aliases and expressions;
//! `HAVING`; the aggregates `count(*)`, `count(x)`, `count(DISTINCT x)`,
//! `sum`, `avg`/`mean`, `min`, `max`, `median`, `quantile_cont(x, q)`,
//! `stddev`/`stddev_samp`/`std`, `var_samp`/`variance`/`var`, `corr(a, b)`,
//! `first`, `last`, and arithmetic over them; `CAST`/`::`; `LIKE` patterns
//! that are prefix, suffix or substring tests; `IN (list)`, `BETWEEN`, `IS
//! [NOT] NULL`; `lower`, `upper`, `length`, `starts_with`, `ends_with`,
//! `contains`; `DISTINCT`; `ORDER BY` with `ASC`/`DESC` and `NULLS
//! FIRST`/`LAST` (default: nulls last, as DuckDB); `LIMIT`; joins: `[INNER]
//! JOIN`, `LEFT`/`RIGHT`/`FULL [OUTER] JOIN`, `[LEFT] SEMI`/`ANTI JOIN` with
//! `ON a = b [AND c = d ...]` (key columns kept from both sides, as SQL
//! has it) or `USING (k, ...)` (keys merged into one column), `CROSS JOIN`
//! and `FROM a, b`. Columns are qualified by table alias or name (`x.id`);
//! an unqualified name that more than one joined table has is an error.
//! `UNION ALL` and `UNION` (columns matched by position) with `ORDER BY`
//! output names or positions.
//!
//! Anything else is an error naming the construct and, when the parser
//! knows it, the position in the query; never a silently different answer.
//!
//! Semantics follow the expression layer: integer `/` is integer division
//! (as PostgreSQL), `sum` of integers is `Int64`, `avg` is `Float64`, casts
//! are strict (a value that does not convert is an error, not a null) and a
//! float cast to an integer is truncated toward zero (PostgreSQL and DuckDB
//! round). Unquoted names match columns case-insensitively when that is
//! unambiguous. Unaliased expressions are named as written (`sum(v1)`).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use parframe::arrow::schema::{DataType, Schema, SchemaRef};
use parframe::{
    AggExpr, ChunkSource, Context, CsvOptions, CsvSource, Expr, JoinOptions, JoinType, LazyFrame,
    MultiSource, ScalarValue, agg, col, lit, when,
};
use sqlparser::ast::{
    self, BinaryOperator, CastKind, Distinct, DuplicateTreatment, FunctionArg, FunctionArgExpr,
    FunctionArgOperator, FunctionArguments, GroupByExpr, Ident, InTarget, JoinConstraint,
    JoinOperator, LimitClause, ObjectName, ObjectNamePart, OrderByKind, OrderBySort, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableFactor, TableWithJoins,
    UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

/// A SQL error: what is wrong, and where in the query when known.
#[derive(Debug)]
pub struct SqlError {
    message: String,
    span: Option<Span>,
}

impl SqlError {
    fn new(message: impl Into<String>, span: Span) -> Self {
        SqlError {
            message: message.into(),
            span: (span.start.line > 0).then_some(span),
        }
    }

    fn unsupported(what: impl fmt::Display, span: Span) -> Self {
        SqlError::new(format!("not supported in SQL: {what}"), span)
    }

    /// The message without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Line and column (1-based) of the construct, when known.
    pub fn position(&self) -> Option<(u64, u64)> {
        self.span.map(|s| (s.start.line, s.start.column))
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.position() {
            write!(f, " (at line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SqlError {}

/// Errors of planning: SQL problems with a position, or library errors
/// (a missing file, a type error) as they come.
pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;

fn err<T>(message: impl Into<String>, span: Span) -> Result<T> {
    Err(SqlError::new(message, span).into())
}

fn unsupported<T>(what: impl fmt::Display, span: Span) -> Result<T> {
    Err(SqlError::unsupported(what, span).into())
}

/// Adds the SQL position to a library error raised while planning a construct.
fn at(span: Span) -> impl FnOnce(parframe::Error) -> anyhow::Error {
    move |e| SqlError::new(e.to_string(), span).into()
}

/// The sort order of one `ORDER BY` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
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
pub fn sort_frame(
    lf: &LazyFrame,
    keys: &[OrderKey],
    limit: Option<usize>,
    span: Span,
) -> Result<LazyFrame> {
    let keys: Vec<parframe::SortKey> = keys
        .iter()
        .map(|k| {
            let key = if k.descending {
                parframe::SortKey::desc(k.column.as_str())
            } else {
                parframe::SortKey::asc(k.column.as_str())
            };
            key.nulls_last(k.nulls_last)
        })
        .collect();
    match limit {
        Some(n) => lf.top_k(keys, n).map_err(at(span)),
        None => lf.sort(keys).map_err(at(span)),
    }
}

/// Plans SQL queries in a [`Context`], with named tables.
#[derive(Clone)]
pub struct SqlPlanner {
    ctx: Context,
    tables: HashMap<String, LazyFrame>,
}

/// Where a relation's columns may be qualified from: `t.x` with `t` the
/// table's alias or name.
#[derive(Clone)]
struct Scope {
    schema: SchemaRef,
    qualifiers: Vec<String>,
    /// Qualified names: (table qualifier, the column as that table names
    /// it, the column of `schema` it became).
    columns: Vec<(String, String, String)>,
    /// Unqualified names more than one joined table has.
    ambiguous: Vec<String>,
}

impl Scope {
    fn single(schema: SchemaRef, qualifiers: Vec<String>) -> Self {
        let columns = qualifiers
            .iter()
            .flat_map(|q| {
                schema
                    .fields()
                    .iter()
                    .map(move |f| (q.clone(), f.name().clone(), f.name().clone()))
            })
            .collect();
        Scope {
            schema,
            qualifiers,
            columns,
            ambiguous: Vec::new(),
        }
    }

    /// An unqualified column name.
    fn resolve(&self, ident: &Ident) -> Result<String, SqlError> {
        let same = |a: &String| {
            a == &ident.value
                || (ident.quote_style.is_none() && a.eq_ignore_ascii_case(&ident.value))
        };
        if self.ambiguous.iter().any(same) {
            let tables: Vec<&str> = self
                .columns
                .iter()
                .filter(|(_, c, _)| same(c))
                .map(|(q, _, _)| q.as_str())
                .collect();
            return Err(SqlError::new(
                format!(
                    "column '{}' is ambiguous: more than one joined table has it; qualify it{}",
                    ident.value,
                    match tables.as_slice() {
                        [a, b, ..] => format!(" ({a}.{0} or {b}.{0})", ident.value),
                        _ => String::new(),
                    }
                ),
                ident.span,
            ));
        }
        resolve_column(&self.schema, ident)
    }

    /// Whether an expression is a column of this scope (its name if so).
    fn try_column(&self, e: &ast::Expr) -> Result<Option<String>> {
        match e {
            ast::Expr::Identifier(i) => {
                if self
                    .ambiguous
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&i.value))
                {
                    return Ok(Some(self.resolve(i)?));
                }
                Ok(resolve_column(&self.schema, i).ok())
            }
            ast::Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, _]
                    if self
                        .columns
                        .iter()
                        .any(|(t, _, _)| t.eq_ignore_ascii_case(&q.value)) =>
                {
                    Ok(Some(resolve_compound(self, parts, e.span())?))
                }
                _ => Ok(None),
            },
            ast::Expr::Nested(inner) => self.try_column(inner),
            _ => Ok(None),
        }
    }
}

impl SqlPlanner {
    /// A planner without named tables.
    pub fn new(ctx: Context) -> Self {
        SqlPlanner {
            ctx,
            tables: HashMap::new(),
        }
    }

    /// Registers a file (or a glob pattern) under a table name. The file is
    /// opened now, so a missing file is reported here.
    pub fn register(&mut self, name: &str, path: &str) -> Result<()> {
        let source = open_path(path)?;
        self.tables
            .insert(name.to_ascii_lowercase(), self.ctx.scan(source));
        Ok(())
    }

    /// Registers a plan under a table name.
    pub fn register_frame(&mut self, name: &str, lf: LazyFrame) {
        self.tables.insert(name.to_ascii_lowercase(), lf);
    }

    /// Parses and plans one query.
    pub fn plan(&self, sql: &str) -> Result<LazyFrame> {
        let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| {
            let text = e.to_string();
            let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
            let text = text.strip_prefix("sql tokenizer error: ").unwrap_or(text);
            anyhow::anyhow!("SQL syntax error: {text}")
        })?;
        let statement = match statements.as_slice() {
            [one] => one,
            [] => anyhow::bail!("SQL error: the query is empty"),
            [_, second, ..] => {
                return unsupported("more than one statement", second.span());
            }
        };
        match statement {
            ast::Statement::Query(q) => self.plan_query(q),
            other => unsupported(
                format!(
                    "the statement '{}'; only SELECT queries are",
                    first_words(&other.to_string())
                ),
                other.span(),
            ),
        }
    }

    fn plan_query(&self, q: &Query) -> Result<LazyFrame> {
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
                planner.register_frame(&cte.alias.name.value, lf);
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
        let limit = match &q.limit_clause {
            None => None,
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if let Some(o) = offset {
                    return unsupported("OFFSET", o.value.span());
                }
                if !limit_by.is_empty() {
                    return unsupported("LIMIT BY", q.span());
                }
                match limit {
                    None => None,
                    Some(e) => Some(limit_value(e)?),
                }
            }
            Some(LimitClause::OffsetCommaLimit { offset, .. }) => {
                return unsupported("LIMIT offset, count", offset.span());
            }
        };
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
            SetExpr::SetOperation { .. } => {
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
                            "ORDER BY expressions over a UNION (order by output names or positions)",
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
            SetExpr::Values(_) => unsupported("VALUES", q.body.as_ref().span()),
            other => unsupported(
                format!("the query form '{}'", first_words(&other.to_string())),
                other.span(),
            ),
        }
    }

    /// A query body without ORDER BY/LIMIT: a SELECT, a parenthesized
    /// query, or `UNION [ALL]` of those (columns matched by position, named
    /// as on the left; `UNION` removes duplicate rows).
    fn plan_set(&self, e: &SetExpr) -> Result<LazyFrame> {
        match e {
            SetExpr::Select(s) => self.plan_select(s, &[], None),
            SetExpr::Query(q) => self.plan_query(q),
            SetExpr::SetOperation {
                op: ast::SetOperator::Union,
                set_quantifier,
                left,
                right,
            } => {
                let l = self.plan_set(left)?;
                let r = self.plan_set(right)?;
                let (ls, rs) = (l.schema(), r.schema());
                if ls.fields().len() != rs.fields().len() {
                    return err(
                        format!(
                            "each side of a UNION must have the same number of columns ({} vs {})",
                            ls.fields().len(),
                            rs.fields().len()
                        ),
                        e.span(),
                    );
                }
                let r = r
                    .select(
                        rs.fields()
                            .iter()
                            .zip(ls.fields())
                            .map(|(f, g)| col(f.name().as_str()).alias(g.name().as_str())),
                    )
                    .map_err(at(right.span()))?;
                let u = l.union(&r).map_err(at(e.span()))?;
                match set_quantifier {
                    ast::SetQuantifier::All => Ok(u),
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => {
                        u.distinct().map_err(at(e.span()))
                    }
                    other => unsupported(format!("UNION {other}"), e.span()),
                }
            }
            SetExpr::SetOperation { op, .. } => {
                unsupported(format!("{op} (set operations other than UNION)"), e.span())
            }
            other => unsupported(
                format!("the query form '{}'", first_words(&other.to_string())),
                other.span(),
            ),
        }
    }

    fn plan_select(
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
            let pred = row_expr(w, &scope)?;
            input = input.filter(pred).map_err(at(w.span()))?;
        }
        let group_exprs: &[ast::Expr] = match &s.group_by {
            GroupByExpr::All(_) => return unsupported("GROUP BY ALL", s.span()),
            GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return unsupported("GROUP BY modifiers (ROLLUP, CUBE, TOTALS)", s.span());
                }
                exprs
            }
        };
        let aggregating = !group_exprs.is_empty()
            || s.having.is_some()
            || s.projection.iter().any(|p| match p {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    find_aggregate(e).is_some()
                }
                _ => false,
            });

        // The select list: (SQL expression when there is one, output name).
        let items = select_items(s, &scope, aggregating)?;
        let distinct = matches!(s.distinct, Some(Distinct::Distinct));

        let (frame, outputs, mut mode) = if aggregating {
            let mut state = AggState::new(scope.clone());
            state.add_keys(group_exprs, &items)?;
            let outputs = items
                .iter()
                .map(|it| match &it.sql {
                    Some(e) => state.translate(e),
                    None => Ok(col(it.name.as_str())),
                })
                .collect::<Result<Vec<_>>>()?;
            let having = match &s.having {
                Some(h) => Some((state.translate(h)?, h.span())),
                None => None,
            };
            (
                FrameAfterAgg::Pending {
                    input: input.clone(),
                    having,
                },
                outputs,
                Mode::Agg(Box::new(state)),
            )
        } else {
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
                if let Some((pred, span)) = having {
                    lf = lf.filter(pred).map_err(at(span))?;
                }
                lf
            }
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

    fn plan_from(&self, s: &Select) -> Result<(LazyFrame, Scope)> {
        let Some((first, rest)) = s.from.split_first() else {
            return unsupported("SELECT without FROM", s.span());
        };
        let (mut lf, mut scope) = self.plan_joins(first)?;
        // `FROM a, b` is a cross join.
        for twj in rest {
            let (r, rs) = self.plan_joins(twj)?;
            (lf, scope) = join_scoped(
                (lf, scope),
                (r, rs),
                JoinType::Cross,
                (Vec::new(), Vec::new()),
                false,
                twj.span(),
            )?;
        }
        Ok((lf, scope))
    }

    fn plan_joins(&self, twj: &TableWithJoins) -> Result<(LazyFrame, Scope)> {
        let (mut lf, mut scope) = self.plan_relation(&twj.relation)?;
        for j in &twj.joins {
            let span = j.span();
            if j.global {
                return unsupported("GLOBAL joins", span);
            }
            use JoinOperator as Op;
            let (how, constraint) = match &j.join_operator {
                Op::Join(c) | Op::Inner(c) => (JoinType::Inner, c),
                Op::Left(c) | Op::LeftOuter(c) => (JoinType::Left, c),
                Op::Right(c) | Op::RightOuter(c) => (JoinType::Right, c),
                Op::FullOuter(c) => (JoinType::Full, c),
                Op::CrossJoin(c) => (JoinType::Cross, c),
                Op::Semi(c) | Op::LeftSemi(c) => (JoinType::Semi, c),
                Op::Anti(c) | Op::LeftAnti(c) => (JoinType::Anti, c),
                _ => {
                    return unsupported(
                        format!("the join '{}'", first_words(&j.to_string())),
                        span,
                    );
                }
            };
            let right = self.plan_relation(&j.relation)?;
            let (keys, coalesce) = match constraint {
                JoinConstraint::On(e) if how != JoinType::Cross => {
                    let mut keys = (Vec::new(), Vec::new());
                    equi_keys(e, &scope, &right.1, &mut keys)?;
                    (keys, false)
                }
                JoinConstraint::Using(names) if how != JoinType::Cross => {
                    let mut keys = (Vec::new(), Vec::new());
                    for n in names {
                        let ident = match n.0.as_slice() {
                            [ObjectNamePart::Identifier(i)] => i,
                            _ => return unsupported(format!("USING ({n})"), span),
                        };
                        keys.0.push(scope.resolve(ident)?);
                        keys.1.push(right.1.resolve(ident)?);
                    }
                    (keys, true)
                }
                JoinConstraint::None if how == JoinType::Cross => ((Vec::new(), Vec::new()), false),
                JoinConstraint::None => {
                    return err(
                        format!("{how} JOIN needs ON or USING (or write CROSS JOIN)"),
                        span,
                    );
                }
                other => {
                    return unsupported(
                        format!(
                            "the join condition '{}'",
                            first_words(&other_constraint(other))
                        ),
                        span,
                    );
                }
            };
            (lf, scope) = join_scoped((lf, scope), right, how, keys, coalesce, span)?;
        }
        Ok((lf, scope))
    }

    fn plan_relation(&self, rel: &TableFactor) -> Result<(LazyFrame, Scope)> {
        let span = rel.span();
        let (lf, alias, default_qualifier) = match rel {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_directives,
                inheritance,
            } => {
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_directives.is_empty()
                    || inheritance.is_some()
                {
                    return unsupported(format!("the table modifiers in '{rel}'"), span);
                }
                match args {
                    Some(a) => {
                        if a.settings.is_some() {
                            return unsupported("SETTINGS in a table function", span);
                        }
                        (self.table_function(name, &a.args, span)?, alias, None)
                    }
                    None => {
                        let (lf, q) = self.named_table(name)?;
                        (lf, alias, Some(q))
                    }
                }
            }
            TableFactor::Function {
                lateral,
                name,
                args,
                with_ordinality,
                alias,
            } => {
                if *lateral || *with_ordinality {
                    return unsupported("LATERAL / WITH ORDINALITY", span);
                }
                (self.table_function(name, args, span)?, alias, None)
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                sample,
            } => {
                if *lateral || sample.is_some() {
                    return unsupported("LATERAL / TABLESAMPLE", span);
                }
                (self.plan_query(subquery)?, alias, None)
            }
            other => {
                return unsupported(
                    format!("the table expression '{}'", first_words(&other.to_string())),
                    span,
                );
            }
        };
        let mut lf = lf;
        let mut qualifiers = Vec::new();
        if let Some(a) = alias {
            if !a.columns.is_empty() {
                let names: Vec<&Ident> = a.columns.iter().map(|c| &c.name).collect();
                lf = rename_columns(&lf, &names, a.span())?;
            }
            qualifiers.push(a.name.value.clone());
        } else if let Some(q) = default_qualifier {
            qualifiers.push(q);
        }
        let scope = Scope::single(lf.schema(), qualifiers);
        Ok((lf, scope))
    }

    /// `FROM 'path'`, `FROM name`: a file, or a registered/`WITH` table.
    fn named_table(&self, name: &ObjectName) -> Result<(LazyFrame, String)> {
        let ident = match name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i,
            _ => {
                return unsupported(
                    format!(
                        "the qualified table name '{name}'; quote file paths: FROM 'dir/file.csv'"
                    ),
                    name.span(),
                );
            }
        };
        let key = ident.value.to_ascii_lowercase();
        if ident.quote_style != Some('\'')
            && let Some(lf) = self.tables.get(&key)
        {
            return Ok((lf.clone(), ident.value.clone()));
        }
        let looks_like_file = ident.quote_style == Some('\'')
            || (ident.quote_style.is_some()
                && (ident.value.contains(['.', '/', '*', '?'])
                    || Path::new(&ident.value).exists()));
        if looks_like_file {
            let source =
                open_path(&ident.value).map_err(|e| SqlError::new(e.to_string(), ident.span))?;
            let stem = Path::new(&ident.value)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            return Ok((self.ctx.scan(source), stem));
        }
        let mut known: Vec<&str> = self.tables.keys().map(String::as_str).collect();
        known.sort();
        err(
            format!(
                "unknown table '{}'; write a file path in single quotes (FROM 'data/x.parquet') \
                 or register it with --table {}=PATH{}",
                ident.value,
                ident.value,
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (tables: {})", known.join(", "))
                }
            ),
            ident.span,
        )
    }

    /// `read_csv(...)`, `read_parquet(...)`, `read_ipc(...)`.
    fn table_function(
        &self,
        name: &ObjectName,
        args: &[FunctionArg],
        span: Span,
    ) -> Result<LazyFrame> {
        let fname = name.to_string().to_ascii_lowercase();
        let mut positional: Vec<&ast::Expr> = Vec::new();
        let mut named: Vec<(String, &ast::Expr, Span)> = Vec::new();
        for a in args {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => match e {
                    ast::Expr::BinaryOp {
                        left,
                        op: BinaryOperator::Eq,
                        right,
                    } if !positional.is_empty()
                        && matches!(left.as_ref(), ast::Expr::Identifier(_)) =>
                    {
                        if let ast::Expr::Identifier(i) = left.as_ref() {
                            named.push((i.value.to_ascii_lowercase(), right.as_ref(), e.span()));
                        }
                    }
                    _ => positional.push(e),
                },
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(e),
                    operator:
                        FunctionArgOperator::Equals
                        | FunctionArgOperator::Assignment
                        | FunctionArgOperator::RightArrow,
                } => {
                    named.push((name.value.to_ascii_lowercase(), e, a.span()));
                }
                FunctionArg::ExprNamed {
                    name: ast::Expr::Identifier(name),
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => named.push((name.value.to_ascii_lowercase(), e, a.span())),
                other => {
                    return unsupported(format!("the argument '{other}' of {fname}"), other.span());
                }
            }
        }
        let path = match positional.as_slice() {
            [p] => string_literal(p).ok_or_else(|| {
                SqlError::new(
                    format!("{fname} takes a file path in single quotes"),
                    p.span(),
                )
            })?,
            _ => {
                return err(
                    format!("{fname} takes one file path (then options such as delim=';')"),
                    span,
                );
            }
        };
        let source: Arc<dyn ChunkSource> = match fname.as_str() {
            "read_csv" | "read_csv_auto" | "read_tsv" => {
                let mut opts = CsvOptions::default();
                if fname == "read_tsv" {
                    opts = opts.delimiter(b'\t');
                }
                for (key, value, vspan) in &named {
                    match key.as_str() {
                        "delim" | "delimiter" | "sep" | "separator" => {
                            opts = opts.delimiter(single_byte(value, key, *vspan)?);
                        }
                        "quote" => opts = opts.quote(single_byte(value, key, *vspan)?),
                        "header" => opts = opts.has_header(bool_literal(value, key, *vspan)?),
                        "nullstr" | "null" | "null_values" | "nullstrings" => {
                            let v = string_literal(value).ok_or_else(|| {
                                SqlError::new(format!("{key} takes a string"), *vspan)
                            })?;
                            opts = opts.null_values([v]);
                        }
                        "parallel" => opts = opts.parallel(bool_literal(value, key, *vspan)?),
                        "sample_size" => {
                            let n = limit_value(value)?;
                            opts = opts.infer_rows(n);
                        }
                        other => {
                            return err(
                                format!(
                                    "unknown read_csv option '{other}'; known: delim, quote, \
                                     header, nullstr, parallel, sample_size"
                                ),
                                *vspan,
                            );
                        }
                    }
                }
                open_csv(&path, &opts).map_err(|e| SqlError::new(e.to_string(), span))?
            }
            "read_parquet" | "parquet_scan" | "read_ipc" | "read_arrow" | "read_feather" => {
                if let Some((key, _, vspan)) = named.first() {
                    return err(format!("{fname} takes no option '{key}'"), *vspan);
                }
                let (want, exts): (&str, &[&str]) = if fname.contains("parquet") {
                    ("Parquet", &["parquet", "pq"])
                } else {
                    ("Arrow IPC", &["arrow", "ipc", "feather"])
                };
                let ext = Path::new(&path)
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if !exts.contains(&ext.as_str()) {
                    return err(
                        format!(
                            "{fname}: '{path}' does not end in .{}; {want} files are recognised by extension",
                            exts.join(" or .")
                        ),
                        span,
                    );
                }
                open_path(&path).map_err(|e| SqlError::new(e.to_string(), span))?
            }
            _ => {
                return unsupported(
                    format!("the table function '{fname}'; use read_csv, read_parquet or read_ipc"),
                    span,
                );
            }
        };
        Ok(self.ctx.scan(source))
    }
}

/// Opens a path or glob pattern (format from the extension).
pub fn open_path(path: &str) -> Result<Arc<dyn ChunkSource>> {
    Ok(parframe::open_sources(path)?)
}

/// Opens a CSV path or glob pattern with options.
fn open_csv(pattern: &str, opts: &CsvOptions) -> Result<Arc<dyn ChunkSource>> {
    let paths = parframe::expand_glob(pattern)?;
    let mut sources: Vec<Arc<dyn ChunkSource>> = Vec::new();
    for p in &paths {
        sources.push(Arc::new(CsvSource::try_new(p, opts.clone())?));
    }
    if sources.len() == 1
        && let Some(s) = sources.pop()
    {
        return Ok(s);
    }
    Ok(Arc::new(MultiSource::try_new(sources)?))
}

fn rename_columns(lf: &LazyFrame, names: &[&Ident], span: Span) -> Result<LazyFrame> {
    let schema = lf.schema();
    if names.len() > schema.fields().len() {
        return err(
            format!(
                "the alias names {} columns but the table has {}",
                names.len(),
                schema.fields().len()
            ),
            span,
        );
    }
    let exprs: Vec<Expr> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match names.get(i) {
            Some(n) => col(f.name().as_str()).alias(n.value.as_str()),
            None => col(f.name().as_str()),
        })
        .collect();
    lf.select(exprs).map_err(at(span))
}

fn first_words(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().take(4).collect();
    let mut out = words.join(" ");
    if s.split_whitespace().count() > 4 {
        out.push_str(" …");
    }
    out
}

/// Rejects the parts of a SELECT that have no plan.
fn check_select(s: &Select) -> Result<()> {
    let span = s.span();
    if let Some(Distinct::On(_)) = &s.distinct {
        return unsupported("DISTINCT ON", span);
    }
    let checks: [(bool, &str); 14] = [
        (s.top.is_some(), "TOP"),
        (s.into.is_some(), "SELECT INTO"),
        (!s.lateral_views.is_empty(), "LATERAL VIEW"),
        (s.prewhere.is_some(), "PREWHERE"),
        (!s.connect_by.is_empty(), "CONNECT BY"),
        (!s.cluster_by.is_empty(), "CLUSTER BY"),
        (!s.distribute_by.is_empty(), "DISTRIBUTE BY"),
        (!s.sort_by.is_empty(), "SORT BY"),
        (!s.named_window.is_empty(), "WINDOW"),
        (s.qualify.is_some(), "QUALIFY"),
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
struct Item {
    /// The SQL expression (`None` for a column of `*`).
    sql: Option<ast::Expr>,
    /// The output column name.
    name: String,
}

fn select_items(s: &Select, scope: &Scope, aggregating: bool) -> Result<Vec<Item>> {
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
fn default_name(e: &ast::Expr, scope: &Scope) -> String {
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
fn output_ref(e: &ast::Expr, items: &[Item]) -> Result<Option<usize>> {
    if let ast::Expr::Value(v) = e
        && let Value::Number(n, _) = &v.value
    {
        let pos: usize = n
            .parse()
            .map_err(|_| SqlError::new(format!("bad position '{n}'"), e.span()))?;
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

/// Resolves a column name: exact, else (unquoted) case-insensitively when
/// that is unambiguous.
fn resolve_column(schema: &Schema, ident: &Ident) -> Result<String, SqlError> {
    if schema.field_with_name(&ident.value).is_ok() {
        return Ok(ident.value.clone());
    }
    if ident.quote_style.is_none() {
        let matches: Vec<&String> = schema
            .fields()
            .iter()
            .map(|f| f.name())
            .filter(|n| n.eq_ignore_ascii_case(&ident.value))
            .collect();
        if let [one] = matches.as_slice() {
            return Ok((*one).clone());
        }
    }
    let available: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| !n.starts_with("__pf_"))
        .collect();
    Err(SqlError::new(
        format!(
            "column '{}' not found; available columns: [{}]",
            ident.value,
            available.join(", ")
        ),
        ident.span,
    ))
}

fn resolve_compound(scope: &Scope, parts: &[Ident], span: Span) -> Result<String> {
    let table: Vec<&(String, String, String)> = match parts {
        [q, _] => scope
            .columns
            .iter()
            .filter(|(t, _, _)| t.eq_ignore_ascii_case(&q.value))
            .collect(),
        _ => Vec::new(),
    };
    match parts {
        [q, c] if !table.is_empty() => {
            if let Some((_, _, out)) = table.iter().find(|(_, n, _)| n == &c.value) {
                return Ok(out.clone());
            }
            let folded: Vec<_> = table
                .iter()
                .filter(|(_, n, _)| c.quote_style.is_none() && n.eq_ignore_ascii_case(&c.value))
                .collect();
            if let [(_, _, out)] = folded.as_slice() {
                return Ok(out.clone());
            }
            err(
                format!(
                    "column '{}' not found in table '{}'; its columns: [{}]",
                    c.value,
                    q.value,
                    table
                        .iter()
                        .map(|(_, n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                c.span,
            )
        }
        [q, _] => err(
            format!(
                "unknown table '{}' in '{}'{}",
                q.value,
                parts
                    .iter()
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
                if scope.qualifiers.is_empty() {
                    String::new()
                } else {
                    format!(" (the table here is '{}')", scope.qualifiers.join("', '"))
                }
            ),
            q.span,
        ),
        _ => unsupported("nested field access", span),
    }
}

fn other_constraint(c: &JoinConstraint) -> String {
    match c {
        JoinConstraint::On(e) => format!("ON {e}"),
        JoinConstraint::Using(n) => format!(
            "USING ({})",
            n.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        JoinConstraint::UsingAlias(..) => "USING ... AS".to_string(),
        JoinConstraint::Natural => "NATURAL".to_string(),
        JoinConstraint::None => String::new(),
    }
}

/// The key pairs of `ON a = b [AND c = d ...]`: each equality must compare
/// a column of the left input with one of the right.
fn equi_keys(
    e: &ast::Expr,
    left: &Scope,
    right: &Scope,
    keys: &mut (Vec<String>, Vec<String>),
) -> Result<()> {
    match e {
        ast::Expr::Nested(inner) => equi_keys(inner, left, right, keys),
        ast::Expr::BinaryOp {
            left: a,
            op: BinaryOperator::And,
            right: b,
        } => {
            equi_keys(a, left, right, keys)?;
            equi_keys(b, left, right, keys)
        }
        ast::Expr::BinaryOp {
            left: a,
            op: BinaryOperator::Eq,
            right: b,
        } => {
            let pair = match (
                left.try_column(a)?,
                right.try_column(b)?,
                left.try_column(b)?,
                right.try_column(a)?,
            ) {
                (Some(l), Some(r), _, _) | (_, _, Some(l), Some(r)) => (l, r),
                _ => {
                    return err(
                        format!(
                            "the join condition '{e}' must compare a column of the left table \
                             with a column of the right table"
                        ),
                        e.span(),
                    );
                }
            };
            keys.0.push(pair.0);
            keys.1.push(pair.1);
            Ok(())
        }
        other => unsupported(
            format!(
                "the join condition '{other}' (only equalities of columns joined by AND; \
                 filter in WHERE instead)"
            ),
            other.span(),
        ),
    }
}

/// Joins two planned relations and merges their scopes: qualified names
/// follow their columns (suffixed or merged keys), unqualified names both
/// tables have become ambiguous.
fn join_scoped(
    (lf, scope): (LazyFrame, Scope),
    (r, rs): (LazyFrame, Scope),
    how: JoinType,
    (left_on, right_on): (Vec<String>, Vec<String>),
    coalesce: bool,
    span: Span,
) -> Result<(LazyFrame, Scope)> {
    let joined = lf
        .join_with(
            &r,
            left_on.clone(),
            right_on.clone(),
            how,
            JoinOptions::new().coalesce_keys(coalesce),
        )
        .map_err(at(span))?;
    let out = joined.schema();
    let nleft = scope.schema.fields().len();
    let mut columns = scope.columns.clone();
    let mut ambiguous = scope.ambiguous.clone();
    ambiguous.extend(rs.ambiguous.iter().cloned());
    if !matches!(how, JoinType::Semi | JoinType::Anti) {
        // Where each right column went: merged into a left key, or one of
        // the columns after the left ones, in order.
        let mut rename: HashMap<String, String> = HashMap::new();
        let mut next = nleft;
        for f in rs.schema.fields() {
            let name = f.name();
            match right_on.iter().position(|k| k == name).filter(|_| coalesce) {
                Some(p) => {
                    rename.insert(name.clone(), left_on[p].clone());
                }
                None => {
                    if let Some(o) = out.fields().get(next) {
                        rename.insert(name.clone(), o.name().clone());
                    }
                    next += 1;
                }
            }
        }
        for (q, c, o) in &rs.columns {
            if let Some(n) = rename.get(o) {
                columns.push((q.clone(), c.clone(), n.clone()));
            }
        }
        for f in rs.schema.fields() {
            let merged = coalesce && right_on.contains(f.name());
            if !merged && scope.schema.field_with_name(f.name()).is_ok() {
                ambiguous.push(f.name().clone());
            }
        }
    }
    let mut qualifiers = scope.qualifiers.clone();
    qualifiers.extend(rs.qualifiers.iter().cloned());
    Ok((
        joined,
        Scope {
            schema: out,
            qualifiers,
            columns,
            ambiguous,
        },
    ))
}

/// How the columns of an expression are read: from the input rows, or
/// (after GROUP BY) from keys and aggregates.
enum Mode {
    Row(Scope),
    Agg(Box<AggState>),
}

impl Mode {
    fn translate(&mut self, e: &ast::Expr) -> Result<Expr> {
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

enum FrameAfterAgg {
    Ready(LazyFrame),
    Pending {
        input: LazyFrame,
        having: Option<(Expr, Span)>,
    },
}

/// One GROUP BY key.
struct Key {
    /// The key as written (for matching select items), when an expression.
    sql: ast::Expr,
    /// The input column when the key is a plain column.
    column: Option<String>,
    /// The key's column name in the aggregate's output.
    name: String,
    /// How to compute it from the input (for expression keys).
    expr: Expr,
}

/// The state of planning an aggregation: keys, the aggregates met so far
/// (each a hidden output column), and computed aggregate arguments.
struct AggState {
    scope: Scope,
    /// Select-list aliases with their expressions (usable in HAVING).
    aliases: Vec<(String, ast::Expr)>,
    keys: Vec<Key>,
    aggs: Vec<(ast::Function, String, AggExpr)>,
    args: Vec<(ast::Expr, String, Expr)>,
}

impl AggState {
    fn new(scope: Scope) -> Self {
        AggState {
            scope,
            aliases: Vec::new(),
            keys: Vec::new(),
            aggs: Vec::new(),
            args: Vec::new(),
        }
    }

    fn add_keys(&mut self, exprs: &[ast::Expr], items: &[Item]) -> Result<()> {
        self.aliases = items
            .iter()
            .filter_map(|it| it.sql.clone().map(|e| (it.name.clone(), e)))
            .filter(|(_, e)| find_aggregate(e).is_some())
            .collect();
        for g in exprs {
            // A position or an alias of the select list (when it is not an
            // input column) stands for that item's expression.
            let mut e = g.clone();
            let is_input_column = match g {
                ast::Expr::Identifier(i) => self.scope.resolve(i).is_ok(),
                _ => false,
            };
            if !is_input_column
                && matches!(g, ast::Expr::Value(_) | ast::Expr::Identifier(_))
                && let Some(k) = output_ref(g, items)?
            {
                match &items[k].sql {
                    Some(sql) => e = sql.clone(),
                    None => {
                        e = ast::Expr::Identifier(Ident::new(items[k].name.clone()));
                    }
                }
            }
            if let Some(span) = find_aggregate(&e) {
                return err("aggregate functions are not allowed in GROUP BY", span);
            }
            let column = match &e {
                ast::Expr::Identifier(i) => Some(self.scope.resolve(i)?),
                ast::Expr::CompoundIdentifier(parts) => {
                    Some(resolve_compound(&self.scope, parts, e.span())?)
                }
                _ => None,
            };
            let expr = row_expr(&e, &self.scope)?;
            let name = match &column {
                Some(c) => c.clone(),
                None => items
                    .iter()
                    .find(|it| it.sql.as_ref() == Some(&e))
                    .map(|it| format!("__pf_key_{}", it.name))
                    .unwrap_or_else(|| format!("__pf_key{}", self.keys.len())),
            };
            if self.keys.iter().any(|k| k.name == name) {
                continue;
            }
            self.keys.push(Key {
                sql: e,
                column,
                name,
                expr,
            });
        }
        Ok(())
    }

    /// Translates an expression over keys and aggregates to one over the
    /// aggregate's output columns.
    fn translate(&mut self, e: &ast::Expr) -> Result<Expr> {
        if let Some(k) = self.keys.iter().find(|k| &k.sql == e) {
            return Ok(col(k.name.as_str()));
        }
        match e {
            ast::Expr::Identifier(i) => match self.scope.resolve(i) {
                Ok(c) => self.key_column(&c, i.span),
                Err(e) => {
                    // An alias of an aggregate of the select list.
                    let found = self
                        .aliases
                        .iter()
                        .find(|(n, _)| n == &i.value)
                        .map(|(_, sql)| sql.clone());
                    match found {
                        Some(sql) => self.translate(&sql),
                        None => Err(e.into()),
                    }
                }
            },
            ast::Expr::CompoundIdentifier(parts) => {
                let c = resolve_compound(&self.scope, parts, e.span())?;
                self.key_column(&c, e.span())
            }
            ast::Expr::Function(f) if aggregate_name(f).is_some() => self.aggregate_fn(f),
            _ => translate_with(e, &mut |sub| self.translate(sub)),
        }
    }

    fn key_column(&self, c: &str, span: Span) -> Result<Expr> {
        match self.keys.iter().find(|k| k.column.as_deref() == Some(c)) {
            Some(k) => Ok(col(k.name.as_str())),
            None => err(
                format!("column '{c}' must appear in GROUP BY or be used in an aggregate function"),
                span,
            ),
        }
    }

    /// The input column an aggregate reads: a column, or a computed one.
    fn argument(&mut self, e: &ast::Expr) -> Result<String> {
        if let Some(span) = find_aggregate(e) {
            return err("aggregate functions cannot be nested", span);
        }
        match e {
            ast::Expr::Identifier(i) => return Ok(self.scope.resolve(i)?),
            ast::Expr::CompoundIdentifier(parts) => {
                return resolve_compound(&self.scope, parts, e.span());
            }
            _ => {}
        }
        if let Some((_, name, _)) = self.args.iter().find(|(sql, _, _)| sql == e) {
            return Ok(name.clone());
        }
        let expr = row_expr(e, &self.scope)?;
        let name = format!("__pf_arg{}", self.args.len());
        self.args.push((e.clone(), name.clone(), expr));
        Ok(name)
    }

    fn aggregate_fn(&mut self, f: &ast::Function) -> Result<Expr> {
        if let Some((_, name, _)) = self.aggs.iter().find(|(g, _, _)| g == f) {
            return Ok(col(name.as_str()));
        }
        let span = f.span();
        let fname = aggregate_name(f).unwrap_or_default();
        if f.over.is_some() {
            return unsupported(format!("window functions ({fname} OVER ...)"), span);
        }
        if f.filter.is_some() {
            return unsupported(format!("{fname}(...) FILTER (WHERE ...)"), span);
        }
        if !f.within_group.is_empty() {
            return unsupported("WITHIN GROUP", span);
        }
        if f.null_treatment.is_some() {
            return unsupported("IGNORE/RESPECT NULLS", span);
        }
        if !matches!(f.parameters, FunctionArguments::None) {
            return unsupported("parametric aggregate functions", span);
        }
        let list = match &f.args {
            FunctionArguments::List(l) => l,
            _ => return err(format!("{fname} needs arguments in parentheses"), span),
        };
        if !list.clauses.is_empty() {
            return unsupported(format!("clauses inside {fname}(...)"), span);
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let mut star = false;
        let mut args: Vec<&ast::Expr> = Vec::new();
        for a in &list.args {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e),
                other => {
                    return unsupported(format!("the argument '{other}' of {fname}"), other.span());
                }
            }
        }
        if distinct && fname != "count" {
            return unsupported(
                format!("{fname}(DISTINCT ...); only count(DISTINCT x) is"),
                span,
            );
        }
        let arity = |n: usize| -> Result<()> {
            if star || args.len() != n {
                return err(
                    format!(
                        "{fname} takes {n} argument{}",
                        if n == 1 { "" } else { "s" }
                    ),
                    span,
                );
            }
            Ok(())
        };
        let a: AggExpr = match fname.as_str() {
            "count" => {
                if star && args.is_empty() && !distinct {
                    agg::count_rows()
                } else {
                    arity(1)?;
                    let e = args[0];
                    let is_const =
                        matches!(e, ast::Expr::Value(v) if !matches!(v.value, Value::Null));
                    if is_const && !distinct {
                        agg::count_rows()
                    } else {
                        let c = self.argument(e)?;
                        if distinct {
                            agg::n_unique(&c)
                        } else {
                            agg::count(&c)
                        }
                    }
                }
            }
            "sum" | "avg" | "mean" | "min" | "max" | "median" | "stddev" | "stddev_samp"
            | "std" | "var_samp" | "variance" | "var" | "first" | "last" | "any_value" => {
                arity(1)?;
                let c = self.argument(args[0])?;
                match fname.as_str() {
                    "sum" => agg::sum(&c),
                    "avg" | "mean" => agg::mean(&c),
                    "min" => agg::min(&c),
                    "max" => agg::max(&c),
                    "median" => agg::median(&c),
                    "stddev" | "stddev_samp" | "std" => agg::std(&c),
                    "var_samp" | "variance" | "var" => agg::var(&c),
                    "last" => agg::last(&c),
                    _ => agg::first(&c),
                }
            }
            "quantile_cont" | "quantile" => {
                arity(2)?;
                let q = number_literal(args[1]).ok_or_else(|| {
                    SqlError::new(
                        format!("{fname}: the quantile must be a number literal"),
                        args[1].span(),
                    )
                })?;
                let c = self.argument(args[0])?;
                agg::quantile(&c, q)
            }
            "corr" => {
                arity(2)?;
                let a = self.argument(args[0])?;
                let b = self.argument(args[1])?;
                agg::corr(&a, &b)
            }
            other => return unsupported(format!("the aggregate function '{other}'"), span),
        };
        // Type-check now, to point at the function in the query.
        a.output_type(&self.input_schema()?).map_err(at(span))?;
        let name = format!("__pf_agg{}", self.aggs.len());
        self.aggs
            .push((f.clone(), name.clone(), a.alias(name.as_str())));
        Ok(col(name))
    }

    /// The aggregate's input: the scope's columns and the computed arguments.
    fn input_schema(&self) -> Result<Schema> {
        let mut fields: Vec<parframe::arrow::schema::Field> = self
            .scope
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (sql, name, e) in &self.args {
            let f = e.to_field(&self.scope.schema).map_err(at(sql.span()))?;
            fields.push(f.with_name(name.as_str()));
        }
        Ok(Schema::new(fields))
    }

    /// Runs the aggregation over `input`: computed keys and arguments
    /// first, then one row per key tuple with the hidden aggregate columns.
    fn aggregate(&self, input: &LazyFrame, span: Span) -> Result<LazyFrame> {
        let mut lf = input.clone();
        let computed: Vec<Expr> = self
            .keys
            .iter()
            .filter(|k| k.column.is_none())
            .map(|k| k.expr.clone().alias(k.name.as_str()))
            .chain(
                self.args
                    .iter()
                    .map(|(_, name, e)| e.clone().alias(name.as_str())),
            )
            .collect();
        if !computed.is_empty() {
            lf = lf.with_columns(computed).map_err(at(span))?;
        }
        let keys: Vec<Expr> = self.keys.iter().map(|k| col(k.name.as_str())).collect();
        let aggs: Vec<AggExpr> = self.aggs.iter().map(|(_, _, a)| a.clone()).collect();
        lf.group_by(keys).agg(aggs).map_err(at(span))
    }
}

/// The aggregate function's lower-case name, when `f` is one.
fn aggregate_name(f: &ast::Function) -> Option<String> {
    let name = f.name.to_string().to_ascii_lowercase();
    const AGGS: &[&str] = &[
        "count",
        "sum",
        "avg",
        "mean",
        "min",
        "max",
        "median",
        "quantile_cont",
        "quantile",
        "stddev",
        "stddev_samp",
        "std",
        "var_samp",
        "variance",
        "var",
        "corr",
        "first",
        "last",
        "any_value",
        "stddev_pop",
        "var_pop",
        "string_agg",
        "array_agg",
        "list",
        "mode",
        "quantile_disc",
        "percentile_cont",
        "percentile_disc",
        "covar_samp",
        "covar_pop",
        "bool_and",
        "bool_or",
        "product",
        "arg_max",
        "arg_min",
        "approx_count_distinct",
    ];
    AGGS.contains(&name.as_str()).then_some(name)
}

/// The span of the first aggregate call inside `e`, if any.
fn find_aggregate(e: &ast::Expr) -> Option<Span> {
    let mut found = None;
    visit(e, &mut |sub| {
        if found.is_none()
            && let ast::Expr::Function(f) = sub
            && aggregate_name(f).is_some()
        {
            found = Some(f.span());
        }
    });
    found
}

/// Calls `f` on `e` and its sub-expressions (of the constructs translated).
fn visit(e: &ast::Expr, f: &mut dyn FnMut(&ast::Expr)) {
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
        | ast::Expr::IsNotNull(expr) => {
            visit(expr, f);
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

/// Translates a row-level expression over the input.
fn row_expr(e: &ast::Expr, scope: &Scope) -> Result<Expr> {
    match e {
        ast::Expr::Identifier(i) => Ok(col(scope.resolve(i)?)),
        ast::Expr::CompoundIdentifier(parts) => Ok(col(resolve_compound(scope, parts, e.span())?)),
        ast::Expr::Function(f) if aggregate_name(f).is_some() => err(
            format!(
                "aggregate function '{}' is not allowed here",
                f.name.to_string().to_ascii_lowercase()
            ),
            f.span(),
        ),
        _ => translate_with(e, &mut |sub| row_expr(sub, scope)),
    }
}

/// Translates the structure of `e` (operators, literals, casts, scalar
/// functions), with `leaf` translating sub-expressions (columns and
/// aggregates are the caller's business).
fn translate_with(e: &ast::Expr, leaf: &mut dyn FnMut(&ast::Expr) -> Result<Expr>) -> Result<Expr> {
    let span = e.span();
    match e {
        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => leaf(e),
        ast::Expr::Value(v) => Ok(lit(scalar(&v.value, span)?)),
        ast::Expr::Nested(inner) => leaf(inner),
        ast::Expr::BinaryOp { left, op, right } => {
            let l = leaf(left)?;
            let r = leaf(right)?;
            Ok(match op {
                BinaryOperator::Plus => l + r,
                BinaryOperator::Minus => l - r,
                BinaryOperator::Multiply => l * r,
                BinaryOperator::Divide => l / r,
                BinaryOperator::Modulo => l % r,
                BinaryOperator::Eq => l.eq(r),
                BinaryOperator::NotEq => l.not_eq(r),
                BinaryOperator::Lt => l.lt(r),
                BinaryOperator::LtEq => l.lt_eq(r),
                BinaryOperator::Gt => l.gt(r),
                BinaryOperator::GtEq => l.gt_eq(r),
                BinaryOperator::And => l.and(r),
                BinaryOperator::Or => l.or(r),
                other => return unsupported(format!("the operator {other}"), span),
            })
        }
        ast::Expr::UnaryOp { op, expr } => {
            let x = leaf(expr)?;
            match op {
                UnaryOperator::Not => Ok(x.not()),
                UnaryOperator::Minus => Ok(-x),
                UnaryOperator::Plus => Ok(x),
                other => unsupported(format!("the operator {other}"), span),
            }
        }
        ast::Expr::IsNull(x) => Ok(leaf(x)?.is_null()),
        ast::Expr::IsNotNull(x) => Ok(leaf(x)?.is_not_null()),
        ast::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let x = leaf(expr)?;
            let b = x.clone().gt_eq(leaf(low)?).and(x.lt_eq(leaf(high)?));
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
            let x = leaf(expr)?;
            let mut acc: Option<Expr> = None;
            for item in list {
                let t = x.clone().eq(leaf(item)?);
                acc = Some(match acc {
                    None => t,
                    Some(a) => a.or(t),
                });
            }
            let Some(acc) = acc else {
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
            if *any || escape_char.is_some() {
                return unsupported("LIKE ANY / ESCAPE", span);
            }
            let Some(p) = string_literal(pattern) else {
                return unsupported("LIKE with a pattern that is not a string literal", span);
            };
            let mut x = leaf(expr)?;
            let p = if ilike {
                x = x.lower();
                p.to_lowercase()
            } else {
                p
            };
            let m = like(x, &p).ok_or_else(|| {
                SqlError::unsupported(
                    format!(
                        "the LIKE pattern '{p}': only 'abc', 'abc%', '%abc' and '%abc%' (no _ or inner %)"
                    ),
                    pattern.span(),
                )
            })?;
            Ok(if *negated { m.not() } else { m })
        }
        ast::Expr::Cast {
            kind,
            expr,
            data_type,
            format,
        } => {
            if matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                return unsupported(
                    "TRY_CAST (casts are strict: a value that does not convert is an error)",
                    span,
                );
            }
            if format.is_some() {
                return unsupported("CAST ... FORMAT", span);
            }
            let to = sql_type(data_type, span)?;
            Ok(leaf(expr)?.cast(to))
        }
        ast::Expr::TypedString(ts) => {
            let to = sql_type(&ts.data_type, span)?;
            Ok(lit(scalar(&ts.value.value, span)?).cast(to))
        }
        ast::Expr::Function(f) => scalar_function(f, leaf),
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            // The simple form `CASE x WHEN a THEN ..` compares `x = a`.
            let operand = match operand {
                Some(x) => Some(leaf(x)?),
                None => None,
            };
            let mut builder: Option<parframe::CaseBuilder> = None;
            for w in conditions {
                let c = leaf(&w.condition)?;
                let c = match &operand {
                    Some(x) => x.clone().eq(c),
                    None => c,
                };
                let v = leaf(&w.result)?;
                builder = Some(match builder {
                    None => when(c, v),
                    Some(b) => b.when(c, v),
                });
            }
            let Some(builder) = builder else {
                return err("CASE needs at least one WHEN", span);
            };
            Ok(match else_result {
                Some(e) => builder.otherwise(leaf(e)?),
                None => builder.end(),
            })
        }
        ast::Expr::Subquery(_) | ast::Expr::Exists { .. } => {
            unsupported("subqueries in expressions (only in FROM)", span)
        }
        ast::Expr::Wildcard(_) | ast::Expr::QualifiedWildcard(..) => {
            unsupported("* inside an expression", span)
        }
        other => unsupported(
            format!("the expression '{}'", first_words(&other.to_string())),
            span,
        ),
    }
}

/// `LIKE` as a string test: `abc` (equality), `abc%`, `%abc`, `%abc%`.
fn like(x: Expr, p: &str) -> Option<Expr> {
    if p.contains('_') {
        return None;
    }
    let starts = p.starts_with('%');
    let rest = p.strip_prefix('%').unwrap_or(p);
    let ends = rest.ends_with('%');
    let inner = rest.strip_suffix('%').unwrap_or(rest);
    if inner.contains('%') {
        return None;
    }
    Some(match (starts, ends) {
        (false, false) => x.eq(lit(inner.to_string())),
        (false, true) => x.starts_with(inner),
        (true, false) => x.ends_with(inner),
        (true, true) => x.contains(inner),
    })
}

fn scalar_function(
    f: &ast::Function,
    leaf: &mut dyn FnMut(&ast::Expr) -> Result<Expr>,
) -> Result<Expr> {
    let span = f.span();
    let name = f.name.to_string().to_ascii_lowercase();
    if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
        return unsupported(format!("OVER/FILTER/WITHIN GROUP on {name}"), span);
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
    let one = |args: &[&ast::Expr]| -> Result<ast::Expr> {
        match args {
            [a] => Ok((*a).clone()),
            _ => err(format!("{name} takes one argument"), span),
        }
    };
    match name.as_str() {
        "lower" | "lcase" => Ok(leaf(&one(&args)?)?.lower()),
        "upper" | "ucase" => Ok(leaf(&one(&args)?)?.upper()),
        "length" | "len" | "char_length" | "character_length" | "strlen" => {
            Ok(leaf(&one(&args)?)?.str_len())
        }
        "starts_with" | "ends_with" | "contains" | "prefix" | "suffix" => {
            let [s, p] = args.as_slice() else {
                return err(format!("{name} takes two arguments"), span);
            };
            let Some(p) = string_literal(p) else {
                return unsupported(
                    format!("{name} with a pattern that is not a string literal"),
                    p.span(),
                );
            };
            let x = leaf(s)?;
            Ok(match name.as_str() {
                "starts_with" | "prefix" => x.starts_with(p),
                "ends_with" | "suffix" => x.ends_with(p),
                _ => x.contains(p),
            })
        }
        _ => unsupported(
            format!(
                "the function '{name}'; scalar functions: lower, upper, length, starts_with, \
                 ends_with, contains; aggregates: count, sum, avg, min, max, median, \
                 quantile_cont, stddev, var_samp, corr, first, last"
            ),
            span,
        ),
    }
}

fn scalar(v: &Value, span: Span) -> Result<ScalarValue> {
    Ok(match v {
        Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => ScalarValue::Int64(i),
            Err(_) => match n.parse::<f64>() {
                Ok(f) => ScalarValue::Float64(f),
                Err(_) => return err(format!("bad number '{n}'"), span),
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

fn string_literal(e: &ast::Expr) -> Option<String> {
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

fn number_literal(e: &ast::Expr) -> Option<f64> {
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

fn bool_literal(e: &ast::Expr, key: &str, span: Span) -> Result<bool> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::Boolean(b) => return Ok(*b),
            Value::Number(n, _) if n == "0" || n == "1" => return Ok(n == "1"),
            Value::SingleQuotedString(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => return Ok(true),
                "false" | "0" | "no" => return Ok(false),
                _ => {}
            },
            _ => {}
        },
        ast::Expr::Identifier(i) => match i.value.to_ascii_lowercase().as_str() {
            "true" => return Ok(true),
            "false" => return Ok(false),
            _ => {}
        },
        _ => {}
    }
    err(format!("{key} takes true or false"), span)
}

fn single_byte(e: &ast::Expr, key: &str, span: Span) -> Result<u8> {
    let s = string_literal(e)
        .ok_or_else(|| SqlError::new(format!("{key} takes a one-character string"), span))?;
    match s.as_str() {
        "\\t" | "\t" => Ok(b'\t'),
        s if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => err(
            format!("{key} must be one ASCII character, got '{s}'"),
            span,
        ),
    }
}

fn limit_value(e: &ast::Expr) -> Result<usize> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<usize>().map_err(|_| {
                SqlError::new(format!("expected a row count, got '{n}'"), e.span()).into()
            }),
            _ => err("expected a row count", e.span()),
        },
        _ => unsupported("an expression as a row count", e.span()),
    }
}

/// Maps a SQL type to an Arrow type.
fn sql_type(t: &ast::DataType, span: Span) -> Result<DataType> {
    use ast::DataType as T;
    Ok(match t {
        T::TinyInt(_) => DataType::Int8,
        T::SmallInt(_) | T::Int2(_) | T::Int16 => DataType::Int16,
        T::Int(_) | T::Integer(_) | T::Int4(_) | T::Int32 => DataType::Int32,
        T::BigInt(_) | T::Int8(_) | T::Int64 => DataType::Int64,
        T::UTinyInt | T::UInt8 | T::TinyIntUnsigned(_) => DataType::UInt8,
        T::USmallInt | T::UInt16 | T::SmallIntUnsigned(_) => DataType::UInt16,
        T::UInt32 | T::IntUnsigned(_) | T::IntegerUnsigned(_) => DataType::UInt32,
        T::UBigInt | T::UInt64 | T::BigIntUnsigned(_) => DataType::UInt64,
        T::Real | T::Float4 | T::Float32 | T::Float(_) => DataType::Float32,
        T::Double(_) | T::DoublePrecision | T::Float8 | T::Float64 => DataType::Float64,
        T::Varchar(_)
        | T::Char(_)
        | T::Character(_)
        | T::CharacterVarying(_)
        | T::CharVarying(_)
        | T::Nvarchar(_)
        | T::Text
        | T::String(_) => DataType::Utf8,
        T::Bool | T::Boolean => DataType::Boolean,
        T::Date => DataType::Date32,
        other => return unsupported(format!("the type {other} in CAST"), span),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parframe::table;

    fn planner() -> SqlPlanner {
        let ctx = Context::builder().threads(2).build().unwrap();
        let t = table!(
            "k" => ["a", "b", "a", "c", "b"],
            "x" => [1i64, 2, 3, 4, 5],
            "y" => [1.5, 2.5, 3.5, 4.5, 5.5],
        )
        .unwrap();
        let u = table!(
            "k" => ["a", "b", "d"],
            "name" => ["ann", "bob", "dan"],
            "x" => [10i64, 20, 30],
        )
        .unwrap();
        let mut p = SqlPlanner::new(ctx.clone());
        p.register_frame("t", ctx.lazy(t));
        p.register_frame("u", ctx.lazy(u));
        p
    }

    fn strings(t: &parframe::Table, column: &str) -> Vec<String> {
        let opts = parframe::arrow::cast::display::FormatOptions::default().with_null("null");
        let mut out = Vec::new();
        for c in t.chunks() {
            let a = c.column(c.schema().index_of(column).unwrap());
            let f =
                parframe::arrow::cast::display::ArrayFormatter::try_new(a.as_ref(), &opts).unwrap();
            out.extend((0..a.len()).map(|i| f.value(i).to_string()));
        }
        out
    }

    #[test]
    fn joins() {
        let t = run("SELECT t.x, u.name FROM t JOIN u ON t.k = u.k ORDER BY t.x");
        assert_eq!(t.column_names(), vec!["x", "name"]);
        assert_eq!(strings(&t, "x"), ["1", "2", "3", "5"]);
        assert_eq!(strings(&t, "name"), ["ann", "bob", "ann", "bob"]);
        // LEFT JOIN ... ON keeps the right key: null where nothing matched.
        let t = run(
            "SELECT a.x, b.k AS bk, b.x AS bx FROM t a LEFT JOIN u b ON a.k = b.k ORDER BY a.x",
        );
        assert_eq!(strings(&t, "bk"), ["a", "b", "a", "null", "b"]);
        assert_eq!(strings(&t, "bx"), ["10", "20", "10", "null", "20"]);
        // USING merges the key: unqualified k is fine.
        let t = run("SELECT k, count(*) AS n FROM t FULL JOIN u USING (k) GROUP BY k ORDER BY k");
        assert_eq!(strings(&t, "k"), ["a", "b", "c", "d"]);
        assert_eq!(strings(&t, "n"), ["2", "2", "1", "1"]);
        let t = run("SELECT u.* FROM t RIGHT JOIN u ON t.k = u.k AND t.x = u.x");
        assert_eq!(t.column_names(), vec!["k_right", "name", "x_right"]);
        assert_eq!(t.num_rows(), 3);
        let t = run("SELECT * FROM t SEMI JOIN u ON t.k = u.k");
        assert_eq!(t.num_rows(), 4);
        let t = run("SELECT * FROM t ANTI JOIN u ON u.k = t.k");
        assert_eq!(strings(&t, "k"), ["c"]);
        let t = run("SELECT count(*) AS n FROM t, u");
        assert_eq!(strings(&t, "n"), ["15"]);
        let t = run("SELECT count(*) AS n FROM t CROSS JOIN u WHERE t.x > u.x / 10");
        assert_eq!(strings(&t, "n"), ["9"]);
    }

    #[test]
    fn join_errors() {
        let e = error("SELECT x FROM t JOIN u ON t.k = u.k");
        assert!(
            e.contains("'x' is ambiguous") && e.contains("t.x or u.x"),
            "{e}"
        );
        let e = error("SELECT 1 FROM t JOIN u ON t.x < u.x");
        assert!(e.contains("only equalities"), "{e}");
        let e = error("SELECT 1 FROM t JOIN u ON t.k = u.k AND t.x = 1");
        assert!(e.contains("'t.x = 1' must compare"), "{e}");
        let e = error("SELECT 1 FROM t JOIN u ON t.k = t.k");
        assert!(e.contains("must compare a column of the left table"), "{e}");
        let e = error("SELECT 1 FROM t JOIN u ON t.k = u.x");
        assert!(e.contains("key types differ"), "{e}");
        let e = error("SELECT 1 FROM t JOIN u");
        assert!(e.contains("needs ON or USING"), "{e}");
        let e = error("SELECT 1 FROM t NATURAL JOIN u");
        assert!(e.contains("NATURAL"), "{e}");
        let e = error("SELECT t.nope FROM t JOIN u USING (k)");
        assert!(e.contains("'nope' not found in table 't'"), "{e}");
    }

    #[test]
    fn unions() {
        let t = run("SELECT k FROM t UNION ALL SELECT k FROM u ORDER BY 1 DESC LIMIT 3");
        assert_eq!(strings(&t, "k"), ["d", "c", "b"]);
        let t = run("SELECT k, x FROM t UNION SELECT k, x FROM t ORDER BY x");
        assert_eq!(strings(&t, "x"), ["1", "2", "3", "4", "5"]);
        let t = run(
            "SELECT x AS n FROM t UNION ALL SELECT x FROM u UNION ALL SELECT x FROM u WHERE x = 10",
        );
        assert_eq!(t.num_rows(), 9);
        assert_eq!(t.column_names(), vec!["n"]);
        let e = error("SELECT k, x FROM t UNION ALL SELECT k FROM u");
        assert!(e.contains("same number of columns"), "{e}");
        let e = error("SELECT k FROM t UNION ALL SELECT x FROM u");
        assert!(e.contains("cast one of them"), "{e}");
        let e = error("SELECT k FROM t EXCEPT SELECT k FROM u");
        assert!(e.contains("EXCEPT"), "{e}");
    }

    fn run(sql: &str) -> parframe::Table {
        planner().plan(sql).unwrap().collect().unwrap()
    }

    fn error(sql: &str) -> String {
        match planner().plan(sql).and_then(|lf| Ok(lf.collect()?)) {
            Ok(_) => panic!("expected an error for {sql}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn select_where_limit() {
        let t = run("SELECT x, y * 2 AS y2 FROM t WHERE x > 1 AND k <> 'c' LIMIT 2");
        assert_eq!(t.column_names(), vec!["x", "y2"]);
        assert_eq!(t.num_rows(), 2);
        let t = run("SELECT * FROM t WHERE k IN ('a', 'c') AND x BETWEEN 1 AND 3");
        assert_eq!(t.num_rows(), 2);
        assert_eq!(t.num_columns(), 3);
        let t = run("SELECT t.x FROM t WHERE k LIKE 'a%' OR upper(k) = 'B'");
        assert_eq!(t.num_rows(), 4);
    }

    #[test]
    fn group_by_forms() {
        let t = run(
            "SELECT k, sum(x) AS s, count(*) AS n, avg(y) + 1 AS m FROM t GROUP BY k HAVING sum(x) > 3",
        );
        assert_eq!(t.column_names(), vec!["k", "s", "n", "m"]);
        assert_eq!(t.num_rows(), 3);
        let t = run("SELECT k, max(x) - min(x) AS r FROM t GROUP BY 1");
        assert_eq!(t.num_rows(), 3);
        let t = run("SELECT x % 2 AS parity, count(DISTINCT k) FROM t GROUP BY parity");
        assert_eq!(t.num_rows(), 2);
        assert_eq!(t.column_names(), vec!["parity", "count(DISTINCT k)"]);
        let t = run("SELECT sum(x * 2) AS s2, median(y), quantile_cont(y, 0.5) FROM t");
        assert_eq!(t.num_rows(), 1);
        let t = run("SELECT DISTINCT k FROM t");
        assert_eq!(t.num_rows(), 3);
        let t = run("SELECT n FROM (SELECT k, count(*) AS n FROM t GROUP BY k) AS s WHERE n > 1");
        assert_eq!(t.num_rows(), 2);
        let t = run("WITH g AS (SELECT k, sum(x) AS s FROM t GROUP BY k) SELECT * FROM g");
        assert_eq!(t.num_rows(), 3);
    }

    #[test]
    fn case_when_forms() {
        use parframe::arrow::array::cast::AsArray;
        use parframe::arrow::array::types::Int64Type;
        let t = run(
            "SELECT CASE WHEN x < 2 THEN 'lo' WHEN x < 4 THEN 'mid' ELSE 'hi' END AS band, \
             CASE k WHEN 'a' THEN x * 10 WHEN 'b' THEN 0 END AS s FROM t",
        );
        assert_eq!(t.column_names(), vec!["band", "s"]);
        let c = t.chunks()[0].clone();
        let band: Vec<_> = c.column(0).as_string::<i32>().iter().collect();
        assert_eq!(
            band,
            vec![Some("lo"), Some("mid"), Some("mid"), Some("hi"), Some("hi")]
        );
        let s: Vec<_> = c.column(1).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(s, vec![Some(10), Some(0), Some(30), None, Some(0)]);
        let t = run(
            "SELECT k, sum(CASE WHEN x > 2 THEN 1 ELSE 0 END) AS n FROM t GROUP BY k ORDER BY k",
        );
        assert_eq!(t.num_rows(), 3);
        let e = error("SELECT CASE WHEN x THEN 1 END FROM t");
        assert!(e.contains("must be Boolean"), "{e}");
    }

    #[test]
    fn errors_name_the_construct_and_position() {
        let e = error("SELECT nope FROM t");
        assert!(
            e.contains("column 'nope' not found") && e.contains("line 1, column 8"),
            "{e}"
        );
        let e = error("SELECT k, x FROM t GROUP BY k");
        assert!(e.contains("'x' must appear in GROUP BY"), "{e}");
        let e = error("SELECT * FROM t JOIN t AS u ON t.x > u.x");
        assert!(e.contains("only equalities"), "{e}");
        let e = error("SELECT FROM WHERE");
        assert!(e.contains("SQL syntax error"), "{e}");
        let e = error("SELECT * FROM unknown_table");
        assert!(e.contains("unknown table 'unknown_table'"), "{e}");
        let e = error("SELECT x FROM t WHERE sum(x) > 1");
        assert!(e.contains("WHERE"), "{e}");
        let e = error("SELECT k FROM t OFFSET 2");
        assert!(e.contains("OFFSET"), "{e}");
        let e = error("SELECT round(y) FROM t");
        assert!(e.contains("'round'"), "{e}");
        let e = error("SELECT k FROM t WHERE k LIKE 'a_c'");
        assert!(e.contains("LIKE pattern"), "{e}");
    }

    #[test]
    fn like_patterns() {
        let x = col("s");
        assert_eq!(like(x.clone(), "ab%"), Some(x.clone().starts_with("ab")));
        assert_eq!(like(x.clone(), "%ab"), Some(x.clone().ends_with("ab")));
        assert_eq!(like(x.clone(), "%ab%"), Some(x.clone().contains("ab")));
        assert_eq!(
            like(x.clone(), "ab"),
            Some(x.clone().eq(lit("ab".to_string())))
        );
        assert_eq!(like(x.clone(), "%"), Some(x.clone().ends_with("")));
        assert_eq!(like(x.clone(), "a%b"), None);
        assert_eq!(like(x, "a_b"), None);
    }
}
