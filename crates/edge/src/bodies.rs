//! The REST bodies the calls take, parsed into domain values: a bad field is
//! `INVALID_BODY`, checked before the ids (`INVALID_ID`), as every body error is.

use app::requests::{Ask, Verdict};
use domain::moderation::new_questions;
use domain::{Decision, Note, ObjectId, Question};
use serde::Deserialize;

use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pub chat: String,
    #[serde(default, deserialize_with = "a_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "a_list")]
    pub answers: Option<Vec<AnswerBody>>,
}

/// One answer as sent. The question's id stays text here: one that is not an id is an
/// unknown question (`INVALID_ANSWERS`), decided against the chat's questions.
#[derive(Debug, Deserialize)]
pub struct AnswerBody {
    pub question: String,
    pub answer: String,
}

/// At most this many answers are read: a chat asks at most 5 questions, and each may
/// be answered once.
const MAX_ANSWERS: usize = 2 * domain::moderation::MAX_QUESTIONS;

impl CreateBody {
    /// The chat's id, and what the requester asks with.
    pub fn parse(self) -> Result<(ObjectId, Ask), ApiError> {
        let message = self.message.map(|text| Note::parse("message", &text)).transpose()?;
        let answers = self.answers.unwrap_or_default();
        if answers.len() > MAX_ANSWERS {
            return Err(ApiError::InvalidBody(format!("answers holds at most {MAX_ANSWERS} answers")));
        }
        let answers = answers
            .into_iter()
            .map(|a| Ok((a.question, Note::parse("answer", &a.answer)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let chat = ObjectId::parse(&self.chat).map_err(|_| ApiError::InvalidId)?;
        Ok((chat, Ask { message, answers }))
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionBody {
    pub status: Decision,
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "a_bool")]
    pub block: Option<bool>,
}

/// `PUT /chats/{id}/questions`.
#[derive(Debug, Deserialize)]
pub struct QuestionsBody {
    pub questions: Vec<QuestionBody>,
}

#[derive(Debug, Deserialize)]
pub struct QuestionBody {
    pub text: String,
    pub required: bool,
}

impl QuestionsBody {
    pub fn parse(self) -> Result<Vec<Question>, ApiError> {
        Ok(new_questions(self.questions.into_iter().map(|q| (q.text, q.required)).collect())?)
    }
}

/// `PUT /chats/{id}/blocks/{user}`: the body may be left out.
#[derive(Debug, Default, Deserialize)]
pub struct BlockBody {
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
}

impl BlockBody {
    pub fn parse(self) -> Result<Option<Note>, ApiError> {
        Ok(self.reason.map(|text| Note::parse("reason", &text)).transpose()?)
    }
}

fn a_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<AnswerBody>>, D::Error> {
    Vec::deserialize(deserializer).map(Some)
}

fn a_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    bool::deserialize(deserializer).map(Some)
}

/// An optional text field is a string when present: `null` is refused like any other
/// non-string, so a body means one thing (openapi.yaml says the same).
fn a_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

impl DecisionBody {
    /// A `reason`, and `"block": true`, go only with a rejection.
    pub fn parse(self) -> Result<Verdict, ApiError> {
        let reason = self.reason.map(|text| Note::parse("reason", &text)).transpose()?;
        let block = self.block.unwrap_or(false);
        if self.status != Decision::Rejected {
            if reason.is_some() {
                return Err(ApiError::InvalidBody("a reason goes only with \"status\": \"rejected\"".into()));
            }
            if block {
                return Err(ApiError::InvalidBody("\"block\": true goes only with \"status\": \"rejected\"".into()));
            }
        }
        Ok(Verdict { decision: self.status, reason, block })
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionsBody {
    pub status: Decision,
    pub requests: Vec<String>,
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "a_bool")]
    pub block: Option<bool>,
}

impl DecisionsBody {
    /// 1 to 100 distinct ids (else `INVALID_BODY`), each an id (else `INVALID_ID`).
    pub fn parse(self) -> Result<(Verdict, Vec<ObjectId>), ApiError> {
        use app::requests::MAX_DECISIONS;
        let verdict = DecisionBody { status: self.status, reason: self.reason, block: self.block }.parse()?;
        if self.requests.is_empty() || self.requests.len() > MAX_DECISIONS {
            return Err(ApiError::InvalidBody(format!("requests must hold 1 to {MAX_DECISIONS} ids")));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.requests.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(ApiError::InvalidBody(format!("request {twice} is given twice")));
        }
        let ids = self.requests.iter().map(|id| ObjectId::parse(id).map_err(|_| ApiError::InvalidId));
        Ok((verdict, ids.collect::<Result<_, _>>()?))
    }
}
