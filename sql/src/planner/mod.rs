//! From a parsed `SELECT` to the engine's plan, through [`PlanBuilder`].
//!
//! The planner resolves names against a [`Scope`] (the columns visible at
//! each step, with the engine column each one reads), translates
//! expressions into the engine's [`EExpr`], and lays out the query the way
//! ksqlDB does:
//!
//! ```text
//! source(s) ─ join(s) ─ WHERE ─ PARTITION BY | GROUP BY ─ aggregate ─ EMIT FINAL ─ HAVING ─ projection ─ sink
//! ```
//!
//! The output's key follows ksqlDB's rules: the source key, the `PARTITION
//! BY` expressions, the `GROUP BY` expressions, or the join expression; the
//! projection must contain it, and its alias names the key column.

pub mod lambda;
pub mod structural;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use riffle_engine::physical::expr::expr_type;
use riffle_engine::plan::{
    AggFunc, BinaryOp, Expr as EExpr, JoinKind, JoinWindow, ScalarValue, TimestampSpec, WindowSpec, DEFAULT_GRACE_MS,
    ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART,
};
use riffle_engine::PlanBuilder;

use crate::ast::{self, BinOp, Emit, Expr, JoinType, Literal, Query, Relation, SelectItem, WindowKind};
use crate::catalog::{Catalog, SourceInfo, SourceKind, WindowInfo, WindowType};
use crate::error::{Result, SqlError};
use crate::functions::Functions;
use crate::serde::engine_format;
use crate::types::{Column, SqlType};
use structural::{ArrayConstructor, FieldAccess, MapConstructor, StructConstructor, Subscript};

/// The advice ksqlDB appends to an ungrouped-select-expression error.
const UNGROUPED_HINT: &str = "\nEither add the column(s) to the GROUP BY or remove them from the SELECT.";

/// Pseudo-columns a projection may not output under their own name.
const RESERVED_COLUMNS: &[&str] = &["ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"];

/// A column visible to expressions.
#[derive(Debug, Clone)]
struct ScopeCol {
    /// Source name or alias that qualifies it.
    qualifier: Option<String>,
    /// Name as written in queries.
    name: String,
    /// Engine column that holds it.
    engine: String,
    /// Whether it is a key column of its source.
    key: bool,
}

/// The columns visible at one step of the plan.
#[derive(Debug, Clone, Default)]
struct Scope {
    cols: Vec<ScopeCol>,
    /// Whether `WINDOWSTART`/`WINDOWEND` are columns here.
    windowed: bool,
    /// The left table of a foreign-key join, whose primary key keys the
    /// result.
    fk_left: Option<String>,
}

impl Scope {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<&ScopeCol> {
        let matches: Vec<&ScopeCol> = self
            .cols
            .iter()
            .filter(|c| c.name == name && (qualifier.is_none() || c.qualifier.as_deref() == qualifier))
            .collect();
        match (matches.len(), qualifier) {
            (1, _) => Ok(matches[0]),
            (0, Some(q)) if !self.cols.iter().any(|c| c.qualifier.as_deref() == Some(q)) => {
                Err(SqlError::semantic(format!("'{q}' is not a valid stream/table name or alias.")))
            }
            (0, Some(q)) => Err(SqlError::semantic(format!("Column '{q}.{name}' cannot be resolved."))),
            (0, None) => Err(SqlError::semantic(format!("Column '{name}' cannot be resolved."))),
            _ => {
                // Several sources have it; a join key present on both sides is
                // the same value: prefer the key column.
                Err(SqlError::semantic(format!("Column '{name}' is ambiguous. Could be any of: {}", {
                    let v: Vec<String> =
                        matches.iter().map(|c| format!("{}.{}", c.qualifier.as_deref().unwrap_or(""), c.name)).collect();
                    v.join(", ")
                })))
            }
        }
    }
}

/// A planned persistent query: the plan up to (not including) its sink and
/// the columns of its output.
#[derive(Debug)]
pub struct Planned {
    /// The plan so far.
    pub plan: PlanBuilder,
    /// Stream or table.
    pub kind: SourceKind,
    /// Output key columns.
    pub key: Vec<Column>,
    /// Output value columns (for transient queries: named as selected; the
    /// plan names them `KSQL_TRANSIENT_i`).
    pub value: Vec<Column>,
    /// Window of the output keys.
    pub window: Option<WindowInfo>,
    /// Input topics.
    pub inputs: Vec<String>,
    /// Transient queries: the value columns that repeat a key column (the
    /// header of a pull query marks them `KEY`).
    pub output_keys: Vec<String>,
}

/// Plans queries against a catalog.
pub struct Planner<'a> {
    /// Known sources.
    pub catalog: &'a Catalog,
    /// Known functions.
    pub functions: &'a Functions,
    /// Whether the query being planned has a `WINDOW` clause.
    pub windowed_query: bool,
    /// Whether null-valued stream records pass through (stateless queries).
    keep_nulls: bool,
    /// `ksql.functions.collect_list.limit` / `collect_set.limit`, passed to
    /// those aggregates as a trailing argument.
    pub collect_limits: (Option<i64>, Option<i64>),
    /// Plans a transient query (push or pull `SELECT`): every select item
    /// becomes a value column in select order (key columns are copied, the
    /// record key stays as it is), and pseudo-columns such as `ROWTIME` may
    /// be selected.
    pub transient: bool,
    /// Whether the query reads `ROWPARTITION`/`ROWOFFSET`, so its sources
    /// carry each record's partition and offset.
    record_metadata: bool,
    /// Whether the query reads a source's own `ROWTIME` (`S.ROWTIME`) in a
    /// join, so each side carries its record time into the joined row.
    side_rowtime: bool,
    /// Set while planning `HAVING`: ksqlDB compares a number or boolean
    /// with a string literal that parses as one in `WHERE`, not in `HAVING`.
    in_having: std::cell::Cell<bool>,
    /// The statement being planned, as ksqlDB names it in messages
    /// (`CREATE TABLE AS SELECT`; `SELECT` by default).
    pub statement: &'static str,
}

impl<'a> Planner<'a> {
    /// A planner over `catalog` and `functions`.
    pub fn new(catalog: &'a Catalog, functions: &'a Functions) -> Self {
        Planner {
            catalog,
            functions,
            windowed_query: false,
            keep_nulls: false,
            collect_limits: (None, None),
            record_metadata: false,
            side_rowtime: false,
            in_having: std::cell::Cell::new(false),
            statement: "SELECT",
            transient: false,
        }
    }

    /// Whether `query` is stateless (no aggregation, join or table
    /// function), so null-valued stream records pass through it.
    fn stateless(&self, query: &Query) -> bool {
        let calls_special = query.select.iter().any(|i| match i {
            SelectItem::Expr { expr, .. } => {
                let mut special = false;
                walk(expr, &mut |x| {
                    if let Expr::Function { name, .. } = x {
                        if is_aggregate_name(name, self.functions) || self.functions.table(name).is_some() {
                            special = true;
                        }
                    }
                });
                special
            }
            _ => false,
        });
        query.group_by.is_empty() && query.having.is_none() && !calls_special && matches!(query.from, Relation::Source { .. })
    }
}

/// `(AST expression, engine column)` substitutions applied before
/// translation: grouping expressions and aggregate calls after an
/// aggregation.
type Replacements = Vec<(Expr, String)>;

impl<'a> Planner<'a> {
    /// Plans `query`, whose result will be written as `sink_name`.
    ///
    /// # Errors
    /// Unknown sources or columns, type errors, shapes ksqlDB rejects (with
    /// its wording where the conformance files pin it).
    pub fn plan_query(&self, query: &Query, sink_name: &str) -> Result<Planned> {
        // A transient query may aggregate without GROUP BY: one group over
        // everything (ksqlDB groups by a constant), which persistent
        // queries refuse.
        let global;
        let query = if self.transient
            && query.group_by.is_empty()
            && query.window.is_none()
            && query.select.iter().any(|i| matches!(i, SelectItem::Expr { expr, .. } if contains_aggregate(expr, self.functions)))
        {
            let mut q = query.clone();
            q.group_by = vec![Expr::Literal(Literal::Integer(1))];
            global = q;
            &global
        } else {
            query
        };
        let this = Planner {
            catalog: self.catalog,
            functions: self.functions,
            windowed_query: query.window.is_some(),
            keep_nulls: self.stateless(query),
            collect_limits: self.collect_limits,
            record_metadata: reads_record_metadata(query),
            side_rowtime: matches!(query.from, Relation::Join { .. }) && reads_qualified_rowtime(query),
            in_having: std::cell::Cell::new(false),
            statement: self.statement,
            transient: self.transient,
        };
        this.plan_query_inner(query, sink_name)
    }

    fn plan_query_inner(&self, query: &Query, sink_name: &str) -> Result<Planned> {
        // `X.ROWTIME AS ROWTIME` and the like are rejected before anything
        // is resolved, as ksqlDB does.
        for item in &query.select {
            if let SelectItem::Expr { expr: Expr::Column { name, .. }, alias: Some(a) } = item {
                if a == name && RESERVED_COLUMNS.contains(&name.as_str()) {
                    return Err(SqlError::semantic(format!(
                        "Reserved column name in select: `{name}`. Please remove or alias the column."
                    )));
                }
            }
        }
        let mut inputs = Vec::new();
        let (mut b, mut scope, join_keys) = self.relation(&query.from, &mut inputs)?;
        if let Some(w) = &query.where_clause {
            if contains_aggregate(w, self.functions) {
                return Err(SqlError::semantic("Aggregate functions are not allowed in the WHERE clause."));
            }
            let pred = self.expr(w, &scope, &b, &[]).map_err(|e| match e {
                // Unknown columns are named by clause, as in ksqlDB.
                SqlError::Semantic(m) if m.starts_with("Column '") && m.ends_with("' cannot be resolved.") => {
                    SqlError::Semantic(m.replacen("Column '", "WHERE column '", 1))
                }
                e => prefix_err("Error in WHERE expression: ", e),
            })?;
            if let Ok(t) = expr_type(&pred, &b.meta().schema) {
                if t != DataType::Boolean && t != DataType::Null {
                    let st = SqlType::from_arrow(&t).map(|t| t.to_string()).unwrap_or_else(|_| t.to_string());
                    return Err(SqlError::semantic(format!(
                        "Type error in WHERE expression: Should evaluate to boolean but is {} ({st}) instead.",
                        display_expr(w)
                    )));
                }
            }
            b = b.filter(pred)?;
        }
        // After PARTITION BY, `*` lists the value columns, then the old key.
        let keys_last = !query.partition_by.is_empty() && matches!(query.from, Relation::Source { .. });
        let items = self.expand_select(&query.select, &scope, keys_last)?;
        // Unknown function names fail first, as in ksqlDB.
        for e in items.iter().map(|(e, _)| e).chain(query.having.iter()).chain(query.group_by.iter()) {
            let mut unknown = None;
            walk(e, &mut |x| {
                if let Expr::Function { name, .. } = x {
                    let known = matches!(name.as_str(), "TRANSFORM" | "FILTER" | "REDUCE")
                        || self.functions.scalar(name).is_some()
                        || self.functions.table(name).is_some()
                        || is_aggregate_name(name, self.functions);
                    if !known && unknown.is_none() {
                        unknown = Some(name.clone());
                    }
                }
            });
            if let Some(name) = unknown {
                return Err(SqlError::semantic(format!("Can't find any functions with the name '{name}'")));
            }
        }
        let is_agg = !query.group_by.is_empty()
            || items.iter().any(|(e, _)| contains_aggregate(e, self.functions))
            || query.having.is_some();

        // Table functions (EXPLODE …) in the select list: one flat-map each.
        let calls_udtf = items.iter().any(|(e, _)| {
            let mut found = false;
            walk(e, &mut |x| {
                if matches!(x, Expr::Function { name, .. } if self.functions.table(name).is_some()) {
                    found = true;
                }
            });
            found
        });
        if calls_udtf && is_agg {
            return Err(SqlError::semantic("Table functions cannot be used with aggregations."));
        }
        if calls_udtf && b.meta().kind == riffle_engine::plan::Kind::Table {
            return Err(SqlError::semantic("Table source is not supported with table functions"));
        }
        let mut udtf_repl: Replacements = Vec::new();
        if !is_agg {
            // Several table functions run side by side (zipped), as in ksqlDB.
            let mut calls = Vec::new();
            for (i, (e, _)) in items.iter().enumerate() {
                if let Expr::Function { name, args } = e {
                    if let Some(f) = self.functions.table(name) {
                        let eargs = args.iter().map(|a| self.expr(a, &scope, &b, &[])).collect::<Result<Vec<_>>>()?;
                        let col = format!("KSQL_SYNTH_{i}");
                        calls.push(riffle_engine::plan::TableCall { func: f, args: eargs, name: col.clone() });
                        udtf_repl.push((e.clone(), col));
                    }
                }
            }
            if !calls.is_empty() {
                b = b.flat_map_zip(calls)?;
            }
        }

        // The output key: which select items must carry it.
        let key_alternatives: Vec<Vec<Expr>>;
        let mut replacements: Replacements = udtf_repl;
        let mut key_names: Vec<String>;
        let mut window = None;
        // Whether the output key is a join's key.
        let mut join_keyed = false;

        // ksqlDB reports ungrouped select expressions before a missing GROUP BY.
        if query.window.is_some() && query.group_by.is_empty() && !is_agg {
            return Err(SqlError::semantic("WINDOW clause requires a GROUP BY clause."));
        }
        if let Relation::Source { name, .. } = &query.from {
            // Transient (push and pull) queries may read windowed tables.
            if !self.transient && self.catalog.source(name).is_some_and(|s| s.kind == SourceKind::Table && s.window.is_some()) {
                return Err(SqlError::semantic("KSQL does not support persistent queries on windowed tables."));
            }
        }
        if is_agg && !query.group_by.is_empty() {
            let mut sources = Vec::new();
            collect_sources(&query.from, &mut sources);
            self.refuse_kafka_values(sources, "GROUP BY")?;
        }
        if is_agg {
            if query.group_by.is_empty() {
                let mut bad = Vec::new();
                for (e, _) in &items {
                    ungrouped_columns(e, &[], self.functions, &mut bad);
                }
                if !bad.is_empty() {
                    return Err(SqlError::semantic(format!(
                        "Non-aggregate SELECT expression(s) not part of GROUP BY: {}{UNGROUPED_HINT}",
                        bad.iter().map(display_expr).collect::<Vec<_>>().join(", ")
                    )));
                }
                let mut calls = Vec::new();
                for (e, _) in &items {
                    collect_aggregates(e, self.functions, &mut calls);
                }
                // ksqlDB shows COUNT(*) as it rewrites it: COUNT(ROWTIME).
                let shown: Vec<String> = calls
                    .iter()
                    .map(|c| match c {
                        Expr::Function { name, args } if args.iter().any(|a| matches!(a, Expr::Star)) => format!("{name}(ROWTIME)"),
                        c => display_expr(c),
                    })
                    .collect();
                return Err(SqlError::semantic(format!(
                    "{} statement does not support aggregate function [{}] without a GROUP BY clause.",
                    self.statement,
                    shown.join(", ")
                )));
            }
            for (i, g) in query.group_by.iter().enumerate() {
                if query.group_by[..i].iter().any(|earlier| same_column(earlier, g, &scope)) {
                    return Err(SqlError::semantic(format!(
                        "Duplicate GROUP BY expression: {}",
                        display_expr(&qualify_deep(g, &[&scope]))
                    )));
                }
            }
            for g in &query.group_by {
                if contains_aggregate(g, self.functions) {
                    let name = first_aggregate(g, self.functions).unwrap_or_default();
                    return Err(SqlError::semantic(format!(
                        "GROUP BY does not support aggregate functions: {name} is an aggregate function."
                    )));
                }
            }
            // A grouping other than the current key re-keys the rows: keep
            // the old key readable (aggregate arguments may use it).
            let current: Vec<String> = scope.cols.iter().filter(|c| c.key).map(|c| c.name.clone()).collect();
            let same_key = query.group_by.len() == current.len()
                && query.group_by.iter().zip(&current).all(|(g, c)| matches!(g, Expr::Column { name, .. } if name == c));
            // (Streams only: a table's projection would lose the old row a
            // re-grouping needs to retract.)
            let mut referenced = std::collections::HashSet::new();
            for e in items.iter().map(|(e, _)| e).chain(query.having.iter()) {
                walk(e, &mut |x| {
                    if let Expr::Column { name, .. } = x {
                        referenced.insert(name.clone());
                    }
                });
            }
            let key_used = current.iter().any(|k| referenced.contains(k));
            if !same_key && key_used && b.meta().window.is_none() && b.meta().kind == riffle_engine::plan::Kind::Stream {
                b = copy_keys_into_values(b, &mut scope)?;
            }
            // Key names: a plain column keeps its name; an expression takes
            // its alias in the projection, else KSQL_COL_i.
            let mut keys = Vec::new();
            key_names = Vec::new();
            for (i, g) in query.group_by.iter().enumerate() {
                let aliased = items.iter().find(|(e, _)| e == g).map(|(_, n)| n.clone());
                let name = match (g, aliased) {
                    (_, Some(a)) => a,
                    (Expr::Column { name, .. }, None) => name.clone(),
                    _ => format!("KSQL_COL_{i}"),
                };
                keys.push((self.expr(g, &scope, &b, &[])?, name.clone()));
                key_names.push(name);
            }
            // Aggregate calls in the select list and HAVING.
            let mut calls: Vec<Expr> = Vec::new();
            for (e, _) in &items {
                collect_aggregates(e, self.functions, &mut calls);
            }
            if let Some(h) = &query.having {
                collect_aggregates(h, self.functions, &mut calls);
            }
            if calls.is_empty() {
                return Err(SqlError::semantic("GROUP BY requires aggregate functions in either the SELECT or HAVING clause."));
            }
            if b.meta().kind == riffle_engine::plan::Kind::Table {
                let mut bad: Vec<String> = calls
                    .iter()
                    .filter_map(|c| match c {
                        Expr::Function { name, .. } if !crate::functions::aggregate::supports_tables(name) => Some(name.clone()),
                        _ => None,
                    })
                    .collect();
                let mut seen = std::collections::HashSet::new();
                bad.retain(|n| seen.insert(n.clone()));
                if !bad.is_empty() {
                    let list = match bad.len() {
                        1 => bad[0].clone(),
                        n => format!("{} and {}", bad[..n - 1].join(", "), bad[n - 1]),
                    };
                    return Err(SqlError::semantic(format!(
                        "The aggregation function{} {list} cannot be applied to a table source, only to a stream source.",
                        if bad.len() > 1 { "s" } else { "" }
                    )));
                }
            }
            for call in &calls {
                if let Expr::Function { args, .. } = call {
                    if args.iter().any(|a| contains_aggregate(a, self.functions)) {
                        return Err(SqlError::semantic(format!(
                            "Aggregate functions can not be nested: {}",
                            display_expr(call)
                        )));
                    }
                }
            }
            let mut aggs = Vec::new();
            for (i, call) in calls.iter().enumerate() {
                let name = format!("KSQL_AGG_VARIABLE_{i}");
                aggs.push(self.aggregate_call(call, &scope, &b, &name)?);
                replacements.push((call.clone(), name));
            }
            // Non-aggregate columns in the select list must be grouped.
            let ungrouped: Vec<String> = items
                .iter()
                .filter(|(e, _)| {
                    let mut bad = Vec::new();
                    ungrouped_columns(e, &query.group_by, self.functions, &mut bad);
                    !bad.is_empty()
                })
                .map(|(e, _)| display_expr(e))
                .collect();
            if !ungrouped.is_empty() {
                return Err(SqlError::semantic(format!(
                    "Non-aggregate SELECT expression(s) not part of GROUP BY: {}{UNGROUPED_HINT}",
                    ungrouped.join(", ")
                )));
            }
            let spec = query.window.as_ref().map(|w| window_spec(w, query.emit == Some(Emit::Final)));
            if let Some(w) = &query.window {
                window = Some(window_info(w));
            }
            if b.meta().window.is_some() {
                return Err(SqlError::semantic("Aggregating a windowed source is not supported yet."));
            }
            // Rows with a NULL grouping expression are dropped (ksqlDB cannot
            // address them).
            if b.meta().kind == riffle_engine::plan::Kind::Stream {
                let all_null = keys
                    .iter()
                    .map(|(e, _)| EExpr::IsNull { expr: Box::new(e.clone()), negated: false })
                    .reduce(|a, c| EExpr::Binary { left: Box::new(a), op: BinaryOp::Or, right: Box::new(c) });
                if let Some(p) = all_null {
                    b = b.filter(EExpr::Not(Box::new(p)))?;
                }
            }
            b = b.group_by(keys)?;
            b = b.aggregate(spec, aggs)?;
            if query.emit == Some(Emit::Final) {
                if query.window.is_none() {
                    return Err(SqlError::semantic("EMIT FINAL is only supported for windowed aggregations."));
                }
                b = b.suppress()?;
            }
            for (g, n) in query.group_by.iter().zip(&key_names) {
                replacements.push((g.clone(), n.clone()));
            }
            let mut new_scope = Scope { cols: Vec::new(), windowed: query.window.is_some(), fk_left: None };
            for n in &key_names {
                new_scope.cols.push(ScopeCol { qualifier: None, name: n.clone(), engine: n.clone(), key: true });
            }
            if let Some(h) = &query.having {
                self.in_having.set(true);
                let pred = self.expr(h, &new_scope, &b, &replacements);
                self.in_having.set(false);
                let pred = pred.map_err(|e| {
                    let mut bad = Vec::new();
                    ungrouped_columns(h, &query.group_by, self.functions, &mut bad);
                    match (&e, bad.first()) {
                        (SqlError::Semantic(m), Some(col)) if m.ends_with("cannot be resolved.") => SqlError::Semantic(format!(
                            "Non-aggregate HAVING expression not part of GROUP BY: {}",
                            display_expr(col)
                        )),
                        _ => prefix_err("Error in HAVING expression: ", e),
                    }
                })?;
                b = b.filter(pred)?;
            }
            scope = new_scope;
            key_alternatives = query.group_by.iter().map(|g| vec![g.clone()]).collect();
        } else if !query.partition_by.is_empty() {
            if b.meta().kind == riffle_engine::plan::Kind::Table {
                return Err(SqlError::semantic("Unsupported PARTITION BY on a table: use GROUP BY instead."));
            }
            if b.meta().window.is_some() {
                return Err(SqlError::semantic(
                    "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
                ));
            }
            // Copy the old key columns into the value so the projection can
            // still read them after the re-key.
            b = copy_keys_into_values(b, &mut scope)?;
            let mut keys = Vec::new();
            key_names = Vec::new();
            for (i, p) in query.partition_by.iter().enumerate() {
                let aliased = items.iter().find(|(e, _)| e == p).map(|(_, n)| n.clone());
                let name = match (p, aliased) {
                    (_, Some(a)) => a,
                    (Expr::Column { name, .. }, None) => name.clone(),
                    (Expr::Field { field, .. }, None) => field.clone(),
                    _ => format!("KSQL_COL_{i}"),
                };
                let key = self.expr(p, &scope, &b, &[]).map_err(|e| match e {
                    SqlError::Semantic(m) if m.starts_with("Column '") && m.ends_with("' cannot be resolved.") => {
                        let col = m.trim_start_matches("Column '").trim_end_matches("' cannot be resolved.").to_string();
                        SqlError::Semantic(format!(
                            "PARTITION BY column '{col}' cannot be resolved. '{col}' must be a column in the source schema since PARTITION BY is applied on the input."
                        ))
                    }
                    e => e,
                })?;
                keys.push((key, name.clone()));
                replacements.push((p.clone(), name.clone()));
                key_names.push(name);
            }
            let has_null = query.partition_by.iter().any(|p| matches!(p, Expr::Literal(Literal::Null)));
            if has_null && query.partition_by.len() > 1 {
                return Err(SqlError::semantic("Cannot PARTITION BY multiple columns including NULL"));
            }
            if has_null {
                keys.clear();
                key_names.clear();
            }
            // ksqlDB's PARTITION BY writes the sink with the new key: no
            // internal topic, the sink partitions by the key it writes.
            b = b.rekey_local(keys)?;
            // Value columns keep their engine names; scope stays.
            for n in &key_names {
                scope.cols.push(ScopeCol { qualifier: None, name: n.clone(), engine: n.clone(), key: true });
            }
            key_alternatives =
                if has_null { Vec::new() } else { query.partition_by.iter().map(|p| vec![p.clone()]).collect() };
        } else {
            join_keyed = join_keys.is_some();
            key_alternatives = match join_keys {
                // A join is keyed by one of the columns its criteria name
                // (left first): the first one the projection selects, else
                // the first. Only that one is the key; the others are values.
                Some(keys) => keys
                    .into_iter()
                    .map(|alts| {
                        let viable: Vec<Expr> = alts.iter().filter(|e| matches!(e, Expr::Column { .. })).cloned().collect();
                        let viable = if viable.is_empty() { alts } else { viable };
                        match viable.iter().find(|a| items.iter().any(|(e, _)| same_column(a, e, &scope))) {
                            Some(chosen) => vec![chosen.clone()],
                            None => viable,
                        }
                    })
                    .collect(),
                None => scope
                    .cols
                    .iter()
                    .filter(|c| c.key)
                    .map(|c| vec![Expr::Column { qualifier: None, name: c.name.clone() }])
                    .collect(),
            };
            key_names = b.meta().key_columns().iter().map(|s| s.to_string()).collect();
            if b.meta().window.is_some() {
                scope.windowed = true;
                window = None;
            }
        }

        // The projection: items matching a key expression become key columns.
        let mut key_out: Vec<Option<String>> = vec![None; key_alternatives.len()];
        let mut values: Vec<(EExpr, String)> = Vec::new();
        let mut output_keys = Vec::new();
        let mut transient_names = Vec::new();
        for (e, name) in &items {
            let is_key = key_alternatives.iter().position(|alts| alts.iter().any(|a| same_column(a, e, &scope)));
            if self.transient {
                let window_bound =
                    scope.windowed && matches!(e, Expr::Column { name, .. } if name == "WINDOWSTART" || name == "WINDOWEND");
                if is_key.is_some() || window_bound {
                    output_keys.push(name.clone());
                }
                // Engine names that cannot clash with the key columns; the
                // select names come back in `Planned::value`.
                let engine_name = format!("KSQL_TRANSIENT_{}", values.len());
                values.push((self.expr(e, &scope, &b, &replacements)?, engine_name));
                transient_names.push(name.clone());
                continue;
            }
            match is_key {
                Some(i) if key_out[i].is_none() => key_out[i] = Some(name.clone()),
                Some(i) if is_agg => {
                    return Err(SqlError::semantic(format!(
                        "The projection contains a key column more than once: `{}` and `{name}`.",
                        key_out[i].clone().unwrap_or_default()
                    )));
                }
                Some(i) if key_alternatives[i].len() == 1 && matches!(e, Expr::Column { .. }) => {
                    let mut aliases = [key_out[i].clone().unwrap_or_default(), name.clone()];
                    aliases.sort();
                    // A join's key column is named after its source (`L_A`).
                    let joined_name = match &key_alternatives[i][0] {
                        Expr::Column { qualifier, name } if join_keyed => {
                            scope.resolve(qualifier.as_deref(), name).ok().map(|c| c.engine.clone())
                        }
                        _ => None,
                    };
                    return Err(SqlError::semantic(format!(
                        "The projection contains a key column (`{}`) more than once, aliased as: {} and {}.",
                        joined_name.or_else(|| key_names.get(i).cloned()).unwrap_or_default(),
                        aliases[0],
                        aliases[1]
                    )));
                }
                _ => {
                    if RESERVED_COLUMNS.contains(&name.as_str()) {
                        return Err(SqlError::semantic(format!(
                            "Reserved column name in select: `{name}`. Please remove or alias the column."
                        )));
                    }
                    let v = self.expr(e, &scope, &b, &replacements).map_err(|err| match err {
                        SqlError::Semantic(m) if m.starts_with("Column '") => {
                            SqlError::Semantic(m.replacen("Column '", "SELECT column '", 1))
                        }
                        SqlError::Semantic(m) if m.starts_with("Cast of ") => SqlError::Semantic(format!("Invalid Select: {m}")),
                        other => other,
                    })?;
                    values.push((v, name.clone()));
                }
            }
        }
        if self.transient {
            // The record key stays as it is.
            key_out = key_names.iter().cloned().map(Some).collect();
        }
        let missing: Vec<usize> = (0..key_out.len()).filter(|i| key_out[*i].is_none()).collect();
        if let (Some(table), false, true, false) = (&scope.fk_left, missing.is_empty(), query.partition_by.is_empty(), is_agg) {
            let names: Vec<String> = missing
                .iter()
                .map(|i| match &key_alternatives[*i][0] {
                    Expr::Column { name, .. } => format!("`{name}`"),
                    other => format!("`{}`", display_expr(other)),
                })
                .collect();
            let (s, cols) = if names.len() > 1 { ("s", "columns") } else { ("", "column") };
            return Err(SqlError::semantic(format!(
                "Primary key column{s} missing in projection. For foreign-key table-table joins, the projection must include all primary key columns from the left input table (`{table}`). Missing {cols}: {}.",
                names.join(", ")
            )));
        }
        if missing.len() > 1 && is_agg {
            let names: Vec<String> = missing.iter().map(|i| display_expr(&key_alternatives[*i][0])).collect();
            let (last, first) = names.split_last().map(|(l, f)| (l.clone(), f.join(", "))).unwrap_or_default();
            return Err(SqlError::semantic(format!(
                "The query used to build `{sink_name}` must include the grouping expressions {first} and {last} in its projection (eg, SELECT {}...).",
                names.join(", ")
            )));
        }
        if !missing.is_empty()
            && key_alternatives.len() > 1
            && !is_agg
            && query.partition_by.is_empty()
            && key_alternatives.iter().all(|a| a.len() == 1)
        {
            // ksqlDB names every key column when any is missing.
            let names: Vec<String> = key_alternatives.iter().map(|a| display_expr(&a[0])).collect();
            return Err(SqlError::semantic(format!(
                "The query used to build `{sink_name}` must include the key columns {} in its projection (eg, SELECT {}...).",
                names.join(" and "),
                names.join(", ")
            )));
        }
        // `SELECT *` with PARTITION BY carries the new key without naming it.
        if !query.partition_by.is_empty() && query.select.iter().any(|s| matches!(s, SelectItem::Star)) {
            for (i, k) in key_out.iter_mut().enumerate() {
                if k.is_none() {
                    *k = key_names.get(i).cloned();
                }
            }
        }
        for (i, k) in key_out.iter().enumerate() {
            if k.is_none() {
                let alts = &key_alternatives[i];
                let what = if is_agg {
                    format!("grouping expression {}", display_expr(&alts[0]))
                } else if !query.partition_by.is_empty() && key_alternatives.len() > 1 {
                    // ksqlDB names every partitioning expression when any is missing.
                    let all: Vec<String> = key_alternatives.iter().map(|a| qualified(&a[0], &query.from)).collect();
                    let (last, first) = all.split_last().map(|(l, f)| (l.clone(), f.join(", "))).unwrap_or_default();
                    return Err(SqlError::semantic(format!(
                        "The query used to build `{sink_name}` must include the partitioning expressions {first} and {last} in its projection (eg, SELECT {}...).",
                        all.join(", ")
                    )));
                } else if !query.partition_by.is_empty() {
                    let q = qualified(&alts[0], &query.from);
                    return Err(SqlError::semantic(format!(
                        "The query used to build `{sink_name}` must include the partitioning expression {q} in its projection (eg, SELECT {q}...)."
                    )));
                } else if alts.len() > 1 {
                    let v: Vec<String> = alts.iter().map(display_expr).collect();
                    return Err(SqlError::semantic(format!(
                        "The query used to build `{sink_name}` must include the join expressions {} in its projection (eg, SELECT {}...).",
                        v.join(" or "),
                        v[0]
                    )));
                } else if join_keyed && synthetic_key(&alts[0], &scope).is_none() {
                    format!("join expression {}", display_expr(&alts[0]))
                } else if let Some(name) = synthetic_key(&alts[0], &scope) {
                    return Err(SqlError::semantic(format!(
                        "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{sink_name}` must include the join expression {name} in its projection (eg, SELECT {name}...).\n{name} was added as a synthetic key column because the join criteria did not match any source column. This expression must be included in the projection and may be aliased."
                    )));
                } else {
                    format!("key column {}", display_expr(&alts[0]))
                };
                return Err(SqlError::semantic(format!(
                    "The query used to build `{sink_name}` must include the {what} in its projection (eg, SELECT {}...).",
                    display_expr(&alts[0])
                )));
            }
        }
        if values.is_empty() {
            return Err(SqlError::semantic("The projection contains no value columns."));
        }
        b = b.project(values)?;
        let wanted: Vec<String> = key_out.into_iter().flatten().collect();
        if wanted != key_names {
            let rename: Vec<(EExpr, String)> = key_names.iter().zip(&wanted).map(|(old, new)| (EExpr::col(old), new.clone())).collect();
            b = b.rekey_local(rename)?;
        }
        let meta = b.meta().clone();
        let to_cols = |fields: &[Arc<Field>]| -> Result<Vec<Column>> {
            fields.iter().map(|f| Ok(Column::new(f.name().clone(), SqlType::from_arrow(f.data_type())?))).collect()
        };
        let key = to_cols(&meta.schema.fields()[..meta.key_len])?;
        let mut value = to_cols(&meta.schema.fields()[meta.value_start()..])?;
        for (c, n) in value.iter_mut().zip(transient_names) {
            c.name = n;
        }
        if window.is_none() {
            window = inputs_window(self.catalog, &query.from).filter(|_| meta.window.is_some());
        }
        let kind = if meta.kind == riffle_engine::plan::Kind::Table { SourceKind::Table } else { SourceKind::Stream };
        Ok(Planned { plan: b, kind, key, value, window, inputs, output_keys })
    }

    /// Translates an expression that reads no columns (`INSERT … VALUES`).
    ///
    /// # Errors
    /// Column references, unknown functions, type errors.
    pub fn constant(&self, e: &Expr) -> Result<EExpr> {
        let b = PlanBuilder::stream(
            "__values",
            Arc::new(riffle_engine::format::KafkaFormat),
            Arc::new(riffle_engine::format::JsonFormat),
            &[],
            Schema::empty(),
            TimestampSpec::Record,
        )?;
        self.expr(e, &Scope::default(), &b, &[])
    }

    /// `SELECT` items with stars expanded, each with its output name.
    fn expand_select(&self, select: &[SelectItem], scope: &Scope, keys_last: bool) -> Result<Vec<(Expr, String)>> {
        let mut out = Vec::new();
        let joined = scope.cols.iter().filter_map(|c| c.qualifier.clone()).collect::<std::collections::BTreeSet<_>>().len() > 1;
        let mut anon = 0;
        for item in select {
            match item {
                SelectItem::Star => {
                    let mut cols: Vec<&ScopeCol> = scope.cols.iter().filter(|c| !is_record_metadata(&c.name)).collect();
                    if keys_last {
                        cols.sort_by_key(|c| c.key);
                    }
                    // A transient query over a windowed source shows the
                    // window bounds right after the key, as ksqlDB does.
                    let bounds_after = (self.transient && scope.windowed && !joined)
                        .then(|| cols.iter().rposition(|c| c.key))
                        .flatten();
                    for (i, c) in cols.into_iter().enumerate() {
                        let name = match (&c.qualifier, joined) {
                            (Some(q), true) => format!("{q}_{}", c.name),
                            _ => c.name.clone(),
                        };
                        let qualifier = if joined { c.qualifier.clone() } else { None };
                        out.push((Expr::Column { qualifier, name: c.name.clone() }, name));
                        if bounds_after == Some(i) {
                            for b in ["WINDOWSTART", "WINDOWEND"] {
                                out.push((Expr::Column { qualifier: None, name: b.to_string() }, b.to_string()));
                            }
                        }
                    }
                }
                SelectItem::QualifiedStar(q) => {
                    let cols: Vec<&ScopeCol> = scope
                        .cols
                        .iter()
                        .filter(|c| c.qualifier.as_deref() == Some(q) && !is_record_metadata(&c.name))
                        .collect();
                    if cols.is_empty() {
                        return Err(SqlError::semantic(format!("'{q}' is not a valid stream/table name or alias.")));
                    }
                    for c in cols {
                        let name = if joined { format!("{q}_{}", c.name) } else { c.name.clone() };
                        out.push((Expr::Column { qualifier: Some(q.clone()), name: c.name.clone() }, name));
                    }
                }
                SelectItem::Expr { expr, alias } => {
                    if matches!(expr, Expr::Literal(Literal::Null)) {
                        return Err(SqlError::semantic(
                            "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).",
                        ));
                    }
                    if let Expr::Column { qualifier: None, name } = expr {
                        if (name == "WINDOWSTART" || name == "WINDOWEND") && !scope.windowed && !self.windowed_query {
                            return Err(SqlError::semantic(format!(
                                "Reserved column name in select: `{name}`. Please remove or alias the column."
                            )));
                        }
                    }
                    let name = match (alias, expr) {
                        (Some(a), _) => a.clone(),
                        // In a join a column keeps its name unless several
                        // sources have one of that name: then `ALIAS_NAME`.
                        // Every source has a ROWTIME: qualified, it is named after its source.
                        (None, Expr::Column { qualifier: Some(q), name }) if joined && name == "ROWTIME" => format!("{q}_{name}"),
                        (None, Expr::Column { qualifier, name }) if joined => {
                            let owners: std::collections::BTreeSet<&str> = scope
                                .cols
                                .iter()
                                .filter(|c| &c.name == name)
                                .filter_map(|c| c.qualifier.as_deref())
                                .collect();
                            let q = qualifier.clone().or_else(|| owners.iter().next().map(|s| s.to_string()));
                            match q {
                                Some(q) if owners.len() > 1 => format!("{q}_{name}"),
                                _ => name.clone(),
                            }
                        }
                        (None, Expr::Column { name, .. }) => name.clone(),
                        // A field's name, with `_1`, `_2`, … when a source
                        // column or an earlier item has it (ksqlDB's alias
                        // generator).
                        (None, Expr::Field { field, .. }) => {
                            let taken = |n: &str| scope.cols.iter().any(|c| c.name == n) || out.iter().any(|(_, o)| o == n);
                            let mut n = field.clone();
                            let mut i = 1;
                            while taken(&n) {
                                n = format!("{field}_{i}");
                                i += 1;
                            }
                            n
                        }
                        _ => {
                            // Generated names skip the sources' column names.
                            let mut n = format!("KSQL_COL_{anon}");
                            while scope.cols.iter().any(|c| c.name == n) {
                                anon += 1;
                                n = format!("KSQL_COL_{anon}");
                            }
                            anon += 1;
                            n
                        }
                    };
                    // `X.ROWTIME AS ROWTIME` selects the pseudo-column under
                    // its own name, like an unaliased `ROWTIME`.
                    let self_named = matches!(expr, Expr::Column { name: n, .. } if n == &name);
                    if alias.is_some() && RESERVED_COLUMNS.contains(&name.as_str()) && self_named {
                        return Err(SqlError::semantic(format!(
                            "Reserved column name in select: `{name}`. Please remove or alias the column."
                        )));
                    }
                    if alias.is_some() && RESERVED_COLUMNS.contains(&name.as_str()) {
                        return Err(SqlError::semantic(format!(
                            "`{name}` is a reserved column name. You cannot use it as an alias for a column."
                        )));
                    }
                    out.push((expr.clone(), name));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (_, n) in &out {
            if !seen.insert(n.clone()) {
                return Err(SqlError::semantic(format!("Duplicate value columns found in schema: `{n}`")));
            }
        }
        Ok(out)
    }

    /// Plans a `FROM` item: its builder, its scope and, for joins, the
    /// expressions that carry the join key.
    fn relation(&self, r: &Relation, inputs: &mut Vec<String>) -> Result<(PlanBuilder, Scope, Option<Vec<Vec<Expr>>>)> {
        match r {
            Relation::Source { name, alias } => {
                let (b, scope) = self.scan(name, alias.as_deref(), inputs)?;
                Ok((b, scope, None))
            }
            Relation::Join { left, right, kind, on, within } => self.join(left, right, *kind, on, *within, inputs),
        }
    }

    fn scan(&self, name: &str, alias: Option<&str>, inputs: &mut Vec<String>) -> Result<(PlanBuilder, Scope)> {
        let src = self
            .catalog
            .source(name)
            .ok_or_else(|| SqlError::semantic(format!("{name} does not exist.")))?;
        let q = alias.unwrap_or(name).to_string();
        inputs.push(src.topic.clone());
        let b = source_builder(src, self.functions)?;
        let b = if self.keep_nulls { b.keep_null_values() } else { b };
        let b = if self.record_metadata { b.with_record_metadata()? } else { b };
        let mut scope = Scope::default();
        for c in &src.key {
            scope.cols.push(ScopeCol { qualifier: Some(q.clone()), name: c.name.clone(), engine: c.name.clone(), key: true });
        }
        for c in src.value.iter().chain(src.headers.iter().map(|(c, _)| c)) {
            scope.cols.push(ScopeCol { qualifier: Some(q.clone()), name: c.name.clone(), engine: c.name.clone(), key: false });
        }
        if self.record_metadata {
            for name in [ROWPARTITION, ROWOFFSET] {
                scope.cols.push(ScopeCol { qualifier: Some(q.clone()), name: name.into(), engine: name.into(), key: false });
            }
        }
        scope.windowed = src.window.is_some();
        Ok((b, scope))
    }

    /// One side of a join: every column copied into the value under
    /// `Q_NAME`, keyed by the side's join expression.
    fn join_side(
        &self,
        r: &Relation,
        inputs: &mut Vec<String>,
    ) -> Result<(PlanBuilder, Scope, Option<Vec<Vec<Expr>>>)> {
        let (b, scope, keys) = self.relation(r, inputs)?;
        if matches!(r, Relation::Join { .. }) {
            return Ok((b, scope, keys));
        }
        let mut values = Vec::new();
        let mut out = Scope { cols: Vec::new(), windowed: scope.windowed, fk_left: None };
        for c in &scope.cols {
            let q = c.qualifier.clone().unwrap_or_default();
            let engine = format!("{q}_{}", c.name);
            values.push((EExpr::col(&c.engine), engine.clone()));
            out.cols.push(ScopeCol { qualifier: c.qualifier.clone(), name: c.name.clone(), engine, key: c.key });
        }
        // `S.ROWTIME` in a join reads that side's record time.
        if self.side_rowtime {
            if let Some(q) = scope.cols.iter().find_map(|c| c.qualifier.clone()) {
                let engine = format!("{q}_{ROWTIME}");
                values.push((EExpr::col(ROWTIME), engine.clone()));
                out.cols.push(ScopeCol { qualifier: Some(q), name: ROWTIME.into(), engine, key: false });
            }
        }
        Ok((b.project(values)?, out, keys))
    }

    #[allow(clippy::too_many_arguments)]
    /// ksqlDB's refusal of `what` (JOIN, GROUP BY) over sources whose
    /// values are in the KAFKA format.
    fn refuse_kafka_values(&self, sources: Vec<String>, what: &str) -> Result<()> {
        let kafka: Vec<String> = sources
            .into_iter()
            .filter(|n| self.catalog.source(n).is_some_and(|s| s.value_format.kind == crate::serde::FormatKind::Kafka))
            .collect();
        if kafka.is_empty() {
            return Ok(());
        }
        Err(SqlError::semantic(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support {what}.",
            kafka.join(", ")
        )))
    }

    fn join(
        &self,
        left: &Relation,
        right: &Relation,
        kind: JoinType,
        on: &Expr,
        within: Option<(i64, i64, Option<i64>)>,
        inputs: &mut Vec<String>,
    ) -> Result<(PlanBuilder, Scope, Option<Vec<Vec<Expr>>>)> {
        let (mut lefts, mut rights) = (Vec::new(), Vec::new());
        collect_sources(left, &mut lefts);
        collect_sources(right, &mut rights);
        if let Some(n) = rights.iter().find(|n| lefts.contains(n)) {
            return Err(SqlError::semantic(format!("Can not join '{n}' to '{n}': self joins are not yet supported.")));
        }
        // KAFKA values have one column and no field names to join on.
        self.refuse_kafka_values(lefts.into_iter().chain(rights).collect(), "JOIN")?;
        // Windowed and non-windowed sources do not join.
        if let (Relation::Source { name: ln, .. }, Relation::Source { name: rn, .. }) = (left, right) {
            let w = |n: &str| self.catalog.source(n).and_then(|s| s.window);
            let desc = |n: &str| match w(n) {
                Some(i) => format!("`{n}` is {} windowed", i.kind.name()),
                None => format!("`{n}` is not windowed"),
            };
            if w(ln).is_some() != w(rn).is_some() {
                return Err(SqlError::semantic(format!(
                    "Can not join windowed source to non-windowed source.\n{}\n{}",
                    desc(ln),
                    desc(rn)
                )));
            }
        }
        // RIGHT JOIN is LEFT JOIN with the sides swapped.
        let swapped = kind == JoinType::Right && matches!(left, Relation::Source { .. });
        let (left, right, kind) = if swapped { (right, left, JoinType::Left) } else { (left, right, kind) };
        let (mut lb, lscope, lkeys) = self.join_side(left, inputs)?;
        let (mut rb, rscope, _) = self.join_side(right, inputs)?;
        if let Expr::Binary { op: BinOp::And, .. } = on {
            return Err(SqlError::semantic(format!(
                "Invalid join condition: joins on multiple conditions are not yet supported. Got {}.",
                display_expr(on)
            )));
        }
        let Expr::Binary { op: BinOp::Eq, left: a, right: c } = on else {
            return Err(SqlError::semantic(format!(
                "Unsupported join expression: {}. Joins need an equality between one column of each side.",
                display_expr(on)
            )));
        };
        let side = |e: &Expr, s: &Scope| refs_only(e, s);
        let (le, re) = if side(a, &lscope) && side(c, &rscope) {
            ((**a).clone(), (**c).clone())
        } else if side(c, &lscope) && side(a, &rscope) {
            ((**c).clone(), (**a).clone())
        } else {
            // A column that resolves nowhere is named as such.
            let mut unresolved = None;
            for x in [a, c] {
                walk(x, &mut |e| {
                    if let Expr::Column { qualifier, name } = e {
                        if unresolved.is_none()
                            && lscope.resolve(qualifier.as_deref(), name).is_err()
                            && rscope.resolve(qualifier.as_deref(), name).is_err()
                        {
                            unresolved = Some(display_expr(e));
                        }
                    }
                });
            }
            if let Some(col) = unresolved {
                if let Some((q, _)) = col.split_once('.') {
                    let known = lscope.cols.iter().chain(&rscope.cols).any(|c| c.qualifier.as_deref() == Some(q));
                    if !known {
                        return Err(SqlError::semantic(format!(
                            "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
                        )));
                    }
                }
                return Err(SqlError::semantic(format!("JOIN ON column '{col}' cannot be resolved.")));
            }
            let bad = if !side(a, &lscope) && !side(a, &rscope) { a } else { c };
            return Err(SqlError::semantic(format!(
                "Invalid comparison expression '{}' in join '{}'. Each side of the join comparision must contain references from exactly one source.",
                display_expr(bad),
                display_expr(on)
            )));
        };
        let l_table = lb.meta().kind == riffle_engine::plan::Kind::Table;
        let r_table = rb.meta().kind == riffle_engine::plan::Kind::Table;
        let is_key = |e: &Expr, s: &Scope| match e {
            Expr::Column { qualifier, name } => {
                s.resolve(qualifier.as_deref(), name).map(|c| c.key && s.cols.iter().filter(|x| x.key).count() == 1).unwrap_or(false)
            }
            _ => false,
        };
        if r_table && !is_key(&re, &rscope) {
            if l_table && swapped && is_key(&le, &lscope) {
                return Err(SqlError::semantic("RIGHT OUTER JOIN on a foreign key is not supported"));
            }
            if l_table {
                // Foreign-key join: left expression to the right table's key.
                if !is_key(&re, &rscope) {
                    return Err(SqlError::semantic(format!(
                        "Invalid join condition: table-table joins require to join on the primary key of the right input table. Got {} = {}.",
                        resolved_display(a, &[&lscope, &rscope]),
                        resolved_display(c, &[&lscope, &rscope])
                    )));
                }
            } else {
                return Err(SqlError::semantic(format!(
                    "Invalid join condition: stream-table joins require to join on the table's primary key. Got {} = {}.",
                    resolved_display(a, &[&lscope, &rscope]),
                    resolved_display(c, &[&lscope, &rscope])
                )));
            }
        }
        let jk = match kind {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Full => JoinKind::Outer,
            JoinType::Right => {
                return Err(SqlError::semantic("RIGHT OUTER JOIN is not supported yet: swap the sides and use LEFT JOIN."))
            }
        };
        let mut scope = Scope { cols: Vec::new(), windowed: false, fk_left: None };
        if l_table && r_table && !is_key(&le, &lscope) {
            let got = || {
                format!(
                    "Got {} = {}.",
                    display_expr(&qualify_deep(a, &[&lscope, &rscope])),
                    display_expr(&qualify_deep(c, &[&lscope, &rscope]))
                )
            };
            if swapped {
                return Err(SqlError::semantic("RIGHT OUTER JOIN on a foreign key is not supported"));
            }
            if matches!(left, Relation::Join { .. }) {
                return Err(SqlError::semantic(format!(
                    "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. {}",
                    got()
                )));
            }
            let fk = self.expr(&le, &lscope, &lb, &[])?;
            let fk_type = expr_type(&fk, &lb.meta().schema)?;
            let key_type = rb.meta().schema.field(0).data_type().clone();
            if fk_type != key_type {
                let sql = |t: &DataType| SqlType::from_arrow(t).map(|t| t.to_string()).unwrap_or_else(|_| t.to_string());
                return Err(SqlError::semantic(format!(
                    "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
                    display_expr(&qualify_deep(&le, &[&lscope])),
                    sql(&fk_type),
                    display_expr(&qualify_deep(&re, &[&rscope])),
                    sql(&key_type)
                )));
            }
            scope.fk_left = match left {
                Relation::Source { name, .. } => Some(name.clone()),
                Relation::Join { .. } => None,
            };
            let b = lb.foreign_key_join(rb, fk, jk)?;
            scope.cols.extend(lscope.cols.iter().cloned());
            scope.cols.extend(rscope.cols.iter().cloned().map(|mut c| {
                c.key = false;
                c
            }));
            // Keyed by the left table's primary key.
            let keys = lkeys.unwrap_or_else(|| {
                lscope
                    .cols
                    .iter()
                    .filter(|c| c.key)
                    .map(|c| vec![Expr::Column { qualifier: c.qualifier.clone(), name: c.name.clone() }])
                    .collect()
            });
            return Ok((b, scope, Some(keys)));
        }
        if !is_key(&le, &lscope) || lb.meta().key_len != 1 {
            if l_table {
                return Err(SqlError::semantic(format!(
                    "Invalid join condition: table-table joins require to join on the primary key of the right input table. Got {} = {}.",
                    resolved_display(a, &[&lscope, &rscope]),
                    resolved_display(c, &[&lscope, &rscope])
                )));
            }
            let k = self.expr(&le, &lscope, &lb, &[])?;
            lb = lb.select_key(vec![(k, "KSQL_JOIN_KEY".into())])?;
        }
        if !is_key(&re, &rscope) || rb.meta().key_len != 1 {
            let k = self.expr(&re, &rscope, &rb, &[])?;
            rb = rb.select_key(vec![(k, "KSQL_JOIN_KEY".into())])?;
        }
        // Align key types (ksqlDB casts INT to BIGINT etc.).
        let lt = lb.meta().schema.field(0).data_type().clone();
        let rt = rb.meta().schema.field(0).data_type().clone();
        if lt != rt {
            return Err(SqlError::semantic(format!(
                "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
                display_expr(&le),
                SqlType::from_arrow(&lt).map(|t| t.to_string()).unwrap_or_default(),
                display_expr(&re),
                SqlType::from_arrow(&rt).map(|t| t.to_string()).unwrap_or_default()
            )));
        }
        let window = match (l_table, r_table, within) {
            (false, false, Some((before, after, grace))) => {
                Some(JoinWindow { before_ms: before, after_ms: after, grace_ms: grace.unwrap_or(DEFAULT_GRACE_MS), eager: grace.is_none() })
            }
            (false, false, None) => {
                return Err(SqlError::semantic("Stream-Stream joins must have a WITHIN clause specified. None was provided."))
            }
            (_, _, Some(_)) => {
                return Err(SqlError::semantic(
                    "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to resubmit your query.",
                ))
            }
            _ => None,
        };
        if l_table && !r_table {
            let name = |r: &Relation| {
                let mut v = Vec::new();
                collect_sources(r, &mut v);
                v.last().cloned().unwrap_or_default()
            };
            let how = match kind {
                JoinType::Inner => "[INNER] JOIN",
                JoinType::Left => "LEFT [OUTER] JOIN",
                JoinType::Right => "RIGHT [OUTER] JOIN",
                JoinType::Full => "FULL [OUTER] JOIN",
            };
            return Err(SqlError::semantic(format!(
                "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {} {how} {}.",
                name(left),
                name(right)
            )));
        }
        let b = lb.join(rb, jk, window)?;
        // Engine output: key, left values, right values (clashes prefixed).
        let meta = b.meta().clone();
        scope.cols.extend(lscope.cols.iter().cloned().map(|mut c| {
            c.key = false;
            c
        }));
        for c in &rscope.cols {
            let mut c = c.clone();
            c.key = false;
            if lscope.cols.iter().any(|l| l.engine == c.engine) {
                c.engine = format!("right_{}", c.engine);
            }
            if meta.schema.field_with_name(&c.engine).is_ok() {
                scope.cols.push(c);
            }
        }
        // A RIGHT JOIN planned as a swapped LEFT JOIN still lists the
        // written left side's columns first.
        if swapped {
            let n = lscope.cols.len().min(scope.cols.len());
            scope.cols.rotate_left(n);
        }
        // ksqlDB keys a FULL OUTER join, and a join whose criteria name no
        // source column, by a synthetic `ROWKEY` column: the join key.
        let plain = |e: &Expr| matches!(e, Expr::Column { .. });
        if kind == JoinType::Full || (!plain(&le) && !plain(&re)) {
            let name = synthetic_key_name(lscope.cols.iter().chain(&rscope.cols).map(|c| c.name.as_str()));
            let engine = meta.schema.field(0).name().clone();
            scope.cols.insert(0, ScopeCol { qualifier: None, name: name.clone(), engine, key: true });
            return Ok((b, scope, Some(vec![vec![Expr::Column { qualifier: None, name }]])));
        }
        let mut keys = lkeys.unwrap_or_default();
        let (lq, rq) = (qualify(&le, &lscope), qualify(&re, &rscope));
        if keys.is_empty() {
            keys.push(if swapped { vec![rq, lq] } else { vec![lq, rq] });
        } else if let Some(k) = keys.first_mut() {
            if k.iter().any(|x| same_column(x, &lq, &lscope)) {
                k.push(rq);
            }
        }
        // Copy-keyed: the join key column is readable through either side.
        Ok((b, scope, Some(keys)))
    }

    fn aggregate_call(&self, call: &Expr, scope: &Scope, b: &PlanBuilder, name: &str) -> Result<(AggFunc, Vec<EExpr>, String)> {
        let Expr::Function { name: fname, args } = call else {
            return Err(SqlError::Internal("aggregate call expected".into()));
        };
        if args.len() == 1 && args[0] == Expr::Star || (fname == "COUNT" && args.is_empty()) {
            return Ok((AggFunc::CountStar, vec![], name.into()));
        }
        let mut eargs: Vec<EExpr> = args.iter().map(|a| self.expr(a, scope, b, &[])).collect::<Result<_>>()?;
        let limit = match fname.as_str() {
            "COLLECT_LIST" => self.collect_limits.0,
            "COLLECT_SET" => self.collect_limits.1,
            _ => None,
        };
        if let (Some(l), 1) = (limit, eargs.len()) {
            eargs.push(EExpr::Literal(ScalarValue::Int32(i32::try_from(l).unwrap_or(i32::MAX))));
        }
        let types: Vec<DataType> =
            eargs.iter().map(|e| expr_type(e, &b.meta().schema)).collect::<riffle_engine::Result<_>>()?;
        let builtin = match (fname.as_str(), types.as_slice()) {
            ("COUNT", [_]) => Some(AggFunc::Count),
            ("SUM", [DataType::Int64 | DataType::Float64]) => Some(AggFunc::Sum),
            ("MIN", [DataType::Int32 | DataType::Int64 | DataType::Float64]) => Some(AggFunc::Min),
            ("MAX", [DataType::Int32 | DataType::Int64 | DataType::Float64]) => Some(AggFunc::Max),
            _ => None,
        };
        if let Some(f) = builtin {
            return Ok((f, eargs, name.into()));
        }
        match self.functions.aggregate(fname) {
            Some(u) => Ok((AggFunc::Udaf(u), eargs, name.into())),
            None => match (fname.as_str(), types.as_slice()) {
                ("SUM", [DataType::Int32]) => Ok((AggFunc::Sum, eargs, name.into())),
                ("AVG", [_]) => Ok((AggFunc::Avg, eargs, name.into())),
                _ => Err(SqlError::semantic(format!("Can't find any functions with the name '{fname}'"))),
            },
        }
    }

    /// Translates an expression over `scope` (after `replacements`).
    fn expr(&self, e: &Expr, scope: &Scope, b: &PlanBuilder, repl: &[(Expr, String)]) -> Result<EExpr> {
        if let Some((_, col)) = repl.iter().find(|(x, _)| x == e) {
            return Ok(EExpr::col(col));
        }
        let rec = |x: &Expr| self.expr(x, scope, b, repl);
        let schema = &b.meta().schema;
        Ok(match e {
            Expr::Column { qualifier, name } => {
                match scope.resolve(qualifier.as_deref(), name) {
                    Ok(c) => EExpr::col(&c.engine),
                    Err(err) => {
                        if qualifier.is_none() {
                            match name.as_str() {
                                "ROWTIME" => return Ok(EExpr::col(ROWTIME)),
                                "WINDOWSTART" | "WINDOWEND" if scope.windowed => {
                                    return Ok(EExpr::col(if name == "WINDOWSTART" { WINDOWSTART } else { WINDOWEND }))
                                }
                                _ => {}
                            }
                            // A key column that the join made reachable by either name.
                            if let Some(c) = scope.cols.iter().find(|c| &c.name == name) {
                                return Ok(EExpr::col(&c.engine));
                            }
                        } else if name == "ROWTIME" {
                            return Ok(EExpr::col(ROWTIME));
                        }
                        return Err(err);
                    }
                }
            }
            Expr::Literal(l) => EExpr::Literal(literal(l)?),
            Expr::Binary { op, left, right } => {
                let (l, r) = (rec(left)?, rec(right)?);
                let op_ast = op;
                let op = match op {
                    BinOp::Add => BinaryOp::Plus,
                    BinOp::Sub => BinaryOp::Minus,
                    BinOp::Mul => BinaryOp::Multiply,
                    BinOp::Div => BinaryOp::Divide,
                    BinOp::Mod => BinaryOp::Modulo,
                    BinOp::Eq => BinaryOp::Eq,
                    BinOp::NotEq => BinaryOp::NotEq,
                    BinOp::Lt => BinaryOp::Lt,
                    BinOp::LtEq => BinaryOp::LtEq,
                    BinOp::Gt => BinaryOp::Gt,
                    BinOp::GtEq => BinaryOp::GtEq,
                    BinOp::And => BinaryOp::And,
                    BinOp::Or => BinaryOp::Or,
                    BinOp::Concat => BinaryOp::Concat,
                };
                // `+` on two strings concatenates them.
                let is_str = |e: &EExpr| matches!(expr_type(e, schema), Ok(DataType::Utf8));
                let op = if op == BinaryOp::Plus && is_str(&l) && is_str(&r) { BinaryOp::Concat } else { op };
                let (l, r) = decimal_literals_to_double(l, r, schema);
                let is_null = |e: &Expr| matches!(e, Expr::Literal(Literal::Null));
                let null_typed = |e: &EExpr| matches!(expr_type(e, schema), Ok(DataType::Null));
                if op.is_comparison() && (is_null(left) || is_null(right)) {
                    let type_name = |ast: &Expr, e: &EExpr| match expr_type(e, schema).map(|t| SqlType::from_arrow(&t)) {
                        Ok(Ok(t)) if !is_null(ast) => t.to_string(),
                        _ => "NULL".to_string(),
                    };
                    return Err(SqlError::semantic(format!(
                        "Comparison with NULL not supported: {} {} {}\nUse 'IS NULL' or 'IS NOT NULL' instead.",
                        type_name(left, &l),
                        display_binop(*op_ast),
                        type_name(right, &r)
                    )));
                }
                if op.is_arithmetic() && null_typed(&l) && null_typed(&r) {
                    return Err(SqlError::semantic(format!(
                        "Error processing expression: ({} {} {}). Arithmetic on types null and null are not supported.",
                        display_expr(left),
                        display_binop(*op_ast),
                        display_expr(right)
                    )));
                }
                let (l, r) = if op.is_comparison() {
                    self.check_comparison(&l, &r, &joined_names(left, scope), &joined_names(right, scope), op, schema)?;
                    coerce_pair(l, r, schema, right, op)?
                } else {
                    (l, r)
                };
                let e = EExpr::Binary { left: Box::new(l), op, right: Box::new(r) };
                // ksqlDB: a comparison with a NULL operand is false, not NULL.
                if op.is_comparison() { EExpr::IsTrue(Box::new(e)) } else { e }
            }
            Expr::Not(x) => EExpr::Not(Box::new(rec(x)?)),
            Expr::Negate(x) => EExpr::Negative(Box::new(rec(x)?)),
            Expr::IsNull { expr, negated } => EExpr::IsNull { expr: Box::new(rec(expr)?), negated: *negated },
            Expr::Between { expr, low, high, negated } => EExpr::Between {
                expr: Box::new(rec(expr)?),
                low: Box::new(rec(low)?),
                high: Box::new(rec(high)?),
                negated: *negated,
            },
            Expr::InList { expr, list, negated } => {
                let mut operand = rec(expr)?;
                let operand_type = expr_type(&operand, schema).ok().and_then(|t| SqlType::from_arrow(&t).ok());
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let coerced = match &operand_type {
                        Some(t) => in_list_item(item, t).map_err(|e| prefix_err("Invalid Predicate: ", e))?,
                        None => Some(item.clone()),
                    };
                    // An item that can never equal the operand drops out.
                    let Some(coerced) = coerced else { continue };
                    let (o, i) = coerce_pair(operand.clone(), rec(&coerced)?, schema, item, BinaryOp::Eq)
                        .map_err(|e| prefix_err("Invalid Predicate: ", e))?;
                    operand = o;
                    items.push(i);
                }
                // Items coerced against a widened operand need the final type.
                let target = expr_type(&operand, schema)?;
                let items = items
                    .into_iter()
                    .map(|i| match expr_type(&i, schema) {
                        Ok(t) if t != target && t != DataType::Null => EExpr::Cast { expr: Box::new(i), to: target.clone() },
                        _ => i,
                    })
                    .collect();
                EExpr::InList { expr: Box::new(operand), list: items, negated: *negated }
            }
            Expr::Like { expr, pattern, negated, .. } => {
                EExpr::Like { expr: Box::new(rec(expr)?), pattern: Box::new(rec(pattern)?), negated: *negated }
            }
            Expr::Case { operand, whens, else_expr } => {
                let mut when_then = Vec::new();
                for (w, t) in whens {
                    let cond = match operand {
                        Some(o) => EExpr::Binary { left: Box::new(rec(o)?), op: BinaryOp::Eq, right: Box::new(rec(w)?) },
                        None => rec(w)?,
                    };
                    when_then.push((cond, rec(t)?));
                }
                let else_expr = else_expr.as_ref().map(|x| rec(x)).transpose()?.map(Box::new);
                EExpr::Case { when_then, else_expr }
            }
            Expr::Cast { expr, ty } => {
                let e = rec(expr)?;
                let from = expr_type(&e, schema).ok();
                // A collection or struct is only cast from one of its kind.
                let same_kind = |f: &DataType| {
                    matches!(
                        (f, ty),
                        (DataType::Null, _)
                            | (DataType::List(_) | DataType::LargeList(_), SqlType::Array(_))
                            | (DataType::Map(..), SqlType::Map(..))
                            | (DataType::Struct(_), SqlType::Struct(_))
                    )
                };
                if let Some(f) = from.as_ref().filter(|f| ty.is_nested() && !same_kind(f)) {
                    let shown = SqlType::from_arrow(f).map(|t| t.to_string()).unwrap_or_else(|_| f.to_string());
                    return Err(SqlError::semantic(format!("Cast of {shown} to {ty} is not supported")));
                }
                cast_to(e, from.as_ref(), ty)
            }
            Expr::Function { name, args } if args.iter().any(|a| matches!(a, Expr::Lambda { .. })) => {
                let kind = match name.as_str() {
                    "TRANSFORM" => lambda::LambdaKind::Transform,
                    "FILTER" => lambda::LambdaKind::Filter,
                    "REDUCE" => lambda::LambdaKind::Reduce,
                    other => return Err(SqlError::semantic(format!("Function '{other}' does not take lambda arguments."))),
                };
                let mut lambdas = Vec::new();
                let mut eargs = Vec::new();
                for a in args {
                    match a {
                        Expr::Lambda { params, body } => lambdas.push((params.clone(), (**body).clone())),
                        a => eargs.push(rec(a)?),
                    }
                }
                let call = lambda::LambdaCall { kind, lambdas, functions: Arc::new(self.functions.clone()) };
                let types: Vec<DataType> =
                    eargs.iter().map(|x| expr_type(x, schema)).collect::<riffle_engine::Result<_>>()?;
                riffle_engine::functions::ScalarFunction::return_type(&call, &types)?;
                EExpr::Function { func: Arc::new(call), args: eargs }
            }
            Expr::Function { name, args } => {
                if self.functions.aggregate(name).is_some() || matches!(name.as_str(), "COUNT" | "SUM" | "AVG" | "MIN" | "MAX") {
                    return Err(SqlError::semantic(format!("Aggregate function {name} cannot be used here.")));
                }
                let f = self
                    .functions
                    .scalar(name)
                    .ok_or_else(|| SqlError::semantic(format!("Can't find any functions with the name '{name}'")))?;
                let eargs = args
                    .iter()
                    .map(|a| match a {
                        // Time-unit keywords (`DATEADD(DAYS, …)`) pass as strings.
                        Expr::Column { qualifier: None, name } if scope.resolve(None, name).is_err() && is_time_unit(name) => {
                            Ok(EExpr::Literal(ScalarValue::Utf8(name.clone())))
                        }
                        a => rec(a),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let types: Vec<DataType> =
                    eargs.iter().map(|x| expr_type(x, schema)).collect::<riffle_engine::Result<_>>()?;
                let sql_types: Vec<SqlType> = types.iter().map(SqlType::from_arrow).collect::<Result<_>>()?;
                (f.return_type)(&sql_types).map_err(SqlError::Semantic)?;
                EExpr::Function { func: f, args: eargs }
            }
            Expr::Star => return Err(SqlError::semantic("'*' is only allowed in COUNT(*)")),
            Expr::Subscript { expr, index } => {
                EExpr::Function { func: Arc::new(Subscript), args: vec![rec(expr)?, rec(index)?] }
            }
            Expr::Field { expr, field } => EExpr::Function {
                func: Arc::new(FieldAccess { field: field.clone(), label: format!("->{field}") }),
                args: vec![rec(expr)?],
            },
            Expr::Lambda { .. } => return Err(SqlError::semantic("Lambda functions are not supported yet.")),
            Expr::Array(items) if items.is_empty() => {
                return Err(SqlError::semantic(
                    "Array constructor cannot be empty. Please supply at least one element (see https://github.com/confluentinc/ksql/issues/4239).",
                ))
            }
            Expr::Array(items) if items.iter().all(|i| matches!(i, Expr::Literal(Literal::Null))) => {
                return Err(SqlError::semantic(
                    "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.",
                ))
            }
            Expr::Array(items) => {
                let null_args = items.iter().map(|i| matches!(i, Expr::Literal(Literal::Null))).collect();
                // ksqlDB's array constructor: the elements take their common
                // type (numbers widen, structs gain each other's fields), and
                // string literals are read as that type.
                let planned: Vec<EExpr> = items.iter().map(&rec).collect::<Result<_>>()?;
                let typed = |e: &EExpr| expr_type(e, schema).ok().and_then(|t| SqlType::from_arrow(&t).ok());
                let target = items
                    .iter()
                    .zip(&planned)
                    .filter(|(i, _)| !matches!(i, Expr::Literal(Literal::Null | Literal::String(_))))
                    .filter_map(|(_, e)| typed(e))
                    .try_fold(None, |acc: Option<SqlType>, t| match acc {
                        None => Some(Some(t)),
                        Some(a) => element_union(&a, &t).map(Some),
                    })
                    .flatten();
                let args = match target {
                    Some(target) => {
                        let mut args = Vec::with_capacity(items.len());
                        for (item, e) in items.iter().zip(planned) {
                            let e = match in_list_item(item, &target)? {
                                Some(rewritten) if &rewritten != item => rec(&rewritten)?,
                                _ => e,
                            };
                            let from = expr_type(&e, schema).ok();
                            let e = match from.as_ref().and_then(|f| SqlType::from_arrow(f).ok()) {
                                Some(t) if t != target => cast_to(e, from.as_ref(), &target),
                                _ => e,
                            };
                            args.push(e);
                        }
                        args
                    }
                    None => planned,
                };
                EExpr::Function { func: Arc::new(ArrayConstructor { null_args }), args }
            }
            Expr::Map(entries) => {
                let mut args = Vec::new();
                for (k, v) in entries {
                    args.push(rec(k)?);
                    args.push(rec(v)?);
                }
                EExpr::Function { func: Arc::new(MapConstructor), args }
            }
            Expr::Struct(fields) => EExpr::Function {
                func: Arc::new(StructConstructor { names: fields.iter().map(|(n, _)| n.clone()).collect() }),
                args: fields.iter().map(|(_, v)| rec(v)).collect::<Result<_>>()?,
            },
            Expr::Interval { amount, .. } => rec(amount)?,
        })
    }

    fn check_comparison(&self, l: &EExpr, r: &EExpr, la: &Expr, ra: &Expr, op: BinaryOp, schema: &Schema) -> Result<()> {
        let (Ok(lt), Ok(rt)) = (expr_type(l, schema), expr_type(r, schema)) else { return Ok(()) };
        let (Ok(ls), Ok(rs)) = (SqlType::from_arrow(&lt), SqlType::from_arrow(&rt)) else { return Ok(()) };
        if lt == DataType::Null || rt == DataType::Null {
            return Ok(());
        }
        let ok = ls == rs
            || (ls.is_numeric() && rs.is_numeric())
            || matches!((&ls, &rs), (SqlType::Timestamp, SqlType::String) | (SqlType::String, SqlType::Timestamp))
            || matches!((&ls, &rs), (SqlType::Date, SqlType::String) | (SqlType::String, SqlType::Date));
        let parses = |e: &EExpr, t: &SqlType| match e {
            EExpr::Literal(ScalarValue::Utf8(text)) => match t {
                SqlType::Boolean => ["true", "false"].contains(&text.trim().to_ascii_lowercase().as_str()),
                t if t.is_numeric() => text.trim().parse::<f64>().is_ok(),
                _ => false,
            },
            _ => false,
        };
        if ok || (!self.in_having.get() && (parses(r, &ls) || parses(l, &rs))) {
            return Ok(());
        }
        let opname = match op {
            BinaryOp::Eq => "EQUAL",
            BinaryOp::NotEq => "NOT_EQUAL",
            BinaryOp::Lt => "LESS_THAN",
            BinaryOp::LtEq => "LESS_THAN_OR_EQUAL",
            BinaryOp::Gt => "GREATER_THAN",
            _ => "GREATER_THAN_OR_EQUAL",
        };
        Err(SqlError::semantic(format!(
            "Cannot compare {} ({ls}) to {} ({rs}) with {opname}.",
            display_expr(la),
            display_expr(ra)
        )))
    }
}

/// `STRINGTOTIMESTAMP(column, format)`: a STRING timestamp column read with
/// its `TIMESTAMP_FORMAT` (NULL where a value does not parse).
pub(crate) fn parse_timestamp(functions: &Functions, column: &str, format: &str) -> Result<EExpr> {
    let parse = functions
        .scalar("STRINGTOTIMESTAMP")
        .ok_or_else(|| SqlError::Internal("STRINGTOTIMESTAMP is not registered".into()))?;
    Ok(EExpr::Function { func: parse, args: vec![EExpr::col(column), EExpr::Literal(ScalarValue::Utf8(format.to_string()))] })
}

/// The engine source node for a catalog source. A STRING `TIMESTAMP`
/// column with a `TIMESTAMP_FORMAT` is parsed with it (`STRINGTOTIMESTAMP`).
///
/// # Errors
/// Formats that cannot carry the columns.
pub fn source_builder(src: &SourceInfo, functions: &Functions) -> Result<PlanBuilder> {
    let key_format = engine_format(&src.key_format, &src.key, true)?;
    let value_format = engine_format(&src.value_format, &src.value, false)?;
    let key: Vec<Field> = src.key.iter().map(|c| Field::new(&c.name, c.ty.to_arrow(), true)).collect();
    let value = Schema::new(src.value.iter().map(|c| Field::new(&c.name, c.ty.to_arrow(), true)).collect::<Vec<_>>());
    let is_string = |c: &str| src.column(c).is_some_and(|col| col.ty == SqlType::String);
    let time = match (&src.timestamp, &src.timestamp_format) {
        (Some(c), Some(format)) if is_string(c) => TimestampSpec::Expr(parse_timestamp(functions, c, format)?),
        (Some(c), _) => TimestampSpec::Column(c.clone()),
        (None, _) => TimestampSpec::Record,
    };
    let b = match src.kind {
        SourceKind::Stream => PlanBuilder::stream(&src.topic, key_format, value_format, &key, value, time)?,
        SourceKind::Table => PlanBuilder::table(&src.topic, key_format, value_format, &key, value, time)?,
    };
    let b = match src.window {
        Some(w) => b.with_key_window(key_window(w))?,
        None => b,
    };
    if src.headers.is_empty() {
        return Ok(b);
    }
    let headers = src.headers.iter().map(|(c, key)| (Field::new(&c.name, c.ty.to_arrow(), true), key.clone())).collect();
    Ok(b.with_header_columns(headers)?)
}

/// The engine window of a windowed source's keys: only its layout and, for
/// time windows, its size (which gives each window's end) matter.
fn key_window(w: WindowInfo) -> WindowSpec {
    let size = w.size_ms.unwrap_or(0);
    match w.kind {
        WindowType::Tumbling => WindowSpec::tumbling(size, 0),
        WindowType::Hopping => WindowSpec::hopping(size, size, 0),
        WindowType::Session => WindowSpec::session(0, 0),
    }
}

fn prefix_err(prefix: &str, e: SqlError) -> SqlError {
    match e {
        SqlError::Semantic(m) => SqlError::Semantic(format!("{prefix}{m}")),
        other => other,
    }
}

fn is_time_unit(name: &str) -> bool {
    matches!(
        name.trim_end_matches('S'),
        "MILLISECOND" | "SECOND" | "MINUTE" | "HOUR" | "DAY" | "WEEK" | "MONTH" | "YEAR" | "MICROSECOND" | "NANOSECOND"
    )
}

fn literal(l: &Literal) -> Result<ScalarValue> {
    Ok(match l {
        Literal::Null => ScalarValue::Null(DataType::Null),
        Literal::Boolean(b) => ScalarValue::Boolean(*b),
        Literal::Integer(v) => match i32::try_from(*v) {
            Ok(i) => ScalarValue::Int32(i),
            Err(_) => ScalarValue::Int64(*v),
        },
        Literal::Double(v) => ScalarValue::Float64(*v),
        Literal::Decimal(d) => {
            // DECIMAL literal: unscaled digits and scale as written.
            let neg = d.starts_with('-');
            let digits = d.trim_start_matches('-');
            let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
            let unscaled: i128 = format!("{int}{frac}")
                .parse()
                .map_err(|_| SqlError::semantic(format!("invalid decimal literal {d}")))?;
            let unscaled = if neg { -unscaled } else { unscaled };
            let scale = frac.len() as i8;
            let precision = (int.trim_start_matches('0').len() + frac.len()).max(1) as u8;
            let precision = precision.max(scale as u8).clamp(1, 38);
            let a = arrow::array::Decimal128Array::from(vec![unscaled])
                .with_precision_and_scale(precision, scale)
                .map_err(|e| SqlError::semantic(format!("invalid decimal literal {d}: {e}")))?;
            ScalarValue::Array(Arc::new(a))
        }
        Literal::String(s) => ScalarValue::Utf8(s.clone()),
    })
}

/// The type both sides of a comparison are compared as: numbers widen
/// (INT → BIGINT → DECIMAL → DOUBLE), collections widen element-wise.
fn wider(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (x, y) if x.is_numeric() && y.is_numeric() => {
            let rank = |t: &SqlType| match t {
                SqlType::Int => 0,
                SqlType::Bigint => 1,
                SqlType::Decimal { .. } => 2,
                _ => 3,
            };
            if rank(x) == 2 && rank(y) == 2 || rank(x).max(rank(y)) == 2 {
                // Decimals of different shapes (or with integers) compare as doubles.
                Some(SqlType::Double)
            } else if rank(x) >= rank(y) {
                Some(x.clone())
            } else {
                Some(y.clone())
            }
        }
        (SqlType::Array(x), SqlType::Array(y)) => Some(SqlType::Array(Box::new(wider(x, y)?))),
        (SqlType::Map(k1, v1), SqlType::Map(k2, v2)) => Some(SqlType::Map(Box::new(wider(k1, k2)?), Box::new(wider(v1, v2)?))),
        (SqlType::Struct(f1), SqlType::Struct(f2)) if f1.len() == f2.len() => Some(SqlType::Struct(
            f1.iter().zip(f2).map(|((n1, t1), (n2, t2))| if n1 == n2 { Some((n1.clone(), wider(t1, t2)?)) } else { None }).collect::<Option<_>>()?,
        )),
        _ => None,
    }
}

/// `CAST(e AS to)` for a value of type `from`, as ksqlDB casts: a
/// collection or struct to STRING prints as Java prints it, and a struct to
/// another struct matches fields by name (Arrow's own casts cannot do
/// either).
fn cast_to(e: EExpr, from: Option<&DataType>, to: &SqlType) -> EExpr {
    match (from, to) {
        (Some(f), SqlType::String) if f.is_nested() => {
            EExpr::Function { func: Arc::new(structural::CollectionToString), args: vec![e] }
        }
        (Some(DataType::Struct(_)), SqlType::Struct(_)) => {
            EExpr::Function { func: Arc::new(structural::StructCast { to: to.to_arrow() }), args: vec![e] }
        }
        _ => EExpr::Cast { expr: Box::new(e), to: to.to_arrow() },
    }
}

/// The type two elements of an array constructor share: numbers widen
/// (INT < BIGINT < DECIMAL < DOUBLE), structs take the union of their
/// fields (in order of first appearance), and collections the union of
/// their element types. `None` when they have none.
fn element_union(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (SqlType::Array(x), SqlType::Array(y)) => Some(SqlType::Array(Box::new(element_union(x, y)?))),
        (SqlType::Map(k1, v1), SqlType::Map(k2, v2)) => {
            Some(SqlType::Map(Box::new(element_union(k1, k2)?), Box::new(element_union(v1, v2)?)))
        }
        (SqlType::Struct(f1), SqlType::Struct(f2)) => {
            let mut fields = f1.clone();
            for (name, t) in f2 {
                match fields.iter_mut().find(|(n, _)| n == name) {
                    Some((_, existing)) => *existing = element_union(existing, t)?,
                    None => fields.push((name.clone(), t.clone())),
                }
            }
            Some(SqlType::Struct(fields))
        }
        _ => structural::common_type(&[a.clone(), b.clone()]),
    }
}

/// An `IN` list item as ksqlDB reads it against an operand of type `t`:
/// literals take the operand's type, inside ARRAY, MAP and STRUCT
/// constructors too. Against a STRING, numbers and booleans become their
/// text as written; a string literal against a number or BOOLEAN is parsed
/// as one (an unparsable one is an error naming it); a STRUCT constructor
/// gains the operand's missing fields as NULLs. `None`: the item can never
/// equal the operand, because its STRUCT has a field that the operand's
/// type lacks (field names are case-sensitive). Anything else is left to
/// the usual comparison rules.
fn in_list_item(e: &Expr, t: &SqlType) -> Result<Option<Expr>> {
    let invalid = |text: &str| SqlError::semantic(format!("invalid input syntax for type {t}: \"{text}\"."));
    Ok(Some(match (e, t) {
        (Expr::Literal(l), SqlType::String) => Expr::Literal(match l {
            Literal::Integer(i) => Literal::String(i.to_string()),
            Literal::Decimal(d) => Literal::String(d.clone()),
            Literal::Boolean(b) => Literal::String(b.to_string()),
            other => other.clone(),
        }),
        (Expr::Literal(Literal::String(text)), SqlType::Int | SqlType::Bigint | SqlType::Double) => {
            // Read as the number literal it spells; one wider than the
            // operand stays valid and is compared in the wider type.
            let trimmed = text.trim();
            Expr::Literal(match trimmed.parse::<i64>() {
                Ok(n) => Literal::Integer(n),
                Err(_) => match trimmed.parse::<f64>() {
                    Ok(v) if v.is_finite() && trimmed.contains(['e', 'E']) => Literal::Double(v),
                    Ok(v) if v.is_finite() => Literal::Decimal(trimmed.to_string()),
                    _ => return Err(invalid(text)),
                },
            })
        }
        (Expr::Literal(Literal::String(text)), SqlType::Boolean) => {
            Expr::Literal(Literal::Boolean(literal_boolean(text.trim()).ok_or_else(|| invalid(text))?))
        }
        (Expr::Array(items), SqlType::Array(element)) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                let Some(i) = in_list_item(i, element)? else { return Ok(None) };
                out.push(i);
            }
            Expr::Array(out)
        }
        (Expr::Map(entries), SqlType::Map(kt, vt)) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let (Some(k), Some(v)) = (in_list_item(k, kt)?, in_list_item(v, vt)?) else { return Ok(None) };
                out.push((k, v));
            }
            Expr::Map(out)
        }
        (Expr::Struct(fields), SqlType::Struct(types)) => {
            if fields.iter().any(|(n, _)| !types.iter().any(|(tn, _)| tn == n)) {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(types.len());
            for (name, ty) in types {
                let value = match fields.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => match in_list_item(v, ty)? {
                        Some(v) => v,
                        None => return Ok(None),
                    },
                    None => Expr::Cast { expr: Box::new(Expr::Literal(Literal::Null)), ty: ty.clone() },
                };
                out.push((name.clone(), value));
            }
            Expr::Struct(out)
        }
        _ => e.clone(),
    }))
}

/// A string literal compared with a BOOLEAN, as ksqlDB reads it: any
/// non-empty prefix of `true` or `yes` is true, of `false` or `no` false,
/// in any case.
fn literal_boolean(text: &str) -> Option<bool> {
    let l = text.to_ascii_lowercase();
    let prefix_of = |word: &str| !l.is_empty() && word.starts_with(l.as_str());
    if prefix_of("true") || prefix_of("yes") {
        Some(true)
    } else if prefix_of("false") || prefix_of("no") {
        Some(false)
    } else {
        None
    }
}

/// Casts the two sides of a comparison to one type, as ksqlDB does: string
/// literals against other types are parsed as that type (an unparsable
/// literal is an error naming it), numbers and collections widen.
fn coerce_pair(l: EExpr, r: EExpr, schema: &Schema, ra: &Expr, op: BinaryOp) -> Result<(EExpr, EExpr)> {
    let (Ok(lt), Ok(rt)) = (expr_type(&l, schema), expr_type(&r, schema)) else { return Ok((l, r)) };
    if lt == rt || lt == DataType::Null || rt == DataType::Null {
        return Ok((l, r));
    }
    let (Ok(ls), Ok(rs)) = (SqlType::from_arrow(&lt), SqlType::from_arrow(&rt)) else { return Ok((l, r)) };
    let cast = |e: EExpr, t: &SqlType| EExpr::Cast { expr: Box::new(e), to: t.to_arrow() };
    // A string literal against another type: parse it as that type.
    let parse_lit = |e: &EExpr, t: &SqlType| -> Result<Option<EExpr>> {
        let EExpr::Literal(ScalarValue::Utf8(text)) = e else { return Ok(None) };
        let trimmed = text.trim();
        let ok = match t {
            SqlType::Int => trimmed.parse::<i32>().is_ok(),
            SqlType::Bigint => trimmed.parse::<i64>().is_ok(),
            SqlType::Double | SqlType::Decimal { .. } => trimmed.parse::<f64>().is_ok(),
            SqlType::Boolean => literal_boolean(trimmed).is_some(),
            SqlType::Timestamp | SqlType::Date | SqlType::Time | SqlType::String => return Ok(None),
            _ => false,
        };
        if !ok {
            return Err(SqlError::semantic(format!("invalid input syntax for type {t}: \"{text}\".")));
        }
        let v = match t {
            SqlType::Boolean => EExpr::Literal(ScalarValue::Boolean(literal_boolean(trimmed).unwrap_or_default())),
            SqlType::Int => EExpr::Literal(ScalarValue::Int32(trimmed.parse().unwrap_or_default())),
            SqlType::Bigint => EExpr::Literal(ScalarValue::Int64(trimmed.parse().unwrap_or_default())),
            SqlType::Double => EExpr::Literal(ScalarValue::Float64(trimmed.parse().unwrap_or_default())),
            other => EExpr::Cast { expr: Box::new(EExpr::Literal(ScalarValue::Float64(trimmed.parse().unwrap_or_default()))), to: other.to_arrow() },
        };
        Ok(Some(v))
    };
    if ls != SqlType::String {
        if let Some(v) = parse_lit(&r, &ls)? {
            return Ok((l, v));
        }
    }
    if rs != SqlType::String {
        if let Some(v) = parse_lit(&l, &rs)? {
            return Ok((v, r));
        }
    }
    match wider(&ls, &rs) {
        Some(w) => {
            let l = if w == ls { l } else { cast(l, &w) };
            let r = if w == rs { r } else { cast(r, &w) };
            Ok((l, r))
        }
        None => {
            let opname = match op {
                BinaryOp::Eq => "=",
                BinaryOp::NotEq => "<>",
                BinaryOp::Lt => "<",
                BinaryOp::LtEq => "<=",
                BinaryOp::Gt => ">",
                _ => ">=",
            };
            Err(SqlError::semantic(format!(
                "operator does not exist: {ls} {opname} {rs} ({})\nHint: You might need to add explicit type casts.",
                display_expr(ra)
            )))
        }
    }
}

/// A DECIMAL literal against a non-decimal operand becomes a DOUBLE
/// literal (ksqlDB compares and computes them as doubles).
fn decimal_literals_to_double(l: EExpr, r: EExpr, schema: &Schema) -> (EExpr, EExpr) {
    let is_dec_lit = |e: &EExpr| matches!(e, EExpr::Literal(ScalarValue::Array(a)) if matches!(a.data_type(), DataType::Decimal128(_, _)));
    let to_double = |e: EExpr| match e {
        EExpr::Literal(ScalarValue::Array(a)) => match crate::value::Value::from_array(a.as_ref(), 0).as_f64() {
            Some(v) => EExpr::Literal(ScalarValue::Float64(v)),
            None => EExpr::Literal(ScalarValue::Array(a)),
        },
        e => e,
    };
    let is_dec = |e: &EExpr| matches!(expr_type(e, schema), Ok(DataType::Decimal128(_, _)));
    match (is_dec_lit(&l), is_dec_lit(&r)) {
        (true, false) if !is_dec(&r) => (to_double(l), r),
        (false, true) if !is_dec(&l) => (l, to_double(r)),
        _ => (l, r),
    }
}

/// The engine window of a `WINDOW` clause. Without a `GRACE PERIOD`, ksqlDB
/// keeps Kafka Streams' legacy 24-hour grace, except under `EMIT FINAL`,
/// where windows close at their end (no grace).
fn window_spec(w: &ast::WindowClause, emit_final: bool) -> WindowSpec {
    let grace = w.grace_ms.unwrap_or(if emit_final { 0 } else { DEFAULT_GRACE_MS });
    let mut spec = match w.kind {
        WindowKind::Tumbling { size_ms } => WindowSpec::tumbling(size_ms, grace),
        WindowKind::Hopping { size_ms, advance_ms } => WindowSpec::hopping(size_ms, advance_ms, grace),
        WindowKind::Session { gap_ms } => WindowSpec::session(gap_ms, grace),
    };
    spec.retention_ms = w.retention_ms;
    spec
}

fn window_info(w: &ast::WindowClause) -> WindowInfo {
    match w.kind {
        WindowKind::Tumbling { size_ms } => WindowInfo { kind: WindowType::Tumbling, size_ms: Some(size_ms) },
        WindowKind::Hopping { size_ms, .. } => WindowInfo { kind: WindowType::Hopping, size_ms: Some(size_ms) },
        WindowKind::Session { .. } => WindowInfo { kind: WindowType::Session, size_ms: None },
    }
}

fn inputs_window(catalog: &Catalog, r: &Relation) -> Option<WindowInfo> {
    match r {
        Relation::Source { name, .. } => catalog.source(name).and_then(|s| s.window),
        Relation::Join { left, .. } => inputs_window(catalog, left),
    }
}

/// Copies the key columns into the value (as `KSQL_KEY_COPY_<name>`) and
/// points `scope` at the copies, so expressions still read the old key
/// after a re-key drops it.
fn copy_keys_into_values(b: PlanBuilder, scope: &mut Scope) -> Result<PlanBuilder> {
    let meta = b.meta().clone();
    let mut copies = Vec::new();
    for f in &meta.schema.fields()[meta.value_start()..] {
        copies.push((EExpr::col(f.name()), f.name().clone()));
    }
    for c in scope.cols.iter_mut().filter(|c| c.key) {
        let copy = format!("KSQL_KEY_COPY_{}", c.engine);
        copies.push((EExpr::col(&c.engine), copy.clone()));
        c.engine = copy;
        c.key = false;
    }
    Ok(b.project(copies)?)
}

/// `e` displayed with unqualified columns qualified by the single source of
/// `from` (ksqlDB's rendering in some messages: `ABS(INPUT.ID)`).
fn qualified(e: &Expr, from: &Relation) -> String {
    fn q(e: &Expr, src: &str) -> Expr {
        match e {
            Expr::Column { qualifier: None, name } => Expr::Column { qualifier: Some(src.to_string()), name: name.clone() },
            Expr::Function { name, args } => Expr::Function { name: name.clone(), args: args.iter().map(|a| q(a, src)).collect() },
            Expr::Binary { op, left, right } => {
                Expr::Binary { op: *op, left: Box::new(q(left, src)), right: Box::new(q(right, src)) }
            }
            Expr::Cast { expr, ty } => Expr::Cast { expr: Box::new(q(expr, src)), ty: ty.clone() },
            Expr::Field { expr, field } => Expr::Field { expr: Box::new(q(expr, src)), field: field.clone() },
            other => other.clone(),
        }
    }
    match from {
        Relation::Source { name, alias } => display_expr(&q(e, alias.as_deref().unwrap_or(name))),
        Relation::Join { .. } => display_expr(e),
    }
}

/// `e` displayed with each column qualified by the source it resolves to.
fn resolved_display(e: &Expr, scopes: &[&Scope]) -> String {
    match e {
        Expr::Column { qualifier: None, name } => {
            let q = scopes.iter().find_map(|s| s.resolve(None, name).ok().and_then(|c| c.qualifier.clone()));
            match q {
                Some(q) => format!("{q}.{name}"),
                None => name.clone(),
            }
        }
        other => display_expr(other),
    }
}

/// A column reference with its source's qualifier filled in (`L.A`), as
/// ksqlDB names join expressions; other expressions unchanged.
fn qualify(e: &Expr, scope: &Scope) -> Expr {
    match e {
        Expr::Column { qualifier: None, name } => match scope.resolve(None, name) {
            Ok(c) if c.qualifier.is_some() => Expr::Column { qualifier: c.qualifier.clone(), name: name.clone() },
            _ => e.clone(),
        },
        other => other.clone(),
    }
}

/// `e` with every column reference qualified by its source, for messages.
fn qualify_deep(e: &Expr, scopes: &[&Scope]) -> Expr {
    let deep = |x: &Expr| Box::new(qualify_deep(x, scopes));
    match e {
        Expr::Column { qualifier: None, name } => {
            match scopes.iter().find_map(|s| s.resolve(None, name).ok().and_then(|c| c.qualifier.clone())) {
                Some(q) => Expr::Column { qualifier: Some(q), name: name.clone() },
                None => e.clone(),
            }
        }
        Expr::Cast { expr, ty } => Expr::Cast { expr: deep(expr), ty: ty.clone() },
        Expr::Binary { op, left, right } => Expr::Binary { op: *op, left: deep(left), right: deep(right) },
        Expr::Function { name, args } => {
            Expr::Function { name: name.clone(), args: args.iter().map(|a| qualify_deep(a, scopes)).collect() }
        }
        other => other.clone(),
    }
}

/// `e` with its columns named as in a join's output (`L.A` → `L_A`), for
/// messages about joined rows; unchanged outside joins.
fn joined_names(e: &Expr, scope: &Scope) -> Expr {
    let qualifiers: std::collections::BTreeSet<&str> = scope.cols.iter().filter_map(|c| c.qualifier.as_deref()).collect();
    if qualifiers.len() < 2 {
        return e.clone();
    }
    let rename = |x: &Expr| joined_names(x, scope);
    match e {
        Expr::Column { qualifier, name } => match scope.resolve(qualifier.as_deref(), name) {
            Ok(c) if c.qualifier.is_some() => {
                Expr::Column { qualifier: None, name: format!("{}_{name}", c.qualifier.as_deref().unwrap_or_default()) }
            }
            _ => e.clone(),
        },
        Expr::Function { name, args } => Expr::Function { name: name.clone(), args: args.iter().map(rename).collect() },
        Expr::Binary { op, left, right } => Expr::Binary { op: *op, left: Box::new(rename(left)), right: Box::new(rename(right)) },
        Expr::Cast { expr, ty } => Expr::Cast { expr: Box::new(rename(expr)), ty: ty.clone() },
        other => other.clone(),
    }
}

/// Whether `name` is a pseudo-column (record metadata, a join side's
/// `ROWTIME`), which `*` does not select.
fn is_record_metadata(name: &str) -> bool {
    name == ROWPARTITION || name == ROWOFFSET || name == ROWTIME
}

/// Whether `query` names a source's `ROWTIME` (`S.ROWTIME`) anywhere.
fn reads_qualified_rowtime(query: &Query) -> bool {
    let mut found = false;
    let mut look = |e: &Expr| {
        walk(e, &mut |x| {
            if matches!(x, Expr::Column { qualifier: Some(_), name } if name == ROWTIME) {
                found = true;
            }
        })
    };
    for item in &query.select {
        if let SelectItem::Expr { expr, .. } = item {
            look(expr);
        }
    }
    for e in query.where_clause.iter().chain(&query.group_by).chain(&query.partition_by).chain(query.having.iter()) {
        look(e);
    }
    found
}

/// Whether any expression of `query` reads `ROWPARTITION` or `ROWOFFSET`.
fn reads_record_metadata(query: &Query) -> bool {
    fn relation(r: &Relation, found: &mut bool) {
        if let Relation::Join { left, right, on, .. } = r {
            relation(left, found);
            relation(right, found);
            expr(on, found);
        }
    }
    fn expr(e: &Expr, found: &mut bool) {
        walk(e, &mut |x| {
            if matches!(x, Expr::Column { name, .. } if is_record_metadata(name)) {
                *found = true;
            }
        });
    }
    let mut found = false;
    relation(&query.from, &mut found);
    for item in &query.select {
        if let SelectItem::Expr { expr: e, .. } = item {
            expr(e, &mut found);
        }
    }
    for e in query.where_clause.iter().chain(&query.group_by).chain(&query.partition_by).chain(query.having.iter()) {
        expr(e, &mut found);
    }
    found
}

/// Source names in a `FROM` tree, left to right.
fn collect_sources(r: &Relation, out: &mut Vec<String>) {
    match r {
        Relation::Source { name, .. } => out.push(name.clone()),
        Relation::Join { left, right, .. } => {
            collect_sources(left, out);
            collect_sources(right, out);
        }
    }
}

fn is_aggregate_name(name: &str, functions: &Functions) -> bool {
    functions.aggregate(name).is_some() || matches!(name, "COUNT" | "SUM" | "AVG" | "MIN" | "MAX")
}

/// Whether `e` calls an aggregate function.
fn contains_aggregate(e: &Expr, functions: &Functions) -> bool {
    first_aggregate(e, functions).is_some()
}

fn first_aggregate(e: &Expr, functions: &Functions) -> Option<String> {
    let mut found = None;
    walk(e, &mut |x| {
        if let Expr::Function { name, .. } = x {
            if found.is_none() && is_aggregate_name(name, functions) {
                found = Some(name.clone());
            }
        }
    });
    found
}

/// Aggregate calls in `e` (outermost), deduplicated into `out`.
fn collect_aggregates(e: &Expr, functions: &Functions, out: &mut Vec<Expr>) {
    if let Expr::Function { name, .. } = e {
        if is_aggregate_name(name, functions) {
            if !out.contains(e) {
                out.push(e.clone());
            }
            return;
        }
    }
    for c in children(e) {
        collect_aggregates(c, functions, out);
    }
}

/// Columns of `e` outside aggregate calls and grouping expressions.
fn ungrouped_columns(e: &Expr, group_by: &[Expr], functions: &Functions, out: &mut Vec<Expr>) {
    if group_by.contains(e) {
        return;
    }
    match e {
        Expr::Function { name, .. } if is_aggregate_name(name, functions) => {}
        Expr::Column { name, .. } if matches!(name.as_str(), "WINDOWSTART" | "WINDOWEND" | "ROWTIME") => {}
        Expr::Column { qualifier, name } => {
            // `GROUP BY ID` also covers `T.ID`.
            let covered = group_by.iter().any(|g| matches!(g, Expr::Column { name: n, qualifier: q } if n == name && (q.is_none() || qualifier.is_none() || q == qualifier)));
            if !covered {
                out.push(e.clone());
            }
        }
        _ => {
            for c in children(e) {
                ungrouped_columns(c, group_by, functions, out);
            }
        }
    }
}

fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => vec![],
        Expr::Binary { left, right, .. } => vec![left, right],
        Expr::Not(x) | Expr::Negate(x) => vec![x],
        Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Field { expr, .. } => vec![expr],
        Expr::Between { expr, low, high, .. } => vec![expr, low, high],
        Expr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list.iter()).collect(),
        Expr::Like { expr, pattern, .. } => vec![expr, pattern],
        Expr::Case { operand, whens, else_expr } => {
            let mut v: Vec<&Expr> = operand.iter().map(|b| &**b).collect();
            for (w, t) in whens {
                v.push(w);
                v.push(t);
            }
            v.extend(else_expr.iter().map(|b| &**b));
            v
        }
        Expr::Function { args, .. } | Expr::Array(args) => args.iter().collect(),
        Expr::Subscript { expr, index } => vec![expr, index],
        Expr::Lambda { body, .. } => vec![body],
        Expr::Map(entries) => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
        Expr::Struct(fields) => fields.iter().map(|(_, v)| v).collect(),
        Expr::Interval { amount, .. } => vec![amount],
    }
}

pub(crate) fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    for c in children(e) {
        walk(c, f);
    }
}

/// Whether every column `e` reads resolves in `scope` (and it reads one).
fn refs_only(e: &Expr, scope: &Scope) -> bool {
    let mut any = false;
    let mut ok = true;
    walk(e, &mut |x| {
        if let Expr::Column { qualifier, name } = x {
            any = true;
            if scope.resolve(qualifier.as_deref(), name).is_err() {
                ok = false;
            }
        }
    });
    any && ok
}

/// Whether `a` and `b` name the same column in `scope` (or are equal).
/// The name of the synthetic join key `e` names, if it is one (an
/// unqualified key column of a join).
fn synthetic_key<'s>(e: &Expr, scope: &'s Scope) -> Option<&'s str> {
    let Expr::Column { qualifier: None, name } = e else { return None };
    scope.cols.iter().find(|c| c.qualifier.is_none() && c.key && &c.name == name).map(|c| c.name.as_str())
}

fn same_column(a: &Expr, b: &Expr, scope: &Scope) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Expr::Column { qualifier: qa, name: na }, Expr::Column { qualifier: qb, name: nb }) if na == nb => {
            match (scope.resolve(qa.as_deref(), na), scope.resolve(qb.as_deref(), nb)) {
                (Ok(x), Ok(y)) => x.engine == y.engine,
                _ => qa.is_none() || qb.is_none(),
            }
        }
        _ => false,
    }
}

/// The name of a join's synthetic key column: `ROWKEY`, or `ROWKEY_<n>` past
/// the highest such suffix among the joined columns (ksqlDB's alias
/// generator, where `ROWKEY` itself counts as suffix 0).
fn synthetic_key_name<'n>(columns: impl Iterator<Item = &'n str>) -> String {
    let mut next: Option<u64> = None;
    for c in columns {
        let used = if c == "ROWKEY" { Some(0) } else { c.strip_prefix("ROWKEY_").and_then(|n| n.parse::<u64>().ok()) };
        if let Some(u) = used {
            next = Some(next.map_or(u + 1, |n| n.max(u + 1)));
        }
    }
    match next {
        None => "ROWKEY".into(),
        Some(n) => format!("ROWKEY_{n}"),
    }
}

/// An operator as ksqlDB prints it.
fn display_binop(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Eq => "=",
        BinOp::NotEq => "<>",
        BinOp::Lt => "<",
        BinOp::LtEq => "<=",
        BinOp::Gt => ">",
        BinOp::GtEq => ">=",
        BinOp::And => "AND",
        BinOp::Or => "OR",
        BinOp::Concat => "||",
    }
}

/// ksqlDB's rendering of an expression in messages (`L.A`, `SUM(X)`).
pub fn display_expr(e: &Expr) -> String {
    match e {
        Expr::Column { qualifier: Some(q), name } => format!("{q}.{name}"),
        Expr::Column { qualifier: None, name } => name.clone(),
        Expr::Literal(Literal::String(s)) => format!("'{s}'"),
        Expr::Literal(Literal::Integer(v)) => v.to_string(),
        Expr::Literal(Literal::Decimal(d)) => d.clone(),
        Expr::Literal(Literal::Double(v)) => format!("{v:?}"),
        Expr::Literal(Literal::Boolean(b)) => b.to_string(),
        Expr::Literal(Literal::Null) => "null".into(),
        Expr::Binary { op, left, right } => {
            format!("({} {} {})", display_expr(left), display_binop(*op), display_expr(right))
        }
        Expr::Function { name, args } => {
            let a: Vec<String> = args.iter().map(display_expr).collect();
            format!("{name}({})", a.join(", "))
        }
        Expr::Star => "*".into(),
        Expr::Field { expr, field } => format!("{}->{field}", display_expr(expr)),
        Expr::Subscript { expr, index } => format!("{}[{}]", display_expr(expr), display_expr(index)),
        Expr::Not(e) => format!("(NOT {})", display_expr(e)),
        Expr::Negate(e) => format!("-{}", display_expr(e)),
        Expr::IsNull { expr, negated } => format!("({} IS {}NULL)", display_expr(expr), if *negated { "NOT " } else { "" }),
        Expr::Cast { expr, ty } => format!("CAST({} AS {ty})", display_expr(expr)),
        Expr::Array(items) => format!("ARRAY[{}]", items.iter().map(display_expr).collect::<Vec<_>>().join(", ")),
        Expr::Map(entries) => format!(
            "MAP({})",
            entries.iter().map(|(k, v)| format!("{}:={}", display_expr(k), display_expr(v))).collect::<Vec<_>>().join(", ")
        ),
        Expr::Struct(fields) => format!(
            "STRUCT({})",
            fields.iter().map(|(k, v)| format!("{k}:={}", display_expr(v))).collect::<Vec<_>>().join(", ")
        ),
        Expr::Between { expr, low, high, negated } => format!(
            "({} {}BETWEEN {} AND {})",
            display_expr(expr),
            if *negated { "NOT " } else { "" },
            display_expr(low),
            display_expr(high)
        ),
        Expr::InList { expr, list, negated } => format!(
            "({} {}IN ({}))",
            display_expr(expr),
            if *negated { "NOT " } else { "" },
            list.iter().map(display_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Like { expr, pattern, negated, .. } => {
            format!("({} {}LIKE {})", display_expr(expr), if *negated { "NOT " } else { "" }, display_expr(pattern))
        }
        Expr::Case { .. } => "CASE".into(),
        Expr::Lambda { params, body } => format!("({}) => {}", params.join(", "), display_expr(body)),
        Expr::Interval { amount, unit } => format!("{} {unit}", display_expr(amount)),
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_join_key_skips_names_the_sources_use() {
        assert_eq!(synthetic_key_name(["A", "B"].into_iter()), "ROWKEY");
        assert_eq!(synthetic_key_name(["ROWKEY", "B"].into_iter()), "ROWKEY_1");
        assert_eq!(synthetic_key_name(["ROWKEY", "ROWKEY_1", "ROWKEY_3", "ROWKEY_5"].into_iter()), "ROWKEY_6");
    }

    #[test]
    fn record_metadata_is_read_only_when_a_query_names_it() {
        let parse = |sql: &str| match crate::parser::parse_statement(sql, &std::collections::BTreeMap::new()) {
            Ok(crate::ast::Statement::CreateAsSelect { query, .. }) => query,
            other => panic!("not a CREATE … AS SELECT: {other:?}"),
        };
        assert!(!reads_record_metadata(&parse("CREATE STREAM O AS SELECT * FROM I;")));
        assert!(reads_record_metadata(&parse("CREATE STREAM O AS SELECT ID FROM I WHERE ROWOFFSET % 3 = 0;")));
        assert!(reads_record_metadata(&parse("CREATE STREAM O AS SELECT ROWPARTITION AS P FROM I;")));
    }
}
