use super::*;

const BIG0: Place = Place {
    cpu: 0,
    cluster: 0,
    capacity: 1024,
};
const LITTLE2: Place = Place {
    cpu: 2,
    cluster: 1,
    capacity: 512,
};

#[test]
fn the_hint_picks_the_biggest_or_smallest_allowed_core() {
    let allowed = [BIG0, LITTLE2];
    assert_eq!(choose(&allowed, Want::Big), Some(BIG0));
    assert_eq!(choose(&allowed, Want::Little), Some(LITTLE2));
    // Order does not matter.
    assert_eq!(choose(&[LITTLE2, BIG0], Want::Big), Some(BIG0));
    assert_eq!(choose(&[], Want::Big), None);
}

#[test]
fn a_vcpu_already_there_does_not_move() {
    let allowed = [BIG0, LITTLE2];
    assert_eq!(destination(&allowed, 0, Want::Big), None);
    assert_eq!(destination(&allowed, 0, Want::Little), Some(2));
    assert_eq!(destination(&allowed, 2, Want::Big), Some(0));
    assert_eq!(destination(&allowed, 2, Want::Little), None);
    // A CPU it may not run on: no decision (a bug elsewhere, never a move).
    assert_eq!(destination(&allowed, 1, Want::Big), None);
    // Two clusters of the same capacity: nothing to gain.
    let same = [
        BIG0,
        Place {
            capacity: 1024,
            ..LITTLE2
        },
    ];
    assert_eq!(destination(&same, 0, Want::Little), None);
}

#[test]
fn hints_other_than_zero_or_one_are_malformed() {
    assert_eq!(hint(1), Some(Want::Big));
    assert_eq!(hint(0), Some(Want::Little));
    assert_eq!(hint(2), None);
    assert_eq!(hint(u64::MAX), None);
}

const T: Thresholds = Thresholds {
    window: 1000,
    up: 70,
    down: 30,
};

#[test]
fn the_governor_decides_once_per_window() {
    let mut g = Governor::new();
    // 900 of the first 1000 ticks busy: up.
    assert_eq!(g.ran(100, 500, T), None);
    assert_eq!(g.ran(500, 1000, T), None);
    assert_eq!(g.ran(1000, 1101, T), Some(Want::Big));
    // The next window (from 1101) is 10 % busy: down.
    assert_eq!(g.ran(1101, 1201, T), None);
    assert_eq!(g.close(2101, T), Some(Want::Little));
}

#[test]
fn the_band_between_down_and_up_holds_the_vcpu_where_it_is() {
    let mut g = Governor::new();
    g.ran(1, 1, T);
    // 50 % busy in each window: no verdict, ever.
    let mut t = 1;
    for _ in 0..10 {
        assert_eq!(g.ran(t, t + 500, T), None);
        assert_eq!(g.close(t + 1000, T), None);
        t += 1000;
    }
}

#[test]
fn a_vcpu_asleep_through_a_window_is_idle() {
    let mut g = Governor::new();
    assert_eq!(g.close(10, T), None);
    assert_eq!(g.window_end(T), Some(1010));
    assert_eq!(g.close(1010, T), Some(Want::Little));
}

#[test]
fn busy_time_before_the_window_is_not_counted() {
    let mut g = Governor::new();
    g.close(1000, T);
    // Ran from 0 to 1500: only 500 of the window (1000..2000) counts.
    assert_eq!(g.ran(0, 1500, T), None);
    assert_eq!(g.close(2000, T), None); // 50 %: in the band
}

#[test]
fn the_plan_cycles() {
    let lens = [100u64, 300];
    let at = |e| plan_step(lens.iter().copied(), e);
    assert_eq!(at(0), Some((0, 100)));
    assert_eq!(at(99), Some((0, 1)));
    assert_eq!(at(100), Some((1, 300)));
    assert_eq!(at(399), Some((1, 1)));
    assert_eq!(at(400), Some((0, 100)));
    assert_eq!(at(4_000_050), Some((0, 50)));
    assert_eq!(plan_step([].iter().copied(), 5), None);
    assert_eq!(plan_step([0u64].iter().copied(), 5), None);
}
