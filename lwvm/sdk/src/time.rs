//! The generic counter, readable at EL0.
pub use crate::arch::{counter, counter_frequency};
