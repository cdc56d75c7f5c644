//! The deployable template's hardening, checked without the local stack: who may decrypt the
//! signing secret and read it, what the signing user's key may sign, that no key policy lets a
//! principal grant itself the use of a key, that the export bucket takes no other encryption, that
//! the API writes access logs that name the caller, its Cognito identity and the path's ids and
//! hold no signature, that the invoke trail is on and its log files encrypted and validated,
//! tracing, encrypted log groups, dead-letter targets for the schedule, the web ACL that limits
//! each caller in front of the API, and that the scanners run (infra/check_template.sh) with every
//! suppression reasoned and documented.

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::{repo_root, resources_of_type, template};
use serde_yaml::Value;

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The target of `!GetAtt X.Arn` or `{"Fn::GetAtt": [X, Arn]}`: ("X", "Arn").
fn get_att(value: &Value) -> Option<(String, String)> {
    let split = |s: &str| s.split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned()));
    let inner = match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => &tagged.value,
        Value::Mapping(m) => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match inner {
        Value::String(s) => split(s),
        Value::Sequence(parts) => Some((parts[0].as_str()?.to_owned(), parts[1].as_str()?.to_owned())),
        _ => None,
    }
}

fn is_get_att(value: &Value, resource: &str, attribute: &str) -> bool {
    get_att(value) == Some((resource.to_owned(), attribute.to_owned()))
}

/// The text of `!Sub "..."` (or a plain string).
fn sub_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str(),
        Value::Mapping(m) => m.get("Fn::Sub")?.as_str(),
        _ => None,
    }
}

/// `!Ref X` → "X".
fn ref_target(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        Value::Mapping(m) => m.get("Ref")?.as_str(),
        _ => None,
    }
}

/// A policy document's statements, whatever their YAML shape.
fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Sequence(items) => items.clone(),
        Value::Null => vec![],
        one => vec![one.clone()],
    }
}

/// A string or a list of strings (Action, condition values).
fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    }
}

/// IAM's action matching: case-insensitive, `*` and `?` wildcards.
fn action_matches(pattern: &str, action: &str) -> bool {
    fn glob(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], a) || (!a.is_empty() && glob(p, &a[1..])),
            (Some(b'?'), Some(_)) => glob(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => glob(&p[1..], &a[1..]),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), action.as_bytes())
}

fn allows(statement: &Value, action: &str) -> bool {
    statement["Effect"].as_str() == Some("Allow")
        && string_list(&statement["Action"]).iter().any(|p| action_matches(p, action))
}

fn account_root(principal: &Value) -> bool {
    sub_text(&principal["AWS"]).is_some_and(|s| s.ends_with(":root"))
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    let r = &template["Resources"][id];
    assert!(!r.is_null(), "template.yaml has no resource {id}");
    r
}

/// The statements of a role: its inline policies and every AWS::IAM::RolePolicy naming it.
fn role_statements(template: &Value, role: &str) -> Vec<Value> {
    let mut documents: Vec<Value> = resource(template, role)["Properties"]["Policies"]
        .as_sequence()
        .map(|ps| ps.iter().map(|p| p["PolicyDocument"].clone()).collect())
        .unwrap_or_default();
    for policy in resources_of_type(template, "AWS::IAM::RolePolicy").values() {
        if ref_target(&policy["Properties"]["RoleName"]) == Some(role) {
            documents.push(policy["Properties"]["PolicyDocument"].clone());
        }
    }
    documents.iter().flat_map(statements).collect()
}

const KMS_USE: [&str; 6] = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:CreateGrant",
];

/// No long-lived secret exists for anyone to read (issue 25): links are MAC'd with keys KMS
/// derives from an HMAC key whose material never leaves KMS, so the template has no IAM user, no
/// access key, no secret, and nothing (an Output included) that could name a secret's value. The
/// link key may be used by the two functions that make and check links, for HMAC-SHA-256 only,
/// and granted to nobody.
#[test]
fn no_long_lived_secret_exists_and_only_the_link_functions_use_the_link_key() {
    let template = template();
    for forbidden in ["AWS::IAM::AccessKey", "AWS::IAM::User", "AWS::SecretsManager::Secret"] {
        assert!(resources_of_type(&template, forbidden).is_empty(), "the template declares a {forbidden}");
    }
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    for value in ["SecretAccessKey", "SecretString", "secretsmanager:GetSecretValue"] {
        assert!(!text.contains(value), "the template mentions {value}");
    }
    let key = resource(&template, "LinkKey");
    assert_eq!(key["Properties"]["KeySpec"].as_str(), Some("HMAC_256"));
    assert_eq!(key["Properties"]["KeyUsage"].as_str(), Some("GENERATE_VERIFY_MAC"));
    let mut users = Vec::new();
    for statement in statements(&key["Properties"]["KeyPolicy"]) {
        let sid = statement["Sid"].as_str().unwrap_or("?").to_owned();
        assert!(!allows(&statement, "kms:CreateGrant"), "{sid}: a grant would hand the key on");
        if allows(&statement, "kms:GenerateMac") || allows(&statement, "kms:VerifyMac") {
            assert_eq!(
                sub_text(&statement["Condition"]["StringEquals"]["kms:MacAlgorithm"]),
                Some("HMAC_SHA_256"),
                "{sid}"
            );
            assert!(!account_root(&statement["Principal"]), "{sid}: the account administers, never uses");
            let principals = match statement["Principal"]["AWS"].as_sequence() {
                Some(list) => list.clone(),
                None => vec![statement["Principal"]["AWS"].clone()],
            };
            for principal in &principals {
                let role = ["WriteManifestRole", "DownloadExportRole"]
                    .into_iter()
                    .find(|role| is_get_att(principal, role, "Arn"));
                users.push(role.unwrap_or_else(|| panic!("{sid}: {principal:?} may use the link key")));
            }
        }
    }
    users.sort();
    assert_eq!(users, ["DownloadExportRole", "WriteManifestRole"], "who may derive link keys");
}

#[test]
fn write_manifest_decrypts_the_attachment_buckets_key_through_s3_only_and_only_if_there_is_one() {
    let template = template();
    let mut found = false;
    for statement in role_statements(&template, "WriteManifestRole") {
        let Value::Tagged(tagged) = &statement else {
            assert!(!allows(&statement, "kms:Decrypt"), "an unconditional kms:Decrypt: {statement:?}");
            continue;
        };
        // Fn::If [HasAttachmentBucketKmsKey, statement, AWS::NoValue]
        let Value::Sequence(branches) = &tagged.value else { continue };
        if tagged.tag != "If" || branches[0].as_str() != Some("HasAttachmentBucketKmsKey") {
            continue;
        }
        let granted = &branches[1];
        assert!(allows(granted, "kms:Decrypt"));
        assert_eq!(string_list(&granted["Action"]), ["kms:Decrypt"], "decrypt only");
        assert_eq!(ref_target(&granted["Resource"]), Some("AttachmentBucketKmsKeyArn"));
        assert_eq!(
            sub_text(&granted["Condition"]["StringEquals"]["kms:ViaService"]),
            Some("s3.${AWS::Region}.amazonaws.com")
        );
        let contexts = &granted["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"];
        let contexts: Vec<&str> = contexts.as_sequence().unwrap().iter().filter_map(sub_text).collect();
        assert_eq!(
            contexts,
            [
                "arn:${AWS::Partition}:s3:::${AttachmentBucketName}",
                "arn:${AWS::Partition}:s3:::${AttachmentBucketName}/*"
            ]
        );
        assert_eq!(ref_target(&branches[2]), Some("AWS::NoValue"), "nothing without a key");
        found = true;
    }
    assert!(found, "write-manifest has the conditional kms:Decrypt for encrypted attachment buckets");
}

/// The audit trail is kept: every log group at least a year by default and never less.
#[test]
fn the_audit_trail_is_kept_at_least_a_year() {
    let template = template();
    let retention = &template["Parameters"]["LogRetentionDays"];
    assert!(retention["Default"].as_u64().unwrap() >= 365);
    let allowed: Vec<u64> =
        retention["AllowedValues"].as_sequence().unwrap().iter().filter_map(Value::as_u64).collect();
    assert!(!allowed.is_empty() && allowed.iter().all(|d| *d >= 365), "{allowed:?}");
}

/// A phished password alone must not reach a 6-day key to a tenant's files: the console's user pool
/// requires an authenticator by default (an operator may choose OPTIONAL), and Cognito's threat
/// protection is enforced by default, on the feature plan it needs.
#[test]
fn the_console_requires_two_step_sign_in_and_threat_protection_by_default() {
    let template = template();
    let parameter = |name: &str| template["Parameters"][name].clone();
    assert_eq!(parameter("ConsoleMfa")["Default"].as_str(), Some("ON"));
    assert_eq!(string_list(&parameter("ConsoleMfa")["AllowedValues"]), ["ON", "OPTIONAL"], "never OFF");
    assert_eq!(parameter("ConsoleThreatProtection")["Default"].as_str(), Some("ENFORCED"));
    let pool = &resource(&template, "ConsoleUserPool")["Properties"];
    assert_eq!(ref_target(&pool["MfaConfiguration"]), Some("ConsoleMfa"));
    assert_eq!(string_list(&pool["EnabledMfas"]), ["SOFTWARE_TOKEN_MFA"]);
    assert_eq!(ref_target(&pool["UserPoolAddOns"]["AdvancedSecurityMode"]), Some("ConsoleThreatProtection"));
    let Value::Tagged(tier) = &pool["UserPoolTier"] else { panic!("UserPoolTier follows the protection") };
    assert_eq!(tier.tag, "If");
    let branches = tier.value.as_sequence().unwrap();
    assert_eq!(branches[0].as_str(), Some("ConsoleThreatProtectionOn"));
    assert_eq!((branches[1].as_str(), branches[2].as_str()), (Some("PLUS"), Some("ESSENTIALS")));
}

/// Noisy neighbours (DEPLOY.md): a regional web ACL on the API's stage limits each session token and
/// each source address per rolling minute, within WAF's own bounds, and never keys on anything the
/// path holds: any caller may send requests to any account's path, and WAF counts them before IAM
/// refuses them, so a key on the path would let one tenant get another blocked. A caller past its
/// limit gets a 429 in the API's error style that the console can read (its origin, no Retry-After,
/// which the console takes for the 7-day window's), and nothing is sampled (a sample keeps the
/// request's headers, and a SigV4 signature can be replayed for 15 minutes).
#[test]
fn the_api_limits_each_caller_by_session_and_address_never_by_the_paths_account() {
    let template = template();
    let acls = resources_of_type(&template, "AWS::WAFv2::WebACL");
    assert_eq!(acls.len(), 1, "one web ACL");
    let (id, acl) = acls.iter().next().unwrap();
    let properties = &acl["Properties"];
    assert_eq!(
        properties["Scope"].as_str(),
        Some("REGIONAL"),
        "{id}: a REST API stage takes a regional web ACL"
    );
    assert!(properties["DefaultAction"]["Allow"].is_mapping(), "{id}: requests within the limits pass");
    let visible = |config: &Value, what: &str| {
        assert_eq!(config["CloudWatchMetricsEnabled"].as_bool(), Some(true), "{what}: metrics");
        assert_eq!(
            config["SampledRequestsEnabled"].as_bool(),
            Some(false),
            "{what}: samples keep signed headers"
        );
    };
    visible(&properties["VisibilityConfig"], id);

    // key -> (the parameter of its limit, priority)
    let mut keyed: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for rule in properties["Rules"].as_sequence().expect("the web ACL's rules") {
        let name = rule["Name"].as_str().expect("a rule name");
        visible(&rule["VisibilityConfig"], name);
        let statement = &rule["Statement"]["RateBasedStatement"];
        assert!(statement.is_mapping(), "{name}: a rate-based rule");
        assert!(statement["ScopeDownStatement"].is_null(), "{name}: every request counts");
        assert_eq!(statement["EvaluationWindowSec"].as_u64(), Some(60), "{name}: per rolling minute");
        let text = serde_yaml::to_string(statement).unwrap();
        for forbidden in ["UriPath", "QueryArgument", "QueryString", "LabelNamespace", "HTTPMethod"] {
            assert!(
                !text.contains(forbidden),
                "{name} aggregates by {forbidden}: one tenant could get another blocked"
            );
        }
        let key = match statement["AggregateKeyType"].as_str() {
            Some("IP") => "ip".to_owned(),
            Some("CUSTOM_KEYS") => {
                let keys = statement["CustomKeys"].as_sequence().expect("CustomKeys");
                assert_eq!(keys.len(), 1, "{name}: one key");
                let header = &keys[0]["Header"];
                assert_eq!(header["TextTransformations"][0]["Type"].as_str(), Some("NONE"), "{name}");
                format!("header:{}", header["Name"].as_str().expect("a header name").to_ascii_lowercase())
            }
            other => panic!("{name}: aggregates by {other:?}"),
        };
        let limit = ref_target(&statement["Limit"])
            .unwrap_or_else(|| panic!("{name}: the limit is a template parameter"))
            .to_owned();

        let response = &rule["Action"]["Block"]["CustomResponse"];
        assert_eq!(response["ResponseCode"].as_u64(), Some(429), "{name}: blocked with a 429");
        let body_key = response["CustomResponseBodyKey"].as_str().expect("a custom body");
        let body = &properties["CustomResponseBodies"][body_key];
        assert_eq!(body["ContentType"].as_str(), Some("APPLICATION_JSON"), "{name}");
        let content = sub_text(&body["Content"]).expect("the body is a !Sub string");
        assert!(content.contains(&format!("${{{limit}}}")), "{name}: the body names its limit");
        let json: serde_json::Value = serde_json::from_str(&content.replace(&format!("${{{limit}}}"), "200"))
            .expect("the body is JSON");
        assert_eq!(json["code"], "TooManyRequestsException", "{name}");
        assert!(json["message"].as_str().is_some_and(|m| m.len() > 40), "{name}: says what to do");
        let headers: BTreeMap<String, Value> = response["ResponseHeaders"]
            .as_sequence()
            .expect("response headers")
            .iter()
            .map(|h| (h["Name"].as_str().unwrap().to_ascii_lowercase(), h["Value"].clone()))
            .collect();
        assert_eq!(
            headers.get("access-control-allow-origin").and_then(sub_text),
            Some("https://${ConsoleDistribution.DomainName}"),
            "{name}: the console reads the refusal"
        );
        assert_eq!(headers.get("cache-control").and_then(Value::as_str), Some("no-store"), "{name}");
        assert!(
            !headers.contains_key("retry-after"),
            "{name}: the console reads Retry-After as the window's"
        );
        let priority = rule["Priority"].as_u64().expect("a priority");
        assert!(keyed.insert(key, (limit, priority)).is_none(), "{name}: two rules on one key");
    }
    let keys: Vec<&String> = keyed.keys().collect();
    assert_eq!(keys, ["header:x-amz-security-token", "ip"], "one rule per session token, one per address");
    let (session, address) = (&keyed["header:x-amz-security-token"], &keyed["ip"]);
    assert_eq!(session.0, "SessionRequestsPerMinute");
    assert_eq!(address.0, "IpRequestsPerMinute");
    assert!(session.1 < address.1, "the session rule first: what it blocks the address rule does not count");

    // WAF's bounds, and the relations DEPLOY.md argues from what the console and the CLI send.
    let parameters = &template["Parameters"];
    for name in ["SessionRequestsPerMinute", "IpRequestsPerMinute"] {
        assert_eq!(parameters[name]["MinValue"].as_u64(), Some(10), "{name}: WAF's smallest limit");
        assert_eq!(parameters[name]["MaxValue"].as_u64(), Some(2_000_000_000), "{name}: WAF's largest");
    }
    let default = |name: &str| parameters[name]["Default"].as_u64().unwrap_or_else(|| panic!("{name}"));
    // `attachment-export status --wait` polls every 500 ms (120 a minute); a console page every 2 s.
    assert!(read("cli/src/main.rs").contains("Duration::from_millis(500)"), "the CLI's poll changed");
    assert!(default("SessionRequestsPerMinute") >= 150, "the CLI's wait must fit one session's minute");
    assert!(
        default("IpRequestsPerMinute") >= 5 * default("SessionRequestsPerMinute"),
        "five callers per NAT"
    );

    // On this API's stage: `${ExportApi.Stage}` is the stage SAM generates, so the association
    // waits for it.
    let associations = resources_of_type(&template, "AWS::WAFv2::WebACLAssociation");
    assert_eq!(associations.len(), 1, "one association");
    let association = &associations.values().next().unwrap()["Properties"];
    assert!(is_get_att(&association["WebACLArn"], id, "Arn"), "the association names {id}");
    assert_eq!(
        sub_text(&association["ResourceArn"]),
        Some(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${ExportApi}/stages/${ExportApi.Stage}"
        )
    );
}

/// The download function's credentials serve pre-signed GETs only (SigV4 in the query string,
/// over HTTPS), each honoured no longer than the redirect's configured lifetime: of attachments,
/// and of self-service users' manifests (the Assistant's reply link), never an account's export
/// files or a user's reports.
#[test]
fn the_download_role_signs_only_short_presigned_sigv4_gets_over_https() {
    let template = template();
    let statements = role_statements(&template, "DownloadExportRole");
    let gets: Vec<&Value> = statements.iter().filter(|s| allows(s, "s3:GetObject")).collect();
    assert_eq!(gets.len(), 2, "the attachments' and the users' manifests' s3:GetObject statements");
    for get in &gets {
        let condition = &get["Condition"];
        assert_eq!(condition["StringEquals"]["s3:authType"].as_str(), Some("REST-QUERY-STRING"));
        assert_eq!(condition["StringEquals"]["s3:signatureversion"].as_str(), Some("AWS4-HMAC-SHA256"));
        assert_eq!(condition["Bool"]["aws:SecureTransport"].as_str(), Some("true"));
        assert_eq!(
            sub_text(&condition["NumericLessThanEquals"]["s3:signatureAge"]),
            Some("${RedirectUrlSeconds}000"),
            "a redirect URL is honoured for its lifetime only (milliseconds)"
        );
        assert_eq!(string_list(&get["Action"]), ["s3:GetObject"], "the download role reads, nothing else");
    }
    let manifests = gets.iter().find(|s| s["Sid"] == "RedirectToUsersManifests").expect("users' manifests");
    let resources: Vec<&str> =
        manifests["Resource"].as_sequence().unwrap().iter().map(|r| sub_text(r).unwrap()).collect();
    assert_eq!(
        resources,
        [
            "${ExportBucket.Arn}/exports/users/*/attachments.csv",
            "${ExportBucket.Arn}/exports/users/*/attachments.jsonl"
        ]
    );
}

/// RevokeDataExport's role (issue 25) does what a revocation needs and nothing more: the record's
/// GetItem and UpdateItem (no PutItem, DeleteItem or Query), listing and deleting objects under the
/// export bucket's exports/ only (never reading one, never the attachment bucket), the state-change
/// event on the default bus, and naming console users for revoke-export-api only; no KMS at all.
#[test]
fn the_revoke_role_deletes_only_export_files_and_reads_nothing() {
    let template = template();
    let statements = role_statements(&template, "RevokeExportRole");
    let mut actions: BTreeSet<String> = BTreeSet::new();
    for statement in &statements {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{statement:?}");
        actions.extend(string_list(&statement["Action"]));
    }
    let expected: BTreeSet<String> = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "s3:ListBucket",
        "s3:DeleteObject",
        "events:PutEvents",
        "cognito-idp:ListUsers",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(actions, expected, "RevokeExportRole's actions");
    for action in ["kms:Decrypt", "s3:GetObject", "s3:PutObject", "dynamodb:PutItem", "dynamodb:DeleteItem"] {
        assert!(!statements.iter().any(|s| allows(s, action)), "RevokeExportRole may {action}");
    }
    for statement in &statements {
        let sid = statement["Sid"].as_str().unwrap_or("?");
        if allows(statement, "dynamodb:UpdateItem") || allows(statement, "dynamodb:GetItem") {
            assert!(
                is_get_att(&statement["Resource"], "ExportsTable", "Arn"),
                "{sid}: the exports table only"
            );
        }
        if allows(statement, "s3:DeleteObject") {
            assert_eq!(sub_text(&statement["Resource"]), Some("${ExportBucket.Arn}/exports/*"), "{sid}");
        }
        if allows(statement, "s3:ListBucket") {
            assert!(
                is_get_att(&statement["Resource"], "ExportBucket", "Arn"),
                "{sid}: the export bucket only"
            );
            assert_eq!(
                statement["Condition"]["StringLike"]["s3:prefix"].as_str(),
                Some("exports/*"),
                "{sid}"
            );
        }
        if allows(statement, "events:PutEvents") {
            assert_eq!(
                sub_text(&statement["Resource"]),
                Some("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"),
                "{sid}"
            );
        }
        if allows(statement, "cognito-idp:ListUsers") {
            assert!(is_get_att(&statement["Resource"], "ConsoleUserPool", "Arn"), "{sid}");
            assert_eq!(
                sub_text(&statement["Condition"]["ArnEquals"]["lambda:SourceFunctionArn"]),
                Some(
                    "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-revoke-export-api"
                ),
                "{sid}: for revoke-export-api only"
            );
        }
    }
    // Both functions run as this role, and nothing else does.
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let role = get_att(&function["Properties"]["Role"]).expect("each function names its role").0;
        assert_eq!(
            role == "RevokeExportRole",
            ["RevokeExportFunction", "RevokeExportApiFunction"].contains(&id.as_str()),
            "{id} runs as {role}"
        );
    }
}

/// No key policy lets a principal grant itself the use of the key: no `kms:CreateGrant` (so no
/// `kms:Create*` or `kms:*`) unless only for AWS resources, and the account (root, i.e. IAM
/// administrators) never decrypts with any of the stack's keys but the invoke trail's, whose log
/// files investigators read: through S3, and for that trail's files only.
#[test]
fn no_key_policy_lets_a_principal_grant_itself_decrypt() {
    let template = template();
    let keys = resources_of_type(&template, "AWS::KMS::Key");
    for id in ["ExportKey", "LinkKey", "LogsKey", "InvokeTrailKey"] {
        assert!(keys.contains_key(id), "{id} is gone");
    }
    for (id, key) in &keys {
        for statement in statements(&key["Properties"]["KeyPolicy"]) {
            let sid = statement["Sid"].as_str().unwrap_or("?");
            if allows(&statement, "kms:CreateGrant") {
                assert_eq!(
                    statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"].as_str(),
                    Some("true"),
                    "{id} {sid}: kms:CreateGrant only for AWS resources"
                );
            }
            for action in string_list(&statement["Action"]) {
                assert!(
                    !action.eq_ignore_ascii_case("kms:Create*")
                        && action != "*"
                        && !action.eq_ignore_ascii_case("kms:*"),
                    "{id} {sid}: {action} includes kms:CreateGrant"
                );
            }
            if account_root(&statement["Principal"]) {
                for use_action in ["kms:ReEncryptFrom", "kms:CreateGrant"] {
                    assert!(!allows(&statement, use_action), "{id} {sid}: the account must not {use_action}");
                }
                if allows(&statement, "kms:Decrypt") {
                    assert_eq!(id.as_str(), "InvokeTrailKey", "{id} {sid}: the account must not kms:Decrypt");
                    assert_eq!(
                        string_list(&statement["Action"]),
                        ["kms:Decrypt"],
                        "{id} {sid}: decrypt only"
                    );
                    assert_eq!(
                        sub_text(&statement["Condition"]["StringEquals"]["kms:ViaService"]),
                        Some("s3.${AWS::Region}.amazonaws.com"),
                        "{id} {sid}: only through S3"
                    );
                    assert_eq!(
                        sub_text(
                            &statement["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"]
                        ),
                        Some(
                            "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/${AWS::StackName}-invocations"
                        ),
                        "{id} {sid}: only the invoke trail's log files"
                    );
                }
            }
        }
    }
    // The export key's users are the three functions' roles and the state machine's (its
    // Distributed Map reads the part list), through S3 only.
    for statement in statements(&keys["ExportKey"]["Properties"]["KeyPolicy"]) {
        if KMS_USE.iter().any(|a| allows(&statement, a)) {
            let principal = get_att(&statement["Principal"]["AWS"]).expect("a role by GetAtt").0;
            assert!(
                [
                    "WriteManifestRole",
                    "EnumerateAttachmentsRole",
                    "RetrieveExportRole",
                    "DownloadExportRole",
                    "ExportStateMachineRole"
                ]
                .contains(&principal.as_str()),
                "ExportKey: {principal} uses the key"
            );
            assert_eq!(
                sub_text(&statement["Condition"]["StringEquals"]["kms:ViaService"]),
                Some("s3.${AWS::Region}.amazonaws.com"),
                "ExportKey: {principal} only through S3"
            );
        }
    }
}

/// Lambda does not tell a function who invoked it, so CloudTrail's Invoke data events are the only
/// record of a direct invocation's caller: the invoke trail is on by default, records in every
/// region, validates its log files (digest files) and encrypts them with its own key, which only
/// CloudTrail encrypts with, for this trail only, and which outlives the stack with the bucket.
#[test]
fn the_invoke_trail_is_on_by_default_encrypted_validated_and_in_every_region() {
    let template = template();
    assert_eq!(template["Parameters"]["InvokeTrailEnabled"]["Default"].as_str(), Some("true"));
    for id in ["InvokeTrail", "InvokeTrailBucket", "InvokeTrailBucketPolicy", "InvokeTrailKey"] {
        assert_eq!(resource(&template, id)["Condition"].as_str(), Some("CreateInvokeTrail"), "{id}");
    }
    let trail = &resource(&template, "InvokeTrail")["Properties"];
    assert_eq!(sub_text(&trail["TrailName"]), Some("${AWS::StackName}-invocations"));
    assert_eq!(ref_target(&trail["S3BucketName"]), Some("InvokeTrailBucket"));
    assert!(
        is_get_att(&trail["KMSKeyId"], "InvokeTrailKey", "Arn"),
        "log files SSE-KMS under InvokeTrailKey"
    );
    assert_eq!(trail["EnableLogFileValidation"].as_bool(), Some(true), "log file validation");
    assert_eq!(trail["IsMultiRegionTrail"].as_bool(), Some(true), "every region");
    // CloudTrail refuses a multi-region trail without global service events; the selectors record
    // no management events, so it adds none.
    assert_eq!(trail["IncludeGlobalServiceEvents"].as_bool(), Some(true));
    let selectors = trail["AdvancedEventSelectors"].as_sequence().expect("advanced event selectors");
    assert_eq!(selectors.len(), 1, "one selector: the direct functions' data events");
    let fields = selectors[0]["FieldSelectors"].as_sequence().expect("field selectors");
    let equals = |field: &str| {
        fields
            .iter()
            .find(|f| f["Field"].as_str() == Some(field))
            .map(|f| f["Equals"].clone())
            .unwrap_or_else(|| panic!("no {field} field selector"))
    };
    assert_eq!(string_list(&equals("eventCategory")), ["Data"], "no management events");
    assert_eq!(string_list(&equals("resources.type")), ["AWS::Lambda::Function"]);
    let functions: Vec<String> = equals("resources.ARN")
        .as_sequence()
        .expect("function ARNs")
        .iter()
        .map(|arn| get_att(arn).expect("a function ARN by GetAtt").0)
        .collect();
    assert_eq!(
        functions,
        ["StartExportFunction", "RetrieveExportFunction", "RevokeExportFunction", "AssistantFunction"]
    );
    // Exactly the functions operators invoke directly (DataExportOperator's DirectInvocation).
    let operator =
        statements(&resource(&template, "DataExportOperatorPolicy")["Properties"]["PolicyDocument"]);
    let mut invoked: Vec<String> = operator
        .iter()
        .filter(|s| allows(s, "lambda:InvokeFunction"))
        .flat_map(|s| s["Resource"].as_sequence().cloned().unwrap_or_else(|| vec![s["Resource"].clone()]))
        .map(|arn| get_att(&arn).expect("a function ARN by GetAtt").0)
        .collect();
    invoked.sort();
    // The chat service's one function too (ChatServiceAssistant): who vouched for which user.
    invoked.push("AssistantFunction".to_owned());
    invoked.sort();
    let mut traced = functions.clone();
    traced.sort();
    assert_eq!(invoked, traced, "the trail records every function operators and the chat service may invoke");

    let key = resource(&template, "InvokeTrailKey");
    assert_eq!(key["DeletionPolicy"].as_str(), Some("Retain"), "the retained log files stay readable");
    assert_eq!(resource(&template, "InvokeTrailBucket")["DeletionPolicy"].as_str(), Some("Retain"));
    assert_eq!(key["Properties"]["EnableKeyRotation"].as_bool(), Some(true), "InvokeTrailKey: rotation");
    let trail_arn = "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/${AWS::StackName}-invocations";
    let mut cloudtrail_encrypts = false;
    for statement in statements(&key["Properties"]["KeyPolicy"]) {
        let sid = statement["Sid"].as_str().unwrap_or("?");
        if statement["Principal"]["Service"].as_str() != Some("cloudtrail.amazonaws.com") {
            continue;
        }
        assert_eq!(
            sub_text(&statement["Condition"]["StringEquals"]["aws:SourceArn"]),
            Some(trail_arn),
            "{sid}: CloudTrail uses the key for this trail only"
        );
        for action in ["kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant"] {
            assert!(!allows(&statement, action), "{sid}: CloudTrail needs no {action}");
        }
        if allows(&statement, "kms:GenerateDataKey") {
            assert!(
                !statement["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"].is_null(),
                "{sid}: with CloudTrail's encryption context"
            );
            cloudtrail_encrypts = true;
        }
    }
    assert!(cloudtrail_encrypts, "CloudTrail may encrypt the trail's log files");
}

#[test]
fn the_export_bucket_refuses_objects_under_another_encryption_but_not_the_default() {
    let template = template();
    let policy = resources_of_type(&template, "AWS::S3::BucketPolicy")
        .into_values()
        .find(|p| ref_target(&p["Properties"]["Bucket"]) == Some("ExportBucket"))
        .expect("ExportBucket has a bucket policy");
    let denies: Vec<Value> = statements(&policy["Properties"]["PolicyDocument"])
        .into_iter()
        .filter(|s| {
            s["Effect"].as_str() == Some("Deny")
                && string_list(&s["Action"]).iter().any(|a| action_matches(a, "s3:PutObject"))
        })
        .collect();
    let if_exists = |key: &str| {
        denies.iter().find_map(|s| {
            let c = &s["Condition"]["StringNotEqualsIfExists"][key];
            (!c.is_null()).then(|| c.clone())
        })
    };
    assert_eq!(
        if_exists("s3:x-amz-server-side-encryption").and_then(|v| v.as_str().map(str::to_owned)).as_deref(),
        Some("aws:kms"),
        "PutObject naming another encryption than aws:kms is denied"
    );
    assert!(
        if_exists("s3:x-amz-server-side-encryption-aws-kms-key-id").is_some_and(|v| is_get_att(
            &v,
            "ExportKey",
            "Arn"
        )),
        "PutObject naming another KMS key than ExportKey is denied"
    );
    // The functions rely on the bucket's default encryption and send no header: nothing may deny a
    // request for the header's absence.
    for statement in &denies {
        let sid = statement["Sid"].as_str().unwrap_or("?");
        let condition = &statement["Condition"];
        for operator in ["StringNotEquals", "StringNotLike", "ArnNotEquals"] {
            for key in ["s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"] {
                assert!(
                    condition[operator][key].is_null(),
                    "{sid}: {operator} denies requests without {key}"
                );
            }
        }
        assert_ne!(
            condition["Null"]["s3:x-amz-server-side-encryption"].as_str(),
            Some("true"),
            "{sid}: denies requests that rely on the default encryption"
        );
    }
    let bucket = resource(&template, "ExportBucket");
    let default = &bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert_eq!(default["SSEAlgorithm"].as_str(), Some("aws:kms"));
    assert!(is_get_att(&default["KMSMasterKeyID"], "ExportKey", "Arn"), "the default is ExportKey");
}

/// `$context.xxx` variables of an access log format.
fn context_variables(format: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = format;
    while let Some(at) = rest.find('$') {
        let tail = &rest[at..];
        let end = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .map_or(tail.len(), |e| e + 1);
        found.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    found
}

#[test]
fn the_api_writes_json_access_logs_naming_caller_route_and_status_and_never_a_signature() {
    let template = template();
    let api = resource(&template, "ExportApi");
    let setting = &api["Properties"]["AccessLogSetting"];
    let destination =
        sub_text(&setting["DestinationArn"]).expect("DestinationArn is a !Sub of the log group");
    assert!(destination.ends_with(":log-group:${ApiAccessLogGroup}"), "{destination}");
    let group = resource(&template, "ApiAccessLogGroup");
    assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert_eq!(ref_target(&group["Properties"]["RetentionInDays"]), Some("LogRetentionDays"));

    let format = setting["Format"].as_str().expect("Format is a string");
    let json: serde_json::Value = serde_json::from_str(format).expect("the access log format is JSON");
    assert!(json.is_object(), "one JSON object per request");
    let variables = context_variables(format);
    for needed in [
        "$context.identity.userArn",
        "$context.identity.caller",
        // A console user: the identity pool's identity, and the user pool user in the provider.
        "$context.identity.cognitoIdentityId",
        "$context.identity.cognitoIdentityPoolId",
        "$context.identity.cognitoAuthenticationType",
        "$context.identity.cognitoAuthenticationProvider",
        "$context.resourcePath",
        // The path as called: its account and export ids (never the query string).
        "$context.path",
        "$context.httpMethod",
        "$context.status",
        "$context.requestId",
        "$context.requestTime",
        "$context.identity.sourceIp",
        "$context.responseLatency",
    ] {
        assert!(variables.contains(needed), "the access log lacks {needed}");
    }
    for variable in &variables {
        let lower = variable.to_ascii_lowercase();
        assert!(
            variable.starts_with("$context."),
            "{variable}: only $context variables ($input, $method... hold requests)"
        );
        for forbidden in
            ["query", "body", "requestoverride", "responseoverride", "accesskey", "authorizer", "header"]
        {
            assert!(!lower.contains(forbidden), "{variable} could hold a signature or a request's content");
        }
    }
    // $context.path holds ids only: every variable segment of every route is one.
    let openapi: Value = serde_yaml::from_str(&read("infra/api/openapi.yaml")).expect("openapi.yaml parses");
    for (route, _) in openapi["paths"].as_mapping().expect("paths") {
        let route = route.as_str().expect("a path");
        for segment in route.split('/').filter(|s| s.starts_with('{')) {
            assert!(
                ["{accountId}", "{userId}", "{exportId}"].contains(&segment),
                "{route}: {segment} would put more than an id in the access log"
            );
        }
    }

    // API Gateway's account-wide CloudWatch role is set before the stage is created.
    let accounts = resources_of_type(&template, "AWS::ApiGateway::Account");
    assert_eq!(accounts.len(), 1, "one AWS::ApiGateway::Account");
    let (account_id, account) = accounts.iter().next().unwrap();
    let role = get_att(&account["Properties"]["CloudWatchRoleArn"]).expect("CloudWatchRoleArn by GetAtt").0;
    let trust =
        serde_yaml::to_string(&resource(&template, &role)["Properties"]["AssumeRolePolicyDocument"]).unwrap();
    assert!(trust.contains("apigateway.amazonaws.com"), "{role} is API Gateway's");
    assert_eq!(
        resource(&template, &role)["DeletionPolicy"].as_str(),
        Some("Retain"),
        "{role} outlives the stack"
    );
    let depends = string_list(&api["DependsOn"]);
    assert!(depends.contains(account_id), "ExportApi must depend on {account_id}");
}

#[test]
fn every_function_traces_and_every_log_group_is_kept_and_encrypted() {
    let template = template();
    let global = &template["Globals"]["Function"]["Tracing"];
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let own = &function["Properties"]["Tracing"];
        let tracing = if own.is_null() { global } else { own };
        assert_eq!(tracing.as_str(), Some("Active"), "{id}: Tracing");
        let role = get_att(&function["Properties"]["Role"]).expect("each function names its role").0;
        let statements = role_statements(&template, &role);
        for action in ["xray:PutTraceSegments", "xray:PutTelemetryRecords"] {
            assert!(statements.iter().any(|s| allows(s, action)), "{id}: {role} lacks {action}");
        }
    }
    for (id, group) in resources_of_type(&template, "AWS::Logs::LogGroup") {
        assert_eq!(
            ref_target(&group["Properties"]["RetentionInDays"]),
            Some("LogRetentionDays"),
            "{id}: retention"
        );
        assert!(
            is_get_att(&group["Properties"]["KmsKeyId"], "LogsKey", "Arn"),
            "{id}: encrypted with LogsKey"
        );
    }
    // CloudWatch Logs may use the logs key for the stack's log groups only.
    let logs = statements(&resource(&template, "LogsKey")["Properties"]["KeyPolicy"]);
    let service = logs
        .iter()
        .find(|s| sub_text(&s["Principal"]["Service"]) == Some("logs.${AWS::Region}.amazonaws.com"))
        .expect("the logs key lets CloudWatch Logs use it");
    let context = &service["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"];
    assert!(context.as_sequence().is_some_and(|v| !v.is_empty()), "only for named log groups");
}

#[test]
fn the_schedule_and_the_sweeps_asynchronous_invocations_have_a_dead_letter_queue() {
    let template = template();
    let rules = resources_of_type(&template, "AWS::Events::Rule");
    assert!(!rules.is_empty());
    let mut queues = BTreeSet::new();
    for (id, rule) in &rules {
        for target in rule["Properties"]["Targets"].as_sequence().expect("targets") {
            let queue = get_att(&target["DeadLetterConfig"]["Arn"])
                .unwrap_or_else(|| panic!("{id}: target without a DeadLetterConfig"))
                .0;
            queues.insert(queue);
        }
    }
    for queue in &queues {
        let properties = &resource(&template, queue)["Properties"];
        assert!(
            properties["SqsManagedSseEnabled"].as_bool() == Some(true)
                || !properties["KmsMasterKeyId"].is_null(),
            "{queue} is not encrypted"
        );
        // EventBridge may send to it for these rules only.
        let policy = resources_of_type(&template, "AWS::SQS::QueuePolicy")
            .into_values()
            .find(|p| {
                p["Properties"]["Queues"]
                    .as_sequence()
                    .is_some_and(|q| q.iter().any(|v| ref_target(v) == Some(queue)))
            })
            .unwrap_or_else(|| panic!("{queue} has no queue policy"));
        let allow = statements(&policy["Properties"]["PolicyDocument"])
            .into_iter()
            .find(|s| {
                allows(s, "sqs:SendMessage")
                    && s["Principal"]["Service"].as_str() == Some("events.amazonaws.com")
            })
            .unwrap_or_else(|| panic!("{queue}: EventBridge may not send"));
        let sources: BTreeSet<String> = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
            .as_sequence()
            .expect("aws:SourceArn names the rules")
            .iter()
            .map(|v| get_att(v).expect("rule ARN by GetAtt").0)
            .collect();
        let expected: BTreeSet<String> = rules.keys().cloned().collect();
        assert_eq!(sources, expected, "{queue}: SourceArn");
    }
    // Functions EventBridge invokes (asynchronously) send their failures to a queue too.
    let configs = resources_of_type(&template, "AWS::Lambda::EventInvokeConfig");
    for (id, permission) in resources_of_type(&template, "AWS::Lambda::Permission") {
        if permission["Properties"]["Principal"].as_str() != Some("events.amazonaws.com") {
            continue;
        }
        let function = get_att(&permission["Properties"]["FunctionName"]).expect("function by GetAtt").0;
        let destination = configs
            .values()
            .find(|c| get_att(&c["Properties"]["FunctionName"]).is_some_and(|f| f.0 == function))
            .and_then(|c| get_att(&c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]))
            .unwrap_or_else(|| {
                panic!("{id}: {function} is invoked asynchronously without an on-failure destination")
            })
            .0;
        assert!(
            queues.contains(&destination),
            "{function}'s failures go to {destination}, not the dead-letter queue"
        );
        let role = get_att(&resource(&template, &function)["Properties"]["Role"]).unwrap().0;
        let sends = role_statements(&template, &role)
            .iter()
            .any(|s| allows(s, "sqs:SendMessage") && is_get_att(&s["Resource"], &destination, "Arn"));
        assert!(sends, "{role} may not send to {destination}");
    }
}

/// Every checkov skip and cfn-lint ignore in template.yaml: (resource, check id, reason). A
/// cfn-lint ignore's reason is a YAML comment, which the parsed template does not hold (None).
fn suppressions(template: &Value) -> Vec<(String, String, Option<String>)> {
    let mut found = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        for skip in resource["Metadata"]["checkov"]["skip"].as_sequence().into_iter().flatten() {
            found.push((
                id.to_owned(),
                skip["id"].as_str().unwrap_or_default().to_owned(),
                Some(skip["comment"].as_str().unwrap_or_default().to_owned()),
            ));
        }
        for check in
            resource["Metadata"]["cfn-lint"]["config"]["ignore_checks"].as_sequence().into_iter().flatten()
        {
            found.push((id.to_owned(), check.as_str().unwrap_or_default().to_owned(), None));
        }
    }
    found
}

#[test]
fn the_scanners_run_with_the_template_checks_and_every_suppression_is_reasoned_and_documented() {
    let script = read("infra/check_template.sh");
    for needed in [
        "checkov\" --file template.yaml --framework cloudformation",
        "--append-rules cfn_lint_serverless.rules",
        "summary[\"failed\"]",
        "findings != 0",
    ] {
        assert!(script.contains(needed), "infra/check_template.sh lacks `{needed}`");
    }
    assert!(
        read("scripts/test.sh").contains("infra/check_template.sh"),
        "make test runs the template checks"
    );
    let lock = read("infra/local/requirements-scanners.lock");
    for pin in ["checkov==", "cfn_lint_serverless==", "cfn-lint=="] {
        assert!(lock.lines().any(|l| l.starts_with(pin)), "requirements-scanners.lock does not pin {pin}");
    }
    assert!(read("infra/local/install.sh").contains("install_venv scanners requirements-scanners.lock"));

    let template = template();
    let suppressions = suppressions(&template);
    assert!(!suppressions.is_empty());
    let deploy = read("docs/DEPLOY.md");
    for (resource, check, reason) in &suppressions {
        assert!(
            check.starts_with("CKV_AWS_") || check.starts_with("WS") || check.starts_with("ES"),
            "{resource}: {check} is neither a checkov nor a serverless-rules id"
        );
        if let Some(reason) = reason {
            assert!(
                reason.len() >= 40,
                "{resource}: {check} is suppressed without a reason a reviewer can judge"
            );
        }
        assert!(deploy.contains(check.as_str()), "docs/DEPLOY.md does not list the suppression of {check}");
    }
    // A cfn-lint ignore has its reason in YAML comments between `ignore_checks:` and the ids.
    let text = read("template.yaml");
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("ignore_checks:") {
            let reason: String = lines[n + 1..]
                .iter()
                .map(|l| l.trim_start())
                .take_while(|l| l.starts_with('#'))
                .collect::<Vec<_>>()
                .join(" ");
            assert!(reason.len() >= 40, "template.yaml:{}: ignore_checks without a reason comment", n + 1);
        }
    }
}

/// The ListSegments, WriteParts and AssembleGroups Distributed Maps (DESIGN §6) need the state
/// machine's role to read their item lists and to run child executions of its own machine: it may
/// read `inventory/segments.json`, `parts.json` and `groups.json` and nothing else of any bucket, start its
/// own state machine and no other, and describe and stop only that machine's executions.
#[test]
fn the_state_machine_role_reads_only_item_lists_and_runs_only_its_own_children() {
    let template = template();
    let mut found: Vec<Value> = Vec::new();
    for policy in
        resource(&template, "ExportStateMachineRole")["Properties"]["Policies"].as_sequence().unwrap()
    {
        found.extend(statements(&policy["PolicyDocument"]));
    }
    found.extend(statements(
        &resource(&template, "ExportStateMachineStepsPolicy")["Properties"]["PolicyDocument"],
    ));
    let machine =
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-export";
    let executions =
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-export/*";
    let mut seen = BTreeSet::new();
    for statement in &found {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"));
        for action in string_list(&statement["Action"]) {
            if action == "s3:GetObject" {
                let lists: Vec<&str> = statement["Resource"]
                    .as_sequence()
                    .expect("a list")
                    .iter()
                    .filter_map(sub_text)
                    .collect();
                assert_eq!(
                    lists,
                    [
                        "${ExportBucket.Arn}/exports/*/*/inventory/segments.json",
                        "${ExportBucket.Arn}/exports/*/*/inventory/parts.json",
                        "${ExportBucket.Arn}/exports/*/*/inventory/groups.json"
                    ]
                );
                seen.insert(action);
                continue;
            }
            let expected = match action.as_str() {
                "states:StartExecution" => machine,
                "states:DescribeExecution" | "states:StopExecution" => executions,
                other => {
                    assert!(
                        !other.starts_with("s3:")
                            && !other.starts_with("states:")
                            && !other.starts_with("kms:"),
                        "the state machine's role must not {other}"
                    );
                    continue;
                }
            };
            assert_eq!(sub_text(&statement["Resource"]), Some(expected), "{action}");
            seen.insert(action);
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["s3:GetObject", "states:DescribeExecution", "states:StartExecution", "states:StopExecution"]
    );
}

/// My attachments (DESIGN §15): a chat user's console credentials come from ChatUserIdentityPool,
/// which takes the chat service's developer logins only (no user pool, no OpenID provider, no
/// unauthenticated or classic flow a browser could use on its own), and hand out one role,
/// ChatUserConsoleRole, that trusts only that pool's signed-in identities and holds only
/// SelfServiceDataExport. Only ChatServiceConsoleSignIn lets anyone mint such a login, and only
/// on that pool: no other statement of the template grants GetOpenIdTokenForDeveloperIdentity.
#[test]
fn only_the_chat_service_signs_chat_users_in_and_only_to_their_own_exports() {
    let template = template();
    let pool = &resource(&template, "ChatUserIdentityPool")["Properties"];
    assert_eq!(pool["AllowUnauthenticatedIdentities"].as_bool(), Some(false));
    assert_eq!(pool["AllowClassicFlow"].as_bool(), Some(false));
    assert!(pool["CognitoIdentityProviders"].is_null(), "no user pool signs chat users in");
    assert!(pool["OpenIdConnectProviderARNs"].is_null() && pool["SamlProviderARNs"].is_null());
    assert!(pool["SupportedLoginProviders"].is_null(), "no public provider either");
    assert!(sub_text(&pool["DeveloperProviderName"]).is_some_and(|s| !s.is_empty()));

    let attachment = &resource(&template, "ChatUserIdentityPoolRoles")["Properties"];
    assert_eq!(ref_target(&attachment["IdentityPoolId"]), Some("ChatUserIdentityPool"));
    assert!(is_get_att(&attachment["Roles"]["authenticated"], "ChatUserConsoleRole", "Arn"));
    assert!(attachment["Roles"]["unauthenticated"].is_null() && attachment["RoleMappings"].is_null());

    let role = &resource(&template, "ChatUserConsoleRole")["Properties"];
    let managed: Vec<&str> =
        role["ManagedPolicyArns"].as_sequence().unwrap().iter().filter_map(ref_target).collect();
    assert_eq!(managed, ["SelfServiceDataExportPolicy"]);
    assert!(role["Policies"].is_null() && role_statements(&template, "ChatUserConsoleRole").is_empty());
    let trust = statements(&role["AssumeRolePolicyDocument"]);
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Principal"]["Federated"].as_str(), Some("cognito-identity.amazonaws.com"));
    assert_eq!(
        ref_target(&trust[0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"]),
        Some("ChatUserIdentityPool")
    );
    assert_eq!(
        trust[0]["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"].as_str(),
        Some("authenticated")
    );
    // The console's roles trust their own pool only, so a chat user's token reaches none of them.
    for other in ["ConsoleStartRole", "ConsoleRetrieveRole", "ConsoleRevokeRole"] {
        let trust = statements(&resource(&template, other)["Properties"]["AssumeRolePolicyDocument"]);
        assert_eq!(
            ref_target(&trust[0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"]),
            Some("ConsoleIdentityPool"),
            "{other}"
        );
    }

    let mut minting = Vec::new();
    for (id, policy) in resources_of_type(&template, "AWS::IAM::ManagedPolicy") {
        for statement in statements(&policy["Properties"]["PolicyDocument"]) {
            if allows(&statement, "cognito-identity:GetOpenIdTokenForDeveloperIdentity") {
                minting.push((id.clone(), sub_text(&statement["Resource"]).map(str::to_owned)));
            }
        }
    }
    for role in resources_of_type(&template, "AWS::IAM::Role").keys() {
        for statement in role_statements(&template, role) {
            assert!(
                !allows(&statement, "cognito-identity:GetOpenIdTokenForDeveloperIdentity"),
                "{role} may mint chat users' logins"
            );
        }
    }
    assert_eq!(
        minting,
        [(
            "ChatServiceConsoleSignInPolicy".to_owned(),
            Some(
                "arn:${AWS::Partition}:cognito-identity:${AWS::Region}:${AWS::AccountId}:identitypool/${ChatUserIdentityPool}"
                    .to_owned()
            )
        )]
    );
}
