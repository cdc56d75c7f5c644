//! Shared helpers for the tests that run against the local AWS stack (`make up`).
//!
//! The stack's coordinates come from the environment when `make test` has sourced
//! `.local/stack.env`, or else from that file directly, so `cargo nextest run` works in any shell
//! after `make up`. A stack that is not running fails the tests loudly; nothing is skipped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_credential_types::Credentials;
use export_core::aws::dynamo::{self, Item};
use export_core::domain::ids::{AccountId, AttachmentId, ConversationId, MessageId, RoomId, UserId};
use export_core::domain::model::{Account, AccountType, Attachment, ConversationType, Room, User};
use export_core::{Config, Timestamp};

/// The variables `make up` writes to `.local/stack.env` (DESIGN §11). The names are a contract.
pub const STACK_VARIABLES: [&str; 21] = [
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SFN",
    "AWS_ENDPOINT_URL_EVENTS",
    "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ENDPOINT_URL_KMS",
    "API_URL",
    "ACCOUNTS_TABLE",
    "ATTACHMENTS_TABLE",
    "EXPORTS_TABLE",
    "ATTACHMENT_BUCKET",
    "EXPORT_BUCKET",
    "STATE_MACHINE_ARN",
    "STATEMENT_KEY_ID",
    "S3_FORCE_PATH_STYLE",
    "DOWNLOAD_BASE_URL",
    "ASSISTANT_REPLY_BUS",
    "LINK_KEY_IDS",
];

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repo").to_owned()
}

/// The local stack's coordinates.
#[derive(Debug, Clone)]
pub struct Stack {
    vars: HashMap<String, String>,
}

impl Stack {
    pub fn load() -> Self {
        let from_env: HashMap<String, String> = STACK_VARIABLES
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        let vars = if from_env.len() == STACK_VARIABLES.len() {
            from_env
        } else {
            let path = repo_root().join(".local/stack.env");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("the local stack is not up ({} unreadable: {e}); run `make up`", path.display())
            });
            parse_env_file(&text)
        };
        for k in STACK_VARIABLES {
            assert!(vars.contains_key(k), "stack.env lacks {k}; run `make up` again");
        }
        Self { vars }
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars.get(name).unwrap_or_else(|| panic!("{name} is not a stack variable"))
    }

    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// The SDK configuration a function gets on the local stack: static keys, local endpoints.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        let credentials = Credentials::new(
            self.var("AWS_ACCESS_KEY_ID"),
            self.var("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "local-stack",
        );
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new(self.var("AWS_REGION").to_owned()))
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .behavior_version(aws_config::BehaviorVersion::latest())
            // Standard retries, as the functions' own clients have (`aws_config::load_defaults`): a
            // pooled connection the local S3 server closed while a request was being sent
            // (hyper's IncompleteMessage) is retried, not a failed test.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
            .build()
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.sdk_config())
            .endpoint_url(self.var("AWS_ENDPOINT_URL_DYNAMODB"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    /// Lets the account ask again at once, the tests' stand-in for a week passing: deletes its
    /// THROTTLE item (a local-stack shortcut; nothing in the product does this).
    pub async fn open_window(&self, account: &export_core::domain::ids::AccountId) {
        self.dynamodb()
            .delete_item()
            .table_name(self.var("EXPORTS_TABLE"))
            .key("accountId", aws_sdk_dynamodb::types::AttributeValue::S(account.to_string()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("THROTTLE".into()))
            .send()
            .await
            .expect("delete the account's THROTTLE item");
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config())
            .endpoint_url(self.var("AWS_ENDPOINT_URL_S3"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        let conf = aws_sdk_sfn::config::Builder::from(&self.sdk_config())
            .endpoint_url(self.var("AWS_ENDPOINT_URL_SFN"))
            .build();
        aws_sdk_sfn::Client::from_conf(conf)
    }

    /// moto's KMS, where the statement key lives.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(&self.sdk_config())
            .endpoint_url(self.var("AWS_ENDPOINT_URL_KMS"))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// The ARN of the export's own execution (named by its export id).
    pub fn export_execution_arn(&self, export_id: &str) -> String {
        self.var("STATE_MACHINE_ARN").replace(":stateMachine:", ":execution:") + ":" + export_id
    }

    /// An execution's whole history, oldest first: its event types, and the states it entered.
    pub async fn execution_history(&self, execution_arn: &str) -> (Vec<String>, Vec<String>) {
        let (mut types, mut entered, mut token) = (Vec::new(), Vec::new(), None);
        loop {
            let page = self
                .sfn()
                .get_execution_history()
                .execution_arn(execution_arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .expect("GetExecutionHistory");
            for event in page.events() {
                types.push(event.r#type().as_str().to_owned());
                if let Some(state) = event.state_entered_event_details() {
                    entered.push(state.name().to_owned());
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return (types, entered);
            }
        }
    }

    /// The functions' typed configuration on this stack.
    pub fn config(&self) -> Config {
        Config::from_lookup(|k| self.vars.get(k).cloned()).expect("the stack's variables make a valid config")
    }

    pub fn directory(&self) -> export_core::aws::DynamoDirectory {
        export_core::aws::DynamoDirectory::new(self.dynamodb(), self.var("ACCOUNTS_TABLE"))
    }

    pub fn catalog(&self) -> export_core::aws::DynamoCatalog {
        export_core::aws::DynamoCatalog::new(
            self.dynamodb(),
            self.var("ACCOUNTS_TABLE"),
            self.var("ATTACHMENTS_TABLE"),
        )
    }

    pub fn export_store(&self) -> export_core::aws::DynamoExportStore {
        export_core::aws::DynamoExportStore::new(self.dynamodb(), self.var("EXPORTS_TABLE"))
    }

    pub fn export_objects(&self) -> export_core::aws::S3ObjectStore {
        export_core::aws::S3ObjectStore::new(self.s3(), self.var("EXPORT_BUCKET"))
    }
}

/// `export NAME=value` / `NAME=value` lines; values may be single- or double-quoted.
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches(|c| c == '\'' || c == '"').to_owned()))
        .collect()
}

/// Writes items 25 at a time (BatchWriteItem's limit), retrying what DynamoDB hands back.
pub async fn batch_put(client: &aws_sdk_dynamodb::Client, table: &str, items: Vec<Item>) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    for chunk in items.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item.clone())).build().unwrap())
                    .build()
            })
            .collect();
        for attempt in 0.. {
            assert!(attempt < 20, "BatchWriteItem kept returning unprocessed items");
            let out = client
                .batch_write_item()
                .request_items(table, requests.clone())
                .send()
                .await
                .expect("BatchWriteItem");
            requests = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
            if requests.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
        }
    }
}

/// A small directory for one account: its record, users (managed or not) and rooms.
#[derive(Debug, Clone)]
pub struct SeededAccount {
    pub id: AccountId,
    pub managed_user: UserId,
    pub unmanaged_user: UserId,
    pub managed_room: RoomId,
    pub unmanaged_room: RoomId,
}

impl SeededAccount {
    /// The account as the owner of its exports (ExportsTable's key).
    pub fn owner(&self) -> export_core::domain::owner::ExportOwner {
        self.id.clone().into()
    }
}

pub async fn seed_account(stack: &Stack, account_type: AccountType, scheduled: bool) -> SeededAccount {
    let client = stack.dynamodb();
    let table = stack.var("ACCOUNTS_TABLE");
    let id = AccountId::random();
    let managed_user = UserId::random();
    let unmanaged_user = UserId::random();
    let managed_room = RoomId::random();
    let unmanaged_room = RoomId::random();
    let account = Account {
        account_id: None,
        account_type,
        name: "Example Corp".into(),
        domains: vec!["example.com".into()],
        scheduled_exports: scheduled,
        scheduled_exports_incremental: false,
    };
    let user = |email: &str, managed| User {
        user_id: None,
        email: email.into(),
        display_name: email.split('@').next().unwrap().into(),
        managed,
    };
    let items = vec![
        dynamo::items::account(&id, &account).unwrap(),
        dynamo::items::user(&id, &managed_user, &user("ada@example.com", true)).unwrap(),
        dynamo::items::user(&id, &unmanaged_user, &user("bob@elsewhere.org", false)).unwrap(),
        dynamo::items::room(
            &id,
            &managed_room,
            &Room { room_id: None, name: "Ops".into(), created_by: managed_user.clone() },
        )
        .unwrap(),
        dynamo::items::room(
            &id,
            &unmanaged_room,
            &Room { room_id: None, name: "Guests".into(), created_by: unmanaged_user.clone() },
        )
        .unwrap(),
    ];
    batch_put(&client, table, items).await;
    SeededAccount { id, managed_user, unmanaged_user, managed_room, unmanaged_room }
}

/// A catalog entry (the object itself is not uploaded).
pub fn attachment(
    account: &AccountId,
    uploader: &UserId,
    kind: ConversationType,
    uploaded_at: Timestamp,
) -> Attachment {
    let id = AttachmentId::random();
    Attachment {
        account_id: account.clone(),
        attachment_id: id.clone(),
        message_id: MessageId::random(),
        conversation_id: ConversationId::random(),
        conversation_type: kind,
        uploader_id: uploader.clone(),
        file_name: format!("{id}.txt"),
        content_type: "text/plain".into(),
        size_bytes: 0,
        sha256: String::new(),
        bucket: "attachments-local".into(),
        object_key: format!("{account}/{id}"),
        uploaded_at,
        deleted: false,
    }
}

/// A reply of the local API gateway.
#[derive(Debug)]
pub struct ApiReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl ApiReply {
    /// Sends `request` with `body` as JSON, and reads the reply (a JSON body, else its text).
    async fn send(mut request: reqwest::RequestBuilder, body: Option<String>) -> Self {
        if let Some(b) = body {
            request = request.header("content-type", "application/json").body(b);
        }
        let response = request.send().await.expect("the local gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        ApiReply { status, headers, body }
    }
}

impl Stack {
    /// A request to the local API gateway. `principal`: `None` for the default local principal,
    /// `Some("none")` for an unsigned request.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        principal: Option<&str>,
    ) -> ApiReply {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.var("API_URL")));
        if let Some(p) = principal {
            request = request.header("X-Local-Principal", p);
        }
        ApiReply::send(request, body).await
    }

    /// Invokes a function through the Lambda Invoke API by its ARN, as the AWS CLI does, signed
    /// with the stack's key (the invoke proxy's operator: DataExportOperator). Returns the function
    /// error type (header `X-Amz-Function-Error` + `errorType`), Lambda's refusal (HTTP 403:
    /// `x-amzn-ErrorType`, e.g. AccessDeniedException, + `Message`), or the reply.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, (String, String)> {
        let key = self.var("AWS_ACCESS_KEY_ID").to_owned();
        self.invoke_signed(function, &key, payload).await
    }
}

/// The access key id moto's Step Functions interpreter signs its Lambda calls with
/// (`boto_client_for` in moto's stepfunctions parser); the invoke proxy takes it for
/// ExportStateMachineRole.
pub const STATE_MACHINE_ACCESS_KEY: &str = "ak";

/// The access key id the invoke proxy takes for the chat service's role (ChatServiceAssistant).
pub const CHAT_SERVICE_ACCESS_KEY: &str = "AKIALOCALCHATSVC0001";

impl Stack {
    /// Invokes a function signed with `access_key` (SigV4's `Credential=`; the local stack does not
    /// check signatures, the key id names the caller). Same results as `invoke`.
    pub async fn invoke_signed(
        &self,
        function: &str,
        access_key: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, (String, String)> {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"
        );
        self.invoke_with(function, &[("Authorization", authorization)], payload).await
    }

    /// Invokes a function as the chat service does (its role holds ChatServiceAssistant): the
    /// invoke proxy takes the key `AKIALOCALCHATSVC0001` for that role.
    pub async fn invoke_as_chat_service(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, (String, String)> {
        self.invoke_signed(function, CHAT_SERVICE_ACCESS_KEY, payload).await
    }

    /// Invokes a function as the state machine does (ExportStateMachineRole).
    pub async fn invoke_as_state_machine(
        &self,
        function: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, (String, String)> {
        self.invoke_signed(function, STATE_MACHINE_ACCESS_KEY, payload).await
    }

    /// Invokes a function as an AWS service principal (`apigateway.amazonaws.com`,
    /// `events.amazonaws.com`) from `source_arn`, as the function's Lambda permissions see it.
    pub async fn invoke_as_service(
        &self,
        function: &str,
        service: &str,
        source_arn: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, (String, String)> {
        let headers =
            [("X-Local-Source-Service", service.to_owned()), ("X-Local-Source-Arn", source_arn.to_owned())];
        self.invoke_with(function, &headers, payload).await
    }

    async fn invoke_with(
        &self,
        function: &str,
        headers: &[(&str, String)],
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, (String, String)> {
        let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{function}");
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.var("AWS_ENDPOINT_URL_LAMBDA"),
            arn.replace(':', "%3A")
        );
        let mut request = reqwest::Client::new().post(url).json(payload);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("the invoke proxy answers");
        let status = response.status().as_u16();
        if status == 403 {
            let error_type = response
                .headers()
                .get("x-amzn-ErrorType")
                .and_then(|v| v.to_str().ok())
                .expect("Lambda names the error of a 403 in x-amzn-ErrorType")
                .to_owned();
            let body: serde_json::Value = response.json().await.unwrap();
            let message =
                body["Message"].as_str().or_else(|| body["message"].as_str()).unwrap_or("").to_owned();
            return Err((error_type, message));
        }
        assert_eq!(status, 200, "Lambda answers 200 for function results and function errors alike");
        let function_error = response.headers().get("X-Amz-Function-Error").is_some();
        let body: serde_json::Value = response.json().await.unwrap();
        if function_error {
            Err((
                body["errorType"].as_str().unwrap().to_owned(),
                body["errorMessage"].as_str().unwrap_or("").to_owned(),
            ))
        } else {
            Ok(body)
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Stack {
    /// Stores attachments in the catalog and, for those with `with_objects`, uploads their bytes
    /// (the body is derived from the id, so every file differs) and records size and SHA-256.
    pub async fn add_attachments(&self, attachments: &mut [Attachment], with_objects: bool) {
        if with_objects {
            let s3 = self.s3();
            let bucket = self.var("ATTACHMENT_BUCKET");
            let uploads = attachments.iter_mut().map(|a| {
                let body =
                    format!("contents of {} / {}\n", a.attachment_id, a.file_name).repeat(3).into_bytes();
                a.size_bytes = body.len() as u64;
                a.sha256 = sha256_hex(&body);
                a.bucket = bucket.to_owned();
                let request = s3.put_object().bucket(bucket).key(&a.object_key).body(body.into());
                async move { request.send().await.expect("upload an attachment") }
            });
            futures::future::join_all(uploads).await;
        }
        let items: Vec<Item> = attachments.iter().map(|a| dynamo::items::attachment(a).unwrap()).collect();
        let client = self.dynamodb();
        let table = self.var("ATTACHMENTS_TABLE").to_owned();
        // Eight writers at a time: seeding tens of thousands of items stays quick.
        let chunks: Vec<Vec<Item>> = items.chunks(2500).map(<[Item]>::to_vec).collect();
        futures::future::join_all(chunks.into_iter().map(|chunk| {
            let client = client.clone();
            let table = table.clone();
            async move { batch_put(&client, &table, chunk).await }
        }))
        .await;
    }

    /// StartDataExport through the API with `body`, as the local administrator: the export id.
    pub async fn request_export(&self, account: &AccountId, body: &str) -> String {
        let path = format!("/accounts/{account}/data-exports");
        let reply = self.api(reqwest::Method::POST, &path, Some(body.into()), None).await;
        assert_eq!(reply.status, 202, "{:?}", reply.body);
        reply.body["exportId"].as_str().unwrap().to_owned()
    }

    /// Polls RetrieveDataExport until the export has ended (SUCCEEDED, SUCCEEDED_WITH_ERRORS or
    /// FAILED), or the time is up.
    pub async fn wait_for_export(
        &self,
        account: &AccountId,
        export_id: &str,
        timeout: Duration,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let reply = self
                .api(
                    reqwest::Method::GET,
                    &format!("/accounts/{account}/data-exports/{export_id}"),
                    None,
                    None,
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            let status = reply.body["status"].as_str().unwrap_or_default().to_owned();
            if matches!(status.as_str(), "SUCCEEDED" | "SUCCEEDED_WITH_ERRORS" | "FAILED") {
                return reply.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "export {export_id} still {status} after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Makes the next `times` invocations of `function` for `account` (and with `mode`, if given)
    /// fail with `error_type`, as Step Functions would see a failing function.
    pub async fn inject_fault(
        &self,
        function: &str,
        account: &AccountId,
        mode: Option<&str>,
        error_type: &str,
        times: u32,
    ) {
        let mut matching = serde_json::json!({"job.accountId": account.as_str()});
        if let Some(m) = mode {
            matching["mode"] = serde_json::json!(m);
        }
        let fault = serde_json::json!({"function": function, "match": matching, "errorType": error_type, "times": times});
        self.add_fault(&fault).await;
    }

    /// Registers a fault with the invoke proxy; returns its id.
    async fn add_fault(&self, fault: &serde_json::Value) -> u64 {
        let response = reqwest::Client::new()
            .post(format!("{}/__faults", self.var("AWS_ENDPOINT_URL_LAMBDA")))
            .json(fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<serde_json::Value>().await.unwrap()["id"].as_u64().unwrap()
    }

    /// Holds the next invocation of `function` (in `mode`, for write-manifest) for `account` at the
    /// invoke proxy, before it reaches the function, until `Held::release`.
    pub async fn hold(&self, function: &str, account: &AccountId, mode: Option<&str>) -> Held {
        let mut matching = serde_json::json!({"job.accountId": account.as_str()});
        if let Some(m) = mode {
            matching["mode"] = serde_json::json!(m);
        }
        let fault = serde_json::json!({"function": function, "match": matching, "hold": true, "times": 1});
        let id = self.add_fault(&fault).await;
        Held { url: format!("{}/__faults/{id}", self.var("AWS_ENDPOINT_URL_LAMBDA")) }
    }
}

/// An invocation held at the invoke proxy.
pub struct Held {
    url: String,
}

impl Held {
    /// Waits until the held invocation has arrived (the step is in flight).
    pub async fn arrived(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let state: serde_json::Value = reqwest::get(&self.url).await.unwrap().json().await.unwrap();
            if state["held"].as_u64() == Some(1) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the held step never arrived: {state}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lets the held invocation through to the function.
    pub async fn release(&self) {
        let response = reqwest::Client::new().post(format!("{}/release", self.url)).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
}

/// One server of the local stack, by the name `up.sh` gives it (`s3`, `dynamodb`, …).
pub struct Server(pub &'static str);

impl Server {
    fn pid(&self) -> String {
        let path = repo_root().join(format!(".local/pids/{}.pid", self.0));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_owned()
    }

    fn signal(&self, signal: &str) {
        // The negative PID is the server's process group: up.sh starts each in its own session.
        let status = std::process::Command::new("kill")
            .args([signal, "--", &format!("-{}", self.pid())])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.0);
    }

    /// Freezes the server: connections are accepted by the kernel but never answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Stops the server and starts it again on the same port and data (`up.sh --restart`).
    pub fn stop(&self) {
        self.signal("-TERM");
        let pid: i32 = self.pid().parse().unwrap();
        for _ in 0..100 {
            let alive = std::process::Command::new("kill")
                .args(["-0", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            if !alive {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not stop", self.0);
    }

    /// Starts a stopped server again, and waits until it answers.
    pub fn start(&self) {
        let status = std::process::Command::new(repo_root().join("infra/local/up.sh"))
            .args(["--restart", self.0])
            .status()
            .unwrap();
        assert!(status.success(), "up.sh --restart {}", self.0);
    }
}

/// The manifest, downloaded through the link RetrieveDataExport hands out, checked against its SHA-256.
pub async fn download_manifest(view: &serde_json::Value) -> Vec<u8> {
    let link = view["manifest"]["url"].as_str().expect("a SUCCEEDED export hands out a manifest link");
    let response = reqwest::get(link).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap().to_vec();
    assert_eq!(sha256_hex(&bytes), view["manifest"]["sha256"].as_str().unwrap());
    assert_eq!(bytes.len() as u64, view["manifest"]["bytes"].as_u64().unwrap());
    bytes
}

pub fn rows(manifest: &[u8]) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(manifest).records().map(|r| r.unwrap()).collect()
}

/// The same pre-signed URL with one character of its signature changed.
pub fn tamper_signature(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").expect("a pre-signed URL") + "X-Amz-Signature=".len();
    let mut bytes = url.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

/// template.yaml, with CloudFormation's short tags kept as tagged values.
pub fn template() -> serde_yaml::Value {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

/// The template's resources of one type, by logical id.
pub fn resources_of_type(
    template: &serde_yaml::Value,
    kind: &str,
) -> std::collections::BTreeMap<String, serde_yaml::Value> {
    template["Resources"]
        .as_mapping()
        .expect("template has Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// The `${...}` placeholders of the state machine definition.
pub fn asl_placeholders() -> std::collections::BTreeSet<String> {
    let asl =
        std::fs::read_to_string(repo_root().join("infra/statemachine/export.asl.json")).expect("the ASL");
    let mut placeholders = std::collections::BTreeSet::new();
    let mut rest = asl.as_str();
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("a closed placeholder") + start;
        placeholders.insert(rest[start + 2..end].to_owned());
        rest = &rest[end..];
    }
    placeholders
}

/// Who calls the local API gateway: the IAM identity it names in `X-Local-*` headers (the gateway
/// evaluates template.yaml's managed policies for it, as IAM does for a signed request).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal's ARN; `None` for an unsigned request.
    pub principal: Option<String>,
    /// Principal tags, e.g. `("chatAccountId", <uuid>)`.
    pub tags: Vec<(String, String)>,
    /// Managed policies attached, by short name (`StartDataExport`, `DataExportOperator`, …).
    pub policies: Vec<String>,
}

impl Caller {
    /// The local operator (the gateway's default): every account.
    pub const OPERATOR_ARN: &str = "arn:aws:iam::000000000000:user/local-admin";
    /// A tenant administrator, tagged with its chat account.
    pub const TENANT_ARN: &str = "arn:aws:iam::000000000000:user/tenant-admin";
    /// An administrator without the chatAccountId tag.
    pub const UNTAGGED_ARN: &str = "arn:aws:iam::000000000000:user/untagged-admin";

    pub fn operator() -> Self {
        Self {
            principal: Some(Self::OPERATOR_ARN.to_owned()),
            tags: Vec::new(),
            policies: vec!["DataExportOperator".to_owned()],
        }
    }

    pub fn tenant(account: &AccountId, policies: &[&str]) -> Self {
        Self {
            principal: Some(Self::TENANT_ARN.to_owned()),
            tags: vec![("chatAccountId".to_owned(), account.as_str().to_owned())],
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    pub fn untagged(policies: &[&str]) -> Self {
        Self {
            principal: Some(Self::UNTAGGED_ARN.to_owned()),
            tags: Vec::new(),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    pub fn unsigned() -> Self {
        Self { principal: None, tags: Vec::new(), policies: Vec::new() }
    }

    /// A chat user signed in for their own files (DESIGN §15): the chatUserId tag and the
    /// SelfServiceDataExport policy.
    pub fn chat_user(user: &UserId) -> Self {
        Self {
            principal: Some(format!("arn:aws:sts::000000000000:assumed-role/chat-user/{user}")),
            tags: vec![("chatUserId".to_owned(), user.as_str().to_owned())],
            policies: vec!["SelfServiceDataExport".to_owned()],
        }
    }
}

impl Stack {
    /// A request to the local API gateway as `caller`.
    pub async fn api_as(
        &self,
        caller: &Caller,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> ApiReply {
        let tags: Vec<String> = caller.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.var("API_URL")))
            .header("X-Local-Principal", caller.principal.as_deref().unwrap_or("none"))
            .header("X-Local-Principal-Tags", tags.join(","))
            .header("X-Local-Policies", caller.policies.join(","));
        ApiReply::send(request, body).await
    }
}

/// The local names of sweep-exports' two rules (up.sh gives the function these names).
pub const SWEEP_RULE_ARN: &str = "arn:aws:events:us-east-1:000000000000:rule/attachment-export-sweep";
pub const SWEEP_RESUME_RULE_ARN: &str =
    "arn:aws:events:us-east-1:000000000000:rule/attachment-export-sweep-resume";

/// A Scheduled Event of `rule`, as EventBridge sends it.
pub fn scheduled_event(rule_arn: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "000000000000", "time": Timestamp::now().to_string(),
        "region": "us-east-1", "resources": [rule_arn], "detail": {}
    })
}

impl Stack {
    /// Runs a whole sweep as EventBridge would: the daily rule, then the resume rule until the sweep
    /// is done (or another invocation holds it and finishes it). The last reply and how many
    /// invocations it took.
    pub async fn sweep(&self) -> (serde_json::Value, u32) {
        let invoke = |rule: &'static str| async move {
            self.invoke_as_service("sweep-exports", "events.amazonaws.com", rule, &scheduled_event(rule))
                .await
                .unwrap_or_else(|e| panic!("sweep-exports failed: {e:?}"))
        };
        let mut reply = invoke(SWEEP_RULE_ARN).await;
        let mut invocations = 1;
        while reply["outcome"] != "done" {
            assert!(invocations < 200, "the sweep never finished: {reply}");
            if reply["outcome"] == "busy" {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            reply = invoke(SWEEP_RESUME_RULE_ARN).await;
            if reply["outcome"] == "idle" {
                // Another caller finished the sweep this one began.
                break;
            }
            invocations += 1;
        }
        (reply, invocations)
    }
}

/// Waits (up to 15 s) until a line of the local server's log (`.local/logs/NAME.log`) holds every
/// needle; returns that line. Servers and functions write their logs a moment after they answer.
pub async fn log_line(server: &str, needles: &[&str]) -> String {
    let path = repo_root().join(format!(".local/logs/{server}.log"));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| needles.iter().all(|n| line.contains(n))) {
            return line.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no line of {} holds all of {needles:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An export whose catalog has one row of each problem the part writer checks for (DESIGN §7),
/// beside good rows whose objects are uploaded; and a second managed user and room without files.
pub struct BadRowsExport {
    pub seeded: SeededAccount,
    pub export_id: String,
    /// The rows that must be in the manifest, in upload order.
    pub good: Vec<Attachment>,
    /// (attachment id, problem code) of the rows that must be in errors.csv, in upload order.
    pub bad: Vec<(String, &'static str)>,
    pub idle_user: UserId,
    pub idle_room: RoomId,
    /// The final view (RetrieveDataExport).
    pub view: serde_json::Value,
}

impl Stack {
    /// Seeds [`BadRowsExport`]'s account, starts an export with the body `request` and waits.
    pub async fn export_with_bad_rows(&self, request: &str) -> BadRowsExport {
        let seeded = seed_account(self, AccountType::Enterprise, false).await;
        let base = Timestamp::parse("2026-04-01T09:00:00Z").unwrap();
        let at = |i: u64| base.plus(Duration::from_secs(i * 60));
        let kinds = [ConversationType::Direct, ConversationType::Group, ConversationType::Room];
        let mut all: Vec<Attachment> = (0..9u64)
            .map(|i| {
                let mut a = attachment(&seeded.id, &seeded.managed_user, kinds[i as usize % 3], at(i));
                if a.conversation_type == ConversationType::Room {
                    a.conversation_id = ConversationId::parse(seeded.managed_room.as_str()).unwrap();
                }
                a
            })
            .collect();
        self.add_attachments(&mut all, true).await;
        let s3 = self.s3();
        let bucket = self.var("ATTACHMENT_BUCKET").to_owned();
        let mut spoiled = Vec::new();
        // 1: the object is gone.
        s3.delete_object().bucket(&bucket).key(&all[1].object_key).send().await.unwrap();
        spoiled.push((1, "missing-object"));
        // 2: the catalog's size is wrong.
        all[2].size_bytes += 1;
        spoiled.push((2, "size-mismatch"));
        // 4: a bucket that is not an attachment bucket (the export bucket itself).
        all[4].bucket = self.var("EXPORT_BUCKET").to_owned();
        spoiled.push((4, "foreign-bucket"));
        // 5: uploaded again with a SHA-256 checksum that is not the catalog's.
        let other = b"the same length but other bytes!".repeat(8);
        let body = {
            let mut b = other.clone();
            b.resize(all[5].size_bytes as usize, b'x');
            b
        };
        s3.put_object()
            .bucket(&bucket)
            .key(&all[5].object_key)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .body(body.into())
            .send()
            .await
            .unwrap();
        spoiled.push((5, "checksum-mismatch"));
        // 7: uploaded with a SHA-256 checksum that is the catalog's: fine.
        let body = format!("contents of {} / {}\n", all[7].attachment_id, all[7].file_name).repeat(3);
        s3.put_object()
            .bucket(&bucket)
            .key(&all[7].object_key)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap();
        let mut items: Vec<Item> = all.iter().map(|a| dynamo::items::attachment(a).unwrap()).collect();
        // 8: a catalog item whose sizeBytes is not a number.
        items[8].insert(
            "sizeBytes".into(),
            aws_sdk_dynamodb::types::AttributeValue::S("about a megabyte".into()),
        );
        spoiled.push((8, "unreadable-row"));
        batch_put(&self.dynamodb(), self.var("ATTACHMENTS_TABLE"), items).await;

        // A managed user and a managed room with no file at all.
        let idle_user = UserId::random();
        let idle_room = RoomId::random();
        let user = User {
            user_id: None,
            email: "=idle@example.com".into(),
            display_name: "idle".into(),
            managed: true,
        };
        let room = Room { room_id: None, name: "Quiet".into(), created_by: idle_user.clone() };
        batch_put(
            &self.dynamodb(),
            self.var("ACCOUNTS_TABLE"),
            vec![
                dynamo::items::user(&seeded.id, &idle_user, &user).unwrap(),
                dynamo::items::room(&seeded.id, &idle_room, &room).unwrap(),
            ],
        )
        .await;

        let reply = self
            .api(
                reqwest::Method::POST,
                &format!("/accounts/{}/data-exports", seeded.id),
                Some(request.into()),
                None,
            )
            .await;
        assert_eq!(reply.status, 202, "{:?}", reply.body);
        let export_id = reply.body["exportId"].as_str().unwrap().to_owned();
        let view = self.wait_for_export(&seeded.id, &export_id, Duration::from_secs(180)).await;
        let bad = spoiled.iter().map(|(i, code)| (all[*i].attachment_id.to_string(), *code)).collect();
        let good = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !spoiled.iter().any(|(s, _)| s == i))
            .map(|(_, a)| a.clone())
            .collect();
        BadRowsExport { seeded, export_id, good, bad, idle_user, idle_room, view }
    }
}

/// A report (errors.csv, coverage.csv) fetched through its link from RetrieveDataExport, as rows
/// without the header.
pub async fn download_report(view: &serde_json::Value, report: &str) -> Vec<Vec<String>> {
    let link = view[report]["url"].as_str().unwrap_or_else(|| panic!("a {report} link: {view}"));
    let body = reqwest::get(link).await.unwrap();
    assert_eq!(body.status(), 200);
    let bytes = body.bytes().await.unwrap();
    if let Some(sha) = view[report]["sha256"].as_str() {
        assert_eq!(sha256_hex(&bytes), sha, "{report}'s SHA-256");
    }
    csv::Reader::from_reader(&bytes[..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A subscriber to one account's export events: an SQS queue behind an EventBridge rule on the
/// default bus that matches the account's "Data Export State Change" events only.
pub struct AccountEvents {
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

impl AccountEvents {
    pub async fn subscribe(stack: &Stack, account: &AccountId) -> Self {
        let pattern = serde_json::json!({
            "source": ["attachment-export"],
            "detail-type": ["Data Export State Change"],
            "detail": {"accountId": [account.as_str()]}
        });
        let name = format!("events-{account}");
        Self::subscribe_to(stack, "default", &name, pattern).await
    }

    /// A subscriber to one user's "Assistant Reply" events on the Assistant's bus
    /// (`ASSISTANT_REPLY_BUS`), as the chat service subscribes; it matches on the user only, so a
    /// state change published there would be received too.
    pub async fn assistant_replies(stack: &Stack, user: &str) -> Self {
        let pattern = serde_json::json!({"source": ["attachment-export"], "detail": {"userId": [user]}});
        Self::subscribe_to(stack, stack.var("ASSISTANT_REPLY_BUS"), &format!("replies-{user}"), pattern).await
    }

    async fn subscribe_to(stack: &Stack, bus: &str, name: &str, pattern: serde_json::Value) -> Self {
        let moto = stack.var("AWS_ENDPOINT_URL_EVENTS");
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&stack.sdk_config()).endpoint_url(moto).build(),
        );
        let events = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&stack.sdk_config()).endpoint_url(moto).build(),
        );
        let queue = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
        let queue_arn = format!("arn:aws:sqs:us-east-1:000000000000:{name}");
        let rule = format!("export-{}", &name[..name.len().min(40)]);
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(aws_sdk_eventbridge::types::Target::builder().id("q").arn(&queue_arn).build().unwrap())
            .send()
            .await
            .unwrap();
        Self { sqs, queue }
    }

    /// The events delivered since the last call (waits up to a second for the first), as sent.
    pub async fn receive(&self) -> Vec<String> {
        let out =
            self.sqs.receive_message().queue_url(&self.queue).wait_time_seconds(1).send().await.unwrap();
        out.messages().iter().filter_map(|m| m.body().map(str::to_owned)).collect()
    }
}
