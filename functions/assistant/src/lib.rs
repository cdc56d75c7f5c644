//! The Assistant's handler (DESIGN §15) over `export_core::rules::assistant`: one trust path, the
//! chat service's direct invocation `{"userId", "text"}` → `{"reply"}`. The chat service vouches
//! for the sender's user id; only its role may invoke the function (the `ChatServiceAssistant`
//! policy; no other policy of the stack, the operator's included, names it). API Gateway's,
//! EventBridge's and function URL events are refused with `WrongEntryPointException` before
//! anything is read. No rules live here.

use entry::DirectFunction;
use export_core::aws::Aws;
use export_core::config::ConfigError;
use export_core::domain::ids::UserId;
use export_core::rules::assistant::Assistant;
use export_core::rules::start::Starter;
use export_core::{Backend, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct AssistantFunction<B: Backend> {
    pub assistant: Assistant<B>,
}

impl AssistantFunction<Aws> {
    pub fn on_aws(config: &export_core::Config, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Ok(Self { assistant: Assistant { starter: Starter::on_aws(config, sdk)? } })
    }
}

/// What the chat service sends: the sender of a 1:1 message to the Assistant, and its text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Message {
    pub user_id: String,
    pub text: String,
}

/// What the chat service posts back to the user.
#[derive(Debug, Serialize)]
pub struct Reply {
    pub reply: String,
}

const SHAPE: &str = "the chat service's message {\"userId\": \"<uuid>\", \"text\": \"...\"}";

impl<B: Backend> DirectFunction for AssistantFunction<B> {
    const NAME: &'static str = "assistant";

    async fn invoke(&self, payload: Value) -> Result<Value, Error> {
        let message: Message = entry::direct_payload_naming(Self::NAME, SHAPE, "userId", payload)?;
        let user = UserId::parse(&message.user_id)?;
        // Boxed: the answer's future (a start behind a confirmation) is deep for the runtime's main.
        let reply = Box::pin(self.assistant.answer(&user, &message.text)).await?;
        entry::to_value(&Reply { reply })
    }
}

#[cfg(test)]
mod tests {
    use export_core::memory::{InMemory, World};
    use export_core::testing::sample_events;
    use lambda_runtime::{Context, LambdaEvent};

    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Expect {
        /// A reply that starts so.
        Reply(&'static str),
        FunctionError(&'static str),
    }

    /// Every sample event of the assistant (events/assistant/), with its declared outcome.
    const EVENTS: &[(&str, Expect)] = &[
        ("help.json", Expect::Reply("I can export every file")),
        ("get-my-attachments.json", Expect::Reply("To confirm, send this within 10 minutes")),
        ("confirm-wrong-code.json", Expect::Reply("That confirmation code does not work")),
        ("unknown-text.json", Expect::Reply("Sorry, I did not understand")),
        ("bad-user-id.json", Expect::FunctionError("BadRequestException")),
        ("unknown-field.json", Expect::FunctionError("BadRequestException")),
        ("api-gateway-event.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    fn function(world: &World) -> AssistantFunction<InMemory> {
        AssistantFunction {
            assistant: Assistant { starter: world.starter(std::time::Duration::from_secs(604_800)) },
        }
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        for (name, json, expect) in sample_events(env!("CARGO_MANIFEST_DIR"), "assistant", EVENTS) {
            let world = World::at("2026-11-24T10:00:00Z");
            let event = LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default());
            let outcome = entry::direct_handler(&function(&world), event).await;
            match (expect, outcome) {
                (Expect::Reply(start), Ok(value)) => {
                    let reply = value["reply"].as_str().unwrap_or_default();
                    assert!(reply.starts_with(start), "{name}: {reply}");
                }
                (Expect::FunctionError(code), Err(e)) => assert_eq!(e.code(), code, "{name}"),
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
            assert!(world.workflow.started.lock().unwrap().is_empty(), "{name} started an export");
        }
    }
}
