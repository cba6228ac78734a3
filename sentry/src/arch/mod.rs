//! Architecture-specific pieces: registers, the syscall ABI and signal frames.
//! Only x86-64 exists today; aarch64 goes beside it.

pub mod x86_64;
pub use x86_64::*;
