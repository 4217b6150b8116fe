use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use belfry_core::auth::{Caller, Grant};
use belfry_sigv4::SecretKey;

use super::*;

const ADMIN: &str = "AKIDADMIN";
const APP: &str = "AKIDAPP";
const ALICE: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/alice";
const BOB: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/bob";

fn keys() -> Vec<AccessKey> {
    vec![
        AccessKey {
            id: ADMIN.into(),
            secret: SecretKey::new("s"),
            grant: Grant::Admin,
        },
        AccessKey {
            id: APP.into(),
            secret: SecretKey::new("s"),
            grant: Grant::Bearers(vec!["arn:aws:chime:*/user/*".into()]),
        },
    ]
}

fn caller(id: &str) -> Caller {
    let grant = keys()
        .into_iter()
        .find(|k| k.id == id)
        .map(|k| k.grant)
        .unwrap();
    Caller {
        access_key_id: id.into(),
        grant,
    }
}

/// A scoped key that may act as alice only.
fn alice_only() -> (AccessKey, Caller) {
    let key = AccessKey {
        id: "AKIDALICE".into(),
        secret: SecretKey::new("s"),
        grant: Grant::Bearers(vec![ALICE.into()]),
    };
    let caller = Caller {
        access_key_id: key.id.clone(),
        grant: key.grant.clone(),
    };
    (key, caller)
}

fn config(tweak: impl FnOnce(&mut ThrottleConfig)) -> ThrottleConfig {
    let mut c = ThrottleConfig {
        reads: Rate::new(2.0, 4),
        writes: Rate::new(1.0, 2),
        session_endpoint: Rate::new(1.0, 1),
        connect: Rate::new(1.0, 1),
        ..ThrottleConfig::default()
    };
    tweak(&mut c);
    c
}

/// How many of `n` requests at `now` pass.
fn passed(
    t: &Throttle,
    c: &Caller,
    bearer: Option<&str>,
    class: Class,
    n: usize,
    now: Instant,
) -> usize {
    (0..n)
        .filter(|_| t.request(c, bearer, class, now).is_ok())
        .count()
}

#[test]
fn a_bucket_allows_its_burst_then_its_rate() {
    let t0 = Instant::now();
    let t = Throttle::new(&config(|_| {}), &keys(), t0).unwrap();
    let app = caller(APP);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 5, t0), 2);
    // 1 per second: half a second later nothing, a second later one.
    let half = t0 + Duration::from_millis(500);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 1, half), 0);
    let one = t0 + Duration::from_millis(1000);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 3, one), 1);
    // A long quiet spell refills to the burst, not beyond.
    let later = t0 + Duration::from_secs(60);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 5, later), 2);
    assert_eq!(t.stats().writes.load(Relaxed), 3 + 1 + 2 + 3);
}

#[test]
fn reads_and_writes_and_bearers_have_buckets_of_their_own() {
    let t0 = Instant::now();
    let t = Throttle::new(&config(|_| {}), &keys(), t0).unwrap();
    let app = caller(APP);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 5, t0), 2);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Read, 5, t0), 4);
    assert_eq!(passed(&t, &app, Some(BOB), Class::Write, 5, t0), 2);
    // Requests without a bearer (identity APIs) count against the key.
    assert_eq!(passed(&t, &app, None, Class::Write, 5, t0), 2);
    assert_eq!(t.stats().writes.load(Relaxed), 9);
    assert_eq!(t.stats().reads.load(Relaxed), 1);
    assert_eq!(t.buckets(), 2);
}

#[test]
fn the_message_names_the_limit_and_its_setting() {
    let t0 = Instant::now();
    let t = Throttle::new(&config(|_| {}), &keys(), t0).unwrap();
    let app = caller(APP);
    passed(&t, &app, Some(ALICE), Class::Write, 2, t0);
    let Err(Throttled(m)) = t.request(&app, Some(ALICE), Class::Write, t0) else {
        panic!("not throttled");
    };
    assert_eq!(
        m,
        "Rate exceeded: writes as one bearer are limited to 1 per second, in bursts of up to 2 \
         (throttle.writes); retry with backoff."
    );
}

#[test]
fn a_bearer_the_key_may_not_act_as_counts_against_the_key() {
    let t0 = Instant::now();
    let (alice_key, alice_caller) = alice_only();
    let mut all = keys();
    all.push(alice_key);
    let t = Throttle::new(&config(|_| {}), &all, t0).unwrap();
    // Alice's key signing as bob drains its own bucket, not bob's.
    assert_eq!(passed(&t, &alice_caller, Some(BOB), Class::Write, 5, t0), 2);
    assert_eq!(passed(&t, &caller(APP), Some(BOB), Class::Write, 5, t0), 2);
    assert_eq!(
        passed(&t, &alice_caller, Some(ALICE), Class::Write, 5, t0),
        2
    );
}

#[test]
fn the_admin_key_is_exempt_unless_configured() {
    let t0 = Instant::now();
    let admin = caller(ADMIN);
    let exempt = Throttle::new(&config(|_| {}), &keys(), t0).unwrap();
    assert_eq!(
        passed(&exempt, &admin, Some(ALICE), Class::Write, 50, t0),
        50
    );
    assert_eq!(
        passed(&exempt, &admin, None, Class::SessionEndpoint, 50, t0),
        50
    );
    assert_eq!(
        (0..50)
            .filter(|_| exempt.connect(&admin, t0).is_ok())
            .count(),
        50
    );

    let not_exempt = Throttle::new(&config(|c| c.admin_exempt = false), &keys(), t0).unwrap();
    assert_eq!(
        passed(&not_exempt, &admin, Some(ALICE), Class::Write, 5, t0),
        2
    );
    assert_eq!(passed(&not_exempt, &admin, None, Class::Write, 5, t0), 2);

    // Listed: the whole key is one bucket pair, at its own rates.
    let listed = config(|c| {
        c.keys = vec![KeyThrottle {
            id: ADMIN.into(),
            reads: None,
            writes: Some(Rate::new(1.0, 3)),
            session_endpoint: None,
            connect: None,
        }]
    });
    let t = Throttle::new(&listed, &keys(), t0).unwrap();
    assert_eq!(passed(&t, &admin, Some(ALICE), Class::Write, 2, t0), 2);
    assert_eq!(passed(&t, &admin, Some(BOB), Class::Write, 5, t0), 1);
    assert_eq!(passed(&t, &admin, Some(BOB), Class::Read, 9, t0), 4);
    let Err(Throttled(m)) = t.request(&admin, None, Class::Write, t0) else {
        panic!("not throttled");
    };
    assert!(m.contains(ADMIN) && m.contains("[[throttle.keys]]"), "{m}");
    assert_eq!(t.buckets(), 0);
}

#[test]
fn session_endpoint_and_connect_are_limited_per_key_apart() {
    let t0 = Instant::now();
    let no_wait = |c: &mut ThrottleConfig| {
        c.connect = Rate::new(1.0, 2);
        c.connect_max_wait_ms = 0;
    };
    let t = Throttle::new(&config(no_wait), &keys(), t0).unwrap();
    let app = caller(APP);
    assert_eq!(passed(&t, &app, None, Class::SessionEndpoint, 3, t0), 1);
    assert_eq!((0..3).filter(|_| t.connect(&app, t0).is_ok()).count(), 2);
    // Neither touches the REST buckets.
    assert_eq!(passed(&t, &app, None, Class::Read, 9, t0), 4);
    let s = t.stats();
    assert_eq!(
        (s.session_endpoint.load(Relaxed), s.connects.load(Relaxed)),
        (2, 1)
    );
    let t1 = t0 + Duration::from_secs(1);
    assert!(t.connect(&app, t1).is_ok());
    assert!(t.request(&app, None, Class::SessionEndpoint, t1).is_ok());
}

#[test]
fn connects_over_the_rate_wait_their_turn_up_to_the_bound() {
    let t0 = Instant::now();
    let cfg = config(|c| {
        c.connect = Rate::new(10.0, 2);
        c.connect_max_wait_ms = 250;
    });
    let t = Throttle::new(&cfg, &keys(), t0).unwrap();
    let app = caller(APP);
    let turns: Vec<_> = (0..6).map(|_| t.connect(&app, t0)).collect();
    let ms = |r: &Result<Duration, Throttled>| r.as_ref().ok().map(|d| d.as_millis());
    // The burst at once, then one every 100 ms, as far as 250 ms ahead; the rest refused.
    assert_eq!(
        turns.iter().map(ms).collect::<Vec<_>>(),
        [Some(0), Some(0), Some(100), Some(200), None, None]
    );
    assert_eq!(t.stats().connects.load(Relaxed), 2);
    // Reserved turns are owed: 300 ms on, the next free one is 0 ms away again.
    assert_eq!(
        ms(&t.connect(&app, t0 + Duration::from_millis(300))),
        Some(0)
    );
}

#[test]
fn disabled_limits_nothing() {
    let t0 = Instant::now();
    let t = Throttle::new(&config(|c| c.enabled = false), &keys(), t0).unwrap();
    let app = caller(APP);
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 50, t0), 50);
    assert_eq!((0..50).filter(|_| t.connect(&app, t0).is_ok()).count(), 50);
}

#[test]
fn at_the_bound_new_bearers_wait_until_idle_buckets_can_go() {
    let t0 = Instant::now();
    let t = Throttle::new(&config(|c| c.max_buckets = 2), &keys(), t0).unwrap();
    let app = caller(APP);
    let carol = "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/carol";
    assert!(t.request(&app, Some(ALICE), Class::Write, t0).is_ok());
    assert!(t.request(&app, Some(BOB), Class::Read, t0).is_ok());
    // Both buckets are in use: carol gets no bucket and is refused, counted.
    let Err(Throttled(m)) = t.request(&app, Some(carol), Class::Read, t0) else {
        panic!("not refused");
    };
    assert!(m.contains("throttle.max_buckets"), "{m}");
    assert_eq!(t.stats().no_room.load(Relaxed), 1);
    // Existing bearers keep their buckets meanwhile.
    assert!(t.request(&app, Some(ALICE), Class::Write, t0).is_ok());
    // Bob's read bucket is full again after half a second (2/s), alice's write bucket after
    // two seconds (1/s); the shard sweeps at most once a second.
    let t1 = t0 + Duration::from_millis(1100);
    assert!(t.request(&app, Some(carol), Class::Read, t1).is_ok());
    assert_eq!(t.stats().evicted.load(Relaxed), 1);
    assert_eq!(t.buckets(), 2);
    // Alice was not evicted: her bucket still lacks what she spent.
    assert_eq!(passed(&t, &app, Some(ALICE), Class::Write, 5, t1), 1);
    // Swept 0.1 s ago: a new bearer is refused without another sweep.
    let dave = "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/dave";
    let t2 = t0 + Duration::from_millis(1200);
    assert!(t.request(&app, Some(dave), Class::Read, t2).is_err());
    assert_eq!(t.stats().evicted.load(Relaxed), 1);
}

#[test]
fn the_bucket_map_stays_bounded_under_many_bearers() {
    let t0 = Instant::now();
    let t = Throttle::new(&config(|c| c.max_buckets = 5000), &keys(), t0).unwrap();
    let app = caller(APP);
    let mut refused = 0;
    for i in 0..20_000 {
        let bearer = format!("arn:aws:chime:us-east-1:000000000000:app-instance/a/user/u{i}");
        // Twenty thousand new bearers in two seconds.
        let now = t0 + Duration::from_micros(100 * i);
        if t.request(&app, Some(&bearer), Class::Write, now).is_err() {
            refused += 1;
        }
    }
    assert!(t.buckets() <= 5000, "{}", t.buckets());
    assert!(refused > 0);
    assert_eq!(t.stats().no_room.load(Relaxed), refused);
    assert!(t.stats().evicted.load(Relaxed) > 0);
}

#[test]
fn configs_the_limiter_cannot_use_are_refused() {
    type Case = (&'static str, fn(&mut ThrottleConfig), Option<&'static str>);
    let cases: &[Case] = &[
        ("defaults", |_| {}, None),
        (
            "zero rate",
            |c| c.writes.per_sec = 0.0,
            Some("throttle.writes.per_sec"),
        ),
        (
            "NaN rate",
            |c| c.reads.per_sec = f64::NAN,
            Some("throttle.reads.per_sec"),
        ),
        (
            "zero burst",
            |c| c.connect.burst = 0,
            Some("throttle.connect.burst"),
        ),
        (
            "no buckets",
            |c| c.max_buckets = 0,
            Some("throttle.max_buckets"),
        ),
        (
            "unknown key",
            |c| c.keys = vec![key_entry("AKIDNOBODY")],
            Some("not an access key"),
        ),
        (
            "twice",
            |c| c.keys = vec![key_entry(APP), key_entry(APP)],
            Some("twice"),
        ),
        (
            "bad key rate",
            |c| {
                let mut k = key_entry(APP);
                k.session_endpoint = Some(Rate::new(-1.0, 1));
                c.keys = vec![k];
            },
            Some("session_endpoint.per_sec"),
        ),
    ];
    for (what, change, want) in cases {
        let mut c = ThrottleConfig::default();
        change(&mut c);
        match (Throttle::new(&c, &keys(), Instant::now()), want) {
            (Ok(_), None) => {}
            (Err(e), Some(w)) => assert!(e.contains(w), "{what}: {e}"),
            (Ok(_), Some(w)) => panic!("{what}: accepted, wanted an error about {w}"),
            (Err(e), None) => panic!("{what}: {e}"),
        }
    }
}

fn key_entry(id: &str) -> KeyThrottle {
    KeyThrottle {
        id: id.into(),
        reads: None,
        writes: None,
        session_endpoint: None,
        connect: None,
    }
}

#[test]
fn get_is_a_read_and_the_session_endpoint_is_its_own_class() {
    use http::Method;
    assert_eq!(
        Class::of(Op::SendChannelMessage, &Method::POST),
        Class::Write
    );
    assert_eq!(Class::of(Op::UpdateChannel, &Method::PUT), Class::Write);
    assert_eq!(Class::of(Op::DeleteChannel, &Method::DELETE), Class::Write);
    assert_eq!(
        Class::of(Op::ListChannelMessages, &Method::GET),
        Class::Read
    );
    assert_eq!(
        Class::of(Op::DescribeAppInstance, &Method::GET),
        Class::Read
    );
    assert_eq!(
        Class::of(Op::GetMessagingSessionEndpoint, &Method::GET),
        Class::SessionEndpoint
    );
}
