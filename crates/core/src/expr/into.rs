//! [`IntoExpr`]: what may stand where an expression is expected, and the
//! arithmetic operators built on it.
//!
//! As in polars' Rust API, a string is a **column** and a number or a
//! boolean a **literal**: `col("a") / 60` divides by the literal 60,
//! `col("a").gt("b")` compares two columns, and `select(["a", "b"])` keeps
//! two columns. A string literal needs [`lit`]: `col("s").eq(lit("x"))`.

use std::ops::{Add, Div, Mul, Rem, Sub};

use super::{BinaryOp, Expr, ScalarValue, col, lit};

/// A value usable as an [`Expr`]: an expression, a column name (`&str`,
/// `String`, `&String`) or a literal (integers, floats, `bool`, a
/// [`ScalarValue`]).
///
/// Each of these also converts with `Into<Expr>`.
///
/// ```
/// use parframe_core::{IntoExpr, col, lit};
///
/// assert_eq!("a".into_expr(), col("a"));
/// assert_eq!(60i32.into_expr(), lit(60));
/// assert_eq!((col("a") / 60).to_string(), "(col(\"a\") / 60)");
/// assert_eq!(col("a").gt("b"), col("a").gt(col("b")));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as an expression",
    label = "expected an expression here",
    note = "expressions are `Expr` (`col(\"x\")`, `lit(1)`), column names (`&str`, `String`) \
            or literals (integers, floats, `bool`); wrap other values in `lit(..)`"
)]
pub trait IntoExpr {
    /// The expression.
    fn into_expr(self) -> Expr;
}

/// `IntoExpr` for types that are `Into<Expr>`, one by one (a blanket impl
/// would hide the trait's own error message behind `From`'s).
macro_rules! into_expr_via_from {
    ($($t:ty),*) => {$(
        impl IntoExpr for $t {
            fn into_expr(self) -> Expr {
                self.into()
            }
        }
    )*};
}
into_expr_via_from!(&str, String, &String, &Expr, ScalarValue);
into_expr_via_from!(bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl IntoExpr for Expr {
    fn into_expr(self) -> Expr {
        self
    }
}

impl From<&str> for Expr {
    /// A column.
    fn from(name: &str) -> Self {
        col(name)
    }
}

impl From<String> for Expr {
    /// A column.
    fn from(name: String) -> Self {
        col(name)
    }
}

impl From<&String> for Expr {
    /// A column.
    fn from(name: &String) -> Self {
        col(name.as_str())
    }
}

impl From<&Expr> for Expr {
    fn from(e: &Expr) -> Self {
        e.clone()
    }
}

impl From<ScalarValue> for Expr {
    /// A literal.
    fn from(v: ScalarValue) -> Self {
        Expr::Literal(v)
    }
}

macro_rules! literal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            /// A (weakly typed) literal.
            fn from(v: $t) -> Self {
                lit(v)
            }
        }
    )*};
}
literal_from!(bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

macro_rules! binop {
    ($tr:ident, $m:ident, $op:ident) => {
        impl<R: IntoExpr> $tr<R> for Expr {
            type Output = Expr;
            fn $m(self, rhs: R) -> Expr {
                Expr::Binary {
                    left: Box::new(self),
                    op: BinaryOp::$op,
                    right: Box::new(rhs.into_expr()),
                }
            }
        }
    };
}
binop!(Add, add, Add);
binop!(Sub, sub, Sub);
binop!(Mul, mul, Mul);
binop!(Div, div, Div);
binop!(Rem, rem, Rem);

/// `60 * col("a")`: a literal on the left.
macro_rules! literal_left {
    ($($t:ty),*) => {$(
        impl Add<Expr> for $t {
            type Output = Expr;
            fn add(self, rhs: Expr) -> Expr {
                lit(self) + rhs
            }
        }
        impl Sub<Expr> for $t {
            type Output = Expr;
            fn sub(self, rhs: Expr) -> Expr {
                lit(self) - rhs
            }
        }
        impl Mul<Expr> for $t {
            type Output = Expr;
            fn mul(self, rhs: Expr) -> Expr {
                lit(self) * rhs
            }
        }
        impl Div<Expr> for $t {
            type Output = Expr;
            fn div(self, rhs: Expr) -> Expr {
                lit(self) / rhs
            }
        }
        impl Rem<Expr> for $t {
            type Output = Expr;
            fn rem(self, rhs: Expr) -> Expr {
                lit(self) % rhs
            }
        }
    )*};
}
literal_left!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_columns_numbers_literals() {
        assert_eq!("a".into_expr(), col("a"));
        assert_eq!(String::from("a").into_expr(), col("a"));
        assert_eq!(true.into_expr(), lit(true));
        assert_eq!(1.5.into_expr(), lit(1.5));
        assert_eq!(col("a") + 1, col("a") + lit(1));
        assert_eq!(2 * col("a"), lit(2) * col("a"));
        assert_eq!(col("a") - "b", col("a") - col("b"));
        assert_eq!(col("a").lt_eq(3i64), col("a").lt_eq(lit(3i64)));
    }
}
