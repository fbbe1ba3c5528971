//! Opaque pagination cursors: the key of the last item returned, base64url-encoded JSON.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use super::{Index, IndexKey, Item, Key, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CursorKey {
    pub key: Key,
    /// The index key, when the query ran on an index.
    pub index: Option<IndexKey>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    isk: Option<String>,
}

impl CursorKey {
    pub fn after(item: &Item, index: Option<Index>) -> Self {
        Self { key: item.key.clone(), index: index.and_then(|i| item.index(i).cloned()) }
    }

    pub fn encode(&self) -> String {
        let wire = Wire {
            pk: self.key.pk.clone(),
            sk: self.key.sk.clone(),
            ipk: self.index.as_ref().map(|k| k.pk.clone()),
            isk: self.index.as_ref().map(|k| k.sk.clone()),
        };
        // Serialising a struct of strings cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    pub fn decode(cursor: &str) -> Result<Self, StoreError> {
        if cursor.len() > 8 * 1024 {
            return Err(StoreError::InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        let index = match (wire.ipk, wire.isk) {
            (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
            (None, None) => None,
            _ => return Err(StoreError::InvalidCursor),
        };
        Ok(Self { key: Key { pk: wire.pk, sk: wire.sk }, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = CursorKey { key: Key::new("A#1", "B#2"), index: Some(IndexKey::new("I", "J")) };
        assert_eq!(CursorKey::decode(&cursor.encode()).unwrap(), cursor);
        assert!(matches!(CursorKey::decode("not a cursor!"), Err(StoreError::InvalidCursor)));
        assert!(matches!(CursorKey::decode("e30"), Err(StoreError::InvalidCursor)));
    }
}
