//! One lock between the tests that change the machine's network interfaces
//! and the tests that drive Chromium. The Docker engine adds a veth pair
//! for every container it runs (image builds included), and Chromium
//! abandons a page load with `ERR_NETWORK_CHANGED` when an interface comes
//! or goes, which failed a browser login mid-way. Browsers share the lock
//! with each other; a container test holds it alone.

use std::sync::{Condvar, Mutex, PoisonError};

/// Browsers holding the lock, and whether a container test holds it.
static STATE: Mutex<(usize, bool)> = Mutex::new((0, false));
static CHANGED: Condvar = Condvar::new();

/// Held by a browser or a container test until dropped.
pub struct NetLock {
    exclusive: bool,
}

/// For a browser: waits while a container test runs.
pub fn shared() -> NetLock {
    take(false)
}

/// For a test that starts containers: waits until no browser runs.
pub fn exclusive() -> NetLock {
    take(true)
}

fn take(exclusive: bool) -> NetLock {
    let mut s = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    while s.1 || (exclusive && s.0 > 0) {
        s = CHANGED.wait(s).unwrap_or_else(PoisonError::into_inner);
    }
    if exclusive {
        s.1 = true;
    } else {
        s.0 += 1;
    }
    NetLock { exclusive }
}

impl Drop for NetLock {
    fn drop(&mut self) {
        let mut s = STATE.lock().unwrap_or_else(PoisonError::into_inner);
        if self.exclusive {
            s.1 = false;
        } else {
            s.0 = s.0.saturating_sub(1);
        }
        CHANGED.notify_all();
    }
}
