//! TPC-H tables at a scale factor, made by the `tpchgen` and
//! `tpchgen-arrow` crates (a port of the official `dbgen`, same rows), as a
//! stream of Arrow chunks. Needs the `tpch` feature.
//!
//! Column types are tpchgen-arrow's: keys and counts `Int64` (`Int32` for
//! small ones such as `l_linenumber`), money and quantities
//! `Decimal128(15, 2)`, dates `Date32`, text `Utf8View`.
//!
//! ```
//! use parframe::datasets::tpch::{TpchTable, chunks};
//!
//! let rows: usize = chunks(TpchTable::Nation, 0.01, 10)
//!     .map(|c| c.unwrap().num_rows())
//!     .sum();
//! assert_eq!(rows, 25);
//! assert_eq!(TpchTable::Customer.rows(1.0), Some(150_000));
//! ```

use parframe_core::arrow::RecordBatch;
use parframe_core::arrow::schema::SchemaRef;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

use crate::Result;

/// The eight TPC-H tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TpchTable {
    /// `region`: 5 rows.
    Region,
    /// `nation`: 25 rows.
    Nation,
    /// `supplier`: 10 000 rows per unit of scale.
    Supplier,
    /// `customer`: 150 000 rows per unit of scale.
    Customer,
    /// `part`: 200 000 rows per unit of scale.
    Part,
    /// `partsupp`: 800 000 rows per unit of scale.
    PartSupp,
    /// `orders`: 1 500 000 rows per unit of scale.
    Orders,
    /// `lineitem`: about 6 000 000 rows per unit of scale (1 to 7 per
    /// order).
    LineItem,
}

impl TpchTable {
    /// All eight, smallest first.
    pub const ALL: [TpchTable; 8] = [
        TpchTable::Region,
        TpchTable::Nation,
        TpchTable::Supplier,
        TpchTable::Customer,
        TpchTable::Part,
        TpchTable::PartSupp,
        TpchTable::Orders,
        TpchTable::LineItem,
    ];

    /// The table's name, as in the TPC-H specification (`lineitem`).
    pub fn name(self) -> &'static str {
        match self {
            TpchTable::Region => "region",
            TpchTable::Nation => "nation",
            TpchTable::Supplier => "supplier",
            TpchTable::Customer => "customer",
            TpchTable::Part => "part",
            TpchTable::PartSupp => "partsupp",
            TpchTable::Orders => "orders",
            TpchTable::LineItem => "lineitem",
        }
    }

    /// The rows at `scale_factor`, when known before generating (all but
    /// `lineitem`, whose lines per order are random).
    pub fn rows(self, scale_factor: f64) -> Option<u64> {
        let n = match self {
            TpchTable::Region => 5,
            TpchTable::Nation => 25,
            TpchTable::Supplier => SupplierGenerator::calculate_row_count(scale_factor, 1, 1),
            TpchTable::Customer => CustomerGenerator::calculate_row_count(scale_factor, 1, 1),
            TpchTable::Part => PartGenerator::calculate_row_count(scale_factor, 1, 1),
            // tpchgen counts parts here; each has 4 suppliers.
            TpchTable::PartSupp => 4 * PartSuppGenerator::calculate_row_count(scale_factor, 1, 1),
            TpchTable::Orders => OrderGenerator::calculate_row_count(scale_factor, 1, 1),
            TpchTable::LineItem => return None,
        };
        u64::try_from(n).ok()
    }

    /// The schema of the table's chunks.
    pub fn schema(self) -> SchemaRef {
        match self {
            TpchTable::Region => RegionArrow::schema_ref(),
            TpchTable::Nation => NationArrow::schema_ref(),
            TpchTable::Supplier => SupplierArrow::schema_ref(),
            TpchTable::Customer => CustomerArrow::schema_ref(),
            TpchTable::Part => PartArrow::schema_ref(),
            TpchTable::PartSupp => PartSuppArrow::schema_ref(),
            TpchTable::Orders => OrderArrow::schema_ref(),
            TpchTable::LineItem => LineItemArrow::schema_ref(),
        }
    }
}

/// The chunks of `table` at `scale_factor`, `chunk_rows` rows each (the
/// last one shorter), generated as the iterator is pulled: one chunk in
/// memory at a time.
pub fn chunks(
    table: TpchTable,
    scale_factor: f64,
    chunk_rows: usize,
) -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send> {
    let (sf, n) = (scale_factor, chunk_rows.max(1));
    fn boxed<I>(it: I) -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send>
    where
        I: Iterator<Item = std::result::Result<RecordBatch, crate::arrow::schema::ArrowError>>
            + Send
            + 'static,
    {
        Box::new(it.map(|r| r.map_err(crate::Error::from)))
    }
    match table {
        TpchTable::Region => {
            boxed(RegionArrow::new(RegionGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
        TpchTable::Nation => {
            boxed(NationArrow::new(NationGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
        TpchTable::Supplier => {
            boxed(SupplierArrow::new(SupplierGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
        TpchTable::Customer => {
            boxed(CustomerArrow::new(CustomerGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
        TpchTable::Part => boxed(PartArrow::new(PartGenerator::new(sf, 1, 1)).with_batch_size(n)),
        TpchTable::PartSupp => {
            boxed(PartSuppArrow::new(PartSuppGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
        TpchTable::Orders => {
            boxed(OrderArrow::new(OrderGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
        TpchTable::LineItem => {
            boxed(LineItemArrow::new(LineItemGenerator::new(sf, 1, 1)).with_batch_size(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_and_schemas_at_a_small_scale() {
        let sf = 0.001;
        for t in TpchTable::ALL {
            let mut rows = 0u64;
            for c in chunks(t, sf, 500) {
                let c = c.unwrap();
                assert_eq!(c.schema(), t.schema(), "{}", t.name());
                assert!(c.num_rows() <= 500);
                rows += c.num_rows() as u64;
            }
            match t.rows(sf) {
                Some(n) => assert_eq!(rows, n, "{}", t.name()),
                None => {
                    let orders = TpchTable::Orders.rows(sf).unwrap();
                    assert!(rows > 3 * orders && rows < 5 * orders, "{rows}");
                }
            }
        }
        assert_eq!(TpchTable::Orders.rows(0.1), Some(150_000));
    }
}
