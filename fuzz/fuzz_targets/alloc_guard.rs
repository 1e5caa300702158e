//! A memory blow-up is a finding even when it is over before libFuzzer's RSS check (once a
//! second) sees it, or stays under its limit: this global allocator counts the bytes live and
//! aborts, so the input is saved as a crash, as soon as one input holds more than
//! `LIMIT_BYTES`. No reader of a small hostile file has a reason to hold a gigabyte.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

const LIMIT_BYTES: usize = 1 << 30;

struct Guard;

static LIVE: AtomicUsize = AtomicUsize::new(0);

#[global_allocator]
static GUARD: Guard = Guard;

fn over(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    if live > LIMIT_BYTES {
        // Nothing here allocates: a fixed message on the unbuffered stderr, then abort.
        let _ = std::io::stderr().write_all(b"alloc_guard: more than 1 GiB live for one input\n");
        std::process::abort();
    }
}

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        over(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        over(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            over(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}
