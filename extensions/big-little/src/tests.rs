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

#[test]
fn a_decided_move_is_taken_once_by_its_cpu() {
    let m: Moves<4, 2> = Moves::new();
    assert_eq!(m.take(0, 0..4), None);
    m.request(0, 2, 1, Cause::Governor);
    // Another CPU does not see it.
    assert_eq!(m.take(1, 0..4), None);
    assert_eq!(
        m.take(0, [0, 2].into_iter()),
        Some(Move {
            vcpu: 2,
            to: 1,
            cause: Cause::Governor
        })
    );
    assert_eq!(m.take(0, [0, 2].into_iter()), None);
}

#[test]
fn several_moves_of_one_cpu_come_one_per_take_in_schedule_order() {
    let m: Moves<4, 2> = Moves::new();
    m.request(0, 3, 1, Cause::Plan);
    m.request(0, 1, 1, Cause::Plan);
    let order = [1, 3];
    let a = m.take(0, order.into_iter()).map(|x| x.vcpu);
    let b = m.take(0, order.into_iter()).map(|x| x.vcpu);
    assert_eq!((a, b), (Some(1), Some(3)));
    assert_eq!(m.take(0, order.into_iter()), None);
}

#[test]
fn the_latest_decision_for_a_vcpu_wins() {
    let m: Moves<2, 4> = Moves::new();
    m.request(0, 0, 2, Cause::Hint);
    m.request(0, 0, 3, Cause::Plan);
    assert_eq!(
        m.take(0, 0..1),
        Some(Move {
            vcpu: 0,
            to: 3,
            cause: Cause::Plan
        })
    );
}

#[test]
fn a_cpu_never_takes_a_move_of_a_vcpu_it_does_not_hold() {
    let m: Moves<2, 2> = Moves::new();
    m.request(0, 1, 1, Cause::Hint);
    // CPU 0 holds only vCPU 0: nothing to take, and no other vCPU is moved instead.
    assert_eq!(m.take(0, 0..1), None);
}

#[test]
fn requests_and_takes_on_two_threads_lose_nothing() {
    // Each CPU requests and takes for its own vCPUs, as the run loops do, at once.
    use std::sync::Arc;
    extern crate std;
    let m: Arc<Moves<8, 2>> = Arc::new(Moves::new());
    let run = |cpu: usize, m: Arc<Moves<8, 2>>| {
        std::thread::spawn(move || {
            let mine = move || (0..8).filter(move |v| v % 2 == cpu);
            let mut taken = 0;
            for round in 0..10_000u32 {
                let v = mine().nth(round as usize % 4).unwrap();
                m.request(cpu, v, (round % 7) as u16, Cause::Hint);
                while let Some(x) = m.take(cpu, mine()) {
                    assert_eq!(x.vcpu % 2, cpu);
                    taken += 1;
                }
            }
            taken
        })
    };
    let (a, b) = (run(0, m.clone()), run(1, m.clone()));
    assert_eq!((a.join().unwrap(), b.join().unwrap()), (10_000, 10_000));
}
