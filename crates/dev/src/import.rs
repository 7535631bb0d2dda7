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

/// An id as Extended JSON writes it: `{"$oid": "..."}`, or the bare text.
#[derive(Debug, Clone, Copy)]
struct Oid(ObjectId);

impl<'de> Deserialize<'de> for Oid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Wrapped {
                #[serde(rename = "$oid")]
                oid: String,
            },
            Bare(String),
        }
        let text = match Form::deserialize(deserializer)? {
            Form::Wrapped { oid } | Form::Bare(oid) => oid,
        };
        ObjectId::parse(&text).map(Oid).map_err(|_| serde::de::Error::custom(format!("{text:?} is not an ObjectId")))
    }
}

/// A time as Extended JSON writes it (relaxed `{"$date": "<RFC 3339>"}`, canonical
/// `{"$date": {"$numberLong": "<ms>"}}`), or a bare RFC 3339 text: in this service's
/// format.
#[derive(Debug, Clone)]
struct Time(String);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Millis {
            #[serde(rename = "$numberLong")]
            millis: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Date {
            Text(String),
            Millis(Millis),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Wrapped {
                #[serde(rename = "$date")]
                date: Date,
            },
            Bare(String),
        }
        let time = match Form::deserialize(deserializer)? {
            Form::Wrapped { date: Date::Text(text) } | Form::Bare(text) => normalized_time(&text),
            Form::Wrapped { date: Date::Millis(Millis { millis }) } => millis
                .parse()
                .ok()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        };
        time.map(Time).ok_or_else(|| serde::de::Error::custom("a time that is not RFC 3339"))
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
    /// The line a document starts on, and its text.
    type Item = std::io::Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.format {
            Format::Lines => self.next_line(),
            Format::Array => self.next_element(),
        }
        .transpose()
    }
}

/// A document as `T`, or why not: serde's words for a missing or bad field.
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| if e.is_data() { e.to_string() } else { format!("not JSON: {e}") })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDocument {
    #[serde(rename = "_id")]
    id: Oid,
    username: String,
    name: String,
    #[serde(default)]
    photo: Option<String>,
    #[serde(default)]
    updated_at: Option<Time>,
    #[serde(default)]
    created_at: Option<Time>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantDocument {
    #[serde(rename = "_id")]
    id: Oid,
    user: Oid,
    #[serde(default)]
    is_admin: bool,
    last_read_at: Time,
    #[serde(default)]
    left_at: Option<Time>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatDocument {
    #[serde(rename = "_id")]
    id: Oid,
    creator: Oid,
    is_group: bool,
    name: String,
    restricted: bool,
    created_at: Time,
    updated_at: Time,
    #[serde(default)]
    participants: Vec<ParticipantDocument>,
}

/// A user document as a user and the time of its state.
fn user_of(text: &str) -> Result<(User, String), String> {
    let d: UserDocument = parse(text)?;
    let at = d.updated_at.or(d.created_at).map_or_else(|| BEFORE_ANY_CHANGE.to_owned(), |t| t.0);
    Ok((User { id: d.id.0, username: d.username, name: d.name, photo: d.photo }, at))
}

/// A chat document as the chat and its participants.
fn chat_of(text: &str) -> Result<(Chat, Vec<Participant>), String> {
    let d: ChatDocument = parse(text)?;
    let participants = d
        .participants
        .into_iter()
        .map(|p| Participant {
            id: p.id.0,
            user: p.user.0,
            last_read_at: p.last_read_at.0,
            is_admin: p.is_admin,
            left_at: p.left_at.map(|t| t.0),
        })
        .collect();
    let chat = Chat {
        id: d.id.0,
        creator: d.creator.0,
        is_group: d.is_group,
        name: d.name,
        restricted: d.restricted,
        created_at: d.created_at.0,
        updated_at: d.updated_at.0,
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
    let mut newer = Vec::new();
    for participant in &participants {
        let at = participant.left_at.as_deref().unwrap_or(&updated_at);
        let before = kept.get(&participant.user);
        if before.and_then(|k| k.changed_at.as_deref()).is_some_and(|kept| kept >= at) {
            continue;
        }
        delta += i64::from(participant.is_active()) - i64::from(before.is_some_and(|k| k.active));
        newer.push((participant, at));
    }
    drop(kept);
    let changed = chat_changed || !newer.is_empty();
    // Items are made a batch at a time, as the batches go: only those in flight are held.
    let put = |batch: &[(&Participant, &str)]| {
        let records = batch.iter().map(|(p, at)| Record::member_at(chat_id, p, at)).collect::<Result<Vec<_>, _>>();
        async move { store.put_batch(records?).await }
    };
    stream::iter(newer.chunks(ITEMS_PER_BATCH).map(put))
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
            let (line, text) = document?;
            taken += 1;
            match user_of(&text) {
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
        let (line, text) = document?;
        report.read += 1;
        let chat = chat_of(&text).and_then(|(chat, participants)| match duplicate_in(&chat, &participants) {
            Some(reason) => Err(reason),
            None => Ok((chat, participants)),
        });
        // The text is not needed past here: a big chat's is tens of MB.
        drop(text);
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
    use serde_json::Value;

    fn all(text: &str, format: Format) -> Vec<(usize, String)> {
        Documents::new(text.as_bytes(), format).collect::<std::io::Result<_>>().unwrap()
    }

    #[test]
    fn extended_json_relaxed_and_canonical_read_alike() {
        let canonical = r#"{"_id": {"$oid": "65a000000000000000000001"}, "username": "ada", "name": "Ada",
            "updatedAt": {"$date": {"$numberLong": "1764583200000"}}, "__v": {"$numberInt": "7"}}"#;
        let relaxed = r#"{"_id": {"$oid": "65a000000000000000000001"}, "username": "ada", "name": "Ada",
            "updatedAt": {"$date": "2025-12-01T11:00:00+01:00"}}"#;
        let bare = r#"{"_id": "65a000000000000000000001", "username": "ada", "name": "Ada", "updatedAt": "2025-12-01T10:00:00Z"}"#;
        for text in [canonical, relaxed, bare] {
            let (user, at) = user_of(text).unwrap();
            assert_eq!(
                (user.id.to_string().as_str(), at.as_str()),
                ("65a000000000000000000001", "2025-12-01T10:00:00.000Z")
            );
        }
        assert!(user_of(r#"{"_id": "x", "username": "a", "name": "b"}"#).unwrap_err().contains("not an ObjectId"));
        assert!(user_of(
            r#"{"_id": "65a000000000000000000001", "username": "a", "name": "b", "updatedAt": {"$date": "soon"}}"#
        )
        .is_err());
        assert!(user_of("{nope").unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn documents_stream_with_the_line_each_starts_on() {
        let lines = "{\"a\": 1}\n\nnot json\n{\"b\": \"x\\\"}\"}\n";
        let read = all(lines, Format::Lines);
        assert_eq!(read.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [1, 3, 4]);
        assert_eq!(serde_json::from_str::<Value>(&read[2].1).unwrap()["b"], "x\"}");

        let array = "[\n  {\"a\": [1, {\"b\": \"],\"}]},\n  {\"c\": 2}\n,\n{\"d\": 3}]";
        let read = all(array, Format::Array);
        assert_eq!(read.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2, 3, 5]);
        assert_eq!(serde_json::from_str::<Value>(&read[0].1).unwrap()["a"][1]["b"], "],");
        assert!(all("[]", Format::Array).is_empty());
        assert!(Documents::new("{}".as_bytes(), Format::Array).next().unwrap().is_err(), "not an array");
    }
}
