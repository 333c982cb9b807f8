//! Frame verbs a polars user reaches for: [`LazyFrame::fill_null`],
//! [`LazyFrame::fill_nan`], [`LazyFrame::drop_nulls`], [`LazyFrame::cast`],
//! [`LazyFrame::unpivot`], [`LazyFrame::pivot`], [`LazyFrame::cache`],
//! [`LazyFrame::sample`],
//! [`LazyFrame::describe`] (and, in `concat.rs`,
//! [`LazyFrame::with_row_index`] and [`LazyFrame::concat_horizontal`]).
//! `fill_null`, `fill_nan`, `cast` and `drop_nulls` are plan operators (a
//! projection, a filter) and stream, as does `unpivot` (a projection and
//! a per-chunk reshape); `pivot`, `cache`, `sample` and `describe` run
//! the plan when called, as polars' eager counterparts do.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::{Result, column_not_found};
use parframe_core::{Expr, IntoExpr, Table, coalesce, col};

use crate::LazyFrame;
use crate::agg::{self, AggExpr};

impl LazyFrame {
    /// Replaces nulls by `value` (a literal or any expression, e.g.
    /// `fill_null(0)`, `fill_null(col("default"))`) in every column where
    /// it fits the column's type without changing it (`0` fills integer
    /// and float columns, `lit("n/a")` string columns); other columns are
    /// left as they are. See [`LazyFrame::fill_null_in`] for chosen
    /// columns.
    ///
    /// ```
    /// use parframe_core::{lit, table};
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("a" => [Some(1i64), None], "s" => [None, Some("x")])?;
    /// let out = ctx.lazy(t).fill_null(0)?.fill_null(lit("-"))?.collect()?;
    /// assert_eq!(out.column("a")?.null_count() + out.column("s")?.null_count(), 0);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn fill_null(&self, value: impl IntoExpr) -> Result<LazyFrame> {
        let value = value.into_expr();
        let schema = self.schema();
        let exprs: Vec<Expr> = schema
            .fields()
            .iter()
            .map(|f| {
                let c = col(f.name().as_str());
                let filled = coalesce([c.clone(), value.clone()]).alias(f.name().as_str());
                match filled.to_field(&schema) {
                    Ok(out) if out.data_type() == f.data_type() => filled,
                    _ => c,
                }
            })
            .collect();
        self.select(exprs)
    }

    /// Replaces nulls by `value` in `columns`; a value that does not fit a
    /// column's type is a type error naming it.
    pub fn fill_null_in(
        &self,
        columns: impl crate::IntoColumnNames,
        value: impl IntoExpr,
    ) -> Result<LazyFrame> {
        let value = value.into_expr();
        let names = columns.into_column_names();
        let schema = self.schema();
        let mut exprs = Vec::with_capacity(names.len());
        for n in &names {
            let f = schema.field_with_name(n).map_err(|_| {
                column_not_found(n, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
            let filled = coalesce([col(n.as_str()), value.clone()]).cast(f.data_type().clone());
            exprs.push(filled.alias(n.as_str()));
        }
        self.with_columns(exprs)
    }

    /// Drops the rows with a null in any column.
    pub fn drop_nulls(&self) -> Result<LazyFrame> {
        let names: Vec<String> = self
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        self.drop_nulls_in(names)
    }

    /// Drops the rows with a null in any of `columns`.
    pub fn drop_nulls_in(&self, columns: impl crate::IntoColumnNames) -> Result<LazyFrame> {
        let names = columns.into_column_names();
        let schema = self.schema();
        let mut keep: Option<Expr> = None;
        for n in &names {
            if schema.index_of(n).is_err() {
                return Err(column_not_found(
                    n,
                    schema.fields().iter().map(|f| f.name().as_str()),
                ));
            }
            let c = col(n.as_str()).is_not_null();
            keep = Some(match keep {
                Some(k) => k.and(c),
                None => c,
            });
        }
        match keep {
            Some(k) => self.filter(k),
            None => Ok(self.clone()),
        }
    }

    /// Runs the plan now and returns a frame over its result, for a plan
    /// reused several times (each use of the returned frame reads the
    /// result instead of running the plan again). The result is held as
    /// [`LazyFrame::collect`] holds it: under the context's memory budget,
    /// chunks that do not fit spilled to the spill directory, the memory
    /// given back when the last frame using it is dropped.
    pub fn cache(&self) -> Result<LazyFrame> {
        let table = self.collect()?;
        Ok(self.ctx.lazy(table))
    }
}

impl LazyFrame {
    /// `n` rows drawn uniformly at random without replacement (all rows
    /// when there are fewer), in input order; the same `seed` over the
    /// same input gives the same rows. Like polars' `DataFrame::sample_n`
    /// this is eager: the plan runs now (its result held as
    /// [`LazyFrame::collect`] holds it) and the sample is a new frame.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("x" => [1i64, 2, 3, 4, 5, 6])?;
    /// let a = ctx.lazy(t.clone()).sample(3, 42)?.collect()?;
    /// let b = ctx.lazy(t).sample(3, 42)?.collect()?;
    /// assert_eq!(a.num_rows(), 3);
    /// assert_eq!(a.chunks(), b.chunks());
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn sample(&self, n: usize, seed: u64) -> Result<LazyFrame> {
        use rand::SeedableRng;
        let table = self.collect()?;
        let total = table.num_rows();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut picked = rand::seq::index::sample(&mut rng, total, n.min(total)).into_vec();
        picked.sort_unstable();
        let mut out = Vec::new();
        let mut start = 0usize;
        let mut next = picked.iter().peekable();
        for chunk in table.chunks() {
            let end = start + chunk.num_rows();
            let mut local: Vec<u64> = Vec::new();
            while let Some(&&i) = next.peek() {
                if i >= end {
                    break;
                }
                local.push((i - start) as u64);
                next.next();
            }
            if !local.is_empty() {
                let idx = arrow_array::UInt64Array::from(local);
                out.push(arrow_select::take::take_record_batch(chunk, &idx)?);
            }
            start = end;
        }
        let sample = Table::try_new(table.schema().clone(), out)?;
        Ok(self.ctx.lazy(sample))
    }

    /// Summary statistics of every column, as polars' `describe`: a table
    /// with a `statistic` column (`count`, `null_count`, `mean`, `std`,
    /// `min`, `25%`, `50%`, `75%`, `max`) and one `Float64` column per input
    /// column. Numbers and booleans get every statistic (quantiles by
    /// linear interpolation, `std` with ddof 1); other columns only the
    /// counts (the rest null). Runs the plan now, as one aggregation.
    pub fn describe(&self) -> Result<Table> {
        const STATS: [&str; 9] = [
            "count",
            "null_count",
            "mean",
            "std",
            "min",
            "25%",
            "50%",
            "75%",
            "max",
        ];
        let schema = self.schema();
        let mut aggs: Vec<AggExpr> = vec![agg::count_rows().alias("__pf_rows")];
        let numeric: Vec<bool> = schema
            .fields()
            .iter()
            .map(|f| {
                let t = f.data_type();
                t.is_numeric() || matches!(t, DataType::Boolean)
            })
            .collect();
        for (i, f) in schema.fields().iter().enumerate() {
            let c = col(f.name().as_str());
            aggs.push(agg::count(c.clone()).alias(format!("{i}:count")));
            if numeric[i] {
                let as_f64 = c.cast(DataType::Float64);
                aggs.push(agg::mean(as_f64.clone()).alias(format!("{i}:mean")));
                aggs.push(agg::std(as_f64.clone()).alias(format!("{i}:std")));
                aggs.push(agg::min(as_f64.clone()).alias(format!("{i}:min")));
                aggs.push(agg::quantile(as_f64.clone(), 0.25).alias(format!("{i}:25%")));
                aggs.push(agg::median(as_f64.clone()).alias(format!("{i}:50%")));
                aggs.push(agg::quantile(as_f64.clone(), 0.75).alias(format!("{i}:75%")));
                aggs.push(agg::max(as_f64).alias(format!("{i}:max")));
            }
        }
        let row = self.agg(aggs)?.collect()?;
        let value = |name: &str| -> Result<Option<f64>> {
            let a = row.column(name)?;
            let a = arrow_cast::cast(&a, &DataType::Float64)?;
            let a = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Float64Type>(
                a.as_ref(),
            );
            Ok((a.len() == 1 && !arrow_array::Array::is_null(a, 0)).then(|| a.value(0)))
        };
        let rows = value("__pf_rows")?.unwrap_or(0.0);
        let mut fields = vec![Field::new("statistic", DataType::Utf8, false)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(STATS.to_vec()))];
        for (i, f) in schema.fields().iter().enumerate() {
            let count = value(&format!("{i}:count"))?.unwrap_or(0.0);
            let mut vals = vec![Some(count), Some(rows - count)];
            for s in &STATS[2..] {
                vals.push(if numeric[i] {
                    value(&format!("{i}:{s}"))?
                } else {
                    None
                });
            }
            fields.push(Field::new(f.name().as_str(), DataType::Float64, true));
            columns.push(Arc::new(Float64Array::from(vals)));
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Table::from_batches(vec![batch])
    }
}

impl LazyFrame {
    /// Replaces NaN by `value` in every floating-point column (polars'
    /// `DataFrame::fill_nan`), cast back to the column's type; nulls stay
    /// null and other columns are left as they are. See [`Expr::fill_nan`]
    /// for one expression.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("x" => [Some(1.0), Some(f64::NAN), None], "n" => [1i64, 2, 3])?;
    /// let out = ctx.lazy(t).fill_nan(0.0)?.collect()?;
    /// assert_eq!(out.column("x")?.null_count(), 1);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn fill_nan(&self, value: impl IntoExpr) -> Result<LazyFrame> {
        let value = value.into_expr();
        let schema = self.schema();
        let exprs: Vec<Expr> = schema
            .fields()
            .iter()
            .filter(|f| f.data_type().is_floating())
            .map(|f| {
                col(f.name().as_str())
                    .fill_nan(value.clone())
                    .cast(f.data_type().clone())
                    .alias(f.name().as_str())
            })
            .collect();
        if exprs.is_empty() {
            return Ok(self.clone());
        }
        self.with_columns(exprs)
    }

    /// Casts columns to new types: `cast([("n", DataType::Float64)])`
    /// (strict: a value that does not convert is an error naming the
    /// expression; use `Expr::try_cast` for nulls instead). Columns not
    /// listed are unchanged; a name the frame does not have is an error.
    ///
    /// ```
    /// use arrow_schema::DataType;
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("n" => [1i64, 2], "s" => ["3", "4"])?;
    /// let out = ctx.lazy(t).cast([("n", DataType::Float64), ("s", DataType::Int32)])?;
    /// assert_eq!(out.schema().field(1).data_type(), &DataType::Int32);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn cast<S: AsRef<str>>(
        &self,
        columns: impl IntoIterator<Item = (S, DataType)>,
    ) -> Result<LazyFrame> {
        let schema = self.schema();
        let mut exprs = Vec::new();
        for (name, to) in columns {
            let name = name.as_ref();
            let f = schema.field_with_name(name).map_err(|_| {
                column_not_found(name, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
            if f.data_type() != &to {
                exprs.push(col(name).cast(to).alias(name));
            }
        }
        if exprs.is_empty() {
            return Ok(self.clone());
        }
        self.with_columns(exprs)
    }

    /// Casts the columns named in `schema` to its types (as
    /// [`LazyFrame::cast`]); columns `schema` does not name are unchanged.
    pub fn cast_to_schema(&self, schema: &Schema) -> Result<LazyFrame> {
        self.cast(
            schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone())),
        )
    }

    /// From wide to long (polars' `unpivot`, formerly `melt`): for every
    /// row and every column of `on`, one row of the `index` columns, a
    /// `variable` column (the column's name, Utf8) and a `value` column (its
    /// value, all `on` columns brought to one type by the `CASE` rules,
    /// e.g. Int64 and Float64 give Float64). An empty `on` means every
    /// column not in `index`. One pass: each input chunk gives its rows for
    /// the first `on` column, then for the second, and so on (polars orders
    /// by column over the whole frame; sort if the order matters).
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("id" => [1i64, 2], "a" => [10i64, 20], "b" => [30i64, 40])?;
    /// let long = ctx.lazy(t).unpivot(["a", "b"], ["id"])?.collect()?;
    /// assert_eq!(long.column_names(), vec!["id", "variable", "value"]);
    /// assert_eq!(long.num_rows(), 4);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    #[doc(alias = "melt")]
    pub fn unpivot(
        &self,
        on: impl crate::IntoColumnNames,
        index: impl crate::IntoColumnNames,
    ) -> Result<LazyFrame> {
        let (mut on, index) = (on.into_column_names(), index.into_column_names());
        let schema = self.schema();
        for n in on.iter().chain(&index) {
            if schema.index_of(n).is_err() {
                return Err(column_not_found(
                    n,
                    schema.fields().iter().map(|f| f.name().as_str()),
                ));
            }
        }
        if on.is_empty() {
            on = schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !index.contains(n))
                .collect();
        }
        let Some(last) = on.last() else {
            return Err(parframe_common::Error::InvalidArgument(
                "unpivot: no column to unpivot (every column is an index column)".into(),
            ));
        };
        for n in ["variable", "value"] {
            if index.iter().any(|i| i == n) {
                return Err(parframe_common::Error::InvalidArgument(format!(
                    "unpivot: the index column '{n}' clashes with the output column '{n}'; \
                     rename it first"
                )));
            }
        }
        // The value type: what a CASE over every `on` column gives.
        let mut case: Option<parframe_core::expr::CaseBuilder> = None;
        for n in &on[..on.len() - 1] {
            let c = parframe_core::lit(false);
            case = Some(match case {
                None => parframe_core::when(c, col(n.as_str())),
                Some(b) => b.when(c, col(n.as_str())),
            });
        }
        let value_type = match case {
            None => schema.field_with_name(last)?.data_type().clone(),
            Some(b) => {
                let e = b.otherwise(col(last.as_str()));
                let types: Vec<String> = on
                    .iter()
                    .filter_map(|n| schema.field_with_name(n).ok())
                    .map(|f| format!("{}: {}", f.name(), f.data_type()))
                    .collect();
                e.to_field(&schema)
                    .map_err(|err| {
                        parframe_common::Error::type_mismatch(
                            "unpivot",
                            format!(
                                "the columns ({}) have no common type ({err}); cast them first",
                                types.join(", ")
                            ),
                        )
                    })?
                    .data_type()
                    .clone()
            }
        };
        let mut exprs: Vec<Expr> = index.iter().map(|n| col(n.as_str())).collect();
        let hidden: Vec<String> = (0..on.len()).map(|j| format!("__pf_unpivot{j}")).collect();
        for (n, h) in on.iter().zip(&hidden) {
            exprs.push(col(n.as_str()).cast(value_type.clone()).alias(h.as_str()));
        }
        let narrow = self.select(exprs)?;
        let mut fields: Vec<Field> = index
            .iter()
            .map(|n| schema.field_with_name(n).cloned())
            .collect::<std::result::Result<_, _>>()?;
        fields.push(Field::new("variable", DataType::Utf8, false));
        fields.push(Field::new("value", value_type, true));
        let out_schema = Arc::new(Schema::new(fields));
        let names = on.clone();
        let k = index.len();
        let s = Arc::clone(&out_schema);
        narrow.map_batches_with_schema(out_schema, move |b: RecordBatch| {
            let n = b.num_rows();
            let mut pieces = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                let mut cols: Vec<ArrayRef> = b.columns()[..k].to_vec();
                cols.push(Arc::new(StringArray::from_iter_values(
                    std::iter::repeat_n(name.as_str(), n),
                )));
                cols.push(b.column(k + j).clone());
                pieces.push(RecordBatch::try_new(Arc::clone(&s), cols)?);
            }
            Ok(arrow_select::concat::concat_batches(&s, &pieces)?)
        })
    }

    /// Spreads the distinct values of the column `on` into columns, the
    /// inverse of [`LazyFrame::unpivot`] (polars' `pivot`): one row per
    /// distinct combination of the `index` columns (sorted by them, nulls
    /// first), then one column per distinct value of `on` (named by its
    /// text, in sorted order; `"null"` for a null, first), holding `agg` of
    /// `values` over the
    /// input rows with that index and that `on` value, null where there
    /// are none. `agg` is any aggregate of an expression: `|v| v.sum()`,
    /// `|v| v.mean()`, `|v| v.count()`...
    ///
    /// Eager like polars' (the output's columns depend on the data): the
    /// aggregation by `index` and `on` runs now and is held as
    /// [`LazyFrame::cache`] holds it (under the memory budget); the
    /// returned frame spreads it. Every distinct value of `on` becomes a
    /// column, so `on` should have few.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    /// use parframe_exec::agg::AggregateExt;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!(
    ///     "day" => [1i64, 1, 2, 2, 2],
    ///     "city" => ["Oslo", "Rome", "Oslo", "Oslo", "Rome"],
    ///     "temp" => [3.0, 14.0, 5.0, 7.0, 15.0],
    /// )?;
    /// let wide = ctx.lazy(t).pivot("city", ["day"], "temp", |v| v.mean())?.collect()?;
    /// assert_eq!(wide.column_names(), ["day", "Oslo", "Rome"]);
    /// assert_eq!(wide.num_rows(), 2);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn pivot(
        &self,
        on: &str,
        index: impl crate::IntoColumnNames,
        values: &str,
        agg: impl Fn(Expr) -> AggExpr,
    ) -> Result<LazyFrame> {
        let index = index.into_column_names();
        let schema = self.schema();
        for n in index.iter().map(String::as_str).chain([on, values]) {
            if schema.index_of(n).is_err() {
                return Err(column_not_found(
                    n,
                    schema.fields().iter().map(|f| f.name().as_str()),
                ));
            }
        }
        let bad = |why: String| {
            Err(parframe_common::Error::InvalidArgument(format!(
                "pivot: {why}"
            )))
        };
        if index.is_empty() {
            return bad("no index column: name the columns that identify a row".into());
        }
        if let Some(n) = index.iter().find(|n| *n == on || *n == values) {
            return bad(format!(
                "'{n}' is both an index column and the `on` or `values` column"
            ));
        }
        if on == values {
            return bad(format!("'{on}' is both the `on` and the `values` column"));
        }
        // One row per (index, on) with its aggregate, computed once.
        const VALUE: &str = "__pf_pivot_value";
        let mut keys: Vec<Expr> = index.iter().map(|n| col(n.as_str())).collect();
        keys.push(col(on));
        let long = self
            .group_by(keys)
            .agg([agg(col(values)).alias(VALUE)])?
            .cache()?;
        let distinct = long
            .group_by([col(on)])
            .sorted(true)
            .agg([agg::count_rows().alias("__pf_pivot_rows")])?
            .collect()?;
        let mut spread = Vec::new();
        let mut names: Vec<String> = index.clone();
        for chunk in distinct.chunks() {
            let keys = chunk.column(0);
            let text = arrow_cast::display::ArrayFormatter::try_new(
                keys.as_ref(),
                &arrow_cast::display::FormatOptions::default().with_null("null"),
            )?;
            for i in 0..keys.len() {
                let name = text.value(i).to_string();
                if names.contains(&name) {
                    return bad(format!(
                        "the value '{name}' of '{on}' would name a second column '{name}'; \
                         rename the index column or map the values first"
                    ));
                }
                let cond = if keys.is_null(i) {
                    col(on).is_null()
                } else {
                    col(on).eq(parframe_core::lit(
                        parframe_core::ScalarValue::try_from_array(keys.as_ref(), i)?,
                    ))
                };
                // At most one row of `long` per (index, value): its first
                // non-null value is the aggregate (null when none).
                let cell = parframe_core::when(cond, col(VALUE)).end();
                spread.push(agg::first(cell).alias(name.as_str()));
                names.push(name);
            }
        }
        let keys: Vec<Expr> = index.iter().map(|n| col(n.as_str())).collect();
        long.group_by(keys).sorted(true).agg(spread)
    }
}
