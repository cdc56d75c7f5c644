//! The audit trail of the entry points: every answer that is not a success, with its caller.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use export_core::Error;

/// The audit trail of every answer that is not a success. A refusal (4xx, or a direct invocation's
/// function error) is logged at warn with the caller and the reason the caller was given; a failure
/// (5xx) at error with its detail, which the caller does not see. Acceptances and hand-outs are
/// logged by the rules themselves. Messages never hold a URL.
pub fn log_unsuccessful(function: &str, principal: &str, route: &str, error: &Error) {
    let status = error.http_status();
    if status >= 500
        || matches!(
            error,
            Error::Transient(_) | Error::Service { .. } | Error::Configuration(_) | Error::StatusConflict(_)
        )
    {
        tracing::error!(function, principal, route, code = error.code(), status, error = %error, "request failed");
    } else {
        tracing::warn!(function, principal, route, code = error.code(), status, reason = %error, "request refused");
    }
}

/// Who signed an API request, for the log ("unsigned" when nobody did).
pub fn caller(request: &ApiGatewayProxyRequest) -> &str {
    request.request_context.identity.user_arn.as_deref().filter(|a| !a.is_empty()).unwrap_or("unsigned")
}
