//! Arrow IPC files: [`IpcSource`] reads record batches as partitions,
//! [`IpcSink`] writes chunks.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_buffer::{Buffer, MutableBuffer};
use arrow_ipc::reader::{FileDecoder, read_footer_length};
use arrow_ipc::writer::FileWriter;
use arrow_ipc::{Block, MetadataVersion};
use arrow_schema::{ArrowError, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{ChunkIter, ChunkSource, Table};

use crate::input::{Input, ReadSeek};
use crate::sink::{FileSink, SinkOutput};
use crate::util::{check_read_args, guard_decoder, split_batch, with_schema};

fn ipc_err(path: &Path, location: Option<String>, e: ArrowError) -> Error {
    match e {
        ArrowError::IoError(_, source) => Error::io(path, source),
        other => Error::format(path, location, other.to_string()),
    }
}

/// An Arrow IPC *file* (also called Feather v2) as a [`ChunkSource`]. The
/// footer is read once, when the source is opened; each record batch of the
/// file is a partition, read on its own (seek to the batch, read its bytes,
/// decode only the projected columns). A batch longer than `chunk_rows` is
/// returned as zero-copy slices.
pub struct IpcSource {
    path: PathBuf,
    input: Input,
    schema: SchemaRef,
    version: MetadataVersion,
    batches: Vec<Block>,
    dictionaries: Vec<Block>,
    /// The file's length: no block may reach past it.
    len: u64,
}

impl std::fmt::Debug for IpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcSource")
            .field("path", &self.path)
            .field("batches", &self.batches.len())
            .field("schema", &self.schema)
            .finish()
    }
}

impl IpcSource {
    /// Opens `path` and reads its footer. A missing file is [`Error::Io`],
    /// a file that is not an Arrow IPC file [`Error::Format`], both naming
    /// the path.
    pub fn try_new(path: impl AsRef<Path>) -> Result<IpcSource> {
        IpcSource::from_input(Input::open(path.as_ref())?)
    }

    pub(crate) fn from_input(input: Input) -> Result<IpcSource> {
        let path = input.path().to_path_buf();
        let mut file = input.open_seekable()?;
        let len = input.len()?;
        let not_ipc =
            |why: &str| Error::format(&path, None, format!("not an Arrow IPC file ({why})"));
        if len < 10 {
            return Err(not_ipc("too short"));
        }
        let mut trailer = [0u8; 10];
        file.seek(SeekFrom::End(-10))
            .and_then(|_| file.read_exact(&mut trailer))
            .map_err(|e| Error::io(&path, e))?;
        let footer_len = read_footer_length(trailer).map_err(|e| not_ipc(&e.to_string()))?;
        if footer_len as u64 + 10 > len {
            return Err(not_ipc("footer longer than the file"));
        }
        let mut footer_buf = vec![0u8; footer_len];
        file.seek(SeekFrom::End(-10 - footer_len as i64))
            .and_then(|_| file.read_exact(&mut footer_buf))
            .map_err(|e| Error::io(&path, e))?;
        let footer = arrow_ipc::root_as_footer(&footer_buf)
            .map_err(|e| not_ipc(&format!("unreadable footer: {e}")))?;
        let ipc_schema = footer
            .schema()
            .ok_or_else(|| not_ipc("no schema in the footer"))?;
        let schema = std::sync::Arc::new(
            arrow_ipc::convert::try_fb_to_schema(ipc_schema)
                .map_err(|e| ipc_err(&path, None, e))?,
        );
        let batches = footer
            .recordBatches()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        let dictionaries = footer
            .dictionaries()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        Ok(IpcSource {
            path,
            input,
            schema,
            version: footer.version(),
            batches,
            dictionaries,
            len,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads the bytes of one block (message and body) into an aligned buffer,
/// after checking that the block lies inside the file (`file_len`): a
/// corrupted footer must not make us allocate what it claims.
fn read_block(file: &mut dyn ReadSeek, block: &Block, file_len: u64) -> std::io::Result<Buffer> {
    let len = usize::try_from(block.metaDataLength())
        .ok()
        .zip(usize::try_from(block.bodyLength()).ok())
        .and_then(|(m, b)| m.checked_add(b))
        .ok_or_else(|| std::io::Error::other("invalid block length in the IPC footer"))?;
    let offset = u64::try_from(block.offset())
        .map_err(|_| std::io::Error::other("invalid block offset in the IPC footer"))?;
    if offset
        .checked_add(len as u64)
        .is_none_or(|end| end > file_len)
    {
        return Err(std::io::Error::other(format!(
            "a block of the IPC footer ({len} bytes at offset {offset}) reaches past the end \
             of the file ({file_len} bytes)"
        )));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = MutableBuffer::from_len_zeroed(len);
    file.read_exact(buf.as_slice_mut())?;
    Ok(buf.into())
}

/// Checks what arrow-ipc's decoder trusts in a block before it decodes it:
/// the message is readable and every buffer it lists lies inside the
/// block's body. (The decoder slices the body at the listed offsets and
/// panics on one outside it; found by the reader fuzz test, see
/// `tests/it/fuzz.rs`.) Other inconsistencies the decoder reports itself,
/// or arrow's array validation does.
fn check_block(block: &Block, buf: &Buffer) -> std::result::Result<(), String> {
    let meta = usize::try_from(block.metaDataLength()).map_err(|_| "a negative message length")?;
    // The body starts 8-byte aligned (the format pads the message to 8)
    // and so does each buffer in it; arrow's typed views assert alignment.
    if meta < 8 || meta > buf.len() || meta % 8 != 0 {
        return Err(format!(
            "a message length of {meta} bytes in a block of {} bytes",
            buf.len()
        ));
    }
    // The same bytes the decoder parses: after the continuation marker
    // (0xFFFFFFFF) and
    // length, or after the length alone (the pre-1.0 layout).
    let message = if buf[..4] == [0xff; 4] {
        &buf[8..]
    } else {
        &buf[4..]
    };
    let message =
        arrow_ipc::root_as_message(message).map_err(|e| format!("an unreadable message: {e}"))?;
    let batch = match message.header_type() {
        arrow_ipc::MessageHeader::RecordBatch => message.header_as_record_batch(),
        arrow_ipc::MessageHeader::DictionaryBatch => {
            message.header_as_dictionary_batch().and_then(|d| d.data())
        }
        _ => None,
    };
    let Some(batch) = batch else {
        return Ok(());
    };
    let body = (buf.len() - meta) as u64;
    for (i, b) in batch.buffers().into_iter().flatten().enumerate() {
        let (offset, length) = (b.offset(), b.length());
        let inside = u64::try_from(offset)
            .ok()
            .zip(u64::try_from(length).ok())
            .and_then(|(o, l)| o.checked_add(l))
            .is_some_and(|end| end <= body);
        if !inside || offset % 8 != 0 {
            return Err(format!(
                "buffer {i} ({length} bytes at offset {offset}) is not an aligned range of \
                 the body of {body} bytes"
            ));
        }
    }
    Ok(())
}

impl ChunkSource for IpcSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn describe(&self) -> String {
        format!("ipc '{}'", self.path.display())
    }

    fn partition_count(&self) -> usize {
        self.batches.len()
    }

    fn read_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<ChunkIter<'_>> {
        let out_schema = check_read_args(
            &self.describe(),
            &self.schema,
            index,
            self.batches.len(),
            projection,
            chunk_rows,
        )?;
        let location = Some(format!("record batch {index}"));
        let io = |e| Error::io(&self.path, e);
        let mut file = self.input.open_seekable()?;
        let mut decoder = FileDecoder::new(self.schema.clone(), self.version);
        if let Some(p) = projection {
            decoder = decoder.with_projection(p.to_vec());
        }
        let corrupt = |what: String| {
            Error::format(
                &self.path,
                location.clone(),
                format!("corrupt IPC file: {what}"),
            )
        };
        for block in &self.dictionaries {
            let buf = read_block(&mut file, block, self.len).map_err(io)?;
            check_block(block, &buf).map_err(corrupt)?;
            guard_decoder(&self.path, location.clone(), || {
                decoder
                    .read_dictionary(block, &buf)
                    .map_err(|e| ipc_err(&self.path, location.clone(), e))
            })?;
        }
        let block = &self.batches[index];
        let buf = read_block(&mut file, block, self.len).map_err(io)?;
        check_block(block, &buf).map_err(corrupt)?;
        let batch = guard_decoder(&self.path, location.clone(), || {
            decoder
                .read_record_batch(block, &buf)
                .map_err(|e| ipc_err(&self.path, location.clone(), e))
        })?;
        let chunks = match batch {
            Some(b) => split_batch(with_schema(b, &out_schema)?, chunk_rows),
            None => Vec::new(),
        };
        Ok(Box::new(chunks.into_iter().map(Ok)))
    }
}

/// Options of [`IpcSink`]: none yet (files are written uncompressed, in
/// the IPC file format); here so that every sink has the same constructor.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct IpcWriteOptions {}

/// Writes chunks to an Arrow IPC file (file format, uncompressed), one
/// record batch per chunk, through arrow-ipc's `FileWriter`; written and
/// committed as every [`FileSink`] is (no partial file on error).
pub type IpcSink = FileSink<FileWriter<SinkOutput>>;

/// Writes each batch through.
impl crate::sink::EncoderMemory for FileWriter<SinkOutput> {}

impl IpcSink {
    /// Starts writing `path` (its directory must exist).
    pub fn try_new(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: IpcWriteOptions,
    ) -> Result<IpcSink> {
        let IpcWriteOptions {} = options;
        let s = schema.clone();
        FileSink::create("IPC", path.as_ref(), schema, move |out| {
            FileWriter::try_new(out, &s)
        })
    }
}

/// Writes `table` to an Arrow IPC file at `path` (see [`IpcSink`]).
pub fn write_ipc(table: &Table, path: impl AsRef<Path>) -> Result<()> {
    let sink = IpcSink::try_new(path, table.schema().clone(), IpcWriteOptions::default())?;
    crate::write_table(table, Box::new(sink))
}
