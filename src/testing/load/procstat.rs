//! CPU time and resident memory of other processes, read from `/proc`
//! (proc(5)): `utime` + `stime` of `/proc/PID/stat`, and `VmRSS` of
//! `/proc/PID/status`, sampled every second by [`Sampler`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A process to measure, with a short name for the tables.
#[derive(Clone, Debug)]
pub struct Proc {
    pub name: &'static str,
    pub pid: u32,
}

impl Proc {
    pub fn new(name: &'static str, pid: u32) -> Proc {
        Proc { name, pid }
    }

    /// User plus system CPU seconds used so far (0 once it is gone).
    pub fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // The command name (field 2) may hold spaces; fields after its
        // closing parenthesis are space-separated. utime and stime are
        // fields 14 and 15, so the 12th and 13th after it.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        match (ticks(11), ticks(12)) {
            (Some(u), Some(s)) => (u + s) as f64 / clock_ticks_per_sec(),
            _ => 0.0,
        }
    }

    /// `VmRSS` in KiB (0 once it is gone).
    pub fn rss_kib(&self) -> u64 {
        crate::testing::proc_status(&self.pid.to_string(), "VmRSS:")
    }
}

/// `getconf CLK_TCK`, once (100 on Linux unless built otherwise).
fn clock_ticks_per_sec() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU seconds of each process, in the order given.
pub fn cpu_of(procs: &[Proc]) -> Vec<f64> {
    procs.iter().map(Proc::cpu_secs).collect()
}

/// RSS samples: seconds since the start, and KiB per process.
#[derive(Clone, Debug, Default)]
pub struct RssTrace {
    pub names: Vec<&'static str>,
    pub samples: Vec<(f64, Vec<u64>)>,
}

impl RssTrace {
    fn column(&self, i: usize) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.samples
            .iter()
            .filter_map(move |(t, v)| v.get(i).map(|k| (*t, *k)))
    }

    pub fn first(&self, i: usize) -> u64 {
        self.column(i).next().map_or(0, |(_, k)| k)
    }

    pub fn last(&self, i: usize) -> u64 {
        self.column(i).last().map_or(0, |(_, k)| k)
    }

    pub fn max(&self, i: usize) -> u64 {
        self.column(i).map(|(_, k)| k).max().unwrap_or(0)
    }

    /// The mean of process `i`'s samples taken in `[from, to)` seconds.
    pub fn avg(&self, i: usize, from: f64, to: f64) -> Option<f64> {
        let v: Vec<u64> = self
            .column(i)
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, k)| k)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64)
    }

    /// Seconds from the first to the last sample.
    pub fn span(&self) -> f64 {
        self.samples.last().map_or(0.0, |(t, _)| *t)
    }
}

/// Samples the RSS of some processes every second on a thread of its own,
/// from [`Sampler::start`] until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    trace: Arc<Mutex<RssTrace>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub fn start(procs: &[Proc]) -> Sampler {
        let procs = procs.to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let trace = Arc::new(Mutex::new(RssTrace {
            names: procs.iter().map(|p| p.name).collect(),
            samples: Vec::new(),
        }));
        let thread = {
            let (stop, trace) = (stop.clone(), trace.clone());
            std::thread::spawn(move || {
                let t0 = Instant::now();
                let mut next = Duration::ZERO;
                let sample = || {
                    let row = procs.iter().map(Proc::rss_kib).collect();
                    let at = t0.elapsed().as_secs_f64();
                    trace.lock().unwrap().samples.push((at, row));
                };
                loop {
                    if stop.load(Ordering::Relaxed) {
                        sample();
                        return;
                    }
                    if t0.elapsed() >= next {
                        sample();
                        next += Duration::from_secs(1);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Sampler {
            stop,
            trace,
            thread: Some(thread),
        }
    }

    /// Stops sampling (after one last sample) and returns the trace.
    pub fn finish(mut self) -> RssTrace {
        self.halt();
        let trace = self.trace.lock().unwrap().clone();
        trace
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.halt();
    }
}
