//! `Display` for plans: an indented tree, one node per line, inputs below
//! their consumer.

use std::fmt;

use super::LogicalPlan;

fn join_exprs<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
}

impl LogicalPlan {
    /// One line describing this node (without its inputs).
    pub fn describe(&self) -> String {
        let detail = match self {
            LogicalPlan::Source(s) => format!(
                "topic={} key_format={} value_format={}",
                s.topic,
                s.key_format.name(),
                s.value_format.name()
            ),
            LogicalPlan::Filter(f) => format!("{}", f.predicate),
            LogicalPlan::Project(p) => join_exprs(p.exprs.iter().map(|(e, n)| {
                if e.to_string() == *n {
                    n.clone()
                } else {
                    format!("{e} AS {n}")
                }
            })),
            LogicalPlan::FlatMap(f) => f
                .calls
                .iter()
                .map(|c| format!("{}({}) AS {}", c.func.name(), join_exprs(&c.args), c.name))
                .collect::<Vec<_>>()
                .join(", "),
            LogicalPlan::SelectKey(k) => join_exprs(k.key.iter().map(|(e, n)| format!("{e} AS {n}"))),
            LogicalPlan::Repartition(r) => format!("name={}", r.name),
            LogicalPlan::Aggregate(a) => {
                let aggs = join_exprs(
                    a.aggs.iter().map(|x| format!("{}({}) AS {}", x.func, if x.args.is_empty() { "*".to_string() } else { join_exprs(&x.args) }, x.name)),
                );
                let aggs = match &a.window {
                    Some(w) => format!("{aggs} window={w}"),
                    None => aggs,
                };
                match &a.store {
                    Some(name) => format!("{aggs} store={name}"),
                    None => aggs,
                }
            }
            LogicalPlan::Suppress(_) => "until window closes".to_string(),
            LogicalPlan::Join(j) => match &j.window {
                Some(w) => format!(
                    "{} within(before={}ms, after={}ms, grace={}ms)",
                    j.kind, w.before_ms, w.after_ms, w.grace_ms
                ),
                None => j.kind.to_string(),
            },
            LogicalPlan::ForeignKeyJoin(j) => format!("{} on {}", j.kind, j.foreign_key),
            LogicalPlan::Merge(m) => format!("{} inputs", m.inputs.len()),
            LogicalPlan::ToTable(_) | LogicalPlan::ToStream(_) => String::new(),
            LogicalPlan::Sink(s) => format!(
                "topic={} key_format={} value_format={}",
                s.topic,
                s.key_format.name(),
                s.value_format.name()
            ),
            LogicalPlan::Process(p) => p.name.clone(),
        };
        let meta = self.meta();
        let cols = join_exprs(meta.schema.fields().iter().map(|f| format!("{}:{}", f.name(), f.data_type())));
        let key = join_exprs(meta.key_columns());
        let sep = if detail.is_empty() { "" } else { ": " };
        format!("{}{sep}{detail} [{} key=({key}) schema=({cols})]", self.name(), meta.kind)
    }

    fn fmt_indented(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        writeln!(f, "{:width$}{}", "", self.describe(), width = depth * 2)?;
        for input in self.inputs() {
            input.fmt_indented(f, depth + 1)?;
        }
        Ok(())
    }
}

impl fmt::Display for LogicalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_indented(f, 0)
    }
}
