//! The self-service rules of DESIGN §15, as pure functions over what the directory says of one
//! chat user: **who may ask** (a user whom no account manages) and **which files** are theirs (the
//! original Assistant's rule).
//!
//! Who: a user who is a managed user of an Enterprise account is that account's to export (its IT
//! administrator asks); a member of a Team account must first be removed from the Team by its
//! administrator. Anyone else may ask, including a user an Enterprise account lists as a guest
//! (not managed). Each refusal names the account and nothing else of it.
//!
//! Which files: every file the user uploaded to DIRECT and GROUP conversations, in any account;
//! and every file, whoever uploaded it, of ROOM conversations whose room the user created. Never a
//! deleted file, nor one uploaded after the cutoff (or at or before an incremental `since`).

use std::collections::HashSet;

use crate::domain::error::{Error, Result};
use crate::domain::ids::{RoomId, UserId};
pub use crate::domain::manifest::InScopeBecause as Reason;
use crate::domain::model::{AccountType, Attachment, ConversationType, Membership, UnreadableAttachment};
use crate::domain::time::Timestamp;
use crate::ports::Directory;
use crate::rules::scope::{OutsideWindow, UploadWindow};

/// Whether the user may export their own files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    Eligible,
    /// A managed user of this Enterprise account (its name).
    Managed {
        account_name: String,
    },
    /// A member of this Team account (its name).
    TeamMember {
        team_name: String,
    },
}

/// The rule over every account that lists the user. Being managed comes first: that account's
/// administrators can export the files now, where a Team's must first remove the user.
pub fn eligibility(memberships: &[Membership]) -> Eligibility {
    let managed = memberships.iter().find(|m| m.managed && m.account.account_type == AccountType::Enterprise);
    if let Some(m) = managed {
        return Eligibility::Managed { account_name: m.account.name.clone() };
    }
    match memberships.iter().find(|m| m.account.account_type == AccountType::Team) {
        Some(m) => Eligibility::TeamMember { team_name: m.account.name.clone() },
        None => Eligibility::Eligible,
    }
}

impl Eligibility {
    /// The refusal a request of an ineligible user gets (422, as a Team account's does): the
    /// guidance, naming the account and nothing else of it.
    pub fn refusal(&self) -> Option<Error> {
        match self {
            Eligibility::Eligible => None,
            Eligibility::Managed { account_name } => Some(Error::Unprocessable(format!(
                "Your account is managed by {account_name}. Its IT administrator can request an export \
                 of your attachments: ask your IT administrator."
            ))),
            Eligibility::TeamMember { team_name } => Some(Error::Unprocessable(format!(
                "You are a member of the Team {team_name}. Ask the Team's administrator to remove you \
                 from the Team first; then you can get your attachments yourself."
            ))),
        }
    }
}

/// What a self-service request gets when the operator turned self-service off.
pub const SELF_SERVICE_OFF: &str = "Getting your own attachments is turned off for this service. Ask the \
service's operator; an account's IT administrators can still export their users' files.";

/// Whether the operator left self-service on (`SELF_SERVICE_ENABLED`): the one refusal that
/// also holds for a user's exports made before.
pub fn require_enabled(enabled: bool) -> Result<()> {
    if enabled { Ok(()) } else { Err(Error::Forbidden(SELF_SERVICE_OFF.to_owned())) }
}

/// Whether `user` may export their own files now: self-service is `enabled`, and the directory's
/// memberships pass [`eligibility`]. Every entry point (the API, the Assistant, the console's
/// view) asks this, so all refuse alike.
pub async fn require<D: Directory>(enabled: bool, directory: &D, user: &UserId) -> Result<()> {
    require_enabled(enabled)?;
    let memberships = directory.memberships(user).await?;
    match eligibility(&memberships).refusal() {
        Some(refusal) => {
            tracing::info!(%user, code = refusal.code(), "self-service refused");
            Err(refusal)
        }
        None => Ok(()),
    }
}

/// Why a file is in or out of a user's export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelfDecision {
    InScope(Reason),
    Deleted,
    AfterCutoff,
    BeforeSince,
    /// Someone else's DIRECT or GROUP upload, or the user's own upload to a room they did not
    /// create, or a file of a room they did not create.
    NotTheUsers,
}

/// A user's scope: the user, and the rooms they created (in any account).
#[derive(Debug, Clone)]
pub struct SelfScope {
    user: UserId,
    window: UploadWindow,
    rooms: HashSet<RoomId>,
}

impl From<OutsideWindow> for SelfDecision {
    fn from(outside: OutsideWindow) -> Self {
        match outside {
            OutsideWindow::Deleted => SelfDecision::Deleted,
            OutsideWindow::AfterCutoff => SelfDecision::AfterCutoff,
            OutsideWindow::BeforeSince => SelfDecision::BeforeSince,
        }
    }
}

impl SelfScope {
    pub fn new(user: UserId, cutoff: Timestamp, rooms: impl IntoIterator<Item = RoomId>) -> Self {
        Self { user, window: UploadWindow { cutoff, since: None }, rooms: rooms.into_iter().collect() }
    }

    pub fn with_since(mut self, since: Option<Timestamp>) -> Self {
        self.window.since = since;
        self
    }

    pub fn decide(&self, a: &Attachment) -> SelfDecision {
        if let Some(outside) = self.window.outside(a) {
            return outside.into();
        }
        match a.conversation_type {
            ConversationType::Direct | ConversationType::Group if a.uploader_id == self.user => {
                SelfDecision::InScope(Reason::OwnUpload)
            }
            ConversationType::Room if self.rooms.contains(&RoomId::from(&a.conversation_id)) => {
                SelfDecision::InScope(Reason::CreatedRoom)
            }
            _ => SelfDecision::NotTheUsers,
        }
    }

    /// Whether an unreadable catalog item of the user's listing is reported (errors.csv): by the
    /// same rule as far as its attributes can be read; one whose conversation type cannot be read
    /// came from the user's own sources (their uploads, their rooms) and is reported.
    pub fn includes_unreadable(&self, u: &UnreadableAttachment) -> bool {
        if !self.window.may_hold(u) {
            return false;
        }
        match u.conversation_type {
            Some(ConversationType::Direct | ConversationType::Group) => u.uploader_id == self.user.as_str(),
            Some(ConversationType::Room) => {
                RoomId::parse(&u.conversation_id).is_ok_and(|id| self.rooms.contains(&id))
            }
            None => true,
        }
    }

    /// The user whose scope it is.
    pub fn user(&self) -> &UserId {
        &self.user
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::ids::{AccountId, ConversationId};
    use crate::domain::model::Account;

    fn account(kind: AccountType, name: &str) -> Account {
        Account {
            account_id: Some(AccountId::random()),
            account_type: kind,
            name: name.into(),
            domains: vec!["secret.example".into()],
            scheduled_exports: false,
            scheduled_exports_incremental: false,
        }
    }

    fn member(kind: AccountType, name: &str, managed: bool) -> Membership {
        Membership { account: account(kind, name), managed }
    }

    #[test]
    fn only_a_user_no_account_manages_and_no_team_holds_may_ask() {
        use AccountType::{Enterprise, Team};
        assert_eq!(eligibility(&[]), Eligibility::Eligible, "outside every account");
        assert_eq!(eligibility(&[member(Enterprise, "Guest Host", false)]), Eligibility::Eligible, "a guest");
        let managed = eligibility(&[member(Enterprise, "Acme", true)]);
        assert_eq!(managed, Eligibility::Managed { account_name: "Acme".into() });
        let team = eligibility(&[member(Team, "Book Club", false)]);
        assert_eq!(team, Eligibility::TeamMember { team_name: "Book Club".into() });
        // Managed comes first, whatever the order.
        let both = [member(Team, "Book Club", false), member(Enterprise, "Acme", true)];
        assert_eq!(eligibility(&both), Eligibility::Managed { account_name: "Acme".into() });
        // "managed" on a Team account's item does not make it an Enterprise's.
        let team_managed = eligibility(&[member(Team, "Book Club", true)]);
        assert_eq!(team_managed, Eligibility::TeamMember { team_name: "Book Club".into() });
    }

    #[test]
    fn a_refusal_names_the_account_and_nothing_else_of_it() {
        assert!(Eligibility::Eligible.refusal().is_none());
        for (who, name, says) in [
            (Eligibility::Managed { account_name: "Acme".into() }, "Acme", "IT administrator"),
            (
                Eligibility::TeamMember { team_name: "Book Club".into() },
                "Book Club",
                "remove you from the Team",
            ),
        ] {
            let refusal = who.refusal().unwrap();
            assert_eq!(refusal.code(), "UnprocessableEntityException");
            let message = refusal.to_string();
            assert!(message.contains(name) && message.contains(says), "{message}");
            assert!(!message.contains("secret.example"), "a domain of the account: {message}");
        }
    }

    use crate::testing::attachment;

    /// Every conversation type × the user's own upload or another's × a room the user created or
    /// not × deleted × before, at and after the cutoff × before and after `since`, against the rule
    /// written out independently.
    #[test]
    fn the_whole_matrix() {
        let cutoff = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let since = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
        let (me, other) = (UserId::random(), UserId::random());
        let (my_room, their_room) = (ConversationId::random(), ConversationId::random());
        let scope = SelfScope::new(me.clone(), cutoff, [RoomId::from(&my_room)]).with_since(Some(since));
        let times = [
            (since, false, true),
            (since.plus(Duration::from_millis(1)), false, false),
            (cutoff, false, false),
            (cutoff.plus(Duration::from_millis(1)), true, false),
        ];
        let mut kept = 0;
        for kind in ConversationType::ALL {
            for (conversation, mine_room) in [(my_room.clone(), true), (their_room.clone(), false)] {
                for (uploader, mine) in [(&me, true), (&other, false)] {
                    for deleted in [false, true] {
                        for (at, after_cutoff, before_since) in times {
                            let mut a = attachment(kind, &conversation, uploader, at);
                            a.deleted = deleted;
                            let reason = match kind {
                                ConversationType::Direct | ConversationType::Group => {
                                    mine.then_some(Reason::OwnUpload)
                                }
                                ConversationType::Room => mine_room.then_some(Reason::CreatedRoom),
                            };
                            let expected = match (deleted, after_cutoff, before_since, reason) {
                                (true, ..) => SelfDecision::Deleted,
                                (_, true, ..) => SelfDecision::AfterCutoff,
                                (_, _, true, _) => SelfDecision::BeforeSince,
                                (_, _, _, Some(r)) => SelfDecision::InScope(r),
                                _ => SelfDecision::NotTheUsers,
                            };
                            assert_eq!(
                                scope.decide(&a),
                                expected,
                                "{kind} mine={mine} my_room={mine_room} deleted={deleted} at={at}"
                            );
                            kept += usize::from(matches!(expected, SelfDecision::InScope(_)));
                        }
                    }
                }
            }
        }
        // DIRECT and GROUP: my uploads × 2 conversations × 2 times; ROOM: my room × 2 uploaders × 2 times.
        assert_eq!(kept, 2 * 2 * 2 + 2 * 2);
    }
}
