//! `ATTR(x)`: the value when every row of the group has the same one, NULL
//! as soon as two differ (ksqlDB's "attribute" aggregate).

use crate::functions::{AggState, Udaf};
use crate::value::Value;

/// `ATTR`.
pub(crate) fn all() -> Vec<Udaf> {
    vec![Udaf {
        name: "ATTR",
        description: "The value shared by every row of the group, or NULL when rows differ.",
        return_type: |args| match args {
            [t] => Ok(t.clone()),
            _ => Err(super::reject("ATTR", args)),
        },
        init: |_| Box::new(Attr::default()),
    }]
}

/// Seen values: the first, and whether any differed.
#[derive(Debug, Default)]
struct Attr {
    first: Option<Value>,
    mixed: bool,
}

impl AggState for Attr {
    fn add(&mut self, args: &[Value]) {
        let v = args.first().cloned().unwrap_or(Value::Null);
        match &self.first {
            None => self.first = Some(v),
            Some(f) if *f != v => self.mixed = true,
            Some(_) => {}
        }
    }

    fn merge(&mut self, other: Value) {
        if let Value::Array(parts) = other {
            if let [first, Value::Boolean(mixed)] = parts.as_slice() {
                self.mixed |= *mixed;
                self.add(std::slice::from_ref(first));
            }
        }
    }

    fn result(&self) -> Value {
        if self.mixed {
            Value::Null
        } else {
            self.first.clone().unwrap_or(Value::Null)
        }
    }

    fn to_state(&self) -> Value {
        match &self.first {
            None => Value::Null,
            Some(f) => Value::Array(vec![f.clone(), Value::Boolean(self.mixed)]),
        }
    }

    fn load(&mut self, state: Value) {
        *self = Attr::default();
        if let Value::Array(parts) = state {
            if let [first, Value::Boolean(mixed)] = parts.as_slice() {
                self.first = Some(first.clone());
                self.mixed = *mixed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_survive_and_differences_null_out() {
        let mut a = Attr::default();
        a.add(&[Value::Int(1)]);
        a.add(&[Value::Int(1)]);
        assert_eq!(a.result(), Value::Int(1));
        let mut b = Attr::default();
        b.load(a.to_state());
        b.add(&[Value::Int(2)]);
        assert_eq!(b.result(), Value::Null);
    }
}
