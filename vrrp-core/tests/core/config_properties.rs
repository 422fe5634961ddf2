//! Properties of the keepalived.conf parser:
//! * any token soup (and any bytes) is answered with diagnostics, never a panic, and
//!   every diagnostic points inside the file;
//! * whatever the parser accepts renders back to text it parses to the same config;
//! * every valid model renders to text that parses back to exactly that model.

use crate::config_gen::config;
use proptest::prelude::*;
use vrrp_core::config::{self, AnyHost};

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            // The parser's own keywords, then words and values it meets among them.
            config::keywords()
                .chain([
                    "use_vmac",
                    "include",
                    "MASTER",
                    "BACKUP",
                    "dev",
                    "label",
                    "eth0",
                    "lo",
                    "eth0:1",
                    "VI_1",
                    "chk",
                    "0",
                    "1",
                    "2",
                    "3",
                    "255",
                    "256",
                    "0.1",
                    "40.95",
                    "-253",
                    "4294",
                    "10.1.2.3",
                    "10.1.2.3/16",
                    "fd00::1",
                    "fd00::1/64",
                    "224.0.0.18",
                    "/bin/true",
                    "\"/bin/sh -c 'x'\"",
                    "\"\"",
                    "{",
                    "}",
                    "{",
                    "}",
                    "\n",
                    "\n",
                    "\n",
                    "#",
                    "!",
                    "\"",
                    "'",
                    "\\",
                    "\t",
                    "\r\n",
                ])
                .collect::<Vec<_>>(),
        )
        .prop_map(str::to_string),
        "[ -~]{0,12}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..120).prop_map(|tokens| tokens.join(" "))
}

/// A few instances, well formed, with one token somewhere replaced by noise.
fn near_valid() -> impl Strategy<Value = String> {
    (config(), any::<prop::sample::Index>(), token()).prop_map(|(c, index, noise)| {
        let text = c.to_keepalived_conf();
        let words: Vec<&str> = text.split(' ').collect();
        let i = index.index(words.len());
        let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        out[i] = noise;
        out.join(" ")
    })
}

fn check_diagnostics_point_inside(text: &str, diagnostics: &[config::Diagnostic]) {
    let lines = u32::try_from(text.split('\n').count()).unwrap();
    for d in diagnostics {
        let pos = d.pos.expect("text diagnostics have a position");
        assert!(
            pos.line >= 1 && pos.line <= lines,
            "{d} outside 1..={lines}"
        );
        assert!(pos.column >= 1, "{d}");
        assert!(!d.message.is_empty());
    }
}

fn accepted_round_trips(text: &str) {
    let checked = config::check_text("soup.conf", text.as_bytes(), &AnyHost);
    check_diagnostics_point_inside(text, &checked.diagnostics);
    if let Ok(loaded) = config::parse("soup.conf", text.as_bytes()) {
        let rendered = loaded.config.to_keepalived_conf();
        let again = config::parse("rendered.conf", rendered.as_bytes())
            .unwrap_or_else(|e| panic!("render of accepted text is refused: {e:?}\n{rendered}"));
        assert_eq!(again.config, loaded.config, "{rendered}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics_and_accepted_soup_round_trips(text in soup()) {
        accepted_round_trips(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = config::parse("bytes.conf", &bytes);
        let _ = config::check_text("bytes.conf", &bytes, &AnyHost);
    }

    #[test]
    fn near_valid_files_never_panic_and_accepted_ones_round_trip(text in near_valid()) {
        accepted_round_trips(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn valid_models_round_trip_through_keepalived_conf(c in config()) {
        let text = c.to_keepalived_conf();
        let loaded = config::parse("model.conf", text.as_bytes())
            .unwrap_or_else(|e| panic!("{}\n{text}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")));
        prop_assert_eq!(&loaded.config, &c, "{}", text);
    }
}
