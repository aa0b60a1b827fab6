//! JSON text for reports (`report_format=json`, the `taken` lines): a
//! serde serializer of the data model's parts that reports use.
//!
//! Not `serde_json`: every crate that depends on racedet has the runtime
//! in its dependency graph, and `serde_json`'s `impl PartialEq<Value> for
//! u64` (and the other primitives) makes `x == iter.sum()` ambiguous in
//! user code that compiled against std (E0283). `cargo racedet` reads the
//! output with `serde_json`; the tests here check it parses back.

use serde::ser::{self, Serialize};
use std::fmt::{self, Display, Write as _};

/// `value` as one line of JSON.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut json = Json { out: String::new() };
    value
        .serialize(&mut json)
        .expect("reports serialize to JSON");
    json.out
}

/// Why a value cannot be written (no report type reaches these).
#[derive(Debug)]
pub(crate) struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

struct Json {
    out: String,
}

impl Json {
    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn number(&mut self, n: impl Display) {
        let _ = write!(self.out, "{n}");
    }

    /// `{"variant":` before an externally tagged variant's content.
    fn open_variant(&mut self, variant: &str) {
        self.out.push('{');
        self.string(variant);
        self.out.push(':');
    }

    /// An array or object opened with `open` and closed with `close`.
    fn compound(&mut self, open: char, close: &'static str) -> Compound<'_> {
        self.out.push(open);
        Compound {
            json: self,
            first: true,
            close,
        }
    }

    /// An externally tagged tuple or struct variant's content, opened with
    /// `open` and closed with `close` (its own bracket, then the tag's).
    fn variant_compound(&mut self, variant: &str, open: char, close: &'static str) -> Compound<'_> {
        self.open_variant(variant);
        self.compound(open, close)
    }
}

/// An array or object being written: commas between its elements.
struct Compound<'a> {
    json: &'a mut Json,
    first: bool,
    /// Closing text: `]`, `}`, or `]}`/`}}` for a variant's content.
    close: &'static str,
}

impl Compound<'_> {
    fn comma(&mut self) {
        if !self.first {
            self.json.out.push(',');
        }
        self.first = false;
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.comma();
        self.json.string(key);
        self.json.out.push(':');
        value.serialize(&mut *self.json)
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.json)
    }

    fn end(self) -> Result<(), Error> {
        self.json.out.push_str(self.close);
        Ok(())
    }
}

// Every integer is its decimal digits.
macro_rules! numbers {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<(), Error> {
            self.number(v);
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut Json {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    numbers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        // As serde_json: JSON has no NaN or infinities.
        if v.is_finite() {
            self.number(v);
        } else {
            self.out.push_str("null");
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.out.push('}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(self.compound('[', "]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(self.variant_compound(variant, '[', "]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(self.compound('{', "}"))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(self.variant_compound(variant, '{', "}}"))
    }
}

// serde has one trait per kind of compound; arrays and objects are all
// this writer has.
macro_rules! array_parts {
    ($($kind:ident :: $method:ident),*) => {$(
        impl ser::$kind for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                Compound::end(self)
            }
        }
    )*};
}

array_parts!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! object_parts {
    ($($kind:ident),*) => {$(
        impl ser::$kind for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Error> {
                Compound::end(self)
            }
        }
    )*};
}

object_parts!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        // JSON keys are strings: a key that writes anything else is
        // refused (no report has one).
        let start = self.json.out.len();
        key.serialize(&mut *self.json)?;
        if !self.json.out[start..].starts_with('"') {
            return Err(ser::Error::custom("a JSON object key must be a string"));
        }
        self.json.out.push(':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.json)
    }
    fn end(self) -> Result<(), Error> {
        Compound::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::to_string;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "snake_case", tag = "scope")]
    enum Tagged {
        Header,
        Bucket { bucket: u32, of: u32 },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum External {
        #[serde(rename = "unit name")]
        Unit,
        Newtype(u8),
        Tuple(u8, bool),
        Struct {
            a: i64,
        },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Everything {
        text: String,
        maybe: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skipped: Option<u32>,
        numbers: Vec<u64>,
        signed: i32,
        ratio: f64,
        flag: bool,
        tagged: Vec<Tagged>,
        external: Vec<External>,
        map: BTreeMap<String, u16>,
        pair: (u8, String),
    }

    #[test]
    fn what_it_writes_reads_back_with_serde_json() {
        let value = Everything {
            text: "quote \" backslash \\ newline \n tab \t bell \u{7} bs \u{8} ff \u{c} us \u{1f} del \u{7f} é 漢 🦀"
                .into(),
            maybe: None,
            skipped: None,
            numbers: vec![0, u64::MAX],
            signed: -7,
            ratio: 1.5,
            flag: true,
            tagged: vec![Tagged::Header, Tagged::Bucket { bucket: 3, of: 16 }],
            external: vec![
                External::Unit,
                External::Newtype(1),
                External::Tuple(2, false),
                External::Struct { a: -3 },
            ],
            map: [("k".to_string(), 9)].into(),
            pair: (4, "x".into()),
        };
        let text = to_string(&value);
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(!text.contains("skipped"), "{text}");
        let back: Everything = serde_json::from_str(&text).expect(&text);
        assert_eq!(back, value);
        // The same text serde_json writes, field for field.
        assert_eq!(text, serde_json::to_string(&value).unwrap());
    }

    #[test]
    fn a_report_reads_back_equal_and_as_serde_json_writes_it() {
        use crate::report::{
            Access, Frame, MapPart, Object, Report, ReportKind, SourceSite, ThreadDesc, ThreadRef,
        };
        let site = |line| SourceSite {
            file: "src/lib.rs".into(),
            line,
            column: 5,
        };
        let access = |line, part, name: Option<&str>| Access {
            write: line == 1,
            atomic: false,
            op: "insert".into(),
            map_part: part,
            thread: ThreadRef {
                id: u64::from(line),
                name: name.map(str::to_string),
            },
            site: site(line),
            stack: vec![
                Frame {
                    function: "app::f".into(),
                    site: Some(site(line)),
                },
                Frame {
                    function: "??".into(),
                    site: None,
                },
            ],
        };
        let report = Report {
            kind: ReportKind::MapReadWrite,
            current: access(
                1,
                Some(MapPart::Bucket { bucket: 2, of: 4 }),
                Some("w \"1\""),
            ),
            previous: access(2, Some(MapPart::All { of: 4 }), None),
            object: Object {
                kind: "map".into(),
                address: "0x10".into(),
                created_at: Some(site(3)),
                created_stack: Vec::new(),
            },
            threads: vec![ThreadDesc {
                thread: ThreadRef { id: 1, name: None },
                finished: true,
                created_stack: Vec::new(),
                note: Some("not kept".into()),
            }],
            previous_stack_note: None,
            pid: 42,
            program: "t-1".into(),
            racedet_version: "0.1.0".into(),
        };
        let text = to_string(&report);
        assert_eq!(text, serde_json::to_string(&report).unwrap());
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
    }
}
