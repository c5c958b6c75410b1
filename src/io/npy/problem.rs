//! What can be wrong with a `.npy` file or `.npz` member, as a matchable value.
//!
//! Every reader error about the file's content is an [`crate::Error::Npy`] whose `problem` is
//! an [`NpyProblem`]: tests and callers match the variant, people read its message.

use std::fmt;

/// The specific reason a `.npy`/`.npz` input was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyProblem {
    /// The file has zero bytes.
    EmptyFile,
    /// The file ends before the named part is complete.
    Truncated {
        /// The part that is cut short ("magic string", "header length", "header").
        part: &'static str,
        /// Bytes that part needs.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The first six bytes are not `\x93NUMPY`.
    BadMagic {
        /// The bytes found instead (up to six).
        found: Vec<u8>,
    },
    /// A format version other than 1.0, 2.0, 3.0.
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header length field is larger than the reader's limit.
    HeaderTooLarge {
        /// The claimed header length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The header length field points past the end of the file.
    HeaderBeyondFile {
        /// Where the header would end.
        header_end: u64,
        /// The file (or member) length.
        file_len: u64,
    },
    /// The header is not the dict numpy writes (`{'descr': ..., 'fortran_order': ...,
    /// 'shape': (...)}`).
    MalformedHeader {
        /// What is wrong with it.
        detail: String,
    },
    /// An integer or boolean dtype where floats are required.
    IntegerDtype {
        /// The dtype string (e.g. `<i8`).
        descr: String,
    },
    /// A complex dtype (`<c8`, `<c16`).
    ComplexDtype {
        /// The dtype string.
        descr: String,
    },
    /// A Python-object array (`|O`), which cannot be read without pickle.
    ObjectDtype {
        /// The dtype string.
        descr: String,
    },
    /// A structured (record) dtype, given as a list of fields.
    StructuredDtype,
    /// Any other dtype that is not f2/f4/f8 (strings, datetimes, odd sizes...).
    UnsupportedDtype {
        /// The dtype string.
        descr: String,
    },
    /// More than two dimensions (or zero: a scalar).
    UnsupportedDims {
        /// The shape in the header.
        shape: Vec<u64>,
    },
    /// rows × cols × itemsize does not fit in 64 bits / the address space.
    ShapeOverflow {
        /// The shape in the header.
        shape: Vec<u64>,
    },
    /// The data after the header is shorter than the shape says (truncated file, or a
    /// header claiming more data than exists). Refused before any allocation.
    DataTooShort {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The data after the header is longer than the shape says.
    DataTooLong {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The `.npz` archive has no member of that name.
    NpzMemberNotFound {
        /// The name asked for.
        member: String,
        /// The members present (names without `.npy`).
        available: Vec<String>,
    },
    /// A `.npz` path without `:member` on an archive holding more than one array.
    NpzMemberRequired {
        /// The members present.
        available: Vec<String>,
    },
    /// The `.npz` is not a readable zip archive, or a member uses an unsupported feature.
    BadNpz {
        /// What is wrong.
        detail: String,
    },
    /// The array's dtype does not fit the requested operation (e.g. i64 data as floats).
    WrongDtypeForRead {
        /// The dtype in the file.
        descr: String,
        /// What was asked for.
        wanted: &'static str,
    },
    /// Anything else, in words.
    Other(String),
}

impl fmt::Display for NpyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NpyProblem::*;
        match self {
            EmptyFile => write!(f, "empty file (0 bytes), not a .npy array"),
            Truncated {
                part,
                needed,
                available,
            } => write!(
                f,
                "truncated file: the {part} needs {needed} bytes but only {available} are present"
            ),
            BadMagic { found } => write!(
                f,
                "not a .npy file: bad magic bytes {found:02x?} (expected \\x93NUMPY)"
            ),
            UnsupportedVersion { major, minor } => write!(
                f,
                "unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
            ),
            HeaderTooLarge { len, limit } => write!(
                f,
                "header length {len} bytes exceeds the limit of {limit} bytes"
            ),
            HeaderBeyondFile {
                header_end,
                file_len,
            } => write!(
                f,
                "header length points past the end of the file (header ends at byte {header_end}, file has {file_len} bytes)"
            ),
            MalformedHeader { detail } => write!(f, "malformed .npy header: {detail}"),
            IntegerDtype { descr } => write!(
                f,
                "unsupported dtype '{descr}': integer/boolean data, expected float16/32/64 embeddings"
            ),
            ComplexDtype { descr } => write!(
                f,
                "unsupported dtype '{descr}': complex numbers, expected real float16/32/64"
            ),
            ObjectDtype { descr } => write!(
                f,
                "unsupported dtype '{descr}': Python objects (pickled), expected float16/32/64"
            ),
            StructuredDtype => write!(
                f,
                "unsupported structured (record) dtype, expected a plain float16/32/64 array"
            ),
            UnsupportedDtype { descr } => write!(
                f,
                "unsupported dtype '{descr}', expected float16/32/64 ('<f2', '<f4', '<f8', any byte order)"
            ),
            UnsupportedDims { shape } => write!(
                f,
                "unsupported shape {}: {}-D array, expected 1-D (n) or 2-D (n, d)",
                fmt_shape(shape),
                shape.len()
            ),
            ShapeOverflow { shape } => write!(
                f,
                "absurd shape {}: its size in bytes overflows 64 bits",
                fmt_shape(shape)
            ),
            DataTooShort { expected, actual } => write!(
                f,
                "data too short: the header's shape needs {expected} bytes but the file holds {actual} (truncated file or wrong header)"
            ),
            DataTooLong { expected, actual } => write!(
                f,
                "data too long: the header's shape needs {expected} bytes but the file holds {actual} (trailing bytes or wrong header)"
            ),
            NpzMemberNotFound { member, available } => write!(
                f,
                "no member '{member}' in the .npz archive (members: {})",
                available.join(", ")
            ),
            NpzMemberRequired { available } => write!(
                f,
                "the .npz archive holds {} arrays; name one as FILE.npz:MEMBER (members: {})",
                available.len(),
                available.join(", ")
            ),
            BadNpz { detail } => write!(f, "bad .npz archive: {detail}"),
            WrongDtypeForRead { descr, wanted } => {
                write!(f, "dtype '{descr}' cannot be read as {wanted}")
            }
            Other(s) => f.write_str(s),
        }
    }
}

/// A shape as numpy prints it: `(3,)`, `(2, 4)`.
pub(crate) fn fmt_shape(shape: &[u64]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

impl From<String> for NpyProblem {
    fn from(s: String) -> Self {
        NpyProblem::Other(s)
    }
}

impl From<&str> for NpyProblem {
    fn from(s: &str) -> Self {
        NpyProblem::Other(s.to_string())
    }
}
