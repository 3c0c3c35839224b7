//! The tables the configuration toolkit generated for this build's system.
#![allow(clippy::all, dead_code)]
include!(concat!(env!("OUT_DIR"), "/system.rs"));
