//! The `.npy` preamble and header dict: magic, version, header length, and the Python
//! literal `{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }`.
//!
//! The parser is a small, bounded, non-recursive-in-depth (limit 32) reader of the Python
//! literal subset numpy writes. It never allocates more than the header's own size and never
//! panics on any byte string (fuzzed: `fuzz/fuzz_targets/npy_header.rs`).

use super::problem::{fmt_shape, NpyProblem};

/// The six magic bytes that start every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Largest header accepted, in bytes. numpy's own reader refuses headers above 10 000 bytes
/// by default; 1 MiB leaves room for exotic writers while bounding allocation.
pub const MAX_HEADER_LEN: u64 = 1 << 20;

/// Element types recap reads. Floats are embeddings; `I64` is for index files
/// (retrieval results) only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE half precision (`f2`).
    F16,
    /// IEEE single precision (`f4`).
    F32,
    /// IEEE double precision (`f8`).
    F64,
    /// Signed 64-bit integer (`i8`), for index arrays.
    I64,
}

impl DType {
    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            DType::F16 => 2,
            DType::F32 => 4,
            DType::F64 => 8,
            DType::I64 => 8,
        }
    }

    /// numpy's name (`float16`, `float32`, `float64`, `int64`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I64 => "int64",
        }
    }

    /// True for the float types.
    pub fn is_float(self) -> bool {
        !matches!(self, DType::I64)
    }
}

/// A parsed `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The shape as written in the file: `[n]` or `[n, d]`.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// The dtype string as written (`<f4`, `>f8`, ...).
    pub descr: String,
    /// Data stored big-endian (`>`; `=`/`|` mean this machine's order).
    pub big_endian: bool,
    /// Data stored column-major (numpy `fortran_order: True`).
    pub fortran_order: bool,
    /// Format version `(major, minor)`.
    pub version: (u8, u8),
    /// Offset of the first data byte from the start of the array (preamble + header).
    pub data_offset: u64,
}

impl NpyHeader {
    /// Rows of the matrix view: `n` for shapes `(n,)` and `(n, d)`.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// Columns of the matrix view: `d` for `(n, d)`, 1 for a 1-D array.
    pub fn cols(&self) -> usize {
        self.shape.get(1).copied().unwrap_or(1)
    }

    /// Number of elements (fits in `usize`: checked when parsing).
    pub fn len(&self) -> usize {
        self.rows() * self.cols()
    }

    /// True if the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of data the shape requires (checked when parsing).
    pub fn data_len(&self) -> u64 {
        (self.len() as u64) * self.dtype.itemsize() as u64
    }

    /// Byte order in words: `little-endian` or `big-endian`.
    pub fn byte_order(&self) -> &'static str {
        if self.big_endian {
            "big-endian"
        } else {
            "little-endian"
        }
    }

    /// The shape in numpy's notation, e.g. `(1000, 512)`.
    pub fn shape_string(&self) -> String {
        let s: Vec<u64> = self.shape.iter().map(|&v| v as u64).collect();
        fmt_shape(&s)
    }
}

/// Bytes needed before the header length is known: magic, version, and the longest
/// (4-byte) length field.
pub const PREAMBLE_MAX: usize = 12;

/// Parse the preamble (`prefix` = the first up-to-12 bytes of the array) into
/// `(version, header_len, header_start)`. `total_len` is the array's full length in bytes.
pub fn parse_preamble(prefix: &[u8], total_len: u64) -> Result<((u8, u8), u64, u64), NpyProblem> {
    if total_len == 0 || prefix.is_empty() {
        return Err(NpyProblem::EmptyFile);
    }
    let magic_len = prefix.len().min(6);
    if prefix[..magic_len] != MAGIC[..magic_len] {
        return Err(NpyProblem::BadMagic {
            found: prefix[..magic_len].to_vec(),
        });
    }
    need(prefix, 8, "magic string and version")?;
    let (major, minor) = (prefix[6], prefix[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(NpyProblem::UnsupportedVersion { major, minor }),
    };
    need(prefix, 8 + len_bytes, "header length field")?;
    let header_len = if len_bytes == 2 {
        u16::from_le_bytes([prefix[8], prefix[9]]) as u64
    } else {
        u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as u64
    };
    let header_start = 8 + len_bytes as u64;
    if header_len > MAX_HEADER_LEN {
        return Err(NpyProblem::HeaderTooLarge {
            len: header_len,
            limit: MAX_HEADER_LEN,
        });
    }
    let header_end = header_start + header_len;
    if header_end > total_len {
        return Err(NpyProblem::HeaderBeyondFile {
            header_end,
            file_len: total_len,
        });
    }
    Ok(((major, minor), header_len, header_start))
}

fn need(prefix: &[u8], n: usize, part: &'static str) -> Result<(), NpyProblem> {
    if prefix.len() < n {
        return Err(NpyProblem::Truncated {
            part,
            needed: n as u64,
            available: prefix.len() as u64,
        });
    }
    Ok(())
}

/// Parse a whole header from the first bytes of an array whose total length is `total_len`
/// (`bytes` must contain at least the preamble and header; extra bytes are ignored). Does
/// not check the data length: see [`check_data_len`].
pub fn parse_header(bytes: &[u8], total_len: u64) -> Result<NpyHeader, NpyProblem> {
    let prefix = &bytes[..bytes.len().min(PREAMBLE_MAX)];
    let (version, header_len, header_start) = parse_preamble(prefix, total_len)?;
    let end = header_start + header_len;
    if (bytes.len() as u64) < end {
        return Err(NpyProblem::Truncated {
            part: "header",
            needed: end,
            available: bytes.len() as u64,
        });
    }
    let dict = &bytes[header_start as usize..end as usize];
    parse_dict(dict, version, end)
}

/// Interpret the header dict text.
pub fn parse_dict(
    text: &[u8],
    version: (u8, u8),
    data_offset: u64,
) -> Result<NpyHeader, NpyProblem> {
    let mut p = Parser { s: text, i: 0 };
    let value = p.value(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(malformed(format!(
            "unexpected text after the dict at byte {}",
            p.i
        )));
    }
    let Value::Dict(entries) = value else {
        return Err(malformed("the header is not a dict"));
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (k, v) in entries {
        let Value::Str(key) = k else {
            return Err(malformed("a dict key is not a string"));
        };
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            other => return Err(malformed(format!("unexpected key '{other}'"))),
        };
        if slot.replace(v).is_some() {
            return Err(malformed(format!("duplicate key '{key}'")));
        }
    }
    let descr = descr.ok_or_else(|| malformed("missing key 'descr'"))?;
    let fortran = match fortran.ok_or_else(|| malformed("missing key 'fortran_order'"))? {
        Value::Bool(b) => b,
        _ => return Err(malformed("'fortran_order' is not True or False")),
    };
    let shape = parse_shape(shape.ok_or_else(|| malformed("missing key 'shape'"))?)?;
    let (dtype, big_endian, descr) = parse_descr(descr)?;
    let shape = check_shape(shape, dtype)?;
    Ok(NpyHeader {
        shape,
        dtype,
        descr,
        big_endian,
        fortran_order: fortran,
        version,
        data_offset,
    })
}

fn malformed(detail: impl Into<String>) -> NpyProblem {
    NpyProblem::MalformedHeader {
        detail: detail.into(),
    }
}

fn parse_shape(v: Value) -> Result<Vec<u64>, NpyProblem> {
    let Value::Tuple(items) = v else {
        return Err(malformed("'shape' is not a tuple"));
    };
    let mut shape = Vec::with_capacity(items.len());
    for it in items {
        match it {
            Value::Int(Some(n)) => shape.push(n),
            Value::Int(None) => {
                return Err(NpyProblem::ShapeOverflow {
                    shape: vec![u64::MAX],
                })
            }
            _ => {
                return Err(malformed(
                    "'shape' holds something other than non-negative integers",
                ))
            }
        }
    }
    Ok(shape)
}

fn check_shape(shape: Vec<u64>, dtype: DType) -> Result<Vec<usize>, NpyProblem> {
    if shape.is_empty() || shape.len() > 2 {
        return Err(NpyProblem::UnsupportedDims { shape });
    }
    let elems = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let bytes = elems.and_then(|e| e.checked_mul(dtype.itemsize() as u64));
    let fits = bytes.is_some_and(|b| b <= isize::MAX as u64 && usize::try_from(b).is_ok());
    if !fits {
        return Err(NpyProblem::ShapeOverflow { shape });
    }
    Ok(shape.iter().map(|&d| d as usize).collect())
}

/// Parse a dtype string like `<f4` into (dtype, big_endian, normalized descr).
fn parse_descr(v: Value) -> Result<(DType, bool, String), NpyProblem> {
    let s = match v {
        Value::Str(s) => s,
        Value::List => return Err(NpyProblem::StructuredDtype),
        _ => return Err(malformed("'descr' is not a string")),
    };
    let (order, body) = match s.as_bytes().first() {
        Some(b'<' | b'>' | b'=' | b'|') => (s.as_bytes()[0], &s[1..]),
        _ => (b'=', s.as_str()),
    };
    let big_endian = match order {
        b'>' => true,
        b'<' => false,
        _ => cfg!(target_endian = "big"),
    };
    let kind = body.chars().next();
    let size = &body[kind.map_or(0, |c| c.len_utf8())..];
    let dtype = match (kind, size) {
        (Some('f'), "2") => DType::F16,
        (Some('f'), "4") => DType::F32,
        (Some('f'), "8") => DType::F64,
        (Some('i'), "8") => DType::I64,
        (Some('i' | 'u' | 'b' | '?'), _) => return Err(NpyProblem::IntegerDtype { descr: s }),
        (Some('c'), _) => return Err(NpyProblem::ComplexDtype { descr: s }),
        (Some('O'), _) => return Err(NpyProblem::ObjectDtype { descr: s }),
        _ => return Err(NpyProblem::UnsupportedDtype { descr: s }),
    };
    Ok((dtype, big_endian, s))
}

/// Check that `available` data bytes (after the header) match what the shape needs.
pub fn check_data_len(header: &NpyHeader, available: u64) -> Result<(), NpyProblem> {
    let expected = header.data_len();
    if available < expected {
        return Err(NpyProblem::DataTooShort {
            expected,
            actual: available,
        });
    }
    if available > expected {
        return Err(NpyProblem::DataTooLong {
            expected,
            actual: available,
        });
    }
    Ok(())
}

/// The Python literal subset found in `.npy` headers.
enum Value {
    Str(String),
    Bool(bool),
    /// A non-negative integer; `None` if it overflows u64.
    Int(Option<u64>),
    Tuple(Vec<Value>),
    /// A list (only a structured dtype's field list is expected here).
    List,
    Dict(Vec<(Value, Value)>),
    NoneVal,
}

const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0) {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, NpyProblem> {
        if depth > MAX_DEPTH {
            return Err(malformed("nesting too deep"));
        }
        match self.peek() {
            None => Err(malformed("unexpected end of header")),
            Some(b'{') => self.dict(depth),
            Some(b'(') => self.seq(b')', depth).map(Value::Tuple),
            Some(b'[') => self.seq(b']', depth).map(|_| Value::List),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(c) if c.is_ascii_digit() => Ok(self.int()),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(b'-') => Err(malformed("negative number in header")),
            Some(c) => Err(malformed(format!(
                "unexpected character {:?} at byte {}",
                c as char, self.i
            ))),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, NpyProblem> {
        self.i += 1; // '{'
        let mut entries = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Dict(entries));
            }
            let k = self.value(depth + 1)?;
            if self.peek() != Some(b':') {
                return Err(malformed(format!("expected ':' at byte {}", self.i)));
            }
            self.i += 1;
            let v = self.value(depth + 1)?;
            entries.push((k, v));
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => {
                    return Err(malformed(format!(
                        "expected ',' or '}}' at byte {}",
                        self.i
                    )))
                }
            }
        }
    }

    fn seq(&mut self, close: u8, depth: usize) -> Result<Vec<Value>, NpyProblem> {
        self.i += 1; // '(' or '['
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(malformed(format!(
                        "expected ',' or '{}' at byte {}",
                        close as char, self.i
                    )))
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Value, NpyProblem> {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            if c == quote {
                return Ok(Value::Str(String::from_utf8_lossy(&out).into_owned()));
            }
            if c == b'\\' {
                match self.s.get(self.i) {
                    Some(&e) => {
                        out.push(e);
                        self.i += 1;
                    }
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        Err(malformed("unterminated string"))
    }

    fn int(&mut self) -> Value {
        let mut v: Option<u64> = Some(0);
        while let Some(&c) = self.s.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v
                .and_then(|x| x.checked_mul(10))
                .and_then(|x| x.checked_add((c - b'0') as u64));
            self.i += 1;
        }
        // Python 2 long suffix, as in old headers: (3L, 4L).
        if matches!(self.s.get(self.i), Some(b'L' | b'l')) {
            self.i += 1;
        }
        Value::Int(v)
    }

    fn word(&mut self) -> Result<Value, NpyProblem> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            b"True" => Ok(Value::Bool(true)),
            b"False" => Ok(Value::Bool(false)),
            b"None" => Ok(Value::NoneVal),
            w => Err(malformed(format!(
                "unexpected word '{}'",
                String::from_utf8_lossy(w)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy_bytes(dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend([1, 0]);
        v.extend((dict.len() as u16).to_le_bytes());
        v.extend(dict.as_bytes());
        v
    }

    #[test]
    fn parses_numpy_header() {
        let b = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }   \n");
        let h = parse_header(&b, b.len() as u64 + 48).unwrap();
        assert_eq!(h.shape, vec![3, 4]);
        assert_eq!(h.dtype, DType::F32);
        assert!(!h.big_endian && !h.fortran_order);
        assert_eq!(h.data_offset, b.len() as u64);
    }

    #[test]
    fn one_d_and_py2_longs() {
        let b = npy_bytes("{'descr': '>f8', 'fortran_order': True, 'shape': (5L,), }");
        let h = parse_header(&b, 1000).unwrap();
        assert_eq!((h.rows(), h.cols()), (5, 1));
        assert!(h.big_endian && h.fortran_order);
    }

    #[test]
    fn specific_problems() {
        type Check = fn(&NpyProblem) -> bool;
        let cases: Vec<(&str, Check)> = vec![
            (
                "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                |p| matches!(p, NpyProblem::IntegerDtype { .. }),
            ),
            (
                "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }",
                |p| matches!(p, NpyProblem::ComplexDtype { .. }),
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
                |p| matches!(p, NpyProblem::ObjectDtype { .. }),
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                |p| matches!(p, NpyProblem::StructuredDtype),
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }",
                |p| matches!(p, NpyProblem::UnsupportedDims { .. }),
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                |p| matches!(p, NpyProblem::UnsupportedDims { .. }),
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
                |p| matches!(p, NpyProblem::ShapeOverflow { .. }),
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 4), }",
                |p| matches!(p, NpyProblem::ShapeOverflow { .. }),
            ),
            ("{'descr': '<f4', 'shape': (3,), }", |p| {
                matches!(p, NpyProblem::MalformedHeader { .. })
            }),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",
                |p| matches!(p, NpyProblem::MalformedHeader { .. }),
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ",
                |p| matches!(p, NpyProblem::MalformedHeader { .. }),
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }",
                |p| matches!(p, NpyProblem::MalformedHeader { .. }),
            ),
        ];
        for (dict, ok) in cases {
            let b = npy_bytes(dict);
            let p = parse_header(&b, 1 << 40).unwrap_err();
            assert!(ok(&p), "{dict}: got {p:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let dict = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let b = npy_bytes(&dict);
        assert!(matches!(
            parse_header(&b, 1 << 20),
            Err(NpyProblem::MalformedHeader { .. })
        ));
    }
}
