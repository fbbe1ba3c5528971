//! `infentre operator add|remove|list`: the operators' allow-list records in the data
//! directory's store (see `shared::accounts::operators`).

use shared::Platform;
use shared::accounts::operators::{self, Source};
use shared::domain::EmailAddress;

/// What the command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorCommand {
    Add(String),
    Remove(String),
    List,
}

/// Runs the command; the line to print, or why it failed.
pub async fn run(platform: &Platform, command: OperatorCommand) -> Result<String, String> {
    let parse = |address: &str| EmailAddress::parse(address).map_err(|err| err.to_string());
    match command {
        OperatorCommand::Add(address) => {
            let address = parse(&address)?;
            let added = operators::add(platform, &address, Source::Command).await.map_err(|e| e.to_string())?;
            Ok(if added { "added" } else { "already on the list (unchanged)" }.to_owned())
        }
        OperatorCommand::Remove(address) => {
            let address = parse(&address)?;
            let removed = operators::remove(platform, &address).await.map_err(|e| e.to_string())?;
            if platform.settings.operators.iter().any(|o| o == address.canonical()) {
                // The setting seeds it again on its next use.
                return Err("INFENTRE_OPERATORS lists this address: take it out of the setting".into());
            }
            Ok(if removed { "removed" } else { "not on the list" }.to_owned())
        }
        OperatorCommand::List => {
            let mut lines: Vec<String> = operators::list(platform)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|r| {
                    let source = match r.source {
                        Source::Setting => "setting",
                        Source::Command => "command",
                    };
                    let bound = if r.user_id.is_some() { "bound to its account" } else { "not used yet" };
                    format!("{}\t{source}\t{bound}", r.email_canonical)
                })
                .collect();
            lines.sort();
            Ok(lines.join("\n"))
        }
    }
}
