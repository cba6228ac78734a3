//! The Python half of the issue-3 corpus: each tests/python/NAME.py runs as
//! `/usr/bin/python3 -B /opt/moat-tests/python/NAME.py` natively and under `moat run` (the
//! dynamically linked host interpreter and its stdlib are copied into the test rootfs by
//! tests/mkrootfs.sh); stdout and exit status must be equal and the native run must end with
//! `done: ok`. When the rootfs has no python3 (no /usr/bin/python3 on the host, or
//! MOAT_ROOTFS_PYTHON=0) every test prints SKIP and passes.

use moat_tests::corpus::{compare, files_in, rootfs_has_python, Program};

fn py(name: &str) {
    if !moat_tests::is_root() {
        eprintln!("SKIP {name}: moat integration tests must run as root");
        return;
    }
    if !rootfs_has_python() {
        eprintln!("SKIP {name}: the test rootfs has no python3 (see tests/mkrootfs.sh)");
        return;
    }
    compare(&Program::python(name));
}

macro_rules! corpus {
    ($($(#[$m:meta])* $test:ident,)*) => {
        $(
            $(#[$m])*
            #[test]
            fn $test() {
                py(stringify!($test));
            }
        )*
        const LISTED: &[&str] = &[$(stringify!($test)),*];
    };
}

corpus! {
    py_threads,
    py_subprocess,
    py_multiprocessing,
    py_asyncio_tcp,
    py_signals,
    py_mmap,
    py_sqlite3,
    py_data,
    py_files,
    py_select,
    py_socket,
    py_os_proc,
    py_http,
    py_ctypes,
    py_misc,
    ev_asyncio,
}

/// Every tests/python/*.py is listed above.
#[test]
fn every_python_program_is_run() {
    let on_disk = files_in("python", "py");
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/python and the corpus! list differ");
}
