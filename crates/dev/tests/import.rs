//! `dev import`, the binary, against DynamoDB Local: mongoexport's formats (JSON Lines
//! and arrays, Extended JSON relaxed and canonical), bad lines, a second run, and a
//! chat of 200,000 participants. The files are made here, never committed.

use std::path::PathBuf;
use std::time::Instant;

use app::ports::Lookup;
use dev::kit::{id, TestEnv};
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn dev_import(env: &TestEnv, endpoint: &str, args: &[&str]) -> Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dev"))
        .arg("import")
        .args(args)
        .arg("--local")
        .env("TABLE_NAME", env.store().table())
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("RUST_LOG", "error")
        .output()
        .expect("dev runs");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn file(name: &str, text: &str) -> PathBuf {
    // Under target/, so a test run leaves nothing in the machine's temp folder.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn lines(documents: &[Value]) -> String {
    documents.iter().map(|d| format!("{d}\n")).collect()
}

fn oid(text: &str) -> Value {
    json!({ "$oid": text })
}

#[tokio::test]
async fn both_formats_both_extended_json_modes_bad_lines_and_a_second_run_unchanged() {
    let env = TestEnv::with_demo().await;
    let endpoint = dev::kit::dynamodb_endpoint().await;
    let (ada, bob, eve) = ("6a0000000000000000000001", "6a0000000000000000000002", "6a0000000000000000000003");
    // Relaxed Extended JSON, JSON Lines, a bad line in the middle, a field unknown here.
    let users = file(
        "users.jsonl",
        &[
            json!({"_id": oid(ada), "username": "ada", "name": "Ada", "photo": null,
                   "updatedAt": {"$date": "2026-11-01T10:00:00Z"}, "email": "ada@example.com"})
            .to_string(),
            json!({"_id": oid(bob), "username": "bob"}).to_string(),
            "{not json".to_owned(),
            json!({"_id": oid(eve), "username": "eve", "name": "Eve", "photo": "https://example.com/eve.png"})
                .to_string(),
        ]
        .join("\n"),
    );
    // Canonical Extended JSON, as one array: a participant who left, unknown fields.
    let millis = |iso: &str| json!({"$date": {"$numberLong": chrono::DateTime::parse_from_rfc3339(iso).unwrap().timestamp_millis().to_string()}});
    let chat = "6b0000000000000000000001";
    let chats_text = serde_json::to_string_pretty(&json!([
            {"_id": oid(chat), "creator": oid(ada), "isGroup": true, "name": "Imported", "restricted": true,
             "createdAt": millis("2026-10-01T00:00:00Z"), "updatedAt": millis("2026-11-01T00:00:00Z"),
             "__v": {"$numberInt": "3"}, "participants": [
                {"_id": oid("6c0000000000000000000001"), "user": oid(ada), "isAdmin": true, "lastReadAt": millis("2026-11-01T00:00:00Z")},
                {"_id": oid("6c0000000000000000000002"), "user": oid(bob), "lastReadAt": millis("2026-10-02T00:00:00Z"),
                 "leftAt": millis("2026-10-20T00:00:00Z")},
                {"_id": oid("6c0000000000000000000003"), "user": oid(eve), "lastReadAt": millis("2026-10-03T00:00:00Z"), "muted": true}
            ]},
            {"_id": oid("6b0000000000000000000002"), "creator": oid(ada), "name": "No isGroup"}
        ]))
        .unwrap();
    // The bad chat's document starts two lines above its id's `$oid`.
    let bad_line = chats_text.lines().position(|l| l.contains("6b0000000000000000000002")).unwrap() - 1;
    let chats = file("chats.json", &chats_text);
    let users_arg = users.to_string_lossy().into_owned();
    let chats_arg = chats.to_string_lossy().into_owned();
    let first = dev_import(&env, endpoint, &["--users", &users_arg]);
    assert!(!first.ok, "bad lines make the exit code 1: {}", first.stderr);
    assert!(first.stdout.contains("users: read 4, written 2, unchanged 0, bad 2"), "{}", first.stdout);
    assert!(first.stderr.contains("users.jsonl:2: missing field `name`"), "{}", first.stderr);
    assert!(first.stderr.contains("users.jsonl:3: not JSON"), "{}", first.stderr);
    let chats_run = dev_import(&env, endpoint, &["--chats", &chats_arg, "--jsonArray"]);
    assert!(chats_run.stdout.contains("chats: read 2, written 1, unchanged 0, bad 1"), "{}", chats_run.stdout);
    let reported = format!("chats.json:{bad_line}: missing field `isGroup`");
    assert!(chats_run.stderr.contains(&reported), "{reported} in {}", chats_run.stderr);

    let lookup = Lookup {
        users: vec![id(ada), id(eve)],
        chats: vec![id(chat)],
        memberships: [ada, bob, eve].iter().map(|u| (id(chat), id(u))).collect(),
        ..Lookup::default()
    };
    let loaded = env.store().load(&lookup).await.unwrap();
    assert_eq!(loaded.users[&id(eve)].photo.as_deref(), Some("https://example.com/eve.png"));
    let snapshot = &loaded.chats[&id(chat)];
    assert_eq!(snapshot.chat.participants_count, 2, "ada and eve; bob left");
    assert_eq!(snapshot.chat.updated_at, "2026-11-01T00:00:00.000Z");
    let shown: Vec<String> = snapshot.shown.iter().map(|p| p.user.to_string()).collect();
    assert_eq!(shown, [ada, eve], "the admin first, the one who left not shown");
    assert!(loaded.membership(id(chat), id(bob)).is_some_and(|p| !p.is_active()));
    let (status, queue) = env.api().queue(ada, chat, &[]).await;
    assert_eq!((status, queue["count"].as_u64()), (200, Some(0)), "the imported admin's queue");
    assert_eq!(env.api().create(AMY, chat).await.0, 201, "the imported chat takes requests");

    let again = dev_import(&env, endpoint, &["--users", &users_arg]);
    assert!(again.stdout.contains("users: read 4, written 0, unchanged 2, bad 2"), "{}", again.stdout);
    let again = dev_import(&env, endpoint, &["--chats", &chats_arg, "--json-array"]);
    assert!(again.stdout.contains("chats: read 2, written 0, unchanged 1, bad 1"), "{}", again.stdout);
    let count = env.store().load(&lookup).await.unwrap().chats[&id(chat)].chat.participants_count;
    assert_eq!(count, 2, "the count as it was");

    // A count gone wrong (an import that failed half-way) is set right by the next run,
    // from the entries it counts.
    assert!(env.store().set_participants_count(id(chat), 7).await.unwrap());
    let repaired = dev_import(&env, endpoint, &["--chats", &chats_arg, "--jsonArray"]);
    assert!(repaired.stdout.contains("chats: read 2, written 1, unchanged 0, bad 1"), "{}", repaired.stdout);
    let count = env.store().load(&lookup).await.unwrap().chats[&id(chat)].chat.participants_count;
    assert_eq!(count, 2, "counted again: ada and eve");
}

#[tokio::test]
async fn a_chat_of_200000_participants_imports_in_chunks_with_its_count_and_shown_participants() {
    let env = TestEnv::with_demo().await;
    let endpoint = dev::kit::dynamodb_endpoint().await;
    let chat = "6b0000000000000000000009";
    let participants: Vec<Value> = (0..200_000u32)
        .map(|n| {
            let mut entry = json!({"_id": oid(&format!("6c{n:022x}")), "user": oid(&format!("6a{n:022x}")),
                                   "lastReadAt": {"$date": "2026-11-01T00:00:00Z"}});
            // 20 admins, spread through the list.
            if n % 10_000 == 9_999 {
                entry["isAdmin"] = json!(true);
            }
            // Every 1,000th has left.
            if n % 1_000 == 500 {
                entry["leftAt"] = json!({"$date": "2026-11-02T00:00:00Z"});
            }
            entry
        })
        .collect();
    // Listed again chunks later: the newer listing wins (it left after `updatedAt`);
    // one as old as its first listing changes nothing, and is counted once.
    let mut participants = participants;
    let mut left_later = participants[3].clone();
    left_later["leftAt"] = json!({"$date": "2026-11-04T00:00:00Z"});
    participants.push(left_later);
    participants.push(participants[7].clone());
    let document = json!({"_id": oid(chat), "creator": oid("6a0000000000000000000000"), "isGroup": true,
        "name": "Big", "restricted": true, "createdAt": {"$date": "2026-01-01T00:00:00Z"},
        "updatedAt": {"$date": "2026-11-03T00:00:00Z"}, "participants": participants});
    let chats = file("big.jsonl", &lines(&[document]));
    let size = std::fs::metadata(&chats).unwrap().len();

    let started = Instant::now();
    let run = dev_import(&env, endpoint, &["--chats", &chats.to_string_lossy()]);
    let took = started.elapsed();
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("chats: read 1, written 1, unchanged 0, bad 0"), "{}", run.stdout);
    eprintln!("200,000 participants ({size} B of JSON Lines) imported in {:.1} s", took.as_secs_f64());

    let loaded = env.store().load(&Lookup { chats: vec![id(chat)], ..Lookup::default() }).await.unwrap();
    let snapshot = &loaded.chats[&id(chat)];
    assert_eq!(snapshot.chat.participants_count, 200_000 - 200 - 1, "every active participant counted once");
    assert_eq!(snapshot.shown.len(), 100);
    assert!(snapshot.shown[..20].iter().all(|p| p.is_admin), "the 20 admins first");
    let others: Vec<u32> =
        snapshot.shown[20..].iter().map(|p| u32::from_str_radix(&p.user.to_string()[2..], 16).unwrap()).collect();
    let expected: Vec<u32> = (0..).filter(|n| n % 1_000 != 500 && n % 10_000 != 9_999 && *n != 3).take(80).collect();
    assert_eq!(others, expected, "then the others in the order they joined, the ones who left not among them");
    // A second run is the first test's; here it would read the 200,000 entries again.
}

#[tokio::test]
async fn a_user_listed_again_across_a_chunks_border_is_compared_with_the_first_listing() {
    // The batches of a chunk are still in flight when the next is compared: a user on
    // both sides of the border must be compared with what the first listing wrote.
    let env = TestEnv::with_demo().await;
    let endpoint = dev::kit::dynamodb_endpoint().await;
    let chat = "6b0000000000000000000010";
    let chunk = dev::import::PARTICIPANTS_PER_CHUNK as u32;
    let participant = |n: u32| {
        json!({"_id": oid(&format!("6c{n:022x}")), "user": oid(&format!("6a{n:022x}")),
               "lastReadAt": {"$date": "2026-11-01T00:00:00Z"}})
    };
    let mut participants: Vec<Value> = (0..chunk).map(participant).collect();
    let (stays, left) = (chunk - 1, chunk - 2);
    // The last of the first chunk is active as of `updatedAt` (11-03); listed again
    // just after the border as having left earlier (11-02), which is older.
    let mut left_before = participant(stays);
    left_before["leftAt"] = json!({"$date": "2026-11-02T00:00:00Z"});
    // The one before it left later (11-04); listed again as active, which is older.
    participants[left as usize]["leftAt"] = json!({"$date": "2026-11-04T00:00:00Z"});
    participants.push(left_before);
    participants.push(participant(left));
    let document = json!({"_id": oid(chat), "creator": oid("6a0000000000000000000000"), "isGroup": true,
        "name": "Border", "restricted": true, "createdAt": {"$date": "2026-01-01T00:00:00Z"},
        "updatedAt": {"$date": "2026-11-03T00:00:00Z"}, "participants": participants});
    let chats = file("border.jsonl", &lines(&[document]));

    let run = dev_import(&env, endpoint, &["--chats", &chats.to_string_lossy()]);
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let user = |n: u32| id(&format!("6a{n:022x}"));
    let lookup = Lookup {
        chats: vec![id(chat)],
        memberships: vec![(id(chat), user(stays)), (id(chat), user(left))],
        ..Lookup::default()
    };
    let loaded = env.store().load(&lookup).await.unwrap();
    assert!(loaded.membership(id(chat), user(stays)).is_some_and(domain::Participant::is_active), "still active");
    let gone = loaded.membership(id(chat), user(left)).expect("an entry");
    assert_eq!(gone.left_at.as_deref(), Some("2026-11-04T00:00:00.000Z"), "the later leave stands");
    assert_eq!(loaded.chats[&id(chat)].chat.participants_count, u64::from(chunk) - 1);
}
