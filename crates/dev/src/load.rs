//! The world of a load run and the invariants checked after it (scripts/load.sh):
//! generated users and restricted chats, and a check of the table and of what every
//! admin's WebSocket connection received.

use std::collections::{BTreeMap, BTreeSet};

use aws::store::{ScannedItem, Store};
use serde_json::{json, Value};

type Failure = Box<dyn std::error::Error>;

fn hex_id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:021x}")
}

/// A fixture of `chats` restricted chats with `admins_per_chat` admins each (no admin
/// in two chats), and `requesters` users in no chat; and the people of the run, each
/// with a token signed with `secret`: `{admins: [{id, token, chat}], requesters:
/// [{id, token}], chats: [id]}`.
pub fn world(chats: usize, admins_per_chat: usize, requesters: usize, secret: &str) -> Result<(Value, Value), Failure> {
    let now = "2026-01-01T00:00:00.000Z";
    let user = |id: &str, n: usize| json!({"_id": id, "username": format!("load{n}"), "name": format!("Load User {n}"), "photo": null});
    let mut users = Vec::new();
    let mut fixture_chats = Vec::new();
    let mut admins = Vec::new();
    for c in 0..chats {
        let chat = hex_id("69b", c);
        let mut participants = Vec::new();
        for a in 0..admins_per_chat {
            let n = c * admins_per_chat + a;
            let id = hex_id("69a", n);
            users.push(user(&id, n));
            participants.push(json!({"_id": hex_id("69c", n), "user": id, "isAdmin": true, "lastReadAt": now}));
            admins.push(json!({"id": id, "token": crate::mint_hs256(secret, &id, 3600)?, "chat": chat}));
        }
        fixture_chats.push(json!({
            "_id": chat, "creator": participants[0]["user"], "isGroup": true, "name": format!("Load chat {c}"),
            "restricted": true, "createdAt": now, "updatedAt": now, "participants": participants,
        }));
    }
    let mut people = Vec::new();
    for r in 0..requesters {
        let n = chats * admins_per_chat + r;
        let id = hex_id("69a", n);
        users.push(user(&id, n));
        people.push(json!({"id": id, "token": crate::mint_hs256(secret, &id, 3600)?}));
    }
    let chat_ids: Vec<&Value> = fixture_chats.iter().map(|c| &c["_id"]).collect();
    let run = json!({"admins": admins, "requesters": people, "chats": chat_ids});
    Ok((json!({"users": users, "chats": fixture_chats}), run))
}

fn text<'a>(item: &'a Value, field: &str) -> &'a str {
    item[field].as_str().unwrap_or_default()
}

/// Checks the invariants of the contract over the whole table, and that every admin
/// connection received every event meant for its admin (`received`: one JSON line per
/// connection, `{"admin", "events": [[event, request id], ...]}`). Returns the report's
/// lines, or the broken invariants.
pub async fn check(store: &Store, run: &Value, received: &str) -> Result<Vec<String>, Failure> {
    let items = store.scan_all().await?;
    let of = |entity: &'static str| items.iter().filter(move |i| i.entity == entity);
    let owner = |item: &ScannedItem| item.partition_of.map(|id| id.to_string()).unwrap_or_default();
    let mut broken = Vec::new();
    let mut report = Vec::new();

    let requests: Vec<&Value> = of("Request").map(|item| &item.attributes).collect();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pending: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut accepted: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for request in &requests {
        let key = (text(request, "user"), text(request, "chat"));
        *by_status.entry(text(request, "status")).or_default() += 1;
        match text(request, "status") {
            "pending" => *pending.entry(key).or_default() += 1,
            "accepted" => *accepted.entry(key).or_default() += 1,
            _ => {}
        }
    }
    report.push(format!("requests: {} ({by_status:?})", requests.len()));
    for ((user, chat), n) in &pending {
        if *n > 1 {
            broken.push(format!("{n} pending requests of {user} for {chat}"));
        }
    }

    // Every accepted requester is an active participant, once: one member item per
    // (chat, user) by its key, active (it has its place in LSI1), and counted.
    let members: BTreeSet<(String, &str)> =
        of("Member").filter(|m| m.ordered).map(|m| (owner(m), text(&m.attributes, "user"))).collect();
    for ((user, chat), n) in &accepted {
        if *n > 1 {
            broken.push(format!("{user} was accepted {n} times into {chat}"));
        }
        if !members.contains(&(chat.to_string(), *user)) {
            broken.push(format!("{user} was accepted into {chat} but is not an active participant"));
        }
    }
    for chat in of("Chat") {
        let id = owner(chat);
        let active = members.iter().filter(|(c, _)| *c == id).count();
        if chat.attributes["participantsCount"].as_u64() != Some(active as u64) {
            broken.push(format!(
                "{id}: participantsCount {} for {active} active participants",
                chat.attributes["participantsCount"]
            ));
        }
    }

    // Every score counted once: a user's join-group-chat count is their acceptances.
    let mut acceptances: BTreeMap<String, u64> = BTreeMap::new();
    for (user, _) in accepted.keys() {
        *acceptances.entry(user.to_string()).or_default() += 1;
    }
    let scores: BTreeMap<String, u64> = of("Score")
        .map(|s| (owner(s), s.attributes["actions"]["join-group-chat"]["count"].as_u64().unwrap_or_default()))
        .collect();
    for user in acceptances.keys().chain(scores.keys()).collect::<BTreeSet<_>>() {
        let (counted, expected) =
            (scores.get(user).copied().unwrap_or_default(), acceptances.get(user).copied().unwrap_or_default());
        if counted != expected {
            broken.push(format!("{user}: join-group-chat counted {counted} times for {expected} acceptances"));
        }
    }
    report.push(format!("acceptances: {}, each counted once in the scores of {} users", accepted.len(), scores.len()));

    let outbox = of("Outbox").count();
    if outbox > 0 {
        broken.push(format!("{outbox} outbox items were never delivered"));
    }

    // Every admin connection got every event of its chat: one chat-join-request per
    // request, one chat-join-request-closed per request that left pending.
    let chat_of_admin: BTreeMap<&str, &str> =
        run["admins"].as_array().into_iter().flatten().map(|a| (text(a, "id"), text(a, "chat"))).collect();
    let mut connections = 0;
    let mut messages = 0;
    for line in received.lines().filter(|l| !l.trim().is_empty()) {
        let connection: Value = serde_json::from_str(line)?;
        let admin = text(&connection, "admin");
        let chat = chat_of_admin.get(admin).ok_or_else(|| format!("{admin} is not an admin of the run"))?;
        let got: BTreeSet<(&str, &str)> = connection["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e[0].as_str().unwrap_or_default(), e[1].as_str().unwrap_or_default()))
            .collect();
        messages += connection["events"].as_array().map_or(0, Vec::len);
        connections += 1;
        let mut missing = 0;
        for request in requests.iter().filter(|r| text(r, "chat") == *chat) {
            let id = text(request, "_id");
            missing += usize::from(!got.contains(&("chat-join-request", id)));
            if text(request, "status") != "pending" {
                missing += usize::from(!got.contains(&("chat-join-request-closed", id)));
            }
        }
        if missing > 0 {
            broken.push(format!("the connection of admin {admin} missed {missing} events"));
        }
    }
    if connections != chat_of_admin.len() {
        broken.push(format!("{connections} admin connections reported, of {}", chat_of_admin.len()));
    }
    report.push(format!("admin connections: {connections}, messages received: {messages}"));

    if broken.is_empty() {
        Ok(report)
    } else {
        Err(format!("broken invariants:\n  {}", broken.join("\n  ")).into())
    }
}
