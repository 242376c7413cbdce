//! Failures that decide the process's exit code. Everything else is an ordinary `anyhow`
//! error (exit 1); these carry a kind that `main` maps to a documented code.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A configuration, mapping or key problem found before any work started.
    Config,
    /// An input file that cannot be used at all (missing, unreadable, no usable rows).
    Input,
    /// A remote source that failed after its retries.
    Source,
    /// Another process holds the store.
    Locked,
}

impl FailureKind {
    pub fn exit_code(self) -> u8 {
        match self {
            FailureKind::Config => 2,
            FailureKind::Input => 3,
            FailureKind::Source => 4,
            FailureKind::Locked => 5,
        }
    }
}

/// An error with a kind; its message is already written for the operator.
#[derive(Debug)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for an error chain: the first `Failure` in it decides, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map_or(1, |f| f.kind.exit_code())
}
