//! SIGINT, SIGTERM and SIGHUP during a run: the first one aborts every download (each ends as
//! `downloadFile:fail abort` and leaves no partial data, its result printed as usual) and the
//! run exits with 128 + the signal's number (130, 143, 129); a second one ends the process at
//! once with that status (a private file never has a name, so nothing partial is left then
//! either).

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// The exit status of a run that a signal interrupted.
pub fn exit_status(signo: i32) -> u8 {
    u8::try_from(128 + signo).unwrap_or(u8::MAX)
}

/// Watches for the interrupting signals from the moment it is made.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<i32>);

impl Interrupt {
    /// Starts listening (inside the runtime). Without signal support it never fires.
    pub fn listen() -> Interrupt {
        let (tx, rx) = watch::channel(0);
        let kinds = [
            (SignalKind::interrupt(), libc::SIGINT),
            (SignalKind::terminate(), libc::SIGTERM),
            (SignalKind::hangup(), libc::SIGHUP),
        ];
        for (kind, signo) in kinds {
            let Ok(mut stream) = signal(kind) else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if *tx.borrow() != 0 {
                        // The second signal: no more waiting for anything.
                        std::process::exit(i32::from(exit_status(signo)));
                    }
                    eprintln!("wxdl: interrupted: aborting (again to quit at once)");
                    let _ = tx.send(signo);
                }
            });
        }
        Interrupt(rx)
    }

    /// The signal that interrupted the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        Some(*self.0.borrow()).filter(|s| *s != 0)
    }

    /// Waits for the first interrupting signal and returns its number.
    pub async fn wait(&mut self) -> i32 {
        loop {
            if let Some(s) = self.signal() {
                return s;
            }
            if self.0.changed().await.is_err() {
                // No listener is left: nothing will ever interrupt.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Awaits a call's task, aborting it on the first interrupting signal (the task then ends as
/// `abort`, with nothing partial left).
pub async fn until_interrupted<T: Send + 'static>(
    task: wxdl::task::Task<T>,
    interrupt: &mut Interrupt,
) -> Result<T, wxdl::Fail> {
    use std::future::IntoFuture;
    let abort = task.abort_handle();
    let mut outcome = std::pin::pin!(task.into_future());
    tokio::select! {
        o = &mut outcome => o,
        _ = interrupt.wait() => {
            abort.abort();
            outcome.await
        }
    }
}
