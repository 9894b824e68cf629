//! Where bearer tokens come from and how they are checked, by subject. Source 1 is Sangam's
//! embedded authorization server, source 2 an external provider's JWTs checked against its
//! JWKS, source 3 opaque tokens introspected at the provider. The helpers (forging tokens, the
//! fake provider) live in the harness, `tests::tokens`.

mod bad_tokens;
mod external_provider;
mod introspection;
mod public_schema;
mod revocation;
mod signing_keys;
mod token_endpoint;
