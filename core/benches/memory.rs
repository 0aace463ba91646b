//! Memory held by the engine per configured, idle app, measured with a
//! counting allocator over 100,000 apps (not a timed test: it prints).
//!
//!     cargo bench -p wxcore --bench memory

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use wxcore::{AppConfig, Config, Engine, Secret};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    const N: usize = 100_000;
    let base = LIVE.load(Ordering::Relaxed);
    let apps: Vec<AppConfig> = (0..N)
        .map(|i| AppConfig {
            id: format!("app{i:06}"),
            platform: if i % 2 == 0 { "wechat-oa" } else { "wecom" }.into(),
            app_id: Some(format!("wx{i:016x}")),
            corp_id: Some(format!("ww{i:016x}")),
            agent_id: Some("1000002".into()),
            secret: Some(Secret::new(format!("{i:032x}"))),
            ..AppConfig::default()
        })
        .collect();
    // Engine::new consumes the config and keeps only what it resolved.
    let engine = Engine::new(Config::with_apps(apps), 1_700_000_000_000).unwrap();
    let held = LIVE.load(Ordering::Relaxed) - base;
    println!(
        "memory: {N} idle apps (half wechat-oa, half wecom) hold {held} bytes: {:.0} bytes per app",
        held as f64 / N as f64
    );
    std::hint::black_box(engine);
}
