//! xorshift64: the key stream of Go's seed benchmark, cheap enough not to
//! show in the figures.

/// A xorshift64 generator.
pub struct XorShift(u64);

impl XorShift {
    /// Seeded (a zero seed is replaced: xorshift never leaves zero).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    #[inline]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
