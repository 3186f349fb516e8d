//! Tests of the format entry points: validation wording, engine formats
//! over Arrow batches, the JSON-form conversions, and property-based round
//! trips for each encoder.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use proptest::prelude::*;

use super::*;
use crate::value::to_array;

fn col(name: &str, ty: SqlType) -> Column {
    Column::new(name, ty)
}

fn spec(kind: FormatKind) -> FormatSpec {
    FormatSpec::new(kind)
}

fn schema_of(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(|c| Field::new(&c.name, c.ty.to_arrow(), true)).collect::<Vec<_>>()))
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

/// Decodes `payloads` with `spec` and returns the rows as values plus the
/// indexes of the payloads that failed.
fn decode(spec: &FormatSpec, columns: &[Column], is_key: bool, payloads: &[&[u8]]) -> (Vec<Vec<Value>>, Vec<usize>) {
    let f = engine_format(spec, columns, is_key).unwrap();
    let schema = schema_of(columns);
    let d = f.decode(&schema, payloads).unwrap();
    let rows = (0..d.batch.num_rows())
        .map(|r| d.batch.columns().iter().map(|c| Value::from_array(c.as_ref(), r)).collect())
        .collect();
    (rows, d.errors.iter().map(|(i, _)| *i).collect())
}

fn encode(spec: &FormatSpec, columns: &[Column], is_key: bool, rows: &[Vec<Value>]) -> Vec<Vec<u8>> {
    let f = engine_format(spec, columns, is_key).unwrap();
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let vals: Vec<Value> = rows.iter().map(|r| r[i].clone()).collect();
            to_array(&vals, &c.ty).unwrap()
        })
        .collect::<Vec<_>>();
    let batch = if arrays.is_empty() {
        RecordBatch::try_new_with_options(
            schema_of(columns),
            arrays,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )
        .unwrap()
    } else {
        RecordBatch::try_new(schema_of(columns), arrays).unwrap()
    };
    f.encode(&batch).unwrap()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[test]
fn validation_uses_ksqldb_wording() {
    let kafka = spec(FormatKind::Kafka);
    let e = err_text(engine_format(&kafka, &[col("K", SqlType::Boolean)], true));
    assert_eq!(
        e,
        "Key format does not support schema.\nformat: KAFKA\nschema: Persistence{columns=[`K` BOOLEAN KEY], \
         features=[]}\nreason: The 'KAFKA' format does not support type 'BOOLEAN'"
    );
    let e = err_text(engine_format(&kafka, &[col("K", SqlType::Decimal { precision: 21, scale: 19 })], true));
    assert!(e.contains("schema: Persistence{columns=[`K` DECIMAL(21, 19) KEY]"), "{e}");
    assert!(e.ends_with("reason: The 'KAFKA' format does not support type 'DECIMAL'"), "{e}");
    let e = err_text(engine_format(&kafka, &[col("V0", SqlType::Int), col("V1", SqlType::String)], false));
    assert!(e.contains("The 'KAFKA' format only supports a single field. Got: [`V0` INTEGER, `V1` STRING]"), "{e}");
    let e = err_text(engine_format(&kafka, &[col("K1", SqlType::Int), col("K2", SqlType::Int)], true));
    assert!(e.contains("Got: [`K1` INTEGER KEY, `K2` INTEGER KEY]"), "{e}");

    let m = SqlType::Map(Box::new(SqlType::Int), Box::new(SqlType::Double));
    let e = err_text(engine_format(&spec(FormatKind::Json), &[col("K", SqlType::Array(Box::new(m.clone())))], true));
    assert_eq!(
        e,
        "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due \
         to inconsistent serialization. Key column name: `K`. Column type: ARRAY<MAP<INTEGER, DOUBLE>>. See \
         https://github.com/confluentinc/ksql/issues/6621 for more."
    );
    let e = err_text(engine_format(&spec(FormatKind::Json), &[col("FOO", m)], false));
    assert_eq!(e, "JSON only supports MAP types with STRING keys");

    let delimited = spec(FormatKind::Delimited);
    let st = SqlType::Struct(vec![("F".into(), SqlType::Double)]);
    let e = err_text(engine_format(&delimited, &[col("K", st)], true));
    assert!(e.ends_with("reason: The 'DELIMITED' format does not support type 'STRUCT', column: `K`"), "{e}");
    assert!(e.contains("The 'DELIMITED' format does not support type 'STRUCT'"));
    let e = err_text(engine_format(&delimited, &[col("FOO", SqlType::Array(Box::new(SqlType::Int)))], false));
    assert!(e.contains("The 'DELIMITED' format does not support type 'ARRAY'"), "{e}");

    let wrap = FormatSpec { kind: FormatKind::Kafka, delimiter: None, wrap_single_value: Some(true) };
    assert_eq!(
        err_text(engine_format(&wrap, &[col("FOO", SqlType::Int)], false)),
        "Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
    );
    let wrap = FormatSpec { kind: FormatKind::Delimited, delimiter: None, wrap_single_value: Some(true) };
    assert_eq!(
        err_text(engine_format(&wrap, &[col("FOO", SqlType::Int)], false)),
        "Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'."
    );
    let delim = FormatSpec { kind: FormatKind::Json, delimiter: Some('|'), wrap_single_value: None };
    assert_eq!(
        err_text(engine_format(&delim, &[col("FOO", SqlType::Int)], false)),
        "JSON does not support the following configs: [delimiter]"
    );
    for kind in [FormatKind::Avro, FormatKind::Protobuf, FormatKind::JsonSr] {
        let e = err_text(engine_format(&spec(kind), &[col("FOO", SqlType::Int)], false));
        assert!(e.contains("schema registry"), "{e}");
        assert!(e.contains(kind.name()), "{e}");
    }
    assert!(engine_format(&spec(FormatKind::None), &[col("K", SqlType::Int)], true).is_err());
    assert!(engine_format(&spec(FormatKind::None), &[], true).is_ok());
    assert!(engine_format(&kafka, &[], true).is_ok());
}

#[test]
fn delimiters_parse_with_ksqldb_wording() {
    assert_eq!(parse_delimiter("value_delimiter", "TAB").unwrap(), '\t');
    assert_eq!(parse_delimiter("value_delimiter", "SPACE").unwrap(), ' ');
    assert_eq!(parse_delimiter("value_delimiter", "|").unwrap(), '|');
    assert_eq!(
        err_text(parse_delimiter("value_delimiter", "<~>")),
        "Failed to prepare statement: Configuration VALUE_DELIMITER is invalid: Invalid delimiter value: '<~>'. \
         Delimiter must be a single character or TAB,SPACE\nExample valid value: ';'"
    );
    for blank in ["", " ", "\t"] {
        assert!(err_text(parse_delimiter("VALUE_DELIMITER", blank)).contains(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the special \
             values 'TAB' or 'SPACE'\nExample valid value: ';'"
        ));
    }
}

#[test]
fn json_values_decode_case_insensitively_and_report_bad_payloads() {
    let cols = [col("FOO", SqlType::Int), col("@TIMESTAMP", SqlType::Bigint), col("bar", SqlType::String)];
    let (rows, errors) = decode(
        &spec(FormatKind::Json),
        &cols,
        false,
        &[
            br#"{"foo": 10, "@timestamp": 4, "bar": 1.50, "extra": [1]}"#,
            br#"{"FOO": "x"}"#,
            b"{}",
            b"[1]",
            b"not json",
            br#"{"bar": {"z": 1, "a": [true]}}"#,
            b"null",
        ],
    );
    assert_eq!(errors, vec![1, 3, 4]);
    assert_eq!(
        rows,
        vec![
            vec![Value::Int(10), Value::Bigint(4), Value::String("1.50".into())],
            vec![Value::Null, Value::Null, Value::Null],
            vec![Value::Null, Value::Null, Value::String(r#"{"z":1,"a":[true]}"#.into())],
            vec![Value::Null, Value::Null, Value::Null],
        ]
    );
    let f = engine_format(&spec(FormatKind::Json), &cols, false).unwrap();
    let d = f.decode(&schema_of(&cols), &[br#"{"FOO": "x"}"#, b"[1]"]).unwrap();
    assert_eq!(
        d.errors[0].1,
        "Failed to deserialize value: Can't coerce string to type. targetType: INTEGER, path: $.FOO"
    );
    assert!(d.errors[1].1.contains("sourceType: ArrayNode, requiredType: STRUCT<`FOO` INTEGER"), "{}", d.errors[1].1);
}

#[test]
fn flat_json_batches_match_fields_by_the_formats_column_names() {
    let cols = [col("K", SqlType::String), col("ID", SqlType::Bigint), col("AMOUNT", SqlType::Double)];
    let f = engine_format(&spec(FormatKind::Json), &cols, false).unwrap();
    // The rows' schema names its columns differently (as transient queries do).
    let other = Arc::new(Schema::new(
        cols.iter().enumerate().map(|(i, c)| Field::new(format!("c{i}"), c.ty.to_arrow(), true)).collect::<Vec<_>>(),
    ));
    let payloads: [&[u8]; 3] =
        [br#"{"k": "a", "id": 1, "amount": 2.5}"#, br#"{"ID": 2, "extra": {"x": [1]}}"#, br#"{"K": "\u00e9", "Amount": -1e3}"#];
    let d = f.decode(&other, &payloads).unwrap();
    assert!(d.errors.is_empty());
    assert_eq!(d.batch.schema(), other);
    let rows: Vec<Vec<Value>> = (0..3).map(|r| d.batch.columns().iter().map(|c| Value::from_array(c.as_ref(), r)).collect()).collect();
    assert_eq!(
        rows,
        vec![
            vec![Value::String("a".into()), Value::Bigint(1), Value::Double(2.5)],
            vec![Value::Null, Value::Bigint(2), Value::Null],
            vec![Value::String("é".into()), Value::Null, Value::Double(-1000.0)],
        ]
    );
    // The same rows as the payload-by-payload path gives them (one payload
    // needing a coercion sends the whole batch that way).
    let mut with_coercion = payloads.to_vec();
    with_coercion.push(br#"{"ID": "3"}"#);
    let slow = f.decode(&other, &with_coercion).unwrap();
    assert_eq!(slow.batch.slice(0, 3), d.batch);
}

#[test]
fn json_single_columns_wrap_by_default_for_values_not_keys() {
    let cols = [col("V", SqlType::Boolean)];
    let unwrapped = FormatSpec { kind: FormatKind::Json, delimiter: None, wrap_single_value: Some(false) };
    let (rows, errors) = decode(&unwrapped, &cols, false, &[b"true", b"null", br#"{"V": true}"#]);
    assert_eq!(errors, vec![2]);
    assert_eq!(rows, vec![vec![Value::Boolean(true)], vec![Value::Null]]);
    let out = encode(&unwrapped, &cols, false, &[vec![Value::Boolean(false)], vec![Value::Null]]);
    assert_eq!(out, vec![b"false".to_vec(), b"null".to_vec()]);
    let out = encode(&spec(FormatKind::Json), &cols, false, &[vec![Value::Boolean(false)]]);
    assert_eq!(out, vec![br#"{"V":false}"#.to_vec()]);

    // Keys: one column is bare, several are an object.
    let key = [col("K", SqlType::Struct(vec![("F".into(), SqlType::Double)]))];
    let (rows, _) = decode(&spec(FormatKind::Json), &key, true, &[br#"{"f": 45.67}"#]);
    assert_eq!(rows, vec![vec![Value::Struct(vec![("F".into(), Value::Double(45.67))])]]);
    let out = encode(&spec(FormatKind::Json), &key, true, &rows);
    assert_eq!(text(&out[0]), r#"{"F":45.67}"#);
    let keys = [col("K", SqlType::Int), col("K2", SqlType::Int)];
    let (rows, _) = decode(&spec(FormatKind::Json), &keys, true, &[br#"{"K": null, "K2": 2}"#]);
    assert_eq!(rows, vec![vec![Value::Null, Value::Int(2)]]);
    let out = encode(&spec(FormatKind::Json), &keys, true, &rows);
    assert_eq!(text(&out[0]), r#"{"K":null,"K2":2}"#);
}

#[test]
fn json_encodes_types_as_ksqldb() {
    let cols = [
        col("D", SqlType::Double),
        col("E", SqlType::Double),
        col("M", SqlType::Decimal { precision: 6, scale: 4 }),
        col("B", SqlType::Bytes),
        col("DT", SqlType::Date),
        col("T", SqlType::Time),
        col("TS", SqlType::Timestamp),
        col("A", SqlType::Array(Box::new(SqlType::Bigint))),
        col("MP", SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Double))),
    ];
    let row = vec![
        Value::Double(1.0),
        Value::Double(4.611686018427388E18),
        Value::Decimal(100_000, 4),
        Value::Bytes(b"variations".to_vec()),
        Value::Date(10),
        Value::Time(1000),
        Value::Timestamp(-5),
        Value::Array(vec![Value::Bigint(12), Value::Null]),
        Value::Map(vec![(Value::String("a".into()), Value::Double(1.1))]),
    ];
    let out = encode(&spec(FormatKind::Json), &cols, false, std::slice::from_ref(&row));
    assert_eq!(
        text(&out[0]),
        r#"{"D":1.0,"E":4.611686018427388E18,"M":10.0000,"B":"dmFyaWF0aW9ucw==","DT":10,"T":1000,"TS":-5,"A":[12,null],"MP":{"a":1.1}}"#
    );
    let (back, errors) = decode(&spec(FormatKind::Json), &cols, false, &[&out[0]]);
    assert!(errors.is_empty());
    assert_eq!(back, vec![row]);
}

#[test]
fn delimited_reads_and_writes_as_ksqldb() {
    let cols = [col("ID", SqlType::Bigint), col("NAME", SqlType::String), col("VALUE", SqlType::Int)];
    let (rows, errors) =
        decode(&spec(FormatKind::Delimited), &cols, false, &[b"0,zero,0", b"1,,", b"1,2", b"x,a,1", b"\"2\",\"a,b\",3"]);
    assert_eq!(errors, vec![2, 3]);
    assert_eq!(
        rows,
        vec![
            vec![Value::Bigint(0), Value::String("zero".into()), Value::Int(0)],
            vec![Value::Bigint(1), Value::Null, Value::Null],
            vec![Value::Bigint(2), Value::String("a,b".into()), Value::Int(3)],
        ]
    );
    let out = encode(&spec(FormatKind::Delimited), &cols, false, &rows);
    assert_eq!(out, vec![b"0,zero,0".to_vec(), b"1,,".to_vec(), b"2,\"a,b\",3".to_vec()]);
    let f = engine_format(&spec(FormatKind::Delimited), &cols, false).unwrap();
    let d = f.decode(&schema_of(&cols), &[b"1,2"]).unwrap();
    assert_eq!(d.errors[0].1, "Error deserializing delimited row: Unexpected field count, csvFields:2 schemaFields:3");

    let tab = FormatSpec { kind: FormatKind::Delimited, delimiter: Some('\t'), wrap_single_value: None };
    let out = encode(&tab, &cols, false, &[vec![Value::Bigint(0), Value::String("zero".into()), Value::Int(0)]]);
    assert_eq!(out, vec![b"0\tzero\t0".to_vec()]);

    let dec = [col("V", SqlType::Decimal { precision: 33, scale: 16 })];
    let (rows, _) = decode(
        &spec(FormatKind::Delimited),
        &dec,
        false,
        &[b"12345678987654321.2345678987654321", b".12", b"\"-12345.12\"", b"0"],
    );
    let out = encode(&spec(FormatKind::Delimited), &dec, false, &rows);
    let out: Vec<&str> = out.iter().map(|b| text(b)).collect();
    assert_eq!(
        out,
        ["12345678987654321.2345678987654321", "0.1200000000000000", "\"-12345.1200000000000000\"", "0.0000000000000000"]
    );
    let date = [col("D", SqlType::Date)];
    let (rows, _) = decode(&spec(FormatKind::Delimited), &date, false, &[b"10", b"-10"]);
    let out = encode(&spec(FormatKind::Delimited), &date, false, &rows);
    assert_eq!(out, vec![b"10".to_vec(), b"\"-10\"".to_vec()]);
}

#[test]
fn kafka_and_none_formats() {
    let cols = [col("K", SqlType::Int)];
    let (rows, errors) = decode(&spec(FormatKind::Kafka), &cols, true, &[&[0, 0, 0, 1], &[1]]);
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    assert_eq!(errors, vec![1]);
    let (rows, errors) = decode(&spec(FormatKind::None), &[], true, &[b"anything", b""]);
    assert_eq!((rows.len(), errors.len()), (2, 0));
    assert_eq!(encode(&spec(FormatKind::None), &[], true, &[vec![], vec![]]), vec![Vec::<u8>::new(); 2]);
}

#[test]
fn json_form_conversions() {
    let j = |s: &str| -> serde_json::Value { serde_json::from_str(s).unwrap() };
    let int_key = [col("K", SqlType::Int)];
    let kafka = spec(FormatKind::Kafka);
    assert_eq!(json_to_bytes(&kafka, &int_key, &j("1"), true).unwrap(), Some(vec![0, 0, 0, 1]));
    assert_eq!(bytes_to_json(&kafka, &int_key, &[0, 0, 0, 1], true).unwrap(), j("1"));
    assert_eq!(json_to_bytes(&kafka, &int_key, &j("null"), true).unwrap(), None);
    let dbl = [col("V", SqlType::Double)];
    let b = json_to_bytes(&kafka, &dbl, &j("1.1"), false).unwrap().unwrap();
    assert_eq!(b, 1.1f64.to_be_bytes().to_vec());
    assert_eq!(bytes_to_json(&kafka, &dbl, &b, false).unwrap().to_string(), "1.1");
    let big = 1.0e7f64.to_be_bytes();
    // serde_json keeps the digits but spells the exponent its own way.
    assert_eq!(bytes_to_json(&kafka, &dbl, &big, false).unwrap().as_f64(), Some(1.0e7));
    let bytes = [col("B", SqlType::Bytes)];
    let b = json_to_bytes(&kafka, &bytes, &j("\"dmFyaWF0aW9ucw==\""), false).unwrap().unwrap();
    assert_eq!(b, b"variations");
    assert_eq!(bytes_to_json(&kafka, &bytes, &b, false).unwrap(), j("\"dmFyaWF0aW9ucw==\""));
    let s = [col("K", SqlType::String)];
    assert_eq!(json_to_bytes(&kafka, &s, &j("\"\""), true).unwrap(), Some(vec![]));
    assert_eq!(bytes_to_json(&kafka, &s, b"", true).unwrap(), j("\"\""));

    let delimited = spec(FormatKind::Delimited);
    let cols = [col("A", SqlType::Int), col("B", SqlType::String)];
    assert_eq!(json_to_bytes(&delimited, &cols, &j("\"1,x\""), false).unwrap(), Some(b"1,x".to_vec()));
    assert_eq!(bytes_to_json(&delimited, &cols, b"1,x", false).unwrap(), j("\"1,x\""));

    let json = spec(FormatKind::Json);
    let dec = [col("DEC", SqlType::Decimal { precision: 6, scale: 4 })];
    let b = json_to_bytes(&json, &dec, &j(r#"{"DEC": 1.10}"#), false).unwrap().unwrap();
    assert_eq!(text(&b), r#"{"DEC":1.10}"#);
    let out = encode(&json, &dec, false, &[vec![Value::Decimal(11000, 4)]]);
    assert_eq!(bytes_to_json(&json, &dec, &out[0], false).unwrap().to_string(), r#"{"DEC":1.1000}"#);
    assert!(json_to_bytes(&spec(FormatKind::Avro), &dec, &j("{}"), false).is_err());
}

fn flat_type() -> impl Strategy<Value = SqlType> {
    prop_oneof![
        Just(SqlType::Boolean),
        Just(SqlType::Int),
        Just(SqlType::Bigint),
        Just(SqlType::Double),
        (1u8..=38).prop_flat_map(|p| (Just(p), 0..=p as i8)).prop_map(|(precision, scale)| SqlType::Decimal {
            precision,
            scale
        }),
        Just(SqlType::String),
        Just(SqlType::Bytes),
        Just(SqlType::Date),
        Just(SqlType::Time),
        Just(SqlType::Timestamp),
    ]
}

fn any_type() -> impl Strategy<Value = SqlType> {
    flat_type().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| SqlType::Array(Box::new(t))),
            inner.clone().prop_map(|t| SqlType::Map(Box::new(SqlType::String), Box::new(t))),
            prop::collection::vec(("[A-Za-z][A-Za-z0-9_]{0,6}", inner), 1..4).prop_map(|fs| {
                // Distinct names (case-insensitively, as JSON reads them back).
                let mut seen = std::collections::HashSet::new();
                SqlType::Struct(fs.into_iter().filter(|(n, _)| seen.insert(n.to_uppercase())).collect())
            }),
        ]
    })
}

fn value_of(ty: &SqlType) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match ty {
        SqlType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        SqlType::Int => any::<i32>().prop_map(Value::Int).boxed(),
        SqlType::Bigint => any::<i64>().prop_map(Value::Bigint).boxed(),
        SqlType::Double => any::<f64>().prop_filter("finite", |d| d.is_finite()).prop_map(Value::Double).boxed(),
        SqlType::Decimal { precision, scale } => {
            let max = 10i128.pow(u32::from(*precision)) - 1;
            let s = *scale;
            (-max..=max).prop_map(move |u| Value::Decimal(u, s)).boxed()
        }
        SqlType::String => ".{0,12}".prop_map(Value::String).boxed(),
        SqlType::Bytes => prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes).boxed(),
        SqlType::Date => any::<i32>().prop_map(Value::Date).boxed(),
        SqlType::Time => (0..86_400_000i32).prop_map(Value::Time).boxed(),
        SqlType::Timestamp => any::<i64>().prop_map(Value::Timestamp).boxed(),
        SqlType::Array(e) => prop::collection::vec(value_of(e), 0..4).prop_map(Value::Array).boxed(),
        SqlType::Map(_, v) => prop::collection::btree_map("[a-z]{1,4}", value_of(v), 0..4)
            .prop_map(|m| Value::Map(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()))
            .boxed(),
        SqlType::Struct(fields) => {
            let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            let vals: Vec<BoxedStrategy<Value>> = fields.iter().map(|(_, t)| value_of(t)).collect();
            vals.prop_map(move |vs| Value::Struct(names.iter().cloned().zip(vs).collect())).boxed()
        }
    };
    prop_oneof![1 => Just(Value::Null), 6 => v].boxed()
}

fn columns_and_rows(types: impl Strategy<Value = SqlType>) -> impl Strategy<Value = (Vec<Column>, Vec<Vec<Value>>)> {
    prop::collection::vec(types, 1..5).prop_flat_map(|tys| {
        let cols: Vec<Column> = tys.iter().enumerate().map(|(i, t)| Column::new(format!("C{i}"), t.clone())).collect();
        let row: Vec<BoxedStrategy<Value>> = tys.iter().map(value_of).collect();
        (Just(cols), prop::collection::vec(row, 0..6))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn json_round_trips((cols, rows) in columns_and_rows(any_type()), wrap in any::<bool>()) {
        let s = FormatSpec { kind: FormatKind::Json, delimiter: None, wrap_single_value: Some(wrap) };
        let out = encode(&s, &cols, false, &rows);
        let payloads: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
        let (back, errors) = decode(&s, &cols, false, &payloads);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        prop_assert_eq!(back, rows);
    }

    #[test]
    fn delimited_round_trips(
        (cols, rows) in columns_and_rows(flat_type()),
        delimiter in prop_oneof![Just(','), Just('|'), Just('\t'), Just(' '), Just(';')],
    ) {
        let s = FormatSpec { kind: FormatKind::Delimited, delimiter: Some(delimiter), wrap_single_value: None };
        // Empty strings and empty bytes read back as NULL, and a boolean field
        // holds only true/false: normalise the expectation.
        let expected: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| match v {
                        Value::String(s) if s.is_empty() => Value::Null,
                        Value::Bytes(b) if b.is_empty() => Value::Null,
                        other => other.clone(),
                    })
                    .collect()
            })
            .collect();
        let out = encode(&s, &cols, false, &rows);
        let payloads: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
        let (back, errors) = decode(&s, &cols, false, &payloads);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn kafka_round_trips(
        v in prop_oneof![
            any::<i32>().prop_map(|i| (SqlType::Int, Value::Int(i))),
            any::<i64>().prop_map(|i| (SqlType::Bigint, Value::Bigint(i))),
            any::<f64>().prop_filter("finite", |d| d.is_finite()).prop_map(|d| (SqlType::Double, Value::Double(d))),
            ".{0,12}".prop_map(|s| (SqlType::String, Value::String(s))),
            prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| (SqlType::Bytes, Value::Bytes(b))),
        ]
    ) {
        let (ty, value) = v;
        let cols = [Column::new("K", ty)];
        let out = encode(&spec(FormatKind::Kafka), &cols, true, &[vec![value.clone()]]);
        let (back, errors) = decode(&spec(FormatKind::Kafka), &cols, true, &[&out[0]]);
        prop_assert!(errors.is_empty());
        prop_assert_eq!(&back, &vec![vec![value]]);
        // And through the JSON form the conformance files use.
        let j = bytes_to_json(&spec(FormatKind::Kafka), &cols, &out[0], true).unwrap();
        let again = json_to_bytes(&spec(FormatKind::Kafka), &cols, &j, true).unwrap().unwrap_or_default();
        prop_assert_eq!(again, out[0].clone());
    }

    #[test]
    fn doubles_print_and_parse_back(d in any::<f64>().prop_filter("finite", |d| d.is_finite())) {
        let s = java::format_double(d);
        prop_assert_eq!(java::parse_double(&s), Some(d));
    }

    #[test]
    fn arbitrary_payloads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let cols = [col("A", SqlType::Int), col("B", SqlType::Array(Box::new(SqlType::String)))];
        for kind in [FormatKind::Json, FormatKind::Delimited] {
            let cols: &[Column] = if kind == FormatKind::Delimited { &cols[..1] } else { &cols };
            let f = engine_format(&spec(kind), cols, false).unwrap();
            let d = f.decode(&schema_of(cols), &[&bytes]).unwrap();
            prop_assert_eq!(d.rows.len() + d.errors.len(), 1);
        }
    }
}

#[test]
fn wide_arrays_survive_schema_mismatch_checks() {
    let cols = [col("A", SqlType::Int)];
    let f = engine_format(&spec(FormatKind::Json), &cols, false).unwrap();
    let wrong = schema_of(&[col("A", SqlType::Int), col("B", SqlType::Int)]);
    assert!(f.decode(&wrong, &[b"{}"]).is_err());
    let d = f.decode(&schema_of(&cols), &[]).unwrap();
    assert_eq!(d.batch.num_rows(), 0);
    assert_eq!(d.batch.column(0).len(), 0);
}

/// Rough decode/encode throughput against the engine's own JSON format
/// (`cargo test --release -p riffle-sql --lib serde::tests::throughput -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput() {
    use riffle_engine::format::{Format, JsonFormat};
    let cols = [
        col("ID", SqlType::Bigint),
        col("NAME", SqlType::String),
        col("AMOUNT", SqlType::Double),
        col("QTY", SqlType::Int),
        col("OK", SqlType::Boolean),
    ];
    let payloads: Vec<Vec<u8>> = (0..200_000)
        .map(|i| format!(r#"{{"ID":{i},"NAME":"user-{i}","AMOUNT":{}.25,"QTY":{},"OK":true}}"#, i % 977, i % 13).into_bytes())
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let schema = schema_of(&cols);
    let ours = engine_format(&spec(FormatKind::Json), &cols, false).unwrap();
    for (name, f) in [("riffle-sql JSON", ours.as_ref()), ("engine JSON", &JsonFormat as &dyn Format)] {
        let t = std::time::Instant::now();
        let d = f.decode(&schema, &refs).unwrap();
        let dec = t.elapsed();
        let t = std::time::Instant::now();
        let out = f.encode(&d.batch).unwrap();
        let enc = t.elapsed();
        println!("{name}: decode {:?} ({} rows), encode {:?} ({} payloads)", dec, d.batch.num_rows(), enc, out.len());
    }
}
