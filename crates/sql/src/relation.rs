//! `FROM`: tables of the catalog and `WITH`, file paths, table functions
//! (`read_csv`, `read_parquet`, `read_ipc`), subqueries, and joins.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parframe_common::Result;
use parframe_core::{ChunkSource, Expr, col};
use parframe_exec::{JoinOptions, JoinType, LazyFrame};
use parframe_io::{CsvOptions, CsvSource, DatasetOptions, DatasetSource, FileFormat, MultiSource};
use sqlparser::ast::{
    self, BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArgOperator, Ident, JoinConstraint,
    JoinOperator, ObjectName, ObjectNamePart, Select, Spanned, TableFactor, TableWithJoins, Value,
};
use sqlparser::tokenizer::Span;

use crate::error::{at, err, sql_error, unsupported};
use crate::expr::{first_words, limit_value, row_expr, string_literal};
use crate::planner::SqlPlanner;
use crate::scope::Scope;

impl SqlPlanner {
    pub(crate) fn plan_from(&self, s: &Select) -> Result<(LazyFrame, Scope)> {
        let Some((first, rest)) = s.from.split_first() else {
            // SELECT without FROM reads one row of no columns.
            let one = parframe_core::Table::try_new(
                std::sync::Arc::new(arrow_schema::Schema::empty()),
                vec![crate::values::one_row()?],
            )?;
            let lf = self.ctx.lazy(one);
            let scope = Scope::single(lf.schema(), Vec::new());
            return Ok((lf, scope));
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

    pub(crate) fn plan_joins(&self, twj: &TableWithJoins) -> Result<(LazyFrame, Scope)> {
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
            let mut right = self.plan_relation(&j.relation)?;
            let mut residual: Vec<&ast::Expr> = Vec::new();
            let (keys, coalesce) = match constraint {
                JoinConstraint::On(e) if how != JoinType::Cross => {
                    let mut keys = (Vec::new(), Vec::new());
                    let (l, r, both) = split_on(e, &scope, &right.1, &mut keys)?;
                    // Conditions on one side only: a filter of that side's
                    // input where the join's semantics allow it (the side
                    // whose rows are not all kept: the right one of a
                    // LEFT, SEMI or ANTI join, the left one of a RIGHT join;
                    // either of an INNER join). The others, and those over
                    // both tables, belong to the join: a pair must pass
                    // them to match.
                    let push_right = matches!(
                        how,
                        JoinType::Inner | JoinType::Left | JoinType::Semi | JoinType::Anti
                    );
                    let push_left =
                        matches!(how, JoinType::Inner | JoinType::Right | JoinType::Semi);
                    let mut both = both;
                    if push_right {
                        right.0 = filter_all(&right.0, &r, &right.1)?;
                    } else {
                        both.extend(r);
                    }
                    if push_left {
                        lf = filter_all(&lf, &l, &scope)?;
                    } else {
                        both.extend(l);
                    }
                    residual = both;
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
                JoinConstraint::Natural if how != JoinType::Cross => {
                    // USING the columns both sides have (by unqualified
                    // name); none in common is a cross join, as in SQL.
                    let mut keys = (Vec::new(), Vec::new());
                    for f in right.1.schema.fields() {
                        let ident = Ident::with_quote('"', f.name().as_str());
                        if right.1.ambiguous.contains(f.name()) {
                            continue;
                        }
                        if let Ok(l) = scope.resolve(&ident) {
                            keys.0.push(l);
                            keys.1.push(f.name().clone());
                        }
                    }
                    if keys.0.is_empty() {
                        (lf, scope) =
                            join_scoped((lf, scope), right, JoinType::Cross, keys, false, span)?;
                        continue;
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
            // An inner join without equalities is a cross join.
            let how = if how == JoinType::Inner && keys.0.is_empty() {
                JoinType::Cross
            } else {
                how
            };
            if how == JoinType::Inner || residual.is_empty() {
                (lf, scope) = join_scoped((lf, scope), right, how, keys, coalesce, span)?;
                lf = filter_all(&lf, &residual, &scope)?;
            } else {
                (lf, scope) = join_scoped_on((lf, scope), right, how, keys, &residual, span)?;
            }
        }
        Ok((lf, scope))
    }

    pub(crate) fn plan_relation(&self, rel: &TableFactor) -> Result<(LazyFrame, Scope)> {
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
    pub(crate) fn named_table(&self, name: &ObjectName) -> Result<(LazyFrame, String)> {
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
        if ident.quote_style != Some('\'')
            && let Some(lf) = self.lookup_table(&ident.value)
        {
            return Ok((lf, ident.value.clone()));
        }
        let looks_like_file = ident.quote_style == Some('\'')
            || (ident.quote_style.is_some()
                && (ident.value.contains(['.', '/', '*', '?'])
                    || Path::new(&ident.value).exists()));
        if looks_like_file {
            let source =
                open_path(&ident.value).map_err(|e| sql_error(e.to_string(), ident.span))?;
            let stem = Path::new(&ident.value)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            return Ok((self.ctx.scan(source), stem));
        }
        let known = self.known_tables();
        err(
            format!(
                "unknown table '{}'; write a file path in single quotes (FROM 'data/x.parquet') \
                 or register it (Context::register_table, or --table {}=PATH on the command line){}",
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
    pub(crate) fn table_function(
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
                sql_error(
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
                                sql_error(format!("{key} takes a string"), *vspan)
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
                open_csv(&path, &opts).map_err(|e| sql_error(e.to_string(), span))?
            }
            "read_parquet" | "parquet_scan" | "read_ipc" | "read_arrow" | "read_feather"
            | "read_json" | "read_ndjson" | "read_json_auto" => {
                // DuckDB's option: the schema is the union of every file's,
                // matched by column name (see `DatasetOptions::union_by_name`).
                let mut union_by_name = false;
                for (key, value, vspan) in &named {
                    match key.as_str() {
                        "union_by_name" => union_by_name = bool_literal(value, key, *vspan)?,
                        other => {
                            return err(
                                format!("unknown {fname} option '{other}'; known: union_by_name"),
                                *vspan,
                            );
                        }
                    }
                }
                let want = if fname.contains("parquet") {
                    FileFormat::Parquet
                } else if fname.contains("json") {
                    FileFormat::Json
                } else {
                    FileFormat::Ipc
                };
                // A glob or directory is checked file by file when opened.
                let got = FileFormat::from_path(Path::new(&path));
                if got != Some(want) && !parframe_io::is_glob(&path) {
                    return err(
                        format!(
                            "{fname}: '{path}' does not end in .{}; {want} files are recognised by extension",
                            want.extensions().join(" or .")
                        ),
                        span,
                    );
                }
                if union_by_name {
                    let options = DatasetOptions {
                        format: Some(want),
                        union_by_name: true,
                        ..DatasetOptions::default()
                    };
                    Arc::new(
                        DatasetSource::try_new(&path, options)
                            .map_err(|e| sql_error(e.to_string(), span))?,
                    )
                } else {
                    open_path(&path).map_err(|e| sql_error(e.to_string(), span))?
                }
            }
            _ => {
                return unsupported(
                    format!(
                        "the table function '{fname}'; use read_csv, read_parquet, read_ipc or read_json"
                    ),
                    span,
                );
            }
        };
        Ok(self.ctx.scan(source))
    }
}

/// Opens a path or glob pattern (format from the extension).
pub(crate) fn open_path(path: &str) -> Result<Arc<dyn ChunkSource>> {
    parframe_io::open_sources(path)
}

/// Opens a CSV path or glob pattern with options.
pub(crate) fn open_csv(pattern: &str, opts: &CsvOptions) -> Result<Arc<dyn ChunkSource>> {
    let paths = parframe_io::expand_glob(pattern)?;
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

pub(crate) fn rename_columns(lf: &LazyFrame, names: &[&Ident], span: Span) -> Result<LazyFrame> {
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

pub(crate) fn other_constraint(c: &JoinConstraint) -> String {
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

/// Splits `ON c1 AND c2 ...`: equalities of a left column and a right
/// column become key pairs; the other conditions are returned by the side
/// they read (left only, right only, both).
#[allow(clippy::type_complexity)]
pub(crate) fn split_on<'e>(
    e: &'e ast::Expr,
    left: &Scope,
    right: &Scope,
    keys: &mut (Vec<String>, Vec<String>),
) -> Result<(Vec<&'e ast::Expr>, Vec<&'e ast::Expr>, Vec<&'e ast::Expr>)> {
    let (mut l, mut r, mut both) = (Vec::new(), Vec::new(), Vec::new());
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            ast::Expr::Nested(inner) => stack.push(inner),
            ast::Expr::BinaryOp {
                left: a,
                op: BinaryOperator::And,
                right: b,
            } => {
                stack.push(b);
                stack.push(a);
            }
            ast::Expr::BinaryOp {
                left: a,
                op: BinaryOperator::Eq,
                right: b,
            } if matches!(
                (
                    left.try_column(a)?,
                    right.try_column(b)?,
                    left.try_column(b)?,
                    right.try_column(a)?,
                ),
                (Some(_), Some(_), _, _) | (_, _, Some(_), Some(_))
            ) =>
            {
                let pair = match (left.try_column(a)?, right.try_column(b)?) {
                    (Some(lc), Some(rc)) => (lc, rc),
                    _ => match (left.try_column(b)?, right.try_column(a)?) {
                        (Some(lc), Some(rc)) => (lc, rc),
                        _ => {
                            return err(format!("cannot split the join condition '{x}'"), x.span());
                        }
                    },
                };
                keys.0.push(pair.0);
                keys.1.push(pair.1);
            }
            other => {
                // By the columns it names: all in one side only, or not.
                let mut in_left = true;
                let mut in_right = true;
                crate::expr::visit(other, &mut |sub| match sub {
                    ast::Expr::Identifier(i) => {
                        in_left &= left.resolve(i).is_ok();
                        in_right &= right.resolve(i).is_ok();
                    }
                    ast::Expr::CompoundIdentifier(parts) => {
                        in_left &= crate::scope::resolve_compound(left, parts, sub.span()).is_ok();
                        in_right &=
                            crate::scope::resolve_compound(right, parts, sub.span()).is_ok();
                    }
                    _ => {}
                });
                match (in_left, in_right) {
                    (true, false) => l.push(other),
                    (false, true) => r.push(other),
                    _ => both.push(other),
                }
            }
        }
    }
    Ok((l, r, both))
}

/// `lf` filtered by every condition (translated over `scope`).
fn filter_all(lf: &LazyFrame, conditions: &[&ast::Expr], scope: &Scope) -> Result<LazyFrame> {
    let mut lf = lf.clone();
    for c in conditions {
        if let Some(span) = crate::expr::find_aggregate(c) {
            return err("aggregate functions are not allowed in JOIN ... ON", span);
        }
        let p = row_expr(c, scope)?;
        lf = lf.filter(p).map_err(at(c.span()))?;
    }
    Ok(lf)
}

/// Joins two planned relations and merges their scopes: qualified names
/// follow their columns (suffixed or merged keys), unqualified names both
/// tables have become ambiguous.
pub(crate) fn join_scoped(
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
    merge_scopes(joined, scope, rs, how, (&left_on, &right_on), coalesce)
}

/// [`join_scoped`] (keys not coalesced) where a pair must also pass the
/// conditions `residual` to match: SQL's `LEFT JOIN ... ON a.k = b.k AND
/// <condition over both tables>`, or a `[NOT] EXISTS` with a correlated
/// condition that is not an equality. The conditions are resolved over
/// the pair of rows (the scope of the inner join of the two) and become
/// the join's residual, evaluated inside the join.
pub(crate) fn join_scoped_on(
    (lf, scope): (LazyFrame, Scope),
    (r, rs): (LazyFrame, Scope),
    how: JoinType,
    (left_on, right_on): (Vec<String>, Vec<String>),
    residual: &[&ast::Expr],
    span: Span,
) -> Result<(LazyFrame, Scope)> {
    let pair_how = if left_on.is_empty() {
        JoinType::Cross
    } else {
        JoinType::Inner
    };
    let (_, pairs) = join_scoped(
        (lf.clone(), scope.clone()),
        (r.clone(), rs.clone()),
        pair_how,
        (left_on.clone(), right_on.clone()),
        false,
        span,
    )?;
    let mut rest = Vec::with_capacity(residual.len());
    for c in residual {
        if let Some(span) = crate::expr::find_aggregate(c) {
            return err("aggregate functions are not allowed in JOIN ... ON", span);
        }
        rest.push(row_expr(c, &pairs)?);
    }
    let on = pair_condition(
        (&left_on, &right_on),
        scope.schema.fields().len(),
        &rs.schema,
        &pairs.schema,
        rest,
        span,
    )?;
    let joined = lf
        .join_on_with(&r, how, on, JoinOptions::new())
        .map_err(at(span))?;
    merge_scopes(joined, scope, rs, how, (&left_on, &right_on), false)
}

/// The condition of a join (keys not coalesced) of a relation of `nleft`
/// columns with one of schema `right`: each `left_on[i] = right_on[i]`,
/// the right key named as in the pair schema `pairs` (where the right
/// columns follow the left ones, suffixed on a clash), and the conditions
/// `rest` over `pairs`.
pub(crate) fn pair_condition(
    (left_on, right_on): (&[String], &[String]),
    nleft: usize,
    right: &arrow_schema::Schema,
    pairs: &arrow_schema::Schema,
    rest: Vec<Expr>,
    span: Span,
) -> Result<Expr> {
    let mut on: Vec<Expr> = Vec::with_capacity(left_on.len() + rest.len());
    for (a, b) in left_on.iter().zip(right_on) {
        let i = right
            .index_of(b)
            .map_err(|e| sql_error(e.to_string(), span))?;
        let name = pairs
            .fields()
            .get(nleft + i)
            .ok_or_else(|| sql_error(format!("internal: no pair column for key {b}"), span))?
            .name();
        on.push(col(a.as_str()).eq(col(name.as_str())));
    }
    on.extend(rest);
    let Some(on) = on.into_iter().reduce(Expr::and) else {
        return err("a join without a condition", span);
    };
    Ok(on)
}

/// The scope of `joined`, the join of the relations of `scope` and `rs`.
fn merge_scopes(
    joined: LazyFrame,
    scope: Scope,
    rs: Scope,
    how: JoinType,
    (left_on, right_on): (&[String], &[String]),
    coalesce: bool,
) -> Result<(LazyFrame, Scope)> {
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

/// A boolean table-function option: `true`/`false`, 1/0, 'yes'/'no'.
pub(crate) fn bool_literal(e: &ast::Expr, key: &str, span: Span) -> Result<bool> {
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

pub(crate) fn single_byte(e: &ast::Expr, key: &str, span: Span) -> Result<u8> {
    let s = string_literal(e)
        .ok_or_else(|| sql_error(format!("{key} takes a one-character string"), span))?;
    match s.as_str() {
        "\\t" | "\t" => Ok(b'\t'),
        s if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => err(
            format!("{key} must be one ASCII character, got '{s}'"),
            span,
        ),
    }
}
