//! Running an agent: options in, one action, fence-agents output and exit codes out.
//!
//! Exit codes: 0 success (for `status`: power on), 1 failure of any kind (bad options,
//! device unreachable, not confirmed), 2 `status` found the power off. Failures print
//! `Failed: <reason>` on stderr with the reason's advice; successes print fence-agents'
//! `Success: ...` / `Status: ON|OFF` on stdout. Every line written passes through the
//! secret mask, and the log is masked again at the writer.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::agent::{metadata, options};
use crate::confirm::{perform, SystemClock, Timing};
use crate::device::{Action, Outcome, PowerState};
use crate::error::{FenceError, ParamError};
use crate::params::{ParamWarning, Params};
use crate::registry::{Plugin, Registry};

/// Exit code: success / power on.
pub const EXIT_OK: i32 = 0;
/// Exit code: failure.
pub const EXIT_FAIL: i32 = 1;
/// Exit code: `status` says off.
pub const EXIT_OFF: i32 = 2;

/// The environment variable a password may come from (never the command line).
pub const PASSWORD_ENV: &str = "FENCE_PASSWORD";

/// Secrets other than `password` that a script may print (script parameter, secret).
const SECRET_SCRIPTS: &[(&str, &str)] = &[("snmp_priv_passwd_script", "snmp_priv_passwd")];

/// The process entry point of the agent of plugin `name`: reads the real argv, stdin and
/// environment, writes to stdout/stderr and returns the exit code.
pub fn main(name: &str) -> i32 {
    let registry = Registry::builtin();
    match registry.get(name) {
        Ok(plugin) => main_with(plugin),
        Err(e) => {
            eprintln!("ERROR: {e}");
            EXIT_FAIL
        }
    }
}

/// Like [`main`], for a plugin built outside this crate (the poison-pill agent, whose
/// device lives with the quorum disk's crate).
pub fn main_with(plugin: &Plugin) -> i32 {
    // A killed agent must not leave a serial port's lock file behind.
    crate::serial::lock::install_signal_cleanup();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--man") {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&super::man::page(plugin));
        return EXIT_OK;
    }
    let stdin = if args.is_empty() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("ERROR: cannot read options from stdin: {e}");
            return EXIT_FAIL;
        }
        Some(text)
    } else {
        None
    };
    let env_password = std::env::var(PASSWORD_ENV).ok();
    let mut out = std::io::stdout().lock();
    let err = std::io::stderr();
    run(
        plugin,
        &args,
        stdin.as_deref(),
        env_password,
        &mut out,
        Box::new(err),
    )
}

/// A writer that masks secrets, shared between the logger and the agent's own messages.
#[derive(Clone)]
struct MaskedErr {
    inner: Arc<Mutex<Box<dyn Write + Send>>>,
    secrets: Arc<Vec<String>>,
    quiet: bool,
}

impl MaskedErr {
    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let mut text = text.to_string();
        for s in self.secrets.iter() {
            text = text.replace(s.as_str(), "***");
        }
        let mut w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let _ = w.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = w.write_all(b"\n");
        }
    }
}

impl Write for MaskedErr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MaskedErr {
    type Writer = MaskedErr;
    fn make_writer(&'a self) -> MaskedErr {
        self.clone()
    }
}

/// The `--help` text: usage, every option with its default and choices, the actions.
fn help(plugin: &Plugin) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "{} {}: {}\n\nUsage: {} [OPTION]... [-o ACTION]\n       {} < OPTIONS   (name=value \
         lines on standard input, the way fenced and Pacemaker call it)\n\nOptions:\n",
        plugin.agent,
        env!("CARGO_PKG_VERSION"),
        plugin.shortdesc,
        plugin.agent,
        plugin.agent
    );
    for spec in plugin.params.iter().filter(|s| s.refused.is_none()) {
        let mut line = spec.shortdesc.to_string();
        if let crate::params::ParamType::Select(choices) = spec.kind {
            let _ = write!(line, " (one of: {})", choices.join(", "));
        }
        if let Some(default) = spec.default.filter(|d| !d.is_empty()) {
            let _ = write!(line, " [default: {default}]");
        }
        if spec.required {
            line.push_str(" [required]");
        }
        let _ = writeln!(text, "   {:<40} {line}", spec.getopt());
    }
    let actions: Vec<String> = plugin.actions.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        text,
        "\nActions (-o, --action): {}\n   -h, --help   this text;  -V, --version   the version\n\n\
         Exit status: 0 success (status: on), 1 failure, 2 status: off.",
        actions.join(", ")
    );
    text
}

/// How long `password_script` (and the other secret scripts) may take: it must print the
/// secret and exit; one that hangs would hold the fence operation forever.
pub const PASSWORD_SCRIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn run_password_script(script: &str) -> Result<String, ParamError> {
    run_password_script_within(script, PASSWORD_SCRIPT_TIMEOUT)
}

/// Runs `script` with `sh -c` in a process group of its own, reads what it prints, and
/// kills the whole group if it has not exited within `limit`.
fn run_password_script_within(
    script: &str,
    limit: std::time::Duration,
) -> Result<String, ParamError> {
    use std::os::unix::process::CommandExt;
    let fail = |reason: String| ParamError::PasswordScript { reason };
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot run sh: {e}")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no pipe to read it".into()))?;
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(None) => {
                if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ =
                        rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                }
                let _ = child.wait();
                return Err(fail(format!(
                    "it did not finish within {} s and was killed; it must print the \
                     secret and exit",
                    limit.as_secs_f64()
                )));
            }
            Err(e) => return Err(fail(format!("waiting for it: {e}"))),
        }
    };
    // The group is killed too: a child the script left behind must not hold the pipe open.
    if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let stdout = reader
        .join()
        .map_err(|_| fail("reading its output failed".into()))?;
    if !status.success() {
        return Err(fail(format!("it exited with {status}")));
    }
    let text = String::from_utf8(stdout).map_err(|_| fail("its output is not UTF-8".into()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs the agent of `plugin`: options from `args` if there are any, else from `stdin`.
/// `env_password` is the value of [`PASSWORD_ENV`], used when no password was given.
pub fn run(
    plugin: &Plugin,
    args: &[String],
    stdin: Option<&str>,
    env_password: Option<String>,
    out: &mut dyn Write,
    err: Box<dyn Write + Send>,
) -> i32 {
    let err = Arc::new(Mutex::new(err));
    let plain = MaskedErr {
        inner: err.clone(),
        secrets: Arc::new(Vec::new()),
        quiet: false,
    };
    let (pairs, mut notes) = if args.is_empty() {
        options::parse_stdin(stdin.unwrap_or(""))
    } else {
        match options::parse_args(&plugin.params, args) {
            Ok(p) => (p, Vec::new()),
            Err(e) => {
                plain.line(&format!("ERROR: Failed: {e}"));
                return EXIT_FAIL;
            }
        }
    };
    let asked = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str());
    if asked == Some("version") {
        let _ = writeln!(out, "{} {}", plugin.agent, env!("CARGO_PKG_VERSION"));
        return EXIT_OK;
    }
    if asked == Some("help") {
        let _ = out.write_all(help(plugin).as_bytes());
        return EXIT_OK;
    }
    if args
        .iter()
        .any(|a| a == "-p" || a.starts_with("--password=") || a == "--password")
    {
        notes.push(
            "a password on the command line is visible to every user in the process list; \
             pass it on standard input (password=...), in the environment, or through \
             password_script"
                .into(),
        );
    }
    let (mut params, warnings) = match Params::parse(&plugin.params, &pairs) {
        Ok(p) => p,
        Err(e) => {
            plain.line(&format!("ERROR: Failed: {e}"));
            return EXIT_FAIL;
        }
    };
    notes.extend(
        warnings
            .iter()
            .filter(|w| matches!(w, ParamWarning::Unknown(_)))
            .map(ToString::to_string),
    );
    let requested = params.get("action").unwrap_or("reboot");
    // Fabric agents take RHCS 1's names for unfence and fence as well.
    let requested = match (
        plugin.fabric,
        requested.trim().to_ascii_lowercase().as_str(),
    ) {
        (true, "enable") => "on",
        (true, "disable") => "off",
        _ => requested,
    };
    let action: Action = match requested.parse() {
        Ok(a) => a,
        Err(e) => {
            plain.line(&format!("ERROR: Failed: {e}"));
            return EXIT_FAIL;
        }
    };
    if action == Action::Metadata {
        let _ = out.write_all(metadata::metadata(plugin).as_bytes());
        return EXIT_OK;
    }
    let quiet = params.flag("quiet");
    let has_password = params.specs().iter().any(|s| s.name == "password");
    if has_password && !params.is_given("password") {
        if let Some(script) = params.get("password_script").filter(|s| !s.is_empty()) {
            match run_password_script(script).and_then(|pw| params.set("password", &pw)) {
                Ok(()) => {}
                Err(e) => {
                    plain.line(&format!("ERROR: Failed: {e}"));
                    return EXIT_FAIL;
                }
            }
        } else if let Some(pw) = env_password.filter(|p| !p.is_empty()) {
            if let Err(e) = params.set("password", &pw) {
                plain.line(&format!("ERROR: Failed: {e}"));
                return EXIT_FAIL;
            }
        }
    }
    // Other secrets with a script of their own (SNMPv3's privacy passphrase).
    for (script_name, secret) in SECRET_SCRIPTS {
        if params.is_given(secret) || !plugin.params.iter().any(|s| s.name == *secret) {
            continue;
        }
        let Some(script) = params.get(script_name).filter(|s| !s.is_empty()) else {
            continue;
        };
        if let Err(e) = run_password_script(script).and_then(|v| params.set(secret, &v)) {
            plain.line(&format!("ERROR: Failed: {script_name}: {e}"));
            return EXIT_FAIL;
        }
    }
    let log = MaskedErr {
        inner: err,
        secrets: Arc::new(
            params
                .secret_values()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        quiet,
    };
    for n in notes {
        log.line(&format!("WARNING: {n}"));
    }
    let level = if params.flag("verbose") {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        if params.flag("verbose") {
            tracing::debug!("{} {action} with {params:?}", plugin.agent);
        }
        let code = act(plugin, action, &params, out, &log);
        let _ = out.flush();
        code
    })
}

fn act(
    plugin: &Plugin,
    action: Action,
    params: &Params,
    out: &mut dyn Write,
    log: &MaskedErr,
) -> i32 {
    let fail = |e: &FenceError| {
        log.line(&format!("ERROR: Failed: {e}"));
        EXIT_FAIL
    };
    if action != Action::ValidateAll && !plugin.actions.contains(&action) {
        return fail(&FenceError::Unsupported {
            action: action.to_string(),
        });
    }
    if let Err(e) = params.check_required() {
        return fail(&e.into());
    }
    let timing = match Timing::from_params(params) {
        Ok(t) => t,
        Err(e) => return fail(&e.into()),
    };
    let mut device = match (plugin.build)(params) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if action == Action::ValidateAll {
        return EXIT_OK;
    }
    let plug = params
        .get("plug")
        .filter(|p| !p.is_empty() && !params.flag("port_as_ip"));
    let result = if device.performs_actions() {
        if action.is_delayed() && !timing.delay.is_zero() {
            tracing::info!("Delay {:?} before {action}", timing.delay);
            std::thread::sleep(timing.delay);
        }
        device.perform_action(action, plug)
    } else {
        perform(
            device.as_mut(),
            action,
            plug,
            &timing,
            &mut SystemClock::default(),
        )
    };
    device.close();
    let mut say = |line: String| {
        let _ = writeln!(out, "{}", params.mask(&line));
    };
    match result {
        Ok(Outcome::Status(PowerState::On)) => {
            say("Status: ON".into());
            EXIT_OK
        }
        Ok(Outcome::Status(PowerState::Off)) => {
            say("Status: OFF".into());
            EXIT_OFF
        }
        Ok(Outcome::Healthy) => EXIT_OK,
        Ok(Outcome::PoweredOff) => {
            say("Success: Powered OFF".into());
            EXIT_OK
        }
        Ok(Outcome::AlreadyOff) => {
            say("Success: Already OFF".into());
            EXIT_OK
        }
        Ok(Outcome::PoweredOn) => {
            say("Success: Powered ON".into());
            EXIT_OK
        }
        Ok(Outcome::AlreadyOn) => {
            say("Success: Already ON".into());
            EXIT_OK
        }
        Ok(Outcome::Rebooted) => {
            say("Success: Rebooted".into());
            EXIT_OK
        }
        Ok(Outcome::Cycled) => {
            say("Success: Rebooted (power cycle accepted by the device; not verified)".into());
            EXIT_OK
        }
        Ok(Outcome::Confirmed(how)) => {
            say(format!("Success: {how}"));
            EXIT_OK
        }
        Ok(Outcome::DiagSent) => {
            say("Success: Diagnostic interrupt sent".into());
            EXIT_OK
        }
        Ok(Outcome::OffButOnFailed(e)) => {
            // The node is fenced (off confirmed): exit 0 as the fence agent API requires
            // for reboot, but say plainly that it did not come back.
            log.line(&format!(
                "ERROR: Power ON after a confirmed OFF failed: {e}"
            ));
            say(format!("Success: Powered OFF; NOT powered on again: {e}"));
            EXIT_OK
        }
        Ok(Outcome::Listed(ports)) => {
            for p in ports {
                let mut line = p.id.clone();
                line.push(',');
                line.push_str(p.alias.as_deref().unwrap_or(""));
                if let Some(s) = p.state {
                    line.push(',');
                    line.push_str(&s.to_string());
                }
                say(line);
            }
            EXIT_OK
        }
        Err(e) => fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_script_that_hangs_is_killed_at_its_limit() {
        let limit = std::time::Duration::from_millis(300);
        assert_eq!(
            run_password_script_within("echo s3cret", limit).expect("prints"),
            "s3cret"
        );
        let e = run_password_script_within("sleep 30", limit).expect_err("hangs");
        assert!(e.to_string().contains("did not finish within 0.3 s"), "{e}");
        // A child left behind holding the output open does not hold the agent.
        assert_eq!(
            run_password_script_within("echo pw; sleep 30 &", limit).expect("prints"),
            "pw"
        );
        let e = run_password_script_within("exit 3", limit).expect_err("fails");
        assert!(e.to_string().contains("exited with"), "{e}");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
        }
    }

    fn agent(args: &[&str], stdin: &str, env: Option<&str>) -> (i32, String, String) {
        let plugin = crate::ipmi::plugin();
        let mut out = Vec::new();
        let err = Buf::default();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let code = run(
            &plugin,
            &args,
            Some(stdin),
            env.map(str::to_string),
            &mut out,
            Box::new(err.clone()),
        );
        (code, String::from_utf8_lossy(&out).into_owned(), err.text())
    }

    #[test]
    fn help_has_usage_defaults_choices_and_actions_and_version_is_one_line() {
        let (code, out, _) = agent(&["--help"], "", None);
        assert_eq!(code, 0);
        for want in [
            "Usage: fence_qd_ipmilan [OPTION]...",
            "[default: 623]",
            "(one of: callback, user, operator, administrator)",
            "Actions (-o, --action): on, off, reboot, status",
            "Exit status:",
        ] {
            assert!(out.contains(want), "{want}: {out}");
        }
        assert!(
            !out.contains("--target"),
            "refused options are not offered: {out}"
        );
        for args in [&["-V"][..], &["--version"]] {
            let (code, out, _) = agent(args, "", None);
            assert_eq!(code, 0);
            assert_eq!(
                out,
                format!("fence_qd_ipmilan {}\n", env!("CARGO_PKG_VERSION"))
            );
        }
        let (_, out, _) = agent(&["-o", "metadata"], "", None);
        assert!(!out.contains("\"target\""), "{out}");
    }

    #[test]
    fn ipmi_bridging_is_refused_not_ignored() {
        let (code, _, err) = agent(
            &[],
            "ip=10.0.0.1\nusername=a\npassword=b\ntarget=0x82\naction=validate-all\n",
            None,
        );
        assert_eq!(code, 1);
        assert!(err.contains("IPMI bridging"), "{err}");
        let (code, _, err) = agent(
            &[
                "-a", "10.0.0.1", "-l", "a", "-p", "b", "--target", "0x82", "-o", "off",
            ],
            "",
            None,
        );
        assert_eq!(code, 1);
        assert!(err.contains("IPMI bridging"), "{err}");
    }

    #[test]
    fn a_password_on_the_command_line_is_warned_about_without_showing_it() {
        let (_, _, err) = agent(
            &[
                "-a",
                "127.0.0.1",
                "-l",
                "a",
                "-p",
                "hunter2",
                "-o",
                "validate-all",
            ],
            "",
            None,
        );
        assert!(
            err.contains("visible to every user in the process list"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let (_, _, err) = agent(
            &[],
            "ip=127.0.0.1\nusername=a\npassword=hunter2\naction=validate-all\n",
            None,
        );
        assert!(!err.contains("process list"), "{err}");
    }

    #[test]
    fn metadata_needs_no_other_option() {
        let (code, out, _) = agent(&["-o", "metadata"], "", None);
        assert_eq!(code, 0);
        assert!(out.starts_with("<?xml"), "{out}");
        let (code, out, _) = agent(&[], "action=metadata\n", None);
        assert_eq!(code, 0);
        assert!(out.contains("fence_qd_ipmilan"));
    }

    #[test]
    fn validate_all_checks_without_contacting_the_device() {
        let (code, _, err) = agent(&[], "action=validate-all\nusername=u\n", None);
        assert_eq!(code, 1);
        assert!(err.contains("ip"), "{err}");
        let (code, _, _) = agent(&[], "action=validate-all\nip=192.0.2.1\nlanplus=1\n", None);
        assert_eq!(code, 0);
        let (code, _, err) = agent(
            &["-o", "validate-all", "-a", "h", "--cipher=17", "-P"],
            "",
            None,
        );
        assert_eq!(code, 1);
        assert!(err.contains("cipher"), "{err}");
    }

    #[test]
    fn unknown_actions_fail_and_are_not_replaced_by_reboot() {
        let (code, _, err) = agent(&[], "ip=192.0.2.1\naction=explode\n", None);
        assert_eq!(code, 1);
        assert!(err.contains("unrecognised action"), "{err}");
        // The legacy `option=` name is an alias of action, not ignored.
        let (code, _, _) = agent(&[], "ip=192.0.2.1\noption=validate-all\n", None);
        assert_eq!(code, 0);
    }

    #[test]
    fn secrets_never_reach_stdout_or_stderr() {
        // A closed port: the agent fails, verbosely, with the password everywhere it could leak.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = sock.local_addr().expect("addr").port().to_string();
        drop(sock);
        let stdin = format!(
            "ip=127.0.0.1\nipport={port}\nusername=admin\npassword=Sup3rSecr3t\naction=status\nverbose=1\nlanplus=1\nhexadecimal_kg=abcdef\nipmi_timeout=0.2\n"
        );
        let (code, out, err) = agent(&[], &stdin, None);
        assert_eq!(code, 1, "{out}{err}");
        for text in [&out, &err] {
            assert!(
                !text.contains("Sup3rSecr3t") && !text.contains("abcdef"),
                "{text}"
            );
        }
        assert!(err.contains("Failed"), "{err}");
    }

    #[test]
    fn password_comes_from_password_script_or_the_environment() {
        let plugin = crate::ipmi::plugin();
        let (mut p, _) = plugin
            .params(&[("password_script", "echo from-script")])
            .expect("params");
        assert!(!p.is_given("password"));
        let pw = run_password_script(p.get("password_script").unwrap_or_default()).expect("script");
        p.set("password", &pw).expect("set");
        assert_eq!(p.get("password"), Some("from-script"));
        assert_eq!(p.mask("x from-script y"), "x *** y");
        let failing = run_password_script("exit 3");
        assert!(matches!(failing, Err(ParamError::PasswordScript { .. })));
        let (code, _, _) = agent(&[], "action=validate-all\nip=h\n", Some("env-pw"));
        assert_eq!(code, 0);
    }

    #[test]
    fn fabric_agents_take_enable_and_disable_and_a_privacy_passphrase_script() {
        let plugin = crate::ifmib::plugin();
        let run_ifmib = |stdin: &str| {
            let mut out = Vec::new();
            let err = Buf::default();
            let code = run(
                &plugin,
                &[],
                Some(stdin),
                None,
                &mut out,
                Box::new(err.clone()),
            );
            (code, err.text())
        };
        let v3 = "ip=sw\nsnmp_version=3\nusername=u\npassword=auth-pass\nsnmp_sec_level=authPriv\n";
        let (code, err) = run_ifmib(&format!("{v3}action=validate-all\n"));
        assert_eq!(code, 1, "no privacy passphrase: {err}");
        assert!(err.contains("snmp_priv_passwd"), "{err}");
        let (code, err) = run_ifmib(&format!(
            "{v3}action=validate-all\nsnmp_priv_passwd_script=echo priv-from-script\n"
        ));
        assert_eq!(code, 0, "{err}");
        // disable is off: with no plug the device says so (nothing is contacted).
        let (code, err) = run_ifmib("ip=192.0.2.1\naction=disable\n");
        assert_eq!(code, 1);
        assert!(err.contains("missing required parameter plug"), "{err}");
        let (code, err) = run_ifmib("ip=192.0.2.1\naction=reboot\n");
        assert_eq!(code, 1);
        assert!(err.contains("not supported"), "{err}");
    }
}
