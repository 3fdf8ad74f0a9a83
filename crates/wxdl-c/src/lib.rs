//! wxdl's C ABI: the wx layer's calls ([`wxdl_wx::Wx`]) as JSON in, JSON events out, for
//! native Mini Program containers (iOS, Android, desktop hosts) and any language with a C FFI.
//!
//! The header is `include/wxdl.h` (cbindgen; `tests/header.rs` checks it). The rules:
//! - `call_id`s start at 1; each call sends `headersReceived`, `progressUpdate` while it runs,
//!   then `success` or `fail` (WeChat's result object, unchanged), then `complete` (the same
//!   object), last; nothing for that call after `complete`. Bad options are a `fail` event.
//! - Callbacks run on the engine's threads, never inside the caller's `wxdl_call`; two calls'
//!   events may arrive at once on two threads. A callback may call `wxdl_call` and
//!   `wxdl_abort`, never `wxdl_engine_free`.
//! - Strings passed in are copied; `kind` and `json` are valid during the callback only.
//! - `wxdl_engine_free` aborts what runs and returns when every call has completed; nothing is
//!   called back after it returns.
//! - A panic never crosses the ABI: a function that would panic fails as documented and says so
//!   in `wxdl_last_error()`.

// The C names are the ABI's (`wxdl_engine`, `wxdl_event_cb`).
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe, UnwindSafe};

use serde_json::Value;
use wxdl_wx::config::ClientConfig;
use wxdl_wx::{CallId, Wx};

/// One Mini Program's engine: its sandbox, connections, queue and the calls running on it.
pub struct wxdl_engine {
    wx: Wx,
}

/// Receives every event of an engine's calls: `kind` is `headersReceived`, `progressUpdate`,
/// `chunkReceived`, `success`, `fail` or `complete`; `json` the event's object. Both strings are
/// valid until the callback returns. Called on an engine thread.
pub type wxdl_event_cb = Option<
    unsafe extern "C" fn(user: *mut c_void, call_id: u64, kind: *const c_char, json: *const c_char),
>;

thread_local! {
    /// This thread's last error, until its next call.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_error(text: impl Into<String>) {
    let text = CString::new(text.into().replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(text));
}

fn clear_error() {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
}

/// Runs `f`, turning a panic into `fallback` and a last error.
fn guarded<T>(fallback: T, f: impl FnOnce() -> T + UnwindSafe) -> T {
    clear_error();
    catch_unwind(f).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        set_error(format!("internal error (a bug in wxdl): {what}"));
        fallback
    })
}

/// The text at `p`, or `None` for NULL (invalid UTF-8 is replaced, never trusted).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn text(p: *const c_char) -> Option<String> {
    // SAFETY: the caller's promise.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The C callback and its `user` pointer, as the engine's threads call them.
struct Callback {
    cb: unsafe extern "C" fn(*mut c_void, u64, *const c_char, *const c_char),
    user: *mut c_void,
}

// SAFETY: the header tells C callers that the callback is called on the engine's threads with
// this `user`; what `user` points to is theirs to make safe for that.
unsafe impl Send for Callback {}
// SAFETY: as above; the callback may run on two threads at once (documented).
unsafe impl Sync for Callback {}

impl Callback {
    fn event(&self, id: CallId, kind: &str, json: &str) {
        // Neither holds a NUL: kinds are constants and JSON text escapes control characters.
        let (Ok(kind), Ok(json)) = (CString::new(kind), CString::new(json)) else {
            return;
        };
        // SAFETY: a function pointer the caller gave for this, with its `user`; the strings
        // live until it returns.
        unsafe { (self.cb)(self.user, id, kind.as_ptr(), json.as_ptr()) }
    }
}

/// Creates an engine from `config_json` (`{root, appid, domains, cacert, concurrency,
/// networkTimeout, …}`, every field optional; NULL is `{}`) whose events go to `cb` with `user`.
/// NULL on error (`wxdl_last_error()` says why): no callback, text that is not a JSON object,
/// a configuration that cannot be used.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `cb` is callable from any thread with
/// `user` until `wxdl_engine_free` returns.
#[no_mangle]
pub unsafe extern "C" fn wxdl_engine_new(
    config_json: *const c_char,
    cb: wxdl_event_cb,
    user: *mut c_void,
) -> *mut wxdl_engine {
    // SAFETY: the caller's promise on `config_json`.
    let config = unsafe { text(config_json) }.unwrap_or_else(|| "{}".into());
    let user = AssertUnwindSafe(user);
    guarded(std::ptr::null_mut(), move || {
        let Some(cb) = cb else {
            set_error("wxdl_engine_new: the event callback is NULL");
            return std::ptr::null_mut();
        };
        let config: Value = match serde_json::from_str(&config) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                set_error("wxdl_engine_new: config_json is not a JSON object");
                return std::ptr::null_mut();
            }
            Err(e) => {
                set_error(format!("wxdl_engine_new: config_json: {e}"));
                return std::ptr::null_mut();
            }
        };
        let callback = Callback { cb, user: *user };
        let sink = move |id: CallId, kind: &str, json: &str| callback.event(id, kind, json);
        match Wx::new(&ClientConfig::from_json(&config), sink) {
            Ok(wx) => Box::into_raw(Box::new(wxdl_engine { wx })),
            Err(e) => {
                set_error(format!("wxdl_engine_new: {e}"));
                std::ptr::null_mut()
            }
        }
    })
}

/// Starts `wx.<api>(options)`: `api` is `"downloadFile"` (`"request"` and `"uploadFile"` are
/// coming), `options_json` its options object (NULL is `{}`). Returns the call's id (from 1) at
/// once; everything else arrives as events, a bad option or an unknown API as a `fail` event.
/// 0 only when `e` or `api` is NULL.
///
/// # Safety
/// `e` is NULL or an engine from `wxdl_engine_new` not yet freed; `api` and `options_json` are
/// NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn wxdl_call(
    e: *mut wxdl_engine,
    api: *const c_char,
    options_json: *const c_char,
) -> u64 {
    // SAFETY: the caller's promises.
    let (api, options) = unsafe { (text(api), text(options_json)) };
    // SAFETY: the caller's promise: a live engine or NULL.
    let engine = unsafe { e.as_ref() };
    let engine = AssertUnwindSafe(engine);
    guarded(0, move || {
        let (Some(engine), Some(api)) = (*engine, api) else {
            set_error("wxdl_call: the engine or the API name is NULL");
            return 0;
        };
        engine.wx.call(&api, options.as_deref().unwrap_or("{}"))
    })
}

/// Aborts call `call_id`: it fails with `{errMsg: "<api>:fail abort", errno: 603105}` unless it
/// ended first, then completes. 0 when the call was running, -1 when it was not (completed, or
/// never was) or `e` is NULL.
///
/// # Safety
/// `e` is NULL or an engine from `wxdl_engine_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn wxdl_abort(e: *mut wxdl_engine, call_id: u64) -> c_int {
    // SAFETY: the caller's promise: a live engine or NULL.
    let engine = AssertUnwindSafe(unsafe { e.as_ref() });
    guarded(-1, move || match *engine {
        Some(engine) if engine.wx.abort(call_id) => 0,
        Some(_) => {
            set_error(format!("wxdl_abort: call {call_id} is not running"));
            -1
        }
        None => {
            set_error("wxdl_abort: the engine is NULL");
            -1
        }
    })
}

/// Aborts every running call, waits until each has sent `complete`, and frees the engine;
/// nothing is called back after it returns. NULL does nothing. Called from inside a callback
/// (where it would wait for itself) it frees nothing and says so in `wxdl_last_error()`.
///
/// # Safety
/// `e` is NULL or an engine from `wxdl_engine_new`, freed once.
#[no_mangle]
pub unsafe extern "C" fn wxdl_engine_free(e: *mut wxdl_engine) {
    let e = AssertUnwindSafe(e);
    guarded((), move || {
        if e.is_null() {
            return;
        }
        if wxdl_wx::call::in_sink() {
            set_error("wxdl_engine_free: called from a callback; the engine is not freed");
            return;
        }
        // SAFETY: the caller's promise: from `wxdl_engine_new` (Box::into_raw), freed once.
        drop(unsafe { Box::from_raw(*e) });
    })
}

/// The last error of a `wxdl_*` call on this thread, or NULL when it succeeded; valid until
/// the next `wxdl_*` call on this thread.
#[no_mangle]
pub extern "C" fn wxdl_last_error() -> *const c_char {
    LAST_ERROR.with(|e| {
        e.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |text| text.as_ptr())
    })
}
