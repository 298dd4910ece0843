//! The breaker's rules, one test each, on a clock the test moves.

use super::*;

fn settings() -> CircuitSettings {
    CircuitSettings {
        failures_to_open: 3,
        open_ms: 1_000,
        max_open_ms: 4_000,
    }
}

fn opened(t0: Instant) -> Breaker {
    let mut b = Breaker::new(settings());
    for _ in 0..3 {
        b.failed(t0, false);
    }
    b
}

#[test]
fn a_closed_circuit_lets_every_call_through() {
    let mut b = Breaker::new(settings());
    let t0 = Instant::now();
    assert_eq!(b.admit(t0), Admission::Call);
    b.failed(t0, false);
    b.failed(t0, false);
    assert_eq!(
        b.admit(t0),
        Admission::Call,
        "two failures are not yet a run"
    );
    assert_eq!(b.state(), State::Closed { failures: 2 });
}

#[test]
fn an_answer_resets_the_run_of_failures() {
    let mut b = Breaker::new(settings());
    let t0 = Instant::now();
    b.failed(t0, false);
    b.failed(t0, false);
    b.answered();
    b.failed(t0, false);
    b.failed(t0, false);
    assert_eq!(b.admit(t0), Admission::Call);
}

#[test]
fn a_run_of_transient_failures_opens_the_circuit_and_callers_wait() {
    let t0 = Instant::now();
    let mut b = opened(t0);
    let until = t0 + Duration::from_millis(1_000);
    assert_eq!(b.state().gauge(), 1);
    assert_eq!(b.admit(t0), Admission::Wait(Some(until)));
    assert_eq!(
        b.admit(until - Duration::from_millis(1)),
        Admission::Wait(Some(until))
    );
}

#[test]
fn after_the_pause_one_probe_goes_and_the_others_wait_for_it() {
    let t0 = Instant::now();
    let mut b = opened(t0);
    let t1 = t0 + Duration::from_millis(1_000);
    assert_eq!(b.admit(t1), Admission::Probe);
    assert_eq!(b.state().gauge(), 2);
    assert!(matches!(b.admit(t1), Admission::Wait(Some(_))));
}

#[test]
fn a_probe_that_gets_an_answer_closes_the_circuit() {
    let t0 = Instant::now();
    let mut b = opened(t0);
    let t1 = t0 + Duration::from_millis(1_000);
    assert_eq!(b.admit(t1), Admission::Probe);
    b.answered();
    assert_eq!(b.state(), State::Closed { failures: 0 });
    assert_eq!(b.admit(t1), Admission::Call);
}

#[test]
fn a_failed_probe_reopens_for_twice_as_long_up_to_the_longest_pause() {
    let t0 = Instant::now();
    let mut b = opened(t0);
    let mut now = t0 + Duration::from_millis(1_000);
    for expected in [2_000, 4_000, 4_000] {
        assert_eq!(b.admit(now), Admission::Probe);
        b.failed(now, true);
        let until = now + Duration::from_millis(expected);
        assert_eq!(b.admit(now), Admission::Wait(Some(until)), "{expected}");
        now = until;
    }
}

#[test]
fn a_call_already_out_when_the_circuit_opened_does_not_move_it() {
    let t0 = Instant::now();
    let mut b = opened(t0);
    let before = b.state();
    b.failed(t0 + Duration::from_millis(10), false);
    assert_eq!(b.state(), before);
    let t1 = t0 + Duration::from_millis(1_000);
    assert_eq!(b.admit(t1), Admission::Probe);
    b.failed(t1, false);
    assert_eq!(b.state().gauge(), 2, "only the probe's failure reopens it");
}

#[test]
fn a_probe_that_never_reports_is_replaced_after_a_while() {
    let t0 = Instant::now();
    let mut b = opened(t0);
    let t1 = t0 + Duration::from_millis(1_000);
    assert_eq!(b.admit(t1), Admission::Probe);
    let Admission::Wait(Some(again)) = b.admit(t1) else {
        panic!("a second caller waits for the probe");
    };
    assert!(again > t1);
    assert_eq!(b.admit(again), Admission::Probe);
}

#[test]
fn definitions_without_a_circuit_table_get_the_defaults() {
    let s: CircuitSettings = toml::from_str("").unwrap();
    assert_eq!(s.failures_to_open, 5);
    let s: CircuitSettings = toml::from_str("open_ms = 10").unwrap();
    assert_eq!((s.open_ms, s.max_open_ms), (10, 30_000));
    assert!(toml::from_str::<CircuitSettings>("opne_ms = 10").is_err());
}

#[tokio::test]
async fn waiters_at_an_open_circuit_go_on_once_a_probe_gets_an_answer() {
    let quick = CircuitSettings {
        open_ms: 20,
        ..settings()
    };
    let circuit = std::sync::Arc::new(Circuit::new("08", quick));
    let stop = CancellationToken::new();
    for _ in 0..3 {
        let pass = circuit.pass(&stop).await.unwrap();
        circuit.report(pass, true);
    }
    let probe = circuit.pass(&stop).await.unwrap();
    assert!(probe.probe, "the first caller after the pause probes");
    let waiter = {
        let (c, s) = (circuit.clone(), stop.clone());
        tokio::spawn(async move { c.pass(&s).await.map(|p| p.probe) })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiter.is_finished(),
        "the others wait while the probe is out"
    );
    circuit.report(probe, false);
    assert_eq!(waiter.await.unwrap(), Some(false), "then call as usual");
}

#[tokio::test]
async fn a_waiter_at_an_open_circuit_stops_waiting_on_shutdown() {
    let circuit = Circuit::new("08", settings());
    let stop = CancellationToken::new();
    for _ in 0..3 {
        let pass = circuit.pass(&stop).await.unwrap();
        circuit.report(pass, true);
    }
    stop.cancel();
    assert!(circuit.pass(&stop).await.is_none());
}
