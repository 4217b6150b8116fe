//! The `[throttle]` table of the config file.

use super::*;
use belfry_wire::throttle::Rate;

fn resolve(text: &str) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("belfry.toml");
    std::fs::write(&path, text)?;
    Config::resolve(ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    })
}

#[test]
fn the_throttle_table_overrides_the_defaults_it_names() {
    let c = resolve("").unwrap();
    assert_eq!(c.throttle, ThrottleConfig::default());
    let c = resolve(
        "[throttle]\nadmin_exempt = false\nwrites = { per_sec = 5, burst = 8 }\n\
         [[throttle.keys]]\nid = \"AKIDAPP\"\nconnect = { per_sec = 0.5, burst = 3 }\n",
    )
    .unwrap();
    assert!(c.throttle.enabled && !c.throttle.admin_exempt);
    assert_eq!(c.throttle.writes, Rate::new(5.0, 8));
    assert_eq!(c.throttle.reads, ThrottleConfig::default().reads);
    assert_eq!(c.throttle.keys[0].connect, Some(Rate::new(0.5, 3)));
    for (text, want) in [
        ("[throttle]\nwrite = { per_sec = 5, burst = 8 }\n", "write"),
        (
            "[throttle]\nreads = { per_sec = 0, burst = 8 }\n",
            "reads.per_sec",
        ),
        ("[throttle]\nconnect = { per_sec = 1 }\n", "burst"),
    ] {
        let e = format!("{:#}", resolve(text).unwrap_err());
        assert!(e.contains(want), "{text}: {e}");
    }
}
