//! The two request-reply trust paths, once for every function that serves them: a function says
//! how it answers ([`ApiFunction`], [`DirectFunction`]); [`api_handler`] and [`direct_handler`] do
//! the rest — refuse the other path's events, log every answer that is not a success, keep the
//! public codes (DESIGN §5), and put the console's CORS headers on API replies.

use std::future::Future;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use export_core::Error;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::api::HttpReply;
use crate::{
    Caller, Cors, api_event, function_url_event, log_unsuccessful, to_function_url_response,
    to_proxy_response, to_value,
};

/// A function behind the REST API (API Gateway's proxy events only).
pub trait ApiFunction: Sync {
    /// The function's name, for refusals and the log.
    const NAME: &'static str;

    /// The console's origin, the one the replies allow (CONSOLE_ORIGIN).
    fn cors(&self) -> &Cors;

    /// The reply to one request; an error becomes `{code, message}` with its status.
    fn answer(
        &self,
        request: &ApiGatewayProxyRequest,
    ) -> impl Future<Output = Result<HttpReply, Error>> + Send;
}

/// A function for operators' direct invocations (`aws lambda invoke`).
pub trait DirectFunction: Sync {
    const NAME: &'static str;

    /// The reply to one payload. Lambda does not tell the function who invoked it: CloudTrail does.
    fn invoke(&self, payload: Value) -> impl Future<Output = Result<Value, Error>> + Send;
}

/// A function behind its own function URL (AuthType NONE): the download links.
pub trait UrlFunction: Sync {
    const NAME: &'static str;

    /// The route template logged for a request, never its raw path (a link's path is its token).
    const ROUTE: &'static str;

    /// The reply to one request; an error becomes `{code, message}` with its status.
    fn answer(
        &self,
        request: &LambdaFunctionUrlRequest,
    ) -> impl Future<Output = Result<HttpReply, Error>> + Send;
}

/// Serves a [`UrlFunction`]: anything but a function URL request is refused
/// (`WrongEntryPointException`, a function error); every reply is a function URL response, and
/// refusals are logged by route template and address only.
pub async fn url_handler<F: UrlFunction>(function: &F, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request = function_url_event(F::NAME, event.payload)?;
    let reply = function.answer(&request).await.unwrap_or_else(|e| {
        let method = request.request_context.http.method.as_deref().unwrap_or("?");
        log_unsuccessful(F::NAME, &Caller::of_function_url(&request), &format!("{method} {}", F::ROUTE), &e);
        HttpReply::error(e)
    });
    to_value(&to_function_url_response(reply))
}

/// Serves an [`ApiFunction`]: anything but a proxy event is refused (`WrongEntryPointException`,
/// a function error); every reply is a proxy response.
pub async fn api_handler<F: ApiFunction>(function: &F, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request = api_event(F::NAME, event.payload)?;
    let reply = function.answer(&request).await.unwrap_or_else(|e| {
        let route = format!("{} {}", request.http_method, request.path.as_deref().unwrap_or("?"));
        log_unsuccessful(F::NAME, &Caller::of_api(&request), &route, &e);
        HttpReply::error(e)
    });
    to_value(&to_proxy_response(function.cors().apply(&request, reply)))
}

/// Serves a [`DirectFunction`]: only the API's documented codes leave it (internal kinds become
/// `ServiceFailureException`), and an error is logged against the CloudTrail-recorded caller.
pub async fn direct_handler<F: DirectFunction>(
    function: &F,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let caller = Caller::direct(&event.context.request_id);
    function
        .invoke(event.payload)
        .await
        .map_err(Error::into_api)
        .inspect_err(|e| log_unsuccessful(F::NAME, &caller, "lambda:Invoke", e))
}
