//! The Kotlin and Python drivers' hot path: integer-only `extern "C"`
//! functions beside the uniffi ones, for the crossings every call makes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::{CallbackCrypto, Engine, WxError};

impl Engine {
    /// Borrows the engine behind a handle from [`Engine::hot_handle`].
    ///
    /// # Safety
    /// `handle` must come from `hot_handle` and not yet be released with
    /// `wxcore_hot_release`.
    unsafe fn from_hot(handle: u64) -> &'static Engine {
        // SAFETY: `hot_handle` made `handle` with `Arc::into_raw`, and the
        // caller has not released it, so it points at a live `Engine` (the
        // Arc it holds keeps it alive). `'static` is a lie the callers keep
        // honest: they use the reference only within the call.
        unsafe { &*(handle as usize as *const Engine) }
    }
}

#[uniffi::export]
impl Engine {
    /// The drivers' hot path (`wxcore_hot_*` below): a raw handle
    /// holding one reference to this engine, the same instance and lock
    /// this object uses. Release it with `wxcore_hot_release`, exactly once.
    pub fn hot_handle(self: Arc<Self>) -> u64 {
        Arc::into_raw(self) as usize as u64
    }
}

// The Kotlin and Python drivers' hot path. uniffi's generated calls build a
// few JNA `Structure`s (Kotlin) or ctypes objects (Python) per crossing (the
// call status, each `&[u8]` argument, a returned buffer) and make three
// native calls per method; these functions take only integers, so JNA's
// direct mapping and ctypes pass them as they are (Python passes its `bytes`
// objects' own addresses: no copy). They do
// what `submit_poll`, `respond_poll` and `poll` do, on the same engine and
// lock, and write the outputs in a compact frame instead of JSON (the core's
// decisions are untouched: this is conversion only). Every `done` output is
// there, so no call is lost; a panic is caught and reported as `HOT_PANIC`.
//
// Addresses travel as `i64` (not pointers) so that the JNA declarations
// (`Long`) match on 32-bit targets too.
//
// The frames are `wxcore::wire::frame`'s (described there).
//
// The frame goes into the caller's buffer (`out`, `out_cap` bytes, at least
// 8) and the function returns its length; a larger frame is left in memory
// Rust owns, its address in the first 8 bytes of `out`, and the function
// returns minus its length: the caller copies it and hands it back with
// `wxcore_hot_free`.

/// A Rust panic inside a hot-path function (none is expected: the core does not panic).
pub const HOT_PANIC: i64 = i64::MIN;
/// A hot-path function was called with arguments it cannot use (a null handle, a negative length).
pub const HOT_BAD_ARGS: i64 = i64::MIN + 1;

/// Hands `frame` to the caller (see the frame's description above).
///
/// # Safety
/// `out` must be writable for `out_cap` bytes, `out_cap >= 8`.
unsafe fn deliver(frame: Vec<u8>, out: i64, out_cap: i32) -> i64 {
    let out = out as usize as *mut u8;
    let len = frame.len();
    if len <= out_cap as usize {
        // SAFETY: the caller's buffer holds `out_cap >= len` bytes (this
        // function's contract) and cannot overlap `frame`, a fresh Rust allocation.
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), out, len) };
        return len as i64;
    }
    let spilled = Box::into_raw(frame.into_boxed_slice()) as *mut u8 as usize as u64;
    // SAFETY: `out` holds at least 8 writable bytes (checked by the callers);
    // unaligned, as a JVM buffer's address need not be 8-aligned.
    unsafe { std::ptr::write_unaligned(out as *mut [u8; 8], spilled.to_le_bytes()) };
    -(len as i64)
}

/// Delivers the frame `f` makes; catches any panic.
///
/// # Safety
/// `out` writable for `out_cap` bytes.
unsafe fn guarded(out: i64, out_cap: i32, f: impl FnOnce() -> Vec<u8>) -> i64 {
    if out == 0 || out_cap < 8 {
        return HOT_BAD_ARGS;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let frame = f();
        // SAFETY: `out` is writable for `out_cap >= 8` bytes (contract, checked above).
        unsafe { deliver(frame, out, out_cap) }
    }))
    .unwrap_or(HOT_PANIC)
}

/// Runs `f` on the engine behind `handle` (under its lock) and delivers
/// its frame; catches any panic.
///
/// # Safety
/// `handle` must be live (see [`Engine::from_hot`]); `out` writable for
/// `out_cap` bytes.
unsafe fn hot(
    handle: u64,
    now_ms: u64,
    out: i64,
    out_cap: i32,
    f: impl FnOnce(&mut wxcore::Engine) -> u64,
) -> i64 {
    if handle == 0 {
        return HOT_BAD_ARGS;
    }
    let run = || {
        // SAFETY: `handle` is live (this function's contract).
        let engine = unsafe { Engine::from_hot(handle) };
        let mut e = engine.engine();
        let call_id = f(&mut e);
        if !engine.detach.load(Ordering::Relaxed) {
            return e.poll_frame(call_id, now_ms);
        }
        // The previous frame's bodies were taken (under the driver's lock) when it was read.
        let mut detached = engine.detached.lock().unwrap_or_else(|p| p.into_inner());
        detached.clear();
        e.poll_frame_detached(call_id, now_ms, &mut detached)
    };
    // SAFETY: `out` as this function's contract says.
    unsafe { guarded(out, out_cap, run) }
}

/// The `len` bytes at `addr`, empty for a zero length.
///
/// # Safety
/// `addr` must be readable for `len` bytes while the slice lives.
unsafe fn input<'a>(addr: i64, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: readable for `len > 0` bytes (contract), so `addr` is not null.
    unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) }
}

/// `submit_poll` / `submit_with_body_poll`: the call spec (JSON) at
/// `spec_addr`, its body at `body_addr` (`body_len` bytes; -1: no body);
/// the frame carries the call id.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `spec_addr` readable
/// for `spec_len` bytes, `body_addr` for `max(body_len, 0)`; `out` writable
/// for `out_cap` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wxcore_hot_submit(
    handle: u64,
    spec_addr: i64,
    spec_len: i32,
    body_addr: i64,
    body_len: i32,
    now_ms: i64,
    out: i64,
    out_cap: i32,
) -> i64 {
    if spec_len < 0 || body_len < -1 {
        return HOT_BAD_ARGS;
    }
    // SAFETY: readable for the lengths given (contract).
    let spec = unsafe { input(spec_addr, spec_len as usize) };
    // SAFETY: as above.
    let body = usize::try_from(body_len)
        .ok()
        .map(|len| unsafe { input(body_addr, len) });
    let now_ms = now_ms.max(0) as u64;
    // SAFETY: `handle` and `out` as this function's contract says.
    unsafe {
        hot(handle, now_ms, out, out_cap, |e| {
            e.submit_json(spec, body, now_ms)
        })
    }
}

/// `respond_poll`: the response's headers at `headers_addr` (`u32` count,
/// then each name and value as a `u32` length and UTF-8), its body at
/// `body_addr`.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `headers_addr`
/// readable for `headers_len` bytes, `body_addr` for `body_len`; `out`
/// writable for `out_cap` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wxcore_hot_respond(
    handle: u64,
    request_id: i64,
    status: i32,
    headers_addr: i64,
    headers_len: i32,
    body_addr: i64,
    body_len: i32,
    now_ms: i64,
    out: i64,
    out_cap: i32,
) -> i64 {
    let (Ok(headers_len), Ok(body_len), Ok(status)) = (
        usize::try_from(headers_len),
        usize::try_from(body_len),
        u16::try_from(status),
    ) else {
        return HOT_BAD_ARGS;
    };
    // SAFETY: readable for the lengths given (contract).
    let (headers, body) = unsafe { (input(headers_addr, headers_len), input(body_addr, body_len)) };
    let now_ms = now_ms.max(0) as u64;
    // SAFETY: `handle` and `out` as this function's contract says.
    unsafe {
        hot(handle, now_ms, out, out_cap, |e| {
            e.handle_response_frame(request_id as u64, status, headers, body.to_vec(), now_ms);
            0
        })
    }
}

/// `poll`: every pending output.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `out` writable for `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_poll(handle: u64, now_ms: i64, out: i64, out_cap: i32) -> i64 {
    let now_ms = now_ms.max(0) as u64;
    // SAFETY: `handle` and `out` as this function's contract says.
    unsafe { hot(handle, now_ms, out, out_cap, |_| 0) }
}

/// Frames for this handle's engine from now on carry bodies of 64 KiB or
/// more beside them (`wxcore::wire::frame`), read with `wxcore_hot_body`:
/// Python's way to copy a body once instead of out of a frame and again
/// out of that. Kotlin keeps the default (inside).
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_detach(handle: u64, on: i32) {
    if handle == 0 {
        return;
    }
    // SAFETY: `handle` is live (contract).
    let engine = unsafe { Engine::from_hot(handle) };
    engine.detach.store(on != 0, Ordering::Relaxed);
}

/// Where body `index` of the last frame lies: its address in the first 8
/// bytes of `out`, its length returned (-1: no such body). It stays there
/// until the next frame of this engine; the caller copies it before
/// making another hot-path call.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `out` writable for 8 bytes.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_body(handle: u64, index: i32, out: i64) -> i64 {
    if handle == 0 || out == 0 {
        return HOT_BAD_ARGS;
    }
    // SAFETY: `handle` is live (contract).
    let engine = unsafe { Engine::from_hot(handle) };
    let detached = engine.detached.lock().unwrap_or_else(|p| p.into_inner());
    let Some(body) = usize::try_from(index).ok().and_then(|i| detached.get(i)) else {
        return -1;
    };
    let addr = body.as_ptr() as usize as u64;
    // SAFETY: `out` is writable for 8 bytes (contract); unaligned, as with frames.
    unsafe { std::ptr::write_unaligned(out as usize as *mut [u8; 8], addr.to_le_bytes()) };
    body.len() as i64
}

/// Frees a frame a hot-path function left in Rust's memory (`addr`, `len`
/// as it reported them).
///
/// # Safety
/// `addr` and `len` exactly as reported, each frame freed once.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_free(addr: i64, len: i64) {
    if addr == 0 {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        let slice = std::ptr::slice_from_raw_parts_mut(addr as usize as *mut u8, len as usize);
        // SAFETY: `deliver` made this `Box<[u8]>` of `len` bytes with
        // `Box::into_raw`, and the caller frees it once (contract).
        drop(unsafe { Box::from_raw(slice) });
    });
}

/// Releases a handle from `Engine::hot_handle` (the engine lives on while
/// its uniffi object does).
///
/// # Safety
/// `handle` from `Engine::hot_handle`, released once, unused afterwards.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_release(handle: u64) {
    if handle == 0 {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `hot_handle` made `handle` with `Arc::into_raw`; this is
        // its one release (contract).
        drop(unsafe { Arc::from_raw(handle as usize as *const Engine) });
    });
}

#[uniffi::export]
impl CallbackCrypto {
    /// Python's hot path for `decrypt` (`wxcore_hot_decrypt`): a raw handle
    /// holding one reference to this object. Release it with
    /// `wxcore_hot_crypto_release`, exactly once.
    pub fn hot_handle(self: Arc<Self>) -> u64 {
        Arc::into_raw(self) as usize as u64
    }
}

/// `decrypt_packed` without uniffi's per-argument buffers (the whole
/// callback check stays in `wxcore::callback`): the packed arguments at
/// `packed_addr`; `check_age` non-zero checks the timestamp against
/// `now_s`. The frame is a tag byte, then for 0 the plaintext, for 1 the
/// refusal as `kind`, `reason` and `detail` separated by NUL bytes.
///
/// # Safety
/// `handle` from `CallbackCrypto::hot_handle`, not released; `packed_addr`
/// readable for `packed_len` bytes; `out` writable for `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_decrypt(
    handle: u64,
    packed_addr: i64,
    packed_len: i32,
    check_age: i32,
    now_s: i64,
    out: i64,
    out_cap: i32,
) -> i64 {
    let Ok(packed_len) = usize::try_from(packed_len) else {
        return HOT_BAD_ARGS;
    };
    if handle == 0 {
        return HOT_BAD_ARGS;
    }
    // SAFETY: readable for `packed_len` bytes (contract).
    let packed = unsafe { input(packed_addr, packed_len) };
    let run = || {
        // SAFETY: `hot_handle` made `handle` with `Arc::into_raw`, not yet
        // released (contract), so the object lives for this call.
        let crypto = unsafe { &*(handle as usize as *const CallbackCrypto) };
        match crypto.decrypt_packed(packed, check_age != 0, now_s.max(0) as u64) {
            Ok(plain) => [&[0u8][..], &plain].concat(),
            Err(e) => {
                let (kind, reason, detail) = match e {
                    WxError::Callback {
                        kind,
                        reason,
                        detail,
                    } => (kind, reason, detail),
                    WxError::Config { field, detail } => ("config".into(), field, detail),
                };
                [
                    &[1u8][..],
                    kind.as_bytes(),
                    &[0],
                    reason.as_bytes(),
                    &[0],
                    detail.as_bytes(),
                ]
                .concat()
            }
        }
    };
    // SAFETY: `out` as this function's contract says.
    unsafe { guarded(out, out_cap, run) }
}

/// Releases a handle from `CallbackCrypto::hot_handle`.
///
/// # Safety
/// `handle` from `CallbackCrypto::hot_handle`, released once, unused afterwards.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_crypto_release(handle: u64) {
    if handle == 0 {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `hot_handle` made `handle` with `Arc::into_raw`; this is
        // its one release (contract).
        drop(unsafe { Arc::from_raw(handle as usize as *const CallbackCrypto) });
    });
}

#[cfg(test)]
mod hot_tests {
    use super::*;

    const CONFIG: &str = r#"{"apps":[{"id":"r","platform":"result","base_url":"https://r.example","secret":"T",
        "token_placement":{"in":"header","name":"token_id"}}]}"#;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    /// Reads a frame the way the driver does; a spilled frame is copied and freed.
    fn read(ret: i64, out: &[u8]) -> Vec<u8> {
        assert!(ret != HOT_PANIC && ret != HOT_BAD_ARGS, "{ret}");
        if ret >= 0 {
            return out[..ret as usize].to_vec();
        }
        let addr = u64_at(out, 0) as i64;
        // SAFETY: `deliver` left `-ret` bytes at `addr`, freed right after the copy.
        let copy =
            unsafe { std::slice::from_raw_parts(addr as usize as *const u8, (-ret) as usize) }
                .to_vec();
        // SAFETY: as reported, once.
        unsafe { wxcore_hot_free(addr, -ret) };
        copy
    }

    #[test]
    fn a_call_goes_round_the_hot_path_on_the_uniffi_engine() {
        let engine = Engine::new(CONFIG.into(), 0).unwrap();
        let handle = engine.clone().hot_handle();
        let mut out = vec![0u8; 4096];
        let spec = br#"{"app":"r","path":"/x","query":[["a","1"]]}"#;
        // SAFETY: a live handle, `spec` readable, `out` writable for its length.
        let ret = unsafe {
            wxcore_hot_submit(
                handle,
                spec.as_ptr() as i64,
                spec.len() as i32,
                0,
                -1,
                0,
                out.as_mut_ptr() as i64,
                out.len() as i32,
            )
        };
        let f = read(ret, &out);
        assert_eq!(u64_at(&f, 0), 1, "the call id");
        assert_eq!(u32_at(&f, 16), 1, "one output");
        assert_eq!(f[20], 1, "a send");
        let request_id = u64_at(&f, 21);
        assert!(String::from_utf8_lossy(&f).contains("https://r.example/x?a=1"));

        // Headers (one pair) and a body larger than `out`: the frame spills.
        let mut input = Vec::new();
        input.extend_from_slice(&1u32.to_le_bytes());
        for s in ["Content-Type", "application/json"] {
            input.extend_from_slice(&(s.len() as u32).to_le_bytes());
            input.extend_from_slice(s.as_bytes());
        }
        let body = format!(r#"{{"result":"success","pad":"{}"}}"#, "x".repeat(8000));
        // SAFETY: as above; `input` and `body` readable for their lengths.
        let ret = unsafe {
            wxcore_hot_respond(
                handle,
                request_id as i64,
                200,
                input.as_ptr() as i64,
                input.len() as i32,
                body.as_ptr() as i64,
                body.len() as i32,
                1,
                out.as_mut_ptr() as i64,
                out.len() as i32,
            )
        };
        assert!(ret < 0, "spilled");
        let f = read(ret, &out);
        assert_eq!(u32_at(&f, 16), 1);
        assert_eq!(
            (f[20], u64_at(&f, 21), u32_at(&f, 29), f[33]),
            (2, 1, 200, 0),
            "done, call 1, 200, JSON"
        );
        assert!(f.ends_with(body.as_bytes()));

        // The uniffi object sees the same engine: nothing left to poll there either.
        assert!(engine.poll(2).contains(r#""outputs":[]"#));
        // SAFETY: a live handle and buffer.
        let f = read(
            unsafe { wxcore_hot_poll(handle, 2, out.as_mut_ptr() as i64, out.len() as i32) },
            &out,
        );
        assert_eq!(u32_at(&f, 16), 0);
        // SAFETY: released once, unused afterwards.
        unsafe { wxcore_hot_release(handle) };
        assert_eq!(Arc::strong_count(&engine), 1);
    }

    #[test]
    fn bad_arguments_are_refused_and_failures_come_as_json() {
        let engine = Engine::new(CONFIG.into(), 0).unwrap();
        let handle = engine.clone().hot_handle();
        let mut out = vec![0u8; 4096];
        // SAFETY: the checks run before anything is read.
        unsafe {
            assert_eq!(
                wxcore_hot_poll(0, 0, out.as_mut_ptr() as i64, 4096),
                HOT_BAD_ARGS
            );
            assert_eq!(
                wxcore_hot_poll(handle, 0, out.as_mut_ptr() as i64, 4),
                HOT_BAD_ARGS
            );
            assert_eq!(
                wxcore_hot_submit(handle, 0, -1, 0, -1, 0, out.as_mut_ptr() as i64, 4096),
                HOT_BAD_ARGS
            );
        }
        let spec = br#"{"app":"r","pth":"/x"}"#;
        // SAFETY: a live handle, `spec` readable, `out` writable.
        let f = read(
            unsafe {
                wxcore_hot_submit(
                    handle,
                    spec.as_ptr() as i64,
                    spec.len() as i32,
                    0,
                    -1,
                    0,
                    out.as_mut_ptr() as i64,
                    out.len() as i32,
                )
            },
            &out,
        );
        assert_eq!(f[20], 3, "a failed done as JSON");
        let json = std::str::from_utf8(&f[25..25 + u32_at(&f, 21) as usize]).unwrap();
        assert!(
            json.starts_with(r#"{"done":"#) && json.contains(r#""kind":"invalid_request""#),
            "{json}"
        );
        // SAFETY: released once.
        unsafe { wxcore_hot_release(handle) };
    }

    #[test]
    fn a_callback_decrypts_on_the_hot_path_as_through_uniffi() {
        let crypto = CallbackCrypto::new(
            "QDG6eK".into(),
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into(),
            "wx5823bf96d3bd56c7".into(),
            None,
            None,
            None,
        )
        .unwrap();
        let handle = crypto.clone().hot_handle();
        let reply = "<xml><Content><![CDATA[hello 中文]]></Content></xml>";
        let xml = crypto
            .encrypt(
                reply.into(),
                "1409304348".into(),
                "xxxxxx".into(),
                vec![7; 16],
            )
            .unwrap();
        let field = |name: &str| {
            let open = format!("<{name}><![CDATA[");
            let at = xml.find(&open).unwrap() + open.len();
            xml[at..at + xml[at..].find("]]>").unwrap()].to_string()
        };
        let sig = field("MsgSignature");
        let decrypt = |sig: &str| {
            let packed = [sig, "1409304348", "xxxxxx", xml.as_str()].join("\0");
            let mut out = vec![0u8; 32];
            // SAFETY: a live handle, `packed` readable, `out` writable for its length.
            let ret = unsafe {
                wxcore_hot_decrypt(
                    handle,
                    packed.as_ptr() as i64,
                    packed.len() as i32,
                    0,
                    0,
                    out.as_mut_ptr() as i64,
                    out.len() as i32,
                )
            };
            (
                read(ret, &out),
                crypto.decrypt_packed(packed.as_bytes(), false, 0),
            )
        };
        // The plaintext is longer than the 32-byte buffer: it spills and comes back whole.
        let (frame, through_uniffi) = decrypt(&sig);
        assert_eq!(frame[0], 0);
        assert_eq!(&frame[1..], reply.as_bytes());
        assert_eq!(through_uniffi.unwrap(), reply.as_bytes());

        let (frame, through_uniffi) = decrypt(&"0".repeat(40));
        let Err(WxError::Callback { kind, reason, .. }) = through_uniffi else {
            panic!("a wrong signature is refused");
        };
        assert_eq!(frame[0], 1);
        let parts: Vec<&[u8]> = frame[1..].splitn(3, |b| *b == 0).collect();
        assert_eq!((parts[0], parts[1]), (kind.as_bytes(), reason.as_bytes()));
        // SAFETY: released once.
        unsafe { wxcore_hot_crypto_release(handle) };
        assert_eq!(Arc::strong_count(&crypto), 1);
    }
}
