//! How objects of any sizes become the parts of one multipart upload (DESIGN §6): large sources
//! are copied server-side, small ones read and re-uploaded together, so that every part but the
//! last is at least S3's minimum, none is over its maximum, and memory stays a few minimums
//! whatever the sizes. Pure arithmetic: the Finisher carries the plan out.

use std::ops::Range;

/// S3's smallest part of a multipart upload, except the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// S3's largest part (and the largest source an UploadPartCopy copies whole).
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// S3's most parts of one upload.
pub const MAX_UPLOAD_PARTS: usize = 10_000;

/// One part of the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedPart {
    /// Source `source`'s bytes `range`, copied server-side (the whole source when the range is).
    Copy { source: usize, range: Range<u64> },
    /// The prefix (if `with_start`) and then these sources' ranges, read and uploaded as one part.
    Upload { with_start: bool, pieces: Vec<(usize, Range<u64>)> },
}

impl PlannedPart {
    pub fn len(&self, start_len: u64) -> u64 {
        match self {
            PlannedPart::Copy { range, .. } => range.end - range.start,
            PlannedPart::Upload { with_start, pieces } => {
                pieces.iter().map(|(_, r)| r.end - r.start).sum::<u64>()
                    + if *with_start { start_len } else { 0 }
            }
        }
    }
}

/// The parts that write `start_len` bytes held in memory, then the sources of `sizes` in order,
/// with S3's limits (`min`, `max`: [`MIN_PART_BYTES`], [`MAX_PART_BYTES`] outside tests). Empty
/// sources are skipped. A source of `min` or more is copied (in ranges of at most `max`); a small
/// one is read. When read bytes are waiting and a large source comes, its first bytes top them up
/// to `min` and the rest is copied, so no part reads more than about `3 × min`. At most
/// `2 × sources + 1` parts, plus one per `max` of a source.
pub fn plan_parts(start_len: u64, sizes: &[u64], min: u64, max: u64) -> Vec<PlannedPart> {
    debug_assert!(min > 0 && max >= 2 * min);
    let mut parts = Vec::new();
    let mut with_start = start_len > 0;
    let mut pending: Vec<(usize, Range<u64>)> = Vec::new();
    let mut pending_len = start_len;
    let flush =
        |parts: &mut Vec<PlannedPart>, pending: &mut Vec<(usize, Range<u64>)>, with_start: &mut bool| {
            parts.push(PlannedPart::Upload { with_start: *with_start, pieces: std::mem::take(pending) });
            *with_start = false;
        };
    let copy = |parts: &mut Vec<PlannedPart>, source: usize, range: Range<u64>| {
        // Ranges of at most `max`, each more than max / 2 (so at least `min`).
        let len = range.end - range.start;
        let count = len.div_ceil(max);
        let mut at = range.start;
        for i in 0..count {
            let end = if i + 1 == count { range.end } else { at + len.div_ceil(count) };
            parts.push(PlannedPart::Copy { source, range: at..end });
            at = end;
        }
    };
    for (source, &size) in sizes.iter().enumerate() {
        if size == 0 {
            continue;
        }
        if pending_len == 0 && size >= min {
            copy(&mut parts, source, 0..size);
            continue;
        }
        if pending_len + size < min {
            pending.push((source, 0..size));
            pending_len += size;
            continue;
        }
        // The waiting bytes and this source make a part of at least `min`.
        let need = min.saturating_sub(pending_len);
        if size - need >= min {
            pending.push((source, 0..need));
            flush(&mut parts, &mut pending, &mut with_start);
            copy(&mut parts, source, need..size);
        } else {
            // The rest would be too small to copy: read the whole source (under 2 × min).
            pending.push((source, 0..size));
            flush(&mut parts, &mut pending, &mut with_start);
        }
        pending_len = 0;
    }
    if pending_len > 0 {
        flush(&mut parts, &mut pending, &mut with_start);
    }
    parts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The bytes the plan writes, as (source, offset) pairs in order (`usize::MAX`: the prefix).
    fn written(start_len: u64, parts: &[PlannedPart]) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        for part in parts {
            match part {
                PlannedPart::Copy { source, range } => out.extend(range.clone().map(|b| (*source, b))),
                PlannedPart::Upload { with_start, pieces } => {
                    if *with_start {
                        out.extend((0..start_len).map(|b| (usize::MAX, b)));
                    }
                    for (source, range) in pieces {
                        out.extend(range.clone().map(|b| (*source, b)));
                    }
                }
            }
        }
        out
    }

    proptest! {
        /// Every byte of the prefix and of each source is written once, in order; every part but
        /// the last is at least `min`, none over `max`; a copy is of a source larger than `min`
        /// (S3 copies ranges of those only); a read part reads less than 3 × `min`.
        #[test]
        fn every_byte_once_in_order_within_s3s_part_limits(
            start_len in 0u64..12,
            sizes in proptest::collection::vec(prop_oneof![0u64..4, 0u64..40, 30u64..200], 0..40),
        ) {
            let (min, max) = (10u64, 40u64);
            let parts = plan_parts(start_len, &sizes, min, max);
            let expected: Vec<(usize, u64)> = (0..start_len)
                .map(|b| (usize::MAX, b))
                .chain(sizes.iter().enumerate().flat_map(|(s, &n)| (0..n).map(move |b| (s, b))))
                .collect();
            prop_assert_eq!(written(start_len, &parts), expected);
            for (i, part) in parts.iter().enumerate() {
                let len = part.len(start_len);
                prop_assert!(len > 0, "no empty part");
                prop_assert!(len <= max, "part {i} is {len}");
                if i + 1 < parts.len() {
                    prop_assert!(len >= min, "part {i} of {} is {len}: {parts:?}", parts.len());
                }
                match part {
                    PlannedPart::Copy { source, range } => {
                        prop_assert!(range.end - range.start == sizes[*source] || sizes[*source] > min);
                    }
                    PlannedPart::Upload { .. } => prop_assert!(len < 3 * min),
                }
            }
            let nonempty = sizes.iter().filter(|s| **s > 0).count();
            let splits: usize = sizes.iter().map(|s| s.div_ceil(max) as usize).sum();
            prop_assert!(parts.len() <= 2 * nonempty + 1 + splits);
        }
    }

    #[test]
    fn large_sources_are_copied_whole_and_small_ones_read_together() {
        let mib = 1024 * 1024;
        let parts = plan_parts(0, &[6 * mib, 6 * mib, 1, 2, 0, 3], MIN_PART_BYTES, MAX_PART_BYTES);
        assert_eq!(
            parts,
            vec![
                PlannedPart::Copy { source: 0, range: 0..6 * mib },
                PlannedPart::Copy { source: 1, range: 0..6 * mib },
                PlannedPart::Upload { with_start: false, pieces: vec![(2, 0..1), (3, 0..2), (5, 0..3)] },
            ]
        );
        // A header and small bytes waiting before a large source: topped up from it, the rest copied.
        let parts = plan_parts(10, &[100, 20 * mib], MIN_PART_BYTES, MAX_PART_BYTES);
        assert_eq!(
            parts,
            vec![
                PlannedPart::Upload { with_start: true, pieces: vec![(0, 0..100), (1, 0..5 * mib - 110)] },
                PlannedPart::Copy { source: 1, range: 5 * mib - 110..20 * mib },
            ]
        );
        assert_eq!(plan_parts(0, &[0, 0], MIN_PART_BYTES, MAX_PART_BYTES), vec![]);
    }
}
