//! The app's own data as this service keeps its copy (contract, "The app's data in").
//! Every item of that data carries `changedAt`, the time of the app's change it
//! reflects, and every write is conditioned on being newer, in the same write: a repeat
//! or a stale event changes nothing, whatever order EventBridge delivers them in. The
//! memberships, which move a chat's `participantsCount`, are in `transactions`.

use std::collections::HashMap;

use app::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::sync::AppChange;
use domain::{Chat, ObjectId, User};
use serde::{Deserialize, Serialize};

use super::items::{self, decode, encode, item_key, key_item, s, Item, CHANGED_AT};
use super::{condition_held, keys, sdk_error, Store};

/// The condition of every write of the app's data.
pub(crate) const NEWER: &str = "(attribute_not_exists(changedAt) OR changedAt < :at)";

/// An event of the app set aside, as an operator sees it (`dev sync aside`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAsideAppEvent {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub detail_type: String,
    /// The event's detail as it came, JSON text.
    pub detail: String,
    pub reason: String,
    pub set_aside_at: String,
}

impl Store {
    /// Applies one change of the app's data if it is newer than what is kept: `true`
    /// when it changed something. One write (a membership: a read, then one
    /// transaction, again only if a concurrent change got in between).
    pub async fn apply_change(&self, change: &AppChange) -> Result<bool, StoreError> {
        match change {
            AppChange::UserUpserted { user, at } => self.put_if_newer(user_item(user)?, at).await,
            AppChange::UserDeleted { user, at } => {
                let mut item = key_item(&keys::user(*user));
                item.insert(items::ENTITY.into(), s(items::DELETED_USER));
                item.insert("_id".into(), s(user.to_string()));
                item.insert("deletedAt".into(), s(at.clone()));
                self.put_if_newer(item, at).await
            }
            AppChange::ChatUpserted { chat, at } => self.upsert_chat(chat, at).await,
            AppChange::ChatDeleted { chat, at } => {
                let values = HashMap::from([(":entity".to_owned(), s(items::DELETED_CHAT))]);
                let set = "SET entity = :entity, deletedAt = :at, changedAt = :at";
                self.update_if_newer(&keys::chat(*chat), set, HashMap::new(), values, at).await
            }
            AppChange::MemberUpserted { .. } | AppChange::MemberLeft { .. } => self.sync_membership(change).await,
        }
    }

    async fn put_if_newer(&self, mut item: Item, at: &str) -> Result<bool, StoreError> {
        item.insert(CHANGED_AT.into(), s(at));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(NEWER)
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        condition_held("PutItem", result)
    }

    async fn update_if_newer(
        &self,
        key: &keys::Key,
        expression: &str,
        names: HashMap<String, String>,
        mut values: HashMap<String, AttributeValue>,
        at: &str,
    ) -> Result<bool, StoreError> {
        values.insert(":at".into(), s(at));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression(expression)
            .condition_expression(NEWER)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        condition_held("UpdateItem", result)
    }

    /// The chat's own fields set, its `participantsCount` (this service's, moved by the
    /// memberships) kept: an update, not a put, since a membership may have arrived
    /// before its chat.
    async fn upsert_chat(&self, chat: &Chat, at: &str) -> Result<bool, StoreError> {
        let item = encode(&keys::chat(chat.id), items::CHAT, chat)?;
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":zero".to_owned(), AttributeValue::N("0".into()))]);
        let mut sets = vec![
            "changedAt = :at".to_owned(),
            "participantsCount = if_not_exists(participantsCount, :zero)".to_owned(),
        ];
        for (n, (name, value)) in item.into_iter().enumerate() {
            if [keys::PK, keys::SK, "participantsCount"].contains(&name.as_str()) {
                continue;
            }
            sets.push(format!("#a{n} = :v{n}"));
            names.insert(format!("#a{n}"), name);
            values.insert(format!(":v{n}"), value);
        }
        let expression = format!("SET {} REMOVE deletedAt", sets.join(", "));
        self.update_if_newer(&keys::chat(chat.id), &expression, names, values, at).await
    }

    /// Keeps an event of the app that cannot be applied, with why: one `PutItem`, in a
    /// GSI1 partition of its own that an operator lists (`dev sync aside`).
    pub async fn set_aside_app_event(&self, detail_type: &str, detail: &str, reason: &str) -> Result<(), StoreError> {
        let aside = SetAsideAppEvent {
            id: ObjectId::generate(),
            detail_type: detail_type.to_owned(),
            detail: detail.to_owned(),
            reason: reason.to_owned(),
            set_aside_at: domain::time::now_timestamp(),
        };
        let mut item = encode(&keys::app_event_set_aside(aside.id), items::APP_EVENT_SET_ASIDE, &aside)?;
        item.insert(keys::GSI1PK.into(), s(keys::APP_EVENTS_ASIDE_PARTITION));
        item.insert(keys::GSI1SK.into(), s(keys::outbox_order(&aside.set_aside_at, aside.id)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// The app's events set aside, oldest first, at most `limit`.
    pub async fn app_events_set_aside(&self, limit: usize) -> Result<Vec<SetAsideAppEvent>, StoreError> {
        let mut items = self
            .gsi1(keys::APP_EVENTS_ASIDE_PARTITION)
            .key_condition_expression("#pk = :pk")
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(item) = items.next().await else { break };
            let item = item.map_err(|e| sdk_error("Query", e))?;
            let key = item_key(&item);
            if keys::app_event_id(&key).is_some() {
                found.push(decode(&key, item)?);
            }
        }
        Ok(found)
    }

    /// Forgets a set-aside event (replayed, or given up on by an operator).
    pub async fn forget_app_event(&self, id: ObjectId) -> Result<(), StoreError> {
        self.delete(&keys::app_event_set_aside(id)).await
    }

    /// One page of the ids of `chat`'s pending requests, from `start`: one `Query` of
    /// GSI4.
    pub async fn pending_requests_to(
        &self,
        chat: ObjectId,
        start: Option<super::Cursor>,
    ) -> Result<(Vec<ObjectId>, Option<super::Cursor>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI4)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::GSI4PK)
            .expression_attribute_values(":pk", s(keys::requests_to_in(chat, domain::RequestStatus::Pending)))
            .limit(100)
            .set_exclusive_start_key(start.map(|c| c.0))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut ids = Vec::new();
        for item in output.items.unwrap_or_default() {
            let request: domain::JoinRequest = decode(&item_key(&item), item)?;
            ids.push(request.id);
        }
        Ok((ids, output.last_evaluated_key.map(super::Cursor)))
    }
}

/// What the import needs of a kept participant entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptMember {
    pub active: bool,
    pub changed_at: Option<String>,
}

impl Store {
    /// The user of every participant entry kept for `chat`, and whether it is active,
    /// each handed to `each`, none held: one `Query` per MB of entries, of their keys and
    /// `leftAt` alone.
    pub async fn each_member(&self, chat: ObjectId, mut each: impl FnMut(ObjectId, bool)) -> Result<(), StoreError> {
        let (partition, prefix) = keys::members_of(chat);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :member)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":member", s(prefix))
            .projection_expression("#pk, #sk, leftAt")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| sdk_error("Query", e))?;
            if let Some(user) = keys::member_user(&item_key(&item)) {
                each(user, !item.contains_key("leftAt"));
            }
        }
        Ok(())
    }

    /// The entries kept for `users` in `chat`, by user (a user never seen is absent):
    /// the sync's read of entries. Consistent, so that the import sees what its previous
    /// chunk wrote.
    pub async fn kept_members(
        &self,
        chat: ObjectId,
        users: &[ObjectId],
    ) -> Result<HashMap<ObjectId, KeptMember>, StoreError> {
        let kept = self.kept_entries(users.iter().map(|user| (chat, *user))).await?;
        Ok(kept
            .into_iter()
            .map(|((_, user), entry)| (user, KeptMember { active: entry.active, changed_at: entry.changed_at }))
            .collect())
    }

    /// Sets `chat`'s `participantsCount` to `count` unless it is that already: one
    /// conditional `UpdateItem`; `true` when it changed it. Only for the import, which
    /// counted the chat's entries itself; every other writer moves the count in the
    /// transaction of the entry it changes.
    pub async fn set_participants_count(&self, chat: ObjectId, count: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::chat(chat))))
            .update_expression("SET participantsCount = :count")
            .condition_expression("attribute_not_exists(participantsCount) OR participantsCount <> :count")
            .expression_attribute_values(":count", AttributeValue::N(count.to_string()))
            .send()
            .await;
        condition_held("UpdateItem", result)
    }
}

fn user_item(user: &User) -> Result<Item, StoreError> {
    encode(&keys::user(user.id), items::USER, user)
}
