//! Printing to standard output from the command-line programs, where a failed write is an
//! outcome, not a bug: `rateforge run ... | head` closes the pipe early, which is what the user
//! asked for (exit 0, nothing more printed), and a full disk (`> /dev/full`) is an error
//! reported on stderr with exit status 1. `println!` would panic in both cases.

use std::io::{ErrorKind, Write};

/// Writes `args` to standard output; on failure, ends the process as described above.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        failed(&e);
    }
}

/// Ends the process after a failed write to standard output: status 0 for a closed pipe, else a
/// message and status 1.
pub fn failed(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(1);
}

/// `print!` for the command-line programs: see [`write`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` for the command-line programs: see [`write`].
#[macro_export]
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
