//! The events kept for their recipients (7 days, by TTL), under their user partition,
//! ordered in LSI1 by when they were written: what `GET /events` reads.

use app::ports::{EventsFrom, KeptEvent, KeptPage, StoreError};
use app::requests::KEEP_EVENTS_SECONDS;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::time::timestamp_seconds_ago;
use domain::{ObjectId, OutboundEvent};
use futures::stream::{self, StreamExt};

use super::items::{self, decode, encode, item_key};
use super::{condition_held, keys, sdk_error, Store, CONCURRENT_WRITES};

impl Store {
    /// Keeps `event` for its recipient: one `PutItem` that writes only if it is not kept
    /// yet, so a redelivery never moves it (its place stays where a client may have
    /// read up to).
    async fn keep_event(&self, event: &OutboundEvent, created_at: &str, written_at: &str) -> Result<(), StoreError> {
        let kept = KeptEvent {
            id: event.id,
            event: event.event.clone(),
            data: event.data.clone(),
            created_at: created_at.to_owned(),
        };
        let mut item = encode(&keys::inbox_event(event.to, event.id), items::INBOX_EVENT, &kept)?;
        item.insert(keys::LSI1SK.into(), AttributeValue::S(keys::inbox_order(written_at, event.id)));
        item.insert("writtenAt".into(), AttributeValue::S(written_at.to_owned()));
        item.insert("ttl".into(), AttributeValue::N(domain::time::epoch_seconds_in(KEEP_EVENTS_SECONDS).to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        condition_held("PutItem", result).map(|_| ())
    }

    /// Keeps the events of one change, 16 writes in flight, all stamped with one write
    /// time: within a change they then sort by id, which is the order they were made.
    pub async fn keep_events(&self, events: &[OutboundEvent], created_at: &str) -> Result<(), StoreError> {
        let written_at = domain::time::now_timestamp();
        let writes: Vec<_> = events.iter().map(|event| self.keep_event(event, created_at, &written_at)).collect();
        let results: Vec<Result<(), StoreError>> =
            stream::iter(writes).buffer_unordered(CONCURRENT_WRITES).collect().await;
        results.into_iter().collect()
    }

    /// The place of `event` in `user`'s kept events, if it is kept: one `GetItem`.
    async fn kept_event_place(&self, user: ObjectId, event: ObjectId) -> Result<Option<String>, StoreError> {
        let item = self.get_consistent(&keys::inbox_event(user, event), Some(keys::LSI1SK)).await?;
        Ok(item.and_then(|item| match item.get(keys::LSI1SK) {
            Some(AttributeValue::S(place)) => Some(place.clone()),
            _ => None,
        }))
    }

    /// `user`'s kept events from `from`, oldest first, at most `limit`, up to this
    /// moment: one strongly consistent `Query` of LSI1, after one `GetItem` for the
    /// place of an `after` event. `None` when `from` names no kept event of `user`.
    ///
    /// The answer's cursor never skips an event kept late. An event's place is the time
    /// it was written, and a write becomes visible at most `late_seconds` after that
    /// (the call bound and clock skew). So what this read saw is complete up to `now -
    /// late_seconds`; events it returned after that horizon are read again from it, once
    /// the reading is caught up (`more: false`): a few repeats, which the client drops by
    /// id, and no skip. While `more` is true the cursor goes on from the last event, so
    /// paging always progresses; it carries the earliest horizon along.
    pub async fn kept_events(
        &self,
        user: ObjectId,
        from: EventsFrom<'_>,
        late_seconds: i64,
        limit: usize,
    ) -> Result<Option<KeptPage>, StoreError> {
        // Older than this, an event is no longer kept (its TTL may not have removed it
        // yet): a cursor or an id from before is unknown, and the client reads again.
        let kept_since = keys::inbox_order_from(&timestamp_seconds_ago(KEEP_EVENTS_SECONDS));
        let (after, unsafe_from) = match from {
            EventsFrom::Since(time) => (keys::inbox_order_from(time), None),
            EventsFrom::After(event) => match self.kept_event_place(user, event).await? {
                Some(place) if place >= kept_since => (place, None),
                _ => return Ok(None),
            },
            EventsFrom::Cursor(text) => match Cursor::decode(text, user) {
                Some(cursor) if cursor.after >= kept_since => (cursor.after, cursor.unsafe_from),
                _ => return Ok(None),
            },
        };
        let (events, more, last) = self.kept_events_after(user, &after, limit).await?;
        let horizon = keys::inbox_order_from(&timestamp_seconds_ago(late_seconds));
        let last = last.unwrap_or_else(|| after.clone());
        // Where events newer than the horizon begin among those this read returned.
        let unsafe_here = (last > horizon).then(|| if after > horizon { after.clone() } else { horizon.clone() });
        let unsafe_from = match (unsafe_from, unsafe_here) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let next = match (more, unsafe_from) {
            (true, unsafe_from) => Cursor { after: last, unsafe_from },
            (false, Some(rewind)) => Cursor { after: rewind.min(last), unsafe_from: None },
            // Caught up, and nothing returned is recent: everything up to the horizon has
            // been seen, so the cursor may start there (and stays fresh for 7 days).
            (false, None) => Cursor { after: last.max(horizon), unsafe_from: None },
        };
        Ok(Some(KeptPage { events, cursor: next.encode(user), more }))
    }

    /// The events after `place` (exclusive), at most `limit`, whether there are more,
    /// and the place of the last one returned.
    async fn kept_events_after(
        &self,
        user: ObjectId,
        place: &str,
        limit: usize,
    ) -> Result<(Vec<KeptEvent>, bool, Option<String>), StoreError> {
        // Keys are all the same length, so `place` plus a space is the least key after
        // it; every event's place sorts before `EVENT#~` (its time starts with a digit).
        let from = format!("{place} ");
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::LSI1)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::LSI1SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::requests_of(user)))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .expression_attribute_values(":to", AttributeValue::S(keys::INBOX_ORDER_END.to_owned()))
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut items = output.items.unwrap_or_default();
        let more = items.len() > limit;
        items.truncate(limit);
        let last = items.last().and_then(|item| match item.get(keys::LSI1SK) {
            Some(AttributeValue::S(place)) => Some(place.clone()),
            _ => None,
        });
        let events = items.into_iter().map(|item| decode(&item_key(&item), item)).collect::<Result<_, _>>()?;
        Ok((events, more, last))
    }
}

/// Where a reading of kept events goes on: after `after`, and, once caught up, from
/// `unsafe_from` again. Bound to its user, so that another user's cursor is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    after: String,
    unsafe_from: Option<String>,
}

/// A cursor going on after an event written at `written_at`, as an answer would give it.
pub(crate) fn cursor_after(user: ObjectId, written_at: &str, event: ObjectId) -> String {
    Cursor { after: keys::inbox_order(written_at, event), unsafe_from: None }.encode(user)
}

impl Cursor {
    /// Hex of `user|after|unsafe_from`: opaque, and safe in a query string as it is.
    fn encode(&self, user: ObjectId) -> String {
        let text = format!("{user}|{}|{}", self.after, self.unsafe_from.as_deref().unwrap_or_default());
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn decode(text: &str, user: ObjectId) -> Option<Self> {
        if text.len() % 2 != 0 {
            return None;
        }
        let bytes: Option<Vec<u8>> =
            (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect();
        let text = String::from_utf8(bytes?).ok()?;
        let mut parts = text.split('|');
        let (owner, after, unsafe_from) = (parts.next()?, parts.next()?, parts.next()?);
        let is_place = |place: &str| keys::is_inbox_order(place);
        if owner != user.to_string() || parts.next().is_some() || !is_place(after) {
            return None;
        }
        let unsafe_from = (!unsafe_from.is_empty()).then(|| unsafe_from.to_owned());
        if unsafe_from.as_deref().is_some_and(|place| !is_place(place)) {
            return None;
        }
        Some(Self { after: after.to_owned(), unsafe_from })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_it_was_and_only_for_its_user() {
        let user = ObjectId::generate();
        let cursor = Cursor { after: keys::inbox_order_from("2026-12-01T10:00:00.000Z"), unsafe_from: None };
        assert_eq!(Cursor::decode(&cursor.encode(user), user), Some(cursor.clone()));
        assert_eq!(Cursor::decode(&cursor.encode(user), ObjectId::generate()), None, "another user's");
        for bad in ["", "nope", "zz", "abc"] {
            assert_eq!(Cursor::decode(bad, user), None, "{bad:?}");
        }
    }
}
