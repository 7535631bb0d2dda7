//! The admins' tools to screen and to stop abuse: a chat's screening questions, and
//! blocking a user from asking to join it.

use domain::time::now_timestamp;
use domain::{Block, Decision, Note, ObjectId, Outbox, PageQuery, Question};

use crate::error::AppError;
use crate::ports::{Lookup, Moderation, Storage};
use crate::requests::{check_admin, decide, Verdict};
use crate::retry::{commit_with_retries, Attempt};
use crate::Rules;

/// `GET /chats/{id}/questions`, to any caller: a requester reads them before asking.
/// Round trips: 1 (the chat and its questions in one `BatchGetItem`, beside the
/// participants it shows, which the load reads with any chat).
pub async fn questions<S: Storage>(store: &S, chat: ObjectId) -> Result<Vec<Question>, AppError> {
    let lookup = Lookup { chats: vec![chat], questions: vec![chat], ..Lookup::default() };
    let mut loaded = store.load(&lookup).await?;
    if !loaded.chats.contains_key(&chat) {
        return Err(AppError::ChatNotFound);
    }
    Ok(loaded.questions.remove(&chat).unwrap_or_default())
}

/// `PUT /chats/{id}/questions`: an active admin replaces the chat's questions (made by
/// [`domain::moderation::new_questions`], each with a new id). Round trips: 2 (the chat and the caller's
/// entry; then one transaction that checks the caller is still an active admin and
/// writes the questions).
pub async fn set_questions<S: Moderation>(
    store: &S,
    caller: ObjectId,
    chat: ObjectId,
    questions: Vec<Question>,
) -> Result<Vec<Question>, AppError> {
    let questions = &questions;
    commit_with_retries("setting questions", || async move {
        let lookup = Lookup { chats: vec![chat], memberships: vec![(chat, caller)], ..Lookup::default() };
        check_admin(&store.load(&lookup).await?, chat, caller)?;
        Ok(match store.put_questions(chat, caller, questions).await {
            Ok(()) => Attempt::Done(questions.clone()),
            Err(lost) => Attempt::Lost(lost),
        })
    })
    .await
}

/// A page of a chat's blocks, and how many it has in all.
#[derive(Debug)]
pub struct BlockPage {
    pub blocks: Vec<Block>,
    pub count: u64,
}

/// `GET /chats/{id}/blocks`, to its active admins, newest first. Round trips: 1: the
/// chat, the caller's entry and the chat's block counts (16 shards) in one
/// `BatchGetItem`, beside the newest `page × limit` blocks from the chat's index (one
/// `Query` per MB); no block is read to count them.
pub async fn blocks<S: Moderation>(
    store: &S,
    caller: ObjectId,
    chat: ObjectId,
    query: PageQuery,
) -> Result<BlockPage, AppError> {
    let take = (query.page() as usize).saturating_mul(query.limit() as usize);
    let lookup =
        Lookup { chats: vec![chat], memberships: vec![(chat, caller)], block_counts: vec![chat], ..Lookup::default() };
    let (loaded, newest) = futures::try_join!(store.load(&lookup), store.blocks_of(chat, take))?;
    check_admin(&loaded, chat, caller)?;
    let count = loaded.block_counts.get(&chat).copied().unwrap_or_default();
    let window = query.window(newest.len());
    Ok(BlockPage { blocks: newest[window].to_vec(), count })
}

/// `PUT /chats/{id}/blocks/{user}`: an active admin blocks `user` from asking to join
/// `chat`. A user with a pending request has it rejected (with `reason`, and the events
/// of a rejection) in the block's own transaction: the decision of [`decide`], which
/// writes the block where the request's marker was. Blocking twice keeps the first
/// block. Round trips: 2 (the chat, the caller's and the user's entries and the user's
/// marker; then one transaction), 4 with a pending request (its rejection reads the
/// request and its chat again, as any decision does); more only when a race forces a
/// re-read. With the block, the outbox of the rejection it made, if it made one.
pub async fn block<S: Moderation>(
    store: &S,
    rules: &Rules,
    caller: ObjectId,
    chat: ObjectId,
    user: ObjectId,
    reason: Option<Note>,
) -> Result<(Block, Option<Outbox>), AppError> {
    let reason = &reason;
    commit_with_retries("blocking", || async move {
        let lookup = Lookup {
            chats: vec![chat],
            memberships: vec![(chat, caller), (chat, user)],
            markers: vec![(user, chat)],
            ..Lookup::default()
        };
        let loaded = store.load(&lookup).await?;
        check_admin(&loaded, chat, caller)?;
        let marker = loaded.markers.get(&(user, chat));
        if let Some(kept) = marker.and_then(|m| m.block.clone()) {
            return Ok(Attempt::Done((kept, None)));
        }
        if loaded.membership(chat, user).is_some_and(domain::Participant::is_active) {
            return Err(AppError::AlreadyParticipant);
        }
        if let Some(pending) = marker.and_then(|m| m.request) {
            let verdict = Verdict { decision: Decision::Rejected, reason: reason.clone(), block: true };
            // Boxed: a decision's own read-plan-commit loop, nested in this one, would
            // make the handler's future type deeper than rustc computes a layout for.
            return match Box::pin(decide(store, rules, caller, pending, verdict, Some(chat), None)).await {
                Ok(rejected) => {
                    let value = Block {
                        user,
                        chat,
                        blocked_by: caller,
                        blocked_at: rejected.value.decided_at.clone().unwrap_or_default(),
                        reason: reason.clone(),
                    };
                    Ok(Attempt::Done((value, Some(rejected.outbox))))
                }
                // Withdrawn, expired or decided since the read: read again.
                Err(AppError::RequestNotPending | AppError::RequestNotFound) => {
                    Ok(Attempt::Lost(crate::ports::TxError::Conflict))
                }
                Err(error) => Err(error),
            };
        }
        let block = Block { user, chat, blocked_by: caller, blocked_at: now_timestamp(), reason: reason.clone() };
        Ok(match store.commit_block(&block).await {
            Ok(()) => Attempt::Done((block, None)),
            Err(lost) => Attempt::Lost(lost),
        })
    })
    .await
}

/// `DELETE /chats/{id}/blocks/{user}`: an active admin lifts a block; the answer is
/// the block as it was. Round trips: 2 (the chat, the caller's entry and the user's
/// marker; then one transaction).
pub async fn unblock<S: Moderation>(
    store: &S,
    caller: ObjectId,
    chat: ObjectId,
    user: ObjectId,
) -> Result<Block, AppError> {
    commit_with_retries("unblocking", || async move {
        let lookup = Lookup {
            chats: vec![chat],
            memberships: vec![(chat, caller)],
            markers: vec![(user, chat)],
            ..Lookup::default()
        };
        let loaded = store.load(&lookup).await?;
        check_admin(&loaded, chat, caller)?;
        let block = loaded.markers.get(&(user, chat)).and_then(|m| m.block.clone()).ok_or(AppError::BlockNotFound)?;
        Ok(match store.commit_unblock(&block, caller).await {
            Ok(()) => Attempt::Done(block),
            Err(lost) => Attempt::Lost(lost),
        })
    })
    .await
}
