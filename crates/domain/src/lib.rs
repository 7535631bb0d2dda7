//! The join-request domain: types that cannot hold invalid values and the rules of the
//! contract. Nothing here knows about AWS.

pub mod chat;
pub mod event;
pub mod id;
pub mod moderation;
pub mod page;
pub mod request;
pub mod score;
pub mod sync;
pub mod time;
pub mod view;

pub use chat::{Admission, Chat, ChatSnapshot, NotDecider, NotJoinable, Participant, User};
pub use event::{Delivery, Fanout, OutboundEvent, Outbox, RequestChanged};
pub use id::ObjectId;
pub use moderation::{Answer, Block, Question};
pub use page::PageQuery;
pub use request::{
    ClosedRequest, Decision, JoinRequest, Note, Notification, NotificationRef, RequestNotifications, RequestStatus,
};
pub use score::Score;
pub use view::PopulatedRequest;
