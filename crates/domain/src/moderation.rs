//! What admins do to screen and to stop abuse: a chat's screening questions and the
//! requesters' answers to them, blocks, and the per-user limit on asking.

use std::collections::HashMap;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::id::ObjectId;
use super::request::Note;

/// A chat asks at most this many questions.
pub const MAX_QUESTIONS: usize = 5;
pub const QUESTION_MAX_CHARS: usize = 300;

/// One of a chat's screening questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub text: String,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQuestions {
    #[error("a chat asks at most {MAX_QUESTIONS} questions")]
    TooMany,
    #[error("a question's text must be 1 to {QUESTION_MAX_CHARS} characters, not counting spaces around it")]
    Text,
}

/// The questions an admin sets, each with a new id: `(text, required)` pairs, checked
/// and trimmed. Setting them again makes new ids, so an answer to a question that was
/// replaced is an answer to an unknown question.
pub fn new_questions(asked: Vec<(String, bool)>) -> Result<Vec<Question>, InvalidQuestions> {
    if asked.len() > MAX_QUESTIONS {
        return Err(InvalidQuestions::TooMany);
    }
    asked
        .into_iter()
        .map(|(text, required)| {
            let text = text.trim();
            if (1..=QUESTION_MAX_CHARS).contains(&text.chars().count()) {
                Ok(Question { id: ObjectId::generate(), text: text.to_owned(), required })
            } else {
                Err(InvalidQuestions::Text)
            }
        })
        .collect()
}

/// A requester's answer, kept with the question's text as it was asked: changing the
/// questions later changes no request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question: ObjectId,
    /// Empty only in what the app's other services hear ([`crate::RequestChanged`]),
    /// which leaves it out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    pub answer: Note,
}

/// Why a create's answers do not fit the chat's questions (`INVALID_ANSWERS`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAnswers {
    #[error("question {0} is not one of this chat's questions")]
    Unknown(String),
    #[error("question {0} is answered twice")]
    Twice(String),
    #[error("question {0} is required")]
    Missing(ObjectId),
}

/// Checks `given` (question id as sent, answer) against the chat's `questions` as they
/// are now, and returns the answers in the questions' order, each with its text.
pub fn check_answers(questions: &[Question], given: Vec<(String, Note)>) -> Result<Vec<Answer>, InvalidAnswers> {
    let mut by_question: HashMap<ObjectId, Note> = HashMap::with_capacity(given.len());
    for (question, answer) in given {
        let id = ObjectId::parse(&question)
            .ok()
            .filter(|id| questions.iter().any(|q| q.id == *id))
            .ok_or_else(|| InvalidAnswers::Unknown(question.clone()))?;
        if by_question.insert(id, answer).is_some() {
            return Err(InvalidAnswers::Twice(question));
        }
    }
    let mut answers = Vec::with_capacity(by_question.len());
    for question in questions {
        match by_question.remove(&question.id) {
            Some(answer) => answers.push(Answer { question: question.id, text: question.text.clone(), answer }),
            None if question.required => return Err(InvalidAnswers::Missing(question.id)),
            None => {}
        }
    }
    Ok(answers)
}

/// An admin's refusal of one user for one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub user: ObjectId,
    pub chat: ObjectId,
    pub blocked_by: ObjectId,
    pub blocked_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Note>,
}

/// The clock hour (UTC) a create counts in, against the per-user limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateHour {
    /// `2026-12-02T03`: the hour's own name, part of the counter's key.
    pub name: String,
    /// Seconds from `now` to the next hour, at least 1: the `429`'s `retryAfter`.
    pub seconds_left: u64,
    /// When the hour ends, as epoch seconds.
    pub ends_at: i64,
}

impl CreateHour {
    /// The hour `now` (an RFC 3339 timestamp) falls in; `None` for a timestamp that
    /// does not parse, which this service never makes.
    pub fn of(now: &str) -> Option<Self> {
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(now).ok()?.to_utc();
        let start = at.with_minute(0)?.with_second(0)?.with_nanosecond(0)?;
        let ends_at = start.timestamp() + 3600;
        let millis_left = (ends_at * 1000 - at.timestamp_millis()).max(1000);
        Some(Self {
            name: start.format("%Y-%m-%dT%H").to_string(),
            seconds_left: (millis_left as u64).div_ceil(1000),
            ends_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str) -> Note {
        Note::parse("answer", text).unwrap()
    }

    #[test]
    fn answers_fit_the_questions_or_say_why_not() {
        let questions = new_questions(vec![("  Why?  ".into(), true), ("Where from?".into(), false)]).unwrap();
        assert_eq!(questions[0].text, "Why?");
        let (why, from) = (questions[0].id.to_string(), questions[1].id.to_string());
        let answers = check_answers(&questions, vec![(from.clone(), note("Lyon")), (why.clone(), note("fun"))]);
        let answers = answers.unwrap();
        assert_eq!(answers.iter().map(|a| a.text.as_str()).collect::<Vec<_>>(), ["Why?", "Where from?"]);
        assert_eq!(check_answers(&questions, vec![(why.clone(), note("a"))]).unwrap().len(), 1, "optional");
        assert_eq!(check_answers(&questions, vec![]), Err(InvalidAnswers::Missing(questions[0].id)));
        let twice = vec![(why.clone(), note("a")), (why.clone(), note("b"))];
        assert_eq!(check_answers(&questions, twice), Err(InvalidAnswers::Twice(why.clone())));
        let unknown = ObjectId::generate().to_string();
        assert_eq!(
            check_answers(&questions, vec![(unknown.clone(), note("a"))]),
            Err(InvalidAnswers::Unknown(unknown))
        );
        assert!(matches!(check_answers(&questions, vec![("x".into(), note("a"))]), Err(InvalidAnswers::Unknown(_))));
        assert_eq!(check_answers(&[], vec![]), Ok(vec![]));
    }

    #[test]
    fn questions_are_0_to_5_of_1_to_300_characters() {
        assert_eq!(new_questions(vec![]), Ok(vec![]));
        assert_eq!(new_questions(vec![("q".into(), false); 6]), Err(InvalidQuestions::TooMany));
        assert_eq!(new_questions(vec![("   ".into(), false)]), Err(InvalidQuestions::Text));
        assert!(new_questions(vec![("é".repeat(300), false)]).is_ok());
        assert_eq!(new_questions(vec![("é".repeat(301), false)]), Err(InvalidQuestions::Text));
    }

    #[test]
    fn a_create_counts_in_its_clock_hour_and_waits_until_the_next() {
        let hour = CreateHour::of("2026-12-02T03:59:59.200Z").unwrap();
        assert_eq!((hour.name.as_str(), hour.seconds_left), ("2026-12-02T03", 1));
        assert_eq!(hour.ends_at, DateTime::parse_from_rfc3339("2026-12-02T04:00:00Z").unwrap().timestamp());
        assert_eq!(CreateHour::of("2026-12-02T03:00:00.000Z").unwrap().seconds_left, 3600);
        assert!(CreateHour::of("not a time").is_none());
    }
}
