//! Building blocks of the `&'static` description, shared by the description stage
//! ([`crate::desc`]) and the extensions' `ConfigExtension::describe`: leaked slices and
//! names, image and restart-policy entries.

use crate::image::Blob;
use crate::system::Restart;
use hv_core::sysdesc::{ImageDesc, RestartPolicy};

/// A `&'static` slice of the description (leaked: see [`crate::desc`]).
pub fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// A `&'static` name of the description (leaked: see [`crate::desc`]).
pub fn text(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// Where a blob stored at `store_pa` goes in its guest.
pub fn image_desc(store_pa: u64, blob: &Blob) -> ImageDesc {
    ImageDesc {
        store_pa,
        size: blob.bytes.len() as u64,
        load_ipa: blob.load_ipa,
    }
}

/// The restart policy of the description.
pub fn policy(r: Restart) -> RestartPolicy {
    match r {
        Restart::Stop => RestartPolicy::Stop,
        Restart::Restart => RestartPolicy::Restart,
    }
}
