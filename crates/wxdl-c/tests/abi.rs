//! The ABI's misuse answers: NULLs and bad configurations fail at once with a thread-local
//! last error, never a crash.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::null_mut;

use wxdl_c::*;

unsafe extern "C" fn ignore(_: *mut c_void, _: u64, _: *const c_char, _: *const c_char) {}

fn last_error() -> Option<String> {
    let p = wxdl_last_error();
    // SAFETY: NULL or this thread's last error, valid until the next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[test]
fn misuse_fails_at_once_and_says_why_on_this_thread_only() {
    unsafe {
        assert!(wxdl_engine_new(null_mut(), None, null_mut()).is_null());
        assert!(last_error().unwrap().contains("callback is NULL"));
        // Only this thread's last error.
        assert_eq!(std::thread::spawn(last_error).join().unwrap(), None);

        let not_json = CString::new("{root").unwrap();
        assert!(wxdl_engine_new(not_json.as_ptr(), Some(ignore), null_mut()).is_null());
        assert!(last_error()
            .unwrap()
            .starts_with("wxdl_engine_new: config_json"));
        let array = CString::new("[]").unwrap();
        assert!(wxdl_engine_new(array.as_ptr(), Some(ignore), null_mut()).is_null());
        assert!(last_error().unwrap().contains("not a JSON object"));
        let bad = CString::new(r#"{"resolve": ["nonsense"]}"#).unwrap();
        assert!(wxdl_engine_new(bad.as_ptr(), Some(ignore), null_mut()).is_null());
        assert!(last_error().unwrap().contains("resolve"));

        let dir = tempfile::tempdir().unwrap();
        let config = CString::new(serde_json::json!({"root": dir.path()}).to_string()).unwrap();
        let e = wxdl_engine_new(config.as_ptr(), Some(ignore), null_mut());
        assert!(!e.is_null());
        assert_eq!(last_error(), None, "a success clears it");
        assert_eq!(wxdl_call(e, std::ptr::null(), std::ptr::null()), 0);
        assert!(last_error().is_some());
        assert_eq!(
            wxdl_call(null_mut(), c"downloadFile".as_ptr(), std::ptr::null()),
            0
        );
        assert_eq!(wxdl_call(e, c"downloadFile".as_ptr(), std::ptr::null()), 1);
        assert_eq!(wxdl_abort(e, 99), -1);
        assert!(last_error().unwrap().contains("call 99 is not running"));
        assert_eq!(wxdl_abort(null_mut(), 1), -1);
        wxdl_engine_free(e);
        assert_eq!(last_error(), None);
        wxdl_engine_free(null_mut());
    }
}
