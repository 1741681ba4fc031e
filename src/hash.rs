//! A fixed (unseeded) hasher for maps used only for point lookups, where an
//! ordered map's comparisons over long shared key prefixes
//! (`/registry/leases/kube-node-lease/…`) cost more than hashing. Never seeded
//! from the OS, and such maps are never iterated where order could reach an
//! event, a write or an output.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash's mixing (rustc's hasher): a word at a time, multiply and rotate.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
/// A HashMap with the fixed hasher.
// determinism-ok: a fixed hasher (no per-process seed); users must still not let iteration order reach an output.
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    #[test]
    fn hashes_are_fixed_across_runs_and_tell_keys_apart() {
        let h = |s: &str| {
            let mut x = FxBuild::default().build_hasher();
            s.hash(&mut x);
            x.finish()
        };
        assert_eq!(h("/registry/pods/default/a"), h("/registry/pods/default/a"));
        assert_ne!(h("/registry/pods/default/a"), h("/registry/pods/default/b"));
        assert_ne!(h("ab"), h("ba"));
    }
}

/// The FxHash of `bytes`, for keys compared by hash before content.
pub fn fx_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}
