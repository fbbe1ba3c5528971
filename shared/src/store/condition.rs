//! Conditions on one item, with one meaning on every backend: an item whose time to live has
//! passed is absent, whatever the backend still keeps.

use std::cmp::Ordering;

use serde_json::Value;

use super::Item;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists (and has not expired).
    Exists,
    /// No live item has this key: the uniqueness and "create once" condition.
    NotExists,
    Equals(String, Value),
    LessThan(String, Value),
    GreaterThan(String, Value),
    AttributeExists(String),
    AttributeNotExists(String),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    pub fn equals(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::Equals(name.into(), value.into())
    }

    pub fn less_than(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::LessThan(name.into(), value.into())
    }

    pub fn greater_than(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::GreaterThan(name.into(), value.into())
    }

    /// Evaluates the condition against the live item (`None` if absent or expired).
    pub fn holds_for(&self, item: Option<&Item>) -> bool {
        match self {
            Condition::Exists => item.is_some(),
            Condition::NotExists => item.is_none(),
            Condition::Equals(name, value) => {
                attribute(item, name).is_some_and(|v| compare(v, value) == Some(Ordering::Equal))
            }
            Condition::LessThan(name, value) => {
                attribute(item, name).is_some_and(|v| compare(v, value) == Some(Ordering::Less))
            }
            Condition::GreaterThan(name, value) => {
                attribute(item, name).is_some_and(|v| compare(v, value) == Some(Ordering::Greater))
            }
            Condition::AttributeExists(name) => attribute(item, name).is_some(),
            Condition::AttributeNotExists(name) => attribute(item, name).is_none(),
            Condition::And(all) => all.iter().all(|c| c.holds_for(item)),
            Condition::Or(any) => any.iter().any(|c| c.holds_for(item)),
        }
    }

    /// The attribute names the condition reads.
    pub fn attribute_names(&self) -> Vec<&str> {
        match self {
            Condition::Exists | Condition::NotExists => vec![],
            Condition::Equals(name, _)
            | Condition::LessThan(name, _)
            | Condition::GreaterThan(name, _)
            | Condition::AttributeExists(name)
            | Condition::AttributeNotExists(name) => vec![name.as_str()],
            Condition::And(all) | Condition::Or(all) => all.iter().flat_map(Condition::attribute_names).collect(),
        }
    }
}

fn attribute<'a>(item: Option<&'a Item>, name: &str) -> Option<&'a Value> {
    item.and_then(|item| item.attrs.get(name))
}

/// DynamoDB's comparison: numbers by value, strings by UTF-8 bytes, booleans only for
/// equality; values of different types never compare.
fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
        },
        (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::Bool(a), Value::Bool(b)) if a == b => Some(Ordering::Equal),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    fn item(version: i64) -> Item {
        let mut item = Item::new(Key::new("P", "S"), "t");
        item.attrs.insert("version".into(), Value::from(version));
        item.attrs.insert("status".into(), Value::from("queued"));
        item
    }

    #[test]
    fn conditions_on_an_absent_item() {
        assert!(Condition::NotExists.holds_for(None));
        assert!(!Condition::Exists.holds_for(None));
        assert!(!Condition::equals("version", 1).holds_for(None));
        assert!(Condition::AttributeNotExists("version".into()).holds_for(None));
    }

    #[test]
    fn comparisons_follow_dynamodb() {
        let item = item(3);
        assert!(Condition::equals("version", 3).holds_for(Some(&item)));
        assert!(Condition::less_than("version", 4).holds_for(Some(&item)));
        assert!(!Condition::less_than("version", "4").holds_for(Some(&item)), "types never compare");
        assert!(Condition::greater_than("status", "processing").holds_for(Some(&item)));
        let either = Condition::Or(vec![Condition::NotExists, Condition::equals("status", "queued")]);
        assert!(either.holds_for(Some(&item)) && either.holds_for(None));
    }
}
