//! The download task's event protocol, as every face speaks it: a task tells the engine which
//! events its listeners want (bits), so events no listener hears are not even built.

/// The task has an `onProgressUpdate` listener.
pub const WANT_PROGRESS: u8 = 1;
/// The task has an `onHeadersReceived` listener.
pub const WANT_HEADERS: u8 = 2;
