//! The engine's term table, compiled for the look-up every token of every text makes.
//!
//! A general string map costs three dependent cache misses per look-up (control bytes, bucket,
//! the key's heap bytes) and a byte comparison. Most tokens are one or two CJK characters (3 or
//! 6 bytes), so a word of up to seven bytes is packed with its length into a `u64` (three- and
//! four-character words by their code points) and found in an open-addressing table of such
//! keys: one miss, one integer comparison. The rare longer words go to an ordinary map. A found
//! word gives a dense id, which also keys the learned pair weights.

use rustc_hash::FxHashMap;

pub(crate) struct TermTable<T> {
    entries: Vec<T>,
    short: PackedMap<u32>,
    long: FxHashMap<Box<str>, u32>,
}

/// The word as one nonzero integer, if it is short enough to fit: up to seven bytes with their
/// length (the top byte, so the top two bits are 00); else three characters of 21 bits each
/// (tag 10, the first below U+FFFFF); else four CJK unified ideographs of 15 bits each (tag
/// 11). Together these take 99.9% of the tokens of the shared data sets.
#[inline(always)]
fn pack(word: &str) -> Option<u64> {
    let b = word.as_bytes();
    if b.len() <= 7 {
        if b.is_empty() {
            return None;
        }
        return Some(little_endian(b) | (b.len() as u64) << 56);
    }
    if b.len() > 12 {
        return None;
    }
    let mut chars = word.chars();
    let (c1, c2, c3) = (chars.next()?, chars.next()?, chars.next()?);
    match chars.next() {
        None if (c1 as u64) < 0xF_FFFF => {
            Some(0b10 << 62 | (c1 as u64 + 1) << 42 | (c2 as u64 + 1) << 21 | (c3 as u64 + 1))
        }
        Some(c4) if chars.next().is_none() => {
            let mut key = 0b11 << 62;
            for (i, c) in [c1, c2, c3, c4].into_iter().enumerate() {
                let offset = (c as u64).checked_sub(0x4E00).filter(|&o| o < 0x5200)?;
                key |= offset << (15 * i);
            }
            Some(key)
        }
        _ => None,
    }
}

/// The bytes of a one- to seven-byte slice as a little-endian integer, read by fixed-size loads
/// that overlap rather than copied byte by byte: a variable-length copy into a buffer became a
/// call to `memcpy` and a stalled read of the buffer, on every token of every text.
#[inline(always)]
fn little_endian(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!((1..=7).contains(&n));
    if n >= 4 {
        let low = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let high = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        low | high << ((n - 4) * 8)
    } else {
        b[0] as u64 | (b[n / 2] as u64) << (n / 2 * 8) | (b[n - 1] as u64) << ((n - 1) * 8)
    }
}

impl<T> TermTable<T> {
    /// The table of `terms`; ids follow the iteration order.
    pub(crate) fn new(terms: impl IntoIterator<Item = (String, T)>) -> TermTable<T> {
        let mut entries = Vec::new();
        let mut shorts = Vec::new();
        let mut long = FxHashMap::default();
        for (word, value) in terms {
            let id = entries.len() as u32;
            entries.push(value);
            match pack(&word) {
                Some(key) => shorts.push((key, id)),
                None => {
                    long.insert(word.into_boxed_str(), id);
                }
            }
        }
        TermTable {
            entries,
            short: PackedMap::new(shorts),
            long,
        }
    }

    #[inline]
    pub(crate) fn id(&self, word: &str) -> Option<u32> {
        match pack(word) {
            Some(key) => self.short.get(key),
            None => self.long.get(word).copied(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, word: &str) -> Option<&T> {
        self.id(word).map(|id| &self.entries[id as usize])
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Nonzero `u64` keys to small values, by open addressing: one slot holds a key and its value,
/// so a look-up costs one cache line and one integer comparison. It serves every token of
/// every text (the term table), neighbouring term pairs, and character n-grams (the crisis screen).
pub(crate) struct PackedMap<V> {
    /// Key 0 marks an empty slot.
    slots: Vec<Slot<V>>,
    shift: u32,
    len: usize,
}

/// A key and its value with no padding (12 bytes for a `u32` or `f32`): the tables are read for
/// nearly every token and should stay in cache beside the segmenter's own.
#[derive(Clone, Copy)]
#[repr(C, packed)]
struct Slot<V> {
    key: u64,
    value: V,
}

#[inline(always)]
fn slot(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

impl<V: Copy + Default> PackedMap<V> {
    /// The map of `entries` (keys nonzero; a repeated key keeps its last value).
    pub(crate) fn new(entries: impl IntoIterator<Item = (u64, V)>) -> PackedMap<V> {
        let entries: Vec<(u64, V)> = entries.into_iter().collect();
        // At most three quarters full: a probe that runs on mostly stays in its cache line.
        let size = (entries.len() * 4 / 3 + 1).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let mut slots = vec![
            Slot {
                key: 0,
                value: V::default()
            };
            size
        ];
        let mut len = 0;
        for (key, value) in entries {
            assert_ne!(key, 0, "key 0 marks an empty slot");
            let mut i = slot(key, shift);
            while { slots[i].key } != 0 && { slots[i].key } != key {
                i = (i + 1) & (size - 1);
            }
            len += usize::from({ slots[i].key } == 0);
            slots[i] = Slot { key, value };
        }
        PackedMap { slots, shift, len }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<V> {
        let mask = self.slots.len() - 1;
        let mut i = slot(key, self.shift);
        loop {
            let Slot { key: k, value } = self.slots[i];
            if k == key {
                return Some(value);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

/// A one-hash Bloom filter of `u64` keys: a clear bit says the key is not in the set, with no
/// comparison or probe, for a scan that asks about far more absent keys than present ones.
struct BitFilter {
    bits: Vec<u64>,
    shift: u32,
}

impl BitFilter {
    /// The filter of `keys`, with at least 32 bits per key (a few percent of absent keys pass).
    fn new(keys: impl IntoIterator<Item = u64>) -> BitFilter {
        let keys: Vec<u64> = keys.into_iter().collect();
        let size = (keys.len() * 32).next_power_of_two().max(64);
        let shift = 64 - size.trailing_zeros();
        let mut bits = vec![0u64; size / 64];
        for key in keys {
            let at = slot(key, shift);
            bits[at / 64] |= 1 << (at % 64);
        }
        BitFilter { bits, shift }
    }

    #[inline(always)]
    fn may_hold(&self, key: u64) -> bool {
        let at = slot(key, self.shift);
        self.bits[at / 64] >> (at % 64) & 1 != 0
    }
}

/// A `PackedMap` behind a `BitFilter`, for a set asked about mostly for keys it does not
/// hold: the filter (4 bytes a key) answers those from cache where the map (16 bytes a key,
/// spread over more lines) would miss.
pub(crate) struct FilteredMap<V> {
    filter: BitFilter,
    map: PackedMap<V>,
}

impl<V: Copy + Default> FilteredMap<V> {
    pub(crate) fn new(entries: impl IntoIterator<Item = (u64, V)>) -> FilteredMap<V> {
        let entries: Vec<(u64, V)> = entries.into_iter().collect();
        FilteredMap {
            filter: BitFilter::new(entries.iter().map(|&(k, _)| k)),
            map: PackedMap::new(entries),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline(always)]
    pub(crate) fn get(&self, key: u64) -> Option<V> {
        if self.filter.may_hold(key) {
            self.map.get(key)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_word_and_nothing_else() {
        let words = [
            "好",
            "不好",
            "不满意",
            "一了百了",
            "𠀀好好",
            "好好𠀀",
            "ab好",
            "abcdefgh好",
            "心理援助",
            "a",
            "abcdefg",
            "abcdefgh",
            "核酸检测",
            "心理援助热线",
        ];
        let table = TermTable::new(words.iter().map(|w| (w.to_string(), w.len())));
        assert_eq!(table.len(), words.len());
        for (i, w) in words.iter().enumerate() {
            assert_eq!(table.id(w), Some(i as u32), "{w}");
            assert_eq!(table.get(w), Some(&w.len()), "{w}");
        }
        for missing in [
            "",
            "好好",
            "abcdef",
            "abcdefgX",
            "a\0",
            "核酸",
            "不",
            "不满",
            "满意不",
            "一了百",
            "了百了",
            "一了百了了",
            "ab",
            "𠀀好",
            "心理援",
        ] {
            assert_eq!(table.id(missing), None, "{missing:?}");
        }
    }

    #[test]
    fn the_filter_holds_every_key_and_passes_few_others() {
        let keys: Vec<u64> = (1..=3000u64).map(|k| k * 7919).collect();
        let filter = BitFilter::new(keys.iter().copied());
        assert!(keys.iter().all(|&k| filter.may_hold(k)));
        let passed = (1..=100_000u64)
            .map(|k| k * 7919 + 1)
            .filter(|&k| filter.may_hold(k))
            .count();
        assert!(passed < 5_000, "{passed} of 100,000 absent keys passed");
    }

    #[test]
    fn the_filtered_map_gives_the_value_of_every_key_and_no_other() {
        let map = FilteredMap::new((1..=3000u64).map(|k| (k * 7919, k as f32)));
        assert!((1..=3000u64).all(|k| map.get(k * 7919) == Some(k as f32)));
        assert!((1..=100_000u64).all(|k| map.get(k * 7919 + 1).is_none()));
        assert!(FilteredMap::<f32>::new([]).is_empty());
    }
}
