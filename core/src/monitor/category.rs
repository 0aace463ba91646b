//! The seed's alert categories (004 §7.2), decided from what the host
//! reported: which phase of an exchange failed and how, or what came back.

use crate::error::TransportErrorKind;
use crate::platform::envelope::Verdict;

/// An alert category. The names are stable in every language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Category {
    DnsFailure,
    DnsTimeout,
    ConnectFailure,
    ConnectTimeout,
    RequestTimeout,
    ConnectionReset,
    TlsFailure,
    /// A non-JSON or truncated body where the API answers JSON, or HTTP 5xx.
    ResponseInvalid,
    /// A host's circuit opened: the client-side MarkFail.
    MarkFail,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::DnsFailure => "dns_failure",
            Category::DnsTimeout => "dns_timeout",
            Category::ConnectFailure => "connect_failure",
            Category::ConnectTimeout => "connect_timeout",
            Category::RequestTimeout => "request_timeout",
            Category::ConnectionReset => "connection_reset",
            Category::TlsFailure => "tls_failure",
            Category::ResponseInvalid => "response_invalid",
            Category::MarkFail => "mark_fail",
        }
    }

    /// The category of a transport failure the host reported.
    pub(crate) fn of_transport(kind: TransportErrorKind) -> Category {
        match kind {
            TransportErrorKind::Dns => Category::DnsFailure,
            TransportErrorKind::DnsTimeout => Category::DnsTimeout,
            TransportErrorKind::Connect => Category::ConnectFailure,
            TransportErrorKind::ConnectTimeout => Category::ConnectTimeout,
            TransportErrorKind::Timeout => Category::RequestTimeout,
            TransportErrorKind::Reset => Category::ConnectionReset,
            TransportErrorKind::Tls => Category::TlsFailure,
        }
    }

    /// The sample's error text for a transport failure.
    pub(crate) fn describe(self, timeout_ms: u64) -> String {
        match self {
            Category::DnsFailure => "the host name did not resolve".into(),
            Category::DnsTimeout => "name resolution timed out".into(),
            Category::ConnectFailure => "the connection was refused or unreachable".into(),
            Category::ConnectTimeout => "the connection could not be made in time".into(),
            Category::RequestTimeout => format!("no answer within {timeout_ms} ms"),
            Category::ConnectionReset => "the connection was reset".into(),
            Category::TlsFailure => "the TLS handshake or session failed".into(),
            Category::ResponseInvalid => "invalid response".into(),
            Category::MarkFail => "host blocked after repeated failures".into(),
        }
    }
}

/// How one upstream exchange ended (the `outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Ok,
    /// A well-formed answer carrying the platform's error code.
    ApiError,
    Failed(Category),
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ApiError => "api_error",
            Outcome::Failed(c) => c.as_str(),
        }
    }

    /// The envelope's verdict on an answer with this status.
    pub(crate) fn of_verdict(verdict: &Verdict, status: u16) -> Outcome {
        match verdict {
            _ if status >= 500 => Outcome::Failed(Category::ResponseInvalid),
            Verdict::Success { .. } => Outcome::Ok,
            Verdict::Failure { .. } => Outcome::ApiError,
            Verdict::Malformed { .. } => Outcome::Failed(Category::ResponseInvalid),
        }
    }

    /// An answer no envelope read (a token server's own refusal, a reply
    /// that failed API security): judged by its status alone.
    pub(crate) fn from_status(status: u16) -> Outcome {
        match status {
            500.. => Outcome::Failed(Category::ResponseInvalid),
            200..=299 => Outcome::Ok,
            _ => Outcome::ApiError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transport_kind_has_its_own_category() {
        let kinds = [
            "dns",
            "dns_timeout",
            "connect",
            "connect_timeout",
            "timeout",
            "reset",
            "tls",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for k in kinds {
            let c = Category::of_transport(TransportErrorKind::from_name(k).unwrap());
            assert!(seen.insert(c), "{k} shares a category");
        }
        assert_eq!(
            Category::of_transport(TransportErrorKind::Timeout).as_str(),
            "request_timeout"
        );
    }

    #[test]
    fn server_errors_are_invalid_responses_whatever_the_body() {
        let ok = Verdict::Success { json: true };
        assert_eq!(Outcome::of_verdict(&ok, 200), Outcome::Ok);
        assert_eq!(
            Outcome::of_verdict(&ok, 502),
            Outcome::Failed(Category::ResponseInvalid)
        );
        assert_eq!(Outcome::from_status(404), Outcome::ApiError);
        assert_eq!(Outcome::from_status(503).as_str(), "response_invalid");
    }
}
