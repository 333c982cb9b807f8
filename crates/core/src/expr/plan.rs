//! Type checking: turns an [`Expr`] and a schema into a [`Typed`] tree in
//! which columns are resolved to indices, implicit casts are explicit nodes,
//! literals already have the type they are used at, and sub-trees of
//! literals are folded. [`Expr::to_field`] and [`Expr::evaluate`] both go
//! through here, so the type reported at plan time is the type computed.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Datum, RecordBatch, Scalar, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parframe_common::{Error, Result, column_not_found};

use super::eval::{self, Value};
use super::in_list::InSet;
use super::{BinaryOp, Expr, ScalarValue, StringFunc};
use super::{decimal, func};

/// An expression type-checked against one schema: columns resolved to
/// positions, implicit casts decided, literal sub-trees computed. Build it
/// with [`Expr::prepare`] once per plan, then evaluate it on every chunk of
/// that schema.
#[derive(Debug, Clone)]
pub struct PreparedExpr {
    root: Typed,
    field: Field,
}

impl PreparedExpr {
    /// The output field: name, type and nullability.
    pub fn field(&self) -> &Field {
        &self.field
    }

    /// Evaluates over a chunk of the schema the expression was prepared for,
    /// giving an array of `batch.num_rows()` values of type
    /// [`field`](Self::field)`().data_type()`. A chunk whose columns are not
    /// where (or of the type) the schema said is an [`Error::SchemaMismatch`].
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        eval::eval(&self.root, batch)?.into_array(batch.num_rows())
    }
}

/// A node of the type-checked tree with its output type.
#[derive(Debug, Clone)]
pub(super) struct Typed {
    pub node: Node,
    pub data_type: DataType,
    pub nullable: bool,
    /// A literal whose type may still adapt to the operand it meets (see
    /// "Type coercion" in the module docs). Only ever set on literals.
    pub weak: bool,
}

/// The operations of the type-checked tree. `ctx` strings are the
/// `Display` of the source expression, for runtime error messages.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Column {
        index: usize,
        name: String,
    },
    Literal(Scalar<ArrayRef>),
    /// `+ - * / %`: on operands of `data_type` for numbers; decimal and
    /// temporal operands keep their own types and the kernel decides the
    /// output, which `fix` then brings to `data_type`.
    Arith {
        left: Box<Typed>,
        op: BinaryOp,
        right: Box<Typed>,
        ctx: String,
        fix: ArithFix,
    },
    /// Comparisons on operands of one type.
    Compare {
        left: Box<Typed>,
        op: BinaryOp,
        right: Box<Typed>,
        ctx: String,
    },
    /// `AND`/`OR` on Boolean operands.
    Logic {
        left: Box<Typed>,
        op: BinaryOp,
        right: Box<Typed>,
        ctx: String,
    },
    Not(Box<Typed>),
    Neg {
        input: Box<Typed>,
        ctx: String,
    },
    IsNull {
        input: Box<Typed>,
        negated: bool,
    },
    /// Explicit or implicit strict cast to `data_type`.
    Cast {
        input: Box<Typed>,
        ctx: String,
    },
    Str {
        input: Box<Typed>,
        func: StrKernel,
        ctx: String,
    },
    /// A scalar function over arguments already of the kernel's types.
    Func {
        kernel: Box<func::Kernel>,
        args: Vec<Typed>,
        ctx: String,
    },
    /// `IN (list)`: membership of the input's rows in the set of the
    /// literals.
    InList {
        input: Box<Typed>,
        set: Arc<InSet>,
        negated: bool,
    },
    /// `CASE WHEN`: Boolean conditions, values all of `data_type`.
    Case {
        branches: Vec<(Typed, Typed)>,
        otherwise: Box<Typed>,
        ctx: String,
    },
}

impl Typed {
    /// The value when this is a literal.
    pub(super) fn literal(&self) -> Option<ArrayRef> {
        match &self.node {
            Node::Literal(s) => Some(s.clone().into_inner()),
            _ => None,
        }
    }
}

/// What happens to an arithmetic kernel's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArithFix {
    /// The kernel's output already has the planned type.
    None,
    /// A decimal whose planned precision differs from the kernel's
    /// (same scale): relabel, and check every value against the planned
    /// precision when `check` (the precision was capped at the maximum).
    Decimal {
        /// Check the values.
        check: bool,
    },
}

/// A string function with its pattern already a scalar of the input's type.
#[derive(Debug, Clone)]
pub(super) enum StrKernel {
    Contains(Scalar<ArrayRef>),
    StartsWith(Scalar<ArrayRef>),
    EndsWith(Scalar<ArrayRef>),
    Len,
    Lower,
    Upper,
}

pub(super) fn prepare(expr: &Expr, schema: &Schema) -> Result<PreparedExpr> {
    let depth = expr.depth();
    if depth > super::MAX_EXPR_DEPTH {
        return Err(Error::InvalidArgument(format!(
            "the expression {} nests {depth} levels deep, more than the {} allowed: \
             write a long chain of `or`-ed equalities as `is_in`, a long sum as a \
             balanced tree",
            context(expr),
            super::MAX_EXPR_DEPTH
        )));
    }
    let root = plan(expr, schema)?;
    let field = Field::new(expr.output_name(), root.data_type.clone(), root.nullable);
    Ok(PreparedExpr { root, field })
}

/// The start of `expr`'s text, at most [`super::CONTEXT_CHARS`]
/// characters (with `…` when cut): printing stops there, so naming every
/// node of a deep chain stays linear in its size.
pub(super) fn context(expr: &Expr) -> String {
    use std::fmt::Write;
    /// Stops the printer after the budget by failing the write.
    struct Bounded {
        out: String,
        left: usize,
    }
    impl Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for c in s.chars() {
                if self.left == 0 {
                    return Err(std::fmt::Error);
                }
                self.out.push(c);
                self.left -= 1;
            }
            Ok(())
        }
    }
    let mut b = Bounded {
        out: String::new(),
        left: super::CONTEXT_CHARS,
    };
    if write!(b, "{expr}").is_err() {
        b.out.push('…');
    }
    b.out
}

// Recurses once per level of the tree; the stack grows on demand.
#[recursive::recursive]
fn plan(expr: &Expr, schema: &Schema) -> Result<Typed> {
    match expr {
        Expr::Column(name) => {
            let index = schema.index_of(name).map_err(|_| {
                column_not_found(name, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
            let field = schema.field(index);
            Ok(Typed {
                node: Node::Column {
                    index,
                    name: name.clone(),
                },
                data_type: field.data_type().clone(),
                nullable: field.is_nullable() || field.data_type() == &DataType::Null,
                weak: false,
            })
        }
        Expr::Literal(v) => {
            if let ScalarValue::Decimal128(_, p, sc) = v
                && (*p == 0 || *p > arrow_schema::DECIMAL128_MAX_PRECISION || *sc > *p as i8)
            {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("Decimal128({p}, {sc}) is not a valid decimal type"),
                ));
            }
            Ok(literal(v.to_scalar(), true))
        }
        Expr::Alias { expr, .. } => plan(expr, schema),
        Expr::Binary { left, op, right } => {
            let l = plan(left, schema)?;
            let r = plan(right, schema)?;
            binary(expr, l, *op, r)
        }
        Expr::Not(inner) => {
            let input = plan(inner, schema)?;
            if !matches!(input.data_type, DataType::Boolean | DataType::Null) {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("not needs a Boolean operand, got {}", input.data_type),
                ));
            }
            let input = coerce(input, &DataType::Boolean, expr)?;
            let nullable = input.nullable;
            fold(Typed {
                node: Node::Not(Box::new(input)),
                data_type: DataType::Boolean,
                nullable,
                weak: false,
            })
        }
        Expr::Negative(inner) => {
            let input = plan(inner, schema)?;
            let dt = input.data_type.clone();
            if dt == DataType::Null {
                return Ok(input);
            }
            let negatable = dt.is_signed_integer()
                || matches!(
                    dt,
                    DataType::Float32
                        | DataType::Float64
                        | DataType::Decimal128(_, _)
                        | DataType::Decimal256(_, _)
                        | DataType::Duration(_)
                        | DataType::Interval(_)
                );
            if !negatable {
                let why = if dt.is_unsigned_integer() {
                    "an unsigned integer has no negative; cast it to a signed type first"
                } else {
                    "negation needs a signed integer, float, decimal, duration or interval operand"
                };
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("cannot negate {dt}: {why}"),
                ));
            }
            let (nullable, weak) = (input.nullable, input.weak);
            fold(Typed {
                node: Node::Neg {
                    input: Box::new(input),
                    ctx: context(expr),
                },
                data_type: dt,
                nullable,
                weak,
            })
        }
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
            let input = plan(inner, schema)?;
            fold(Typed {
                node: Node::IsNull {
                    input: Box::new(input),
                    negated: matches!(expr, Expr::IsNotNull(_)),
                },
                data_type: DataType::Boolean,
                nullable: false,
                weak: false,
            })
        }
        Expr::Cast { expr: inner, to } => {
            let mut input = plan(inner, schema)?;
            if &input.data_type == to {
                input.weak = false;
                return Ok(input);
            }
            if !arrow_cast::can_cast_types(&input.data_type, to) {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("cannot cast {} to {to}", input.data_type),
                ));
            }
            let nullable = input.nullable || input.data_type == DataType::Null;
            fold(Typed {
                node: Node::Cast {
                    input: Box::new(input),
                    ctx: context(expr),
                },
                data_type: to.clone(),
                nullable,
                weak: false,
            })
        }
        Expr::Str { expr: inner, func } => {
            let input = plan(inner, schema)?;
            string_func(expr, input, func)
        }
        Expr::Case {
            branches,
            otherwise,
        } => case(expr, branches, otherwise.as_deref(), schema),
        Expr::Function { func, args } => {
            let planned = args
                .iter()
                .map(|a| plan(a, schema))
                .collect::<Result<Vec<_>>>()?;
            let (kernel, out, targets) = func::plan(expr, func, &planned)?;
            let nullable = planned.iter().any(|a| a.nullable)
                || matches!(
                    kernel,
                    func::Kernel::RegexpExtract(..)
                        | func::Kernel::DateTrunc(_)
                        | func::Kernel::TryCast(_)
                );
            let mut typed = Vec::with_capacity(planned.len());
            for (a, to) in planned.into_iter().zip(targets) {
                typed.push(match to {
                    Some(to) => coerce(a, &to, expr)?,
                    None => a,
                });
            }
            fold(Typed {
                node: Node::Func {
                    kernel: Box::new(kernel),
                    args: typed,
                    ctx: context(expr),
                },
                data_type: out,
                nullable,
                weak: false,
            })
        }
        Expr::InList {
            expr: inner,
            list,
            negated,
        } => in_list(expr, plan(inner, schema)?, list, *negated),
    }
}

fn in_list(expr: &Expr, input: Typed, list: &[ScalarValue], negated: bool) -> Result<Typed> {
    let to = input.data_type.clone();
    let mut has_null = false;
    let mut values: Vec<ArrayRef> = Vec::with_capacity(list.len());
    for v in list {
        if v.is_null() {
            has_null = true;
            continue;
        }
        let l = literal(v.to_scalar(), true);
        if to == DataType::Null {
            continue;
        }
        match compare_type(&input, &l) {
            // A literal that needs a wider type than the input's can never
            // equal one of its values (`col("i8").is_in([1000])`).
            Some(t) if t == to => {
                values.push(coerce(l, &to, expr)?.literal().ok_or_else(|| {
                    Error::InvalidArgument("internal: IN literal did not stay a literal".into())
                })?)
            }
            Some(_) => {}
            None => {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("cannot compare {to} with {} in an IN list", v.data_type()),
                ));
            }
        }
    }
    let set = InSet::try_new(&to, &values, has_null)?;
    let nullable = input.nullable || has_null;
    fold(Typed {
        node: Node::InList {
            input: Box::new(input),
            set: Arc::new(set),
            negated,
        },
        data_type: DataType::Boolean,
        nullable,
        weak: false,
    })
}

fn case(
    expr: &Expr,
    branches: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    schema: &Schema,
) -> Result<Typed> {
    if branches.is_empty() {
        return Err(Error::type_mismatch(
            expr.to_string(),
            "CASE needs at least one WHEN branch",
        ));
    }
    let mut conds = Vec::with_capacity(branches.len());
    let mut values = Vec::with_capacity(branches.len() + 1);
    for (c, v) in branches {
        let cond = plan(c, schema)?;
        if !matches!(cond.data_type, DataType::Boolean | DataType::Null) {
            return Err(Error::type_mismatch(
                expr.to_string(),
                format!(
                    "a CASE WHEN condition must be Boolean, got {} for {c}",
                    cond.data_type
                ),
            ));
        }
        conds.push(coerce(cond, &DataType::Boolean, expr)?);
        values.push(plan(v, schema)?);
    }
    values.push(match otherwise {
        Some(e) => plan(e, schema)?,
        None => null_literal(DataType::Null, true),
    });
    // The common type of the values, folding left to right; `acc` stands
    // for the values seen so far (a weak literal keeps its value so that the
    // next column can adopt it).
    let mut acc = values[0].clone();
    for v in &values[1..] {
        let to = if acc.data_type == v.data_type {
            Some(acc.data_type.clone())
        } else if acc.data_type == DataType::Null {
            Some(v.data_type.clone())
        } else if v.data_type == DataType::Null {
            Some(acc.data_type.clone())
        } else {
            compare_type(&acc, v)
        };
        let Some(to) = to else {
            return Err(Error::type_mismatch(
                expr.to_string(),
                format!(
                    "CASE values have no common type: {} and {}",
                    acc.data_type, v.data_type
                ),
            ));
        };
        acc = if v.data_type == to && (!v.weak || acc.weak) {
            v.clone()
        } else if acc.data_type == to {
            acc
        } else {
            null_literal(to, false)
        };
    }
    let to = acc.data_type;
    let nullable = values
        .iter()
        .any(|v| v.nullable || v.data_type == DataType::Null);
    if to == DataType::Null {
        return Ok(null_literal(DataType::Null, false));
    }
    let mut typed = Vec::with_capacity(values.len());
    for v in values {
        typed.push(coerce(v, &to, expr)?);
    }
    let otherwise = typed.pop().map(Box::new).ok_or_else(|| {
        Error::InvalidArgument("internal: CASE without a default value".to_string())
    })?;
    fold(Typed {
        node: Node::Case {
            branches: conds.into_iter().zip(typed).collect(),
            otherwise,
            ctx: context(expr),
        },
        data_type: to,
        nullable,
        weak: false,
    })
}

fn string_func(expr: &Expr, input: Typed, func: &StringFunc) -> Result<Typed> {
    let input = match input.data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => input,
        DataType::Null => coerce(input, &DataType::Utf8, expr)?,
        ref other => {
            return Err(Error::type_mismatch(
                expr.to_string(),
                format!("{} needs a string operand, got {other}", func.name()),
            ));
        }
    };
    let dt = input.data_type.clone();
    // The like kernels want the pattern in the same string type as the input.
    let pattern = |p: &str| -> Result<Scalar<ArrayRef>> {
        let utf8: ArrayRef = Arc::new(StringArray::from(vec![p]));
        one(arrow_cast::cast(&utf8, &dt)?)
    };
    let (kernel, out_type, weak) = match func {
        StringFunc::Contains(p) => (StrKernel::Contains(pattern(p)?), DataType::Boolean, false),
        StringFunc::StartsWith(p) => (StrKernel::StartsWith(pattern(p)?), DataType::Boolean, false),
        StringFunc::EndsWith(p) => (StrKernel::EndsWith(pattern(p)?), DataType::Boolean, false),
        StringFunc::Len => {
            let t = if dt == DataType::LargeUtf8 {
                DataType::Int64
            } else {
                DataType::Int32
            };
            (StrKernel::Len, t, false)
        }
        StringFunc::Lower => (StrKernel::Lower, dt.clone(), input.weak),
        StringFunc::Upper => (StrKernel::Upper, dt.clone(), input.weak),
    };
    let nullable = input.nullable;
    fold(Typed {
        node: Node::Str {
            input: Box::new(input),
            func: kernel,
            ctx: context(expr),
        },
        data_type: out_type,
        nullable,
        weak,
    })
}

fn binary(expr: &Expr, l: Typed, op: BinaryOp, r: Typed) -> Result<Typed> {
    let nullable = l.nullable || r.nullable;
    let weak = l.weak && r.weak;
    let (lt, rt) = (&l.data_type, &r.data_type);
    match op {
        BinaryOp::IntDiv => {
            let to = arith_type(&l, &r).filter(|t| t.is_integer() || *t == DataType::Null);
            let Some(to) = to else {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!(
                        "div_trunc (//) needs integer operands, got {lt} and {rt} (use / for \
                         true division)"
                    ),
                ));
            };
            if to == DataType::Null {
                return Ok(null_literal(DataType::Null, weak));
            }
            let (left, right) = (coerce(l, &to, expr)?, coerce(r, &to, expr)?);
            fold(Typed {
                node: Node::Arith {
                    left: Box::new(left),
                    op,
                    right: Box::new(right),
                    ctx: context(expr),
                    fix: ArithFix::None,
                },
                data_type: to,
                nullable,
                weak,
            })
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            if let Some(t) = special_arith(expr, &l, op, &r)? {
                let (lt_to, rt_to, out, fix) = t;
                let (left, right) = (coerce(l, &lt_to, expr)?, coerce(r, &rt_to, expr)?);
                return fold(Typed {
                    node: Node::Arith {
                        left: Box::new(left),
                        op,
                        right: Box::new(right),
                        ctx: context(expr),
                        fix,
                    },
                    data_type: out,
                    nullable,
                    weak: false,
                });
            }
            let Some(to) = arith_type(&l, &r) else {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    arith_message(op, lt, rt),
                ));
            };
            if to == DataType::Null {
                return Ok(null_literal(DataType::Null, weak));
            }
            // True division: integers divide as Float64 (`//` is
            // BinaryOp::IntDiv); a weak literal pair stays weak.
            let to = if op == BinaryOp::Div && to.is_integer() {
                DataType::Float64
            } else {
                to
            };
            let (left, right) = (coerce(l, &to, expr)?, coerce(r, &to, expr)?);
            fold(Typed {
                node: Node::Arith {
                    left: Box::new(left),
                    op,
                    right: Box::new(right),
                    ctx: context(expr),
                    fix: ArithFix::None,
                },
                data_type: to,
                nullable,
                weak,
            })
        }
        BinaryOp::Eq
        | BinaryOp::NotEq
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq
        | BinaryOp::IsDistinctFrom
        | BinaryOp::IsNotDistinctFrom => {
            let Some(to) = compare_type(&l, &r) else {
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("cannot compare {lt} with {rt}"),
                ));
            };
            let distinct = matches!(op, BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom);
            if to == DataType::Null {
                if distinct {
                    // Both sides are null: not distinct.
                    let v = op == BinaryOp::IsNotDistinctFrom;
                    return Ok(literal(ScalarValue::Boolean(v).to_scalar(), false));
                }
                return Ok(null_literal(DataType::Boolean, false));
            }
            let nullable = nullable && !distinct;
            let (left, right) = (coerce(l, &to, expr)?, coerce(r, &to, expr)?);
            fold(Typed {
                node: Node::Compare {
                    left: Box::new(left),
                    op,
                    right: Box::new(right),
                    ctx: context(expr),
                },
                data_type: DataType::Boolean,
                nullable,
                weak: false,
            })
        }
        BinaryOp::And | BinaryOp::Or => {
            let boolish = |t: &DataType| matches!(t, DataType::Boolean | DataType::Null);
            if !boolish(lt) || !boolish(rt) {
                let name = if op == BinaryOp::And { "and" } else { "or" };
                return Err(Error::type_mismatch(
                    expr.to_string(),
                    format!("{name} needs Boolean operands, got {lt} and {rt}"),
                ));
            }
            let left = coerce(l, &DataType::Boolean, expr)?;
            let right = coerce(r, &DataType::Boolean, expr)?;
            fold(Typed {
                node: Node::Logic {
                    left: Box::new(left),
                    op,
                    right: Box::new(right),
                    ctx: context(expr),
                },
                data_type: DataType::Boolean,
                nullable,
                weak: false,
            })
        }
    }
}

fn arith_message(op: BinaryOp, l: &DataType, r: &DataType) -> String {
    let what = match op {
        BinaryOp::Add => format!("cannot add {l} and {r}"),
        BinaryOp::Sub => format!("cannot subtract {r} from {l}"),
        BinaryOp::Mul => format!("cannot multiply {l} by {r}"),
        BinaryOp::Div | BinaryOp::IntDiv => format!("cannot divide {l} by {r}"),
        _ => format!("cannot take the remainder of {l} divided by {r}"),
    };
    format!("{what}: arithmetic needs integer, float or decimal operands (or temporal ones)")
}

/// Operand types, output type and output fix of arithmetic on decimals
/// (with integers, weak literals and floats) and on temporal values;
/// `None` for plain numbers and nulls (handled by [`arith_type`]).
fn special_arith(
    expr: &Expr,
    l: &Typed,
    op: BinaryOp,
    r: &Typed,
) -> Result<Option<(DataType, DataType, DataType, ArithFix)>> {
    let (a, b) = (&l.data_type, &r.data_type);
    if a == &DataType::Null || b == &DataType::Null {
        return Ok(None);
    }
    if decimal::is_decimal(a) || decimal::is_decimal(b) {
        let (Some(da), Some(db)) = (decimal_operand(l, b), decimal_operand(r, a)) else {
            if (a.is_floating() || b.is_floating()) && (is_arith_numeric(a) || is_arith_numeric(b))
            {
                // A decimal with a float column computes in Float64.
                let f = DataType::Float64;
                return Ok(Some((f.clone(), f.clone(), f, ArithFix::None)));
            }
            return Err(Error::type_mismatch(
                expr.to_string(),
                arith_message(op, a, b),
            ));
        };
        if op == BinaryOp::Div {
            // True division of decimals is Float64, as in DuckDB (and this
            // crate's SQL): `sum(a) / sum(b)` of decimals is a double.
            let f = DataType::Float64;
            return Ok(Some((f.clone(), f.clone(), f, ArithFix::None)));
        }
        let wide =
            decimal::parts(&da).is_some_and(|p| p.2) || decimal::parts(&db).is_some_and(|p| p.2);
        let (da, db) = (decimal::widen(&da, wide), decimal::widen(&db, wide));
        let (out, capped) = decimal::arith_result(op, &da, &db)
            .map_err(|m| Error::type_mismatch(expr.to_string(), m))?;
        return Ok(Some((da, db, out, ArithFix::Decimal { check: capped })));
    }
    if is_temporal(a) || is_temporal(b) {
        // Weak string literals meeting a temporal value are read as that
        // value's partner type: an interval for dates and timestamps
        // (`col("d") + lit("1 month")`), else the other side's type.
        let partner = |other: &DataType| match other {
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
                DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano)
            }
            t => t.clone(),
        };
        let lt_to = if is_string(a) && l.weak {
            partner(b)
        } else {
            a.clone()
        };
        let rt_to = if is_string(b) && r.weak {
            partner(a)
        } else {
            b.clone()
        };
        // Timestamps of one unit and different zones subtract as instants.
        let rt_to = match (&lt_to, &rt_to) {
            (DataType::Timestamp(u1, _), DataType::Timestamp(u2, _)) if u1 != u2 => {
                DataType::Timestamp(*u1, None)
            }
            _ => rt_to,
        };
        let lt_to = match (&lt_to, &rt_to) {
            (DataType::Timestamp(u1, _), DataType::Timestamp(_, _)) if op == BinaryOp::Sub => {
                DataType::Timestamp(*u1, None)
            }
            _ => lt_to,
        };
        let rt_to = match (&lt_to, &rt_to) {
            (DataType::Timestamp(_, _), DataType::Timestamp(u2, _)) if op == BinaryOp::Sub => {
                DataType::Timestamp(*u2, None)
            }
            _ => rt_to,
        };
        // A date plus or minus a literal interval with a time-of-day part
        // (`d + INTERVAL '8' HOUR`) is a timestamp, as in DuckDB: arrow's
        // date kernels keep whole days only.
        let sub_day = |t: &Typed| {
            t.literal().is_some_and(|a| {
                arrow_array::cast::AsArray::as_primitive_opt::<
                    arrow_array::types::IntervalMonthDayNanoType,
                >(&a)
                .is_some_and(|p| {
                    p.len() == 1
                        && p.is_valid(0)
                        && p.value(0).nanoseconds % 86_400_000_000_000 != 0
                })
            })
        };
        let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
        let is_date = |t: &DataType| matches!(t, DataType::Date32 | DataType::Date64);
        let lt_to = if is_date(&lt_to) && matches!(op, BinaryOp::Add | BinaryOp::Sub) && sub_day(r)
        {
            timestamp.clone()
        } else {
            lt_to
        };
        let rt_to = if is_date(&rt_to) && op == BinaryOp::Add && sub_day(l) {
            timestamp
        } else {
            rt_to
        };
        // The output type is whatever arrow's kernel makes of the operand
        // types: ask it with one null of each.
        let kernel = match op {
            BinaryOp::Add => arrow_arith::numeric::add,
            BinaryOp::Sub => arrow_arith::numeric::sub,
            BinaryOp::Mul => arrow_arith::numeric::mul,
            BinaryOp::Div => arrow_arith::numeric::div,
            _ => arrow_arith::numeric::rem,
        };
        let (nl, nr) = (
            arrow_array::new_null_array(&lt_to, 1),
            arrow_array::new_null_array(&rt_to, 1),
        );
        return match kernel(&nl, &nr) {
            Ok(out) => Ok(Some((
                lt_to,
                rt_to,
                out.data_type().clone(),
                ArithFix::None,
            ))),
            Err(_) => Err(Error::type_mismatch(
                expr.to_string(),
                arith_message(op, a, b),
            )),
        };
    }
    Ok(None)
}

/// The decimal type operand `t` takes when it meets `other` (one of the
/// two is a decimal): a decimal keeps its type, an integer column takes as
/// many digits as its type needs, a weak integer or float literal its own
/// exact digits. `None` for anything else (floats, strings...).
fn decimal_operand(t: &Typed, other: &DataType) -> Option<DataType> {
    if decimal::is_decimal(&t.data_type) {
        return Some(t.data_type.clone());
    }
    if let Some(v) = weak_value(t) {
        let exact = match v {
            ScalarValue::Float32(x) => decimal::float_literal_decimal(f64::from(x)),
            ScalarValue::Float64(x) => decimal::float_literal_decimal(x),
            v => v.as_i128().map(decimal::int_literal_decimal),
        };
        if let Some(d) = exact {
            return Some(decimal::widen(
                &d.data_type(),
                decimal::parts(other).is_some_and(|p| p.2),
            ));
        }
        return None;
    }
    decimal::int_digits(&t.data_type).map(|p| DataType::Decimal128(p, 0))
}

/// Dates, times, timestamps, durations and intervals.
fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Duration(_)
            | DataType::Interval(_)
    )
}

/// A one-element array as a [`Scalar`], checking the length instead of
/// letting `Scalar::new` panic.
pub(super) fn one(array: ArrayRef) -> Result<Scalar<ArrayRef>> {
    if array.len() == 1 {
        Ok(Scalar::new(array))
    } else {
        Err(Error::InvalidArgument(format!(
            "internal: expected a one-value array, got {} values",
            array.len()
        )))
    }
}

fn scalar_is_null(s: &Scalar<ArrayRef>) -> bool {
    let (a, _) = s.get();
    a.data_type() == &DataType::Null || a.is_null(0)
}

fn literal(value: Scalar<ArrayRef>, weak: bool) -> Typed {
    Typed {
        data_type: value.get().0.data_type().clone(),
        nullable: scalar_is_null(&value),
        node: Node::Literal(value),
        weak,
    }
}

fn null_literal(data_type: DataType, weak: bool) -> Typed {
    let array = arrow_array::new_null_array(&data_type, 1);
    Typed {
        node: Node::Literal(Scalar::new(array)),
        data_type,
        nullable: true,
        weak,
    }
}

/// The value of a weak literal.
fn weak_value(t: &Typed) -> Option<ScalarValue> {
    match &t.node {
        Node::Literal(s) if t.weak => ScalarValue::try_from_array(s.get().0, 0).ok(),
        _ => None,
    }
}

/// Brings `t` to type `to`: a literal is converted now, anything else gets a
/// strict cast node.
fn coerce(t: Typed, to: &DataType, expr: &Expr) -> Result<Typed> {
    if &t.data_type == to {
        return Ok(t);
    }
    if let Node::Literal(s) = &t.node {
        // A float literal becomes a decimal through its shortest text, not
        // through binary rounding (`0.05` is exactly 5 hundredths).
        if decimal::is_decimal(to)
            && t.weak
            && let Some(exact) = match weak_value(&t) {
                Some(ScalarValue::Float64(x)) => decimal::float_literal_decimal(x),
                Some(ScalarValue::Float32(x)) => decimal::float_literal_decimal(f64::from(x)),
                _ => None,
            }
        {
            let mut lit = literal(exact.to_scalar(), true);
            lit.nullable |= t.nullable;
            return coerce(lit, to, expr);
        }
        let converted =
            arrow_cast::cast_with_options(s.get().0, to, &eval::STRICT).map_err(|e| {
                let shown = ScalarValue::try_from_array(s.get().0, 0)
                    .map_or_else(|_| format!("a {} literal", t.data_type), |v| v.to_string());
                Error::type_mismatch(
                    expr.to_string(),
                    format!("cannot convert {shown} to {to}: {e}"),
                )
            })?;
        let mut out = literal(one(converted)?, t.weak);
        out.nullable |= t.nullable;
        return Ok(out);
    }
    let nullable = t.nullable || t.data_type == DataType::Null;
    Ok(Typed {
        node: Node::Cast {
            input: Box::new(t),
            ctx: context(expr),
        },
        data_type: to.clone(),
        nullable,
        weak: false,
    })
}

/// Computes a node whose inputs are all literals, giving a literal.
fn fold(t: Typed) -> Result<Typed> {
    let is_lit = |c: &Typed| matches!(c.node, Node::Literal(_));
    let constant = match &t.node {
        Node::Column { .. } | Node::Literal(_) => false,
        Node::Arith { left, right, .. }
        | Node::Compare { left, right, .. }
        | Node::Logic { left, right, .. } => is_lit(left) && is_lit(right),
        Node::Not(input)
        | Node::Neg { input, .. }
        | Node::IsNull { input, .. }
        | Node::Cast { input, .. }
        | Node::Str { input, .. } => is_lit(input),
        Node::Case {
            branches,
            otherwise,
            ..
        } => is_lit(otherwise) && branches.iter().all(|(c, v)| is_lit(c) && is_lit(v)),
        Node::Func { args, .. } => !args.is_empty() && args.iter().all(is_lit),
        Node::InList { input, .. } => is_lit(input),
    };
    if !constant {
        return Ok(t);
    }
    let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
    match eval::eval(&t, &empty)? {
        Value::Scalar(s) => {
            let mut out = literal(s, t.weak);
            out.data_type = t.data_type;
            Ok(out)
        }
        Value::Array(_) => Ok(t),
    }
}

/// Integers and Float32/Float64: the types arithmetic accepts.
fn is_arith_numeric(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Float32 | DataType::Float64)
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Types that arrow's comparison kernels order.
pub(super) fn is_comparable(t: &DataType) -> bool {
    t.is_primitive()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        )
}

/// The type of `l op r` for an arithmetic `op`, or `None` when the operand
/// types do not allow arithmetic.
pub(super) fn arith_type(l: &Typed, r: &Typed) -> Option<DataType> {
    let (a, b) = (&l.data_type, &r.data_type);
    match (a, b) {
        (DataType::Null, DataType::Null) => Some(DataType::Null),
        (DataType::Null, x) | (x, DataType::Null) => {
            (is_arith_numeric(x) || decimal::is_decimal(x)).then(|| x.clone())
        }
        _ if is_arith_numeric(a) && is_arith_numeric(b) => Some(numeric_type(l, r)),
        _ => None,
    }
}

/// The type both sides of a comparison are brought to, or `None` when they
/// cannot be compared.
pub(super) fn compare_type(l: &Typed, r: &Typed) -> Option<DataType> {
    let (a, b) = (&l.data_type, &r.data_type);
    let is_time = |t: &DataType| {
        matches!(
            t,
            DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
                | DataType::Time32(_)
                | DataType::Time64(_)
        )
    };
    match (a, b) {
        (DataType::Null, DataType::Null) => Some(DataType::Null),
        (DataType::Null, x) | (x, DataType::Null) => is_comparable(x).then(|| x.clone()),
        _ if decimal::is_decimal(a) || decimal::is_decimal(b) => {
            match (decimal_operand(l, b), decimal_operand(r, a)) {
                (Some(da), Some(db)) => decimal::common(&da, &db),
                _ if (a.is_floating() || b.is_floating())
                    && (is_arith_numeric(a) || is_arith_numeric(b)) =>
                {
                    Some(DataType::Float64)
                }
                _ => None,
            }
        }
        _ if is_arith_numeric(a) && is_arith_numeric(b) => Some(numeric_type(l, r)),
        _ if is_string(a) && is_string(b) => Some(if a == b || r.weak {
            a.clone()
        } else if l.weak {
            b.clone()
        } else if a == &DataType::Utf8View || b == &DataType::Utf8View {
            DataType::Utf8View
        } else {
            DataType::LargeUtf8
        }),
        _ if is_time(a) && is_string(b) && r.weak => Some(a.clone()),
        _ if is_string(a) && l.weak && is_time(b) => Some(b.clone()),
        _ if a == b && is_comparable(a) => Some(a.clone()),
        // Timestamps compare as instants at the finer unit: zoned ones in
        // any zones directly; a zone-less one meeting a zoned one is read
        // as wall-clock time in that zone (arrow-cast's rule, and polars').
        // A date meets a timestamp as its midnight.
        (DataType::Timestamp(u1, z1), DataType::Timestamp(u2, z2)) => Some(DataType::Timestamp(
            finer_unit(*u1, *u2),
            z1.clone().or_else(|| z2.clone()),
        )),
        (DataType::Date32 | DataType::Date64, t @ DataType::Timestamp(..))
        | (t @ DataType::Timestamp(..), DataType::Date32 | DataType::Date64) => Some(t.clone()),
        _ => None,
    }
}

/// The finer of two time units.
fn finer_unit(a: TimeUnit, b: TimeUnit) -> TimeUnit {
    let rank = |u: TimeUnit| match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 1,
        TimeUnit::Microsecond => 2,
        TimeUnit::Nanosecond => 3,
    };
    if rank(a) >= rank(b) { a } else { b }
}

/// The common type of two numeric operands, letting a weak literal adopt
/// the other side's type when its value fits.
fn numeric_type(l: &Typed, r: &Typed) -> DataType {
    let (a, b) = (&l.data_type, &r.data_type);
    if a == b {
        return a.clone();
    }
    if l.weak != r.weak {
        let (lit, other) = if l.weak { (l, b) } else { (r, a) };
        if weak_value(lit).is_some_and(|v| literal_fits(&v, other)) {
            return other.clone();
        }
    }
    common_numeric(a, b)
}

/// Whether `v` converts to `to` without loss.
pub(super) fn literal_fits(v: &ScalarValue, to: &DataType) -> bool {
    if v.is_null() {
        return true;
    }
    if let Some(i) = v.as_i128() {
        return match to {
            DataType::Int8 => i8::try_from(i).is_ok(),
            DataType::Int16 => i16::try_from(i).is_ok(),
            DataType::Int32 => i32::try_from(i).is_ok(),
            DataType::Int64 => i64::try_from(i).is_ok(),
            DataType::UInt8 => u8::try_from(i).is_ok(),
            DataType::UInt16 => u16::try_from(i).is_ok(),
            DataType::UInt32 => u32::try_from(i).is_ok(),
            DataType::UInt64 => u64::try_from(i).is_ok(),
            DataType::Float32 => i.unsigned_abs() <= 1 << f32::MANTISSA_DIGITS,
            DataType::Float64 => i.unsigned_abs() <= 1 << f64::MANTISSA_DIGITS,
            _ => false,
        };
    }
    match (v, to) {
        (ScalarValue::Float32(_), DataType::Float32 | DataType::Float64) => true,
        (ScalarValue::Float64(_), DataType::Float64) => true,
        (ScalarValue::Float64(x), DataType::Float32) => {
            !x.is_finite() || x.abs() <= f64::from(f32::MAX)
        }
        (ScalarValue::Utf8(_), t) => is_string(t),
        (ScalarValue::Boolean(_), DataType::Boolean) => true,
        (ScalarValue::Date32(_), DataType::Date32) => true,
        _ => false,
    }
}

fn int_width(t: &DataType) -> u32 {
    match t {
        DataType::Int8 | DataType::UInt8 => 8,
        DataType::Int16 | DataType::UInt16 => 16,
        DataType::Int32 | DataType::UInt32 => 32,
        _ => 64,
    }
}

fn signed(bits: u32) -> DataType {
    match bits {
        8 => DataType::Int8,
        16 => DataType::Int16,
        32 => DataType::Int32,
        _ => DataType::Int64,
    }
}

fn unsigned(bits: u32) -> DataType {
    match bits {
        8 => DataType::UInt8,
        16 => DataType::UInt16,
        32 => DataType::UInt32,
        _ => DataType::UInt64,
    }
}

/// The common type of two different numeric types (module docs, rule 2).
pub(super) fn common_numeric(a: &DataType, b: &DataType) -> DataType {
    if a == b {
        return a.clone();
    }
    let float_with_int = |f: &DataType, i: &DataType| {
        if f == &DataType::Float32 && int_width(i) <= 16 {
            DataType::Float32
        } else {
            DataType::Float64
        }
    };
    match (a.is_floating(), b.is_floating()) {
        (true, true) => DataType::Float64,
        (true, false) => float_with_int(a, b),
        (false, true) => float_with_int(b, a),
        (false, false) => {
            let (wa, wb) = (int_width(a), int_width(b));
            match (a.is_signed_integer(), b.is_signed_integer()) {
                (true, true) => signed(wa.max(wb)),
                (false, false) => unsigned(wa.max(wb)),
                (true, false) => signed(wa.max(2 * wb)),
                (false, true) => signed(wb.max(2 * wa)),
            }
        }
    }
}
