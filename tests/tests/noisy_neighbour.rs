//! Noisy neighbours (issue 26, item 3; DEPLOY.md "Noisy neighbours"): one tenant flooding the API
//! is refused by the web ACL in front of the stage (429 `TooManyRequestsException`, per session
//! token) while every request another tenant sends during the flood succeeds, whether the flood is
//! on the flooder's own account or on the other tenant's. The second case is the one a key on the
//! path's account would lose: IAM refuses the foreign path, but only after WAF has counted the
//! request, and without the per-session rule the flood's fast refusals would empty the stage's
//! shared bucket of that method, which the other tenant's requests need too.
//!
//! The local gateway enforces the template's web ACL and stage buckets
//! (infra/local/lib/local_limits.py) and says which at `GET /__limits`; what it cannot show is
//! WAF's detection delay on AWS (DESIGN §11). Locally a caller is named by X-Local-* headers
//! instead of a signature; the session token WAF keys on is the `X-Amz-Security-Token` header that
//! every request signed with temporary credentials carries (WAF does not check it either). Each
//! tenant sends from a loopback address of its own (127.0.0.2, 127.0.0.3; Linux routes all of
//! 127.0.0.0/8 to the loopback), as tenants do from their own networks.
//!
//! Runs alone (scripts/test.sh): it drains the shared buckets' headroom on purpose.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use export_core::domain::ids::AccountId;
use export_core::domain::model::AccountType;
use futures::StreamExt;
use integration_tests::{Stack, seed_account};
use serde_json::Value;

/// Requests of the flooding tenant in flight at once.
const FLOOD_CONCURRENCY: usize = 64;
/// Requests the flood sends past its session's limit, at least.
const FLOOD_PAST_LIMIT: usize = 300;
/// The flood's ceiling, whatever happens.
const FLOOD_MAX: usize = 5_000;
/// Requests the other tenant sends while the flood goes on.
const NEIGHBOUR_REQUESTS: usize = 20;

#[derive(Debug)]
struct Reply {
    status: u16,
    error_type: String,
    body: Value,
}

impl Reply {
    /// The web ACL's refusal: its own 429 body, no Retry-After (DEPLOY.md "Noisy neighbours").
    fn is_web_acl_refusal(&self) -> bool {
        self.status == 429 && self.body["code"] == "TooManyRequestsException"
    }

    /// The stage's refusal: API Gateway's own 429.
    fn is_stage_refusal(&self) -> bool {
        self.status == 429 && self.body == serde_json::json!({"message": "Too Many Requests"})
    }
}

/// One tenant's administrator: a role session tagged with its account, holding RetrieveDataExport,
/// with its own session token and its own source address.
struct Tenant {
    account: AccountId,
    principal: String,
    token: String,
    http: reqwest::Client,
}

impl Tenant {
    fn new(account: AccountId, name: &str, address: [u8; 4]) -> Self {
        let http = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::from(address)))
            .timeout(Duration::from_secs(120))
            .build()
            .expect("a client sending from a loopback address of its own");
        Self {
            account,
            principal: format!("arn:aws:sts::000000000000:assumed-role/{name}Admin/noisy-neighbour"),
            token: format!("local-session-{name}-{}", uuid::Uuid::new_v4().simple()),
            http,
        }
    }

    /// GET /accounts/{account}/data-exports, signed (locally: named) as this tenant.
    async fn list(&self, stack: &Stack, account: &AccountId) -> Reply {
        let response = self
            .http
            .get(format!("{}/accounts/{account}/data-exports", stack.var("API_URL")))
            .header("X-Local-Principal", &self.principal)
            .header("X-Local-Principal-Tags", format!("chatAccountId={}", self.account))
            .header("X-Local-Policies", "RetrieveDataExport")
            .header("X-Amz-Security-Token", &self.token)
            .send()
            .await
            .expect("the local gateway answers");
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap();
        Reply { status, error_type, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }
}

/// The limits the local gateway enforces (`GET /__limits`): the per-session rule's limit, and the
/// stage's burst and rate of each method.
async fn limits(stack: &Stack) -> (usize, f64, f64) {
    let limits: Value = reqwest::get(format!("{}/__limits", stack.var("API_URL")))
        .await
        .expect("the local gateway answers /__limits")
        .json()
        .await
        .unwrap();
    let rules = limits["webAcl"]["rules"].as_array().expect("the gateway enforces a web ACL");
    let session = rules
        .iter()
        .find(|r| r["keys"] == serde_json::json!(["header:x-amz-security-token"]))
        .expect("a rule keyed on the session token alone");
    let limit = session["limit"].as_u64().unwrap() as usize;
    let stage = &limits["stageThrottle"];
    (limit, stage["burstLimit"].as_f64().unwrap(), stage["rateLimit"].as_f64().unwrap())
}

/// What the flood got back.
#[derive(Debug, Default)]
struct Flood {
    sent: usize,
    served: usize,
    denied_by_iam: usize,
    refused_by_web_acl: usize,
    refused_by_stage: usize,
    other: Vec<String>,
}

/// `flooder` sends GETs of `target`'s exports, FLOOD_CONCURRENCY at a time, until `done` is set
/// and at least `minimum` are sent (never more than FLOOD_MAX).
async fn flood(
    stack: &Stack,
    flooder: &Tenant,
    target: &AccountId,
    minimum: usize,
    done: &AtomicBool,
) -> Flood {
    let replies = futures::stream::iter(0..FLOOD_MAX)
        .take_while(move |n| futures::future::ready(*n < minimum || !done.load(Ordering::SeqCst)))
        .map(move |_| flooder.list(stack, target))
        .buffer_unordered(FLOOD_CONCURRENCY);
    let mut replies = std::pin::pin!(replies);
    let mut outcome = Flood::default();
    while let Some(reply) = replies.next().await {
        outcome.sent += 1;
        match reply.status {
            200 => outcome.served += 1,
            403 if reply.error_type == "AccessDeniedException" => outcome.denied_by_iam += 1,
            _ if reply.is_web_acl_refusal() => outcome.refused_by_web_acl += 1,
            _ if reply.is_stage_refusal() => outcome.refused_by_stage += 1,
            _ => outcome.other.push(format!("{} {}", reply.status, reply.body)),
        }
    }
    outcome
}

/// `tenant` lists its own exports NEIGHBOUR_REQUESTS times, one after another, then sets `done`.
async fn neighbour(stack: &Stack, tenant: &Tenant, done: &AtomicBool) -> Vec<Reply> {
    // Let the flood start first.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut replies = Vec::new();
    for _ in 0..NEIGHBOUR_REQUESTS {
        replies.push(tenant.list(stack, &tenant.account).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, Ordering::SeqCst);
    replies
}

async fn two_tenants(stack: &Stack) -> (Tenant, Tenant, usize) {
    let (limit, burst, rate) = limits(stack).await;
    // The premise of the deployed limits (template_security checks the template's): one session's
    // whole minute fits in a method's burst, with room left for everyone else.
    assert!((limit as f64) < burst, "per-session limit {limit} is not below the stage's burst {burst}");
    assert!(rate > 0.0);
    // Let the stage's buckets refill: the test before this one may have just drained them.
    tokio::time::sleep(Duration::from_secs_f64(burst / rate)).await;
    let a = seed_account(stack, AccountType::Enterprise, false).await.id;
    let b = seed_account(stack, AccountType::Enterprise, false).await.id;
    (Tenant::new(a, "TenantA", [127, 0, 0, 2]), Tenant::new(b, "TenantB", [127, 0, 0, 3]), limit)
}

fn assert_neighbour_served(replies: &[Reply]) {
    assert_eq!(replies.len(), NEIGHBOUR_REQUESTS);
    for (n, reply) in replies.iter().enumerate() {
        assert_eq!(reply.status, 200, "the neighbour's request {n} during the flood: {reply:?}");
        assert!(reply.body["exports"].is_array(), "{reply:?}");
    }
}

#[tokio::test]
async fn a_tenant_flooding_its_own_exports_is_refused_while_another_tenant_is_served() {
    let stack = Stack::load();
    let (a, b, limit) = two_tenants(&stack).await;
    let done = AtomicBool::new(false);
    let (flooded, served) = tokio::join!(
        flood(&stack, &a, &a.account, limit + FLOOD_PAST_LIMIT, &done),
        neighbour(&stack, &b, &done)
    );

    assert_neighbour_served(&served);
    assert!(flooded.other.is_empty(), "the flood got neither 200 nor 429: {:?}", flooded.other);
    assert_eq!(flooded.denied_by_iam, 0, "{flooded:?}");
    assert!(flooded.sent >= limit + FLOOD_PAST_LIMIT, "{flooded:?}");
    // At most the session's limit is served (all of it, unless the stage refused some); the rest is
    // refused by the web ACL, before the stage and the function.
    assert!((1..=limit).contains(&flooded.served), "{flooded:?}");
    assert!(flooded.refused_by_web_acl >= flooded.sent - limit, "{flooded:?}");
    assert_eq!(flooded.served + flooded.refused_by_web_acl + flooded.refused_by_stage, flooded.sent);
}

#[tokio::test]
async fn flooding_another_tenants_exports_does_not_get_that_tenant_refused() {
    let stack = Stack::load();
    let (a, b, limit) = two_tenants(&stack).await;
    let done = AtomicBool::new(false);
    // Tenant A floods tenant B's path: IAM refuses every one that gets past the web ACL.
    let (flooded, served) = tokio::join!(
        flood(&stack, &a, &b.account, limit + FLOOD_PAST_LIMIT, &done),
        neighbour(&stack, &b, &done)
    );

    assert_neighbour_served(&served);
    assert!(flooded.other.is_empty(), "the flood got neither 403 nor 429: {:?}", flooded.other);
    assert!(flooded.sent >= limit + FLOOD_PAST_LIMIT, "{flooded:?}");
    assert_eq!(flooded.served, 0, "A reached B's exports: {flooded:?}");
    assert!((1..=limit).contains(&flooded.denied_by_iam), "{flooded:?}");
    assert!(flooded.refused_by_web_acl >= flooded.sent - limit, "{flooded:?}");

    // The count is A's session's, whatever path it names: A is refused on its own account too,
    // and B, whose path A flooded, is still served.
    let own = a.list(&stack, &a.account).await;
    assert!(own.is_web_acl_refusal(), "{own:?}");
    assert!(own.body["message"].as_str().is_some_and(|m| m.contains(&limit.to_string())), "{own:?}");
    let after = b.list(&stack, &b.account).await;
    assert_eq!(after.status, 200, "{after:?}");
}
