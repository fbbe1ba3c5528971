//! Access and portability exports.
//!
//! The access export reads the same registry the erasure uses (`shared::erasure::LOCATIONS`),
//! so it shows everything erasure would remove, plus the information GDPR Art. 15 requires.
//! Secrets we keep only as hashes (password, session and token hashes) are named, not
//! exported. Exports live under the subject's export prefix, which erasure deletes.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use shared::Platform;
use shared::accounts::UserRecord;
use shared::clock::rfc3339_from_epoch;
use shared::consent::PURPOSES;
use shared::erasure::fence::{self, FencedWrite};
use shared::erasure::{self, Subject};
use shared::keys;
use shared::published::SUBPROCESSORS;
use shared::rights::{EXPORT_RETENTION_SECONDS, Exports, RequestType, RightsRequest};
use shared::store::{Item, StoreError};

use crate::WorkError;

/// Bookkeeping of ours that says nothing about the person.
const INTERNAL_KINDS: &[&str] = &["rights_request_lock", "export"];
/// What the person gave us or produced by using the platform (portability, Art. 20).
const PROVIDED_KINDS: &[&str] =
    &["user", "consent_record", "consent_state", "usage_event", "complaint", "rights_request"];

/// Attribute values we never hand out, even to their owner: they are hashes of secrets.
fn redact(mut attrs: Map<String, Value>) -> Map<String, Value> {
    for (name, value) in attrs.iter_mut() {
        if name.ends_with("_hash") || name == "password" {
            *value = Value::String("(kept only as a one-way hash; not exported)".into());
        }
    }
    attrs
}

/// The subject's records, by kind, each kind sorted as stored.
async fn records(platform: &Platform, subject: &Subject) -> Result<BTreeMap<String, Vec<Value>>, WorkError> {
    let items = erasure::collect(platform, subject).await?;
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for item in items {
        if INTERNAL_KINDS.contains(&item.entity_type.as_str()) {
            continue;
        }
        let mut attrs = redact(item.attrs);
        if let Some(expires_at) = item.expires_at {
            attrs.insert("erased_by".into(), Value::String(rfc3339_from_epoch(expires_at)));
        }
        by_kind.entry(item.entity_type).or_default().push(Value::Object(attrs));
    }
    Ok(by_kind)
}

/// GDPR Art. 15(1)(a)–(h) and 15(2): what we do with the data, and the person's rights.
pub fn article_15(platform: &Platform) -> Value {
    let settings = &platform.settings;
    let purposes: Vec<Value> = PURPOSES
        .iter()
        .map(|p| {
            json!({"id": p.id, "purpose": p.title, "description": p.description, "lawful_basis": p.lawful_basis,
                   "recipients": p.recipients, "retention": p.retention})
        })
        .collect();
    json!({
        "controller": settings.controller,
        "data_protection_officer": settings.dpo,
        "purposes": purposes,
        "account_purpose": {
            "purpose": "Providing the Infentre platform: your account, your organisation, sessions, security",
            "lawful_basis": "GDPR Art. 6(1)(b): the contract with your organisation",
            "retention": "Until the account is cancelled; erased at once then",
        },
        "categories": ["identity and contact (e-mail address)", "credentials (password hash)", "organisation and role",
                       "consent records", "platform usage (only with consent)", "rights requests and complaints"],
        "recipients": SUBPROCESSORS,
        // GDPR Art. 19 (shared::marketing::erasure).
        "recipients_on_erasure": {
            "en": "When you are erased we ask Google to delete what Google Analytics received about you (its User \
                   Deletion API, for the pseudonymous id we sent it), and record Google's confirmation. Meta \
                   (Facebook) offers no way to delete events received through its Conversions API: we record \
                   that it could not be asked. These records name no one and are kept 3 years as proof.",
            "sv": "När du raderas ber vi Google att radera det Google Analytics har fått om dig (via dess User \
                   Deletion API, för det pseudonyma id vi skickade) och sparar Googles bekräftelse. Meta \
                   (Facebook) har inget sätt att radera händelser som tagits emot via dess Conversions API: vi \
                   antecknar att det inte gick att begära. Anteckningarna namnger ingen och sparas i 3 år som bevis.",
        },
        // As the privacy notice says ("Where do you keep my information?").
        "transfers": "SendGrid (United States) and, only with your consent to sharing, Google (United States) and \
                      Meta (Ireland and United States), under the EU Standard Contractual Clauses and the EU-U.S. \
                      Data Privacy Framework; everything else stays in our cloud platform's region in the EEA",
        "retention": "Usage data at most 3 years; everything else until you or your organisation cancel the account, except records the law requires us to keep",
        // template.yaml turns on DynamoDB point-in-time recovery (35 days, its longest).
        "backups": {
            "en": "The hosted service's database keeps continuous point-in-time-recovery backups for 35 days: \
                   what we erase remains in them until 35 days after its erasure, encrypted, used only to recover \
                   from a disaster, then gone.",
            "sv": "Den driftade tjänstens databas har löpande säkerhetskopior för återställning till en viss \
                   tidpunkt i 35 dagar: det vi raderar finns kvar i dem till 35 dagar efter raderingen, krypterat, \
                   används bara för att återställa efter en katastrof och försvinner sedan.",
        },
        "rights": ["access (Art. 15)", "rectification (Art. 16)", "erasure (Art. 17)", "restriction (Art. 18)",
                   "portability (Art. 20)", "objection (Art. 21)", "withdrawing consent at any time (Art. 7(3))"],
        "how_to_exercise": "Members through their organisation's admin; admins directly, in the app or by writing to the DPO",
        "right_to_complain": {"dpo": settings.dpo, "supervisory_authority": settings.supervisory_authority},
        "source": "You, when you signed up and used the platform; your organisation's admin, who invited you",
        "automated_decision_making": "None",
        "privacy_notice_version": settings.policy_version,
    })
}

fn csv_field(value: &Value) -> String {
    let text = match value {
        // A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"): text
        // from others (an admin's deny reason) must stay text.
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// One CSV per kind, columns the union of the records' fields; the Art. 15 information as JSON.
fn csv_zip(by_kind: &BTreeMap<String, Vec<Value>>, information: &Value) -> Result<Vec<u8>, WorkError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let io = |err: std::io::Error| export_error(err);
    for (kind, rows) in by_kind {
        let mut columns: Vec<String> =
            rows.iter().filter_map(|r| r.as_object()).flat_map(|r| r.keys().cloned()).collect();
        columns.sort();
        columns.dedup();
        zip.start_file(format!("{kind}.csv"), options).map_err(export_error)?;
        let header: Vec<String> = columns.iter().map(|c| csv_field(&Value::String(c.clone()))).collect();
        zip.write_all(format!("{}\r\n", header.join(",")).as_bytes()).map_err(io)?;
        for row in rows {
            let fields: Vec<String> = columns.iter().map(|c| csv_field(row.get(c).unwrap_or(&Value::Null))).collect();
            zip.write_all(format!("{}\r\n", fields.join(",")).as_bytes()).map_err(io)?;
        }
    }
    zip.start_file("about-this-data.json", options).map_err(export_error)?;
    zip.write_all(&serde_json::to_vec_pretty(information).map_err(export_error)?).map_err(io)?;
    Ok(zip.finish().map_err(export_error)?.into_inner())
}

fn export_error(err: impl std::fmt::Display) -> WorkError {
    WorkError::Export(err.to_string())
}

/// Writes the request's exports and returns their keys.
pub async fn write(platform: &Platform, request: &RightsRequest, user: &UserRecord) -> Result<Exports, WorkError> {
    let subject = Subject { user_id: user.user_id.clone(), canonical_email: user.email_canonical.clone() };
    let by_kind = records(platform, &subject).await?;
    let prefix = erasure::export_prefix(&user.user_id);
    let generated_at = rfc3339_from_epoch(platform.clock.epoch_seconds());
    let person = json!({"user_id": user.user_id, "email": user.email, "organisation_id": user.organisation_id});
    let expires_at = platform.clock.epoch_seconds() + EXPORT_RETENTION_SECONDS;
    // Each file is registered with the person (erased with them) and expires in 7 days: the
    // sweeper deletes the file with its record.
    let put = |key: String, bytes: Vec<u8>, content_type: &'static str| async move {
        platform.blobs.put(&key, Bytes::from(bytes), content_type).await?;
        let record = Item::new(keys::export_record(&user.user_id, &key), "export")
            .with_data(&json!({ "blob_key": key, "request_id": request.id }))
            .map_err(export_error)?
            .expires_at(expires_at);
        // The record lands before the person's fence (the erasure job then erases both), or
        // it is refused and the file, perhaps written after the job deleted their exports,
        // is undone here.
        match fence::put_unless_fenced(platform.store.as_ref(), record, None, &[&user.user_id]).await {
            Ok(()) => Ok::<_, WorkError>(key),
            Err(FencedWrite::Fenced) => {
                platform.blobs.delete_prefix(&key).await?;
                Err(WorkError::RequesterGone)
            }
            Err(err) => Err(StoreError::from(err).into()),
        }
    };
    match request.kind {
        RequestType::Access => {
            let information = article_15(platform);
            let document = json!({
                "format": "infentre-access-export/1", "request_id": request.id, "generated_at": generated_at,
                "subject": person, "information": information, "data": by_kind,
            });
            let json = serde_json::to_vec_pretty(&document).map_err(export_error)?;
            let zip = csv_zip(&by_kind, &document["information"])?;
            let json = put(format!("{prefix}{}-access.json", request.id), json, "application/json").await?;
            let zip = put(format!("{prefix}{}-access.zip", request.id), zip, "application/zip").await?;
            Ok(Exports { json, csv_zip: Some(zip), expires_at })
        }
        _ => {
            let provided: BTreeMap<&String, &Vec<Value>> =
                by_kind.iter().filter(|(kind, _)| PROVIDED_KINDS.contains(&kind.as_str())).collect();
            let document = json!({
                "format": "infentre-portability-export/1", "request_id": request.id, "generated_at": generated_at,
                "subject": person, "data": provided,
            });
            let json = serde_json::to_vec_pretty(&document).map_err(export_error)?;
            let json = put(format!("{prefix}{}-portability.json", request.id), json, "application/json").await?;
            Ok(Exports { json, csv_zip: None, expires_at })
        }
    }
}

#[cfg(test)]
mod csv_tests {
    use super::csv_field;
    use serde_json::json;

    #[test]
    fn formulas_stay_text_and_quotes_are_doubled() {
        assert_eq!(csv_field(&json!("=HYPERLINK(\"http://x\")")), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        for start in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_field(&json!(start)).starts_with("\"'"), "{start}");
        }
        assert_eq!(csv_field(&json!("plain")), "\"plain\"");
        assert_eq!(csv_field(&json!(-5)), "\"-5\"", "a number is no formula");
        assert_eq!(csv_field(&json!(null)), "\"\"");
    }
}
