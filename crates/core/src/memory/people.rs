//! The console's user pool in memory (the `People` port).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::error::Result;
use crate::domain::model::Person;
use crate::ports::People;

/// The console's pool: its id and its users by `sub`.
#[derive(Clone)]
pub struct FakePeople {
    pub pool_id: String,
    pub users: Arc<Mutex<HashMap<String, Person>>>,
}

impl Default for FakePeople {
    fn default() -> Self {
        Self { pool_id: "us-east-1_Console".into(), users: Arc::default() }
    }
}

impl FakePeople {
    /// Adds a user to the console's pool; returns their `sub`.
    pub fn add(&self, person: Person) -> String {
        let sub = crate::domain::ids::AccountId::random().to_string();
        self.users.lock().unwrap().insert(sub.clone(), person);
        sub
    }
}

impl People for FakePeople {
    async fn person(&self, pool_id: &str, sub: &str) -> Result<Option<Person>> {
        if pool_id != self.pool_id {
            return Ok(None);
        }
        Ok(self.users.lock().unwrap().get(sub).cloned())
    }
}
