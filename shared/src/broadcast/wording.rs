//! Service notices may not carry marketing: a short list of words and phrases (English and
//! Swedish) that mark an offer. A notice that uses one is refused, so the operator rewrites it
//! or sends it as a product update (which needs consent).

/// Whole words or phrases, lower case; matched on word boundaries, so "wholesale" is not "sale".
const MARKETING: &[&str] = &[
    // English
    "offer",
    "offers",
    "special offer",
    "discount",
    "discounts",
    "discounted",
    "buy",
    "buy now",
    "upgrade now",
    "promo",
    "promotion",
    "promotional",
    "coupon",
    "coupons",
    "voucher",
    "free trial",
    "limited time",
    "special price",
    "sale",
    "% off",
    "percent off",
    // Swedish
    "erbjudande",
    "erbjudanden",
    "erbjudandet",
    "rabatt",
    "rabatter",
    "rabattkod",
    "köp",
    "köp nu",
    "köpa",
    "uppgradera nu",
    "kampanj",
    "kampanjpris",
    "rea",
    "kupong",
    "gratis provperiod",
    "begränsad tid",
    "specialpris",
];

/// The first marketing word or phrase in `text`, if any.
pub fn marketing_term(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    // Words, with "%" kept as a word of its own so "20% off" matches "% off".
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '%'))
        .flat_map(|word| split_percent(word))
        .filter(|w| !w.is_empty())
        .collect();
    MARKETING.iter().copied().find(|term| {
        let needle: Vec<&str> = term.split(' ').flat_map(split_percent).filter(|w| !w.is_empty()).collect();
        words.windows(needle.len()).any(|window| window == needle.as_slice())
    })
}

fn split_percent(word: &str) -> Vec<&str> {
    match word.find('%') {
        Some(at) => vec![&word[..at], "%", &word[at + 1..]],
        None => vec![word],
    }
}

#[cfg(test)]
mod tests {
    use super::marketing_term;

    #[test]
    fn offers_are_found_in_both_languages() {
        assert_eq!(marketing_term("Special OFFER: 20% off this week"), Some("offer"));
        assert_eq!(marketing_term("Get 20% off"), Some("% off"));
        assert_eq!(marketing_term("Upgrade now and save"), Some("upgrade now"));
        assert_eq!(marketing_term("Köp nu!"), Some("köp"));
        assert_eq!(marketing_term("Stor rabatt på alla planer"), Some("rabatt"));
        assert_eq!(marketing_term("Uppgradera nu"), Some("uppgradera nu"));
    }

    #[test]
    fn service_wording_passes() {
        assert_eq!(marketing_term("Maintenance on 3 May 02:00-04:00 UTC; the API may be slow."), None);
        assert_eq!(marketing_term("Wholesale customers: exports resume at noon."), None);
        assert_eq!(marketing_term("Underhåll den 3 maj, tjänsten kan vara långsam."), None);
        assert_eq!(marketing_term("Please upgrade your client library: the old TLS version stops working."), None);
    }
}
