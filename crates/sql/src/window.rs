//! Window functions: `f(...) OVER (PARTITION BY ... ORDER BY ... [ROWS |
//! RANGE] BETWEEN ... AND ...)`, windows named in `WINDOW w AS (...)`, and
//! `QUALIFY`, planned onto [`LazyFrame::with_window_columns`].
//!
//! Each window call of the select list (or `QUALIFY`) becomes a hidden
//! column: partition and order keys and arguments that are expressions are
//! computed first as hidden columns, then all window columns in one
//! `with_window_columns` (calls sharing a window share one pass). In a
//! query with `GROUP BY` / aggregates, windows run over the aggregate's
//! output, after `HAVING` (SQL's order of evaluation), so `rank() OVER
//! (ORDER BY sum(x) DESC)` works.
//!
//! Functions: `row_number`, `rank`, `dense_rank`, `percent_rank`,
//! `cume_dist`, `ntile(n)`, `lag`/`lead(x [, offset [, default]])`,
//! `first_value`/`last_value(x)`, `nth_value(x, n)` (with `IGNORE NULLS`),
//! and the registry's aggregates that the window operator computes
//! (`count`, `sum`, `avg`, `min`, `max`, `var`/`stddev` ...). Frames:
//! `ROWS`, `GROUPS` (offsets count peer groups) and `RANGE` (offsets on
//! one `ORDER BY` key: numbers for a numeric key, `INTERVAL` literals for a
//! date or timestamp key, `RANGE BETWEEN INTERVAL '7' DAY PRECEDING AND
//! CURRENT ROW`); `EXCLUDE`, `FILTER` and `DISTINCT` in window aggregates
//! are refused with the position.

use arrow_array::types::IntervalMonthDayNano;
use parframe_common::Result;
use parframe_core::{Expr, ScalarValue};
use parframe_exec::LazyFrame;
use parframe_exec::SortKey;
use parframe_exec::window::{
    self, AggOver, FrameBound, Window, WindowExpr, WindowFrame, WindowFunction,
};
use sqlparser::ast::{
    self, DuplicateTreatment, FunctionArg, FunctionArgExpr, FunctionArgumentClause,
    FunctionArguments, NamedWindowDefinition, NamedWindowExpr, NullTreatment, OrderBySort, Spanned,
    WindowFrameBound, WindowFrameUnits, WindowSpec, WindowType,
};
use sqlparser::tokenizer::Span;

use crate::error::{at, err, unsupported};
use crate::expr::{function_name, number_literal, visit};
use crate::functions::{self, AggArgs, Builder};
use crate::subquery::{ident, rewrite};

/// Whether `e` calls a window function.
pub(crate) fn has_window(e: &ast::Expr) -> bool {
    let mut found = false;
    visit(e, &mut |sub| {
        found |= matches!(sub, ast::Expr::Function(f) if f.over.is_some());
    });
    found
}

/// Window calls replaced by hidden columns, to compute on a frame.
#[derive(Default)]
pub(crate) struct Windows {
    /// Hidden key and argument columns, computed first.
    computed: Vec<Expr>,
    /// The window columns.
    exprs: Vec<WindowExpr>,
    /// The hidden column names of the window calls.
    pub(crate) names: Vec<String>,
}

impl Windows {
    /// Whether no window call was met.
    pub(crate) fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    /// Adds the window columns to `lf`.
    pub(crate) fn apply(&self, lf: LazyFrame, span: Span) -> Result<LazyFrame> {
        if self.exprs.is_empty() {
            return Ok(lf);
        }
        let mut lf = lf;
        if !self.computed.is_empty() {
            lf = lf.with_columns(self.computed.clone()).map_err(at(span))?;
        }
        lf.with_window_columns(self.exprs.clone()).map_err(at(span))
    }

    /// A hidden column for `e` (translated by `t`): its name when it is a
    /// plain column, else a computed column.
    fn column(
        &mut self,
        e: &ast::Expr,
        t: &mut dyn FnMut(&ast::Expr) -> Result<Expr>,
        prefix: &str,
    ) -> Result<String> {
        let x = t(e)?;
        if let Expr::Column(c) = &x {
            return Ok(c.clone());
        }
        let name = format!("{prefix}_a{}", self.computed.len());
        self.computed.push(x.alias(name.as_str()));
        Ok(name)
    }
}

impl crate::planner::SqlPlanner {
    /// Replaces every window call of `e` by a hidden column, recorded in
    /// `windows`; `t` translates the calls' arguments and keys (over the
    /// input rows, or over the aggregate's output).
    pub(crate) fn rewrite_windows(
        &self,
        e: &ast::Expr,
        t: &mut dyn FnMut(&ast::Expr) -> Result<Expr>,
        named: &[NamedWindowDefinition],
        windows: &mut Windows,
    ) -> Result<ast::Expr> {
        let mut out = e.clone();
        rewrite(&mut out, &mut |x| {
            let ast::Expr::Function(f) = x else {
                return Ok(None);
            };
            let Some(over) = &f.over else {
                return Ok(None);
            };
            let prefix = format!(
                "__pf_w{}",
                self.next_id
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let spec = resolve_window(over, named, f.span())?;
            let w = window_of(spec, t, windows, &prefix)?;
            let func = function(f, t, windows, &prefix)?;
            let expr = match func {
                Func::Window(func) => func.over(w),
                Func::Aggregate(a) => a.over(w).map_err(at(f.span()))?,
            };
            windows.exprs.push(expr.alias(prefix.as_str()));
            windows.names.push(prefix.clone());
            Ok(Some(ident(&prefix)))
        })?;
        Ok(out)
    }
}

/// The spec of `OVER (...)` or `OVER w` (`WINDOW w AS (...)`).
fn resolve_window<'a>(
    over: &'a WindowType,
    named: &'a [NamedWindowDefinition],
    span: Span,
) -> Result<&'a WindowSpec> {
    let mut name = match over {
        WindowType::WindowSpec(spec) => match &spec.window_name {
            None => return Ok(spec),
            Some(_) => {
                return unsupported(
                    "a window that extends a named window (OVER (w ORDER BY ...))",
                    span,
                );
            }
        },
        WindowType::NamedWindow(id) => id,
    };
    // A named window may name another; follow at most as many links as
    // there are definitions.
    for _ in 0..=named.len() {
        let Some(def) = named
            .iter()
            .find(|d| d.0.value.eq_ignore_ascii_case(&name.value))
        else {
            return err(
                format!(
                    "unknown window '{}' (define it in WINDOW ... AS (...))",
                    name.value
                ),
                name.span,
            );
        };
        match &def.1 {
            NamedWindowExpr::WindowSpec(spec) if spec.window_name.is_none() => return Ok(spec),
            NamedWindowExpr::WindowSpec(_) => {
                return unsupported("a named window that extends another", def.0.span);
            }
            NamedWindowExpr::NamedWindow(next) => name = next,
        }
    }
    err("the named windows refer to each other in a cycle", span)
}

/// The exec window of a spec.
fn window_of(
    spec: &WindowSpec,
    t: &mut dyn FnMut(&ast::Expr) -> Result<Expr>,
    windows: &mut Windows,
    prefix: &str,
) -> Result<Window> {
    let mut partition = Vec::new();
    for p in &spec.partition_by {
        partition.push(windows.column(p, t, prefix)?);
    }
    let mut order = Vec::new();
    for o in &spec.order_by {
        if o.with_fill.is_some() {
            return unsupported("WITH FILL in a window", o.span());
        }
        let c = windows.column(&o.expr, t, prefix)?;
        let key = match &o.options.sort {
            None | Some(OrderBySort::Asc) => SortKey::asc(c.as_str()),
            Some(OrderBySort::Desc) => SortKey::desc(c.as_str()),
            Some(OrderBySort::Using(_)) => return unsupported("ORDER BY ... USING", o.span()),
        };
        // Nulls last unless told (as the query's ORDER BY).
        order.push(key.nulls_last(o.options.nulls_first.map(|f| !f).unwrap_or(true)));
    }
    let mut w = Window::new().partition_by(partition).order_by(order);
    if let Some(frame) = &spec.window_frame {
        let bound = |b: &WindowFrameBound| -> Result<FrameBound> {
            // A number, or an interval (`INTERVAL '7' DAY`, over a date
            // or timestamp key).
            let offset = |e: &ast::Expr, preceding: bool| -> Result<FrameBound> {
                if let ast::Expr::Interval(iv) = e {
                    let (m, d, ns) = crate::syntax::interval_parts(iv, e.span())?;
                    let iv = IntervalMonthDayNano::new(m, d, ns);
                    return Ok(if preceding {
                        FrameBound::PrecedingInterval(iv)
                    } else {
                        FrameBound::FollowingInterval(iv)
                    });
                }
                let n = number_literal(e).ok_or_else(|| {
                    crate::error::unsupported_error(
                        format!("the frame offset '{e}' (a number or an INTERVAL literal is)"),
                        e.span(),
                    )
                })?;
                Ok(if preceding {
                    FrameBound::Preceding(n)
                } else {
                    FrameBound::Following(n)
                })
            };
            Ok(match b {
                WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
                WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
                WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
                WindowFrameBound::Preceding(Some(e)) => offset(e, true)?,
                WindowFrameBound::Following(Some(e)) => offset(e, false)?,
            })
        };
        let start = bound(&frame.start_bound)?;
        let end = match &frame.end_bound {
            Some(b) => bound(b)?,
            None => FrameBound::CurrentRow,
        };
        let f = match frame.units {
            WindowFrameUnits::Rows => WindowFrame::rows(start, end),
            WindowFrameUnits::Range => WindowFrame::range(start, end),
            WindowFrameUnits::Groups => WindowFrame::groups(start, end),
        };
        w = w.frame(f);
    }
    Ok(w)
}

enum Func {
    Window(WindowFunction),
    Aggregate(parframe_exec::agg::AggExpr),
}

/// The function of a window call.
fn function(
    f: &ast::Function,
    t: &mut dyn FnMut(&ast::Expr) -> Result<Expr>,
    windows: &mut Windows,
    prefix: &str,
) -> Result<Func> {
    let span = f.span();
    let name = function_name(f);
    if f.filter.is_some() || !f.within_group.is_empty() {
        return unsupported(
            format!("FILTER / WITHIN GROUP on the window function {name}"),
            span,
        );
    }
    let mut ignore_nulls = matches!(f.null_treatment, Some(NullTreatment::IgnoreNulls));
    let mut distinct = false;
    let mut star = false;
    let mut args: Vec<&ast::Expr> = Vec::new();
    match &f.args {
        FunctionArguments::None => {}
        FunctionArguments::List(l) => {
            distinct = matches!(l.duplicate_treatment, Some(DuplicateTreatment::Distinct));
            for c in &l.clauses {
                match c {
                    FunctionArgumentClause::IgnoreOrRespectNulls(n) => {
                        ignore_nulls = matches!(n, NullTreatment::IgnoreNulls);
                    }
                    other => {
                        return unsupported(
                            format!("'{other}' in the window function {name}"),
                            span,
                        );
                    }
                }
            }
            for a in &l.args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e),
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                    other => {
                        return err(
                            format!("unexpected argument '{other}' of {name}"),
                            other.span(),
                        );
                    }
                }
            }
        }
        FunctionArguments::Subquery(_) => {
            return unsupported(format!("a subquery as the argument of {name}"), span);
        }
    }
    let arity = |n: usize| -> Result<()> {
        if args.len() != n || star {
            return err(
                format!(
                    "{name} takes {n} argument{} here",
                    if n == 1 { "" } else { "s" }
                ),
                span,
            );
        }
        Ok(())
    };
    let whole = |e: &ast::Expr, what: &str| -> Result<u64> {
        match number_literal(e) {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e18 => Ok(n as u64),
            _ => err(
                format!("{what} of {name} must be a whole number literal"),
                e.span(),
            ),
        }
    };
    if ignore_nulls && !matches!(name.as_str(), "first_value" | "last_value" | "nth_value") {
        return unsupported(
            format!("IGNORE NULLS on {name} (first_value, last_value and nth_value take it)"),
            span,
        );
    }
    let ranking = |w: WindowFunction, args_len: usize| -> Result<Func> {
        if args_len != 0 || star {
            return err(format!("{name}() takes no arguments"), span);
        }
        Ok(Func::Window(w))
    };
    let value_fn = |w: WindowFunction| -> Func {
        Func::Window(if ignore_nulls { w.ignore_nulls() } else { w })
    };
    match name.as_str() {
        "row_number" => ranking(window::row_number(), args.len()),
        "rank" => ranking(window::rank(), args.len()),
        "dense_rank" => ranking(window::dense_rank(), args.len()),
        "percent_rank" => ranking(window::percent_rank(), args.len()),
        "cume_dist" => ranking(window::cume_dist(), args.len()),
        "ntile" => {
            arity(1)?;
            let n = whole(args[0], "the bucket count")?;
            if n == 0 {
                return err("ntile needs at least one bucket", args[0].span());
            }
            Ok(Func::Window(window::ntile(n)))
        }
        "lag" | "lead" => {
            if args.is_empty() || args.len() > 3 || star {
                return err(format!("{name} takes (x [, offset [, default]])"), span);
            }
            let c = windows.column(args[0], t, prefix)?;
            let offset = match args.get(1) {
                Some(e) => whole(e, "the offset")?,
                None => 1,
            };
            let default = match args.get(2) {
                None => None,
                Some(e) => match t(e)? {
                    Expr::Literal(v) => Some(v),
                    _ => {
                        return unsupported(
                            format!("a default of {name} that is not a literal"),
                            e.span(),
                        );
                    }
                },
            };
            let default = default.filter(|v| !matches!(v, ScalarValue::Null));
            Ok(Func::Window(if name == "lag" {
                window::lag(&c, offset, default)
            } else {
                window::lead(&c, offset, default)
            }))
        }
        "first_value" | "last_value" => {
            arity(1)?;
            let c = windows.column(args[0], t, prefix)?;
            Ok(value_fn(if name == "first_value" {
                window::first_value(&c)
            } else {
                window::last_value(&c)
            }))
        }
        "nth_value" => {
            arity(2)?;
            let c = windows.column(args[0], t, prefix)?;
            let n = whole(args[1], "the position")?;
            if n == 0 {
                return err("nth_value counts from 1", args[1].span());
            }
            Ok(value_fn(window::nth_value(&c, n)))
        }
        _ => {
            let Some(def) = functions::lookup(&name) else {
                return unsupported(
                    format!(
                        "the window function '{name}'; row_number, rank, dense_rank, \
                         percent_rank, cume_dist, ntile, lag, lead, first_value, last_value, \
                         nth_value and aggregates are"
                    ),
                    span,
                );
            };
            let Builder::Aggregate(build) = def.builder else {
                return err(
                    format!("'{name}' is not an aggregate or window function; it cannot take OVER"),
                    span,
                );
            };
            if star && !def.arity.accepts(0) {
                return err(format!("{name}(*) is not valid; name a column"), span);
            }
            def.check_arity(&name, args.len() + usize::from(star), span)?;
            let mut column = |e: &ast::Expr| windows.column(e, t, prefix);
            let mut call = AggArgs {
                name: &name,
                sql: args,
                star,
                distinct,
                filtered: false,
                span,
                column: &mut column,
            };
            Ok(Func::Aggregate(build(&mut call)?))
        }
    }
}
