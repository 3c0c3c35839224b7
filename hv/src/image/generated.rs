//! The tables the configuration toolkit generated for this build's system.
#![allow(clippy::all)]
include!(concat!(env!("OUT_DIR"), "/system.rs"));
