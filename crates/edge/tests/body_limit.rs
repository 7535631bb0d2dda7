//! A body is refused over 64 KB before anything of its size is allocated, with an
//! `Idempotency-Key` too, and a kept call is fingerprinted without copying its body.
//! Its own test binary: it counts this thread's allocations with a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use edge::http::{idempotency, json_body, MAX_BODY_BYTES};
use edge::ApiError;
use lambda_http::{Body, Request};

struct LargestAllocation;

thread_local! {
    /// The largest allocation this thread made since [`largest_during`] began, if it is
    /// counting.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: a thread being torn down has no thread locals left to count in.
        let _ = LARGEST.try_with(|largest| {
            if let Some(size) = largest.get() {
                largest.set(Some(size.max(layout.size())));
            }
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// What `call` returns, and the largest single allocation it made on this thread.
fn largest_during<T>(call: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(Some(0)));
    let value = call();
    let largest = LARGEST.with(|largest| largest.take()).unwrap_or_default();
    (value, largest)
}

fn post(body: Vec<u8>, key: Option<&str>) -> Request {
    let mut request = lambda_http::http::Request::builder().method("POST").uri("/requests");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.body(Body::Binary(body)).unwrap()
}

#[test]
fn a_body_over_64_kb_is_refused_without_allocating_its_size() {
    let megabyte = post(vec![b'{'; 1024 * 1024], Some("retry-1"));
    let (parsed, largest) = largest_during(|| json_body::<serde_json::Value>(&megabyte));
    assert!(matches!(parsed, Err(ApiError::PayloadTooLarge)), "{parsed:?}");
    assert!(largest < 1024, "the body is refused, not read: {largest} bytes allocated at most");

    let (keyed, largest) = largest_during(|| idempotency(&megabyte));
    assert!(matches!(keyed, Err(ApiError::PayloadTooLarge)), "{keyed:?}");
    assert!(largest < 1024, "nor digested: {largest} bytes allocated at most");

    let just_over = post(vec![b' '; MAX_BODY_BYTES + 1], None);
    assert!(matches!(json_body::<serde_json::Value>(&just_over), Err(ApiError::PayloadTooLarge)));
}

#[test]
fn a_kept_call_is_fingerprinted_without_copying_its_body() {
    let body = format!("{{\"chat\":\"65f1a0000000000000000001\",\"message\":\"{}\"}}", "x".repeat(60 * 1024));
    let request = post(body.clone().into_bytes(), Some("retry-2"));
    let (kept, largest) = largest_during(|| idempotency(&request));
    let kept = kept.unwrap().unwrap();
    assert!(largest < 1024, "{largest} bytes allocated at most for a {} byte body", body.len());
    assert_eq!((kept.key.len(), kept.fingerprint.len()), (64, 64), "SHA-256 in hex");

    // A byte order mark before the same body is the same call.
    let with_mark = post([b"\xEF\xBB\xBF".as_slice(), body.as_bytes()].concat(), Some("retry-2"));
    assert_eq!(idempotency(&with_mark).unwrap().unwrap().fingerprint, kept.fingerprint);
    let other = post(body.replace("xx", "yy").into_bytes(), Some("retry-2"));
    assert_ne!(idempotency(&other).unwrap().unwrap().fingerprint, kept.fingerprint);
}
