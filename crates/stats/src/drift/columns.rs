//! Many columns at once, on as many threads as the caller allows: the reference summaries of a
//! table, and a batch's statistics against them. Each column is independent, so the columns are
//! handed out one at a time to `threads` scoped workers (no thread outlives the call); results
//! come back in column order, each column's error its own. The server chooses the thread count
//! ([`Threads::ONE`] keeps a request on its own thread).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::column_test::{numeric_statistics, NumericStatistics};
use super::sample::{NumericSample, Side};
use super::DriftError;
use crate::radix::SortScratch;

/// How many threads a computation over several columns may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threads(NonZeroUsize);

impl Threads {
    /// The calling thread alone.
    pub const ONE: Threads = Threads(NonZeroUsize::MIN);

    /// `count` threads; 0 is read as 1.
    pub fn new(count: usize) -> Threads {
        Threads(NonZeroUsize::new(count).unwrap_or(NonZeroUsize::MIN))
    }

    /// As many threads as the machine offers (`std::thread::available_parallelism`; 1 when it
    /// cannot tell).
    pub fn available() -> Threads {
        Threads(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    pub fn get(self) -> usize {
        self.0.get()
    }
}

/// The summary of each column of one side, in column order.
pub fn numeric_samples(
    side: Side,
    columns: &[&[f64]],
    threads: Threads,
) -> Vec<Result<NumericSample, DriftError>> {
    map_columns(columns, threads, |scratch, column| {
        NumericSample::with_scratch(side, column, scratch)
    })
}

/// Each current column summarised and compared with its reference summary:
/// `pairs[i] = (reference summary, current values)`; results in the same order.
pub fn batch_statistics(
    pairs: &[(&NumericSample, &[f64])],
    threads: Threads,
) -> Vec<Result<NumericStatistics, DriftError>> {
    map_columns(pairs, threads, |scratch, (reference, current)| {
        let current = NumericSample::with_scratch(Side::Current, current, scratch)?;
        numeric_statistics(reference, &current)
    })
}

/// `work` over every item on up to `threads` threads, each with its own sort scratch (reused
/// from one column to the next); results in item order. A worker's panic is the caller's.
fn map_columns<T: Sync, R: Send>(
    items: &[T],
    threads: Threads,
    work: impl Fn(&mut SortScratch, &T) -> R + Sync,
) -> Vec<R> {
    let workers = threads.get().min(items.len());
    if workers <= 1 {
        let mut scratch = SortScratch::default();
        return items.iter().map(|item| work(&mut scratch, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut scratch = SortScratch::default();
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, work(&mut scratch, item)));
        }
    };
    let mut slots: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(worker)).collect();
        let mut finished = vec![worker()];
        for handle in handles {
            match handle.join() {
                Ok(done) => finished.push(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (index, result) in finished.into_iter().flatten() {
            slots[index] = Some(result);
        }
    });
    // Every index was taken by exactly one worker, so every slot is filled.
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_column_order_whatever_the_threads() {
        let columns: Vec<Vec<f64>> = (0..7)
            .map(|c| {
                (0..5000)
                    .map(|i| ((i * 7919 + c * 13) % 1000) as f64)
                    .collect()
            })
            .collect();
        let slices: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let one = numeric_samples(Side::Reference, &slices, Threads::ONE);
        let many = numeric_samples(Side::Reference, &slices, Threads::new(3));
        assert_eq!(one.len(), 7);
        for (a, b) in one.iter().zip(&many) {
            let (a, b) = (a.as_ref().expect("sample"), b.as_ref().expect("sample"));
            assert_eq!(a.sorted(), b.sorted());
            assert_eq!(a.std(), b.std());
        }
        let references: Vec<&NumericSample> = one.iter().flatten().collect();
        let pairs: Vec<(&NumericSample, &[f64])> = references
            .iter()
            .zip(slices.iter().rev())
            .map(|(r, c)| (*r, *c))
            .collect();
        let one = batch_statistics(&pairs, Threads::ONE);
        let many = batch_statistics(&pairs, Threads::new(4));
        assert_eq!(one, many);
        assert!(batch_statistics(&[(references[0], &[][..])], Threads::new(2))[0].is_err());
    }
}
