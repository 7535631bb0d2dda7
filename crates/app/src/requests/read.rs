//! The reads: a user's requests, one request, and an admin's queue.

use domain::view::UserView;
use domain::{JoinRequest, ObjectId, PageQuery, PopulatedRequest};

use crate::error::AppError;
use crate::ports::{Loaded, Lookup, Storage};

/// One page of a user's requests, and how many match in all.
#[derive(Debug)]
pub struct RequestPage {
    pub requests: Vec<PopulatedRequest>,
    pub count: usize,
}

/// `GET /requests`. Round trips: one `Query` per MB of the caller's matching index
/// entries (every entry is read, for the exact count), then one round for the page:
/// a `BatchGetItem` of its chats and the caller, beside one `Query` per distinct chat
/// for the participants it shows.
pub async fn list<S: Storage>(store: &S, caller: ObjectId, query: PageQuery) -> Result<RequestPage, AppError> {
    let all = store.requests_of(caller, query.status()).await?;
    let count = all.len();
    let page = &all[query.window(count)];
    if page.is_empty() {
        return Ok(RequestPage { requests: Vec::new(), count });
    }
    let lookup = Lookup { users: vec![caller], chats: page.iter().map(|r| r.chat).collect(), ..Lookup::default() };
    let loaded = store.load(&lookup).await?;
    let user = loaded.users.get(&caller);
    let requests = page
        .iter()
        .map(|request| PopulatedRequest::new(request, user, loaded.chats.get(&request.chat), caller))
        .collect();
    Ok(RequestPage { requests, count })
}

/// `GET /requests/{id}`. Round trips: 2 (the request; then its chat, the participants
/// it shows and the user, together); the chat's id is only known from the request.
pub async fn get<S: Storage>(store: &S, caller: ObjectId, id: ObjectId) -> Result<PopulatedRequest, AppError> {
    let stored = store.request(id).await?.ok_or(AppError::RequestNotFound)?;
    let request = stored.request;
    if request.user != caller {
        // Someone else's request is indistinguishable from a missing one.
        return Err(AppError::RequestNotFound);
    }
    let loaded = store.load(&Lookup { users: vec![caller], chats: vec![request.chat], ..Lookup::default() }).await?;
    Ok(PopulatedRequest::new(&request, loaded.users.get(&caller), loaded.chats.get(&request.chat), caller))
}

/// One request in the admins' queue, with its requester as shown to them.
#[derive(Debug)]
pub struct QueuedRequest {
    pub request: JoinRequest,
    pub user: UserView,
}

/// A page of a chat's queue, and how many of its requests match in all.
#[derive(Debug)]
pub struct Queue {
    pub requests: Vec<QueuedRequest>,
    pub count: u64,
}

/// Checks that `caller` may see and decide the requests of `chat`: the chat exists
/// (`CHAT_NOT_FOUND`), the caller is an active admin of it.
pub(crate) fn check_admin(loaded: &Loaded, chat: ObjectId, caller: ObjectId) -> Result<(), AppError> {
    let snapshot = loaded.chats.get(&chat).ok_or(AppError::ChatNotFound)?;
    Ok(snapshot.chat.check_decider(loaded.membership(chat, caller))?)
}

/// `GET /chats/{id}/requests`: the admins' queue, newest first. Round trips: 2. First,
/// together: the chat, the caller's entry and the chat's request counts in one
/// `BatchGetItem` (no request is read to count), the participants it shows, and the
/// newest `page × limit` requests from the chat's index, 1 `Query` per MB; nothing of
/// them is shown unless the caller is an active admin. Then one `BatchGetItem` of the
/// page's requesters. Page `p` reads `p × limit` index entries.
pub async fn queue<S: Storage>(
    store: &S,
    caller: ObjectId,
    chat: ObjectId,
    query: PageQuery,
) -> Result<Queue, AppError> {
    let take = (query.page() as usize).saturating_mul(query.limit() as usize);
    let lookup =
        Lookup { chats: vec![chat], memberships: vec![(chat, caller)], counts: vec![chat], ..Lookup::default() };
    let (loaded, newest) = futures::try_join!(store.load(&lookup), store.requests_to(chat, query.status(), take))?;
    check_admin(&loaded, chat, caller)?;
    let count = loaded.counts.get(&chat).map(|c| c.of(query.status())).unwrap_or_default();
    let page = &newest[query.window(newest.len())];
    let users = Lookup { users: page.iter().map(|r| r.user).collect(), ..Lookup::default() };
    let requesters = if page.is_empty() { Loaded::default() } else { store.load(&users).await? };
    let requests = page
        .iter()
        .map(|r| QueuedRequest { request: r.clone(), user: UserView::of(r.user, requesters.users.get(&r.user)) })
        .collect();
    Ok(Queue { requests, count })
}
