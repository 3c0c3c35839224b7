//! The offline configuration toolkit.
pub mod board;
pub mod error;
pub mod parse;
pub mod size;
pub mod system;
