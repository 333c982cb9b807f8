//! Mutation fuzzing of the file readers (#15 item 16), on the stable
//! toolchain.
//!
//! Every file of the corpus (`tests/fuzz/<format>/`: small seeds of each
//! format, and every input that once broke a reader) is read first. Then
//! proptest applies 1 to 3 mutations to a corpus file (bit flips, bytes
//! set to values readers treat specially, truncation, deletions,
//! insertions, a range copied elsewhere) and reads the result through the
//! same path users take (`open_source`, then every partition, with and
//! without a projection). A read must end in rows or in an error; a panic
//! fails the test, and an abort (an allocation sized by a corrupted
//! header) kills the binary, so it fails too.
//!
//! Each run tries [`cases`] new inputs per format (64 by default) from a
//! fresh random seed, so every CI run fuzzes a little; a failure is shrunk
//! to a small mutation list and its seed recorded under
//! `proptest-regressions/`. A longer campaign:
//! `PARFRAME_FUZZ_CASES=20000 cargo test --release -p parframe-io --test it fuzz`.
//!
//! To add an input that once failed: copy it into the format's corpus
//! folder (the replay test then covers it), with the fix.
//! `cargo test -p parframe-io --test it write_fuzz_seeds -- --ignored`
//! rewrites the seeds.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use parframe_common::fuzz::{ByteMutation as Mutation, apply, byte_mutation};
use parframe_common::panic_message;
use parframe_io::{
    CsvWriteOptions, JsonWriteOptions, ParquetWriteOptions, open_source, read_all, write_csv,
    write_ipc, write_json, write_parquet,
};
use proptest::prelude::*;

use crate::common::all_types;

/// The formats fuzzed, by corpus folder and file extension.
const FORMATS: &[(&str, &str)] = &[
    ("csv", "csv"),
    ("parquet", "parquet"),
    ("ipc", "arrow"),
    ("json", "ndjson"),
];

fn corpus_dir(format: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(format)
}

/// The corpus files of `format`, sorted by name.
fn corpus(format: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(format))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {format}");
    files
}

/// New inputs per format and run: `PARFRAME_FUZZ_CASES`, default 64.
fn cases() -> u32 {
    std::env::var("PARFRAME_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Reads `path` as users do: every partition, all columns and then the
/// last column alone. `Ok` when it gave rows or a clean error; `Err` with
/// the panic's message when a reader panicked.
fn read_without_panic(path: &Path) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        let outcome = match open_source(path) {
            Err(e) if e.to_string().contains("the decoder failed") => "refused by the panic guard",
            Err(_) => "refused at open",
            Ok(source) => {
                // The planner reads statistics (row-group pruning, join order).
                let _ = source.statistics();
                let all = read_all(source.as_ref(), None, 1024);
                let n = source.schema().fields().len();
                if n > 0 {
                    let _ = read_all(source.as_ref(), Some(&[n - 1]), 7);
                }
                match all {
                    Ok(_) => "read",
                    // The decoder panicked and the guard caught it: a
                    // decoder bug our checks do not cover yet.
                    Err(e) if e.to_string().contains("the decoder failed") => {
                        if std::env::var_os("PARFRAME_FUZZ_TRACE").is_some() {
                            eprintln!("fuzz guard: {e}");
                        }
                        "refused by the panic guard"
                    }
                    Err(_) => "refused while reading",
                }
            }
        };
        // `PARFRAME_FUZZ_TRACE=1`: one line per input, to see how far
        // mutants get (a campaign's statistics).
        if std::env::var_os("PARFRAME_FUZZ_TRACE").is_some() {
            eprintln!("fuzz outcome: {outcome}");
        }
    }))
    .map_err(|p| panic_message(&*p))
}

/// Bytes with a meaning to some reader: quotes, separators, line ends,
/// escapes, JSON structure, digits and signs, NUL, invalid UTF-8.
const SPECIAL: &[u8] = b"\",;\t\n\r\\{}[]:01-.eE \0\xff\xc3";

fn mutation() -> impl Strategy<Value = Mutation> {
    byte_mutation(SPECIAL)
}

#[test]
fn the_corpus_reads_without_panics() {
    let dir = tempfile::tempdir().unwrap();
    for (format, ext) in FORMATS {
        for (name, bytes) in corpus(format) {
            // Copied under the format's extension: the reader is chosen by it.
            let path = dir.path().join(format!("input.{ext}"));
            std::fs::write(&path, &bytes).unwrap();
            if let Err(panic) = read_without_panic(&path) {
                panic!("{format} corpus file {name} panicked the reader: {panic}");
            }
        }
    }
}

/// Every seed is a valid file of its format that reads back whole: the
/// mutations start from real files, not from noise.
#[test]
fn the_seeds_are_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    for (format, ext) in FORMATS {
        for (name, bytes) in corpus(format) {
            if !name.starts_with("seed-") {
                continue;
            }
            let path = dir.path().join(format!("input.{ext}"));
            std::fs::write(&path, &bytes).unwrap();
            let source = open_source(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let t = read_all(source.as_ref(), None, 1024).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(t.num_rows() > 0, "{name}");
        }
    }
}

/// Reads `files[pick]` changed by `mutations`, as `input.{ext}` in a
/// temporary directory.
fn mutated_read(
    format: &str,
    ext: &str,
    pick: prop::sample::Index,
    mutations: &[Mutation],
) -> Result<(), TestCaseError> {
    let files = corpus(format);
    let (name, bytes) = pick.get(&files);
    let mut data = bytes.clone();
    for m in mutations {
        apply(&mut data, m);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("input.{ext}"));
    std::fs::write(&path, &data).unwrap();
    read_without_panic(&path).map_err(|panic| {
        TestCaseError::fail(format!(
            "{format} file {name} with {mutations:?} panicked the reader: {panic}"
        ))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_csv(pick in any::<prop::sample::Index>(), m in prop::collection::vec(mutation(), 1..4)) {
        mutated_read("csv", "csv", pick, &m)?;
    }

    #[test]
    fn fuzz_parquet(pick in any::<prop::sample::Index>(), m in prop::collection::vec(mutation(), 1..4)) {
        mutated_read("parquet", "parquet", pick, &m)?;
    }

    #[test]
    fn fuzz_ipc(pick in any::<prop::sample::Index>(), m in prop::collection::vec(mutation(), 1..4)) {
        mutated_read("ipc", "arrow", pick, &m)?;
    }

    #[test]
    fn fuzz_json(pick in any::<prop::sample::Index>(), m in prop::collection::vec(mutation(), 1..4)) {
        mutated_read("json", "ndjson", pick, &m)?;
    }
}

/// Rewrites the seed files of the corpus (run by hand after a change of
/// the writers; the files are checked in).
#[test]
#[ignore = "writes the checked-in seed corpus"]
fn write_fuzz_seeds() {
    let csv_dir = corpus_dir("csv");
    for (format, _) in FORMATS {
        std::fs::create_dir_all(corpus_dir(format)).unwrap();
    }
    // Parquet and IPC hold every type; CSV and JSON the ones they write.
    let rich = all_types(true);
    let plain = all_types(false);
    write_parquet(
        &rich,
        corpus_dir("parquet").join("seed-all-types.parquet"),
        &ParquetWriteOptions::default(),
    )
    .unwrap();
    write_ipc(&rich, corpus_dir("ipc").join("seed-all-types.arrow")).unwrap();
    write_json(
        &plain,
        corpus_dir("json").join("seed-all-types.ndjson"),
        &JsonWriteOptions::default(),
    )
    .unwrap();
    write_csv(
        &plain,
        csv_dir.join("seed-all-types.csv"),
        &CsvWriteOptions::default(),
    )
    .unwrap();
    // CSV shapes its reader treats specially: quoted fields holding
    // separators, quotes and newlines; no header; CRLF line ends.
    std::fs::write(
        csv_dir.join("seed-quoted.csv"),
        "id,v,txt\n1,2.5,\"a, \"\"quoted\"\" field\"\n2,,\"two\nlines\"\n3,-4e3,plain\n",
    )
    .unwrap();
    std::fs::write(
        csv_dir.join("seed-no-header-crlf.csv"),
        "1,x,2024-01-31\r\n2,y,2024-02-29\r\n3,,1999-12-31\r\n",
    )
    .unwrap();
    // Inputs the fuzz tests found, each a seed with the shrunk mutations
    // proptest reported, kept as files so the replay covers them.
    let found: &[(&str, &str, &[Mutation])] = &[
        // arrow-ipc sliced the body at a buffer offset outside it (panic).
        (
            "ipc",
            "found-buffer-outside-body.arrow",
            &[Mutation::Delete { at: 35675, len: 1 }],
        ),
        // arrow's validation asserted a buffer's alignment (panic).
        (
            "ipc",
            "found-unaligned-buffer.arrow",
            &[Mutation::Set {
                at: 13747,
                byte: 123,
            }],
        ),
        // parquet asserted a column chunk's start was not negative (panic).
        (
            "parquet",
            "found-negative-chunk-offset.parquet",
            &[Mutation::Flip { at: 40513, bit: 0 }],
        ),
    ];
    for (format, name, mutations) in found {
        let ext = name.rsplit('.').next().unwrap();
        let mut data =
            std::fs::read(corpus_dir(format).join(format!("seed-all-types.{ext}"))).unwrap();
        for m in *mutations {
            apply(&mut data, m);
        }
        std::fs::write(corpus_dir(format).join(name), data).unwrap();
    }
    std::fs::write(
        corpus_dir("json").join("seed-shapes.ndjson"),
        "{\"a\":1,\"b\":\"x\"}\n{\"b\":null,\"a\":2.5}\n{}\n{\"a\":-3,\"b\":\"\\u00e9\\n\"}\n",
    )
    .unwrap();
}
