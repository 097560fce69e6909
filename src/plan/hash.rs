//! A fast, non-cryptographic hasher for the task-id index (the FxHash function of rustc).
//! Task ids come from the user's own plan, so hash flooding is not a concern, and SipHash
//! showed up in profiles of 10k-task plans.

use super::le_word;
use std::hash::Hasher;

/// FxHash: multiply-rotate over 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
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
            self.add(le_word(c));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(le_word(rest));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The task-id index: an open-addressing table of task indexes, with its own copy of every id
/// packed in one buffer. Lookups (one per `blockedBy` entry and join-point id) then touch a
/// few hundred kilobytes instead of the tasks and their ids scattered over the heap: on large
/// plans they were cache misses, not hashing.
#[derive(Debug, Clone, Default)]
pub struct IdIndex {
    slots: Vec<u32>,
    shift: u32,
    /// Where id `i` ends in `bytes` (it starts where id `i - 1` ends).
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

const EMPTY: u32 = u32::MAX;

fn hash(id: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(id);
    h.finish()
}

/// Whether two ids are equal, compared eight bytes at a time in line: a call to `memcmp` for
/// each of the tens of thousands of lookups of a large plan cost more than the comparison.
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |c: &[u8], at: usize| le_word(&c[at..at + 8]);
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the words before when `n` is not a multiple of 8.
    word(a, n - 8) == word(b, n - 8)
}

impl IdIndex {
    /// Indexes `ids` (task `i` has id `ids(i)`); `Err(i)` names the first repeated id.
    pub fn build<'a>(n: usize, ids: impl Fn(usize) -> &'a str) -> Result<IdIndex, usize> {
        assert!(n < EMPTY as usize, "too many tasks");
        // At most half full; the slot comes from the hash's top bits, which mix every byte.
        let bits = (n.max(4) * 2).next_power_of_two().trailing_zeros();
        let mut index = IdIndex {
            slots: vec![EMPTY; 1 << bits],
            shift: 64 - bits,
            ends: Vec::with_capacity(n),
            bytes: Vec::with_capacity((0..n).map(|i| ids(i).len()).sum()),
        };
        for i in 0..n {
            index.bytes.extend_from_slice(ids(i).as_bytes());
            index.ends.push(index.bytes.len());
        }
        let mask = index.slots.len() - 1;
        for i in 0..n {
            let id = index.key(i);
            let mut at = (hash(id) >> index.shift) as usize;
            loop {
                match index.slots[at] {
                    EMPTY => {
                        index.slots[at] = i as u32;
                        break;
                    }
                    j if same(index.key(j as usize), id) => return Err(i),
                    _ => at = (at + 1) & mask,
                }
            }
        }
        Ok(index)
    }

    /// The id of task `i`, as indexed.
    fn key(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        &self.bytes[start..self.ends[i]]
    }

    /// The index of the task whose id is `id`.
    pub fn get(&self, id: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let at = (hash(id.as_bytes()) >> self.shift) as usize;
        self.probe(at, self.slots[at], id.as_bytes())
    }

    /// Looks up every id of `ids`, calling `found(k, index of ids[k])` in order. A batch's
    /// hashes and first slots are all read before any id is compared, so that the memory
    /// reads of different lookups overlap instead of each waiting for the one before (a
    /// plan's tens of thousands of `blockedBy` entries).
    pub fn get_each<S: AsRef<str>>(&self, ids: &[S], mut found: impl FnMut(usize, Option<usize>)) {
        const BATCH: usize = 8;
        if self.slots.is_empty() {
            (0..ids.len()).for_each(|k| found(k, None));
            return;
        }
        for (b, batch) in ids.chunks(BATCH).enumerate() {
            let mut at = [0usize; BATCH];
            let mut first = [EMPTY; BATCH];
            for (k, id) in batch.iter().enumerate() {
                at[k] = (hash(id.as_ref().as_bytes()) >> self.shift) as usize;
                first[k] = self.slots[at[k]];
            }
            for (k, id) in batch.iter().enumerate() {
                found(
                    b * BATCH + k,
                    self.probe(at[k], first[k], id.as_ref().as_bytes()),
                );
            }
        }
    }

    /// Finds `id` from slot `at`, which holds `slot`, onwards.
    fn probe(&self, mut at: usize, mut slot: u32, id: &[u8]) -> Option<usize> {
        let mask = self.slots.len() - 1;
        loop {
            match slot {
                EMPTY => return None,
                j if same(self.key(j as usize), id) => return Some(j as usize),
                _ => {
                    at = (at + 1) & mask;
                    slot = self.slots[at];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdIndex;

    #[test]
    fn finds_every_id_and_no_other() {
        let ids: Vec<String> = (0..1000)
            .map(|i| format!("phase-{}/task-{i:06}", i % 5))
            .collect();
        let index = IdIndex::build(ids.len(), |i| &ids[i]).unwrap();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(i));
        }
        assert_eq!(index.get("phase-2/task-000008"), None);
        assert_eq!(index.get(""), None);
        assert_eq!(index.get("phase-1/task-00000"), None);
        assert_eq!(IdIndex::default().get("a"), None);
        // In batches: the same answers, in order, for a list longer than a batch.
        let mut asked: Vec<String> = ids.iter().rev().step_by(3).cloned().collect();
        asked.extend(["nope".to_string(), String::new(), ids[5].clone()]);
        let mut answers = Vec::new();
        index.get_each(&asked, |k, i| answers.push((k, i)));
        let expected: Vec<_> = asked
            .iter()
            .enumerate()
            .map(|(k, id)| (k, index.get(id)))
            .collect();
        assert_eq!(answers, expected);
        assert!(answers.iter().filter(|(_, i)| i.is_none()).count() == 2);
        let mut none = Vec::new();
        IdIndex::default().get_each(&["a", "b"], |k, i| none.push((k, i)));
        assert_eq!(none, [(0, None), (1, None)]);
    }

    #[test]
    fn compares_ids_of_every_length() {
        let base: Vec<u8> = (0..40).map(|i| b'a' + i % 26).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(super::same(a, a));
            assert!(!super::same(a, &base[..n + 1]));
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!super::same(a, &b), "{n} {at}");
            }
        }
    }

    #[test]
    fn names_the_first_repeated_id() {
        let ids = ["a", "b", "c", "b", "a"];
        assert_eq!(IdIndex::build(ids.len(), |i| ids[i]).unwrap_err(), 3);
        assert!(IdIndex::build(0, |i| ids[i]).is_ok());
    }
}
