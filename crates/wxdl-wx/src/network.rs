//! `wx.getNetworkType` and `wx.onNetworkStatusChange`: what the client's network (emulated, or
//! estimated) tells a Mini Program.

use wxdl::Client;

/// What `wx.getNetworkType` answers: the emulated network's type, else the estimate's.
pub fn network_type(client: &Client) -> &'static str {
    client.wx_network_type()
}

/// What `wx.onNetworkStatusChange` is told in advance: the emulated timeline's coming changes
/// as `[[ms from now, network type], …]` (empty without emulation).
pub fn network_changes(client: &Client) -> serde_json::Value {
    let changes: Vec<(u64, &str)> = client
        .network_changes()
        .into_iter()
        .map(|(after, kind)| (after.as_millis() as u64, kind))
        .collect();
    serde_json::json!(changes)
}
