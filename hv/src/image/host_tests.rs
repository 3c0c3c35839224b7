//! Host tests of the run loop.
