//! The fast path of [`super::JsonFormat`] (and of the SQL layer's JSON
//! format) for the commonest payloads: flat
//! objects whose columns are strings, 32/64-bit integers, doubles and
//! booleans.
//!
//! One pass per payload appends straight to the column builders: no tape,
//! no per-field decoder objects. The path only takes input whose meaning is
//! beyond doubt and gives up (returns `None`) on anything else: a nested
//! value for a column, a number that is not a plain integer for an integer
//! column, a string for a number column, a duplicate field, malformed JSON.
//! The caller then decodes the whole batch with Arrow's decoder, which
//! applies its coercions and reports bad payloads, so the result never
//! depends on which path ran (a property test holds the two to the same
//! output).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};

/// Most columns the fast path tracks (a bit each for "seen").
const MAX_COLUMNS: usize = 64;

/// Deepest nesting skipped inside fields the schema does not have.
const MAX_DEPTH: usize = 64;

enum Column {
    Str(StringBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
}

impl Column {
    fn new(t: &DataType, rows: usize, bytes: usize) -> Option<Self> {
        Some(match t {
            DataType::Utf8 => Column::Str(StringBuilder::with_capacity(rows, bytes)),
            DataType::Int32 => Column::I32(Int32Builder::with_capacity(rows)),
            DataType::Int64 => Column::I64(Int64Builder::with_capacity(rows)),
            DataType::Float64 => Column::F64(Float64Builder::with_capacity(rows)),
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(rows)),
            _ => return None,
        })
    }

    fn append_null(&mut self) {
        match self {
            Column::Str(b) => b.append_null(),
            Column::I32(b) => b.append_null(),
            Column::I64(b) => b.append_null(),
            Column::F64(b) => b.append_null(),
            Column::Bool(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::I32(b) => Arc::new(b.finish()),
            Column::I64(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// How JSON field names find their columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldNames {
    /// The field name is the column name (Arrow's JSON reader).
    Exact,
    /// The field name, or its upper-case spelling, is the column name
    /// (ksqlDB's JSON format, whose unquoted column names are upper case).
    /// Payloads with non-ASCII field names that match no column exactly
    /// are left to the caller's decoder.
    ExactOrUpperCase,
}

/// Decodes every payload as one flat JSON object of `schema`'s columns in
/// one pass, or returns `None` when the schema or any payload is outside
/// the fast path: columns other than Utf8, Int32, Int64, Float64 and
/// Boolean; a value that would need a coercion (a string for a number, a
/// fraction for an integer, a nested value); a duplicate field; malformed
/// JSON. The caller then runs its own decoder, which reports bad payloads.
///
/// A field the schema does not have is skipped; a missing field is NULL.
pub fn decode_flat_objects(schema: &SchemaRef, payloads: &[&[u8]], names: FieldNames) -> Option<RecordBatch> {
    let fields = schema.fields();
    if fields.is_empty() || fields.len() > MAX_COLUMNS {
        return None;
    }
    if names == FieldNames::ExactOrUpperCase {
        // One field feeding two columns ("a" for both "a" and "A") is beyond
        // the fast path.
        let mut upper: Vec<String> = fields.iter().map(|f| f.name().to_ascii_uppercase()).collect();
        upper.sort_unstable();
        if upper.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
    }
    let bytes: usize = payloads.iter().map(|p| p.len()).sum();
    let mut columns: Vec<Column> =
        fields.iter().map(|f| Column::new(f.data_type(), payloads.len(), bytes / fields.len())).collect::<Option<_>>()?;
    let names_match = names;
    let names: Vec<&[u8]> = fields.iter().map(|f| f.name().as_bytes()).collect();
    let nullable: Vec<bool> = fields.iter().map(|f| f.is_nullable()).collect();
    let mut scratch = String::new();
    for payload in payloads {
        // Validated once here; strings are then slices between ASCII quotes.
        let text = std::str::from_utf8(payload).ok()?;
        let mut p = Parser { s: text, b: payload, i: 0 };
        let seen = p.object(&names, names_match, &mut columns, &mut scratch)?;
        p.ws();
        if p.i != p.b.len() {
            return None;
        }
        for (c, col) in columns.iter_mut().enumerate() {
            if seen & (1 << c) == 0 {
                if !nullable[c] {
                    return None;
                }
                col.append_null();
            }
        }
    }
    let arrays: Vec<ArrayRef> = columns.iter_mut().map(Column::finish).collect();
    RecordBatch::try_new(schema.clone(), arrays).ok()
}

struct Parser<'a> {
    /// The payload as text (validated UTF-8) ...
    s: &'a str,
    /// ... and as bytes.
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// One object; returns the bit set of the columns it gave values to.
    fn object(&mut self, names: &[&[u8]], matching: FieldNames, columns: &mut [Column], scratch: &mut String) -> Option<u64> {
        self.ws();
        self.eat(b'{')?;
        self.ws();
        let mut seen = 0u64;
        if self.eat(b'}').is_some() {
            return Some(seen);
        }
        // Fields usually come in schema order: try the next column first.
        let mut hint = 0;
        loop {
            let name = self.string(scratch)?;
            let key = name.as_bytes();
            let col = if names.get(hint).is_some_and(|n| *n == key) {
                Some(hint)
            } else {
                match names.iter().position(|n| *n == key) {
                    Some(c) => Some(c),
                    None if matching == FieldNames::ExactOrUpperCase => {
                        if !key.is_ascii() {
                            return None;
                        }
                        names.iter().position(|n| n.len() == key.len() && n.iter().zip(key).all(|(n, k)| *n == k.to_ascii_uppercase()))
                    }
                    None => None,
                }
            };
            self.ws();
            self.eat(b':')?;
            self.ws();
            match col {
                Some(c) => {
                    if seen & (1 << c) != 0 {
                        return None;
                    }
                    seen |= 1 << c;
                    hint = c + 1;
                    self.value(&mut columns[c], scratch)?;
                }
                None => self.skip(0)?,
            }
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(seen);
                }
                _ => return None,
            }
        }
    }

    /// A value into its column.
    fn value(&mut self, col: &mut Column, scratch: &mut String) -> Option<()> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            col.append_null();
            return Some(());
        }
        match col {
            Column::Str(b) => {
                let s = self.string(scratch)?;
                b.append_value(s);
            }
            Column::I32(b) => b.append_value(i32::try_from(self.integer()?).ok()?),
            Column::I64(b) => b.append_value(self.integer()?),
            Column::F64(b) => {
                let text = self.number()?;
                let v: f64 = text.parse().ok()?;
                if !v.is_finite() {
                    return None;
                }
                b.append_value(v);
            }
            Column::Bool(b) => match self.peek()? {
                b't' => {
                    self.literal(b"true")?;
                    b.append_value(true);
                }
                b'f' => {
                    self.literal(b"false")?;
                    b.append_value(false);
                }
                _ => return None,
            },
        }
        Some(())
    }

    /// A JSON number that is a plain integer (no fraction, no exponent)
    /// within `i64`.
    fn integer(&mut self) -> Option<i64> {
        let text = self.number()?.as_bytes();
        let (neg, digits) = match text.split_first()? {
            (b'-', rest) => (true, rest),
            _ => (false, text),
        };
        let mut v: i64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            let d = i64::from(d - b'0');
            v = v.checked_mul(10)?;
            v = if neg { v.checked_sub(d)? } else { v.checked_add(d)? };
        }
        Some(v)
    }

    /// The text of a JSON number, checked against the grammar
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            p.i > from
        };
        let _ = self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.eat(b'.').is_some() && !digits(self) {
            return None;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        // A number runs up to a delimiter; `1x` or `01` is not a number.
        match self.peek() {
            None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') => self.s.get(start..self.i),
            _ => None,
        }
    }

    /// A JSON string, unescaped. Borrowed from the payload when it has no
    /// escapes, else built in `scratch`.
    fn string<'s>(&mut self, scratch: &'s mut String) -> Option<StrRef<'a, 's>> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    let s = self.s.get(start..self.i)?;
                    self.i += 1;
                    return Some(StrRef::Borrowed(s));
                }
                b'\\' => break,
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        scratch.clear();
        scratch.push_str(self.s.get(start..self.i)?);
        loop {
            let from = self.i;
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            scratch.push_str(self.s.get(from..self.i)?);
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(StrRef::Scratch(scratch));
                }
                b'\\' => {
                    self.i += 1;
                    let c = match *self.b.get(self.i)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.literal(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            scratch.push(char::from_u32(code)?);
                            continue;
                        }
                        _ => return None,
                    };
                    self.i += 1;
                    scratch.push(c);
                }
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.i.checked_add(4)?;
        let text = self.s.get(self.i..end)?;
        let v = u32::from_str_radix(text, 16).ok()?;
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.i = end;
        Some(v)
    }

    /// Skips one well-formed value of a field the schema does not have.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => {
                let mut scratch = String::new();
                self.string(&mut scratch).map(drop)
            }
            b'{' | b'[' => {
                let close = if self.peek()? == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    if close == b'}' {
                        let mut scratch = String::new();
                        self.string(&mut scratch)?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }
}

/// A decoded string: a slice of the payload or the scratch buffer.
enum StrRef<'a, 's> {
    Borrowed(&'a str),
    Scratch(&'s str),
}

impl StrRef<'_, '_> {
    fn as_bytes(&self) -> &[u8] {
        self.as_ref().as_bytes()
    }
}

impl AsRef<str> for StrRef<'_, '_> {
    fn as_ref(&self) -> &str {
        match self {
            StrRef::Borrowed(s) | StrRef::Scratch(s) => s,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::{Field, Schema};
    use proptest::prelude::*;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("n", DataType::Int32, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
        ]))
    }

    /// Arrow's decoder over the same payloads (the slow path's fast case).
    fn arrow(schema: &SchemaRef, payloads: &[&[u8]]) -> Option<RecordBatch> {
        let mut d = arrow::json::ReaderBuilder::new(schema.clone()).with_batch_size(payloads.len().max(1)).build_decoder().ok()?;
        for p in payloads {
            let read = d.decode(p).ok()?;
            if read != p.len() || d.has_partial_record() {
                return None;
            }
        }
        let b = d.flush().ok()??;
        (b.num_rows() == payloads.len()).then_some(b)
    }

    #[test]
    fn decodes_flat_objects_like_arrow() {
        let p: Vec<&[u8]> = vec![
            br#"{"s":"a","i":1,"n":-2,"f":1.5,"b":true}"#,
            br#" { "f" : -0.0e1 , "i" : -9223372036854775808 , "extra" : {"x":[1,{"y":null}]}, "s" : "\u00e9\ud83d\ude00\n\"" } "#,
            br#"{}"#,
            br#"{"s":null,"i":null,"b":false,"f":12}"#,
        ];
        let fast = decode_flat_objects(&schema(), &p, FieldNames::Exact).unwrap();
        assert_eq!(Some(fast), arrow(&schema(), &p));
    }

    #[test]
    fn upper_case_column_names_take_any_case() {
        let s = Arc::new(Schema::new(vec![Field::new("USER_ID", DataType::Utf8, true), Field::new("N", DataType::Int64, true)]));
        let b = decode_flat_objects(&s, &[br#"{"user_id":"u1","n":2}"#, br#"{"User_Id":"u2","N":3}"#], FieldNames::ExactOrUpperCase).unwrap();
        assert_eq!(b.column(0).as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("u1"), Some("u2")]);
        assert_eq!(b.column(1).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), vec![2, 3]);
        // Exact matching ignores them.
        let b = decode_flat_objects(&s, &[br#"{"user_id":"u1"}"#], FieldNames::Exact).unwrap();
        assert_eq!(b.column(0).null_count(), 1);
        // Both spellings at once: left to the caller.
        assert!(decode_flat_objects(&s, &[br#"{"n":1,"N":2}"#], FieldNames::ExactOrUpperCase).is_none());
        assert!(decode_flat_objects(&s, &[r#"{"nä":1}"#.as_bytes()], FieldNames::ExactOrUpperCase).is_none());
    }

    #[test]
    fn gives_up_on_what_it_does_not_decide() {
        for p in [
            &br#"{"i":1.0}"#[..],
            br#"{"i":"1"}"#,
            br#"{"f":"1"}"#,
            br#"{"s":1}"#,
            br#"{"n":3000000000}"#,
            br#"{"i":1,"i":2}"#,
            br#"{"i":01}"#,
            br#"{"i":1"#,
            br#"{"i":1}x"#,
            br#"{"s":"\ud800"}"#,
            br#"[1]"#,
            b"",
            br#"{"x":[1,]}"#,
            br#"{"f":1e400}"#,
        ] {
            assert!(decode_flat_objects(&schema(), &[p], FieldNames::Exact).is_none(), "{}", String::from_utf8_lossy(p));
        }
        let non_null = Arc::new(Schema::new(vec![Field::new("i", DataType::Int64, false)]));
        assert!(decode_flat_objects(&non_null, &[b"{}"], FieldNames::Exact).is_none());
        let other = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
        assert!(decode_flat_objects(&other, &[b"{}"], FieldNames::Exact).is_none());
        let two = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true), Field::new("A", DataType::Int64, true)]));
        assert!(decode_flat_objects(&two, &[b"{}"], FieldNames::ExactOrUpperCase).is_none());
    }

    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<i32>().prop_map(|v| v.to_string()),
            any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| format!("{v:e}")),
            (-1e6f64..1e6).prop_map(|v| v.to_string()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            "[a-z\\\\\"{}\\[\\],:0-9 .e-]{0,12}",
            Just(r#"{"k":[1,2,{"z":null}]}"#.to_string()),
        ]
    }

    /// A field of the test schema with a value of its type (or null),
    /// a field the schema does not have, or (rarely) any value at all.
    fn field() -> impl Strategy<Value = (&'static str, String)> {
        let null = || Just("null".to_string());
        prop_oneof![
            3 => prop_oneof![any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()), null()].prop_map(|v| ("s", v)),
            3 => prop_oneof![any::<i64>().prop_map(|v| v.to_string()), null()].prop_map(|v| ("i", v)),
            3 => prop_oneof![any::<i32>().prop_map(|v| v.to_string()), null()].prop_map(|v| ("n", v)),
            3 => prop_oneof![
                any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| format!("{v:e}")),
                (-1e6f64..1e6).prop_map(|v| v.to_string()),
                any::<i32>().prop_map(|v| v.to_string()),
                null(),
            ]
            .prop_map(|v| ("f", v)),
            3 => prop_oneof![any::<bool>().prop_map(|b| b.to_string()), null()].prop_map(|v| ("b", v)),
            2 => json_value().prop_map(|v| ("x", v)),
            1 => (prop_oneof![Just("s"), Just("i"), Just("n"), Just("f"), Just("b")], json_value()),
        ]
    }

    proptest! {
        /// Whenever the fast path decodes a batch, Arrow's decoder decodes
        /// it to the same columns.
        #[test]
        fn agrees_with_arrow(rows in proptest::collection::vec(proptest::collection::vec(field(), 0..6), 1..4)) {
            let payloads: Vec<String> = rows
                .iter()
                .map(|fields| {
                    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                    format!("{{{}}}", body.join(", "))
                })
                .collect();
            let p: Vec<&[u8]> = payloads.iter().map(|s| s.as_bytes()).collect();
            if let Some(fast) = decode_flat_objects(&schema(), &p, FieldNames::Exact) {
                prop_assert_eq!(Some(fast), arrow(&schema(), &p), "{:?}", payloads);
            }
        }
    }
}
