use std::collections::BTreeMap;

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

/// A participant entry as the API shows it. In storage the entries are keyed by user
/// id (see [`Chat::participants`]), so `user` is carried by the key there.
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub creator: ObjectId,
    pub is_group: bool,
    pub name: String,
    pub restricted: bool,
    /// One entry per user, by construction: the map key is the user id.
    pub participants: BTreeMap<ObjectId, Participant>,
    pub created_at: String,
    pub updated_at: String,
}

/// How accepting a request changes the requester's participant entry. Each variant is
/// written with a condition that holds only in the state it was planned from.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    NewEntry(Participant),
    Reactivate,
    /// The requester became an active participant some other way meanwhile.
    AlreadyActive,
}

/// Why a user may not ask to join a chat. The order of [`Chat::check_joinable_by`]
/// is the contract's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotJoinable {
    NotGroup,
    NotRestricted,
    AlreadyParticipant,
}

/// Why a user may not decide a request of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDecider {
    NotMember,
    NotAdmin,
}

impl Chat {
    pub fn participant(&self, user: ObjectId) -> Option<&Participant> {
        self.participants.get(&user)
    }

    pub fn is_active_participant(&self, user: ObjectId) -> bool {
        self.participant(user).is_some_and(Participant::is_active)
    }

    pub fn is_active_admin(&self, user: ObjectId) -> bool {
        self.participant(user).is_some_and(Participant::is_active_admin)
    }

    pub fn active_admins(&self) -> impl Iterator<Item = ObjectId> + '_ {
        self.participants.values().filter(|p| p.is_active_admin()).map(|p| p.user)
    }

    pub fn check_joinable_by(&self, user: ObjectId) -> Result<(), NotJoinable> {
        if !self.is_group {
            Err(NotJoinable::NotGroup)
        } else if !self.restricted {
            Err(NotJoinable::NotRestricted)
        } else if self.is_active_participant(user) {
            Err(NotJoinable::AlreadyParticipant)
        } else {
            Ok(())
        }
    }

    /// The one place that says who may accept or reject: an active admin.
    pub fn check_decider(&self, user: ObjectId) -> Result<(), NotDecider> {
        if !self.is_active_participant(user) {
            Err(NotDecider::NotMember)
        } else if !self.is_active_admin(user) {
            Err(NotDecider::NotAdmin)
        } else {
            Ok(())
        }
    }

    pub fn plan_admission(&self, user: ObjectId, now: &str) -> Admission {
        match self.participant(user) {
            None => Admission::NewEntry(Participant {
                id: ObjectId::generate(),
                user,
                last_read_at: now.to_owned(),
                is_admin: false,
                left_at: None,
            }),
            Some(entry) if entry.is_active() => Admission::AlreadyActive,
            Some(_) => Admission::Reactivate,
        }
    }

    /// The chat as it is once `admission` has been written.
    pub fn admitted(&self, user: ObjectId, admission: &Admission, now: &str) -> Self {
        let mut chat = self.clone();
        chat.updated_at = now.to_owned();
        match admission {
            Admission::NewEntry(entry) => {
                chat.participants.insert(user, entry.clone());
            }
            Admission::Reactivate => {
                if let Some(entry) = chat.participants.get_mut(&user) {
                    entry.left_at = None;
                    entry.is_admin = false;
                    entry.last_read_at = now.to_owned();
                }
            }
            Admission::AlreadyActive => {}
        }
        chat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::parse(&format!("{n:024x}")).unwrap()
    }

    fn entry(user: u8, is_admin: bool, left: bool) -> (ObjectId, Participant) {
        let participant = Participant {
            id: id(100 + user),
            user: id(user),
            last_read_at: "2025-01-01T00:00:00.000Z".into(),
            is_admin,
            left_at: left.then(|| "2025-02-01T00:00:00.000Z".into()),
        };
        (id(user), participant)
    }

    fn chat(is_group: bool, restricted: bool) -> Chat {
        Chat {
            id: id(50),
            creator: id(1),
            is_group,
            name: "c".into(),
            restricted,
            participants: [entry(1, true, false), entry(2, false, false), entry(3, true, true), entry(4, false, true)]
                .into_iter()
                .collect(),
            created_at: "2025-01-01T00:00:00.000Z".into(),
            updated_at: "2025-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn joinability_is_checked_in_contract_order() {
        assert_eq!(chat(false, false).check_joinable_by(id(2)), Err(NotJoinable::NotGroup));
        assert_eq!(chat(true, false).check_joinable_by(id(2)), Err(NotJoinable::NotRestricted));
        assert_eq!(chat(true, true).check_joinable_by(id(2)), Err(NotJoinable::AlreadyParticipant));
        assert_eq!(chat(true, true).check_joinable_by(id(4)), Ok(()), "a user who left may ask again");
        assert_eq!(chat(true, true).check_joinable_by(id(9)), Ok(()));
    }

    #[test]
    fn only_active_admins_decide() {
        let chat = chat(true, true);
        assert_eq!(chat.check_decider(id(1)), Ok(()));
        assert_eq!(chat.check_decider(id(2)), Err(NotDecider::NotAdmin));
        assert_eq!(chat.check_decider(id(3)), Err(NotDecider::NotMember), "an admin who left");
        assert_eq!(chat.check_decider(id(9)), Err(NotDecider::NotMember));
        assert_eq!(chat.active_admins().collect::<Vec<_>>(), vec![id(1)]);
    }

    #[test]
    fn admission_adds_reactivates_or_keeps_one_entry_per_user() {
        let chat = chat(true, true);
        let now = "2025-03-01T00:00:00.000Z";
        let Admission::NewEntry(_) = chat.plan_admission(id(9), now) else { panic!("new user needs an entry") };
        assert_eq!(chat.plan_admission(id(3), now), Admission::Reactivate);
        assert_eq!(chat.plan_admission(id(2), now), Admission::AlreadyActive);

        let after = chat.admitted(id(3), &Admission::Reactivate, now);
        let back = after.participant(id(3)).unwrap();
        assert!(back.is_active() && !back.is_admin, "rejoining does not restore admin rights");
        assert_eq!(after.participants.len(), chat.participants.len());
    }
}
