//! The offline configuration toolkit.
pub mod board;
pub mod config;
pub mod error;
pub mod fmt;
pub mod parse;
pub mod size;
pub mod system;
pub mod validate;
pub mod image;
pub mod payload;
pub mod layout;
pub mod pagetable;
