//! The audit trail of the entry points: every answer that is not a success, with its caller.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use export_core::Error;

/// Who made a request, as far as the function can know: for an API request every identity field
/// API Gateway vouches for (the signer's ARN and principal id, its account, and for a console user
/// the identity pool's identity and the user pool user behind it), for a direct invocation the
/// invocation's request id (CloudTrail's Invoke data event names the caller under that id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// What kind of caller this is: `api`, `lambda:Invoke` or a refused event's origin.
    pub path: &'static str,
    pub user_arn: Option<String>,
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    pub cognito_identity_id: Option<String>,
    pub cognito_identity_pool_id: Option<String>,
    /// `cognito-idp.<region>.amazonaws.com/<pool>,…:CognitoSignIn:<sub>`: the user pool user.
    pub cognito_authentication_provider: Option<String>,
    pub source_ip: Option<String>,
    /// The Lambda request id of a direct invocation.
    pub request_id: Option<String>,
}

impl Caller {
    /// The caller of an API request, from the identity API Gateway put in the event.
    pub fn of_api(request: &ApiGatewayProxyRequest) -> Self {
        let identity = &request.request_context.identity;
        let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Self {
            path: "api",
            user_arn: given(&identity.user_arn),
            principal_id: given(&identity.caller),
            account_id: given(&identity.account_id),
            cognito_identity_id: given(&identity.cognito_identity_id),
            cognito_identity_pool_id: given(&identity.cognito_identity_pool_id),
            cognito_authentication_provider: given(&identity.cognito_authentication_provider),
            source_ip: given(&identity.source_ip),
            request_id: given(&request.request_context.request_id),
        }
    }

    /// The caller of a function URL request (AuthType NONE): anyone; only the address is known.
    pub fn of_function_url(request: &LambdaFunctionUrlRequest) -> Self {
        Self {
            path: "function-url",
            source_ip: request.request_context.http.source_ip.clone().filter(|s| !s.is_empty()),
            request_id: request.request_context.request_id.clone().filter(|s| !s.is_empty()),
            ..Self::default()
        }
    }

    /// The caller of a direct invocation: Lambda does not tell the function who invoked it.
    pub fn direct(request_id: &str) -> Self {
        Self { path: "lambda:Invoke", request_id: Some(request_id.to_owned()), ..Self::default() }
    }

    /// The caller of an event of another trust path (nothing in it is vouched for).
    pub fn unknown(origin: &'static str) -> Self {
        Self { path: origin, ..Self::default() }
    }

    /// The one-line name of the caller, for the `principal` field: the signer's ARN, or what the
    /// trail to look in is.
    pub fn principal(&self) -> &str {
        match (&self.user_arn, self.path) {
            (Some(arn), _) => arn,
            (None, "api") => "unsigned",
            (None, "lambda:Invoke") => "lambda:Invoke (caller recorded by CloudTrail under request_id)",
            (None, "function-url") => "anyone holding a link (function URL, AuthType NONE)",
            (None, origin) => origin,
        }
    }
}

/// The audit trail of every answer that is not a success. A refusal (4xx, or a direct invocation's
/// function error) is logged at warn with the whole caller and the reason the caller was given; a
/// failure (5xx) at error with its detail, which the caller does not see. Acceptances and
/// hand-outs are logged by the rules themselves. Messages never hold a URL.
pub fn log_unsuccessful(function: &str, caller: &Caller, route: &str, error: &Error) {
    let status = error.http_status();
    let principal = caller.principal();
    let none = "-";
    let field = |v: &Option<String>| v.clone().unwrap_or_else(|| none.to_owned());
    let (principal_id, account, identity, pool, provider, source_ip, request_id) = (
        field(&caller.principal_id),
        field(&caller.account_id),
        field(&caller.cognito_identity_id),
        field(&caller.cognito_identity_pool_id),
        field(&caller.cognito_authentication_provider),
        field(&caller.source_ip),
        field(&caller.request_id),
    );
    if status >= 500
        || matches!(
            error,
            Error::Transient(_) | Error::Service { .. } | Error::Configuration(_) | Error::StatusConflict(_)
        )
    {
        tracing::error!(
            function, principal, principal_id, caller_account = account, cognito_identity_id = identity,
            cognito_identity_pool_id = pool, cognito_authentication_provider = provider, source_ip,
            request_id, route, code = error.code(), status, error = %error, "request failed"
        );
    } else {
        tracing::warn!(
            function, principal, principal_id, caller_account = account, cognito_identity_id = identity,
            cognito_identity_pool_id = pool, cognito_authentication_provider = provider, source_ip,
            request_id, route, code = error.code(), status, reason = %error, "request refused"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_caller_keeps_every_identity_field_and_a_direct_one_its_request_id() {
        let mut request = ApiGatewayProxyRequest::default();
        let identity = &mut request.request_context.identity;
        identity.user_arn =
            Some("arn:aws:sts::123456789012:assumed-role/ConsoleStartRole/CognitoIdentityCredentials".into());
        identity.caller = Some("AROAEXAMPLE:CognitoIdentityCredentials".into());
        identity.account_id = Some("123456789012".into());
        identity.cognito_identity_id = Some("eu-west-1:0d1f5a6e-0c1b-4d2e-9f3a-5b6c7d8e9f00".into());
        identity.cognito_authentication_provider =
            Some("cognito-idp…/eu-west-1_AbC:CognitoSignIn:7d1f".into());
        identity.source_ip = Some(String::new());
        let identity = identity.clone();
        let caller = Caller::of_api(&request);
        assert_eq!(caller.principal(), identity.user_arn.as_deref().unwrap());
        assert_eq!(caller.principal_id, identity.caller);
        assert_eq!(caller.account_id, identity.account_id);
        assert_eq!(caller.cognito_identity_id, identity.cognito_identity_id);
        assert_eq!(caller.cognito_authentication_provider, identity.cognito_authentication_provider);
        assert_eq!(caller.source_ip, None, "an empty field is no field");
        assert_eq!(Caller::of_api(&ApiGatewayProxyRequest::default()).principal(), "unsigned");
        let direct = Caller::direct("c6af9ac6-7b61-11e6-9a41-93e812345678");
        assert!(direct.principal().contains("CloudTrail"));
        assert_eq!(direct.request_id.as_deref(), Some("c6af9ac6-7b61-11e6-9a41-93e812345678"));
    }
}
