//! The simulator's batch desk: for an area of the batch family, it looks at `<dir>/inbox/` as
//! soon as a file arrives there (and about every 50 ms besides), answers each complete request
//! file (of the service id its name ends with) line by line through [`Simulator::answer`],
//! writes the answer file of the same name to `<dir>/outbox/` (temporary name, then renamed)
//! and moves the request file to `inbox/done/` (an unreadable one, or one whose name names no
//! service id, to `inbox/bad/`, unanswered). Every line is a call, counted and admitted like an
//! HTTP call, so the modes mean: `hang` holds the desk until the mode changes; `slow` delays
//! each line; `fail` leaves the line unanswered (the operator lost it: the hub times out and
//! retries); `malformed` writes a file cut off mid-line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Simulator;
use super::control::Admission;
use crate::wire::batch::folder::{Watch, csv_files, write_whole};
use crate::wire::batch::{function_of, read_requests, write_answers};

const POLL: Duration = Duration::from_millis(50);

/// Serves the batch folder `dir` for `sim` until `shutdown`.
pub async fn serve_batch(dir: PathBuf, sim: Arc<Simulator>, shutdown: CancellationToken) {
    for sub in ["inbox/done", "inbox/bad", "outbox"] {
        if let Err(e) = std::fs::create_dir_all(dir.join(sub)) {
            tracing::error!(error = %e, dir = %dir.display(), "batch desk cannot start");
            return;
        }
    }
    let watch = Watch::of(&dir.join("inbox"));
    tracing::info!(area = %sim.area, dir = %dir.display(), "grid-operator batch desk up");
    loop {
        for file in csv_files(&dir.join("inbox")) {
            if shutdown.is_cancelled() {
                return;
            }
            answer_file(&dir, &file, &sim, &shutdown).await;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = watch.arrival() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Answers one request file and moves it out of the inbox.
async fn answer_file(dir: &Path, file: &Path, sim: &Simulator, closing: &CancellationToken) {
    let Some(name) = file
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
    else {
        return;
    };
    let Ok(bytes) = std::fs::read(file) else {
        return;
    };
    let read = function_of(&name)
        .ok_or_else(|| format!("{name} names no service id"))
        .and_then(|f| read_requests(f, &bytes).map(|requests| (f, requests)));
    let (function, requests) = match read {
        Ok(read) => read,
        Err(reason) => {
            tracing::warn!(%reason, file = %file.display(), "unreadable request file");
            let _ = std::fs::rename(file, dir.join("inbox/bad").join(&name));
            return;
        }
    };
    let mut answers = Vec::new();
    let mut garbled = false;
    for request in &requests {
        match sim.admit(closing).await {
            Admission::Answer => answers.push((request.request_id, sim.answer(request))),
            Admission::Garbled => garbled = true,
            Admission::Unavailable => {}
        }
    }
    if closing.is_cancelled() {
        return;
    }
    let mut out = write_answers(function, &answers);
    if garbled {
        out = write_answers(function, &[]);
        out.extend_from_slice(b"01931f6e-7b1a-7c3e-8a4b-0123456789ab,COMPLETED,\"");
    }
    let outbox = dir.join("outbox");
    if !answers.is_empty() || garbled {
        if let Err(e) = write_whole(&outbox, &name, &out) {
            tracing::warn!(error = %e, "could not write an answer file");
            return;
        }
    }
    let _ = std::fs::rename(file, dir.join("inbox/done").join(&name));
}
