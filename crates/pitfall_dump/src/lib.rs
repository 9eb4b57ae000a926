//! Goroutine dumps: parse every format Go writes, group the goroutines, and
//! decide the verdicts (leaks, deadlocks, lock contention).
//!
//! Formats, detected from the first bytes:
//! - `?debug=2` text and panic / SIGQUIT / fatal-error tracebacks ([`text`]),
//! - `?debug=1` grouped text ([`text`]),
//! - the protobuf profile, gzipped or not ([`proto`]).
//!
//! Text is parsed streaming, one line at a time: memory grows with the number
//! of *distinct* stacks, not with the number of goroutines. Every size is
//! bounded ([`Limits`]) and no input makes the parser panic or loop.

pub mod group;
pub mod proto;
pub mod text;
pub mod verdict;

pub use group::{Dump, Frame, Group};

use std::io::{BufRead, BufReader, Read};

/// The formats a dump can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `?debug=2`: one block per goroutine, with states and wait times.
    Debug2,
    /// A crash or SIGQUIT traceback (same blocks as debug=2, after a reason).
    Traceback,
    /// `?debug=1`: identical stacks counted together, no states.
    Debug1,
    /// The pprof protobuf profile (`?debug=0`, the default), gzipped or not.
    Proto,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Debug2 => "debug=2",
            Format::Traceback => "traceback",
            Format::Debug1 => "debug=1",
            Format::Proto => "protobuf",
        }
    }
}

/// Bounds on what a dump may make the parser hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of input (after gzip decompression for profiles).
    pub max_bytes: u64,
    /// Longest text line.
    pub max_line: usize,
    /// Frames kept per goroutine (Go itself prints at most 100).
    pub max_frames: usize,
    /// Distinct groups (stacks x states x labels). Each costs its frames'
    /// strings once the dump is summarised, so this bounds memory on
    /// adversarial input; real dumps have thousands at most.
    pub max_groups: usize,
    /// Bytes of a protobuf profile (decoded in memory, after decompression).
    pub max_proto_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 2 << 30,
            max_line: 1 << 20,
            max_frames: 1024,
            max_groups: 200_000,
            max_proto_bytes: 256 << 20,
        }
    }
}

/// Why a dump could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// A reader that fails once more than `left` bytes have been read.
pub(crate) struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One more byte would exceed the limit: find out whether there is one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "dump is larger than the limit of {} bytes (raise it with --max-size)",
                    self.limit
                ))),
            };
        }
        let n = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

pub(crate) fn bounded<R: Read>(inner: R, limit: u64) -> Bounded<R> {
    Bounded {
        inner,
        left: limit,
        limit,
    }
}

/// Reads a dump in any format from `input`.
pub fn parse<R: Read>(input: R, limits: &Limits) -> Result<Dump, Error> {
    let mut reader = BufReader::with_capacity(1 << 16, bounded(input, limits.max_bytes));
    parse_buffered(&mut reader, limits, true)
}

fn parse_buffered(
    reader: &mut dyn BufRead,
    limits: &Limits,
    may_gunzip: bool,
) -> Result<Dump, Error> {
    let head = fill_head(reader)?;
    if head.is_empty() {
        return err("empty input: not a goroutine dump");
    }
    if head.starts_with(&[0x1f, 0x8b]) && may_gunzip {
        // Decompressed streaming too: a gzipped text dump is parsed as it inflates.
        let gz = flate2::bufread::MultiGzDecoder::new(reader);
        let mut inner = BufReader::with_capacity(1 << 16, bounded(gz, limits.max_bytes));
        return parse_buffered(&mut inner, limits, false).map_err(|e| {
            if e.0.starts_with("reading dump:") {
                Error(e.0.replacen("reading dump:", "gzip:", 1))
            } else {
                e
            }
        });
    }
    if looks_binary(&head[..head.len().min(512)]) {
        // A profile is decoded in memory: stacks are stored once however many
        // goroutines share them, so real ones are small; a gzip bomb is not.
        let cap = limits.max_bytes.min(limits.max_proto_bytes);
        let mut raw = Vec::new();
        reader
            .take(cap + 1)
            .read_to_end(&mut raw)
            .map_err(|e| Error(format!("reading dump: {e}")))?;
        if raw.len() as u64 > cap {
            return err(format!(
                "protobuf profile larger than {cap} bytes: not a goroutine profile this tool reads"
            ));
        }
        return proto::parse(&raw, limits);
    }
    text::parse(reader, limits)
}

/// Makes the reader's buffer hold the first bytes of input (at least a few
/// hundred when there are that many) and returns a copy of them.
fn fill_head(reader: &mut dyn BufRead) -> Result<Vec<u8>, Error> {
    let buf = reader
        .fill_buf()
        .map_err(|e| Error(format!("reading dump: {e}")))?;
    Ok(buf[..buf.len().min(4096)].to_vec())
}

/// Text dumps are printable; protobuf starts with a field tag and holds NULs
/// and control bytes early on.
fn looks_binary(head: &[u8]) -> bool {
    head.iter()
        .any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_inputs_are_clear_errors() {
        let l = Limits::default();
        assert!(parse(&b""[..], &l).unwrap_err().0.contains("empty"));
        let e = parse(&b"hello world\nthis is not a dump\n"[..], &l).unwrap_err();
        assert!(e.0.contains("no goroutine"), "{e}");
        let e = parse(&[0x1f, 0x8b, 0x08, 0x00, 0x01][..], &l).unwrap_err();
        assert!(e.0.contains("gzip"), "{e}");
        let e = parse(&[0x0a, 0xff, 0xff, 0x01][..], &l).unwrap_err();
        assert!(e.0.contains("protobuf"), "{e}");
    }

    #[test]
    fn the_size_limit_is_enforced() {
        let l = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let e = parse(
            &b"goroutine 1 [running]:\nmain.main()\n\t/a/m.go:3 +0x1\n"[..],
            &l,
        )
        .unwrap_err();
        assert!(e.0.contains("larger than the limit"), "{e}");
    }
}
