//! Which crypto library rustls uses for the providers' HTTPS clients and SMTP.
//!
//! reqwest is built without one (`rustls-no-provider`). With the `aws` feature it falls back to
//! aws-lc-rs, which the AWS SDK links anyway; with `tls-ring` (the local binary) ring is
//! installed as the process's provider before a client is built, so the local build has no
//! aws-lc-sys (minutes of C) at all. lettre picks the same library through its own features.

#[cfg(all(any(feature = "providers", feature = "smtp"), not(any(feature = "aws", feature = "tls-ring"))))]
compile_error!("`providers` and `smtp` need TLS: enable `aws` (aws-lc-rs, as the AWS SDK) or `tls-ring`");

/// Makes ring the process's rustls provider unless one is installed already. Call it before
/// building a TLS client; without `tls-ring` it does nothing (reqwest then uses aws-lc-rs).
#[cfg(feature = "providers")]
pub(crate) fn install_provider() {
    #[cfg(feature = "tls-ring")]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed one in between: that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(all(test, feature = "tls-ring", feature = "providers"))]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_with_the_chosen_provider() {
        install_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        assert!(reqwest::Client::builder().build().is_ok());
    }
}
