//! The app's own data, as it tells this service of each change (contract, "The app's
//! data in"): six detail-types on the bus, each carrying the time of the change, by
//! which a newer change wins whatever order they arrive in.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::{Chat, ObjectId, Participant, User};

/// The detail-types the app sends, in the order of the contract's table.
pub const APP_CHANGES: [&str; 6] =
    ["user.upserted", "user.deleted", "chat.upserted", "chat.deleted", "member.upserted", "member.left"];

/// The `source` the app puts its events on the bus with, unless configured otherwise.
pub const DEFAULT_APP_EVENT_SOURCE: &str = "chat-app";

/// One change of the app's data. `at` is its time (`updatedAt`, `deletedAt` or
/// `leftAt`), in this service's timestamp format so that times compare as text.
#[derive(Debug, Clone, PartialEq)]
pub enum AppChange {
    UserUpserted {
        user: User,
        at: String,
    },
    UserDeleted {
        user: ObjectId,
        at: String,
    },
    /// The chat's own fields; its `participants_count` is this service's to keep.
    ChatUpserted {
        chat: Chat,
        at: String,
    },
    ChatDeleted {
        chat: ObjectId,
        at: String,
    },
    /// `entry` is an active participant of `chat`.
    MemberUpserted {
        chat: ObjectId,
        entry: Participant,
        at: String,
    },
    MemberLeft {
        chat: ObjectId,
        user: ObjectId,
        at: String,
    },
}

/// Why an event cannot be applied: it is set aside with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnusableChange {
    #[error("unknown detail-type {0:?}")]
    UnknownType(String),
    #[error("{detail_type}: {reason}")]
    Invalid { detail_type: String, reason: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDetail {
    #[serde(rename = "_id")]
    id: ObjectId,
    username: String,
    name: String,
    #[serde(default)]
    photo: Option<String>,
    updated_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deleted {
    #[serde(rename = "_id")]
    id: ObjectId,
    deleted_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatDetail {
    #[serde(rename = "_id")]
    id: ObjectId,
    creator: ObjectId,
    is_group: bool,
    name: String,
    restricted: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberDetail {
    chat: ObjectId,
    user: ObjectId,
    #[serde(rename = "_id")]
    id: ObjectId,
    #[serde(default)]
    is_admin: bool,
    last_read_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeftDetail {
    chat: ObjectId,
    user: ObjectId,
    left_at: String,
}

/// `text` as this service writes times (RFC 3339, UTC, milliseconds), if it is an RFC
/// 3339 time at all: the app may send any offset or precision.
pub fn normalized_time(text: &str) -> Option<String> {
    let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(time.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl AppChange {
    /// The change an event of `detail_type` with `detail` describes. Unknown fields are
    /// ignored; a missing field, a bad id or a bad time is [`UnusableChange::Invalid`].
    pub fn parse(detail_type: &str, detail: &Value) -> Result<Self, UnusableChange> {
        fn read<T: DeserializeOwned>(detail_type: &str, detail: &Value) -> Result<T, UnusableChange> {
            T::deserialize(detail)
                .map_err(|e| UnusableChange::Invalid { detail_type: detail_type.to_owned(), reason: e.to_string() })
        }
        let time = |text: &str, field: &str| {
            normalized_time(text).ok_or_else(|| UnusableChange::Invalid {
                detail_type: detail_type.to_owned(),
                reason: format!("{field} is not an RFC 3339 time: {text:?}"),
            })
        };
        Ok(match detail_type {
            "user.upserted" => {
                let d: UserDetail = read(detail_type, detail)?;
                let user = User { id: d.id, username: d.username, name: d.name, photo: d.photo };
                Self::UserUpserted { user, at: time(&d.updated_at, "updatedAt")? }
            }
            "user.deleted" => {
                let d: Deleted = read(detail_type, detail)?;
                Self::UserDeleted { user: d.id, at: time(&d.deleted_at, "deletedAt")? }
            }
            "chat.upserted" => {
                let d: ChatDetail = read(detail_type, detail)?;
                let at = time(&d.updated_at, "updatedAt")?;
                let chat = Chat {
                    id: d.id,
                    creator: d.creator,
                    is_group: d.is_group,
                    name: d.name,
                    restricted: d.restricted,
                    created_at: time(&d.created_at, "createdAt")?,
                    updated_at: at.clone(),
                    participants_count: 0,
                };
                Self::ChatUpserted { chat, at }
            }
            "chat.deleted" => {
                let d: Deleted = read(detail_type, detail)?;
                Self::ChatDeleted { chat: d.id, at: time(&d.deleted_at, "deletedAt")? }
            }
            "member.upserted" => {
                let d: MemberDetail = read(detail_type, detail)?;
                let entry = Participant {
                    id: d.id,
                    user: d.user,
                    last_read_at: time(&d.last_read_at, "lastReadAt")?,
                    is_admin: d.is_admin,
                    left_at: None,
                };
                Self::MemberUpserted { chat: d.chat, entry, at: time(&d.updated_at, "updatedAt")? }
            }
            "member.left" => {
                let d: LeftDetail = read(detail_type, detail)?;
                Self::MemberLeft { chat: d.chat, user: d.user, at: time(&d.left_at, "leftAt")? }
            }
            other => return Err(UnusableChange::UnknownType(other.to_owned())),
        })
    }

    /// The participant entry a membership change is about, `(chat, user)`; `None` for
    /// a change of a user or a chat.
    pub fn membership(&self) -> Option<(ObjectId, ObjectId)> {
        match self {
            Self::MemberUpserted { chat, entry, .. } => Some((*chat, entry.user)),
            Self::MemberLeft { chat, user, .. } => Some((*chat, *user)),
            _ => None,
        }
    }

    /// The time of the change, by which the newer of two wins.
    pub fn at(&self) -> &str {
        match self {
            Self::UserUpserted { at, .. }
            | Self::UserDeleted { at, .. }
            | Self::ChatUpserted { at, .. }
            | Self::ChatDeleted { at, .. }
            | Self::MemberUpserted { at, .. }
            | Self::MemberLeft { at, .. } => at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_detail_type_parses_and_bad_ones_say_why() {
        let member = json!({"chat": "65b000000000000000000001", "user": "65a000000000000000000007",
            "_id": "65c000000000000000000009", "isAdmin": true, "lastReadAt": "2026-11-26T02:58:12Z",
            "updatedAt": "2026-11-26T03:58:12.5+01:00", "somethingNew": 1});
        let change = AppChange::parse("member.upserted", &member).unwrap();
        assert_eq!(change.at(), "2026-11-26T02:58:12.500Z", "normalized to UTC and milliseconds");
        assert!(matches!(change, AppChange::MemberUpserted { entry: Participant { is_admin: true, .. }, .. }));

        assert_eq!(
            AppChange::parse("user.renamed", &json!({})),
            Err(UnusableChange::UnknownType("user.renamed".into()))
        );
        for (detail_type, detail) in [
            ("user.deleted", json!({"_id": "65a000000000000000000007"})),
            ("user.deleted", json!({"_id": "not-an-id", "deletedAt": "2026-11-26T02:58:12.000Z"})),
            ("user.deleted", json!({"_id": "65a000000000000000000007", "deletedAt": "yesterday"})),
            ("member.left", json!("not an object")),
        ] {
            assert!(matches!(AppChange::parse(detail_type, &detail), Err(UnusableChange::Invalid { .. })), "{detail}");
        }
    }
}
