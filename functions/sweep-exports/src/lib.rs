//! sweep-exports' handler: takes only the Scheduled Events of its two rules — the daily rule
//! (`SWEEP_RULE_NAME`) begins a sweep, the resume rule (`SWEEP_RESUME_RULE_NAME`) continues an
//! unfinished one — and refuses everything else with `WrongEntryPointException`. The rules live in
//! `export_core::rules::sweep`.

use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use entry::{Shape, to_value};
use export_core::aws::Aws;
use export_core::config::ConfigError;
use export_core::rules::sweep::{Budget, Sweeper, Trigger};
use export_core::{Backend, Error, Timestamp};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Stop before a new page when less than this is left of the invocation: a page of accounts (at
/// most 500, each a few DynamoDB calls and perhaps a StartExecution) ends well inside it.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(120);

/// The sweep, and which events it takes.
pub struct SweepExports<B: Backend> {
    pub sweeper: Sweeper<B>,
    /// The names of the daily and the resume rule.
    pub rules: (String, String),
    pub max_items: Option<u32>,
}

impl SweepExports<Aws> {
    pub fn on_aws(config: &export_core::Config, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let (daily, resume) = config.sweep_rules()?;
        Ok(SweepExports {
            sweeper: Sweeper::on_aws(config, sdk)?,
            rules: (daily.to_owned(), resume.to_owned()),
            max_items: config.sweep_max_items,
        })
    }
}

const SERVES: &str = "the Scheduled Events of its two EventBridge rules";

/// Which of the two rules sent this event; anything else is refused.
fn trigger(payload: Value, rules: &(String, String)) -> Result<(Trigger, String), Error> {
    let shape = entry::shape_of(&payload);
    let refuse = || entry::wrong_entry_point("sweep-exports", SERVES, shape);
    if shape != Shape::EventBridge {
        return Err(refuse());
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload).map_err(|_| refuse())?;
    let scheduled = event.detail_type == "Scheduled Event" && event.source == "aws.events";
    // EventBridge names the rule in `resources`: arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME.
    let rule_arn = event.resources.as_ref().and_then(|r| r.first()).cloned().unwrap_or_default();
    let rule_name = rule_arn.rsplit('/').next().unwrap_or_default();
    match rule_name {
        name if scheduled && name == rules.0 => Ok((Trigger::Begin, rule_arn)),
        name if scheduled && name == rules.1 => Ok((Trigger::Resume, rule_arn)),
        _ => Err(Error::WrongEntryPoint(format!(
            "sweep-exports takes {SERVES} ({} and {}) only; this event is not one of them. Nothing was read or recorded.",
            rules.0, rules.1
        ))),
    }
}

pub async fn handler<B: Backend>(
    function: &SweepExports<B>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let (trigger, rule) = trigger(event.payload, &function.rules).inspect_err(|e| {
        entry::log_unsuccessful(
            "sweep-exports",
            &entry::Caller::unknown("unknown (not its rules)"),
            "lambda:Invoke",
            e,
        )
    })?;
    let budget = budget(event.context.deadline, function.max_items);
    to_value(&function.sweeper.advance(trigger, &rule, &budget).await?)
}

/// The invocation's budget from its deadline (milliseconds since the epoch; 0 when unknown).
fn budget(deadline_ms: u64, max_items: Option<u32>) -> Budget {
    let now = Timestamp::now();
    let deadline = i64::try_from(deadline_ms).ok().and_then(Timestamp::from_unix_millis).filter(|d| *d > now);
    let remaining = deadline.map(|d| Duration::from_millis(now.seconds_until(&d) * 1000));
    Budget {
        stop_at: remaining.map(|r| Instant::now() + r.saturating_sub(SAFETY_MARGIN)),
        max_items,
        // Without a known deadline, assume Lambda's longest.
        lease_until: deadline
            .unwrap_or_else(|| now.plus(Duration::from_secs(900)))
            .plus(Duration::from_secs(5)),
    }
}

#[cfg(test)]
mod tests {
    use export_core::domain::model::AccountType;
    use export_core::memory::{Harness, InMemory, World};
    use export_core::ports::SweepLedger;
    use lambda_runtime::Context;

    use super::*;

    #[derive(Debug, Clone, Copy)]
    pub(super) enum Expect {
        Outcome(&'static str),
        FunctionError(&'static str),
    }

    pub(super) const EVENTS: &[(&str, Expect)] = &[
        ("daily.json", Expect::Outcome("done")),
        ("resume.json", Expect::Outcome("idle")),
        ("other-rule.json", Expect::FunctionError("WrongEntryPointException")),
        ("custom-source.json", Expect::FunctionError("WrongEntryPointException")),
        ("direct-payload.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    type TestDeps = Harness<SweepExports<InMemory>>;

    /// The sample events under events/sweep-exports/, each with its outcome from the table.
    pub(super) fn events() -> Vec<(&'static str, &'static str, Expect)> {
        export_core::testing::sample_events(env!("CARGO_MANIFEST_DIR"), "sweep-exports", EVENTS)
    }

    pub(super) fn deps() -> TestDeps {
        let world = World::at("2026-11-30T03:00:00Z");
        world.directory.add_account(AccountType::Enterprise, true);
        let function = SweepExports {
            sweeper: world.sweeper(Duration::from_secs(604_800), true),
            rules: ("attachment-export-sweep".into(), "attachment-export-sweep-resume".into()),
            max_items: None,
        };
        Harness { world, function }
    }

    async fn invoke(deps: &TestDeps, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).expect("sample event is JSON");
        handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        for (name, json, expect) in events() {
            let deps = deps();
            match (expect, invoke(&deps, json).await) {
                (Expect::Outcome(outcome), Ok(reply)) => {
                    assert_eq!(reply["outcome"], outcome, "{name}: {reply}")
                }
                (Expect::FunctionError(code), Err(e)) => {
                    assert_eq!(e.code(), code, "{name}: {e}");
                    assert!(deps.workflow.started.lock().unwrap().is_empty(), "{name}: nothing started");
                    assert!(deps.ledger.load().await.unwrap().is_none(), "{name}: no sweep begun");
                }
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }

    #[tokio::test]
    async fn the_daily_rule_begins_and_the_resume_rule_continues() {
        let mut deps = deps();
        for _ in 0..4 {
            deps.directory.add_account(AccountType::Enterprise, true);
        }
        deps.function.max_items = Some(2);
        let first = invoke(&deps, include_str!("../../../events/sweep-exports/daily.json")).await.unwrap();
        assert_eq!(first["outcome"], "progress");
        assert_eq!(
            first["sweep"]["rule"], "arn:aws:events:us-east-1:123456789012:rule/attachment-export-sweep",
            "the exports it starts name the rule"
        );
        let mut last = first;
        for _ in 0..10 {
            if last["outcome"] == "done" {
                break;
            }
            last = invoke(&deps, include_str!("../../../events/sweep-exports/resume.json")).await.unwrap();
        }
        assert_eq!(last["outcome"], "done");
        assert_eq!(last["sweep"]["report"]["started"], 5);
        assert!(last["sweep"]["invocations"].as_u64().unwrap() > 2);
    }

    #[test]
    fn the_budget_leaves_a_margin_before_the_deadline() {
        let now = Timestamp::now().unix_millis() as u64;
        let full = budget(now + 900_000, None);
        let left = full.stop_at.unwrap().saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(900) - SAFETY_MARGIN && left > Duration::from_secs(700),
            "{left:?}"
        );
        assert!(full.lease_until > Timestamp::now().plus(Duration::from_secs(899)));
        // No deadline known (0): only the item cap, and a lease of Lambda's longest run.
        let unknown = budget(0, Some(7));
        assert!(unknown.stop_at.is_none());
        assert_eq!(unknown.max_items, Some(7));
    }
}

#[cfg(test)]
mod fuzz {
    //! Hostile events never panic, never start a sweep, and fail with a documented errorType.
    use fuzzing::*;
    use lambda_runtime::Context;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;

    fn samples() -> Vec<(&'static str, &'static str)> {
        super::tests::events().into_iter().map(|(name, json, _)| (name, json)).collect()
    }

    fn run(event: &Value) -> Result<(), TestCaseError> {
        let deps = super::tests::deps();
        let outcome =
            runtime().block_on(handler(&deps.function, LambdaEvent::new(event.clone(), Context::default())));
        check_api_outcome(outcome, event, false)
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

        #[test]
        fn arbitrary_json_is_refused_cleanly(event in json_value()) {
            run(&event)?;
        }

        #[test]
        fn mutated_sample_events_are_refused_cleanly((_name, event) in mutated(samples())) {
            run(&event)?;
        }
    }
}
