//! The engine as a state machine; see `src/engine.rs` for the steps and the
//! promises checked after each one. A finding panics with the full trace.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wxcore_fuzz::engine::{run, Input};

fuzz_target!(|input: Input| {
    if let (Err(e), _) = run(&input, false) {
        let (_, trace) = run(&input, true);
        panic!("engine promise broken: {e}\n--- trace ---\n{trace}");
    }
});
