//! The harness itself: hand-written step sequences for the suspects of the
//! security review, each replayed through `engine::run` with its trace.
//! `cargo test` here (stable is fine) replays the findings of FUZZING.md
//! (F1–F4), which the core now keeps: each asserts every promise holds.
use wxcore_fuzz::engine::{run, Answer, Clock, Expires, Input, Step, StoreHow};

fn show(name: &str, input: Input) -> Result<(), String> {
    let (r, trace) = run(&input, true);
    println!("=== {name}: {r:?}\n{trace}\n");
    r
}

#[test]
fn ticket_answered_after_its_expiry() {
    // Memory store, no rate limits (config 2).
    let r = show("ticket", Input { config: 2, steps: vec![
        Step::Ticket { app: 0, kind: 0 },                   // oa jsapi: token fetch goes out
        Step::Answer { pick: 0, answer: Answer::Ok(Expires::TwoHours) }, // token; ticket call goes out
        Step::Clock(Clock::Secs(5)),
        Step::Answer { pick: 0, answer: Answer::Ok(Expires::One) },      // ticket, expires_in 1
    ]});
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn queued_call_sent_inside_ip_block() {
    // Memory store, rate limits (config 0): burst 3 per path.
    let mut steps = vec![Step::Submit { app: 0, path: 0, post: false, idempotent: false }];
    steps.push(Step::Answer { pick: 0, answer: Answer::Ok(Expires::TwoHours) });
    for _ in 0..4 {
        steps.push(Step::Submit { app: 0, path: 0, post: false, idempotent: false });
    }
    // The first call in flight answers 89507 (IP blocked for an hour).
    steps.push(Step::Answer { pick: 0, answer: Answer::Code(8) });
    steps.push(Step::Clock(Clock::Secs(30)));
    steps.push(Step::ToWake);
    let r = show("ip block", Input { config: 0, steps });
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn queued_calls_sent_past_quota() {
    // Memory store, rate limits (config 0): app `oc` has concurrency 2;
    // /cgi-bin/user/get has a daily limit of 2.
    let mut steps = vec![Step::Submit { app: 1, path: 0, post: false, idempotent: false }];
    steps.push(Step::Answer { pick: 0, answer: Answer::Ok(Expires::TwoHours) }); // token
    steps.push(Step::Submit { app: 1, path: 0, post: false, idempotent: false });
    // Both slots busy: three calls to the limited path queue up.
    for _ in 0..3 {
        steps.push(Step::Submit { app: 1, path: 2, post: false, idempotent: false });
    }
    // The slots free up: the queue drains.
    for _ in 0..4 {
        steps.push(Step::Answer { pick: 0, answer: Answer::Ok(Expires::TwoHours) });
        steps.push(Step::Clock(Clock::Secs(3)));
        steps.push(Step::ToWake);
    }
    let r = show("quota", Input { config: 0, steps });
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn huge_expires_in_wakes_beyond_the_clamp() {
    let r = show("wake", Input { config: 2, steps: vec![
        Step::Submit { app: 0, path: 0, post: false, idempotent: false },
        Step::Answer { pick: 0, answer: Answer::Ok(Expires::Huge(u64::MAX / 2)) },
    ]});
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn cancel_and_deadline_promises() {
    // Memory store, rate limits (config 0): calls wait for the token.
    let r = show("cancel", Input { config: 0, steps: vec![
        Step::Submit { app: 0, path: 0, post: false, idempotent: false }, // call 1, token fetch out
        Step::Ticket { app: 0, kind: 0 },                                  // call 2, waits for the token
        Step::Submit { app: 1, path: 1, post: false, idempotent: false }, // call 3
        Step::Cancel { pick: 0 },        // call 1: true, Done cancelled in this drain
        Step::Cancel { pick: 0 },        // call 1 again: false
        Step::Cancel { pick: 1 },        // the ticket request: true
        Step::Cancel { pick: 128 + 99 }, // never submitted: false
        Step::Clock(Clock::Secs(119)),
        Step::Clock(Clock::Secs(1)),     // call 3's deadline: its Done (timeout) now
    ]});
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn a_clock_past_the_clamp_ends_every_call() {
    let r = show("far clock", Input { config: 1, steps: vec![
        Step::Submit { app: 0, path: 0, post: false, idempotent: false },
        Step::Ticket { app: 1, kind: 1 },
        Step::Clock(Clock::Far(1)),      // MAX_TIME_MS + 5 s: every call ends
        Step::Submit { app: 2, path: 0, post: false, idempotent: false },
        Step::Cancel { pick: 0 },
    ]});
    assert!(r.is_ok(), "{r:?}");
}

/// F6 (FUZZING.md), fixed: in fleet mode a quota clear reset the shared
/// count to 0 while this engine held reservations for calls not yet sent;
/// those were sent after the clear on top of a full new allowance. Now they
/// count again.
#[test]
fn quota_clear_forgets_reserved_calls() {
    // Config 5: external store, rate limits (oc: burst 2, concurrency 2), margin 60 s.
    let ticket_path = |post| Step::Submit { app: 1, path: 5, post, idempotent: false };
    let r = show("quota clear", Input { config: 5, steps: vec![
        ticket_path(true), ticket_path(true), ticket_path(true), ticket_path(false), ticket_path(true),
        Step::Submit { app: 1, path: 4, post: false, idempotent: false }, // GET oc /cgi-bin/clear_quota
    ]});
    assert!(r.is_ok(), "{r:?}");
}

/// F7 (FUZZING.md), fixed: in fleet mode one failed quota count let a call
/// out on local counting, and the shared count never learned of it. Now the
/// next count carries it.
#[test]
fn failed_quota_count_is_never_made_up() {
    // Config 3: external store, no rate limits.
    let ticket_path = Step::Submit { app: 1, path: 5, post: true, idempotent: true };
    let r = show("store down", Input { config: 3, steps: vec![
        ticket_path.clone(), ticket_path.clone(), ticket_path.clone(), ticket_path.clone(),
        Step::Store { pick: 0, how: StoreHow::Fail },                    // oc's token read fails
        Step::Answer { pick: 0, answer: Answer::Ok(Expires::TwoHours) }, // token; four incr_by go out
        ticket_path,                                                     // call 5: a fifth incr_by
        Step::Store { pick: 255, how: StoreHow::Fail },                  // call 3's incr_by fails: sent on local counting
    ]});
    assert!(r.is_ok(), "{r:?}");
}
