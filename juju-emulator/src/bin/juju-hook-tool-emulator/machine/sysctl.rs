//! `sysctl` stand-in (procps semantics): read, `-w`/`k=v` write, `-p FILE`/`--load`,
//! `--system`; keys exist if the test set them or the host kernel has them.

use std::path::{Path, PathBuf};

use super::fail;
use crate::Output;
use juju_emulator::state::Machine;

fn sysctl_key(key: &str) -> String {
    key.replace('/', ".")
}

fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// A key exists if the test set it, or if the host kernel has it (read, never written).
fn current(machine: &Machine, key: &str) -> Option<String> {
    if let Some(v) = machine.sysctl.get(key) {
        return Some(v.clone());
    }
    let text = std::fs::read_to_string(proc_path(key)).ok()?;
    Some(text.trim_end().replace('\t', " "))
}

struct SysctlOpts {
    values_only: bool,
    ignore: bool,
    quiet: bool,
    write: bool,
    load: bool,
    system: bool,
    files: Vec<String>,
    names: Vec<String>,
}

fn parse_sysctl(args: &[String]) -> Result<SysctlOpts, String> {
    let mut o = SysctlOpts {
        values_only: false,
        ignore: false,
        quiet: false,
        write: false,
        load: false,
        system: false,
        files: Vec::new(),
        names: Vec::new(),
    };
    for a in args {
        match a.as_str() {
            "--values" => o.values_only = true,
            "--ignore" => o.ignore = true,
            "--quiet" => o.quiet = true,
            "--write" => o.write = true,
            "--load" => o.load = true,
            "--system" => o.system = true,
            s if s.starts_with("--load=") => {
                o.load = true;
                o.files.push(s["--load=".len()..].to_string());
            }
            s if s.starts_with("--") => return Err(format!("unrecognized option '{s}'")),
            s if s.starts_with('-') && s.len() > 1 => {
                let letters = &s[1..];
                for (i, c) in letters.char_indices() {
                    match c {
                        'n' => o.values_only = true,
                        'e' => o.ignore = true,
                        'q' => o.quiet = true,
                        'w' => o.write = true,
                        'p' => {
                            o.load = true;
                            let rest = &letters[i + 1..];
                            if !rest.is_empty() {
                                o.files.push(rest.to_string());
                            }
                            break;
                        }
                        other => return Err(format!("invalid option -- '{other}'")),
                    }
                }
            }
            s => o.names.push(s.to_string()),
        }
    }
    if o.load {
        // procps: with -p, the remaining arguments are files to load.
        o.files.append(&mut o.names);
    }
    Ok(o)
}

fn write_setting(machine: &mut Machine, o: &SysctlOpts, setting: &str, out: &mut Output) {
    let Some((key, value)) = setting.split_once('=') else {
        out.stderr.push_str(&format!(
            "sysctl: \"{setting}\" must be of the form name=value\n"
        ));
        out.code = 255;
        return;
    };
    let (key, ignore) = match key.trim().strip_prefix('-') {
        Some(k) => (sysctl_key(k), true),
        None => (sysctl_key(key.trim()), o.ignore),
    };
    let value = value.trim().to_string();
    if current(machine, &key).is_none() {
        if !ignore {
            out.stderr.push_str(&format!(
                "sysctl: cannot stat {}: No such file or directory\n",
                proc_path(&key)
            ));
            out.code = 255;
        }
        return;
    }
    machine.sysctl.insert(key.clone(), value.clone());
    if !o.quiet {
        if o.values_only {
            out.stdout.push_str(&format!("{value}\n"));
        } else {
            out.stdout.push_str(&format!("{key} = {value}\n"));
        }
    }
}

/// A path the charm names: used as given if it exists, else under the machine root.
fn machine_path(machine: &Machine, path: &str) -> PathBuf {
    let given = Path::new(path);
    if given.exists() {
        return given.to_path_buf();
    }
    Path::new(&machine.root).join(path.trim_start_matches('/'))
}

fn load_file(machine: &mut Machine, o: &SysctlOpts, path: &Path, shown: &str, out: &mut Output) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => {
            out.stderr.push_str(&format!(
                "sysctl: cannot open \"{shown}\": No such file or directory\n"
            ));
            out.code = 255;
            return;
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        write_setting(machine, o, line, out);
    }
}

pub fn sysctl(machine: &mut Machine, args: &[String]) -> Output {
    let o = match parse_sysctl(args) {
        Ok(o) => o,
        Err(e) => return fail(255, format!("sysctl: {e}\n")),
    };
    let mut out = Output::default();
    if o.system {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for dir in [
            "etc/sysctl.d",
            "run/sysctl.d",
            "usr/local/lib/sysctl.d",
            "usr/lib/sysctl.d",
            "lib/sysctl.d",
        ] {
            let Ok(entries) = std::fs::read_dir(Path::new(&machine.root).join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") && !files.iter().any(|(n, _)| *n == name) {
                    files.push((name, entry.path()));
                }
            }
        }
        files.sort();
        let etc = Path::new(&machine.root).join("etc/sysctl.conf");
        if etc.is_file() {
            files.push(("sysctl.conf".into(), etc));
        }
        for (_, path) in files {
            let shown = format!(
                "/{}",
                path.strip_prefix(&machine.root).unwrap_or(&path).display()
            );
            out.stdout.push_str(&format!("* Applying {shown} ...\n"));
            load_file(machine, &o, &path, &shown, &mut out);
        }
        return out;
    }
    if o.load {
        let files = if o.files.is_empty() {
            vec!["/etc/sysctl.conf".to_string()]
        } else {
            o.files.clone()
        };
        for f in files {
            let path = machine_path(machine, &f);
            load_file(machine, &o, &path, &f, &mut out);
        }
        return out;
    }
    if o.names.is_empty() {
        return fail(255, "sysctl: no variables specified\n".into());
    }
    for name in &o.names {
        if o.write || name.contains('=') {
            write_setting(machine, &o, name, &mut out);
            continue;
        }
        let key = sysctl_key(name);
        match current(machine, &key) {
            Some(v) if o.values_only => out.stdout.push_str(&format!("{v}\n")),
            Some(v) => out.stdout.push_str(&format!("{key} = {v}\n")),
            None if o.ignore => {}
            None => {
                out.stderr.push_str(&format!(
                    "sysctl: cannot stat {}: No such file or directory\n",
                    proc_path(&key)
                ));
                out.code = 255;
            }
        }
    }
    out
}
