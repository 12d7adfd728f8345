//! Gives the heap's free memory back to the system once the hub is quiet.
//!
//! glibc's allocator keeps memory that was freed inside its arenas (one per
//! thread that allocated), ready for reuse, so a hub that served a burst of
//! requests stays at the burst's resident size while it idles: after start-up
//! and a few logins, 1.5 MiB of the hub's 16 MiB was such free memory
//! (BENCHMARKS.md, "Memory"). `malloc_trim(0)` returns those pages.
//!
//! It runs once when start-up is done and then once each time the hub goes
//! quiet: [`note_request`] counts requests, and [`spawn_idle_trimmer`] trims
//! when a whole period passed without one after a period that had some. A
//! busy hub is never trimmed, so pages are not given back only to be faulted
//! in again by the next request.
//!
//! This is the crate's one `unsafe` block: a call into the C library that
//! takes no pointers. Elsewhere `unsafe` stays denied by the workspace lint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Requests seen since start-up (wraps; only changes are compared).
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Counts one request (called by the HTTP layer's outermost middleware).
pub fn note_request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// Gives free heap pages back to the system now. Returns whether any memory
/// was released. A no-op returning `false` where the C library is not glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() -> bool {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim(3) takes no pointer, works on the allocator's own
    // state under the allocator's locks (glibc marks it MT-Safe), and may be
    // called at any time; 0 asks it to keep no padding at the heap's top.
    unsafe { malloc_trim(0) == 1 }
}

/// See the glibc version above: elsewhere there is nothing to give back.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}

/// What the trimmer does at the end of one period: trim only when the
/// period before saw requests and this one saw none.
#[derive(Debug, Default)]
struct Quiet {
    last: u64,
    served: bool,
}

impl Quiet {
    /// `seen` is the request count now; returns whether to trim.
    fn tick(&mut self, seen: u64) -> bool {
        if seen != self.last {
            self.last = seen;
            self.served = true;
            return false;
        }
        std::mem::take(&mut self.served)
    }
}

/// Starts a task on the current tokio runtime that checks every `period`
/// and trims once the hub has been quiet for a whole period after serving
/// requests. It runs until the runtime stops.
pub fn spawn_idle_trimmer(period: Duration) -> tokio::task::JoinHandle<()> {
    let period = period.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut quiet = Quiet {
            last: REQUESTS.load(Ordering::Relaxed),
            served: false,
        };
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if quiet.tick(REQUESTS.load(Ordering::Relaxed)) {
                // Inline: the hub is quiet, so holding the arenas' locks for
                // the walk delays nothing, and a blocking-pool thread would
                // bring an arena of its own.
                trim();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_a_busy_period_goes_quiet() {
        let mut q = Quiet::default();
        assert!(!q.tick(0), "nothing served yet");
        assert!(!q.tick(3), "busy");
        assert!(!q.tick(7), "still busy");
        assert!(q.tick(7), "quiet after requests: trim");
        assert!(!q.tick(7), "already trimmed; still quiet");
        assert!(!q.tick(8), "busy again");
        assert!(q.tick(8), "quiet again: trim");
    }

    #[test]
    fn trimming_releases_freed_memory_and_never_fails() {
        // Blocks freed between blocks still held leave free pages inside
        // the arena, which free() cannot give back and malloc_trim can.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 1000]).collect();
        let kept: Vec<Vec<u8>> = blocks.into_iter().step_by(64).collect();
        assert_eq!(kept.len(), 313);
        let released = trim();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(released, "glibc had free pages to give back");
        } else {
            assert!(!released);
        }
        // A second call right after finds little or nothing, and is safe.
        let _ = trim();
        assert!(kept.iter().all(|b| b.len() == 1000));
    }
}
