//! WeChat's API names and what they put around an engine failure: `errMsg` is
//! `<api>:fail <reason>[: <detail>]` (the engine's [`Fail::message`]), the `fail` result object
//! `{errMsg, errno}`; a success's `errMsg` is `<api>:ok`.

use serde_json::{json, Value};
use wxdl::Fail;

/// A wx API the engine serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// `wx.downloadFile`.
    DownloadFile,
    /// `wx.request`.
    Request,
    /// `wx.uploadFile`.
    UploadFile,
}

impl Api {
    /// The API's name, as in `wx.<name>` and `errMsg`.
    pub fn name(self) -> &'static str {
        match self {
            Api::DownloadFile => "downloadFile",
            Api::Request => "request",
            Api::UploadFile => "uploadFile",
        }
    }

    /// A success's `errMsg`: `<api>:ok`.
    pub fn ok_msg(self) -> String {
        format!("{}:ok", self.name())
    }

    /// WeChat's `errMsg` for `fail`: `<api>:fail <reason>[: <detail>]`, the detail left out
    /// for the exact rows (`abort`, `timeout`).
    ///
    /// ```
    /// use wxdl::{Fail, FailReason};
    /// use wxdl_wx::Api;
    /// let fail = Fail::with(FailReason::ConnectFail, "127.0.0.1:9: connection refused");
    /// assert_eq!(
    ///     Api::DownloadFile.err_msg(&fail),
    ///     "downloadFile:fail connect fail: 127.0.0.1:9: connection refused"
    /// );
    /// ```
    pub fn err_msg(self, fail: &Fail) -> String {
        format!("{}:fail {}", self.name(), fail.message())
    }

    /// The Mini Program `fail` result object: `{errMsg, errno}`.
    pub fn fail_result(self, fail: &Fail) -> Value {
        json!({ "errMsg": self.err_msg(fail), "errno": fail.errno() })
    }

    /// The failure for people and logs: `<api>:fail <reason>: <detail>`, the detail always
    /// shown.
    pub fn describe(self, fail: &Fail) -> String {
        format!("{}:fail {fail}", self.name())
    }
}

#[cfg(test)]
mod tests {
    use wxdl::FailReason;

    use super::*;

    #[test]
    fn exact_rows_keep_their_detail_for_people_only() {
        let timeout = Fail::with(FailReason::Timeout, "5000 ms");
        assert_eq!(
            Api::DownloadFile.err_msg(&timeout),
            "downloadFile:fail timeout"
        );
        assert_eq!(
            Api::DownloadFile.describe(&timeout),
            "downloadFile:fail timeout: 5000 ms"
        );
        for reason in FailReason::ALL {
            let msg = Api::DownloadFile.err_msg(&Fail::with(reason, "detail"));
            assert!(msg.starts_with(&format!("downloadFile:fail {}", reason.reason())));
            assert_eq!(msg.ends_with(": detail"), !reason.is_exact(), "{msg}");
        }
        assert_eq!(
            Api::DownloadFile.fail_result(&Fail::new(FailReason::UrlNull)),
            json!({"errMsg": "downloadFile:fail url is null or nil", "errno": 600005})
        );
        assert_eq!(Api::DownloadFile.ok_msg(), "downloadFile:ok");
    }
}
