//! Expressions over the columns of a chunk, evaluated with arrow kernels.
//!
//! STUB: the public API below is fixed; bodies are being written.

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Not, Rem, Sub};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::{Error, Result};

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarValue {
    /// A typeless null.
    Null,
    /// `bool`.
    Boolean(bool),
    /// `i8`.
    Int8(i8),
    /// `i16`.
    Int16(i16),
    /// `i32`.
    Int32(i32),
    /// `i64`.
    Int64(i64),
    /// `u8`.
    UInt8(u8),
    /// `u16`.
    UInt16(u16),
    /// `u32`.
    UInt32(u32),
    /// `u64`.
    UInt64(u64),
    /// `f32`.
    Float32(f32),
    /// `f64`.
    Float64(f64),
    /// A string.
    Utf8(String),
    /// Days since the UNIX epoch.
    Date32(i32),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND` (Kleene logic)
    And,
    /// `OR` (Kleene logic)
    Or,
}

/// String functions.
#[derive(Debug, Clone, PartialEq)]
pub enum StringFunc {
    /// `contains(pattern)`
    Contains(String),
    /// `starts_with(prefix)`
    StartsWith(String),
    /// `ends_with(suffix)`
    EndsWith(String),
    /// Length in characters.
    Len,
    /// Lower case.
    Lower,
    /// Upper case.
    Upper,
}

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column by name.
    Column(String),
    /// A literal.
    Literal(ScalarValue),
    /// `left op right`.
    Binary {
        /// Left operand.
        left: Box<Expr>,
        /// Operator.
        op: BinaryOp,
        /// Right operand.
        right: Box<Expr>,
    },
    /// Logical not.
    Not(Box<Expr>),
    /// Arithmetic negation.
    Negative(Box<Expr>),
    /// `IS NULL`.
    IsNull(Box<Expr>),
    /// `IS NOT NULL`.
    IsNotNull(Box<Expr>),
    /// Conversion to another type.
    Cast {
        /// Input.
        expr: Box<Expr>,
        /// Target type.
        to: DataType,
    },
    /// Renames the output.
    Alias {
        /// Input.
        expr: Box<Expr>,
        /// New name.
        name: String,
    },
    /// A string function.
    Str {
        /// Input.
        expr: Box<Expr>,
        /// Function.
        func: StringFunc,
    },
}

/// A column reference.
pub fn col(name: impl Into<String>) -> Expr {
    Expr::Column(name.into())
}

/// A literal.
pub fn lit(value: impl Into<ScalarValue>) -> Expr {
    Expr::Literal(value.into())
}

impl From<f64> for ScalarValue {
    fn from(v: f64) -> Self {
        ScalarValue::Float64(v)
    }
}

impl Expr {
    /// The name of the output column.
    pub fn output_name(&self) -> String {
        String::new()
    }
    /// Type-checks against `schema`, giving the output field.
    pub fn to_field(&self, _schema: &Schema) -> Result<Field> {
        Err(Error::NotSupported("expr".into()))
    }
    /// Evaluates over a chunk.
    pub fn evaluate(&self, _batch: &RecordBatch) -> Result<ArrayRef> {
        Err(Error::NotSupported("expr".into()))
    }
    /// Columns referenced.
    pub fn columns(&self) -> Vec<String> {
        vec![]
    }
    /// Renames.
    pub fn alias(self, name: impl Into<String>) -> Expr {
        Expr::Alias { expr: Box::new(self), name: name.into() }
    }
    /// `>`
    pub fn gt(self, other: Expr) -> Expr {
        Expr::Binary { left: Box::new(self), op: BinaryOp::Gt, right: Box::new(other) }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

macro_rules! binop {
    ($tr:ident, $m:ident, $op:ident) => {
        impl $tr for Expr {
            type Output = Expr;
            fn $m(self, rhs: Expr) -> Expr {
                Expr::Binary { left: Box::new(self), op: BinaryOp::$op, right: Box::new(rhs) }
            }
        }
    };
}
binop!(Add, add, Add);
binop!(Sub, sub, Sub);
binop!(Mul, mul, Mul);
binop!(Div, div, Div);
binop!(Rem, rem, Rem);

impl Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Negative(Box::new(self))
    }
}
impl Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}
