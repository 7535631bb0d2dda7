//! MongoDB-style object ids: the existing clients hold such ids, so this service mints
//! and accepts exactly that shape.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 24 lower-case hex characters: a 4-byte big-endian seconds timestamp, 5 random
/// bytes, and a 3-byte counter. Only [`ObjectId::parse`] and [`ObjectId::generate`]
/// make one, so a value of this type is always well formed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 12]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an id is 24 lower-case hex characters")]
pub struct InvalidObjectId;

impl ObjectId {
    pub fn parse(text: &str) -> Result<Self, InvalidObjectId> {
        let bytes = text.as_bytes();
        if bytes.len() != 24 {
            return Err(InvalidObjectId);
        }
        let mut id = [0u8; 12];
        for (slot, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(Self(id))
    }

    /// A fresh id. The per-process random part plus a counter that starts at a random
    /// value keeps ids from concurrent Lambda instances apart without coordination.
    pub fn generate() -> Self {
        let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or_default();
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&seconds.to_be_bytes());
        id[4..].copy_from_slice(&unique_tail());
        Self(id)
    }

    /// A fresh id for an event: 24 hex characters like every id, but 6 bytes of
    /// milliseconds first (then 3 per-process random bytes and a counter), so that the
    /// events made for one user sort in the order they were made, to the millisecond
    /// across function instances and exactly within one. Event ids are not the data's
    /// ObjectIds (the contract fixes no shape for them); their first 4 bytes are not
    /// seconds.
    pub fn generate_for_event() -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let mut id = [0u8; 12];
        id[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        // 3 of the random bytes and the counter.
        id[6..].copy_from_slice(&unique_tail()[2..]);
        Self(id)
    }
}

/// What follows an id's time: 5 per-process random bytes, then a 3-byte counter shared
/// by all ids of the process, so ids made one after another in a process increase.
fn unique_tail() -> [u8; 8] {
    static PROCESS: std::sync::OnceLock<([u8; 5], AtomicU32)> = std::sync::OnceLock::new();
    let (process_random, counter) = PROCESS.get_or_init(|| {
        let mut seed = [0u8; 9];
        // Without an entropy source every id would collide across instances;
        // the clock and the pid are a last resort that is still unique enough.
        if getrandom::fill(&mut seed).is_err() {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
            let mixed = nanos ^ (u128::from(std::process::id()) << 64);
            seed.copy_from_slice(&mixed.to_le_bytes()[..9]);
        }
        let mut random = [0u8; 5];
        random.copy_from_slice(&seed[..5]);
        let start = u32::from_le_bytes([seed[5], seed[6], seed[7], seed[8]]);
        (random, AtomicU32::new(start))
    });
    let count = counter.fetch_add(1, Ordering::Relaxed);
    let mut tail = [0u8; 8];
    tail[..5].copy_from_slice(process_random);
    tail[5..].copy_from_slice(&count.to_be_bytes()[1..]);
    tail
}

fn hex_value(digit: u8) -> Result<u8, InvalidObjectId> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        _ => Err(InvalidObjectId),
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl std::str::FromStr for ObjectId {
    type Err = InvalidObjectId;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_same_text() {
        let text = "68d0fb69b0b26538e53b286f";
        assert_eq!(ObjectId::parse(text).map(|id| id.to_string()), Ok(text.to_owned()));
    }

    #[test]
    fn rejects_wrong_length_upper_case_and_non_hex() {
        for bad in ["", "68d0fb69", "68D0FB69B0B26538E53B286F", "68d0fb69b0b26538e53b286g", "68d0fb69b0b26538e53b286f0"]
        {
            assert_eq!(ObjectId::parse(bad), Err(InvalidObjectId), "{bad}");
        }
    }

    #[test]
    fn generated_ids_start_with_the_current_seconds_and_are_distinct() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| ObjectId::generate()).collect();
        assert_eq!(ids.len(), 1000);
        let first = ids.iter().next().unwrap().to_string();
        let seconds = u64::from_str_radix(&first[..8], 16).unwrap();
        assert!(seconds.abs_diff(now) <= 2);
    }

    #[test]
    fn event_ids_sort_in_the_order_they_are_made_and_start_with_the_milliseconds() {
        let made: Vec<ObjectId> = (0..2000).map(|_| ObjectId::generate_for_event()).collect();
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(sorted, made, "made one after another in a process: increasing");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let millis = u64::from_str_radix(&made[0].to_string()[..12], 16).unwrap();
        assert!(now.abs_diff(millis) < 5_000);
    }
}
