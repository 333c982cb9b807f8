//! Name resolution: which column of a relation (or of joined relations)
//! an identifier or `t.x` names.

use arrow_schema::{Schema, SchemaRef};
use parframe_common::Result;
use sqlparser::ast::{self, Ident, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{err, sql_error, unsupported};

/// Where a relation's columns may be qualified from: `t.x` with `t` the
/// table's alias or name.
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) schema: SchemaRef,
    pub(crate) qualifiers: Vec<String>,
    /// Qualified names: (table qualifier, the column as that table names
    /// it, the column of `schema` it became).
    pub(crate) columns: Vec<(String, String, String)>,
    /// Unqualified names more than one joined table has.
    pub(crate) ambiguous: Vec<String>,
}

impl Scope {
    pub(crate) fn single(schema: SchemaRef, qualifiers: Vec<String>) -> Self {
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
    pub(crate) fn resolve(&self, ident: &Ident) -> Result<String> {
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
            return Err(sql_error(
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
    pub(crate) fn try_column(&self, e: &ast::Expr) -> Result<Option<String>> {
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

/// Resolves a column name: exact, else (unquoted) case-insensitively when
/// that is unambiguous.
pub(crate) fn resolve_column(schema: &Schema, ident: &Ident) -> Result<String> {
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
    Err(sql_error(
        format!(
            "column '{}' not found; available columns: [{}]",
            ident.value,
            available.join(", ")
        ),
        ident.span,
    ))
}

pub(crate) fn resolve_compound(scope: &Scope, parts: &[Ident], span: Span) -> Result<String> {
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
