//! The rules of the calls, checked against [`MemoryStore`] in milliseconds. The same
//! behaviours are checked end to end against DynamoDB Local in the dev crate.

use domain::{Chat, Decision, Note, ObjectId, Participant, RequestStatus, User};

use crate::delivery::{deliver, drain, DELIVERY_BUDGET, MAX_OUTBOX_ATTEMPTS};
use crate::memory::{MemoryBus, MemoryStore};
use crate::requests::{create, decide, decide_many, events, get, list, queue, withdraw, Ask, Verdict};
use crate::{AppError, Rules};
use domain::page::After;

const NOW: &str = "2026-01-01T00:00:00.000Z";

fn id(n: u32) -> ObjectId {
    ObjectId::parse(&format!("{n:024x}")).unwrap()
}

const CHAT: u32 = 100;
const OPEN_CHAT: u32 = 101;
const AMY: u32 = 1;
const BOB: u32 = 2;
const SAM: u32 = 3;

fn verdict(decision: Decision) -> Verdict {
    Verdict { decision, reason: None, block: false }
}

fn rules() -> Rules {
    Rules {
        join_group_chat_points: 10,
        rejection_cooldown_seconds: 0,
        create_limit_per_hour: 30,
        events_late_seconds: 5,
    }
}

fn user(n: u32) -> User {
    User { id: id(n), username: format!("user{n}"), name: format!("User {n}"), photo: None }
}

fn participant(n: u32, admin: bool) -> Participant {
    Participant { id: id(1000 + n), user: id(n), last_read_at: NOW.into(), is_admin: admin, left_at: None }
}

fn chat(n: u32, restricted: bool) -> Chat {
    Chat {
        id: id(n),
        creator: id(AMY),
        is_group: true,
        name: format!("chat {n}"),
        restricted,
        created_at: NOW.into(),
        updated_at: NOW.into(),
        participants_count: 0,
    }
}

/// Amy administers a restricted chat Bob is a member of; Sam is in no chat.
fn world() -> MemoryStore {
    let store = MemoryStore::default();
    for n in [AMY, BOB, SAM] {
        store.add_user(user(n));
    }
    store.add_chat(chat(CHAT, true), vec![participant(AMY, true), participant(BOB, false)]);
    store.add_chat(chat(OPEN_CHAT, false), vec![participant(AMY, true)]);
    store
}

#[tokio::test]
async fn asking_twice_is_request_already_pending_and_the_first_request_is_shown_to_its_requester() {
    let store = world();
    let created = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap();
    assert_eq!(created.value.status, RequestStatus::Pending);
    assert!(matches!(
        create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await,
        Err(AppError::RequestAlreadyPending)
    ));
    let shown = get(&store, id(SAM), created.value.id).await.unwrap();
    assert_eq!(shown.id, created.value.id);
    assert!(matches!(get(&store, id(BOB), created.value.id).await, Err(AppError::RequestNotFound)));
    let page = list(&store, id(SAM), domain::PageQuery::parse(|_| Vec::<&str>::new()).unwrap()).await.unwrap();
    assert_eq!((page.count, page.requests.len()), (1, 1));
}

#[tokio::test]
async fn who_may_ask_follows_the_contracts_order() {
    let store = world();
    assert!(matches!(
        create(&store, &rules(), id(BOB), id(CHAT), Ask::default(), None).await,
        Err(AppError::AlreadyParticipant)
    ));
    assert!(matches!(
        create(&store, &rules(), id(SAM), id(OPEN_CHAT), Ask::default(), None).await,
        Err(AppError::ChatNotRestricted)
    ));
    assert!(matches!(
        create(&store, &rules(), id(SAM), id(999), Ask::default(), None).await,
        Err(AppError::ChatNotFound)
    ));
}

#[tokio::test]
async fn the_admins_are_told_in_the_outbox_of_the_create() {
    let store = world();
    let created = create(
        &store,
        &rules(),
        id(SAM),
        id(CHAT),
        Ask { message: Note::parse("message", "hi").ok(), ..Ask::default() },
        None,
    )
    .await
    .unwrap();
    let told: Vec<ObjectId> = created.outbox.outbound().iter().map(|e| e.to).collect();
    assert_eq!(told, vec![id(AMY)], "the one active admin");
    assert_eq!(store.outbox_len(), 1, "written with the request");
}

#[tokio::test]
async fn accepting_admits_the_requester_counts_them_and_scores_once() {
    let store = world();
    let request = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    let decided = decide(&store, &rules(), id(AMY), request.id, verdict(Decision::Accepted), None, None).await.unwrap();
    assert_eq!(decided.value.status, RequestStatus::Accepted);
    assert!(store.member(id(CHAT), id(SAM)).is_some_and(|entry| entry.is_active()));
    assert_eq!(store.chat(id(CHAT)).unwrap().participants_count, 3);
    let score = store.score(id(SAM)).unwrap();
    assert_eq!((score.total, score.actions["join-group-chat"].count), (10, 1));
    assert!(store.marker(id(SAM), id(CHAT)).is_none(), "the pending rule is freed");
    let again = decide(&store, &rules(), id(AMY), request.id, verdict(Decision::Rejected), None, None).await;
    assert!(matches!(again, Err(AppError::RequestNotPending)));
    assert_eq!(store.score(id(SAM)).unwrap().total, 10, "counted once");
}

#[tokio::test]
async fn only_an_active_admin_decides() {
    let store = world();
    let request = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    let by_member = decide(&store, &rules(), id(BOB), request.id, verdict(Decision::Accepted), None, None).await;
    assert!(matches!(by_member, Err(AppError::NotChatAdmin)));
    let by_stranger = decide(&store, &rules(), id(999), request.id, verdict(Decision::Accepted), None, None).await;
    assert!(matches!(by_stranger, Err(AppError::NotChatMember)));
    let queue_of_member = queue(&store, id(BOB), id(CHAT), domain::PageQuery::parse(|_| Vec::<&str>::new()).unwrap());
    assert!(matches!(queue_of_member.await, Err(AppError::NotChatAdmin)));
}

#[tokio::test]
async fn a_rejection_with_a_cooldown_refuses_asking_again_until_it_runs_out() {
    let store = world();
    let rules = Rules { rejection_cooldown_seconds: 3600, ..rules() };
    let request = create(&store, &rules, id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    decide(&store, &rules, id(AMY), request.id, verdict(Decision::Rejected), None, None).await.unwrap();
    let again = create(&store, &rules, id(SAM), id(CHAT), Ask::default(), None).await;
    assert!(matches!(again, Err(AppError::RequestCooldown { retry_after }) if retry_after > 3500), "{again:?}");
}

#[tokio::test]
async fn a_withdrawn_request_cannot_be_decided_and_only_its_requester_withdraws() {
    let store = world();
    let request = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    assert!(matches!(withdraw(&store, id(BOB), request.id, None).await, Err(AppError::RequestNotFound)));
    let withdrawn = withdraw(&store, id(SAM), request.id, None).await.unwrap();
    assert_eq!(withdrawn.value.status, RequestStatus::Cancelled);
    let decided = decide(&store, &rules(), id(AMY), request.id, verdict(Decision::Accepted), None, None).await;
    assert!(matches!(decided, Err(AppError::RequestNotPending)));
    assert!(create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.is_ok(), "free to ask again");
}

#[tokio::test]
async fn a_lost_race_is_read_again_and_the_change_commits_once() {
    let store = world();
    *store.conflicts_to_inject.lock().unwrap() = 2;
    let request = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    *store.conflicts_to_inject.lock().unwrap() = 2;
    decide(&store, &rules(), id(AMY), request.id, verdict(Decision::Accepted), None, None).await.unwrap();
    assert_eq!(store.chat(id(CHAT)).unwrap().participants_count, 3, "admitted once");
}

#[tokio::test]
async fn deciding_many_answers_each_id_on_its_own_in_order() {
    let store = world();
    let request = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    let ids = [request.id, id(555)];
    let outcomes = decide_many(&store, &rules(), id(AMY), id(CHAT), verdict(Decision::Rejected), &ids).await.unwrap();
    assert_eq!(outcomes.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
    assert!(outcomes[0].1.is_ok());
    assert!(matches!(outcomes[1].1, Err(AppError::RequestNotFound)));
    let by_member = decide_many(&store, &rules(), id(BOB), id(CHAT), verdict(Decision::Rejected), &ids).await;
    assert!(matches!(by_member, Err(AppError::NotChatAdmin)));
}

#[tokio::test]
async fn delivering_keeps_each_event_for_catching_up_and_removes_the_outbox() {
    let store = world();
    let bus = MemoryBus::default();
    let created = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap();
    deliver(&store, &bus, &created.outbox).await.unwrap();
    assert_eq!(store.outbox_len(), 0);
    assert_eq!(bus.published.lock().unwrap().len(), 1);
    let page = events(&store, &rules(), id(AMY), domain::page::EventsQuery { after: None, limit: 10 }).await.unwrap();
    assert_eq!(page.events.len(), 1, "kept for the admin");
    let after = domain::page::EventsQuery { after: Some(After::Event(page.events[0].id)), limit: 10 };
    assert!(events(&store, &rules(), id(AMY), after).await.unwrap().events.is_empty());
    let unknown = domain::page::EventsQuery { after: Some(After::Event(id(4242))), limit: 10 };
    assert!(matches!(events(&store, &rules(), id(AMY), unknown).await, Err(AppError::EventNotFound)));
    let cursor = domain::page::EventsQuery { after: Some(After::Cursor(page.cursor.clone())), limit: 10 };
    assert!(events(&store, &rules(), id(AMY), cursor).await.unwrap().events.is_empty(), "nothing after the cursor");

    let decided =
        decide(&store, &rules(), id(AMY), created.value.id, verdict(Decision::Accepted), None, None).await.unwrap();
    deliver(&store, &bus, &decided.outbox).await.unwrap();
    assert_eq!(store.dismissed(), 1, "the admin's notification is dismissed");
}

#[tokio::test]
async fn an_outbox_the_bus_keeps_refusing_is_set_aside_after_its_last_attempt() {
    let store = world();
    let bus = MemoryBus::default();
    bus.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), None).await.unwrap();
    for attempt in 1..MAX_OUTBOX_ATTEMPTS {
        let report = drain(&store, &bus, -3600, DELIVERY_BUDGET).await.unwrap();
        assert_eq!((report.failed, report.set_aside), (1, 0), "attempt {attempt}");
    }
    let report = drain(&store, &bus, -3600, DELIVERY_BUDGET).await.unwrap();
    assert_eq!((report.failed, report.set_aside), (0, 1));
    assert_eq!(store.outbox_len(), 0, "out of the sweeper's way");
}

#[tokio::test]
async fn a_change_made_with_a_key_keeps_its_answer_with_it_and_the_same_call_at_once_commits_once() {
    use crate::ports::{Idempotency, Storage};
    let store = world();
    let key = Idempotency { key: "k1".into(), fingerprint: "create sam".into() };
    let created = create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), Some(&key)).await.unwrap();
    let kept = store.kept_answer(id(SAM), "k1").await.unwrap().expect("kept with the change");
    assert_eq!(kept.fingerprint, "create sam");
    assert_eq!(kept.value["_id"], created.value.id.to_string());
    // A second call with the key that gets past its reads (here: the request was
    // withdrawn meanwhile) is refused by the transaction's first condition.
    withdraw(&store, id(SAM), created.value.id, None).await.unwrap();
    assert!(matches!(
        create(&store, &rules(), id(SAM), id(CHAT), Ask::default(), Some(&key)).await,
        Err(AppError::AnswerKept)
    ));
    assert!(store.kept_answer(id(AMY), "k1").await.unwrap().is_none(), "keys are per caller");
    // An error keeps nothing.
    let other = Idempotency { key: "k2".into(), fingerprint: "withdraw".into() };
    assert!(withdraw(&store, id(BOB), created.value.id, Some(&other)).await.is_err());
    assert!(store.kept_answer(id(BOB), "k2").await.unwrap().is_none());
}

#[tokio::test]
async fn the_hourly_limit_counts_only_requests_made_and_says_when_to_ask_again() {
    let store = world();
    for n in 0..3 {
        store.add_chat(chat(2000 + n, true), vec![participant(AMY, true)]);
    }
    let rules = Rules { create_limit_per_hour: 2, ..rules() };
    create(&store, &rules, id(SAM), id(CHAT), Ask::default(), None).await.unwrap();
    let refused = create(&store, &rules, id(SAM), id(CHAT), Ask::default(), None).await;
    assert!(matches!(refused, Err(AppError::RequestAlreadyPending)), "a refused create counts nothing");
    create(&store, &rules, id(SAM), id(2000), Ask::default(), None).await.unwrap();
    match create(&store, &rules, id(SAM), id(2001), Ask::default(), None).await {
        Err(AppError::RateLimited { retry_after }) => assert!((1..=3600).contains(&retry_after)),
        other => panic!("{other:?}"),
    }
    let off = Rules { create_limit_per_hour: 0, ..rules };
    assert!(create(&store, &off, id(SAM), id(2002), Ask::default(), None).await.is_ok(), "0 turns it off");
}

#[tokio::test]
async fn a_rejection_that_blocks_refuses_the_next_create_and_outlasts_the_cooldown() {
    let store = world();
    let rules = Rules { rejection_cooldown_seconds: 3600, ..rules() };
    let request = create(&store, &rules, id(SAM), id(CHAT), Ask::default(), None).await.unwrap().value;
    let verdict = Verdict { decision: Decision::Rejected, reason: Note::parse("reason", "spam").ok(), block: true };
    decide(&store, &rules, id(AMY), request.id, verdict, None, None).await.unwrap();
    let marker = store.marker(id(SAM), id(CHAT)).expect("the marker holds the block");
    let block = marker.block.expect("a block");
    assert_eq!((block.blocked_by, block.reason.as_ref().map(Note::as_str)), (id(AMY), Some("spam")));
    assert!(marker.cooldown_until.is_none() && marker.request.is_none());
    let again = create(&store, &rules, id(SAM), id(CHAT), Ask::default(), None).await;
    assert!(matches!(again, Err(AppError::RequestBlocked)), "{again:?}");
}
