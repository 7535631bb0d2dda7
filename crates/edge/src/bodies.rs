//! The REST bodies the calls take, parsed into domain values: a bad field is
//! `INVALID_BODY`, checked before the ids (`INVALID_ID`), as every body error is.

use domain::{Decision, Note, ObjectId};
use serde::Deserialize;

use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pub chat: String,
    #[serde(default, deserialize_with = "a_string")]
    pub message: Option<String>,
}

impl CreateBody {
    /// The chat's id and the message.
    pub fn parse(self) -> Result<(ObjectId, Option<Note>), ApiError> {
        let message = self.message.map(|text| Note::parse("message", &text)).transpose()?;
        let chat = ObjectId::parse(&self.chat).map_err(|_| ApiError::InvalidId)?;
        Ok((chat, message))
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionBody {
    pub status: Decision,
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
}

/// An optional text field is a string when present: `null` is refused like any other
/// non-string, so a body means one thing (openapi.yaml says the same).
fn a_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

impl DecisionBody {
    /// A `reason` goes only with a rejection.
    pub fn parse(self) -> Result<(Decision, Option<Note>), ApiError> {
        let reason = self.reason.map(|text| Note::parse("reason", &text)).transpose()?;
        if reason.is_some() && self.status != Decision::Rejected {
            return Err(ApiError::InvalidBody("a reason goes only with \"status\": \"rejected\"".into()));
        }
        Ok((self.status, reason))
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionsBody {
    pub status: Decision,
    pub requests: Vec<String>,
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
}

impl DecisionsBody {
    /// 1 to 100 distinct ids (else `INVALID_BODY`), each an id (else `INVALID_ID`).
    pub fn parse(self) -> Result<(Decision, Vec<ObjectId>, Option<Note>), ApiError> {
        use app::requests::MAX_DECISIONS;
        let (decision, reason) = DecisionBody { status: self.status, reason: self.reason }.parse()?;
        if self.requests.is_empty() || self.requests.len() > MAX_DECISIONS {
            return Err(ApiError::InvalidBody(format!("requests must hold 1 to {MAX_DECISIONS} ids")));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.requests.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(ApiError::InvalidBody(format!("request {twice} is given twice")));
        }
        let ids = self.requests.iter().map(|id| ObjectId::parse(id).map_err(|_| ApiError::InvalidId));
        Ok((decision, ids.collect::<Result<_, _>>()?, reason))
    }
}
