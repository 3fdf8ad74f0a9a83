//! Where bytes land and how they stay safe: the `wxfile://` sandbox and its quota, directories
//! pinned by descriptor, private files being written, partials kept for resume, the committer that
//! makes files durable and the publish step that puts them in place, and ordinary host paths.
//! Imports only the root's errors and events; never `net` or `download`.

pub(crate) mod dir_pins;
pub(crate) mod durability;
pub(crate) mod host_target;
pub(crate) mod mime;
pub(crate) mod partial;
pub(crate) mod pinned;
pub(crate) mod publish;
pub(crate) mod quota;
pub(crate) mod sandbox;
pub(crate) mod storage;

pub use host_target::write_file_atomic;
pub use mime::{content_type_of, temp_extension};
pub use quota::Reservation;
pub use sandbox::{
    Cleaned, Sandbox, DEFAULT_USR_QUOTA, STORE_PREFIX, TEMP_PREFIX, TEMP_RETENTION, USER_DATA_PATH,
};
