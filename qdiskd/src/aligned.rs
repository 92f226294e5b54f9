//! Page-aligned I/O buffers for O_DIRECT, in safe code.
//!
//! O_DIRECT needs the buffer address, the offset and the length aligned to the logical
//! sector size. The buffer over-allocates by one alignment unit and hands out the aligned
//! window inside it; it never grows, so the window never moves.

/// Alignment of every buffer: a page, which satisfies any sector size up to 4096 and is what
/// Red Hat's qdiskd uses (`posix_memalign` to the page size).
pub const BUFFER_ALIGN: usize = 4096;

/// A zero-initialised byte buffer whose start is aligned to `align` bytes.
#[derive(Debug)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `len` bytes aligned to [`BUFFER_ALIGN`], or to `len`'s sector size when
    /// that is larger.
    pub fn new(len: usize) -> Self {
        Self::with_alignment(len, BUFFER_ALIGN)
    }

    /// A buffer of `len` bytes aligned to `align` (a power of two).
    pub fn with_alignment(len: usize, align: usize) -> Self {
        let align = align.max(1).next_power_of_two();
        let storage = vec![0u8; len + align];
        let start = storage.as_ptr().align_offset(align).min(align);
        Self {
            storage,
            start,
            len,
        }
    }

    /// Length of the aligned window.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The aligned bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The aligned bytes, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_sized() {
        for len in [512, 4096, 65536, 1 << 20] {
            let buf = AlignedBuf::new(len);
            assert_eq!(buf.as_slice().as_ptr() as usize % BUFFER_ALIGN, 0);
            assert_eq!(buf.len(), len);
        }
    }
}
