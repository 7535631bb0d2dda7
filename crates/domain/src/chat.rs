use serde::{Deserialize, Serialize};

use super::id::ObjectId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub username: String,
    pub name: String,
    #[serde(default)]
    pub photo: Option<String>,
}

/// One user's entry in one chat, as the API shows it and as it is stored (an item of
/// its own, keyed by chat and user, so there is never a second entry for one user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: ObjectId,
    pub last_read_at: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_admin: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<String>,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

impl Participant {
    pub fn is_active(&self) -> bool {
        self.left_at.is_none()
    }

    pub fn is_active_admin(&self) -> bool {
        self.is_active() && self.is_admin
    }
}

/// A chat without its participants: they are items of their own, and the chat only
/// counts the active ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub creator: ObjectId,
    pub is_group: bool,
    pub name: String,
    pub restricted: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Active participants. Kept by whoever adds or removes one (this service on
    /// acceptance), in the same write.
    #[serde(default)]
    pub participants_count: u64,
}

/// At most this many participants are shown wherever a chat is shown (contract, "Sizes").
pub const SHOWN_PARTICIPANTS: usize = 100;

/// A chat as a call reads it: the chat and the participants it shows, which are its
/// first [`SHOWN_PARTICIPANTS`] active participants in [`shown_order`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSnapshot {
    pub chat: Chat,
    pub shown: Vec<Participant>,
}

/// The order in which a chat shows its participants: active admins first, then the
/// other active participants, each in the order they joined (an entry's id starts with
/// its creation time). Participants who left are not shown, so they have no place.
/// The store indexes participants by this value, so the first page of the index is the
/// shown list.
pub fn shown_order(participant: &Participant) -> Option<String> {
    match (participant.is_active(), participant.is_admin) {
        (false, _) => None,
        (true, true) => Some(format!("1#{}", participant.id)),
        (true, false) => Some(format!("2#{}", participant.id)),
    }
}

/// How accepting a request changes the requester's participant entry. Each variant is
/// written with a condition that holds only in the state it was planned from.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    NewEntry(Participant),
    /// The user's old entry (they left) becomes active again, without admin rights.
    Reactivate(Participant),
    /// The requester became an active participant some other way meanwhile.
    AlreadyActive,
}

impl Admission {
    /// The entry as it is once written; `None` when nothing changes.
    pub fn entry(&self) -> Option<&Participant> {
        match self {
            Self::NewEntry(entry) | Self::Reactivate(entry) => Some(entry),
            Self::AlreadyActive => None,
        }
    }
}

/// Why a user may not ask to join a chat. The order of [`Chat::check_joinable_by`]
/// is the contract's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotJoinable {
    NotGroup,
    NotRestricted,
    /// An admin blocked the user from the chat.
    Blocked,
    AlreadyParticipant,
}

/// Why a user may not decide a request of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDecider {
    NotMember,
    NotAdmin,
}

fn is_active(entry: Option<&Participant>) -> bool {
    entry.is_some_and(Participant::is_active)
}

impl Chat {
    /// `entry` is the user's participant entry in this chat, if any; `blocked`, whether
    /// an admin blocked them from it.
    pub fn check_joinable_by(&self, entry: Option<&Participant>, blocked: bool) -> Result<(), NotJoinable> {
        if !self.is_group {
            Err(NotJoinable::NotGroup)
        } else if !self.restricted {
            Err(NotJoinable::NotRestricted)
        } else if blocked {
            Err(NotJoinable::Blocked)
        } else if is_active(entry) {
            Err(NotJoinable::AlreadyParticipant)
        } else {
            Ok(())
        }
    }

    /// The one place that says who may accept or reject: an active admin. `entry` is
    /// the decider's participant entry in this chat, if any.
    pub fn check_decider(&self, entry: Option<&Participant>) -> Result<(), NotDecider> {
        match entry {
            Some(entry) if entry.is_active_admin() => Ok(()),
            Some(entry) if entry.is_active() => Err(NotDecider::NotAdmin),
            _ => Err(NotDecider::NotMember),
        }
    }

    /// `entry` is the requester's participant entry in this chat, if any.
    pub fn plan_admission(&self, user: ObjectId, entry: Option<&Participant>, now: &str) -> Admission {
        match entry {
            None => Admission::NewEntry(Participant {
                id: ObjectId::generate(),
                user,
                last_read_at: now.to_owned(),
                is_admin: false,
                left_at: None,
            }),
            Some(entry) if entry.is_active() => Admission::AlreadyActive,
            Some(entry) => Admission::Reactivate(Participant {
                left_at: None,
                is_admin: false,
                last_read_at: now.to_owned(),
                ..entry.clone()
            }),
        }
    }
}

impl ChatSnapshot {
    pub fn is_active_admin(&self, user: ObjectId) -> bool {
        // Every active admin is shown (a chat has at most 95), so the shown list answers.
        self.shown.iter().any(|p| p.user == user && p.is_active_admin())
    }

    pub fn active_admins(&self) -> impl Iterator<Item = ObjectId> + '_ {
        self.shown.iter().filter(|p| p.is_active_admin()).map(|p| p.user)
    }

    /// The chat as it is once `admission` has been written: one more active participant,
    /// shown if their place in [`shown_order`] is within the first
    /// [`SHOWN_PARTICIPANTS`].
    pub fn admitted(&self, admission: &Admission, now: &str) -> Self {
        let mut after = self.clone();
        let Some(entry) = admission.entry() else {
            return after;
        };
        after.chat.updated_at = now.to_owned();
        after.chat.participants_count += 1;
        after.shown.retain(|p| p.user != entry.user);
        after.shown.push(entry.clone());
        after.shown.sort_by_key(shown_order);
        after.shown.truncate(SHOWN_PARTICIPANTS);
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ObjectId {
        ObjectId::parse(&format!("{n:024x}")).unwrap()
    }

    fn entry(user: u32, is_admin: bool, left: bool) -> Participant {
        Participant {
            id: id(100_000 + user),
            user: id(user),
            last_read_at: "2025-01-01T00:00:00.000Z".into(),
            is_admin,
            left_at: left.then(|| "2025-02-01T00:00:00.000Z".into()),
        }
    }

    fn chat(is_group: bool, restricted: bool) -> Chat {
        Chat {
            id: id(50),
            creator: id(1),
            is_group,
            name: "c".into(),
            restricted,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            updated_at: "2025-01-01T00:00:00.000Z".into(),
            participants_count: 2,
        }
    }

    #[test]
    fn joinability_is_checked_in_contract_order() {
        let member = entry(2, false, false);
        let left = entry(4, false, true);
        assert_eq!(chat(false, false).check_joinable_by(Some(&member), true), Err(NotJoinable::NotGroup));
        assert_eq!(chat(true, false).check_joinable_by(Some(&member), true), Err(NotJoinable::NotRestricted));
        assert_eq!(chat(true, true).check_joinable_by(Some(&member), true), Err(NotJoinable::Blocked));
        assert_eq!(chat(true, true).check_joinable_by(Some(&member), false), Err(NotJoinable::AlreadyParticipant));
        assert_eq!(chat(true, true).check_joinable_by(Some(&left), false), Ok(()), "a user who left may ask again");
        assert_eq!(chat(true, true).check_joinable_by(None, false), Ok(()));
    }

    #[test]
    fn only_active_admins_decide() {
        let chat = chat(true, true);
        assert_eq!(chat.check_decider(Some(&entry(1, true, false))), Ok(()));
        assert_eq!(chat.check_decider(Some(&entry(2, false, false))), Err(NotDecider::NotAdmin));
        assert_eq!(chat.check_decider(Some(&entry(3, true, true))), Err(NotDecider::NotMember), "an admin who left");
        assert_eq!(chat.check_decider(None), Err(NotDecider::NotMember));
    }

    #[test]
    fn admission_adds_reactivates_or_keeps_one_entry_per_user() {
        let chat = chat(true, true);
        let now = "2025-03-01T00:00:00.000Z";
        let Admission::NewEntry(_) = chat.plan_admission(id(9), None, now) else { panic!("new user needs an entry") };
        let left_admin = entry(3, true, true);
        let Admission::Reactivate(back) = chat.plan_admission(id(3), Some(&left_admin), now) else {
            panic!("a user who left is re-activated")
        };
        assert!(back.is_active() && !back.is_admin, "rejoining does not restore admin rights");
        assert_eq!(back.id, left_admin.id, "the old entry, not a second one");
        assert_eq!(chat.plan_admission(id(2), Some(&entry(2, false, false)), now), Admission::AlreadyActive);
    }

    #[test]
    fn the_shown_list_is_admins_first_then_join_order_and_at_most_a_hundred() {
        let mut shown: Vec<Participant> =
            (0..SHOWN_PARTICIPANTS as u32).map(|n| entry(10 + n, n % 40 == 0, false)).collect();
        shown.sort_by_key(shown_order);
        assert!(shown[..3].iter().all(|p| p.is_admin) && !shown[3].is_admin);
        let snapshot = ChatSnapshot { chat: chat(true, true), shown };
        let now = "2025-03-01T00:00:00.000Z";

        let newcomer = snapshot.chat.plan_admission(id(5000), None, now);
        let after = snapshot.admitted(&newcomer, now);
        assert_eq!(after.chat.participants_count, 3);
        assert_eq!(after.shown.len(), SHOWN_PARTICIPANTS);
        assert!(after.shown.iter().all(|p| p.user != id(5000)), "the newest joiner is past the first hundred");

        let old_entry = entry(1, false, true);
        let returning = snapshot.chat.plan_admission(id(1), Some(&old_entry), now);
        let after = snapshot.admitted(&returning, now);
        assert_eq!(after.shown[3].user, id(1), "an old entry keeps its place in join order");
        assert_eq!(after.shown.len(), SHOWN_PARTICIPANTS);

        assert_eq!(snapshot.admitted(&Admission::AlreadyActive, now), snapshot);
        assert!(shown_order(&entry(7, true, true)).is_none(), "who left is not shown");
    }
}
