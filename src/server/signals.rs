//! SIGTERM and SIGINT as an event in the poll: the handler writes one byte to a pipe whose read
//! end is registered with mio (the self-pipe trick), so a signal wakes the loop at once and is
//! handled between iterations, never inside the handler.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use mio::unix::pipe;

/// Write end of the pipe, for the handler (-1 until installed).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe or closed fd is harmless here.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// The read end of the signal pipe; readable once SIGTERM or SIGINT arrived.
pub struct ShutdownSignal {
    receiver: pipe::Receiver,
    _sender: pipe::Sender,
}

impl ShutdownSignal {
    /// Installs the handlers for SIGTERM and SIGINT. One per process.
    pub fn install() -> io::Result<ShutdownSignal> {
        let (sender, receiver) = pipe::new()?;
        WAKE_FD.store(sender.as_raw_fd(), Ordering::Relaxed);
        for signal in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: installing a handler that only calls an async-signal-safe function.
            let previous =
                unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
            if previous == libc::SIG_ERR {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(ShutdownSignal {
            receiver,
            _sender: sender,
        })
    }

    pub fn receiver_mut(&mut self) -> &mut pipe::Receiver {
        &mut self.receiver
    }

    /// Drains the pipe; true if a signal arrived since the last call.
    pub fn arrived(&mut self) -> bool {
        let mut buffer = [0u8; 16];
        let mut any = false;
        loop {
            match self.receiver.read(&mut buffer) {
                Ok(0) => return any,
                Ok(_) => any = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return any,
            }
        }
    }
}
