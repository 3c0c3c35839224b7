//! The result of the whole pipeline, as every consumer (emitter, report, isolation
//! check, `hvconfig`, xtask) reads it. Made by [`crate::plan_with`].

use crate::config::Config;
use crate::ext::Extensions;
use crate::layout::Layout;
use crate::payload::Payloads;
use crate::tables::Tables;
use hv_core::sysdesc::SystemDesc;

/// A fully decided system: every stage's result.
#[derive(Debug)]
pub struct Plan {
    /// The parsed descriptions.
    pub config: Config,
    /// The guests' payloads.
    pub payloads: Payloads,
    /// Physical memory layout.
    pub layout: Layout,
    /// Generated tables.
    pub tables: Tables,
    /// The tables as bytes (`layout.tables.size` long).
    pub tables_blob: Vec<u8>,
    /// The typed description.
    pub desc: &'static SystemDesc,
    /// The extensions the plan was made with ([`crate::EXTENSIONS`] unless a test chose).
    pub extensions: &'static Extensions,
}
