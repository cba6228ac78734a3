//! An unimplemented syscall returns ENOSYS to the workload and is logged once, by name.

use moat_tests::{require_root, TestEnv};
use std::fs;

#[test]
fn unimplemented_syscall_gets_enosys_and_is_logged_once() {
    require_root!();
    let env = TestEnv::new("enosys");
    // vhangup(2): nothing a container needs, so the sentry does not implement it.
    let b = env.bundle("bundle", &["/opt/moat-tests/enosys", "3"]);
    let log = env.dir().join("moat.log");
    let id = env.new_id();
    let o = env.moat(&[
        "--log",
        log.to_str().unwrap(),
        "run",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(o.success(), "{}", o.describe());
    assert_eq!(
        o.stdout,
        "vhangup=-1 errno=38\n".repeat(3) + "enosys=3\n",
        "each call must fail with ENOSYS (38): {}",
        o.describe()
    );
    let text =
        fs::read_to_string(&log).unwrap_or_else(|e| panic!("no log at {}: {e}", log.display()));
    let mentions = text.lines().filter(|l| l.contains("vhangup")).count();
    assert_eq!(
        mentions, 1,
        "the log must name the unimplemented syscall exactly once (3 calls were made); log:\n{text}"
    );
}
