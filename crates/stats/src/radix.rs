//! Least-significant-digit radix sort of `f64` in IEEE total order (-0.0 before 0.0; callers
//! hold no NaN), shared by the drift samples and the numeric columns of a profile. Each float is
//! mapped to an integer key whose unsigned order is its order; every digit's counts are taken in
//! the caller's pass that makes the keys; passes whose digit never varies are skipped.

/// Digits are bytes, eight passes cover the 64-bit key. (On the bench machine bytes beat 11-bit
/// digits by a third: 256 counters and 256 write streams stay in the L1 cache.)
const DIGIT_BITS: u32 = 8;
const BUCKETS: usize = 1 << DIGIT_BITS;
const PASSES: usize = 8;
/// Up to this many values the standard sort is faster than the radix passes.
pub(crate) const SMALL: usize = 4096;

/// The order-preserving integer image of a float: flip every bit of a negative one, only the
/// sign bit of a positive one.
pub(crate) fn key(value: f64) -> u64 {
    let bits = value.to_bits();
    bits ^ (((bits as i64 >> 63) as u64) | (1 << 63))
}

/// The float whose key this is.
pub(crate) fn value_of(key: u64) -> f64 {
    let mask = ((!key as i64 >> 63) as u64) | (1 << 63);
    f64::from_bits(key ^ mask)
}

/// How many keys have each value of each digit.
pub(crate) struct Digits {
    counts: Vec<[usize; BUCKETS]>,
}

impl Digits {
    pub(crate) fn new() -> Digits {
        Digits {
            counts: vec![[0; BUCKETS]; PASSES],
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, key: u64) {
        for (pass, count) in self.counts.iter_mut().enumerate() {
            count[((key >> (pass as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
}

/// The sort's two buffers, kept between columns by a caller that sorts many.
#[derive(Default)]
pub(crate) struct SortScratch {
    keys: Vec<u64>,
    spare: Vec<u64>,
}

impl SortScratch {
    /// The (emptied) buffer to push the keys into, room made for `capacity`.
    pub(crate) fn keys(&mut self, capacity: usize) -> &mut Vec<u64> {
        self.keys.clear();
        self.keys.reserve(capacity);
        &mut self.keys
    }

    /// The keys pushed, sorted; `digits` must count exactly them.
    pub(crate) fn sort(&mut self, digits: &Digits) -> &[u64] {
        let n = self.keys.len();
        self.spare.clear();
        self.spare.resize(n, 0);
        let (mut from, mut to) = (&mut self.keys, &mut self.spare);
        for (pass, count) in digits.counts.iter().enumerate() {
            if count.contains(&n) {
                continue; // every key has the same digit here
            }
            let mut offsets = [0usize; BUCKETS];
            let mut running = 0;
            for (offset, c) in offsets.iter_mut().zip(count.iter()) {
                *offset = running;
                running += c;
            }
            let shift = pass as u32 * DIGIT_BITS;
            for &k in from.iter() {
                let digit = ((k >> shift) as usize) & (BUCKETS - 1);
                to[offsets[digit]] = k;
                offsets[digit] += 1;
            }
            std::mem::swap(&mut from, &mut to);
        }
        from
    }
}

/// `values` (no NaN) sorted as `sort_unstable_by(f64::total_cmp)` sorts them: whole numbers
/// over a span not much wider than their count (ages, visit numbers, row ids) by counting them,
/// any others by the radix sort.
pub(crate) fn sort_total(values: &mut [f64]) {
    if values.len() <= SMALL {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    if sort_by_counting(values) {
        return;
    }
    let mut scratch = SortScratch::default();
    let mut digits = Digits::new();
    let keys = scratch.keys(values.len());
    for &value in values.iter() {
        let k = key(value);
        digits.add(k);
        keys.push(k);
    }
    for (value, k) in values.iter_mut().zip(scratch.sort(&digits)) {
        *value = value_of(*k);
    }
}

/// Sorts `values` by counting each one when all are whole numbers (no -0.0) within 2^53 of 0
/// whose span is at most twice their count (or 2^16); false, untouched, otherwise. Within 2^53
/// every whole number is exact, so `value - min` is its exact offset and `min + offset` gives it
/// back.
fn sort_by_counting(values: &mut [f64]) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let Ok(count) = u32::try_from(values.len()) else {
        return false;
    };
    let (mut min, mut max, mut whole) = (f64::INFINITY, f64::NEG_INFINITY, true);
    for &value in values.iter() {
        min = min.min(value);
        max = max.max(value);
        whole &= value.fract() == 0.0;
    }
    let widest = (2 * count as usize).max(1 << 16) as f64;
    let negative_zero = || values.iter().any(|v| v.to_bits() == (-0.0f64).to_bits());
    if !whole || min < -EXACT || max > EXACT || max - min >= widest || negative_zero() {
        return false;
    }
    let mut counts = vec![0u32; (max - min) as usize + 1];
    for &value in values.iter() {
        counts[(value - min) as usize] += 1;
    }
    let mut at = 0;
    for (offset, &times) in counts.iter().enumerate() {
        let end = at + times as usize;
        values[at..end].fill(min + offset as f64);
        at = end;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_order_sort_agrees_with_the_standard_one() {
        let mut state = 0x0bad_5eed_u64;
        let mut values: Vec<f64> = (0..50_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                match i % 9 {
                    0 => -unit * 1e300,
                    1 => 0.0,
                    2 => -0.0,
                    3 => (unit * 100.0).round(),
                    _ => unit - 0.5,
                }
            })
            .collect();
        values.extend([f64::MAX, f64::MIN, 5e-324, -5e-324, f64::INFINITY]);
        let mut expected = values.clone();
        expected.sort_unstable_by(f64::total_cmp);
        sort_total(&mut values);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&values), bits(&expected));

        // Whole numbers, counted; then with a -0.0 or a fraction among them, radix-sorted.
        let whole: Vec<f64> = (0..60_000)
            .map(|i| ((i * 7919) % 9001) as f64 - 4500.0)
            .collect();
        for extra in [None, Some(-0.0), Some(0.5), Some(1e300)] {
            let mut values = whole.clone();
            values.extend(extra);
            let mut expected = values.clone();
            expected.sort_unstable_by(f64::total_cmp);
            sort_total(&mut values);
            assert_eq!(bits(&values), bits(&expected), "with {extra:?}");
        }
    }
}
