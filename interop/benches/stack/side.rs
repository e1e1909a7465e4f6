//! One side of a connections-per-second run: a tokio runtime with one
//! worker thread whose CPU time can be read on its own, so that the
//! listener's cost per accepted connection is measured apart from the
//! dialer's, though both run in this process.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

/// A one-thread runtime and the `/proc` paths of the threads it started.
pub(crate) struct Side {
    pub(crate) runtime: tokio::runtime::Runtime,
    threads: Arc<Mutex<Vec<PathBuf>>>,
}

impl Side {
    pub(crate) fn new() -> Self {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let record = threads.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .on_thread_start(move || {
                // "/proc/thread-self" links to "<pid>/task/<tid>".
                let task = std::fs::read_link("/proc/thread-self").expect("Linux /proc");
                record.lock().unwrap().push(PathBuf::from("/proc").join(task).join("stat"));
            })
            .build()
            .unwrap();
        Self { runtime, threads }
    }

    /// User + system CPU time of the runtime's threads so far (the ones
    /// still alive), in ticks of 1/100 s.
    pub(crate) fn cpu_time(&self) -> Duration {
        let threads = self.threads.lock().unwrap();
        let ticks: u64 = threads
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|stat| {
                let fields: Vec<&str> = stat[stat.rfind(')').expect("stat format") + 2..].split(' ').collect();
                fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
            })
            .sum();
        Duration::from_millis(ticks * 10)
    }
}
