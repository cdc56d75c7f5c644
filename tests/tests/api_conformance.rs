//! Schemathesis (PyPI, pinned in infra/local/requirements-schemathesis.lock) against the local gateway,
//! driven by the same OpenAPI document API Gateway imports (infra/api/openapi.yaml): generated and
//! mutated requests, valid and invalid, must never get a 5xx, and every response must match the
//! document (status codes, content types, schemas). Run alone after the other tests: it sends
//! hundreds of requests.
//!
//! Authentication is API Gateway's (AWS_IAM, SigV4); locally the gateway stands in for IAM with
//! LOCAL_PRINCIPAL (DESIGN §11), so Schemathesis gets the document without its security requirements.
//! The functions' own 403 without a principal is tested in start_export.rs and retrieve_export.rs.
//! Two checks are left out, because the behaviour is API Gateway's or deliberate:
//! * `unsupported_method`: API Gateway answers methods a route lacks (403 "Missing Authentication
//!   Token"), not our functions; Schemathesis expects 405.
//! * `positive_data_acceptance`: `nextToken` is opaque: a schema-valid string that is not a token we
//!   issued is refused with 400 on purpose.

use std::path::{Path, PathBuf};

use export_core::domain::model::AccountType;
use integration_tests::{Stack, repo_root, seed_account};

#[tokio::test]
async fn the_api_answers_generated_requests_as_its_openapi_document_says() {
    let stack = Stack::load();
    let account = seed_account(&stack, AccountType::Enterprise, false).await.id;
    // A chat user outside every account: the /users routes' caller.
    let user = export_core::domain::ids::UserId::random();
    let root = repo_root();
    let document = without_security(&root.join("infra/api/openapi.yaml"));
    let output = std::process::Command::new(root.join(".local/schemathesis/bin/st"))
        .arg("--config-file")
        .arg(root.join("tests/schemathesis.toml"))
        .arg("run")
        .arg(&document)
        .args(["--url", stack.var("API_URL")])
        .args(["--checks", "all"])
        .args(["--exclude-checks", "unsupported_method,positive_data_acceptance"])
        // One worker: with two, CPython 3.11's parser (Hypothesis describes strategies with
        // ast.parse) can fail with "AST constructor recursion depth mismatch".
        .args(["--phases", "examples,coverage,fuzzing", "--max-examples", "60", "--workers", "1"])
        .args(["--no-color", "--generation-database", "none"])
        .env("ST_ACCOUNT_ID", account.as_str())
        .env("ST_USER_ID", user.as_str())
        .output()
        .expect("Schemathesis is installed by infra/local/install.sh");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The summary's "N generated, N passed" line (a warning may mention "generated" too).
    let generated: u32 = report
        .lines()
        .filter(|line| line.contains(" generated"))
        .find_map(|line| line.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no test case count in:\n{report}"));
    assert!(generated >= 100, "only {generated} requests generated:\n{report}");
    // The seeded account was exercised: at most one export accepted in its window, the rest refused.
    let exports = stack.export_store();
    let page =
        export_core::ports::ExportStore::list(&exports, &account.clone().into(), 10, None).await.unwrap();
    assert!(page.items.len() <= 1, "one accepted request per window: {}", page.items.len());
    // The chat user was exercised too, as themselves: their one request of the window was accepted.
    let theirs =
        export_core::ports::ExportStore::list(&exports, &user.clone().into(), 10, None).await.unwrap();
    assert_eq!(theirs.items.len(), 1, "the user's routes reached start-export as the user");
}

/// The OpenAPI document minus its security requirements and schemes, in a temporary file.
fn without_security(path: &Path) -> PathBuf {
    let mut document: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (mut signed, mut preflights) = (0, 0);
    if let Some(paths) = document["paths"].as_mapping_mut() {
        for (_, operations) in paths.iter_mut() {
            for (method, operation) in operations.as_mapping_mut().unwrap().iter_mut() {
                let Some(op) = operation.as_mapping_mut() else { continue };
                match op.remove("security") {
                    // The CORS preflights (OPTIONS, mock integrations) are the only unsigned operations.
                    Some(s) if s.as_sequence().is_some_and(Vec::is_empty) => {
                        assert_eq!(method.as_str(), Some("options"), "only a preflight may be unsigned");
                        preflights += 1;
                    }
                    Some(_) => signed += 1,
                    None => panic!("{method:?}: every operation states its security"),
                }
            }
        }
    }
    assert_eq!((signed, preflights), (8, 6), "every route requires SigV4; each path has a preflight");
    if let Some(components) = document["components"].as_mapping_mut() {
        components.remove("securitySchemes");
    }
    let out = std::env::temp_dir().join(format!("openapi-{}.yaml", ulid::Ulid::new()));
    std::fs::write(&out, serde_yaml::to_string(&document).unwrap()).unwrap();
    out
}
