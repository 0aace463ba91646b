//! API security in a build without the `api-security` feature: the engine
//! keeps one code path, and an app configured with `api_security` is refused
//! when the engine is built, naming the feature, instead of sending its calls
//! unsealed.

use crate::config::{ApiSecurityConfig, Secret};
use crate::crypto::callback::CallbackError;
use crate::error::ConfigError;
use std::fmt;

/// No IVs to make: the entropy is still checked, so a config means the same
/// in every build.
pub(crate) type Csprng = ();

pub(crate) fn csprng(entropy: &Secret) -> Result<Csprng, ConfigError> {
    super::entropy_seed(entropy).map(|_| ())
}

/// Never built: [`AppSecurity::new`] always refuses.
pub(crate) enum AppSecurity {}

impl fmt::Debug for AppSecurity {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

pub(crate) struct Sealed {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
}

impl AppSecurity {
    pub(crate) fn new(i: usize, _: &ApiSecurityConfig) -> Result<AppSecurity, ConfigError> {
        Err(ConfigError::new(
            format!("apps[{i}].api_security"),
            "this build of wxcore has no API security (cargo feature `api-security`)",
        ))
    }

    pub(crate) fn covers(&self, _: &str) -> bool {
        match *self {}
    }

    pub(crate) fn seal_request(
        &self,
        _: &str,
        _: &str,
        _: u64,
        _: Option<&[u8]>,
        _: &mut Csprng,
    ) -> Result<Sealed, CallbackError> {
        match *self {}
    }

    pub(crate) fn open_reply(
        &self,
        _: &str,
        _: &str,
        _: impl Fn(&str) -> Option<String>,
        _: &[u8],
        _: u64,
    ) -> Result<Option<Vec<u8>>, CallbackError> {
        match *self {}
    }
}
