//! What every Lambda entry point shares, so the function crates hold only how they answer: the
//! trust paths (API Gateway proxy events, direct invocations, EventBridge events) and their
//! refusals, who is calling, the refusal log, the API's replies and CORS, and the cold start.
//! Rules stay in export-core, which knows no event types.

pub mod api;
mod audit;
pub mod deadline;
mod proxy;
mod serve;
pub mod startup;
pub mod telemetry;
mod trust;

pub use audit::{Caller, log_unsuccessful};
pub use proxy::{Cors, to_function_url_response, to_proxy_response, to_value};
pub use serve::{ApiFunction, DirectFunction, UrlFunction, api_handler, direct_handler, url_handler};
pub use trust::*;
