//! The console's users on Cognito (the `People` port): the user pool user behind a console
//! request, by the `sub` API Gateway vouched for.

use aws_sdk_cognitoidentityprovider::Client;

use super::from_sdk;
use crate::config::{Config, ConfigError};
use crate::domain::error::Result;
use crate::domain::model::Person;
use crate::ports::People;

#[derive(Debug, Clone)]
pub struct CognitoPeople {
    client: Client,
    pool_id: String,
}

impl CognitoPeople {
    pub fn new(client: Client, pool_id: impl Into<String>) -> Self {
        Self { client, pool_id: pool_id.into() }
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
        let plausible =
            (1..=64).contains(&sub.len()) && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if self.pool_id.is_empty() || pool_id != self.pool_id || !plausible {
            return Ok(None);
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
        Ok(out.users().first().map(|user| {
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
        }))
    }
}
