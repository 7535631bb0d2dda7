//! The fixture format of the contract ("Data"): users and chats as the rest of the app
//! holds them, participants as a list.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::{Chat, ObjectId, Participant, User};
use crate::error::ApiError;
use crate::requests;
use crate::store::{Store, StoreError, TableSpec};

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

#[derive(Debug, Deserialize)]
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
    Request { id: ObjectId, reason: ApiError },
}

impl FixtureChat {
    pub fn into_chat(self) -> Result<Chat, FixtureError> {
        let mut participants = BTreeMap::new();
        for participant in self.participants {
            let user = participant.user;
            if participants.insert(user, participant).is_some() {
                return Err(FixtureError::DuplicateParticipant { chat: self.id, user });
            }
        }
        Ok(Chat {
            id: self.id,
            creator: self.creator,
            is_group: self.is_group,
            name: self.name,
            restricted: self.restricted,
            participants,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl Fixture {
    pub fn parse(text: &str) -> Result<Self, FixtureError> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn read(path: &std::path::Path) -> Result<Self, FixtureError> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    /// Creates the table if missing, then writes every user and chat, then creates the
    /// requests that do not exist yet (so loading twice is harmless).
    pub async fn load(self, store: &Store) -> Result<(usize, usize), FixtureError> {
        TableSpec::ensure(store.client(), store.table()).await?;
        let chats = self.chats.into_iter().map(FixtureChat::into_chat).collect::<Result<Vec<_>, _>>()?;
        store.put_fixture(&self.users, &chats).await?;
        for request in self.requests {
            if store.request(request.id).await?.is_some() {
                continue;
            }
            requests::create_with_id(store, request.id, request.user, request.chat)
                .await
                .map_err(|reason| FixtureError::Request { id: request.id, reason })?;
        }
        Ok((self.users.len(), chats.len()))
    }
}
