//! Aggregation: `GROUP BY` keys, aggregate calls (resolved through the
//! function registry), `HAVING`; expressions over keys and aggregates are
//! translated to expressions over the aggregate's output columns.

use arrow_schema::{DataType, Field, Schema};
use parframe_common::Result;
use parframe_core::{Expr, ScalarValue, col, lit, when};
use parframe_exec::LazyFrame;
use parframe_exec::agg::AggExpr;
use sqlparser::ast::{
    self, DuplicateTreatment, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Spanned,
};
use sqlparser::tokenizer::Span;

use crate::error::{at, err, unsupported};
use crate::expr::{
    Leaf, aggregate_function, find_aggregate, function_name, row_expr, translate_with,
};
use crate::functions::{AggArgs, Builder};
use crate::scope::{Scope, resolve_compound};
use crate::select::{Item, output_ref};

/// One GROUP BY key.
pub(crate) struct Key {
    /// The key as written (for matching select items), when an expression.
    pub(crate) sql: ast::Expr,
    /// The input column when the key is a plain column.
    pub(crate) column: Option<String>,
    /// The key's column name in the aggregate's output.
    pub(crate) name: String,
    /// How to compute it from the input (for expression keys).
    pub(crate) expr: Expr,
}

/// A computed aggregate argument.
pub(crate) struct AggArg {
    /// As written.
    pub(crate) sql: ast::Expr,
    /// The aggregate's `FILTER (WHERE ...)`.
    pub(crate) filter: Option<ast::Expr>,
    /// Its input column.
    pub(crate) name: String,
    /// How it is computed from the input rows.
    pub(crate) expr: Expr,
}

/// The state of planning an aggregation: keys, the aggregates met so far
/// (each a hidden output column), and computed aggregate arguments.
pub(crate) struct AggState {
    pub(crate) scope: Scope,
    /// Select-list aliases with their expressions (usable in HAVING).
    pub(crate) aliases: Vec<(String, ast::Expr)>,
    pub(crate) keys: Vec<Key>,
    pub(crate) aggs: Vec<(ast::Function, String, AggExpr)>,
    pub(crate) args: Vec<AggArg>,
    /// Grouping sets (`ROLLUP`, `CUBE`, `GROUPING SETS`), as indices into
    /// `keys`; `None`: one set of all keys.
    pub(crate) sets: Option<Vec<Vec<usize>>>,
    /// Columns joined to the aggregate's output (uncorrelated scalar
    /// subqueries of the select list and `HAVING`), read as they are.
    pub(crate) joined: Vec<String>,
}

impl Leaf for AggState {
    fn leaf(&mut self, e: &ast::Expr) -> Result<Expr> {
        self.translate(e)
    }

    /// The type of an expression over the aggregate's output: the keys and
    /// the aggregates met so far.
    fn data_type(&mut self, e: &Expr) -> Option<DataType> {
        let input = self.input_schema().ok()?;
        let mut fields: Vec<Field> = Vec::new();
        for k in &self.keys {
            let f = k.expr.to_field(&self.scope.schema).ok()?;
            fields.push(f.with_name(k.name.as_str()));
        }
        for (_, name, a) in &self.aggs {
            fields.push(Field::new(name.as_str(), a.output_type(&input).ok()?, true));
        }
        e.to_field(&Schema::new(fields))
            .ok()
            .map(|f| f.data_type().clone())
    }
}

impl AggState {
    pub(crate) fn new(scope: Scope) -> Self {
        AggState {
            scope,
            aliases: Vec::new(),
            keys: Vec::new(),
            aggs: Vec::new(),
            args: Vec::new(),
            sets: None,
            joined: Vec::new(),
        }
    }

    /// Adds the `GROUP BY` keys; returns each expression's key index (a
    /// duplicate gets the index of the first).
    pub(crate) fn add_keys(&mut self, exprs: &[ast::Expr], items: &[Item]) -> Result<Vec<usize>> {
        let mut indices = Vec::with_capacity(exprs.len());
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
            if let Some(i) = self.keys.iter().position(|k| k.name == name) {
                indices.push(i);
                continue;
            }
            indices.push(self.keys.len());
            self.keys.push(Key {
                sql: e,
                column,
                name,
                expr,
            });
        }
        Ok(indices)
    }

    /// Translates an expression over keys and aggregates to one over the
    /// aggregate's output columns.
    #[recursive::recursive]
    pub(crate) fn translate(&mut self, e: &ast::Expr) -> Result<Expr> {
        if let Some(k) = self.keys.iter().find(|k| &k.sql == e) {
            return Ok(col(k.name.as_str()));
        }
        match e {
            ast::Expr::Identifier(i) if self.joined.contains(&i.value) => Ok(col(i.value.as_str())),
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
                        None => Err(e),
                    }
                }
            },
            ast::Expr::CompoundIdentifier(parts) => {
                let c = resolve_compound(&self.scope, parts, e.span())?;
                self.key_column(&c, e.span())
            }
            ast::Expr::Function(f) if aggregate_function(f).is_some() => self.aggregate_fn(f),
            _ => translate_with(e, self),
        }
    }

    pub(crate) fn key_column(&self, c: &str, span: Span) -> Result<Expr> {
        match self.keys.iter().find(|k| k.column.as_deref() == Some(c)) {
            Some(k) => Ok(col(k.name.as_str())),
            None => err(
                format!("column '{c}' must appear in GROUP BY or be used in an aggregate function"),
                span,
            ),
        }
    }

    /// The input column an aggregate reads: a column, or a computed one
    /// (an expression, or any argument under `FILTER (WHERE p)`, which
    /// becomes `CASE WHEN p THEN arg END`: every aggregate skips nulls).
    pub(crate) fn argument(&mut self, e: &ast::Expr, filter: Option<&ast::Expr>) -> Result<String> {
        if let Some(span) = find_aggregate(e) {
            return err("aggregate functions cannot be nested", span);
        }
        if filter.is_none() {
            match e {
                ast::Expr::Identifier(i) => return self.scope.resolve(i),
                ast::Expr::CompoundIdentifier(parts) => {
                    return resolve_compound(&self.scope, parts, e.span());
                }
                _ => {}
            }
        }
        if let Some(a) = self
            .args
            .iter()
            .find(|a| &a.sql == e && a.filter.as_ref() == filter)
        {
            return Ok(a.name.clone());
        }
        let mut expr = row_expr(e, &self.scope)?;
        if let Some(p) = filter {
            if let Some(span) = find_aggregate(p) {
                return err("aggregate functions are not allowed in FILTER", span);
            }
            expr = when(row_expr(p, &self.scope)?, expr).end();
        }
        let name = format!("__pf_arg{}", self.args.len());
        self.args.push(AggArg {
            sql: e.clone(),
            filter: filter.cloned(),
            name: name.clone(),
            expr,
        });
        Ok(name)
    }

    /// An aggregate call: resolved through the function registry, its
    /// arguments made input columns, its result a hidden output column.
    pub(crate) fn aggregate_fn(&mut self, f: &ast::Function) -> Result<Expr> {
        if let Some((_, name, _)) = self.aggs.iter().find(|(g, _, _)| g == f) {
            return Ok(col(name.as_str()));
        }
        let span = f.span();
        let fname = function_name(f);
        let Some(def) = aggregate_function(f) else {
            return unsupported(format!("the aggregate function '{fname}'"), span);
        };
        let Builder::Aggregate(build) = def.builder else {
            return unsupported(format!("the aggregate function '{fname}'"), span);
        };
        if f.over.is_some() {
            return unsupported(format!("window functions ({fname} OVER ...)"), span);
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
        if star && !args.is_empty() {
            return err(format!("{fname}(*) takes nothing else"), span);
        }
        if star && !def.arity.accepts(0) {
            return err(format!("{fname}(*) is not valid; name a column"), span);
        }
        def.check_arity(&fname, args.len() + usize::from(star), span)?;
        let filter = f.filter.as_deref();
        // Under FILTER, count(*) counts the rows where the filter holds.
        let one = ast::Expr::value(ast::Value::Number("1".into(), false));
        if star && filter.is_some() {
            star = false;
            args.push(&one);
        }
        let a: AggExpr = {
            let mut column = |e: &ast::Expr| self.argument(e, filter);
            let mut call = AggArgs {
                name: &fname,
                sql: args,
                star,
                distinct,
                filtered: filter.is_some(),
                span,
                column: &mut column,
            };
            build(&mut call)?
        };
        // Type-check now, to point at the function in the query.
        a.output_type(&self.input_schema()?).map_err(at(span))?;
        let name = format!("__pf_agg{}", self.aggs.len());
        self.aggs
            .push((f.clone(), name.clone(), a.alias(name.as_str())));
        Ok(col(name))
    }

    /// The aggregate's input: the scope's columns and the computed arguments.
    pub(crate) fn input_schema(&self) -> Result<Schema> {
        let mut fields: Vec<Field> = self
            .scope
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for a in &self.args {
            let f = a
                .expr
                .to_field(&self.scope.schema)
                .map_err(at(a.sql.span()))?;
            fields.push(f.with_name(a.name.as_str()));
        }
        Ok(Schema::new(fields))
    }

    /// Runs the aggregation over `input`: computed keys and arguments
    /// first, then one row per key tuple with the hidden aggregate columns.
    pub(crate) fn aggregate(&self, input: &LazyFrame, span: Span) -> Result<LazyFrame> {
        let mut lf = input.clone();
        let computed: Vec<Expr> = self
            .keys
            .iter()
            .filter(|k| k.column.is_none())
            .map(|k| k.expr.clone().alias(k.name.as_str()))
            .chain(
                self.args
                    .iter()
                    .map(|a| a.expr.clone().alias(a.name.as_str())),
            )
            .collect();
        if !computed.is_empty() {
            lf = lf.with_columns(computed).map_err(at(span))?;
        }
        let aggs: Vec<AggExpr> = self.aggs.iter().map(|(_, _, a)| a.clone()).collect();
        let Some(sets) = &self.sets else {
            let keys: Vec<Expr> = self.keys.iter().map(|k| col(k.name.as_str())).collect();
            return lf.group_by(keys).agg(aggs).map_err(at(span));
        };
        // Grouping sets: one aggregation per set, the keys outside the set
        // null, all of them one after the other. (Each reads the input.)
        let schema = lf.schema();
        let mut parts = Vec::with_capacity(sets.len());
        for set in sets {
            let keys: Vec<Expr> = set
                .iter()
                .map(|&i| col(self.keys[i].name.as_str()))
                .collect();
            let g = lf.group_by(keys).agg(aggs.clone()).map_err(at(span))?;
            let mut out: Vec<Expr> = Vec::new();
            for (i, k) in self.keys.iter().enumerate() {
                let name = k.name.as_str();
                out.push(if set.contains(&i) {
                    col(name)
                } else {
                    let t = schema
                        .field_with_name(name)
                        .map(|f| f.data_type().clone())
                        .map_err(|e| crate::error::sql_error(e.to_string(), span))?;
                    lit(ScalarValue::Null).cast(t).alias(name)
                });
            }
            out.extend(self.aggs.iter().map(|(_, n, _)| col(n.as_str())));
            parts.push(g.select(out).map_err(at(span))?);
        }
        LazyFrame::concat(&parts).map_err(at(span))
    }
}

/// The keys of a `GROUP BY` (each expression once, in order) and its
/// grouping sets over them (`None`: a plain `GROUP BY`, one set of all).
pub(crate) struct Grouping {
    pub(crate) exprs: Vec<ast::Expr>,
    pub(crate) sets: Option<Vec<Vec<usize>>>,
}

/// The most grouping sets a `CUBE` may make.
const MAX_CUBE: usize = 12;

/// Expands `ROLLUP(a, b)` to the sets `(a, b), (a), ()`, `CUBE(a, b)` to
/// every subset, `GROUPING SETS (...)` to its sets, and a list of those
/// and plain keys to their cross product (as SQL:1999 does). MySQL's
/// `WITH ROLLUP` / `WITH CUBE` apply to the whole list.
pub(crate) fn grouping(
    exprs: &[ast::Expr],
    modifiers: &[ast::GroupByWithModifier],
    span: Span,
) -> Result<Grouping> {
    let mut flat: Vec<ast::Expr> = Vec::new();
    let mut index = |e: &ast::Expr| match flat.iter().position(|f| f == e) {
        Some(i) => i,
        None => {
            flat.push(e.clone());
            flat.len() - 1
        }
    };
    let rollup = |lists: &[Vec<usize>]| -> Vec<Vec<usize>> {
        (0..=lists.len())
            .rev()
            .map(|k| lists[..k].concat())
            .collect()
    };
    let cube = |lists: &[Vec<usize>]| -> Result<Vec<Vec<usize>>> {
        if lists.len() > MAX_CUBE {
            return err(
                format!("CUBE of more than {MAX_CUBE} elements (2^n grouping sets)"),
                span,
            );
        }
        let n = lists.len();
        Ok((0..1usize << n)
            .rev()
            .map(|mask| {
                (0..n)
                    .filter(|b| mask & (1 << (n - 1 - b)) != 0)
                    .flat_map(|b| lists[b].clone())
                    .collect()
            })
            .collect())
    };
    let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
    let mut any = false;
    for e in exprs {
        let options: Vec<Vec<usize>> = match e {
            ast::Expr::Rollup(lists) | ast::Expr::Cube(lists) | ast::Expr::GroupingSets(lists) => {
                any = true;
                let lists: Vec<Vec<usize>> = lists
                    .iter()
                    .map(|l| l.iter().map(&mut index).collect())
                    .collect();
                match e {
                    ast::Expr::Rollup(_) => rollup(&lists),
                    ast::Expr::Cube(_) => cube(&lists)?,
                    _ => lists,
                }
            }
            plain => vec![vec![index(plain)]],
        };
        sets = sets
            .iter()
            .flat_map(|s| {
                options.iter().map(move |o| {
                    let mut x = s.clone();
                    x.extend(o.iter().copied().filter(|i| !s.contains(i)));
                    x
                })
            })
            .collect();
    }
    for m in modifiers {
        let singles: Vec<Vec<usize>> = (0..flat.len()).map(|i| vec![i]).collect();
        sets = match m {
            ast::GroupByWithModifier::Rollup if !any => rollup(&singles),
            ast::GroupByWithModifier::Cube if !any => cube(&singles)?,
            other => return unsupported(format!("GROUP BY ... {other}"), span),
        };
        any = true;
    }
    Ok(Grouping {
        exprs: flat,
        sets: any.then_some(sets),
    })
}
