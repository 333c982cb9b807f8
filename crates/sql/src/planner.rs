//! The entry point: a statement parsed by `sqlparser`, planned onto
//! [`LazyFrame`]s (queries), or run (`COPY`, `EXPLAIN ANALYZE`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use parframe_common::{Error, Result};
use parframe_exec::{Context, LazyFrame};
use sqlparser::ast::{self, Spanned};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::{err, unsupported};
use crate::expr::first_words;

/// How deep the parser may nest (parentheses, subqueries). sqlparser's
/// default is 50; its recursion is stack-safe (the `recursive` crate), and
/// so is ours.
const PARSER_RECURSION_LIMIT: usize = 1000;

/// Plans SQL in a [`Context`]: tables resolve to the `WITH` tables in
/// scope, then to the context's catalog ([`Context::register_table`]).
#[derive(Clone)]
pub(crate) struct SqlPlanner {
    pub(crate) ctx: Context,
    /// `WITH` tables in scope (lower-case names).
    pub(crate) ctes: HashMap<String, LazyFrame>,
    /// Numbers the hidden columns of subqueries (shared by nested
    /// planners, so names never clash).
    pub(crate) next_id: Arc<AtomicUsize>,
}

/// One parsed statement, with what sqlparser does not parse.
pub(crate) struct Parsed {
    /// The statement.
    pub(crate) statement: ast::Statement,
    /// `COPY ... TO 'dir' (PARTITION_BY (a, b))`'s columns (empty: none),
    /// taken out of the tokens before parsing (see
    /// `statement::take_partition_by`).
    pub(crate) partition_by: Vec<ast::Ident>,
}

/// Parses one statement.
pub(crate) fn parse(sql: &str) -> Result<Parsed> {
    let dialect = GenericDialect {};
    let tokens = sqlparser::tokenizer::Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| syntax_error(ParserError::from(e)))?;
    let (tokens, partition_by) = crate::statement::take_partition_by(tokens)?;
    let statements = Parser::new(&dialect)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(syntax_error)?;
    let mut statements = statements.into_iter();
    match (statements.next(), statements.next()) {
        (None, _) => Err(Error::sql("SQL error: the query is empty", None)),
        (Some(statement), None) => {
            if let Some(first) = partition_by.first()
                && !matches!(statement, ast::Statement::Copy { .. })
            {
                return unsupported("PARTITION_BY outside COPY ... TO", first.span);
            }
            Ok(Parsed {
                statement,
                partition_by,
            })
        }
        (Some(_), Some(second)) => unsupported("more than one statement", second.span()),
    }
}

/// A parser error as [`Error::Sql`], its position taken out of the text
/// (`... at Line: 1, Column: 7`).
fn syntax_error(e: ParserError) -> Error {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => {
            return Error::sql(
                format!(
                    "SQL syntax error: the query nests deeper than {PARSER_RECURSION_LIMIT} levels"
                ),
                None,
            );
        }
    };
    let (message, position) = match text.rfind(" at Line: ") {
        Some(i) => {
            let pos = &text[i + " at Line: ".len()..];
            let mut parts = pos.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse::<u64>().ok());
            let column = parts.next().and_then(|c| c.trim().parse::<u64>().ok());
            match (line, column) {
                (Some(l), Some(c)) => (text[..i].to_string(), Some((l, c))),
                _ => (text.clone(), None),
            }
        }
        None => (text.clone(), None),
    };
    Error::sql(format!("SQL syntax error: {message}"), position)
}

impl SqlPlanner {
    pub(crate) fn new(ctx: Context) -> Self {
        SqlPlanner {
            ctx,
            ctes: HashMap::new(),
            next_id: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Plans (or, for `COPY` and `EXPLAIN ANALYZE`, runs) one statement.
    pub(crate) fn statement(&self, parsed: &Parsed) -> Result<LazyFrame> {
        let statement = &parsed.statement;
        match statement {
            ast::Statement::Query(q) => self.plan_query(q),
            ast::Statement::Explain {
                analyze,
                statement,
                format,
                options,
                query_plan,
                estimate,
                ..
            } => {
                if format.is_some() || options.is_some() || *query_plan || *estimate {
                    return unsupported("EXPLAIN options", statement.span());
                }
                self.explain(statement, *analyze)
            }
            ast::Statement::Copy { .. } => self.copy(statement, &parsed.partition_by),
            other => unsupported(
                format!(
                    "the statement '{}'; SELECT queries, EXPLAIN [ANALYZE] and COPY (query) TO \
                     'file' are",
                    first_words(&other.to_string())
                ),
                other.span(),
            ),
        }
    }

    /// A `WITH` table, then the catalog.
    pub(crate) fn lookup_table(&self, name: &str) -> Option<LazyFrame> {
        self.ctes
            .get(&name.to_lowercase())
            .cloned()
            .or_else(|| self.ctx.table(name))
    }

    /// The names a query can use, for error messages.
    pub(crate) fn known_tables(&self) -> Vec<String> {
        let mut known: Vec<String> = self.ctes.keys().cloned().collect();
        known.extend(self.ctx.table_names());
        known.sort();
        known.dedup();
        known
    }

    fn explain(&self, statement: &ast::Statement, analyze: bool) -> Result<LazyFrame> {
        let ast::Statement::Query(q) = statement else {
            return err("EXPLAIN takes a query", statement.span());
        };
        let lf = self.plan_query(q)?;
        let text = if analyze {
            lf.explain_analyze()?
        } else {
            lf.explain()
        };
        crate::statement::lines_frame(&self.ctx, "plan", text.lines())
    }
}
