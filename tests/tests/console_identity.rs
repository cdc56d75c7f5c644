//! The console's trust path on the local stack (issue 16): a user of the console's Cognito user
//! pool (moto) signs in, exchanges the ID token at the identity-pool stand-in for temporary
//! credentials of the role of one of their groups, tagged with their chatAccountId, and signs API
//! calls with them (SigV4). The local gateway verifies those signatures and evaluates the role's
//! managed policies from template.yaml: the same IAM rules as every other caller.
//!
//! Self-contained: signs in with USER_SRP_AUTH as the console does (the only password flow the
//! app client allows; `infra/local/tools/console_users.py sign-in`), talks to moto's cognito-idp and the
//! stand-in with plain JSON requests, signs with aws-sigv4, reads the stack's coordinates from
//! .local/stack.env.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use export_core::domain::ids::AccountId;
use export_core::domain::model::AccountType;
use integration_tests::{Stack, parse_env_file, repo_root, seed_account};
use reqwest::Method;
use serde_json::{Value, json};

const START_ROLE: &str = "arn:aws:iam::000000000000:role/ConsoleStartRole";
const RETRIEVE_ROLE: &str = "arn:aws:iam::000000000000:role/ConsoleRetrieveRole";
const SIGNATURE_MISMATCH: &str =
    "The request signature we calculated does not match the signature you provided.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
/// The chat service's role's key on the local stack (infra/local/lib/local_keys.py).
const CHAT_SERVICE_KEY: &str = "AKIALOCALCHATSVC0001";
const OPERATOR_KEY: &str = "AKIALOCALEXPORT00001";
const CHAT_USER_ROLE: &str = "arn:aws:iam::000000000000:role/ChatUserConsoleRole";

/// The console's coordinates: stack.env's USER_POOL_ID, … (written by `make up`).
struct Console {
    env: HashMap<String, String>,
    http: reqwest::Client,
}

/// Temporary credentials from GetCredentialsForIdentity.
#[derive(Clone)]
struct Creds {
    access_key: String,
    secret_key: String,
    session_token: String,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn allow_origin(&self) -> Option<&str> {
        self.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok())
    }

    fn message(&self) -> &str {
        self.body["message"].as_str().or(self.body["Message"].as_str()).unwrap_or("")
    }
}

impl Console {
    fn load() -> Self {
        let text =
            std::fs::read_to_string(repo_root().join(".local/stack.env")).expect("make up wrote stack.env");
        let env = parse_env_file(&text);
        for name in [
            "USER_POOL_ID",
            "USER_POOL_CLIENT_ID",
            "IDENTITY_POOL_ID",
            "COGNITO_IDP_ENDPOINT",
            "COGNITO_IDENTITY_ENDPOINT",
            "CONSOLE_URL",
            "API_URL",
            "CHAT_USER_IDENTITY_POOL_ID",
            "CHAT_USER_DEVELOPER_PROVIDER",
        ] {
            assert!(env.contains_key(name), "stack.env lacks {name}; run `make up` again");
        }
        Self { env, http: reqwest::Client::new() }
    }

    fn var(&self, name: &str) -> &str {
        &self.env[name]
    }

    fn provider(&self) -> String {
        format!("cognito-idp.us-east-1.amazonaws.com/{}", self.var("USER_POOL_ID"))
    }

    /// One call of an AWS JSON 1.1 protocol (moto's cognito-idp, the identity stand-in). moto
    /// does not check signatures, so the admin calls are sent unsigned.
    async fn json_call(&self, endpoint: &str, target: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{endpoint}/"))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target)
            .body(body.to_string())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn idp(&self, operation: &str, body: Value) -> Value {
        let target = format!("AWSCognitoIdentityProviderService.{operation}");
        let (status, reply) = self.json_call(self.var("COGNITO_IDP_ENDPOINT"), &target, body).await;
        assert_eq!(status, 200, "{operation}: {reply}");
        reply
    }

    async fn identity(&self, operation: &str, body: Value) -> (u16, Value) {
        let target = format!("AWSCognitoIdentityService.{operation}");
        self.json_call(self.var("COGNITO_IDENTITY_ENDPOINT"), &target, body).await
    }

    /// A user as an operator creates one: custom:chatAccountId, a name and an email address
    /// (`Jane <username>`, `<username>@example.com`), groups, a permanent password.
    async fn user(&self, account: &AccountId, groups: &[&str]) -> (String, String) {
        let pool = self.var("USER_POOL_ID");
        let username = format!("it-{}", uuid::Uuid::new_v4().simple());
        let password = format!("Aa1!{}", uuid::Uuid::new_v4().simple());
        self.idp(
            "AdminCreateUser",
            json!({"UserPoolId": pool, "Username": username, "MessageAction": "SUPPRESS",
                   "TemporaryPassword": password,
                   "UserAttributes": [{"Name": "custom:chatAccountId", "Value": account.as_str()},
                                      {"Name": "name", "Value": format!("Jane {username}")},
                                      {"Name": "email", "Value": format!("{username}@example.com")}]}),
        )
        .await;
        for group in groups {
            self.idp(
                "AdminAddUserToGroup",
                json!({"UserPoolId": pool, "Username": username, "GroupName": group}),
            )
            .await;
        }
        self.idp(
            "AdminSetUserPassword",
            json!({"UserPoolId": pool, "Username": username, "Password": password, "Permanent": true}),
        )
        .await;
        (username, password)
    }

    /// The ID token of a sign-in through `client_id`: USER_SRP_AUTH, as the console signs in
    /// (`console_users.py sign-in`, with the stack's environment).
    async fn sign_in(&self, username: &str, password: &str, client_id: &str) -> String {
        let output = std::process::Command::new(repo_root().join(".local/venv/bin/python"))
            .current_dir(repo_root())
            .arg("infra/local/tools/console_users.py")
            .args(["sign-in", "--username", username, "--password", password, "--client-id", client_id])
            .envs(&self.env)
            .output()
            .expect("the venv's python runs");
        assert!(output.status.success(), "sign-in: {}", String::from_utf8_lossy(&output.stderr));
        let tokens: Value = serde_json::from_slice(&output.stdout).expect("sign-in prints JSON");
        tokens["idToken"].as_str().expect("an ID token").to_owned()
    }

    /// The user's `sub` (AdminGetUser), the user pool's id of the user.
    async fn sub(&self, username: &str) -> String {
        let reply = self
            .idp("AdminGetUser", json!({"UserPoolId": self.var("USER_POOL_ID"), "Username": username}))
            .await;
        let attributes = reply["UserAttributes"].as_array().expect("the user's attributes");
        let sub = attributes.iter().find(|a| a["Name"] == "sub").expect("a sub");
        sub["Value"].as_str().unwrap().to_owned()
    }

    async fn id_token(&self, account: &AccountId, groups: &[&str]) -> String {
        let (username, password) = self.user(account, groups).await;
        self.sign_in(&username, &password, self.var("USER_POOL_CLIENT_ID")).await
    }

    /// GetId then GetCredentialsForIdentity, as the console does; Err((status, reply)) on a refusal.
    async fn credentials(&self, id_token: &str, custom_role: Option<&str>) -> Result<Creds, (u16, Value)> {
        let logins = json!({ self.provider(): id_token });
        let (status, reply) = self
            .identity("GetId", json!({"IdentityPoolId": self.var("IDENTITY_POOL_ID"), "Logins": logins}))
            .await;
        if status != 200 {
            return Err((status, reply));
        }
        let identity_id = reply["IdentityId"].as_str().unwrap().to_owned();
        assert!(identity_id.starts_with("us-east-1:"), "{identity_id}");
        self.exchange(&identity_id, logins, custom_role).await
    }

    /// GetCredentialsForIdentity for IDENTITY with LOGINS: an hour of a role's credentials.
    async fn exchange(
        &self,
        identity: &str,
        logins: Value,
        custom_role: Option<&str>,
    ) -> Result<Creds, (u16, Value)> {
        let mut request = json!({"IdentityId": identity, "Logins": logins});
        if let Some(role) = custom_role {
            request["CustomRoleArn"] = json!(role);
        }
        let (status, reply) = self.identity("GetCredentialsForIdentity", request).await;
        if status != 200 {
            return Err((status, reply));
        }
        let c = &reply["Credentials"];
        assert!(c["AccessKeyId"].as_str().unwrap().starts_with("ASIA"), "{}", c["AccessKeyId"]);
        let expires = c["Expiration"].as_f64().unwrap();
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!((3000.0..=3700.0).contains(&(expires - now)), "credentials last an hour: {expires}");
        Ok(Creds {
            access_key: c["AccessKeyId"].as_str().unwrap().to_owned(),
            secret_key: c["SecretKey"].as_str().unwrap().to_owned(),
            session_token: c["SessionToken"].as_str().unwrap().to_owned(),
        })
    }

    /// GetOpenIdTokenForDeveloperIdentity as the chat service calls it: SigV4-signed with `key`
    /// (cognito-identity, us-east-1), or unsigned.
    async fn developer_token(&self, key: Option<&str>, request: Value) -> (u16, Value) {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        let url = format!("{}/", self.var("COGNITO_IDENTITY_ENDPOINT"));
        let target = "AWSCognitoIdentityService.GetOpenIdTokenForDeveloperIdentity";
        let body = request.to_string();
        let mut http = self
            .http
            .post(&url)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target)
            .body(body.clone());
        if let Some(key) = key {
            let identity =
                Credentials::new(key, self.var("AWS_SECRET_ACCESS_KEY"), None, None, "chat-service").into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region("us-east-1")
                .name("cognito-identity")
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .unwrap()
                .into();
            let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
            let signable =
                SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
                    .unwrap();
            let (instructions, _) = sign(signable, &params).unwrap().into_parts();
            for (k, v) in instructions.headers() {
                http = http.header(k, v);
            }
        }
        let response = http.send().await.expect("the identity stand-in answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The chat service's request for USER: their login and the chatUserId tag.
    fn chat_login(&self, user: &str, seconds: u64) -> Value {
        json!({"IdentityPoolId": self.var("CHAT_USER_IDENTITY_POOL_ID"),
               "Logins": {self.var("CHAT_USER_DEVELOPER_PROVIDER"): user},
               "PrincipalTags": {"chatUserId": user},
               "TokenDuration": seconds})
    }

    /// (IdentityId, Token) the chat service gets for USER.
    async fn chat_token(&self, user: &str) -> (String, String) {
        let (status, reply) = self.developer_token(Some(CHAT_SERVICE_KEY), self.chat_login(user, 300)).await;
        assert_eq!(status, 200, "{reply}");
        (reply["IdentityId"].as_str().unwrap().to_owned(), reply["Token"].as_str().unwrap().to_owned())
    }

    /// GetCredentialsForIdentity with the chat service's token, as the console's My attachments does.
    async fn chat_credentials(
        &self,
        identity: &str,
        token: &str,
        custom_role: Option<&str>,
    ) -> Result<Creds, (u16, Value)> {
        self.exchange(identity, json!({"cognito-identity.amazonaws.com": token}), custom_role).await
    }

    /// SigV4 headers (execute-api, us-east-1) for a request, signed at `time`.
    fn sign(
        &self,
        creds: &Creds,
        method: &Method,
        url: &str,
        body: &[u8],
        time: SystemTime,
    ) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        let identity = Credentials::new(
            &creds.access_key,
            &creds.secret_key,
            Some(creds.session_token.clone()),
            None,
            "console-test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("execute-api")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            method.as_str(),
            url,
            std::iter::once(("content-type", "application/json")),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    async fn send(&self, method: Method, path: &str, body: &[u8], headers: Vec<(String, String)>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.var("API_URL")))
            .header("content-type", "application/json")
            .header("origin", self.var("CONSOLE_URL"))
            .body(body.to_vec());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let response = request.send().await.expect("the local gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    /// A request signed with `creds` now, from the console's origin.
    async fn api(&self, creds: &Creds, method: Method, path: &str, body: &[u8]) -> Reply {
        let url = format!("{}{path}", self.var("API_URL"));
        let headers = self.sign(creds, &method, &url, body, SystemTime::now());
        self.send(method, path, body, headers).await
    }
}

fn list(account: &AccountId) -> String {
    format!("/accounts/{}/data-exports", account.as_str())
}

fn denial(role: &str, method: &str, path: &str) -> String {
    format!(
        "User: arn:aws:sts::000000000000:assumed-role/{role}/CognitoIdentityCredentials is not authorized to \
         perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********0000:local/local/{method}{path}"
    )
}

#[tokio::test]
async fn a_console_administrator_reaches_its_own_account_only() {
    let (stack, console) = (Stack::load(), Console::load());
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let other = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let (username, password) = console.user(&mine, &["StartDataExport", "RetrieveDataExport"]).await;
    let token = console.sign_in(&username, &password, console.var("USER_POOL_CLIENT_ID")).await;
    let retrieve = console.credentials(&token, Some(RETRIEVE_ROLE)).await.expect("the retrieve role");
    // Without CustomRoleArn: the preferred role, that of the group of lowest Precedence (Start, 1).
    let start = console.credentials(&token, None).await.expect("the preferred role");

    let own = console.api(&retrieve, Method::GET, &list(&mine), b"").await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(own.body["exports"].is_array(), "{}", own.body);
    // The function's own reply allows the console's origin (CONSOLE_ORIGIN).
    assert_eq!(own.allow_origin(), Some(console.var("CONSOLE_URL")), "CORS on the function's reply");

    let foreign = console.api(&retrieve, Method::GET, &list(&other), b"").await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.message(), denial("ConsoleRetrieveRole", "GET", &list(&other)));
    assert_eq!(foreign.headers["x-amzn-errortype"], "AccessDeniedException");
    // API Gateway's own refusal carries the gateway responses' CORS header, so the console can read it.
    assert_eq!(foreign.allow_origin(), Some(console.var("CONSOLE_URL")));

    // The retrieve role may not start; the start role may not list.
    let posted = console.api(&retrieve, Method::POST, &list(&mine), b"{}").await;
    assert_eq!(posted.status, 403);
    assert_eq!(posted.message(), denial("ConsoleRetrieveRole", "POST", &list(&mine)));
    let listed = console.api(&start, Method::GET, &list(&mine), b"").await;
    assert_eq!(listed.status, 403);

    let foreign_start = console.api(&start, Method::POST, &list(&other), b"{}").await;
    assert_eq!(foreign_start.status, 403);
    assert_eq!(foreign_start.message(), denial("ConsoleStartRole", "POST", &list(&other)));
    let started = console.api(&start, Method::POST, &list(&mine), b"{}").await;
    assert_eq!(started.status, 202, "{}", started.body);
    // The function saw the role session (requestContext.identity.userArn) and the user pool's user
    // (the sub in cognitoAuthenticationProvider) as the requester.
    let export_id = started.body["exportId"].as_str().expect("an export id").to_owned();
    let view = console.api(&retrieve, Method::GET, &format!("{}/{export_id}", list(&mine)), b"").await;
    assert_eq!(view.status, 200, "{}", view.body);
    let sub = console.sub(&username).await;
    assert_eq!(
        view.body["requestedBy"]["principal"],
        format!(
            "arn:aws:sts::000000000000:assumed-role/ConsoleStartRole/CognitoIdentityCredentials (user pool user {sub})"
        )
    );
    // And named as a person, by the user pool, server-side (the browser sent no name).
    let person = &view.body["requestedBy"]["person"];
    assert_eq!(person["username"], username.as_str(), "{}", view.body);
    assert_eq!(person["name"], format!("Jane {username}"));
    assert_eq!(person["email"], format!("{username}@example.com"));

    // Its hand-outs are kept, each naming the person it went to: the operator's first, then hers.
    stack.wait_for_export(&mine, &export_id, std::time::Duration::from_secs(120)).await;
    let handed = console.api(&retrieve, Method::GET, &format!("{}/{export_id}", list(&mine)), b"").await;
    assert_eq!(handed.status, 200, "{}", handed.body);
    let handouts = handed.body["handouts"].as_array().expect("the hand-out history").clone();
    assert_eq!(handouts.len(), 2, "{}", handed.body);
    assert_eq!(handouts[0]["person"]["name"], format!("Jane {username}"));
    assert!(handouts[0]["principal"].as_str().unwrap().contains("ConsoleRetrieveRole"));
    assert!(handouts[1].get("person").is_none(), "the operator's hand-out names no console user");
}

#[tokio::test]
async fn the_console_client_refuses_password_sign_in() {
    let (stack, console) = (Stack::load(), Console::load());
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let (username, password) = console.user(&mine, &["RetrieveDataExport"]).await;
    // The right password, on a flow the template's app client does not allow (SRP and refresh only).
    let target = "AWSCognitoIdentityProviderService.InitiateAuth";
    let (status, refusal) = console
        .json_call(
            console.var("COGNITO_IDP_ENDPOINT"),
            target,
            json!({"ClientId": console.var("USER_POOL_CLIENT_ID"), "AuthFlow": "USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": username, "PASSWORD": password}}),
        )
        .await;
    assert_eq!(
        (status, refusal["__type"].as_str(), refusal["message"].as_str()),
        (400, Some("InvalidParameterException"), Some("USER_PASSWORD_AUTH flow not enabled for this client")),
        "{refusal}"
    );
    assert!(refusal.get("AuthenticationResult").is_none());
    // SRP, the console's flow, signs the same user in.
    let token = console.sign_in(&username, &password, console.var("USER_POOL_CLIENT_ID")).await;
    assert_eq!(token.split('.').count(), 3, "a JWT");
}

#[tokio::test]
async fn a_retrieve_only_user_gets_no_start_role() {
    let (stack, console) = (Stack::load(), Console::load());
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let token = console.id_token(&mine, &["RetrieveDataExport"]).await;
    let (status, refusal) =
        console.credentials(&token, Some(START_ROLE)).await.err().expect("the start role is not theirs");
    assert_eq!(status, 400);
    assert_eq!(refusal["__type"], "NotAuthorizedException", "{refusal}");
    assert!(refusal.get("Credentials").is_none());

    let creds = console.credentials(&token, None).await.expect("their one role");
    assert_eq!(console.api(&creds, Method::GET, &list(&mine), b"").await.status, 200);
    let posted = console.api(&creds, Method::POST, &list(&mine), b"{}").await;
    assert_eq!(posted.status, 403);
    assert_eq!(posted.message(), denial("ConsoleRetrieveRole", "POST", &list(&mine)));
}

#[tokio::test]
async fn a_user_in_no_group_gets_no_credentials() {
    let (stack, console) = (Stack::load(), Console::load());
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let token = console.id_token(&mine, &[]).await;
    let (status, refusal) = console.credentials(&token, None).await.err().expect("no role: Deny");
    assert_eq!(status, 400);
    assert_eq!(refusal["__type"], "NotAuthorizedException", "{refusal}");
}

#[tokio::test]
async fn signatures_are_verified_like_api_gateway() {
    let (stack, console) = (Stack::load(), Console::load());
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let token = console.id_token(&mine, &["RetrieveDataExport"]).await;
    let creds = console.credentials(&token, None).await.unwrap();
    let path = list(&mine);
    let url = format!("{}{path}", console.var("API_URL"));

    // A signature changed by one character.
    let mut headers = console.sign(&creds, &Method::GET, &url, b"", SystemTime::now());
    for (name, value) in &mut headers {
        if name.eq_ignore_ascii_case("authorization") {
            let last = value.pop().unwrap();
            value.push(if last == '0' { '1' } else { '0' });
        }
    }
    let tampered = console.send(Method::GET, &path, b"", headers).await;
    assert_eq!(tampered.status, 403);
    assert!(tampered.message().starts_with(SIGNATURE_MISMATCH), "{}", tampered.body);
    assert_eq!(tampered.headers["x-amzn-errortype"], "InvalidSignatureException");
    assert_eq!(tampered.allow_origin(), Some(console.var("CONSOLE_URL")));

    // A body other than the one signed.
    let headers = console.sign(&creds, &Method::POST, &url, b"{}", SystemTime::now());
    let swapped = console.send(Method::POST, &path, br#"{"format":"jsonl"}"#, headers).await;
    assert_eq!(swapped.status, 403);
    assert!(swapped.message().starts_with(SIGNATURE_MISMATCH), "{}", swapped.body);

    // Signed 20 minutes ago: outside API Gateway's 15 minutes.
    let stale = SystemTime::now() - Duration::from_secs(20 * 60);
    let headers = console.sign(&creds, &Method::GET, &url, b"", stale);
    let expired = console.send(Method::GET, &path, b"", headers).await;
    assert_eq!(expired.status, 403);
    assert!(expired.message().starts_with("Signature expired:"), "{}", expired.body);

    // A key the identity pool never issued, and the right key with another session token.
    let unknown = Creds { access_key: "ASIAUNKNOWN000000000".into(), ..creds.clone() };
    let reply = console.api(&unknown, Method::GET, &path, b"").await;
    assert_eq!((reply.status, reply.message()), (403, INVALID_TOKEN));
    assert_eq!(reply.headers["x-amzn-errortype"], "UnrecognizedClientException");
    let wrong_token = Creds { session_token: format!("{}x", creds.session_token), ..creds.clone() };
    let reply = console.api(&wrong_token, Method::GET, &path, b"").await;
    assert_eq!((reply.status, reply.message()), (403, INVALID_TOKEN));

    // The genuine request still passes.
    assert_eq!(console.api(&creds, Method::GET, &path, b"").await.status, 200);
}

#[tokio::test]
async fn forged_id_tokens_get_no_credentials() {
    let (stack, console) = (Stack::load(), Console::load());
    let mine = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let other = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let token = console.id_token(&mine, &["StartDataExport", "RetrieveDataExport"]).await;
    let theirs = console.id_token(&other, &["StartDataExport", "RetrieveDataExport"]).await;

    // The other user's claims under this user's signature: the signature does not verify.
    let (header_and_claims, _) = theirs.rsplit_once('.').unwrap();
    let (_, signature) = token.rsplit_once('.').unwrap();
    let spliced = format!("{header_and_claims}.{signature}");
    let (status, refusal) = console.credentials(&spliced, None).await.err().expect("a forged token");
    assert_eq!(status, 400);
    assert_eq!(refusal["__type"], "NotAuthorizedException", "{refusal}");
    assert!(refusal.get("Credentials").is_none() && refusal.get("IdentityId").is_none());

    // A genuine token of the same pool, but from an app client the identity pool does not name.
    let pool = console.var("USER_POOL_ID");
    let client = console
        .idp("CreateUserPoolClient", json!({"UserPoolId": pool, "ClientName": "console-identity-test-other"}))
        .await;
    let other_client = client["UserPoolClient"]["ClientId"].as_str().unwrap().to_owned();
    let (username, password) = console.user(&mine, &["StartDataExport"]).await;
    let wrong_audience = console.sign_in(&username, &password, &other_client).await;
    let (status, refusal) = console.credentials(&wrong_audience, None).await.err().expect("a wrong audience");
    assert_eq!(status, 400);
    assert_eq!(refusal["__type"], "NotAuthorizedException", "{refusal}");

    // Not a token at all, and a token under another provider's name.
    let (status, refusal) = console.credentials("not.a-token", None).await.err().unwrap();
    assert_eq!((status, refusal["__type"].as_str()), (400, Some("NotAuthorizedException")));
    let (status, refusal) = console
        .identity(
            "GetId",
            json!({"IdentityPoolId": console.var("IDENTITY_POOL_ID"),
                   "Logins": {"cognito-idp.us-east-1.amazonaws.com/us-east-1_other": token}}),
        )
        .await;
    assert_eq!((status, refusal["__type"].as_str()), (400, Some("NotAuthorizedException")));

    // Another user's identity id with this user's token.
    let logins = json!({ console.provider(): token });
    let (_, theirs_id) = console
        .identity("GetId", json!({"IdentityPoolId": console.var("IDENTITY_POOL_ID"), "Logins": {console.provider(): theirs}}))
        .await;
    let (status, refusal) = console
        .identity(
            "GetCredentialsForIdentity",
            json!({"IdentityId": theirs_id["IdentityId"], "Logins": logins}),
        )
        .await;
    assert_eq!((status, refusal["__type"].as_str()), (400, Some("NotAuthorizedException")));
}

#[tokio::test]
async fn preflight_answers_the_console_origin_only() {
    let console = Console::load();
    let account = AccountId::random();
    let origin = console.var("CONSOLE_URL");
    for (endpoint, path, method) in [
        (console.var("API_URL"), list(&account), "POST"),
        (console.var("API_URL"), format!("{}/01M88BR60R8FJ4FEAX353GFXHS", list(&account)), "GET"),
        (console.var("COGNITO_IDENTITY_ENDPOINT"), "/".to_owned(), "POST"),
    ] {
        for from in [origin, "https://attacker.example"] {
            let response = console
                .http
                .request(Method::OPTIONS, format!("{endpoint}{path}"))
                .header("origin", from)
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "authorization,content-type,x-amz-date,x-amz-security-token",
                )
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "preflight {endpoint}{path}: {}", response.status());
            let allowed =
                response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
            if from == origin {
                assert_eq!(allowed.as_deref(), Some(origin), "{endpoint}{path}");
                let methods = response.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
                assert!(methods.contains(method), "{methods}");
                let headers =
                    response.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
                assert!(
                    headers.contains("x-amz-security-token") && headers.contains("authorization"),
                    "{headers}"
                );
            } else {
                assert_ne!(allowed.as_deref(), Some(from), "{endpoint}{path} allows {from}");
            }
        }
    }
}

fn users_list(user: &str) -> String {
    format!("/users/{user}/data-exports")
}

/// My attachments' trust path: the chat service signs a chat user in (an OpenID token of
/// ChatUserIdentityPool, tagged chatUserId), the token buys credentials of ChatUserConsoleRole
/// only, and those reach the user's own /users routes and nothing else: not another user's, not
/// an account's.
#[tokio::test]
async fn a_chat_user_signed_in_by_the_chat_service_reaches_their_own_exports_only() {
    let (stack, console) = (Stack::load(), Console::load());
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    let (user, other) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let (identity, token) = console.chat_token(&user).await;
    assert!(identity.starts_with("us-east-1:"), "{identity}");
    // One identity per chat user, however often the chat service signs them in.
    assert_eq!(console.chat_token(&user).await.0, identity);
    assert_ne!(console.chat_token(&other).await.0, identity);

    let creds = console.chat_credentials(&identity, &token, None).await.expect("the chat user's credentials");
    let own = console.api(&creds, Method::GET, &users_list(&user), b"").await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["userId"], user.as_str(), "{}", own.body);

    for (method, path) in [
        (Method::GET, users_list(&other)),
        (Method::POST, users_list(&other)),
        (Method::GET, format!("{}/01JD0000000000000000000000", users_list(&other))),
        (Method::GET, list(&account)),
        (Method::POST, list(&account)),
    ] {
        let refused = console.api(&creds, method.clone(), &path, b"{}").await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.body);
        assert_eq!(refused.message(), denial("ChatUserConsoleRole", method.as_str(), &path));
    }
    // The token is the chat user's, and asks for nothing else: the console's roles are not its.
    let (status, reply) = console.chat_credentials(&identity, &token, Some(START_ROLE)).await.err().unwrap();
    assert_eq!((status, reply["__type"].as_str()), (400, Some("NotAuthorizedException")), "{reply}");
    assert!(console.chat_credentials(&identity, &token, Some(CHAT_USER_ROLE)).await.is_ok());
}

/// Who may NOT sign a chat user in: nobody without ChatServiceConsoleSignIn (the operator's key,
/// an unsigned or unknown caller), not on another pool, not for another provider; and what a
/// chat user cannot do with a token: change its tags, use it for another identity, use it late.
#[tokio::test]
async fn only_the_chat_service_signs_chat_users_in() {
    let console = Console::load();
    let user = uuid::Uuid::new_v4().to_string();
    let login = console.chat_login(&user, 300);

    let (status, reply) = console.developer_token(Some(OPERATOR_KEY), login.clone()).await;
    assert_eq!((status, reply["__type"].as_str()), (400, Some("AccessDeniedException")), "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("user/local-admin is not authorized"), "{reply}");
    let (status, reply) = console.developer_token(None, login.clone()).await;
    assert_eq!((status, reply["__type"].as_str()), (403, Some("MissingAuthenticationTokenException")));
    let (_, reply) = console.developer_token(Some("AKIAUNKNOWN000000000"), login.clone()).await;
    assert_eq!(reply["__type"].as_str(), Some("UnrecognizedClientException"), "{reply}");
    // The policy names the chat users' pool only: the console's pool is refused by IAM.
    let mut elsewhere = login.clone();
    elsewhere["IdentityPoolId"] = json!(console.var("IDENTITY_POOL_ID"));
    let (_, reply) = console.developer_token(Some(CHAT_SERVICE_KEY), elsewhere).await;
    assert_eq!(reply["__type"].as_str(), Some("AccessDeniedException"), "{reply}");
    let mut foreign_provider = login.clone();
    foreign_provider["Logins"] = json!({"accounts.google.com": user});
    let (_, reply) = console.developer_token(Some(CHAT_SERVICE_KEY), foreign_provider).await;
    assert_eq!(reply["__type"].as_str(), Some("NotAuthorizedException"), "{reply}");

    let (identity, token) = console.chat_token(&user).await;
    // The user re-tags their token: the signature no longer holds.
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["https://aws.amazon.com/tags"]["principal_tags"]["chatUserId"][0], user.as_str());
    claims["https://aws.amazon.com/tags"]["principal_tags"]["chatUserId"] =
        json!([uuid::Uuid::new_v4().to_string()]);
    let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
    let (_, reply) = console.chat_credentials(&identity, &forged, None).await.err().unwrap();
    assert_eq!(reply["__type"].as_str(), Some("NotAuthorizedException"), "{reply}");
    // Another user's identity with this token.
    let (theirs, _) = console.chat_token(&uuid::Uuid::new_v4().to_string()).await;
    let (_, reply) = console.chat_credentials(&theirs, &token, None).await.err().unwrap();
    assert_eq!(reply["__type"].as_str(), Some("NotAuthorizedException"), "{reply}");
    // An ID token of the console's user pool is no chat login, nor is a chat token a user pool login.
    let logins = json!({ console.provider(): token });
    let (status, _) = console
        .identity("GetId", json!({"IdentityPoolId": console.var("IDENTITY_POOL_ID"), "Logins": logins}))
        .await;
    assert_eq!(status, 400);
    // A token used after its TokenDuration.
    let (status, short) = console.developer_token(Some(CHAT_SERVICE_KEY), console.chat_login(&user, 1)).await;
    assert_eq!(status, 200, "{short}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, reply) = console
        .chat_credentials(short["IdentityId"].as_str().unwrap(), short["Token"].as_str().unwrap(), None)
        .await
        .err()
        .unwrap();
    assert_eq!(reply["__type"].as_str(), Some("NotAuthorizedException"), "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("expired"), "{reply}");
}
