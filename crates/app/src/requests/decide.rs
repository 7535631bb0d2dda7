//! `PATCH /requests/{id}` and `POST /chats/{id}/requests/decisions`: an admin accepts or
//! rejects.

use domain::score::JOIN_GROUP_CHAT;
use domain::time::{now_timestamp, timestamp_seconds_ago};
use domain::view::ChatView;
use domain::{Block, ClosedRequest, Decision, Fanout, Note, ObjectId, Outbox, PopulatedRequest, RequestStatus};
use futures::StreamExt;

use super::read::check_admin;
use super::Committed;
use crate::error::AppError;
use crate::ports::{Acceptance, ClosePlan, Idempotency, Lookup, Storage};

/// An admin's decision on a request, its reason and whether it blocks the requester
/// from the chat (both only with a rejection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: Option<Note>,
    pub block: bool,
}
use crate::retry::{commit_with_retries, Attempt};
use crate::Rules;

/// `PATCH /requests/{id}` (`only_chat` `None`), and each decision of [`decide_many`]
/// (which refuses a request of another chat than `only_chat` as not found). Round
/// trips: 3 (the request; then its chat, the participants it shows, the requester, the
/// decider's and the requester's entries and the requester's score, together; then one
/// transaction), more only when a race forces a re-read.
pub async fn decide<S: Storage>(
    store: &S,
    rules: &Rules,
    caller: ObjectId,
    id: ObjectId,
    verdict: Verdict,
    only_chat: Option<ObjectId>,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<PopulatedRequest>, AppError> {
    let Verdict { decision, reason, block } = verdict;
    let reason = &reason;
    let blocking = block && decision == Decision::Rejected;
    commit_with_retries("decision", || async move {
        let stored = store.request(id).await?.ok_or(AppError::RequestNotFound)?;
        let request = stored.request;
        if only_chat.is_some_and(|chat| chat != request.chat) {
            return Err(AppError::RequestNotFound);
        }
        let (requester, chat_id) = (request.user, request.chat);
        let accepting = decision == Decision::Accepted;
        let lookup = Lookup {
            users: vec![requester],
            chats: vec![chat_id],
            scores: if accepting { vec![requester] } else { Vec::new() },
            memberships: vec![(chat_id, caller), (chat_id, requester)],
            ..Lookup::default()
        };
        let loaded = store.load(&lookup).await?;
        // A chat the rest of the app deleted has no members, so nobody may decide.
        let snapshot = loaded.chats.get(&chat_id).ok_or(AppError::NotChatMember)?;
        snapshot.chat.check_decider(loaded.membership(chat_id, caller))?;
        if request.status != RequestStatus::Pending {
            return Err(AppError::RequestNotPending);
        }

        let now = now_timestamp();
        let decided = request.decided(decision, caller, reason.clone(), &now);
        let user = loaded.users.get(&requester);
        let admission = snapshot.chat.plan_admission(requester, loaded.membership(chat_id, requester), &now);
        let score = loaded.scores.get(&requester);
        let points = rules.join_group_chat_points;
        let (mut events, after) = if accepting {
            let after = snapshot.admitted(&admission, &now);
            let for_requester = PopulatedRequest::new(&decided, user, Some(&after), requester);
            // The score after this action, as far as this call knows: another writer's
            // change between the read and the commit is not in it (docs/api.md).
            let counted = score.map(|s| s.score.clone()).unwrap_or_default().counted(JOIN_GROUP_CHAT, points);
            let events = vec![
                Fanout::request_accepted(&for_requester, &ChatView::for_viewer(&after, requester)),
                Fanout::score_updated(requester, &counted, JOIN_GROUP_CHAT),
            ];
            (events, after)
        } else {
            let for_requester = PopulatedRequest::new(&decided, user, Some(snapshot), requester);
            (vec![Fanout::request_rejected(&for_requester)], snapshot.clone())
        };
        events.push(Fanout::request_closed(&ClosedRequest::from(&decided), snapshot.active_admins()));
        let outbox = Outbox::new(&decided, &now, events, stored.notified.clone());
        let acceptance =
            accepting.then_some(Acceptance { admission: &admission, score, action: JOIN_GROUP_CHAT, points });
        let block = blocking.then(|| Block {
            user: requester,
            chat: chat_id,
            blocked_by: caller,
            blocked_at: now.clone(),
            reason: reason.clone(),
        });
        // A block outlasts any cooldown: it takes the marker's place.
        let cooldown = rules.rejection_cooldown_seconds;
        let cooldown_until = (decision == Decision::Rejected && cooldown > 0 && !blocking)
            .then(|| timestamp_seconds_ago(-i64::try_from(cooldown).unwrap_or(i64::MAX)));
        let value = PopulatedRequest::new(&decided, user, Some(&after), caller);
        let answer = super::answer_to_keep(caller, idempotency, &value)?;
        let plan = ClosePlan {
            closed: &decided,
            decider: Some(caller),
            acceptance,
            cooldown_until,
            block: block.as_ref(),
            outbox: &outbox,
            answer,
        };
        Ok(match store.commit_close(&plan).await {
            Ok(()) => Attempt::Done(Committed { value, outbox }),
            Err(lost) => Attempt::Lost(lost),
        })
    })
    .await
}

/// At most this many requests in one call of [`decide_many`].
pub const MAX_DECISIONS: usize = 100;
/// Decisions of one call made at once: each is its own transaction.
const CONCURRENT_DECISIONS: usize = 4;

/// `POST /chats/{id}/requests/decisions`: up to 100 requests of one chat decided, each
/// on its own exactly as by [`decide`], 4 at a time, outcomes in the order given. The
/// caller's admin rights are checked once first (1 round trip), and again by each
/// decision's transaction.
pub async fn decide_many<S: Storage>(
    store: &S,
    rules: &Rules,
    caller: ObjectId,
    chat: ObjectId,
    verdict: Verdict,
    ids: &[ObjectId],
) -> Result<Vec<(ObjectId, Result<Committed<PopulatedRequest>, AppError>)>, AppError> {
    let lookup = Lookup { chats: vec![chat], memberships: vec![(chat, caller)], ..Lookup::default() };
    check_admin(&store.load(&lookup).await?, chat, caller)?;
    // Made eagerly, so the stream holds plain futures and the call stays `Send`.
    let decisions: Vec<_> =
        ids.iter().map(|id| decide(store, rules, caller, *id, verdict.clone(), Some(chat), None)).collect();
    let outcomes: Vec<_> = futures::stream::iter(decisions).buffered(CONCURRENT_DECISIONS).collect().await;
    Ok(ids.iter().copied().zip(outcomes).collect())
}
