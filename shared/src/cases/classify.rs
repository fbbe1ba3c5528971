//! The suggested kind of a message, by keyword rules in English and Swedish. Only a
//! suggestion: an operator may classify again, and nothing is done before the sender confirms.

use super::CaseKind;

/// The rules, most specific first: the first kind with a keyword in the subject or text wins.
const RULES: &[(CaseKind, &[&str])] = &[
    (
        CaseKind::WithdrawConsent,
        &[
            "withdraw consent",
            "withdraw my consent",
            "unsubscribe",
            "stop sending",
            "no more e-mails",
            "no more emails",
            "opt out",
            "opt-out",
            "återkalla",
            "återkallar",
            "avregistrera",
            "avsluta prenumeration",
            "sluta skicka",
            "inga fler mejl",
            "inga mer mejl",
        ],
    ),
    (
        CaseKind::Erasure,
        &[
            "erase",
            "erasure",
            "delete my",
            "deletion",
            "right to be forgotten",
            "remove my data",
            "radera",
            "radering",
            "ta bort mina",
            "bli bortglömd",
        ],
    ),
    (
        CaseKind::Portability,
        &["portability", "port my data", "machine-readable", "dataportabilitet", "flytta mina uppgifter"],
    ),
    (
        CaseKind::Correction,
        &["correct", "rectif", "wrong data", "inaccurate", "rätta", "rättelse", "felaktig", "korrigera"],
    ),
    (
        CaseKind::Access,
        &[
            "access request",
            "subject access",
            "copy of my data",
            "copy of my personal data",
            "what data",
            "which data",
            "article 15",
            "art. 15",
            "registerutdrag",
            "tillgång till mina",
            "kopia av mina",
            "vilka uppgifter",
        ],
    ),
    (CaseKind::Complaint, &["complain", "complaint", "klagomål", "klaga", "missnöjd"]),
];

/// The kind the rules suggest for a message's subject and text.
pub fn classify(subject: &str, text: &str) -> CaseKind {
    let haystack = format!("{subject}\n{text}").to_lowercase();
    RULES
        .iter()
        .find(|(_, keywords)| keywords.iter().any(|keyword| haystack.contains(keyword)))
        .map_or(CaseKind::Other, |(kind, _)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_swedish_keywords_suggest_a_kind() {
        assert_eq!(classify("Unsubscribe", ""), CaseKind::WithdrawConsent);
        assert_eq!(classify("", "Please stop sending me marketing e-mails."), CaseKind::WithdrawConsent);
        assert_eq!(classify("Återkalla samtycke", ""), CaseKind::WithdrawConsent);
        assert_eq!(classify("Subject access request", "I want a copy of my data"), CaseKind::Access);
        assert_eq!(classify("Begäran om registerutdrag", ""), CaseKind::Access);
        assert_eq!(classify("", "Please delete my account and data"), CaseKind::Erasure);
        assert_eq!(classify("Radera mina uppgifter", ""), CaseKind::Erasure);
        assert_eq!(classify("Data portability", ""), CaseKind::Portability);
        assert_eq!(classify("", "My name is wrong, please correct it"), CaseKind::Correction);
        assert_eq!(classify("Klagomål", ""), CaseKind::Complaint);
        assert_eq!(classify("Hello", "Just saying hi"), CaseKind::Other);
    }

    #[test]
    fn every_kind_round_trips_its_name() {
        for kind in CaseKind::ALL {
            assert_eq!(CaseKind::parse(kind.as_str()), Some(kind));
        }
    }
}
