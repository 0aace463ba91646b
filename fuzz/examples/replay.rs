//! Replays a fuzz input of the `engine` target and prints its decoded steps
//! and the trace (stable toolchain is fine):
//! `cargo run --example replay -- artifacts/engine/crash-…`
use arbitrary::{Arbitrary, Unstructured};
use wxcore_fuzz::engine::{run, Input};

fn main() {
    let path = std::env::args().nth(1).expect("usage: replay <input file>");
    let bytes = std::fs::read(path).expect("readable input");
    let input = Input::arbitrary_take_rest(Unstructured::new(&bytes)).expect("decodes");
    println!("{input:#?}");
    let (result, trace) = run(&input, true);
    println!("{trace}\nresult: {result:?}");
}
