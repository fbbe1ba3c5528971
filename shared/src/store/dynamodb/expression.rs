//! Conditions, updates and key conditions compiled to DynamoDB expressions, with their
//! placeholder names and values.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo_serde;
use serde_json::Value;

use super::AttributeMap;
use crate::store::{Condition, Index, IndexKey, StoreError, Update};

/// Collects the placeholders (`#n0`, `:v0`) of one request's expressions.
#[derive(Default)]
pub(super) struct Expression {
    pub(super) names: HashMap<String, String>,
    pub(super) values: AttributeMap,
}

impl Expression {
    pub(super) fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        let value = dynamo_serde::to_attribute_value(value).map_err(|err| StoreError::Invalid(err.to_string()))?;
        Ok(self.value(value))
    }

    /// The condition with expiry folded in: an expired item is absent.
    pub(super) fn condition(&mut self, condition: &Condition, now: i64) -> Result<String, StoreError> {
        let body = self.condition_body(condition)?;
        let now = self.value(AttributeValue::N(now.to_string()));
        let live = format!("(attribute_exists(PK) AND (attribute_not_exists(expires_at) OR expires_at > {now}))");
        Ok(if condition.holds_for(None) {
            format!("(attribute_not_exists(PK) OR expires_at <= {now} OR ({live} AND {body}))")
        } else {
            format!("({live} AND {body})")
        })
    }

    pub(super) fn condition_body(&mut self, condition: &Condition) -> Result<String, StoreError> {
        Ok(match condition {
            Condition::Exists => "attribute_exists(PK)".to_owned(),
            Condition::NotExists => "attribute_not_exists(PK)".to_owned(),
            Condition::Equals(name, value) => {
                format!("{} = {}", self.name(name), self.json(value)?)
            }
            Condition::LessThan(name, value) => {
                format!("{} < {}", self.name(name), self.json(value)?)
            }
            Condition::GreaterThan(name, value) => {
                format!("{} > {}", self.name(name), self.json(value)?)
            }
            Condition::AttributeExists(name) => format!("attribute_exists({})", self.name(name)),
            Condition::AttributeNotExists(name) => {
                format!("attribute_not_exists({})", self.name(name))
            }
            Condition::And(all) | Condition::Or(all) if all.is_empty() => {
                return Err(StoreError::Invalid("empty condition list".into()));
            }
            Condition::And(all) => self.join(all, " AND ")?,
            Condition::Or(any) => self.join(any, " OR ")?,
        })
    }

    pub(super) fn join(&mut self, conditions: &[Condition], separator: &str) -> Result<String, StoreError> {
        let parts = conditions.iter().map(|c| self.condition_body(c)).collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(separator)))
    }

    /// The update expression equivalent to [`Update::apply`].
    pub(super) fn update(&mut self, update: &Update, entity_type: &str, pk: &str) -> Result<String, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        let kind = self.value(AttributeValue::S(entity_type.to_owned()));
        set.push(format!("entity_type = if_not_exists(entity_type, {kind})"));
        for (name, value) in &update.set {
            set.push(format!("{} = {}", self.name(name), self.json(value)?));
        }
        for (name, by) in &update.add {
            add.push(format!("{} {}", self.name(name), self.value(AttributeValue::N(by.to_string()))));
        }
        remove.extend(update.remove.iter().map(|name| self.name(name)));
        let mut index_keys: Vec<(Index, Option<IndexKey>)> = update.set_indexes.clone();
        if let Some(expires_at) = update.expires_at {
            match expires_at {
                Some(at) => set.push(format!("expires_at = {}", self.value(AttributeValue::N(at.to_string())))),
                None => remove.push("expires_at".to_owned()),
            }
            let expiry_key = expires_at
                .map(|at| IndexKey::new(crate::store::expiry::partition(at, pk), crate::store::expiry::sort_key(at)));
            index_keys.push((Index::Gsi2, expiry_key));
        }
        for (index, key) in index_keys {
            match key {
                Some(key) => {
                    set.push(format!("{} = {}", index.pk_attribute(), self.value(AttributeValue::S(key.pk))));
                    set.push(format!("{} = {}", index.sk_attribute(), self.value(AttributeValue::S(key.sk))));
                }
                None => remove.extend([index.pk_attribute().to_owned(), index.sk_attribute().to_owned()]),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !add.is_empty() {
            expression += &format!(" ADD {}", add.join(", "));
        }
        if !remove.is_empty() {
            expression += &format!(" REMOVE {}", remove.join(", "));
        }
        Ok(expression)
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<AttributeMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}
