//! `dev import`: the app's existing users and chats from its MongoDB collections, as
//! `mongoexport` writes them (JSON Lines, or one JSON array with `--jsonArray`; Extended
//! JSON v2, relaxed or canonical), written by the same rules as the app's events: an
//! item changes only if the document is newer than what is kept, so a second run
//! changes nothing.
//!
//! It streams, whatever the size of a file or of one document in it. A thread reads
//! the file and the writes take what it parsed through a short channel. A document is
//! found by scanning, and held only up to [`HELD_DOCUMENT_BYTES`]. A larger one (a chat
//! of thousands of participants) is read from the file twice: once to check all of it
//! and to take its own fields (mongoexport writes `updatedAt`, which every entry is
//! compared by, after `participants`), then for its participants, a chunk of
//! [`PARTICIPANTS_PER_CHUNK`] at a time.
//!
//! The demo fixture is written by the same writers ([`write_user`], [`ChatWriter`]).

use std::collections::hash_map::{Entry, HashMap};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use app::ports::StoreError;
use aws::store::{Record, Store};
use domain::sync::{normalized_time, AppChange};
use domain::{Chat, ObjectId, Participant, User};
use futures::future::BoxFuture;
use futures::stream::{self, FuturesUnordered, StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use tokio::sync::mpsc;

/// The time of a document that carries none: any change the app sends later wins.
pub const BEFORE_ANY_CHANGE: &str = "1970-01-01T00:00:00.000Z";
/// `BatchWriteItem`'s limit.
const ITEMS_PER_BATCH: usize = 25;
/// Batches in flight at once.
const CONCURRENT_BATCHES: usize = 16;
/// Users written at once (one conditional `PutItem` each).
const CONCURRENT_USERS: usize = 32;
/// Documents up to this size are held as they are found and parsed from memory.
pub const HELD_DOCUMENT_BYTES: usize = 1024 * 1024;
/// A chat's participants compared and written at once: their kept entries in one go
/// (a `BatchGetItem` per 100), then the newer ones in batches.
pub const PARTICIPANTS_PER_CHUNK: usize = 5_000;
/// What the reading thread may parse ahead of the writes: so many chunks, or documents.
const PARSED_AHEAD: usize = 2;
/// Users parsed ahead of the writes: a slice of the file, written concurrently.
const USERS_AHEAD: usize = CONCURRENT_USERS * 8;

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

/// Where one document of a file is: the line it starts on, its bytes' place, and the
/// bytes themselves when there are at most [`HELD_DOCUMENT_BYTES`] of them.
#[derive(Debug)]
pub struct Document {
    pub line: usize,
    pub start: u64,
    pub len: u64,
    held: Option<Vec<u8>>,
}

impl Document {
    fn new(line: usize, start: u64) -> Self {
        Self { line, start, len: 0, held: Some(Vec::new()) }
    }

    fn push(&mut self, byte: u8) {
        self.len += 1;
        match &mut self.held {
            Some(bytes) if bytes.len() < HELD_DOCUMENT_BYTES => bytes.push(byte),
            _ => self.held = None,
        }
    }

    /// Its bytes: from memory when held, else read again from `path`.
    fn bytes(&self, path: &Path) -> std::io::Result<Box<dyn Read + '_>> {
        if let Some(bytes) = &self.held {
            return Ok(Box::new(bytes.as_slice()));
        }
        let mut file = BufReader::new(std::fs::File::open(path)?);
        file.seek(SeekFrom::Start(self.start))?;
        Ok(Box::new(file.take(self.len)))
    }
}

/// The documents of a file, in order, found without parsing them.
pub struct Documents<R> {
    reader: R,
    format: Format,
    line: usize,
    offset: u64,
    /// The array format: past its `[`, and past its `]`.
    opened: bool,
    closed: bool,
}

impl<R: BufRead> Documents<R> {
    pub fn new(reader: R, format: Format) -> Self {
        Self { reader, format, line: 1, offset: 0, opened: false, closed: false }
    }

    /// The next byte, and the offset it is at.
    fn next_byte(&mut self) -> std::io::Result<Option<(u8, u64)>> {
        let byte = match self.reader.fill_buf()? {
            [] => return Ok(None),
            [byte, ..] => *byte,
        };
        self.reader.consume(1);
        self.offset += 1;
        if byte == b'\n' {
            self.line += 1;
        }
        Ok(Some((byte, self.offset - 1)))
    }

    /// The next line that is not blank.
    fn next_line(&mut self) -> std::io::Result<Option<Document>> {
        loop {
            let mut document = Document::new(self.line, self.offset);
            let mut blank = true;
            while let Some((byte, _)) = self.next_byte()? {
                document.push(byte);
                blank &= byte.is_ascii_whitespace();
                if byte == b'\n' {
                    break;
                }
            }
            if document.len == 0 {
                return Ok(None);
            }
            if !blank {
                return Ok(Some(document));
            }
        }
    }

    /// The next element of the array, from its first byte to the end of the value
    /// (strings and nesting followed, so a `,` inside one does not end it).
    fn next_element(&mut self) -> std::io::Result<Option<Document>> {
        if self.closed {
            return Ok(None);
        }
        let mut document: Option<Document> = None;
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        while let Some((byte, at)) = self.next_byte()? {
            if !self.opened {
                match byte {
                    b'[' => self.opened = true,
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    _ => return Err(std::io::Error::other(format!("line {}: not a JSON array", self.line))),
                }
                continue;
            }
            let element = match &mut document {
                Some(element) => element,
                None => match byte {
                    b' ' | b'\t' | b'\r' | b'\n' | b',' => continue,
                    b']' => {
                        self.closed = true;
                        return Ok(None);
                    }
                    _ => document.insert(Document::new(self.line, at)),
                },
            };
            if in_string {
                element.push(byte);
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
                    return Ok(document);
                }
                _ => {}
            }
            element.push(byte);
            if depth == 0 && matches!(byte, b'}' | b']') {
                return Ok(document);
            }
        }
        match document {
            None => Ok(None),
            Some(element) => {
                Err(std::io::Error::other(format!("line {}: the array ends inside a document", element.line)))
            }
        }
    }
}

impl<R: BufRead> Iterator for Documents<R> {
    type Item = std::io::Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.format {
            Format::Lines => self.next_line(),
            Format::Array => self.next_element(),
        }
        .transpose()
    }
}

/// A document that is a JSON object, as `T` (serde would read a struct from an array
/// too, by the order of its fields).
struct Object<T>(std::marker::PhantomData<T>);

impl<T> Object<T> {
    fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Object<T> {
    type Value = T;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, fields: A) -> Result<T, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(fields))
    }
}

/// A document as `T` (through `seed`), or why not: serde's words for a missing or bad
/// field. A failure to read the file is the outer error.
fn parse<'de, S: DeserializeSeed<'de>>(bytes: impl Read, seed: S) -> std::io::Result<Result<S::Value, String>> {
    let mut deserializer = serde_json::Deserializer::from_reader(bytes);
    match seed.deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| value)) {
        Ok(value) => Ok(Ok(value)),
        Err(error) if error.is_io() => Err(error.into()),
        Err(error) if error.is_data() => Ok(Err(error.to_string())),
        Err(error) => Ok(Err(format!("not JSON: {error}"))),
    }
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

impl UserDocument {
    /// The user and the time of its state.
    fn user(self) -> (User, String) {
        let at = self.updated_at.or(self.created_at).map_or_else(|| BEFORE_ANY_CHANGE.to_owned(), |t| t.0);
        (User { id: self.id.0, username: self.username, name: self.name, photo: self.photo }, at)
    }
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

impl From<ParticipantDocument> for Participant {
    fn from(p: ParticipantDocument) -> Self {
        Participant {
            id: p.id.0,
            user: p.user.0,
            last_read_at: p.last_read_at.0,
            is_admin: p.is_admin,
            left_at: p.left_at.map(|t| t.0),
        }
    }
}

/// A chat document's own fields; its participants are checked, counted and dropped.
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
    #[serde(default, rename = "participants")]
    _participants: CheckedParticipants,
}

impl ChatDocument {
    fn chat(self) -> Chat {
        Chat {
            id: self.id.0,
            creator: self.creator.0,
            is_group: self.is_group,
            name: self.name,
            restricted: self.restricted,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            participants_count: 0,
        }
    }
}

/// A chat document's participants, each checked as it is read, then dropped.
#[derive(Default)]
struct CheckedParticipants;

impl<'de> Deserialize<'de> for CheckedParticipants {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EachParticipant(|_| Ok(())).deserialize(deserializer).map(|()| Self)
    }
}

/// A `participants` array, each entry handed to the function as it is read, none kept.
struct EachParticipant<F>(F);

impl<'de, F: FnMut(Participant) -> Result<(), String>> DeserializeSeed<'de> for EachParticipant<F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Participant) -> Result<(), String>> Visitor<'de> for EachParticipant<F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of participants")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut entries: A) -> Result<(), A::Error> {
        while let Some(entry) = entries.next_element::<ParticipantDocument>()? {
            (self.0)(entry.into()).map_err(A::Error::custom)?;
        }
        Ok(())
    }
}

/// A chat document read again for its `participants` alone (the rest skipped).
struct ParticipantsOf<F>(F);

impl<'de, F: FnMut(Participant) -> Result<(), String>> DeserializeSeed<'de> for ParticipantsOf<F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Participant) -> Result<(), String>> Visitor<'de> for ParticipantsOf<F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a chat document")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut fields: A) -> Result<(), A::Error> {
        while let Some(name) = fields.next_key::<String>()? {
            if name == "participants" {
                fields.next_value_seed(EachParticipant(&mut self.0))?;
            } else {
                fields.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// What the reading thread hands to the writes, in the file's order.
enum Parsed {
    User(User, String),
    /// A chat document, all of it good: its participants follow, then [`Parsed::ChatEnd`].
    Chat(Chat),
    Participants(Vec<Participant>),
    ChatEnd,
    Bad(usize, String),
}

/// The writes have stopped (they failed): reading on is pointless.
struct Stopped;

fn send(parsed: &mpsc::Sender<Parsed>, value: Parsed) -> Result<(), Stopped> {
    parsed.blocking_send(value).map_err(|_| Stopped)
}

/// Reads `path` on this (blocking) thread, each document through `each`, moving the
/// progress bar past it.
fn read_documents(
    path: &Path,
    format: Format,
    progress: &ProgressBar,
    mut each: impl FnMut(&Document) -> std::io::Result<Result<(), Stopped>>,
) -> std::io::Result<()> {
    for document in Documents::new(BufReader::new(std::fs::File::open(path)?), format) {
        let document = document?;
        if each(&document)?.is_err() {
            return Ok(());
        }
        progress.set_position(document.start + document.len);
    }
    Ok(())
}

fn read_users(
    path: &Path,
    format: Format,
    progress: &ProgressBar,
    parsed: &mpsc::Sender<Parsed>,
) -> std::io::Result<()> {
    read_documents(path, format, progress, |document| {
        Ok(match parse(document.bytes(path)?, Object::<UserDocument>::new())? {
            Ok(user) => {
                let (user, at) = user.user();
                send(parsed, Parsed::User(user, at))
            }
            Err(reason) => send(parsed, Parsed::Bad(document.line, reason)),
        })
    })
}

fn read_chats(
    path: &Path,
    format: Format,
    progress: &ProgressBar,
    parsed: &mpsc::Sender<Parsed>,
) -> std::io::Result<()> {
    read_documents(path, format, progress, |document| {
        let chat = match parse(document.bytes(path)?, Object::<ChatDocument>::new())? {
            Ok(chat) => chat.chat(),
            Err(reason) => return Ok(send(parsed, Parsed::Bad(document.line, reason))),
        };
        if send(parsed, Parsed::Chat(chat)).is_err() {
            return Ok(Err(Stopped));
        }
        let mut chunk = Vec::with_capacity(PARTICIPANTS_PER_CHUNK);
        let each = |participant| {
            chunk.push(participant);
            if chunk.len() == PARTICIPANTS_PER_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(PARTICIPANTS_PER_CHUNK));
                send(parsed, Parsed::Participants(full)).map_err(|Stopped| "the import stopped".to_owned())?;
            }
            Ok(())
        };
        if let Err(reason) = parse(document.bytes(path)?, ParticipantsOf(each))? {
            if parsed.is_closed() {
                return Ok(Err(Stopped));
            }
            // Checked whole a moment ago: the file changed under the import.
            return Err(std::io::Error::other(format!("line {}: {reason}", document.line)));
        }
        if !chunk.is_empty() && send(parsed, Parsed::Participants(chunk)).is_err() {
            return Ok(Err(Stopped));
        }
        Ok(send(parsed, Parsed::ChatEnd))
    })
}

/// Writes `user` as of `at`, if newer than what is kept: one conditional `PutItem`.
pub async fn write_user(store: &Store, user: User, at: String) -> Result<bool, StoreError> {
    store.apply_change(&AppChange::UserUpserted { user, at }).await
}

/// A chat being written: its own item, then its participants a chunk at a time, each
/// newer than its kept entry (a participant who left as of its `leftAt`, an active one
/// as of the chat's `updatedAt`), then its `participantsCount` set to its active entries.
///
/// Round trips: the chat's conditional update and one `Query` per MB of its kept
/// entries' keys, at once; per chunk, one `BatchGetItem` per 100 entries to compare and
/// one `BatchWriteItem` per 25 written; one conditional `UpdateItem` of the count.
///
/// The batches stay 16 in flight from one chunk to the next: a chunk is compared while
/// the last batches of the one before land. Only when it lists a user whose batch is
/// still in flight (a user the document lists twice, near the chunks' border) does it
/// wait for them, so that it is compared with what the first listing wrote.
///
/// The entries are compared as read, then written in batches, which take no
/// condition: a membership event of the app arriving for this chat while it is written
/// may be overwritten by the document's older state. Import before the app's events
/// flow, or while they are held (docs/operations.md).
///
/// Only a user who may have an entry is read: one kept before the import began, or
/// written since by this writer (a Bloom filter of them says maybe). A first import of a
/// chat reads no entries.
pub struct ChatWriter<'s> {
    store: &'s Store,
    chat: ObjectId,
    updated_at: String,
    changed: bool,
    /// The active entries: those kept before, moved by each batch as it lands.
    active: i64,
    with_entries: UsersWithEntries,
    /// The batches written and not landed yet, each answering its users and the active
    /// entries it adds (or removes).
    in_flight: FuturesUnordered<BoxFuture<'s, Landed>>,
    /// The users of the batches in flight: at most [`CONCURRENT_BATCHES`] times 25.
    flying: HashSet<ObjectId>,
    /// The first batch that failed: none starts after it.
    failure: Option<StoreError>,
}

/// A batch that landed, or failed: its users, and the change to the active entries.
type Landed = (Vec<ObjectId>, Result<i64, StoreError>);

impl<'s> ChatWriter<'s> {
    /// Round trips, at once: the chat's conditional update, and one `Query` per MB of its
    /// kept entries' keys (none for a new chat).
    pub async fn begin(store: &'s Store, chat: Chat) -> Result<Self, StoreError> {
        let (id, updated_at) = (chat.id, chat.updated_at.clone());
        let upsert = AppChange::ChatUpserted { at: updated_at.clone(), chat };
        let (mut with_entries, mut active) = (UsersWithEntries::default(), 0);
        let kept = store.each_member(id, |user, is_active| {
            with_entries.add(user);
            active += i64::from(is_active);
        });
        let (changed, ()) = futures::try_join!(store.apply_change(&upsert), kept)?;
        Ok(Self {
            store,
            chat: id,
            updated_at,
            changed,
            active,
            with_entries,
            in_flight: FuturesUnordered::new(),
            flying: HashSet::new(),
            failure: None,
        })
    }

    /// Compares a chunk with what is kept and starts the batches of what is newer; some
    /// may still be in flight when it returns. A batch that failed, here or before, is
    /// this chunk's failure.
    pub async fn write<'p>(&mut self, participants: &'p [Participant]) -> Result<(), StoreError> {
        // The newest listing of each user in the chunk (its place): the one compared
        // and written.
        // Its own copy: the writes below take `self` while the listings' times are held.
        let updated_at = self.updated_at.clone();
        let at_of = |participant: &'p Participant| participant.left_at.as_deref().unwrap_or(&updated_at);
        let mut newest: HashMap<ObjectId, usize> = HashMap::with_capacity(participants.len());
        for (place, participant) in participants.iter().enumerate() {
            match newest.entry(participant.user) {
                Entry::Occupied(mut listed) if at_of(&participants[*listed.get()]) < at_of(participant) => {
                    listed.insert(place);
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(unlisted) => _ = unlisted.insert(place),
            }
        }
        let users: Vec<ObjectId> = newest.keys().filter(|user| self.with_entries.may_hold(**user)).copied().collect();
        if users.iter().any(|user| self.flying.contains(user)) {
            self.land_all().await;
        }
        self.failed()?;
        let kept = match users.is_empty() {
            true => HashMap::new(),
            false => self.store.kept_members(self.chat, &users).await?,
        };
        // In the document's order: the same writes on every run, and DynamoDB Local
        // writes keys that come in order (as the bench's do) far faster than shuffled.
        let newer: Vec<(&Participant, &str, i64)> = participants
            .iter()
            .enumerate()
            .filter(|(place, participant)| newest.get(&participant.user) == Some(place))
            .filter_map(|(_, participant)| {
                let at = at_of(participant);
                let before = kept.get(&participant.user);
                if before.and_then(|k| k.changed_at.as_deref()).is_some_and(|kept| kept >= at) {
                    return None;
                }
                let delta = i64::from(participant.is_active()) - i64::from(before.is_some_and(|k| k.active));
                Some((participant, at, delta))
            })
            .collect();
        drop(kept);
        // Items are made a batch at a time, as the batches go: only those in flight are held.
        for batch in newer.chunks(ITEMS_PER_BATCH) {
            while self.in_flight.len() >= CONCURRENT_BATCHES {
                self.land_one().await;
            }
            self.failed()?;
            let users: Vec<ObjectId> = batch.iter().map(|(participant, _, _)| participant.user).collect();
            let records =
                batch.iter().map(|(p, at, _)| Record::member_at(self.chat, p, at)).collect::<Result<_, _>>()?;
            let delta: i64 = batch.iter().map(|(_, _, delta)| delta).sum();
            users.iter().for_each(|user| self.with_entries.add(*user));
            self.flying.extend(users.iter().copied());
            let store = self.store;
            self.in_flight.push(Box::pin(async move { (users, store.put_batch(records).await.map(|()| delta)) }));
        }
        Ok(())
    }

    /// Waits for the batches in flight, then sets the count to the active entries as
    /// counted (those kept, moved by each batch that landed), unless it is that already.
    /// `true` when anything changed. Set rather than moved, so that a chat whose import
    /// failed half-way (a batch written in part, a count never set) is counted right by
    /// the next import. A batch that failed is the answer, once the count is set.
    pub async fn finish(mut self) -> Result<bool, StoreError> {
        self.land_all().await;
        let recounted = self.store.set_participants_count(self.chat, self.active).await?;
        self.failed()?;
        Ok(self.changed || recounted)
    }

    /// The first failure of a batch, once.
    fn failed(&mut self) -> Result<(), StoreError> {
        self.failure.take().map_or(Ok(()), Err)
    }

    async fn land_one(&mut self) {
        if let Some((users, landed)) = self.in_flight.next().await {
            users.iter().for_each(|user| _ = self.flying.remove(user));
            match landed {
                Ok(delta) => {
                    self.active += delta;
                    self.changed = true;
                }
                Err(error) => _ = self.failure.get_or_insert(error),
            }
        }
    }

    async fn land_all(&mut self) {
        while !self.in_flight.is_empty() {
            self.land_one().await;
        }
    }
}

/// The users of a chat who have an entry (kept, or written by its [`ChatWriter`]), as a
/// Bloom filter of a fixed 256 KB: "no" is certain, "maybe" is wrong for about 1 in 100
/// users at 200,000 (then an entry is read that need not be), and its size does not
/// grow with the chat.
struct UsersWithEntries {
    bits: Vec<u64>,
}

impl UsersWithEntries {
    const BITS: u64 = 1 << 21;
    const HASHES: u64 = 4;

    /// The bits of `user`, by double hashing one 64-bit hash.
    fn bits_of(user: ObjectId) -> impl Iterator<Item = u64> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        user.hash(&mut hasher);
        let hash = hasher.finish();
        let (first, step) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        (0..Self::HASHES).map(move |i| first.wrapping_add(i.wrapping_mul(step)) % Self::BITS)
    }

    fn add(&mut self, user: ObjectId) {
        for bit in Self::bits_of(user) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    fn may_hold(&self, user: ObjectId) -> bool {
        Self::bits_of(user).all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

impl Default for UsersWithEntries {
    fn default() -> Self {
        Self { bits: vec![0; (Self::BITS / 64) as usize] }
    }
}

/// Writes `chat` and its participants, as the import does a chat document.
pub async fn write_chat(store: &Store, chat: Chat, participants: &[Participant]) -> Result<bool, StoreError> {
    let mut chat = ChatWriter::begin(store, chat).await?;
    for chunk in participants.chunks(PARTICIPANTS_PER_CHUNK) {
        if let Err(error) = chat.write(chunk).await {
            // The count of what landed, as the import does; the failure is the one to tell.
            let _ = chat.finish().await;
            return Err(error);
        }
    }
    chat.finish().await
}

/// Runs `read` on a blocking thread and `write` over what it parses; the report.
async fn import_with<W, Fut>(
    path: &Path,
    format: Format,
    progress: ProgressBar,
    read: fn(&Path, Format, &ProgressBar, &mpsc::Sender<Parsed>) -> std::io::Result<()>,
    ahead: usize,
    write: W,
) -> Result<Report, ImportError>
where
    W: FnOnce(mpsc::Receiver<Parsed>) -> Fut,
    Fut: std::future::Future<Output = Result<Report, ImportError>>,
{
    let (sender, receiver) = mpsc::channel(ahead);
    let path: PathBuf = path.to_owned();
    let reading = tokio::task::spawn_blocking(move || read(&path, format, &progress, &sender));
    // Its receiver dropped when it ends, a failed write stops the reading too.
    let written = write(receiver).await;
    let read = reading.await.map_err(std::io::Error::other)?;
    let report = written?;
    read?;
    Ok(report)
}

/// Imports a users collection.
pub async fn import_users(
    store: &Store,
    path: &Path,
    format: Format,
    progress: ProgressBar,
) -> Result<Report, ImportError> {
    import_with(path, format, progress, read_users, USERS_AHEAD, |mut parsed| async move {
        let mut report = Report::default();
        let mut slice = Vec::new();
        loop {
            // A bounded slice of the file at a time, written concurrently.
            let more = parsed.recv_many(&mut slice, USERS_AHEAD).await > 0;
            let mut writes = Vec::new();
            for parsed in slice.drain(..) {
                report.read += 1;
                match parsed {
                    Parsed::User(user, at) => writes.push(write_user(store, user, at)),
                    Parsed::Bad(line, reason) => report.bad.push((line, reason)),
                    Parsed::Chat(_) | Parsed::Participants(_) | Parsed::ChatEnd => {}
                }
            }
            let written: Vec<bool> = stream::iter(writes).buffer_unordered(CONCURRENT_USERS).try_collect().await?;
            report.written += written.iter().filter(|changed| **changed).count();
            report.unchanged += written.iter().filter(|changed| !**changed).count();
            if !more {
                return Ok(report);
            }
        }
    })
    .await
}

/// Imports a chats collection, one chat at a time, its participants a chunk at a time.
pub async fn import_chats(
    store: &Store,
    path: &Path,
    format: Format,
    progress: ProgressBar,
) -> Result<Report, ImportError> {
    import_with(path, format, progress, read_chats, PARSED_AHEAD, |mut parsed| async move {
        let mut report = Report::default();
        let mut writing: Option<ChatWriter> = None;
        let written = async {
            while let Some(next) = parsed.recv().await {
                match next {
                    Parsed::Chat(chat) => {
                        report.read += 1;
                        writing = Some(ChatWriter::begin(store, chat).await?);
                    }
                    Parsed::Participants(chunk) => {
                        if let Some(chat) = &mut writing {
                            chat.write(&chunk).await?;
                        }
                    }
                    Parsed::ChatEnd => {
                        if let Some(chat) = writing.take() {
                            match chat.finish().await? {
                                true => report.written += 1,
                                false => report.unchanged += 1,
                            }
                        }
                    }
                    Parsed::Bad(line, reason) => {
                        report.read += 1;
                        report.bad.push((line, reason));
                    }
                    Parsed::User(..) => {}
                }
            }
            Ok::<(), ImportError>(())
        }
        .await;
        // A chat cut short (the file or a write failed) still has its count moved by
        // the entries written; that failing too, the first failure is the one to tell.
        if let Some(chat) = writing.take() {
            let _ = chat.finish().await;
        }
        written.map(|()| report)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Each document's line and text, and that its place in `text` is that text.
    fn all(text: &str, format: Format) -> Vec<(usize, String)> {
        let documents: Vec<Document> = Documents::new(text.as_bytes(), format).collect::<std::io::Result<_>>().unwrap();
        documents
            .into_iter()
            .map(|d| {
                let held = String::from_utf8(d.held.unwrap()).unwrap();
                assert_eq!(&text[d.start as usize..(d.start + d.len) as usize], held);
                (d.line, held)
            })
            .collect()
    }

    fn user_of(text: &str) -> Result<(User, String), String> {
        parse(text.as_bytes(), Object::<UserDocument>::new()).unwrap().map(UserDocument::user)
    }

    #[test]
    fn a_chat_is_checked_whole_then_its_participants_stream_without_the_rest() {
        let entry = |n: u8| {
            format!(
                r#"{{"_id": "6c000000000000000000000{n}", "user": "6a000000000000000000000{n}", "lastReadAt": "2026-11-01T00:00:00Z"}}"#
            )
        };
        let chat = |entries: &str| {
            format!(
                r#"{{"_id": "6b0000000000000000000001", "creator": "6a0000000000000000000001", "isGroup": true,
                "name": "n", "restricted": true, "createdAt": "2026-01-01T00:00:00Z", "participants": [{entries}],
                "extra": {{"participants": [1]}}, "updatedAt": {{"$date": "2026-11-03T00:00:00Z"}}}}"#
            )
        };
        let good = chat(&[entry(1), entry(2), entry(3)].join(","));
        let header = parse(good.as_bytes(), Object::<ChatDocument>::new()).unwrap().unwrap().chat();
        assert_eq!(header.updated_at, "2026-11-03T00:00:00.000Z", "read after the participants");
        let mut users = Vec::new();
        parse(
            good.as_bytes(),
            ParticipantsOf(|p: Participant| {
                users.push(p.user.to_string());
                Ok(())
            }),
        )
        .unwrap()
        .unwrap();
        assert_eq!(users, ["6a0000000000000000000001", "6a0000000000000000000002", "6a0000000000000000000003"]);

        let bad = chat(
            &[entry(1), r#"{"_id": "6c0000000000000000000002", "user": "nope", "lastReadAt": "x"}"#.into()].join(","),
        );
        // serde reads a struct from an array by its fields' order; a document is an object.
        let array = format!("[{}]", ["\"6b0000000000000000000001\""; 7].join(","));
        let refused = parse(array.as_bytes(), Object::<ChatDocument>::new()).unwrap();
        assert!(refused.is_err_and(|reason| reason.contains("expected a JSON object")));
        let refused = parse(bad.as_bytes(), Object::<ChatDocument>::new()).unwrap();
        assert!(refused.is_err_and(|reason| reason.contains("\"nope\" is not an ObjectId")));
    }

    #[test]
    fn the_filter_of_users_with_entries_never_forgets_and_rarely_guesses() {
        let user = |n: u32| ObjectId::parse(&format!("6a{n:022x}")).unwrap();
        let mut written = UsersWithEntries::default();
        (0..200_000).for_each(|n| written.add(user(n)));
        assert!((0..200_000).all(|n| written.may_hold(user(n))), "no user with an entry is missed");
        let wrong = (200_000..300_000).filter(|n| written.may_hold(user(*n))).count();
        assert!(wrong < 2_000, "{wrong} of 100,000 others guessed written");
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
        assert_eq!(all(&format!("{array}\n"), Format::Array).len(), 3);
        assert_eq!(read.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2, 3, 5]);
        assert_eq!(serde_json::from_str::<Value>(&read[0].1).unwrap()["a"][1]["b"], "],");
        assert!(all("[]", Format::Array).is_empty());
        assert!(Documents::new("{}".as_bytes(), Format::Array).next().unwrap().is_err(), "not an array");
    }
}
