//! A clock the test moves by hand (the `Clock` port).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::time::Timestamp;
use crate::ports::Clock;

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct FixedClock(Arc<Mutex<Timestamp>>);

impl FixedClock {
    pub fn at(t: &str) -> Self {
        Self(Arc::new(Mutex::new(Timestamp::parse(t).unwrap())))
    }

    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap();
        *t = t.plus(d);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}
