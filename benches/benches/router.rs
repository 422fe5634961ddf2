//! Cost of the router state machine per input (criterion).
//!
//! `cargo bench -p vrrp-benches --bench router -- --warm-up-time 1 --measurement-time 3`
//!
//! * an advert reaching a Backup (the steady state of every backup, every interval);
//! * a lower-priority advert reaching a Master (re-advert + re-GARP, the heaviest
//!   steady path);
//! * the Master's advert timer firing (the steady state of the master).

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vrrp_core::proto::{Advert, AdvertInterval, Auth, Priority, Version, Vrid};
use vrrp_core::router::{Input, Router, RouterConfig, State, Time};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn config(priority: u8) -> RouterConfig {
    let mut c = RouterConfig::new(
        "VI_1",
        "eth0",
        Vrid::new(51).unwrap(),
        ip("10.0.0.1"),
        vec![ip("10.0.0.100")],
    );
    c.priority = Priority::from_wire(priority);
    c
}

fn advert_input(priority: u8) -> Input {
    Input::Advert {
        from: ip("10.0.0.2"),
        advert: Advert {
            version: Version::V2,
            vrid: Vrid::new(51).unwrap(),
            priority: Priority::from_wire(priority),
            interval: AdvertInterval::DEFAULT,
            addresses: vec![ip("10.0.0.100")],
            auth: Auth::None,
        },
        interval_mismatch: false,
    }
}

/// A Master that heard nobody: its down timer, its claim and the claim's repeats
/// (K-18) have run, so only the advert timer is left.
fn master() -> Router {
    let mut r = Router::new(config(150)).unwrap();
    r.handle(Time::ZERO, Input::Startup);
    for _ in 0..5 {
        let due = r.poll_timeout().unwrap();
        r.handle_timeout(due);
    }
    assert_eq!(r.state(), State::Master);
    r
}

fn router_benches(c: &mut Criterion) {
    let second = Duration::from_secs(1);

    // One advert of `priority` a second into `r`, which stays in `state`.
    let mut adverts = |name: &str, mut r: Router, mut now: Time, priority: u8, state: State| {
        c.bench_function(name, |b| {
            b.iter_batched(
                || advert_input(priority),
                |input| {
                    now += second;
                    black_box(r.handle(now, input))
                },
                BatchSize::SmallInput,
            )
        });
        assert_eq!(r.state(), state);
    };

    let mut backup = Router::new(config(100)).unwrap();
    backup.handle(Time::ZERO, Input::Startup);
    adverts("advert_in_backup", backup, Time::ZERO, 200, State::Backup);

    let r = master();
    let now = r.poll_timeout().unwrap();
    adverts(
        "lower_priority_advert_in_master",
        r,
        now,
        100,
        State::Master,
    );

    let mut r = master();
    c.bench_function("advert_timeout_in_master", |b| {
        b.iter(|| {
            let due = r.poll_timeout().unwrap();
            black_box(r.handle_timeout(due))
        })
    });
    assert_eq!(r.state(), State::Master);
}

criterion_group!(benches, router_benches);
criterion_main!(benches);
