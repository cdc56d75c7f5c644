//! The scale model (`export_core::scale`, DESIGN §6) against AWS's quotas, and DEPLOY.md's cost
//! table against the model: for 1M, 10M, 100M and 1B attachments, with and without the object
//! checks, no execution's history, no payload, no invocation and no export's wall time crosses a
//! quota or the state machine's own limits, and the model's assumptions are the template's.

use export_core::scale::{self, Deployment};
use integration_tests::repo_root;

fn asl() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("infra/statemachine/export.asl.json")).unwrap(),
    )
    .unwrap()
}

fn template() -> serde_yaml::Value {
    integration_tests::template()
}

#[test]
fn no_export_up_to_a_billion_attachments_crosses_a_quota() {
    let d = Deployment::from_asl(&asl());
    for s in scale::table(&d) {
        let crossed = d.crossings(&s);
        assert!(crossed.is_empty(), "{} attachments ({:?}): {crossed:?}\n{s:#?}", s.attachments, s.checks);
    }
    // And the model can see a crossing: the former 6-hour limit, or Finalize in one pass at 1B.
    let mut six_hours = d.clone();
    six_hours.timeout_seconds = 21_600.0;
    let billion = six_hours.export(1_000_000_000, scale::Checks::Unchecked);
    assert!(!six_hours.crossings(&billion).is_empty(), "{billion:#?}");
    let mut one_group = d.clone();
    one_group.group_parts = 1;
    let crossed = one_group.crossings(&one_group.export(1_000_000_000, scale::Checks::Unchecked));
    assert!(crossed.iter().any(|c| c.contains("assembly groups")), "{crossed:?}");
}

/// The model's assumptions of the deployment are the template's defaults.
#[test]
fn the_models_defaults_are_the_templates() {
    let template = template();
    let default =
        |name: &str| template["Parameters"][name]["Default"].as_u64().unwrap_or_else(|| panic!("{name}"));
    assert_eq!(default("PartItems"), export_core::rules::pipeline::DEFAULT_PART_ITEMS as u64);
    assert_eq!(default("MaxReadRate"), scale::DEFAULT_MAX_READ_RATE);
    assert_eq!(default("MaxCheckRate"), scale::DEFAULT_MAX_CHECK_RATE);
    assert_eq!(default("UrlExpirySeconds") as f64, scale::assumed::URL_EXPIRY_SECONDS);
    let memory =
        |function: &str| template["Resources"][function]["Properties"]["MemorySize"].as_u64().unwrap();
    assert_eq!(memory("EnumerateAttachmentsFunction"), scale::ENUMERATE_MEMORY_MB);
    assert_eq!(memory("WriteManifestFunction"), scale::WRITE_MANIFEST_MEMORY_MB);
}

/// DEPLOY.md's table is the model's, between its markers.
#[test]
fn deploys_cost_table_is_the_models() {
    let deploy = std::fs::read_to_string(repo_root().join("docs/DEPLOY.md")).unwrap();
    let (begin, end) = ("<!-- scale-model:begin -->\n", "<!-- scale-model:end -->");
    let at = deploy.find(begin).expect("DEPLOY.md marks the model's table") + begin.len();
    let table = &deploy[at..at + deploy[at..].find(end).expect("the table's end marker")];
    let model = scale::markdown(&Deployment::from_asl(&asl()));
    assert_eq!(table, model, "regenerate with: cargo run -p bench -- scale --markdown");
}
