//! A thin client of the REST API (DESIGN §5). Against a deployed stack requests are signed with
//! SigV4 (`execute-api`) from the AWS credential chain; the local gateway (loopback) needs none.
//! The base URL must be `https` (plain `http` only on loopback); redirects are not followed.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use serde_json::Value;

use crate::CliError;

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    signing: Option<(aws_credential_types::provider::SharedCredentialsProvider, String)>,
    /// On the local gateway, the caller a self-service user's request names (X-Local-*).
    local_caller: Vec<(&'static str, String)>,
}

/// A reply: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl ApiClient {
    pub async fn new(base: &str) -> Result<Self, CliError> {
        let base = base.trim_end_matches('/').to_owned();
        let parsed = crate::safety::checked_url(&base, "API_URL").map_err(CliError::Usage)?;
        let local = parsed.scheme() == "http";
        let signing = if local {
            None
        } else {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let provider = sdk
                .credentials_provider()
                .ok_or_else(|| CliError::Usage("no AWS credentials to sign API requests with".into()))?;
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
            Some((provider, region))
        };
        let http = crate::safety::http_client(Duration::from_secs(60)).map_err(CliError::Http)?;
        Ok(Self { http, base, signing, local_caller: Vec::new() })
    }

    /// Calls as chat user `user` (DESIGN §15). On AWS the credential chain's principal must carry
    /// the `chatUserId` tag (the chat service's federation sets it) and the SelfServiceDataExport
    /// policy; nothing is added to the request. The local gateway, which has no federation, is
    /// told the same by its X-Local-* headers.
    pub fn as_user(mut self, user: &str) -> Self {
        if self.signing.is_none() {
            self.local_caller = vec![
                ("X-Local-Principal", format!("arn:aws:sts::000000000000:assumed-role/chat-user/{user}")),
                ("X-Local-Principal-Tags", format!("chatUserId={user}")),
                ("X-Local-Policies", "SelfServiceDataExport".to_owned()),
            ];
        }
        self
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, CliError> {
        let url = format!("{}{path}", self.base);
        let body_bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut request = self.http.request(method.clone(), &url).header("content-type", "application/json");
        for (name, value) in &self.local_caller {
            request = request.header(*name, value);
        }
        if let Some((provider, region)) = &self.signing {
            for (name, value) in sign(provider, region, method.as_str(), &url, &body_bytes).await? {
                request = request.header(name, value);
            }
        }
        let failed = |e: reqwest::Error| {
            CliError::Http(format!(
                "{method} {}: {}",
                crate::safety::redact(path),
                crate::safety::http_error(e)
            ))
        };
        let response = request.body(body_bytes).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(CliError::Http(format!(
                "{method} {}: redirected (HTTP {status}); redirects are not followed",
                crate::safety::redact(path)
            )));
        }
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.map_err(failed)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { status, body, retry_after })
    }
}

/// SigV4 headers for an `execute-api` request.
async fn sign(
    provider: &aws_credential_types::provider::SharedCredentialsProvider,
    region: &str,
    method: &str,
    url: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, CliError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let credentials =
        provider.provide_credentials().await.map_err(|e| CliError::Usage(format!("AWS credentials: {e}")))?;
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("execute-api")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| CliError::Usage(format!("signing: {e}")))?
        .into();
    let request = SignableRequest::new(
        method,
        url,
        std::iter::once(("content-type", "application/json")),
        SignableBody::Bytes(body),
    )
    .map_err(|e| CliError::Usage(format!("signing: {e}")))?;
    let (instructions, _) =
        sign(request, &params).map_err(|e| CliError::Usage(format!("signing: {e}")))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}
