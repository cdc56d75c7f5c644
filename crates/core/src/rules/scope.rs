//! The scope rule of DESIGN §1, as a pure function over data loaded once per export.
//!
//! In scope: (a) attachments that **managed** users uploaded into DIRECT and GROUP conversations;
//! (b) **all** attachments, whoever uploaded them, in ROOM conversations whose room was created by a
//! managed user of the account. Never: deleted attachments, or anything uploaded after the cutoff.

use std::collections::HashSet;

use crate::domain::ids::{RoomId, UserId};
use crate::domain::model::{Attachment, ConversationType, Room, UnreadableAttachment, User};
use crate::domain::time::Timestamp;

/// Why an attachment is in or out; counted in logs so an administrator's "why is X missing?" has an
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    InScope,
    Deleted,
    AfterCutoff,
    /// Uploaded at or before an incremental export's `since`.
    BeforeSince,
    UploaderNotManaged,
    RoomNotCreatedByManagedUser,
}

/// The part of every scope about time and deletion, an account's and a self-service user's alike:
/// not deleted, uploaded after `since` (when incremental) and up to the cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadWindow {
    pub cutoff: Timestamp,
    pub since: Option<Timestamp>,
}

/// Why a file is outside its export's [`UploadWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideWindow {
    Deleted,
    AfterCutoff,
    BeforeSince,
}

impl UploadWindow {
    /// Why `a` is outside the window, if it is.
    pub fn outside(&self, a: &Attachment) -> Option<OutsideWindow> {
        if a.deleted {
            Some(OutsideWindow::Deleted)
        } else if a.uploaded_at > self.cutoff {
            Some(OutsideWindow::AfterCutoff)
        } else if self.since.is_some_and(|since| a.uploaded_at <= since) {
            Some(OutsideWindow::BeforeSince)
        } else {
            None
        }
    }

    /// Whether an unreadable catalog item may be in the window, as far as its attributes can be
    /// read. Its time unreadable: it is in the window only if its sort key (which starts with the
    /// upload time) is after `since`, which the catalog's key condition already ensured.
    pub fn may_hold(&self, u: &UnreadableAttachment) -> bool {
        !u.deleted
            && u.uploaded_at.is_none_or(|t| t <= self.cutoff)
            && !matches!((self.since, u.uploaded_at), (Some(since), Some(at)) if at <= since)
    }
}

impl From<OutsideWindow> for Decision {
    fn from(outside: OutsideWindow) -> Self {
        match outside {
            OutsideWindow::Deleted => Decision::Deleted,
            OutsideWindow::AfterCutoff => Decision::AfterCutoff,
            OutsideWindow::BeforeSince => Decision::BeforeSince,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scope {
    window: UploadWindow,
    managed_users: HashSet<UserId>,
    managed_rooms: HashSet<RoomId>,
}

impl Scope {
    /// `users` and `rooms` are the account's directory entries (ids filled in).
    pub fn new<'a>(
        cutoff: Timestamp,
        users: impl IntoIterator<Item = &'a User>,
        rooms: impl IntoIterator<Item = &'a Room>,
    ) -> Self {
        let managed_users: HashSet<UserId> =
            users.into_iter().filter(|u| u.managed).filter_map(|u| u.user_id.clone()).collect();
        let managed_rooms = rooms
            .into_iter()
            .filter(|r| managed_users.contains(&r.created_by))
            .filter_map(|r| r.room_id.clone())
            .collect();
        Self { window: UploadWindow { cutoff, since: None }, managed_users, managed_rooms }
    }

    /// An incremental export's scope: only files uploaded after `since`.
    pub fn with_since(mut self, since: Option<Timestamp>) -> Self {
        self.window.since = since;
        self
    }

    pub fn cutoff(&self) -> Timestamp {
        self.window.cutoff
    }

    pub fn decide(&self, a: &Attachment) -> Decision {
        if let Some(outside) = self.window.outside(a) {
            return outside.into();
        }
        match a.conversation_type {
            ConversationType::Direct | ConversationType::Group => {
                if self.managed_users.contains(&a.uploader_id) {
                    Decision::InScope
                } else {
                    Decision::UploaderNotManaged
                }
            }
            ConversationType::Room => {
                if self.managed_rooms.contains(&RoomId::from(&a.conversation_id)) {
                    Decision::InScope
                } else {
                    Decision::RoomNotCreatedByManagedUser
                }
            }
        }
    }

    pub fn includes(&self, a: &Attachment) -> bool {
        self.decide(a) == Decision::InScope
    }

    /// Whether an unreadable catalog item is reported: by the same rule as far as its attributes
    /// can be read; one whose conversation cannot be told is reported (it is the account's own
    /// catalog, and silently leaving it out would hide it).
    pub fn includes_unreadable(&self, u: &UnreadableAttachment) -> bool {
        if !self.window.may_hold(u) {
            return false;
        }
        match u.conversation_type {
            Some(ConversationType::Direct | ConversationType::Group) => {
                UserId::parse(&u.uploader_id).map_or(true, |id| self.managed_users.contains(&id))
            }
            Some(ConversationType::Room) => {
                RoomId::parse(&u.conversation_id).map_or(true, |id| self.managed_rooms.contains(&id))
            }
            None => true,
        }
    }

    /// Whether `user` is a managed user (a row of coverage.csv).
    pub fn is_managed(&self, user: &UserId) -> bool {
        self.managed_users.contains(user)
    }

    /// Whether `room` was created by a managed user (a row of coverage.csv).
    pub fn is_managed_room(&self, room: &RoomId) -> bool {
        self.managed_rooms.contains(room)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::ids::ConversationId;

    fn user(managed: bool) -> User {
        User {
            user_id: Some(UserId::random()),
            email: "u@example.com".into(),
            display_name: "U".into(),
            managed,
        }
    }

    use crate::testing::attachment;

    /// Every conversation type × uploader managed or not × room creator managed or not × deleted ×
    /// before/at/after the cutoff, against the rule written out independently.
    #[test]
    fn the_whole_matrix() {
        let cutoff = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let managed = user(true);
        let unmanaged = user(false);
        let outsider = UserId::random(); // uploaded into a room, not in the directory at all
        let managed_room_id = ConversationId::random();
        let unmanaged_room_id = ConversationId::random();
        let rooms = [
            Room {
                room_id: Some(RoomId::from(&managed_room_id)),
                name: "m".into(),
                created_by: managed.user_id.clone().unwrap(),
            },
            Room {
                room_id: Some(RoomId::from(&unmanaged_room_id)),
                name: "u".into(),
                created_by: unmanaged.user_id.clone().unwrap(),
            },
        ];
        let scope = Scope::new(cutoff, [&managed, &unmanaged], &rooms);

        let times = [
            (cutoff.plus(Duration::ZERO), false),
            (Timestamp::from_unix_millis(cutoff.unix_millis() - 1).unwrap(), false),
            (cutoff.plus(Duration::from_millis(1)), true),
        ];
        let uploaders = [
            (managed.user_id.clone().unwrap(), true),
            (unmanaged.user_id.clone().unwrap(), false),
            (outsider.clone(), false),
        ];
        let mut in_scope = 0;
        for kind in ConversationType::ALL {
            for (conversation, room_managed) in [
                (managed_room_id.clone(), true),
                (unmanaged_room_id.clone(), false),
                (ConversationId::random(), false),
            ] {
                for (uploader, uploader_managed) in &uploaders {
                    for deleted in [false, true] {
                        for (at, after_cutoff) in times {
                            let mut a = attachment(kind, &conversation, uploader, at);
                            a.deleted = deleted;
                            let expected = !deleted
                                && !after_cutoff
                                && match kind {
                                    ConversationType::Direct | ConversationType::Group => *uploader_managed,
                                    ConversationType::Room => room_managed,
                                };
                            assert_eq!(
                                scope.includes(&a),
                                expected,
                                "{kind} room_managed={room_managed} uploader_managed={uploader_managed} deleted={deleted} after_cutoff={after_cutoff}"
                            );
                            in_scope += usize::from(expected);
                        }
                    }
                }
            }
        }
        // DIRECT and GROUP: managed uploader × 3 conversations × 2 times; ROOM: managed room × 3
        // uploaders × 2 times.
        assert_eq!(in_scope, 2 * 3 * 2 + 3 * 2);
    }

    #[test]
    fn decisions_name_the_reason() {
        let cutoff = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let unmanaged = user(false);
        let scope = Scope::new(cutoff, [&unmanaged], []);
        let uid = unmanaged.user_id.clone().unwrap();
        let c = ConversationId::random();
        let mut a = attachment(ConversationType::Direct, &c, &uid, cutoff);
        assert_eq!(scope.decide(&a), Decision::UploaderNotManaged);
        a.conversation_type = ConversationType::Room;
        assert_eq!(scope.decide(&a), Decision::RoomNotCreatedByManagedUser);
        a.uploaded_at = cutoff.plus(Duration::from_secs(1));
        assert_eq!(scope.decide(&a), Decision::AfterCutoff);
        a.deleted = true;
        assert_eq!(scope.decide(&a), Decision::Deleted);
    }
}
