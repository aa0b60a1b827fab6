//! What an access is, and what a race between two accesses is.

use crate::epoch::{Epoch, Tid};

/// The four kinds of access the engine distinguishes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// A plain (non-atomic) read.
    Read,
    /// A plain (non-atomic) write.
    Write,
    /// An atomic load (or the failure path of a compare-exchange).
    AtomicRead,
    /// An atomic store or read-modify-write.
    AtomicWrite,
}

impl AccessKind {
    /// Whether the access modifies the location.
    #[inline]
    pub fn is_write(self) -> bool {
        matches!(self, AccessKind::Write | AccessKind::AtomicWrite)
    }

    /// Whether the access is atomic.
    #[inline]
    pub fn is_atomic(self) -> bool {
        matches!(self, AccessKind::AtomicRead | AccessKind::AtomicWrite)
    }

    /// Whether two accesses of these kinds conflict when unordered: at least
    /// one writes, and they are not both atomic.
    #[inline]
    pub fn conflicts_with(self, other: AccessKind) -> bool {
        (self.is_write() || other.is_write()) && !(self.is_atomic() && other.is_atomic())
    }
}

/// One recorded access: its kind, when and in which slot it happened, and
/// the caller's opaque site (the runtime stores a source location and
/// thread/stack ids there; a trace replay stores the event index).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Access<S> {
    /// Read or write, plain or atomic.
    pub kind: AccessKind,
    /// `clock@slot` of the access.
    pub epoch: Epoch,
    /// Caller-defined site of the access.
    pub site: S,
}

impl<S> Access<S> {
    /// The slot that made the access.
    pub fn tid(&self) -> Tid {
        self.epoch.tid()
    }
}

/// The shape of a race, named previous-then-current as TSan and Go do.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RaceKind {
    /// A write after an unordered write.
    WriteWrite,
    /// A write after an unordered read.
    ReadWrite,
    /// A read after an unordered write.
    WriteRead,
}

/// Two conflicting accesses to one location, neither happening before the
/// other. The caller knows which location it asked about; the engine does not.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Race<S> {
    /// The access being checked now.
    pub current: Access<S>,
    /// The earlier access it conflicts with.
    pub previous: Access<S>,
}

impl<S> Race<S> {
    /// Write-write, read-write or write-read.
    pub fn kind(&self) -> RaceKind {
        match (self.previous.kind.is_write(), self.current.kind.is_write()) {
            (true, true) => RaceKind::WriteWrite,
            (false, true) => RaceKind::ReadWrite,
            (true, false) => RaceKind::WriteRead,
            (false, false) => unreachable!("two reads never race"),
        }
    }

    /// Whether one side is atomic and the other plain.
    pub fn is_mixed_atomic(&self) -> bool {
        self.current.kind.is_atomic() != self.previous.kind.is_atomic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessKind::*;

    #[test]
    fn conflicts_need_a_write_and_a_plain_side() {
        assert!(!Read.conflicts_with(Read));
        assert!(Read.conflicts_with(Write));
        assert!(Write.conflicts_with(Write));
        assert!(!AtomicWrite.conflicts_with(AtomicWrite));
        assert!(!AtomicRead.conflicts_with(AtomicWrite));
        assert!(AtomicWrite.conflicts_with(Read));
        assert!(AtomicRead.conflicts_with(Write));
        assert!(!AtomicRead.conflicts_with(Read));
    }
}
