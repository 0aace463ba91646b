//! Errors: one [`ApiError`] for everything a call can end with, one
//! [`ConfigError`] for everything a configuration (or restored state) can get
//! wrong. Kind names are stable across languages: bindings expose
//! [`ErrorKind::as_str`] verbatim.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a call failed. The names (see [`ErrorKind::as_str`]) are the contract
/// every binding exposes; new kinds may be added, so match with a wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The access token was rejected by a business API (refreshed and resent once already).
    TokenInvalid,
    /// The token endpoint rejected the app's credentials (wrong AppID/AppSecret/corp secret).
    CredentialInvalid,
    /// The AppSecret is frozen (OA 40243).
    SecretFrozen,
    /// The caller's IP is not on the platform's whitelist (61004, 40164, WeCom 60020).
    IpNotWhitelisted,
    /// The platform wants an administrator to confirm this IP or call (89501, 89503).
    AdminConfirmationRequired,
    /// The administrator refused this IP (89506 for 24 h, 89507 for 1 h); refused locally until then.
    IpBlocked,
    /// A rate limit was hit (45011, WeCom 45033, Jing 20002, `request_too_fast`); see `retry_after_ms`.
    RateLimited,
    /// The daily quota for this API is used up (45009 or local counting); see `retry_after_ms`.
    QuotaExhausted,
    /// The platform is busy (-1, Jing 20000, HTTP 5xx) and the call could not be retried safely.
    Busy,
    /// The request itself is wrong (missing or invalid parameter, wrong method, bad call).
    InvalidRequest,
    /// The account or app may not use this API.
    PermissionDenied,
    /// The user does not follow the account (OA 50005).
    NotFollowing,
    /// A business-level refusal that only the API's own documentation explains.
    Business,
    /// The body was not what the envelope dialect requires (e.g. not JSON).
    MalformedResponse,
    /// The host's HTTP layer failed (dns, connect, timeout, reset, tls).
    Transport,
    /// A signature did not verify (callbacks, API security).
    SignatureInvalid,
    /// The configuration does not allow this call (unknown app, missing setting).
    Config,
    /// A platform code no table knows.
    Unknown,
    /// The call's deadline passed before it completed; `code` names the
    /// phase that ran out (`queue`, `token`, `store`, `backoff`, `send`).
    Timeout,
    /// The caller withdrew the call (`Engine::cancel`).
    Cancelled,
    /// A token that needs a pushed ticket (open-platform component, WeCom
    /// suite) cannot be fetched: no ticket has arrived within its validity,
    /// or the platform refused it (61005, 61006, WeCom 40085). Wait for the
    /// next push, or restart pushes (`api_start_push_ticket`).
    TicketUnavailable,
    /// An open-platform authorizer that has not authorized the component
    /// (any more): `code` says `revoked` (an `unauthorized` push, or 61003)
    /// or `needs_reauthorization` (its refresh token is gone and the
    /// authorizer list does not hold it). Fails fast, no request sent, until
    /// it authorizes again.
    NotAuthorized,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 22] = [
        ErrorKind::TokenInvalid,
        ErrorKind::CredentialInvalid,
        ErrorKind::SecretFrozen,
        ErrorKind::IpNotWhitelisted,
        ErrorKind::AdminConfirmationRequired,
        ErrorKind::IpBlocked,
        ErrorKind::RateLimited,
        ErrorKind::QuotaExhausted,
        ErrorKind::Busy,
        ErrorKind::InvalidRequest,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFollowing,
        ErrorKind::Business,
        ErrorKind::MalformedResponse,
        ErrorKind::Transport,
        ErrorKind::SignatureInvalid,
        ErrorKind::Config,
        ErrorKind::Unknown,
        ErrorKind::Timeout,
        ErrorKind::Cancelled,
        ErrorKind::TicketUnavailable,
        ErrorKind::NotAuthorized,
    ];

    /// The stable name shared by every language (`"token_invalid"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::TokenInvalid => "token_invalid",
            ErrorKind::CredentialInvalid => "credential_invalid",
            ErrorKind::SecretFrozen => "secret_frozen",
            ErrorKind::IpNotWhitelisted => "ip_not_whitelisted",
            ErrorKind::AdminConfirmationRequired => "admin_confirmation_required",
            ErrorKind::IpBlocked => "ip_blocked",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Busy => "busy",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFollowing => "not_following",
            ErrorKind::Business => "business",
            ErrorKind::MalformedResponse => "malformed_response",
            ErrorKind::Transport => "transport",
            ErrorKind::SignatureInvalid => "signature_invalid",
            ErrorKind::Config => "config",
            ErrorKind::Unknown => "unknown",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::TicketUnavailable => "ticket_unavailable",
            ErrorKind::NotAuthorized => "not_authorized",
        }
    }

    /// The kind with this stable name.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A platform error code: numeric for most dialects, a string for the
/// result-style API (`"permission_denied_force_log_off"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Code {
    /// `errcode`, `code`: a number.
    Num(i64),
    /// `errorCode`: a string.
    Str(String),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Num(n) => write!(f, "{n}"),
            Code::Str(s) => f.write_str(s),
        }
    }
}

/// How the host's HTTP layer failed. `Dns` and `Connect` prove the request
/// never left, which makes any call safe to resend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// The host name did not resolve.
    Dns,
    /// Name resolution took too long (the seed's "DNS timeout").
    DnsTimeout,
    /// The connection was refused or could not be made.
    Connect,
    /// The connection (TCP or TLS handshake) took too long to establish.
    ConnectTimeout,
    /// No answer within the request's timeout.
    Timeout,
    /// The connection was reset after the request may have been sent.
    Reset,
    /// The TLS handshake or session failed.
    Tls,
}

impl TransportErrorKind {
    /// The stable name (`"dns"`, `"connect"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportErrorKind::Dns => "dns",
            TransportErrorKind::DnsTimeout => "dns_timeout",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::ConnectTimeout => "connect_timeout",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Reset => "reset",
            TransportErrorKind::Tls => "tls",
        }
    }

    /// Parses a stable name; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "dns" => TransportErrorKind::Dns,
            "dns_timeout" => TransportErrorKind::DnsTimeout,
            "connect" => TransportErrorKind::Connect,
            "connect_timeout" => TransportErrorKind::ConnectTimeout,
            "timeout" => TransportErrorKind::Timeout,
            "reset" => TransportErrorKind::Reset,
            "tls" => TransportErrorKind::Tls,
            _ => return None,
        })
    }

    /// True when the request provably never reached the server.
    pub fn never_left(self) -> bool {
        matches!(
            self,
            TransportErrorKind::Dns
                | TransportErrorKind::DnsTimeout
                | TransportErrorKind::Connect
                | TransportErrorKind::ConnectTimeout
        )
    }

    /// True when the failure says something about the host's reachability
    /// (these count towards opening its circuit).
    pub fn counts_for_circuit(self) -> bool {
        !matches!(self, TransportErrorKind::Reset | TransportErrorKind::Tls)
    }
}

/// How a call failed. Carries what the platform said and what the engine
/// knows; never a secret or a token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable kind.
    pub kind: ErrorKind,
    /// The platform's code, when the platform gave one.
    pub code: Option<Code>,
    /// The platform's message, or the engine's explanation.
    pub message: String,
    /// Jing's sub-error text, when present.
    pub sub_message: Option<String>,
    /// The HTTP status of the answer, when there was one.
    pub http_status: Option<u16>,
    /// When to try again, for `rate_limited`, `quota_exhausted`, `ip_blocked`.
    pub retry_after_ms: Option<u64>,
    /// The app (its configured `id`).
    pub app: String,
    /// The call this error completes.
    pub call_id: u64,
    /// The raw response body (never kept for token-endpoint answers).
    pub raw_body: Option<Vec<u8>>,
}

impl ApiError {
    /// An error of `kind` (hosts use it for failures of their own, such as
    /// a call abandoned at shutdown).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            code: None,
            message: message.into(),
            sub_message: None,
            http_status: None,
            retry_after_ms: None,
            app: String::new(),
            call_id: 0,
            raw_body: None,
        }
    }
}

impl fmt::Debug for ApiError {
    // Manual so a large raw body prints as its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("sub_message", &self.sub_message)
            .field("http_status", &self.http_status)
            .field("retry_after_ms", &self.retry_after_ms)
            .field("app", &self.app)
            .field("call_id", &self.call_id)
            .field("raw_body_len", &self.raw_body.as_ref().map(Vec::len))
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(sub) = &self.sub_message {
            write!(f, " / {sub}")?;
        }
        write!(f, " [app {}, call {}]", self.app, self.call_id)
    }
}

impl std::error::Error for ApiError {}

/// A configuration (or restored state) the engine cannot run with. `field`
/// is the path of the offending value, e.g. `apps[1].token_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where: a JSON path into the configuration (or `state.…`).
    pub field: String,
    /// What is wrong and, where the public record is silent, why it is required.
    pub message: String,
}

impl ConfigError {
    /// An error naming `field` (hosts with settings of their own use it too).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config error at `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_match_serde() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(ErrorKind::from_name("nope"), None);
    }
}
