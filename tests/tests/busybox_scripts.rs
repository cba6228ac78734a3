//! Busybox scripts (tests/scripts/NN-name.sh) run natively (chroot into a copy of the test
//! rootfs) and under `moat run`; stdout and exit status must be equal.
//!
//! Each script may declare `# expect-exit: N` (default 0); the native run must exit with it
//! and print something, which guards the harness itself: a script that fails natively is a
//! broken test, not a moat bug.
//!
//! `MOAT_TEST_NATIVE_ONLY=1` runs only the native half (checks the scripts without moat).

use moat_tests::{require_root, Output, TestEnv};

fn expected_exit(script: &str) -> i32 {
    script
        .lines()
        .find_map(|l| l.strip_prefix("# expect-exit:"))
        .map(|v| v.trim().parse().expect("expect-exit must be a number"))
        .unwrap_or(0)
}

fn check_native(name: &str, script: &str, native: &Output) {
    let want = expected_exit(script);
    assert!(
        !native.timed_out && native.code == want && !native.stdout.is_empty(),
        "script {name} is broken natively (want exit {want} and some stdout):\n{}",
        native.describe()
    );
}

fn compare(name: &str, script: &str) {
    require_root!();
    let native_only = std::env::var_os("MOAT_TEST_NATIVE_ONLY").is_some();
    if native_only {
        let dir = moat_tests::TempDir::new(name);
        let root = dir.path().join("rootfs");
        moat_tests::copy_rootfs_lite(&moat_tests::rootfs_dir(), &root);
        let native = moat_tests::run_native(
            &root,
            &["/bin/sh", "-c", script],
            moat_tests::default_timeout(),
        );
        check_native(name, script, &native);
        return;
    }
    let env = TestEnv::new(name);
    let native = env.run_script_native("native-rootfs", script);
    check_native(name, script, &native);
    let (moat, _bundle) = env.run_script("bundle", script);
    assert!(
        !moat.timed_out && moat.stdout == native.stdout && moat.code == native.code,
        "script {name}: moat differs from native\n--- native: {}\n--- moat: {}\n{}",
        native.describe(),
        moat.describe(),
        diff(&native.stdout, &moat.stdout)
    );
}

/// A small line diff for failure messages.
fn diff(a: &str, b: &str) -> String {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::from("--- first differing lines (native | moat):\n");
    let mut shown = 0;
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            out.push_str(&format!("  line {}: {:?} | {:?}\n", i + 1, x, y));
            shown += 1;
            if shown == 8 {
                break;
            }
        }
    }
    out
}

macro_rules! scripts {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                compare($file, include_str!(concat!("../scripts/", $file)));
            }
        )*
        const ALL: &[&str] = &[$($file),*];
    };
}

scripts! {
    s01_echo_printf => "01-echo-printf.sh",
    s02_pipes => "02-pipes.sh",
    s03_redirects => "03-redirects.sh",
    s04_heredoc => "04-heredoc.sh",
    s05_background_wait => "05-background-wait.sh",
    s06_trap_kill => "06-trap-kill.sh",
    s07_subshell => "07-subshell.sh",
    s08_cmdsubst => "08-cmdsubst.sh",
    s09_ls => "09-ls.sh",
    s10_cat => "10-cat.sh",
    s11_mkdir_rm => "11-mkdir-rm.sh",
    s12_mv_cp => "12-mv-cp.sh",
    s13_symlinks => "13-symlinks.sh",
    s14_stat_test => "14-stat-test.sh",
    s15_find => "15-find.sh",
    s16_wc => "16-wc.sh",
    s17_sed => "17-sed.sh",
    s18_awk => "18-awk.sh",
    s19_grep => "19-grep.sh",
    s20_sort_uniq => "20-sort-uniq.sh",
    s21_xargs_seq => "21-xargs-seq.sh",
    s22_loops_functions => "22-loops-functions.sh",
    s23_exit_code => "23-exit-code.sh",
    s24_false => "24-false.sh",
    s25_signal_status => "25-signal-status.sh",
    s26_segv_exit => "26-segv-exit.sh",
    s27_sleep => "27-sleep.sh",
    s28_devices => "28-devices.sh",
    s29_env => "29-env.sh",
    s30_cd_pwd => "30-cd-pwd.sh",
    s31_append => "31-append.sh",
    s32_date => "32-date.sh",
    s33_ulimit_umask => "33-ulimit-umask.sh",
    s34_printf_arith => "34-printf-arith.sh",
    s35_status_logic => "35-status-logic.sh",
    s36_fd_dup => "36-fd-dup.sh",
    s37_big_pipe => "37-big-pipe.sh",
    s38_tools => "38-tools.sh",
    s39_fork_exec_loop => "39-fork-exec-loop.sh",
    s40_read_loop => "40-read-loop.sh",
    s41_nested_sh => "41-nested-sh.sh",
    s42_many_files => "42-many-files.sh",
    s43_id => "43-id.sh",
    s44_timeout => "44-timeout.sh",
    s45_shebang => "45-shebang.sh",
}

/// Every tests/scripts/*.sh is listed above (a script nobody runs proves nothing).
#[test]
fn every_script_is_run() {
    let dir = moat_tests::workspace_root().join("tests/scripts");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sh"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "tests/scripts and the scripts! list differ"
    );
    assert!(
        listed.len() >= 25,
        "the foundation issue asks for at least 20 scripts"
    );
}
