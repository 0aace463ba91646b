//! The platforms as data: profiles (`profile`, `core/profiles/*.json`), a
//! configured app resolved against its profile (`account`), response
//! envelopes into verdicts (`envelope`) and the HTTP requests a platform
//! expects (`request`). Nothing here holds runtime state.

pub(crate) mod account;
pub mod envelope;
pub mod profile;
pub(crate) mod request;
