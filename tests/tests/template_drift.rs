//! No drift between the deployable template and the local stack: every table and bucket of
//! template.yaml exists locally with the same keys and indexes, and the local stack has no others;
//! the local gateway enforces the template's web ACL rules and stage throttle.

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::{Stack, asl_placeholders, repo_root, resources_of_type, template};
use serde_yaml::Value;

/// Local names of the template's resources (logical id → stack variable holding the local name).
const TABLE_VARIABLES: [(&str, &str); 3] = [
    ("AccountsTable", "ACCOUNTS_TABLE"),
    ("AttachmentsTable", "ATTACHMENTS_TABLE"),
    ("ExportsTable", "EXPORTS_TABLE"),
];
const BUCKET_VARIABLES: [(&str, &str); 2] =
    [("AttachmentBucket", "ATTACHMENT_BUCKET"), ("ExportBucket", "EXPORT_BUCKET")];

/// A table's shape: key schema, attribute types, and each GSI's key schema and projection.
#[derive(Debug, PartialEq, Eq)]
struct TableShape {
    keys: Vec<(String, String)>,
    attributes: BTreeMap<String, String>,
    indexes: BTreeMap<String, (Vec<(String, String)>, String)>,
}

fn key_schema(v: &Value) -> Vec<(String, String)> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_owned(), k["KeyType"].as_str().unwrap().to_owned()))
        .collect()
}

fn template_shape(table: &Value) -> TableShape {
    let p = &table["Properties"];
    TableShape {
        keys: key_schema(&p["KeySchema"]),
        attributes: p["AttributeDefinitions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["AttributeName"].as_str().unwrap().to_owned(),
                    a["AttributeType"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
        indexes: p["GlobalSecondaryIndexes"]
            .as_sequence()
            .map(|s| s.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|g| {
                (
                    g["IndexName"].as_str().unwrap().to_owned(),
                    (
                        key_schema(&g["KeySchema"]),
                        g["Projection"]["ProjectionType"].as_str().unwrap().to_owned(),
                    ),
                )
            })
            .collect(),
    }
}

fn local_shape(t: &aws_sdk_dynamodb::types::TableDescription) -> TableShape {
    let keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        ks.iter()
            .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
            .collect::<Vec<_>>()
    };
    TableShape {
        keys: keys(t.key_schema()),
        attributes: t
            .attribute_definitions()
            .iter()
            .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
            .collect(),
        indexes: t
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                let projection =
                    g.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_owned());
                (g.index_name().unwrap().to_owned(), (keys(g.key_schema()), projection.unwrap_or_default()))
            })
            .collect(),
    }
}

#[tokio::test]
async fn local_tables_equal_the_templates() {
    let stack = Stack::load();
    let ddb = stack.dynamodb();
    let tables = resources_of_type(&template(), "AWS::DynamoDB::Table");
    let names: BTreeSet<_> = tables.keys().cloned().collect();
    let mapped: BTreeSet<_> = TABLE_VARIABLES.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(names, mapped, "template tables and the stack's table variables differ");

    for (logical_id, variable) in TABLE_VARIABLES {
        let local = ddb
            .describe_table()
            .table_name(stack.var(variable))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{logical_id} ({}) missing locally: {e}", stack.var(variable)));
        let local = local.table().unwrap();
        assert_eq!(local_shape(local), template_shape(&tables[logical_id]), "{logical_id} drifted");
        let billing = local.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str());
        assert_eq!(billing, Some("PAY_PER_REQUEST"), "{logical_id} must be on-demand");
    }
    let listed: BTreeSet<String> =
        ddb.list_tables().send().await.unwrap().table_names().iter().cloned().collect();
    let expected: BTreeSet<String> = TABLE_VARIABLES.iter().map(|(_, v)| stack.var(v).to_owned()).collect();
    assert_eq!(listed, expected, "the local stack has tables the template does not");
}

#[tokio::test]
async fn local_buckets_equal_the_templates() {
    let stack = Stack::load();
    let s3 = stack.s3();
    // The invoke trail's bucket has no local counterpart (infra/local/tools/provision.py), and
    // the console's files are served from console/dist by infra/local/servers/console_server.py.
    let buckets: BTreeSet<_> = resources_of_type(&template(), "AWS::S3::Bucket")
        .into_keys()
        .filter(|id| id != "InvokeTrailBucket" && id != "ConsoleBucket")
        .collect();
    let mapped: BTreeSet<_> = BUCKET_VARIABLES.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(buckets, mapped, "template buckets and the stack's bucket variables differ");
    let listed: BTreeSet<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    let expected: BTreeSet<String> = BUCKET_VARIABLES.iter().map(|(_, v)| stack.var(v).to_owned()).collect();
    assert_eq!(listed, expected);
}

/// The local gateway enforces the web ACL and the stage's throttle of template.yaml (`GET
/// /__limits`), each limit the template's default unless the gateway names it as one of the local
/// stack's own values (infra/local/lib/local_template.py `LOCAL_PARAMETERS`), and the only one it
/// names is the per-address limit (every local client is 127.0.0.1).
#[tokio::test]
async fn the_local_gateway_enforces_the_templates_limits() {
    let stack = Stack::load();
    let limits: serde_json::Value = reqwest::get(format!("{}/__limits", stack.var("API_URL")))
        .await
        .expect("the local gateway answers /__limits")
        .json()
        .await
        .unwrap();
    let template = template();
    let local = limits["localParameters"].as_object().expect("localParameters");
    assert_eq!(local.keys().collect::<Vec<_>>(), ["IpRequestsPerMinute"], "{limits}");
    // A limit's value locally: the local stack's own, else the parameter's default.
    let value = |limit: &Value| -> f64 {
        let Value::Tagged(tagged) = limit else { return limit.as_f64().expect("a number") };
        let parameter = tagged.value.as_str().expect("!Ref Parameter");
        match local.get(parameter) {
            Some(own) => own.as_str().expect("a parameter value").parse().unwrap(),
            None => template["Parameters"][parameter]["Default"].as_f64().expect("a default"),
        }
    };

    let acls = resources_of_type(&template, "AWS::WAFv2::WebACL");
    let acl = &acls.values().next().expect("the template's web ACL")["Properties"];
    let enforced = limits["webAcl"]["rules"].as_array().expect("the gateway enforces a web ACL");
    let rules = acl["Rules"].as_sequence().unwrap();
    assert_eq!(enforced.len(), rules.len(), "{limits}");
    for rule in rules {
        let name = rule["Name"].as_str().unwrap();
        let statement = &rule["Statement"]["RateBasedStatement"];
        let enforced_rule =
            enforced.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name} is not enforced"));
        assert_eq!(enforced_rule["limit"].as_f64(), Some(value(&statement["Limit"])), "{name}");
        assert_eq!(
            enforced_rule["windowSeconds"].as_u64(),
            statement["EvaluationWindowSec"].as_u64(),
            "{name}"
        );
        assert_eq!(enforced_rule["priority"].as_u64(), rule["Priority"].as_u64(), "{name}");
        let keys = match statement["AggregateKeyType"].as_str() {
            Some("IP") => serde_json::json!(["ip"]),
            _ => serde_json::json!([format!(
                "header:{}",
                statement["CustomKeys"][0]["Header"]["Name"].as_str().unwrap().to_ascii_lowercase()
            )]),
        };
        assert_eq!(enforced_rule["keys"], keys, "{name}");
    }

    let api = resources_of_type(&template, "AWS::Serverless::Api").remove("ExportApi").unwrap();
    let setting = &api["Properties"]["MethodSettings"][0];
    let stage = &limits["stageThrottle"];
    assert_eq!(stage["rateLimit"].as_f64(), Some(value(&setting["ThrottlingRateLimit"])), "{limits}");
    assert_eq!(stage["burstLimit"].as_f64(), Some(value(&setting["ThrottlingBurstLimit"])), "{limits}");
    assert_eq!(stage["per"], "method");
}

#[test]
fn the_state_machine_names_only_functions_of_the_workspace() {
    let placeholders = asl_placeholders();
    assert!(!placeholders.is_empty());
    for p in placeholders {
        let crate_name = p
            .strip_suffix("FunctionArn")
            .unwrap_or_else(|| panic!("unknown placeholder {p}"))
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let lower = c.to_ascii_lowercase();
                if c.is_ascii_uppercase() && i > 0 { vec!['-', lower] } else { vec![lower] }
            })
            .collect::<String>();
        assert!(
            repo_root().join("functions").join(&crate_name).join("Cargo.toml").exists(),
            "{p}: no crate {crate_name}"
        );
    }
}
