//! One error type for the whole system. Each variant has a stable code: the API's `code` field and
//! HTTP status (DESIGN §5), and the `errorType` of a function error, which the state machine's Retry
//! and Catch match verbatim (DESIGN §6). Never rename a code.

use lambda_runtime::Diagnostic;

use crate::domain::time::Timestamp;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed JSON, a bad id, an unknown field or field value.
    #[error("{0}")]
    BadRequest(String),
    /// A request body over the limit (HTTP 413, code `BadRequestException`).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// No IAM principal on the request.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown account or export.
    #[error("{0}")]
    NotFound(String),
    /// An event that belongs to another trust path: an API-shaped or Scheduled-Event payload sent
    /// to a direct-invocation function, or anything but API Gateway's proxy event sent to an API
    /// function. Refused before anything is read or written (README "Who may do what").
    #[error("{0}")]
    WrongEntryPoint(String),
    /// The export's URLs have expired.
    #[error("{0}")]
    Gone(String),
    /// A Team account; the message carries the guidance of DESIGN §1.
    #[error("{0}")]
    Unprocessable(String),
    /// Inside the rolling 7-day window.
    #[error("{message}")]
    Throttled { message: String, next_allowed_at: Timestamp, retry_after_seconds: u64 },
    /// An export's status may not move this way (a retried or duplicate step); callers that expect
    /// it treat it as "already done".
    #[error("{0}")]
    StatusConflict(String),
    /// Worth retrying: throttling, timeouts, 5xx, an unreachable endpoint.
    #[error("{0}")]
    Transient(String),
    /// The deployment is misconfigured (environment, credentials); retrying will not help.
    #[error("{0}")]
    Configuration(String),
    /// Anything else. The detail is for the logs; callers see a generic message.
    #[error("{0}")]
    Internal(String),
    /// An AWS call failed. `detail` (the operation and the SDK's whole message) is for the logs;
    /// `source` is the SDK's error, its chain kept. Throttling, timeouts, 5xx and connection
    /// failures are `transient` (a `TransientError`, which the state machine retries); anything
    /// else is a service failure.
    #[error("{detail}")]
    Service {
        detail: String,
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Every code [`Error::code`] can return: the API's `code` values and the functions' `errorType`s
    /// (README "API", docs/DESIGN.md §5). A test keeps the two in step.
    pub const CODES: &'static [&'static str] = &[
        "BadRequestException",
        "ForbiddenException",
        "NotFoundException",
        "WrongEntryPointException",
        "GoneException",
        "UnprocessableEntityException",
        "ThrottledClientException",
        "StatusConflict",
        "TransientError",
        "ConfigurationError",
        "ServiceFailureException",
    ];

    /// The stable code: API `code` and Lambda `errorType`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) | Error::PayloadTooLarge(_) => "BadRequestException",
            Error::Forbidden(_) => "ForbiddenException",
            Error::NotFound(_) => "NotFoundException",
            Error::WrongEntryPoint(_) => "WrongEntryPointException",
            Error::Gone(_) => "GoneException",
            Error::Unprocessable(_) => "UnprocessableEntityException",
            Error::Throttled { .. } => "ThrottledClientException",
            Error::StatusConflict(_) => "StatusConflict",
            Error::Transient(_) | Error::Service { transient: true, .. } => "TransientError",
            Error::Configuration(_) => "ConfigurationError",
            Error::Internal(_) | Error::Service { transient: false, .. } => "ServiceFailureException",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Forbidden(_) | Error::WrongEntryPoint(_) => 403,
            Error::NotFound(_) => 404,
            Error::StatusConflict(_) => 409,
            Error::Gone(_) => 410,
            Error::PayloadTooLarge(_) => 413,
            Error::Unprocessable(_) => 422,
            Error::Throttled { .. } => 429,
            Error::Transient(_) | Error::Service { transient: true, .. } => 503,
            Error::Configuration(_) | Error::Internal(_) | Error::Service { transient: false, .. } => 500,
        }
    }

    /// What a caller may read. Internal details (SDK messages, table names) stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) | Error::Configuration(_) | Error::Service { transient: false, .. } => {
                "The service could not complete the request. Try again later; if it keeps failing, \
                 give your AWS operator the time of the request."
                    .to_owned()
            }
            Error::Transient(_) | Error::Service { transient: true, .. } => {
                "The service is busy or briefly unavailable. Try again in a few minutes.".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The error as the public API reports it: only the codes of DESIGN §5. Internal kinds
    /// (transient, configuration, status conflicts) become `ServiceFailureException`.
    pub fn into_api(self) -> Error {
        match self {
            Error::Transient(d) | Error::Configuration(d) | Error::StatusConflict(d) => Error::Internal(d),
            // The same code as Internal, the SDK's error still its source.
            Error::Service { detail, source, .. } => Error::Service { detail, transient: false, source },
            other => other,
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        // The state machine records errorType/errorMessage on the export; keep internals out of it.
        let message = match &e {
            Error::Configuration(detail) => detail.clone(),
            _ => e.public_message(),
        };
        Diagnostic { error_type: e.code().to_owned(), error_message: message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_api_contract() {
        let now = Timestamp::now();
        let cases: Vec<(Error, &str, u16)> = vec![
            (Error::BadRequest("x".into()), "BadRequestException", 400),
            (Error::PayloadTooLarge("x".into()), "BadRequestException", 413),
            (Error::Forbidden("x".into()), "ForbiddenException", 403),
            (Error::NotFound("x".into()), "NotFoundException", 404),
            (Error::WrongEntryPoint("x".into()), "WrongEntryPointException", 403),
            (Error::Gone("x".into()), "GoneException", 410),
            (Error::Unprocessable("x".into()), "UnprocessableEntityException", 422),
            (
                Error::Throttled { message: "x".into(), next_allowed_at: now, retry_after_seconds: 1 },
                "ThrottledClientException",
                429,
            ),
            (Error::Internal("x".into()), "ServiceFailureException", 500),
            (Error::Transient("x".into()), "TransientError", 503),
        ];
        let others = [Error::StatusConflict("x".into()), Error::Configuration("x".into())];
        for (err, code, status) in &cases {
            assert_eq!(err.code(), *code);
            assert_eq!(err.http_status(), *status);
        }
        // Every code is some variant's.
        let mut listed = Error::CODES.to_vec();
        listed.sort();
        listed.dedup();
        assert_eq!(listed.len(), Error::CODES.len(), "no code twice");
        let mut seen: Vec<&str> = cases.iter().map(|(e, _, _)| e.code()).collect();
        seen.extend(others.iter().map(Error::code));
        seen.sort();
        seen.dedup();
        assert_eq!(seen, listed, "Error::CODES lists exactly the codes there are");
    }

    #[test]
    fn the_api_only_ever_reports_documented_codes() {
        for internal in [
            Error::Transient("t".into()),
            Error::Configuration("c".into()),
            Error::StatusConflict("s".into()),
        ] {
            let api = internal.into_api();
            assert_eq!((api.code(), api.http_status()), ("ServiceFailureException", 500));
        }
        assert_eq!(Error::NotFound("n".into()).into_api().code(), "NotFoundException");
    }

    #[test]
    fn internal_details_never_reach_the_caller() {
        let err = Error::Internal("GetItem on table prod-ExportsTable-XYZ: AccessDenied".into());
        assert!(!err.public_message().contains("ExportsTable"));
        let diag: Diagnostic = err.into();
        assert_eq!(diag.error_type, "ServiceFailureException");
        assert!(!diag.error_message.contains("AccessDenied"));
    }

    #[test]
    fn transient_errors_keep_their_retryable_error_type() {
        let diag: Diagnostic = Error::Transient("Query: throttled".into()).into();
        assert_eq!(diag.error_type, "TransientError");
    }
}
