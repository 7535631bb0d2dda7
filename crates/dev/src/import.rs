//! `dev import`: the app's existing users and chats from its MongoDB collections, as
//! `mongoexport` writes them (JSON Lines, or one JSON array with `--jsonArray`; Extended
//! JSON v2, relaxed or canonical), written by the same rules as the app's events: an
//! item changes only if the document is newer than what is kept, so a second run
//! changes nothing. It streams: one document in memory at a time (a chat with its
//! participants), whatever the size of the file.
//!
//! The demo fixture is written by the same writer ([`write_user`], [`write_chat`]).

use std::collections::HashSet;
use std::io::BufRead;

use app::ports::StoreError;
use aws::store::{Record, Store};
use domain::sync::{normalized_time, AppChange};
use domain::{Chat, ObjectId, Participant, User};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;

/// The time of a document that carries none: any change the app sends later wins.
pub const BEFORE_ANY_CHANGE: &str = "1970-01-01T00:00:00.000Z";
/// `BatchWriteItem`'s limit.
const ITEMS_PER_BATCH: usize = 25;
/// Batches in flight at once.
const CONCURRENT_BATCHES: usize = 16;
/// Users written at once (one conditional `PutItem` each).
const CONCURRENT_USERS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {0}")]
    Read(#[from] std::io::Error),
}

/// How `mongoexport` wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One document per line (its default).
    Lines,
    /// One JSON array of documents (`--jsonArray`).
    Array,
}

/// What one run did to one collection.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub read: usize,
    pub written: usize,
    pub unchanged: usize,
    /// Each bad document: the line it starts on, and why.
    pub bad: Vec<(usize, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "read {}, written {}, unchanged {}, bad {}", self.read, self.written, self.unchanged, self.bad.len())
    }
}

/// Extended JSON v2 as plain JSON: `{"$oid": id}` the id, `{"$date": ...}` (an RFC 3339
/// text or `{"$numberLong": ms}`) a timestamp of this service's format, the number
/// wrappers their numbers. Anything else as it is.
pub fn plain(value: Value) -> Result<Value, String> {
    match value {
        Value::Object(object) => {
            if object.len() == 1 {
                let (key, inner) = object.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or_default();
                match (key, inner) {
                    ("$oid", Value::String(id)) => return Ok(Value::String(id.clone())),
                    ("$date", Value::String(text)) => {
                        return normalized_time(text).map(Value::String).ok_or(format!("$date {text:?} is not a time"));
                    }
                    ("$date", Value::Object(number)) => {
                        let millis = number.get("$numberLong").and_then(Value::as_str).and_then(|n| n.parse().ok());
                        let time = millis.and_then(chrono::DateTime::from_timestamp_millis);
                        let time = time.ok_or(format!("$date {inner} is not a time"))?;
                        return Ok(Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
                    }
                    ("$numberInt" | "$numberLong" | "$numberDouble" | "$numberDecimal", Value::String(n)) => {
                        let number: serde_json::Number =
                            n.parse().map_err(|_| format!("{key} {n:?} is not a number"))?;
                        return Ok(Value::Number(number));
                    }
                    _ => {}
                }
            }
            object.into_iter().map(|(k, v)| Ok((k, plain(v)?))).collect::<Result<_, String>>().map(Value::Object)
        }
        Value::Array(items) => items.into_iter().map(plain).collect::<Result<_, _>>().map(Value::Array),
        other => Ok(other),
    }
}

/// The documents of a file, each with the line it starts on, one at a time.
pub struct Documents<R> {
    reader: R,
    format: Format,
    line: usize,
    /// The array format: past its `[`, and past its `]`.
    opened: bool,
    closed: bool,
}

impl<R: BufRead> Documents<R> {
    pub fn new(reader: R, format: Format) -> Self {
        Self { reader, format, line: 1, opened: false, closed: false }
    }

    fn next_byte(&mut self) -> std::io::Result<Option<u8>> {
        let mut byte = [0u8];
        match self.reader.read(&mut byte)? {
            0 => Ok(None),
            _ => {
                if byte[0] == b'\n' {
                    self.line += 1;
                }
                Ok(Some(byte[0]))
            }
        }
    }

    /// The next line that is not blank.
    fn next_line(&mut self) -> std::io::Result<Option<(usize, String)>> {
        loop {
            let mut text = String::new();
            if self.reader.read_line(&mut text)? == 0 {
                return Ok(None);
            }
            let line = self.line;
            self.line += 1;
            if !text.trim().is_empty() {
                return Ok(Some((line, text)));
            }
        }
    }

    /// The next element of the array: its text, from its first byte to the end of the
    /// value (strings and nesting followed, so a `,` inside one does not end it).
    fn next_element(&mut self) -> std::io::Result<Option<(usize, String)>> {
        if self.closed {
            return Ok(None);
        }
        let mut text = Vec::new();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let mut start = self.line;
        while let Some(byte) = self.next_byte()? {
            if !self.opened {
                match byte {
                    b'[' => self.opened = true,
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    _ => return Err(std::io::Error::other(format!("line {}: not a JSON array", self.line))),
                }
                continue;
            }
            if text.is_empty() && !in_string {
                match byte {
                    b' ' | b'\t' | b'\r' | b'\n' | b',' => continue,
                    b']' => {
                        self.closed = true;
                        return Ok(None);
                    }
                    _ => start = self.line,
                }
            }
            if in_string {
                text.push(byte);
                match (escaped, byte) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 0 => depth -= 1,
                b',' | b']' if depth == 0 => {
                    // A scalar element ends here; a `]` also ends the array.
                    self.closed = byte == b']';
                    return Ok(Some((start, String::from_utf8_lossy(&text).into_owned())));
                }
                _ => {}
            }
            text.push(byte);
            if depth == 0 && matches!(byte, b'}' | b']') {
                return Ok(Some((start, String::from_utf8_lossy(&text).into_owned())));
            }
        }
        if text.is_empty() {
            Ok(None)
        } else {
            Err(std::io::Error::other(format!("line {start}: the array ends inside a document")))
        }
    }
}

impl<R: BufRead> Iterator for Documents<R> {
    /// The line a document starts on, and the document as plain JSON or why not.
    type Item = std::io::Result<(usize, Result<Value, String>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match self.format {
            Format::Lines => self.next_line(),
            Format::Array => self.next_element(),
        };
        next.transpose().map(|read| {
            read.map(|(line, text)| {
                let parsed = serde_json::from_str::<Value>(&text).map_err(|e| format!("not JSON: {e}"));
                (line, parsed.and_then(plain))
            })
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    username: String,
    name: String,
    #[serde(default)]
    photo: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    creator: ObjectId,
    is_group: bool,
    name: String,
    restricted: bool,
    created_at: String,
    updated_at: String,
    #[serde(default)]
    participants: Vec<Participant>,
}

fn time_of(text: &str, field: &str) -> Result<String, String> {
    normalized_time(text).ok_or(format!("{field} {text:?} is not an RFC 3339 time"))
}

/// A user document as a user and the time of its state.
fn user_of(document: Value) -> Result<(User, String), String> {
    let d: UserDocument = serde_json::from_value(document).map_err(|e| e.to_string())?;
    let at = match d.updated_at.or(d.created_at) {
        Some(text) => time_of(&text, "updatedAt")?,
        None => BEFORE_ANY_CHANGE.to_owned(),
    };
    Ok((User { id: d.id, username: d.username, name: d.name, photo: d.photo }, at))
}

/// A chat document as the chat and its participants, times in this service's format.
fn chat_of(document: Value) -> Result<(Chat, Vec<Participant>), String> {
    let d: ChatDocument = serde_json::from_value(document).map_err(|e| e.to_string())?;
    let mut participants = d.participants;
    for participant in &mut participants {
        participant.last_read_at = time_of(&participant.last_read_at, "lastReadAt")?;
        if let Some(left) = &participant.left_at {
            participant.left_at = Some(time_of(left, "leftAt")?);
        }
    }
    let chat = Chat {
        id: d.id,
        creator: d.creator,
        is_group: d.is_group,
        name: d.name,
        restricted: d.restricted,
        created_at: time_of(&d.created_at, "createdAt")?,
        updated_at: time_of(&d.updated_at, "updatedAt")?,
        participants_count: 0,
    };
    Ok((chat, participants))
}

/// Writes `user` as of `at`, if newer than what is kept: one conditional `PutItem`.
pub async fn write_user(store: &Store, user: User, at: String) -> Result<bool, StoreError> {
    store.apply_change(&AppChange::UserUpserted { user, at }).await
}

/// Writes `chat` and each participant newer than its kept entry (a participant who
/// left as of its `leftAt`, an active one as of the chat's `updatedAt`), and moves the
/// chat's `participantsCount` by what changed. Round trips: the chat's conditional
/// update, one `Query` per MB of its kept entries, one `BatchWriteItem` per 25
/// participants written (16 in flight), one `UpdateItem` of the count. `true` when
/// anything changed.
///
/// The entries are compared as read, then written in batches, which take no
/// condition: a membership event of the app arriving for this chat while it is written
/// may be overwritten by the document's older state. Import before the app's events
/// flow, or while they are held (docs/operations.md).
pub async fn write_chat(store: &Store, chat: Chat, participants: Vec<Participant>) -> Result<bool, ImportError> {
    let chat_id = chat.id;
    let updated_at = chat.updated_at.clone();
    let chat_changed = store.apply_change(&AppChange::ChatUpserted { at: updated_at.clone(), chat }).await?;
    let kept = store.kept_members(chat_id).await?;
    let mut delta = 0i64;
    let mut records = Vec::new();
    for participant in &participants {
        let at = participant.left_at.as_deref().unwrap_or(&updated_at);
        let before = kept.get(&participant.user);
        if before.and_then(|k| k.changed_at.as_deref()).is_some_and(|kept| kept >= at) {
            continue;
        }
        delta += i64::from(participant.is_active()) - i64::from(before.is_some_and(|k| k.active));
        records.push(Record::member_at(chat_id, participant, at)?);
    }
    let changed = chat_changed || !records.is_empty();
    let batches: Vec<Vec<Record>> = records.chunks(ITEMS_PER_BATCH).map(<[Record]>::to_vec).collect();
    stream::iter(batches.into_iter().map(|batch| store.put_batch(batch)))
        .buffer_unordered(CONCURRENT_BATCHES)
        .try_collect::<Vec<()>>()
        .await?;
    if delta != 0 {
        store.move_participants_count(chat_id, delta).await?;
    }
    Ok(changed)
}

/// Checks a chat document lists each user once.
fn duplicate_in(chat: &Chat, participants: &[Participant]) -> Option<String> {
    let mut seen = HashSet::with_capacity(participants.len());
    participants.iter().find(|p| !seen.insert(p.user)).map(|p| format!("chat {} lists user {} twice", chat.id, p.user))
}

/// Imports a users collection.
pub async fn import_users(store: &Store, reader: impl BufRead, format: Format) -> Result<Report, ImportError> {
    let mut report = Report::default();
    let mut documents = Documents::new(reader, format);
    let slice = CONCURRENT_USERS * 8;
    loop {
        // A bounded slice of the file at a time, written concurrently.
        let mut users = Vec::new();
        let mut taken = 0;
        for document in documents.by_ref().take(slice) {
            let (line, document) = document?;
            taken += 1;
            match document.and_then(user_of) {
                Ok(user) => users.push(user),
                Err(reason) => report.bad.push((line, reason)),
            }
        }
        report.read += taken;
        let written: Vec<bool> = stream::iter(users.into_iter().map(|(user, at)| write_user(store, user, at)))
            .buffer_unordered(CONCURRENT_USERS)
            .try_collect()
            .await?;
        report.written += written.iter().filter(|changed| **changed).count();
        report.unchanged += written.iter().filter(|changed| !**changed).count();
        if taken < slice {
            return Ok(report);
        }
    }
}

/// Imports a chats collection, one chat (with its participants) at a time.
pub async fn import_chats(store: &Store, reader: impl BufRead, format: Format) -> Result<Report, ImportError> {
    let mut report = Report::default();
    for document in Documents::new(reader, format) {
        let (line, document) = document?;
        report.read += 1;
        let chat =
            document.and_then(chat_of).and_then(|(chat, participants)| match duplicate_in(&chat, &participants) {
                Some(reason) => Err(reason),
                None => Ok((chat, participants)),
            });
        match chat {
            Ok((chat, participants)) => {
                if write_chat(store, chat, participants).await? {
                    report.written += 1;
                } else {
                    report.unchanged += 1;
                }
            }
            Err(reason) => report.bad.push((line, reason)),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(text: &str, format: Format) -> Vec<(usize, Result<Value, String>)> {
        Documents::new(text.as_bytes(), format).collect::<std::io::Result<_>>().unwrap()
    }

    #[test]
    fn extended_json_relaxed_and_canonical_read_as_plain_json() {
        let canonical = json!({"_id": {"$oid": "65a000000000000000000001"},
            "at": {"$date": {"$numberLong": "1764583200000"}}, "n": {"$numberInt": "7"}});
        let relaxed =
            json!({"_id": {"$oid": "65a000000000000000000001"}, "at": {"$date": "2025-12-01T10:00:00+00:00"}, "n": 7});
        let expected = json!({"_id": "65a000000000000000000001", "at": "2025-12-01T10:00:00.000Z", "n": 7});
        assert_eq!(plain(canonical).unwrap(), expected);
        assert_eq!(plain(relaxed).unwrap(), expected);
        assert!(plain(json!({"at": {"$date": "soon"}})).is_err());
    }

    #[test]
    fn documents_stream_with_the_line_each_starts_on() {
        let lines = "{\"a\": 1}\n\nnot json\n{\"b\": \"x\\\"}\"}\n";
        let read = all(lines, Format::Lines);
        assert_eq!(read.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [1, 3, 4]);
        assert!(read[1].1.is_err() && read[2].1.as_ref().unwrap()["b"] == "x\"}");

        let array = "[\n  {\"a\": [1, {\"b\": \"],\"}]},\n  {\"c\": 2}\n,\n{\"d\": 3}]";
        let read = all(array, Format::Array);
        assert_eq!(read.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2, 3, 5]);
        assert_eq!(read[0].1.as_ref().unwrap()["a"][1]["b"], "],");
        assert!(all("[]", Format::Array).is_empty());
        assert!(Documents::new("{}".as_bytes(), Format::Array).next().unwrap().is_err(), "not an array");
    }
}
