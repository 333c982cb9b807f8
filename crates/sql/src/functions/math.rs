//! Numeric functions (`abs`, `round`, `sqrt`...; types and domain errors
//! as `parframe_core::MathFunc` documents them).

use parframe_common::Result;
use parframe_core::{Expr, Func, MathFunc};

use super::ScalarArgs;

fn call(a: &ScalarArgs<'_>, f: MathFunc) -> Result<Expr> {
    Ok(Expr::Function {
        func: Func::Math(f),
        args: a.exprs.clone(),
    })
}

/// The function named by the call (each registry entry of this family
/// names one `MathFunc`).
pub(super) fn math(a: &ScalarArgs<'_>) -> Result<Expr> {
    let f = match a.name {
        "abs" => MathFunc::Abs,
        "sign" => MathFunc::Sign,
        "floor" => MathFunc::Floor,
        "ceil" | "ceiling" => MathFunc::Ceil,
        "round" => MathFunc::Round,
        "sqrt" => MathFunc::Sqrt,
        "cbrt" => MathFunc::Cbrt,
        "exp" => MathFunc::Exp,
        "ln" => MathFunc::Ln,
        "log10" | "log" => MathFunc::Log10,
        "log2" => MathFunc::Log2,
        _ => MathFunc::Power,
    };
    call(a, f)
}
