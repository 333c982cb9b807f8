//! Human byte sizes: `512MiB`, `4GB`, `1.5g`, `70%` (of a total).

use crate::{Error, Result};

/// A byte size as the user gave it: absolute, or a percentage of some total
/// (physical RAM, for memory limits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ByteSize {
    /// An absolute number of bytes.
    Bytes(u64),
    /// A fraction in `(0, 1]` of a total decided by the caller.
    Fraction(f64),
}

impl ByteSize {
    /// Parses `"512MiB"`, `"4GB"`, `"1.5g"`, `"1000"` or `"70%"`.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| Error::InvalidArgument(format!("bad percentage '{s}'")))?;
            if !(v > 0.0 && v <= 100.0) {
                return Err(Error::InvalidArgument(format!(
                    "percentage '{s}' must be in (0, 100]"
                )));
            }
            return Ok(ByteSize::Fraction(v / 100.0));
        }
        parse_byte_size(t).map(ByteSize::Bytes)
    }

    /// The number of bytes, resolving a fraction against `total`.
    pub fn resolve(self, total: u64) -> u64 {
        match self {
            ByteSize::Bytes(b) => b,
            ByteSize::Fraction(f) => (total as f64 * f) as u64,
        }
    }
}

/// Parses an absolute byte size: a number (fractions allowed) and an optional
/// unit, `B`, `K/KB/KiB`, `M/MB/MiB`, `G/GB/GiB`, `T/TB/TiB` (case-insensitive).
/// `KB` means 1000 and `KiB` 1024; a bare `K`/`M`/`G` means the binary unit,
/// as in `ulimit` and most tools' memory flags.
pub fn parse_byte_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.replace('_', "").parse().map_err(|_| {
        Error::InvalidArgument(format!("bad byte size '{s}': expected e.g. 512MiB"))
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        "t" | "tib" => 1 << 40,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(Error::InvalidArgument(format!(
                "bad byte size '{s}': unknown unit '{other}'"
            )));
        }
    };
    if !num.is_finite() || num < 0.0 {
        return Err(Error::InvalidArgument(format!("bad byte size '{s}'")));
    }
    Ok((num * mult as f64) as u64)
}

/// Formats a byte count for people: `1.5 GiB`, `12.0 MiB`, `512 B`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_byte_size("100").unwrap(), 100);
        assert_eq!(parse_byte_size("4GB").unwrap(), 4_000_000_000);
        assert_eq!(parse_byte_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_byte_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_byte_size(" 64 KiB ").unwrap(), 65536);
        assert!(parse_byte_size("12 parsecs").is_err());
        assert!(parse_byte_size("").is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(ByteSize::parse("50%").unwrap().resolve(1000), 500);
        assert!(ByteSize::parse("150%").is_err());
        assert_eq!(ByteSize::parse("1KiB").unwrap().resolve(0), 1024);
    }

    #[test]
    fn formats() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB");
    }
}
