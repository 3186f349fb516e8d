//! Table functions (`FlatMap`) through the TestDriver: one output row per
//! produced value, input columns and event time repeated, rows without
//! values dropped, and a misbehaving function refused.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::functions::TableFunction;
use riffle_engine::plan::{Expr, LogicalPlan, TimestampSpec};
use riffle_engine::{EngineError, PlanBuilder, TestDriver};
use serde_json::json;

/// `SPLIT_WORDS(s)`: one value per space-separated word; `broken` reports
/// a row index past the input.
#[derive(Debug)]
struct SplitWords {
    broken: bool,
}

impl TableFunction for SplitWords {
    fn name(&self) -> &str {
        "SPLIT_WORDS"
    }

    fn return_type(&self, _args: &[DataType]) -> riffle_engine::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> riffle_engine::Result<(ArrayRef, Vec<u32>)> {
        let s = args.first().ok_or_else(|| EngineError::expr("SPLIT_WORDS", "needs an argument"))?.as_string::<i32>();
        let (mut words, mut idx) = (Vec::new(), Vec::new());
        for i in 0..rows {
            if s.is_valid(i) {
                for w in s.value(i).split_whitespace() {
                    words.push(w.to_string());
                    idx.push(i as u32);
                }
            }
        }
        if self.broken {
            idx.push(rows as u32);
            words.push("extra".into());
        }
        Ok((Arc::new(StringArray::from(words)), idx))
    }
}

fn plan(broken: bool) -> Arc<LogicalPlan> {
    let value = Schema::new(vec![Field::new("line", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]);
    PlanBuilder::stream("lines", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        .flat_map(Arc::new(SplitWords { broken }), vec![Expr::col("line")], "word")
        .unwrap()
        .sink("words", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build()
}

#[test]
fn each_value_becomes_a_row_with_the_input_columns_and_time() {
    let mut d = TestDriver::new("flat-map", &[plan(false)]).unwrap();
    d.pipe_batch(
        "lines",
        &[
            (None, Some(br#"{"line":"a b","n":1}"#), 10),
            (None, Some(br#"{"line":"","n":2}"#), 11),
            (None, Some(br#"{"line":null,"n":3}"#), 12),
            (None, Some(br#"{"line":"c","n":4}"#), 13),
        ],
    )
    .unwrap();
    let out = d.read_output("words").unwrap();
    let got: Vec<_> = out.iter().map(|r| (r.value_json().unwrap(), r.timestamp)).collect();
    assert_eq!(
        got,
        vec![
            (json!({"line": "a b", "n": 1, "word": "a"}), 10),
            (json!({"line": "a b", "n": 1, "word": "b"}), 10),
            (json!({"line": "c", "n": 4, "word": "c"}), 13),
        ]
    );
}

#[test]
fn a_function_that_points_past_its_input_fails_the_task_with_its_name() {
    let mut d = TestDriver::new("flat-map-bad", &[plan(true)]).unwrap();
    let err = d.pipe("lines", None, Some(br#"{"line":"a","n":1}"#), 1).unwrap_err();
    assert!(err.to_string().contains("SPLIT_WORDS"), "{err}");
}

#[test]
fn several_functions_run_side_by_side_padded_with_nulls() {
    let value = Schema::new(vec![Field::new("a", DataType::Utf8, true), Field::new("b", DataType::Utf8, true)]);
    let calls = vec![
        riffle_engine::plan::TableCall {
            func: Arc::new(SplitWords { broken: false }),
            args: vec![Expr::col("a")],
            name: "wa".into(),
        },
        riffle_engine::plan::TableCall {
            func: Arc::new(SplitWords { broken: false }),
            args: vec![Expr::col("b")],
            name: "wb".into(),
        },
    ];
    let plan = PlanBuilder::stream("pairs", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        .flat_map_zip(calls)
        .unwrap()
        .sink("zipped", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build();
    let mut d = TestDriver::new("flat-map-zip", &[plan]).unwrap();
    d.pipe("pairs", None, Some(br#"{"a":"x y","b":"1 2 3"}"#), 5).unwrap();
    let got: Vec<_> = d.read_output("zipped").unwrap().iter().map(|r| r.value_json().unwrap()).collect();
    assert_eq!(
        got,
        vec![
            json!({"a": "x y", "b": "1 2 3", "wa": "x", "wb": "1"}),
            json!({"a": "x y", "b": "1 2 3", "wa": "y", "wb": "2"}),
            json!({"a": "x y", "b": "1 2 3", "wa": null, "wb": "3"}),
        ]
    );
}
