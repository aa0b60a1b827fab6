//! What the runtime stores with every remembered access: the site.

use std::panic::Location;

/// An instrumented operation, named in reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Op {
    // Map operations.
    Insert,
    Get,
    GetWith,
    ContainsKey,
    GetKeyValue,
    Remove,
    Update,
    Retain,
    Len,
    IsEmpty,
    Clear,
    Range,
    Keys,
    Values,
    Clone,
    Debug,
    Grow,
    ExtendGrow,
    Extend,
    Eq,
    // Cells.
    CellGet,
    CellSet,
    CellReplace,
    CellUpdate,
    With,
    WithMut,
    GetMut,
    // Atomics.
    Load,
    Store,
    Rmw,
    CompareExchange,
    UnsyncLoad,
    // Anything else (annotated plain access).
    Access,
}

const OPS: [&str; 33] = [
    "insert",
    "get",
    "get_with",
    "contains_key",
    "get_key_value",
    "remove",
    "update",
    "retain",
    "len",
    "is_empty",
    "clear",
    "range",
    "keys",
    "values",
    "clone",
    "fmt",
    "insert (growth)",
    "extend (growth)",
    "extend",
    "eq",
    "get",
    "set",
    "replace",
    "update",
    "with",
    "with_mut",
    "get_mut",
    "load",
    "store",
    "read-modify-write",
    "compare_exchange",
    "unsync_load",
    "access",
];

// Every operation has a name: a variant added without one would compile,
// and panic when a report names it.
const _: () = assert!(Op::Access as usize + 1 == OPS.len());

impl Op {
    /// The name printed in reports.
    pub fn name(self) -> &'static str {
        OPS[self as usize]
    }

    /// Whether the operation walks the whole map (Go's "iteration").
    pub fn is_iteration(self) -> bool {
        matches!(
            self,
            Op::Range | Op::Keys | Op::Values | Op::Clone | Op::Debug | Op::Eq
        )
    }

    fn from_u8(v: u8) -> Op {
        assert!((v as usize) < OPS.len());
        // SAFETY: `Op` is `repr(u8)` with dense discriminants 0..OPS.len(),
        // checked above.
        unsafe { std::mem::transmute::<u8, Op>(v) }
    }
}

/// Which part of an object an access touched, packed with the operation.
///
/// ```text
///  31      26 25     21 20                  0
/// +----------+---------+---------------------+
/// |  op (6)  | log2 (5)|     part (21)       |
/// +----------+---------+---------------------+
/// ```
///
/// `log2` is the map's bucket count as a power of two at the time of the
/// access; `part` is a bucket index, or one of the `PART_*` codes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Detail(u32);

const PART_BITS: u32 = 21;
const PART_MASK: u32 = (1 << PART_BITS) - 1;
const PART_ALL: u32 = PART_MASK;
const PART_HEADER: u32 = PART_MASK - 1;
const PART_NONE: u32 = PART_MASK - 2;

/// What part of the object a [`Detail`] names.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Not a map access.
    None,
    /// The map header only.
    Header,
    /// Every bucket.
    All,
    /// One bucket.
    Bucket(u32),
}

impl Detail {
    /// A non-map access.
    #[inline]
    pub fn op(op: Op) -> Detail {
        Detail(((op as u32) << 26) | PART_NONE)
    }

    /// A map access.
    #[inline]
    pub fn map(op: Op, log2_buckets: u8, part: Part) -> Detail {
        let p = match part {
            Part::None => PART_NONE,
            Part::Header => PART_HEADER,
            Part::All => PART_ALL,
            Part::Bucket(b) => {
                debug_assert!(b < PART_NONE);
                b
            }
        };
        Detail(((op as u32) << 26) | ((log2_buckets as u32 & 31) << PART_BITS) | p)
    }

    /// The operation.
    pub fn operation(self) -> Op {
        Op::from_u8((self.0 >> 26) as u8)
    }

    /// Buckets of the map at the time.
    pub fn buckets(self) -> u32 {
        1 << ((self.0 >> PART_BITS) & 31)
    }

    /// The part touched.
    pub fn part(self) -> Part {
        match self.0 & PART_MASK {
            PART_NONE => Part::None,
            PART_HEADER => Part::Header,
            PART_ALL => Part::All,
            b => Part::Bucket(b),
        }
    }
}

/// The caller-side identity of one access, stored in shadow cells.
#[derive(Copy, Clone, Debug)]
pub struct Site {
    /// Exact source position, from `#[track_caller]`.
    pub location: &'static Location<'static>,
    /// The accessing thread's report id (0 = main).
    pub thread: u32,
    /// Interned full stack (0 unless `history=full`).
    pub stack: u32,
    /// Operation and part.
    pub detail: Detail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_round_trips_op_buckets_and_part() {
        for (op, log2, part) in [
            (Op::Insert, 3, Part::Bucket(5)),
            (Op::Range, 16, Part::All),
            (Op::Len, 0, Part::Header),
            (Op::Access, 0, Part::None),
            (Op::CompareExchange, 31, Part::Bucket(1 << 20)),
        ] {
            let d = Detail::map(op, log2, part);
            assert_eq!(d.operation(), op);
            assert_eq!(d.buckets(), 1u32 << log2);
            assert_eq!(d.part(), part);
        }
        assert_eq!(Detail::op(Op::Load).operation(), Op::Load);
        assert_eq!(Detail::op(Op::Load).part(), Part::None);
    }

    #[test]
    fn each_operation_has_its_own_name_in_the_enum_s_order() {
        // Spot checks around the variants added last, either side of each
        // group (a name shifted by one fails here).
        for (op, name) in [
            (Op::Insert, "insert"),
            (Op::ContainsKey, "contains_key"),
            (Op::GetKeyValue, "get_key_value"),
            (Op::Remove, "remove"),
            (Op::Update, "update"),
            (Op::Retain, "retain"),
            (Op::Len, "len"),
            (Op::Extend, "extend"),
            (Op::Eq, "eq"),
            (Op::CellGet, "get"),
            (Op::GetMut, "get_mut"),
            (Op::Load, "load"),
            (Op::CompareExchange, "compare_exchange"),
            (Op::UnsyncLoad, "unsync_load"),
            (Op::Access, "access"),
        ] {
            assert_eq!(op.name(), name);
            assert_eq!(Op::from_u8(op as u8), op);
        }
    }
}
