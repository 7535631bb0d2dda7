//! The AWS adapters: the DynamoDB [`store`] (the only code that knows the table's keys,
//! to build them and to parse them), the EventBridge [`bus`], the Management API
//! [`push`], [`secrets`], and the SDK configuration ([`sdk`]).

pub mod bus;
pub mod push;
pub mod sdk;
pub mod secrets;
pub mod store;
