//! The fixture format of the contract ("Data"): users and chats as the rest of the app
//! holds them, participants as a list. Loading writes them as `dev import` writes the
//! app's own data (one writer): the chat item with its count, one item per participant.

use std::collections::HashSet;

use app::ports::StoreError;
use app::AppError;
use aws::store::Store;
use domain::{Chat, ObjectId, Participant, User};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub chats: Vec<FixtureChat>,
    /// Not in the contract's format: pending requests to create through the same path
    /// as `POST /requests`, so the sample events have a request to get and decide.
    #[serde(default)]
    pub requests: Vec<FixtureRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureRequest {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: ObjectId,
    pub chat: ObjectId,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureChat {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub creator: ObjectId,
    pub is_group: bool,
    pub name: String,
    pub restricted: bool,
    pub participants: Vec<Participant>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read the fixture: {0}")]
    Read(#[from] std::io::Error),
    #[error("the fixture is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("chat {chat} lists user {user} twice")]
    DuplicateParticipant { chat: ObjectId, user: ObjectId },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("request {id} cannot be created: {reason}")]
    Request { id: ObjectId, reason: AppError },
}

/// A dev tool's made-up id: 3 hex digits of prefix and 21 of number, by construction.
fn generated_id(text: &str) -> ObjectId {
    ObjectId::parse(text).expect("generated ids are 24 lower-case hex digits")
}

/// Users written at once.
const CONCURRENT_USERS: usize = 32;

impl FixtureChat {
    /// A generated restricted chat, the `index`-th (from 0): chat `68b…` = index + 1,
    /// `participants` active participants (users `68a…` = 0, 1, ...; entries in that
    /// join order), `admins` of them admins spread evenly through the list, so that
    /// "admins first" is not merely the order they were written in.
    pub fn generated(index: usize, participants: usize, admins: usize) -> Self {
        let id = |prefix: &str, n: usize| generated_id(&format!("{prefix}{n:021x}"));
        let every = participants.checked_div(admins).unwrap_or(usize::MAX).max(1);
        let entries = (0..participants)
            .map(|n| Participant {
                id: generated_id(&format!("68c{index:06x}{n:015x}")),
                user: id("68a", n),
                last_read_at: "2025-01-01T00:00:00.000Z".into(),
                is_admin: n % every == every - 1 && n / every < admins,
                left_at: None,
            })
            .collect();
        Self {
            id: id("68b", index + 1),
            creator: id("68a", 0),
            is_group: true,
            name: format!("Generated chat {index} ({participants} participants)"),
            restricted: true,
            participants: entries,
            created_at: "2025-01-01T00:00:00.000Z".into(),
            updated_at: "2025-01-01T00:00:00.000Z".into(),
        }
    }

    /// The chat and its participants for the writer, refusing a user listed twice.
    fn into_parts(self) -> Result<(Chat, Vec<Participant>), FixtureError> {
        let mut seen = HashSet::with_capacity(self.participants.len());
        for participant in &self.participants {
            if !seen.insert(participant.user) {
                return Err(FixtureError::DuplicateParticipant { chat: self.id, user: participant.user });
            }
        }
        let chat = Chat {
            id: self.id,
            creator: self.creator,
            is_group: self.is_group,
            name: self.name,
            restricted: self.restricted,
            created_at: self.created_at,
            updated_at: self.updated_at,
            participants_count: 0,
        };
        Ok((chat, self.participants))
    }
}

impl Fixture {
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn read(path: &std::path::Path) -> Result<Self, FixtureError> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    /// Creates the table if missing, then writes every user, chat and participant by
    /// the import's rules ([`crate::import`]: newer wins; a user as of before any
    /// change, a chat as of its `updatedAt`), then creates the requests that do not
    /// exist yet. So loading twice is harmless. Returns the numbers of users and chats.
    pub async fn load(self, store: &Store) -> Result<(usize, usize), FixtureError> {
        store.create_table_if_missing().await?;
        let (user_count, chat_count) = (self.users.len(), self.chats.len());
        let at = crate::import::BEFORE_ANY_CHANGE;
        stream::iter(self.users.into_iter().map(|user| crate::import::write_user(store, user, at.to_owned())))
            .buffer_unordered(CONCURRENT_USERS)
            .try_collect::<Vec<bool>>()
            .await?;
        for chat in self.chats {
            let (chat, participants) = chat.into_parts()?;
            crate::import::write_chat(store, chat, &participants).await?;
        }
        for request in self.requests {
            if store.request(request.id).await?.is_some() {
                continue;
            }
            let created =
                app::requests::create_with_id(store, request.id, request.user, request.chat, Default::default())
                    .await
                    .map_err(|reason| FixtureError::Request { id: request.id, reason })?;
            // The admins' notifications at once; the events wait for the sweeper, as
            // nobody is connected yet.
            if let Some(notify) = &created.outbox.notify {
                store.notify(notify).await?;
            }
        }
        Ok((user_count, chat_count))
    }
}
