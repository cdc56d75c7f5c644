//! The console's users on Cognito (the `People` port): the user pool user behind a console
//! request, by the `sub` API Gateway vouched for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::Client;

use super::from_sdk;
use crate::config::{Config, ConfigError};
use crate::domain::error::Result;
use crate::domain::model::{Person, is_user_pool_sub};
use crate::ports::People;

/// How long a function keeps a user's name: ListUsers has a small per-account quota, and a console
/// that polls an export's view would otherwise call it on every request. A name changed by an
/// operator shows within this time.
const REMEMBERED: Duration = Duration::from_secs(300);

/// When the pool was asked, and what it said.
type Remembered = (Instant, Option<Person>);

#[derive(Debug, Clone)]
pub struct CognitoPeople {
    client: Client,
    pool_id: String,
    /// By `sub`: who the pool said, and when.
    remembered: Arc<Mutex<HashMap<String, Remembered>>>,
}

impl CognitoPeople {
    pub fn new(client: Client, pool_id: impl Into<String>) -> Self {
        Self { client, pool_id: pool_id.into(), remembered: Arc::default() }
    }

    /// For a function no console user calls (the direct invocations): it names nobody, is given no
    /// `USER_POOL_ID`, and may not list the pool's users.
    pub fn nobody(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk), "")
    }

    /// The pool named by `USER_POOL_ID` (the two API functions).
    pub fn from_config(
        sdk: &aws_config::SdkConfig,
        config: &Config,
    ) -> std::result::Result<Self, ConfigError> {
        Ok(Self::new(Client::new(sdk), config.user_pool_id()?))
    }
}

impl People for CognitoPeople {
    async fn person(&self, pool_id: &str, sub: &str) -> Result<Option<Person>> {
        // Only the console's pool; and only a sub that cannot change the filter's meaning.
        if self.pool_id.is_empty() || pool_id != self.pool_id || !is_user_pool_sub(sub) {
            return Ok(None);
        }
        if let Some((_, person)) =
            self.remembered.lock().unwrap().get(sub).filter(|(at, _)| at.elapsed() < REMEMBERED)
        {
            return Ok(person.clone());
        }
        let out = self
            .client
            .list_users()
            .user_pool_id(&self.pool_id)
            .filter(format!("sub = \"{sub}\""))
            .limit(1)
            .send()
            .await
            .map_err(|e| from_sdk("ListUsers", e))?;
        let person = out.users().first().map(|user| {
            let attribute = |name: &str| {
                user.attributes()
                    .iter()
                    .find(|a| a.name() == name)
                    .and_then(|a| a.value())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            Person {
                username: user.username().unwrap_or(sub).to_owned(),
                name: attribute("name"),
                email: attribute("email"),
            }
        });
        let mut remembered = self.remembered.lock().unwrap();
        // Bounded: one entry per console user seen by this environment, at most a few thousand.
        if remembered.len() > 10_000 {
            remembered.clear();
        }
        remembered.insert(sub.to_owned(), (Instant::now(), person.clone()));
        Ok(person)
    }
}
