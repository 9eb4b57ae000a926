//! The pprof protobuf profile, decoded by hand: only the messages a goroutine
//! profile needs (Profile, Sample, Label, Location, Line, Function), with every
//! length and index checked.
//!
//! Field numbers (profile.proto): Profile{1 sample_type, 2 sample, 4 location,
//! 5 function, 6 string_table}; Sample{1 location_id, 2 value, 3 label};
//! Label{1 key, 2 str}; Location{1 id, 4 line}; Line{1 function_id, 2 line};
//! Function{1 id, 2 name, 4 filename}.

use crate::group::{Builder, Raw, RawFrame};
use crate::{err, Error, Format, Limits};
use std::collections::HashMap;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn bad<T>(what: &str) -> Result<T, Error> {
    err(format!("invalid protobuf profile: {what}"))
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return bad("truncated varint");
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return bad("varint overflows 64 bits");
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bad("varint too long")
    }

    /// The next field, or `None` at the end.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, Error> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let (num, wire) = (tag >> 3, tag & 7);
        if num == 0 {
            return bad("field number 0");
        }
        let v = match wire {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Value::Fixed
            }
            2 => {
                let n = self.varint()?;
                let n = usize::try_from(n)
                    .map_err(|_| Error("invalid protobuf profile: length".into()))?;
                let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
                let Some(end) = end else {
                    return bad("truncated length-delimited field");
                };
                let b = &self.buf[self.pos..end];
                self.pos = end;
                Value::Bytes(b)
            }
            5 => {
                self.skip(4)?;
                Value::Fixed
            }
            _ => return bad(&format!("unsupported wire type {wire}")),
        };
        Ok(Some((num, v)))
    }

    fn skip(&mut self, n: usize) -> Result<(), Error> {
        if self.pos + n > self.buf.len() {
            return bad("truncated fixed-size field");
        }
        self.pos += n;
        Ok(())
    }
}

/// Repeated integers, packed or not.
fn push_ints(v: Value, out: &mut Vec<u64>) -> Result<(), Error> {
    match v {
        Value::Varint(x) => out.push(x),
        Value::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                out.push(r.varint()?);
            }
        }
        Value::Fixed => return bad("fixed-size integer where a varint was expected"),
    }
    Ok(())
}

fn int(v: Value) -> Result<u64, Error> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => bad("expected an integer"),
    }
}

fn bytes<'a>(v: Value<'a>) -> Result<&'a [u8], Error> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => bad("expected a length-delimited field"),
    }
}

struct Sample<'a> {
    locations: Vec<u64>,
    values: Vec<u64>,
    labels: Vec<&'a [u8]>,
}

/// Decodes a (decompressed) goroutine profile.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<crate::Dump, Error> {
    if buf.len() as u64 > limits.max_bytes {
        return err(format!(
            "dump is larger than the limit of {} bytes (raise it with --max-size)",
            limits.max_bytes
        ));
    }
    let mut strings: Vec<&[u8]> = Vec::new();
    let mut samples: Vec<&[u8]> = Vec::new();
    let mut locations: Vec<&[u8]> = Vec::new();
    let mut functions: Vec<&[u8]> = Vec::new();
    let mut r = Reader::new(buf);
    while let Some((num, v)) = r.field()? {
        match num {
            2 => samples.push(bytes(v)?),
            4 => locations.push(bytes(v)?),
            5 => functions.push(bytes(v)?),
            6 => strings.push(bytes(v)?),
            _ => {}
        }
    }
    if strings.first().is_some_and(|s| !s.is_empty()) {
        return bad("string_table[0] must be empty");
    }
    if samples.is_empty() && locations.is_empty() && strings.is_empty() {
        return bad("no samples, locations or strings");
    }
    let string = |i: u64| -> Result<&[u8], Error> {
        match strings.get(i as usize) {
            Some(s) => Ok(s),
            None => bad(&format!("string index {i} out of range")),
        }
    };
    let mut b = Builder::new(limits);
    // function id -> (name, file) interned
    let mut funcs: HashMap<u64, (u32, u32)> = HashMap::new();
    for f in functions {
        let mut r = Reader::new(f);
        let (mut id, mut name, mut file) = (0, 0, 0);
        while let Some((num, v)) = r.field()? {
            match num {
                1 => id = int(v)?,
                2 => name = int(v)?,
                4 => file = int(v)?,
                _ => {}
            }
        }
        let name = b.intern_bytes(string(name)?);
        let file = b.intern_bytes(string(file)?);
        funcs.insert(id, (name, file));
    }
    // location id -> frames, innermost (inlined callee) first
    let mut locs: HashMap<u64, Vec<RawFrame>> = HashMap::new();
    for l in locations {
        let mut r = Reader::new(l);
        let mut id = 0;
        let mut lines = Vec::new();
        while let Some((num, v)) = r.field()? {
            match num {
                1 => id = int(v)?,
                4 => {
                    let mut lr = Reader::new(bytes(v)?);
                    let (mut fid, mut line) = (0, 0);
                    while let Some((n, v)) = lr.field()? {
                        match n {
                            1 => fid = int(v)?,
                            2 => line = int(v)?,
                            _ => {}
                        }
                    }
                    let Some(&(name, file)) = funcs.get(&fid) else {
                        return bad(&format!("location {id} names unknown function {fid}"));
                    };
                    lines.push((name, file, line.min(u32::MAX as u64) as u32));
                }
                _ => {}
            }
        }
        locs.insert(id, lines);
    }
    let mut frames: Vec<RawFrame> = Vec::new();
    let mut labels: Vec<(u32, u32)> = Vec::new();
    for s in samples {
        let sample = decode_sample(s)?;
        frames.clear();
        for id in &sample.locations {
            let Some(lines) = locs.get(id) else {
                return bad(&format!("sample names unknown location {id}"));
            };
            for fr in lines {
                if frames.len() < limits.max_frames {
                    frames.push(*fr);
                }
            }
        }
        labels.clear();
        for l in &sample.labels {
            let mut r = Reader::new(l);
            let (mut k, mut v) = (0, 0);
            while let Some((n, val)) = r.field()? {
                match n {
                    1 => k = int(val)?,
                    2 => v = int(val)?,
                    _ => {}
                }
            }
            if v == 0 {
                continue; // numeric label
            }
            let k = b.intern_bytes(string(k)?);
            let v = b.intern_bytes(string(v)?);
            labels.push((k, v));
        }
        let count = sample.values.first().copied().unwrap_or(1);
        if count == 0 {
            continue;
        }
        b.add(Raw {
            count,
            id: None,
            state: 0,
            wait_minutes: None,
            frames: &frames,
            created: None,
            labels: &mut labels,
            leaked: false,
            in_bubble: false,
            locked: false,
            elided: false,
        })?;
    }
    b.finish(Format::Proto, None)
}

fn decode_sample(s: &[u8]) -> Result<Sample<'_>, Error> {
    let mut out = Sample {
        locations: Vec::new(),
        values: Vec::new(),
        labels: Vec::new(),
    };
    let mut r = Reader::new(s);
    while let Some((num, v)) = r.field()? {
        match num {
            1 => push_ints(v, &mut out.locations)?,
            2 => push_ints(v, &mut out.values)?,
            3 => out.labels.push(bytes(v)?),
            _ => {}
        }
    }
    Ok(out)
}
