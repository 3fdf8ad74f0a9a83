//! What `wx.getSystemInfo(Sync)` answers in a headless run: a phone-sized window on this
//! machine's OS, the same in every JS face.

use serde_json::{json, Value};

/// `wx.getSystemInfoSync()`'s object (without `errMsg`).
///
/// ```
/// let info = wxdl_wx::system::system_info();
/// assert_eq!(info["platform"], "devtools");
/// assert_eq!(info["windowWidth"], 375);
/// ```
pub fn system_info() -> Value {
    json!({
        "brand": "wxdl",
        "model": "wxdl",
        "platform": "devtools",
        "system": format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        "version": "8.0.50",
        "SDKVersion": "3.0.0",
        "language": "zh_CN",
        "pixelRatio": 1,
        "screenWidth": 375,
        "screenHeight": 667,
        "windowWidth": 375,
        "windowHeight": 667,
        "statusBarHeight": 20,
        "wxdlVersion": env!("CARGO_PKG_VERSION"),
    })
}
