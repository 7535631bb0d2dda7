use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const JOIN_GROUP_CHAT: &str = "join-group-chat";

/// Fields missing from an item another writer made count as zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionTally {
    pub count: u64,
    pub points: i64,
}

/// The "vibe social score" of one user. The item belongs to the whole app: other
/// writers may add actions and fields, which reading ignores and writing never touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Score {
    pub total: i64,
    pub actions: BTreeMap<String, ActionTally>,
}

impl Score {
    pub fn counted(&self, action: &str, points: i64) -> Self {
        let mut next = self.clone();
        let tally = next.actions.entry(action.to_owned()).or_default();
        tally.count += 1;
        tally.points += points;
        next.total += points;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_an_action_adds_to_its_tally_and_the_total() {
        let once = Score::default().counted(JOIN_GROUP_CHAT, 10);
        let twice = once.counted(JOIN_GROUP_CHAT, 10).counted("other", 3);
        assert_eq!(twice.total, 23);
        assert_eq!(twice.actions[JOIN_GROUP_CHAT], ActionTally { count: 2, points: 20 });
    }
}
