//! Differential test: the engine's verdict for every access of random traces
//! must equal that of a reference detector built from the definition of
//! happens-before (see `support/mod.rs`). Hand-written cases first pin the
//! reference itself, so a disagreement indicts the engine.

mod support;

use racedet_detector::trace::{Event, Op, Replay, Trace};
use racedet_detector::Detector;
use std::time::Instant;
use support::{
    check, engine, generate, generate_disciplined, generate_spans, reference, report, to_text,
    within_span_limits, Rng,
};

/// Parses a hand-written trace and returns, per access event, whether the
/// reference says it races (non-accesses are left out).
fn reference_races(text: &str) -> Vec<(usize, bool)> {
    let trace = Trace::parse(text).expect("hand-written trace parses");
    let r = reference(&trace.events);
    (0..trace.events.len())
        .filter(|&i| support::access_of(trace.events[i].op).is_some())
        .map(|i| (i, r.races(i)))
        .collect()
}

/// Asserts the reference's verdict for the last event of `text`, and that
/// the engine agrees on every event of it.
fn assert_last_event(text: &str, races: bool) {
    let verdicts = reference_races(text);
    let &(last, verdict) = verdicts.last().unwrap();
    assert_eq!(
        verdict, races,
        "reference verdict for event {last} of:\n{text}"
    );
    let trace = Trace::parse(text).unwrap();
    if let Some(d) = check(&trace.events, Detector::new).unwrap() {
        panic!("engine disagrees with the reference:\n{d:?}\n{text}");
    }
}

#[test]
fn reference_release_acquire_message_passing_is_race_free() {
    assert_last_event(
        "main fork t1
         main write data
         main store flag release
         t1 load flag acquire
         t1 read data",
        false,
    );
}

#[test]
fn reference_relaxed_message_passing_races() {
    assert_last_event(
        "main fork t1
         main write data
         main store flag relaxed
         t1 load flag acquire
         t1 read data",
        true,
    );
    assert_last_event(
        "main fork t1
         main write data
         main store flag release
         t1 load flag relaxed
         t1 read data",
        true,
    );
}

#[test]
fn reference_fences_make_relaxed_message_passing_race_free() {
    assert_last_event(
        "main fork t1
         main write data
         main fence release
         main store flag relaxed
         t1 load flag relaxed
         t1 fence acquire
         t1 read data",
        false,
    );
    // The acquire fence must come after the load it completes.
    assert_last_event(
        "main fork t1
         main write data
         main fence release
         main store flag relaxed
         t1 fence acquire
         t1 load flag relaxed
         t1 read data",
        true,
    );
}

#[test]
fn reference_release_sequence_continues_through_rmw_but_not_through_store() {
    assert_last_event(
        "main fork t1
         main fork t2
         main write data
         main store flag release
         t2 rmw flag relaxed
         t1 load flag acquire
         t1 read data",
        false,
    );
    assert_last_event(
        "main fork t1
         main fork t2
         main write data
         main store flag release
         t2 store flag relaxed
         t1 load flag acquire
         t1 read data",
        true,
    );
}

#[test]
fn reference_seqcst_fences_alone_do_not_order_each_other() {
    // C++11: the SeqCst order of fences adds no edge without an atomic
    // read-from between them.
    assert_last_event(
        "main fork t1
         main write data
         main fence seqcst
         t1 fence seqcst
         t1 read data",
        true,
    );
}

#[test]
fn reference_seqcst_fences_pair_through_a_relaxed_atomic() {
    assert_last_event(
        "main fork t1
         main write data
         main fence seqcst
         main store flag relaxed
         t1 load flag relaxed
         t1 fence seqcst
         t1 read data",
        false,
    );
}

#[test]
fn reference_fork_and_join_order_parent_and_child() {
    assert_last_event(
        "main write data
         main fork t1
         t1 write data
         main join t1
         main read data",
        false,
    );
    // A child with no events still carries its parent's past to the joiner.
    assert_last_event(
        "main fork t1
         main fork t2
         t1 write data
         t1 fork t3
         t2 join t3
         t2 read data",
        false,
    );
    assert_last_event(
        "main fork t1
         t1 write data
         main read data",
        true,
    );
}

#[test]
fn reference_locks_order_critical_sections_but_readers_not_each_other() {
    assert_last_event(
        "main fork t1
         main lock m
         main write data
         main unlock m
         t1 lock m
         t1 write data
         t1 unlock m",
        false,
    );
    // A read lock orders a reader after the last writer...
    assert_last_event(
        "main fork t1
         main lock m
         main write data
         main unlock m
         t1 rlock m
         t1 read data
         t1 runlock m",
        false,
    );
    // ...and the next writer after every reader...
    assert_last_event(
        "main fork t1
         t1 rlock m
         t1 read data
         t1 runlock m
         main lock m
         main write data
         main unlock m",
        false,
    );
    // ...but readers are not ordered among themselves.
    assert_last_event(
        "main fork t1
         t1 rlock m
         t1 write data
         t1 runlock m
         main rlock m
         main read data
         main runlock m",
        true,
    );
}

#[test]
fn reference_atomic_accesses_race_only_with_plain_ones() {
    assert_last_event(
        "main fork t1
         main store x relaxed
         t1 rmw x relaxed",
        false,
    );
    assert_last_event(
        "main fork t1
         main store x relaxed
         t1 read x",
        true,
    );
    assert_last_event(
        "main fork t1
         main read x
         t1 load x relaxed",
        false,
    );
    assert_last_event(
        "main fork t1
         main write x
         t1 load x relaxed",
        true,
    );
}

#[test]
fn reference_keeps_full_history_after_the_first_race() {
    // t2's read races with t1's write even though the engine already
    // reported t1's write racing with main's.
    let verdicts = reference_races(
        "main fork t1
         main fork t2
         main write x
         t1 write x
         main lock m
         main unlock m
         t2 lock m
         t2 read x
         t2 unlock m",
    );
    assert_eq!(verdicts, vec![(2, false), (3, true), (7, true)]);
}

/// An acquiring atomic access synchronizes-with the write it reads from, so
/// whatever happens before that write happens before the access itself, as
/// in C++ [intro.races] (and TSan, which acquires before checking).
#[test]
fn acquire_load_is_ordered_after_plain_write_published_by_the_store_it_reads() {
    assert_last_event(
        "main fork t1
         main write x
         main store x release
         t1 load x acquire",
        false,
    );
    assert_last_event(
        "main fork t1
         main read x
         main store x release
         t1 rmw x acqrel",
        false,
    );
    assert_last_event(
        "main fork t1
         main write x
         main fence release
         main store x relaxed
         t1 rmw x acquire",
        false,
    );
}

#[test]
fn reference_a_span_published_inside_races_and_one_published_after_it_ends_does_not() {
    let inside = "main fork t1
         main with_mut x
         main store flag release
         main done
         t1 load flag acquire
         t1 read x";
    assert_last_event(inside, true);
    let after = "main fork t1
         main with_mut x
         main done
         main store flag release
         t1 load flag acquire
         t1 read x";
    assert_last_event(after, false);
}

#[test]
fn reference_a_span_is_checked_where_it_starts_and_races_while_open() {
    // t1's write happens before the span starts: ordered.
    assert_last_event(
        "main fork t1
         t1 write x
         t1 store flag release
         main load flag acquire
         main with x",
        false,
    );
    // An access during the open span, even one ordered after its start.
    assert_last_event(
        "main fork t1
         main with x
         main store flag release
         t1 load flag acquire
         t1 write x",
        true,
    );
    // Reads do not conflict with a reading span.
    assert_last_event(
        "main fork t1
         main with x
         t1 read x",
        false,
    );
}

#[test]
fn reference_nested_spans_end_in_their_own_order() {
    let trace = "main fork t1
         main with_mut outer
         main with_mut inner
         main done
         main store flag release
         main done
         t1 load flag acquire
         t1 read inner
         t1 read outer";
    let verdicts = reference_races(trace);
    // The inner span ended before the publication, the outer one after.
    assert_eq!(&verdicts[verdicts.len() - 2..], [(7, false), (8, true)]);
    let parsed = Trace::parse(trace).unwrap();
    assert!(check(&parsed.events, Detector::new).unwrap().is_none());
}

#[test]
fn a_span_left_open_by_an_ending_thread_or_a_done_without_one_is_an_error() {
    let unmatched = Trace::parse("main done").unwrap();
    let e = unmatched.races().unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("no open `with`/`with_mut`"), "{e}");
    let open = Trace::parse(
        "main fork t1
         t1 with x
         main join t1",
    )
    .unwrap();
    let e = open.races().unwrap_err();
    assert_eq!(e.line, 3);
    assert!(
        e.message.contains("ends inside 1 open `with`/`with_mut`"),
        "{e}"
    );
}

#[test]
fn printed_traces_parse_back_to_the_same_verdicts() {
    let mut rng = Rng::new(7);
    for n in 0..2_000 {
        let events = if n % 2 == 0 {
            generate(&mut rng)
        } else {
            generate_spans(&mut rng, false)
        };
        let text = to_text(&events);
        let parsed = Trace::parse(&text).expect("printed trace parses");
        assert_eq!(parsed.events.len(), events.len());
        let (a, _) = engine(&events, Detector::new()).unwrap();
        let (b, _) = engine(&parsed.events, Detector::new()).unwrap();
        let races = |v: &[Option<_>]| v.iter().map(Option::is_some).collect::<Vec<_>>();
        assert_eq!(races(&a), races(&b), "{text}");
    }
}

/// A number from the environment (soak runs), or `default`.
fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
}

/// Runs engine and reference on a generated trace and panics, with the
/// trace shrunk, where they disagree or where a disciplined trace races.
/// Returns the engine's replay and the reference's view.
fn agree(events: &[Event], disciplined: bool, what: &str) -> (Replay, support::Reference) {
    let (verdicts, replay) = engine(events, Detector::new())
        .unwrap_or_else(|e| panic!("{what} is invalid: {e}\n{}", to_text(events)));
    let r = reference(events);
    if support::compare(events, &r, &verdicts).is_some() {
        panic!("{}", report(events, &Detector::new, what));
    }
    assert!(
        !disciplined || (0..events.len()).all(|i| !r.races(i)),
        "the reference finds a race in disciplined {what}:\n{}",
        to_text(events)
    );
    (replay, r)
}

#[derive(Default, Debug)]
struct Stats {
    traces: usize,
    events: usize,
    accesses: usize,
    racy_accesses: usize,
    ordered_conflicts: usize,
    traces_with_race: usize,
    traces_reusing_slots: usize,
}

#[test]
fn engine_matches_reference_on_every_access_of_random_traces() {
    // Soak runs: RACEDET_DIFF_TRACES=5000000 RACEDET_DIFF_SEED=7 cargo test
    // --release ... (the defaults keep `cargo test` fast and reproducible).
    let traces = env("RACEDET_DIFF_TRACES", 100_000) as usize;
    let seed = env("RACEDET_DIFF_SEED", 0x5eed_2024);
    let start = Instant::now();
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    for n in 0..traces {
        // One trace in three is race-free by construction: it keeps the
        // engine honest on long, fully ordered histories, and checks the
        // reference agrees that disciplined code does not race.
        let disciplined = n % 3 == 0;
        let events: Vec<Event> = if disciplined {
            generate_disciplined(&mut rng)
        } else {
            generate(&mut rng)
        };
        let (replay, r) = agree(&events, disciplined, &format!("seed {seed:#x}, trace {n}"));
        let accesses: Vec<usize> = (0..events.len())
            .filter(|&i| support::access_of(events[i].op).is_some())
            .collect();
        let racy = accesses.iter().filter(|&&i| r.races(i)).count();
        stats.traces += 1;
        stats.events += events.len();
        stats.accesses += accesses.len();
        stats.racy_accesses += racy;
        stats.traces_with_race += (racy > 0) as usize;
        stats.ordered_conflicts += r.ordered_conflicts;
        stats.traces_reusing_slots +=
            (replay.detector().slot_count() < support::thread_count(&events)) as usize;
    }
    println!("seed {seed:#x}: {stats:?} in {:?}", start.elapsed());
    // The generator must exercise both verdicts and slot reuse, or agreement
    // proves little.
    assert!(stats.traces_with_race > traces / 2, "{stats:?}");
    assert!(stats.racy_accesses > stats.accesses / 10, "{stats:?}");
    assert!(stats.ordered_conflicts > stats.accesses / 10, "{stats:?}");
    assert!(stats.traces_reusing_slots > traces / 10, "{stats:?}");
}

#[derive(Default, Debug)]
struct SpanStats {
    traces: usize,
    spans: usize,
    nested: usize,
    /// Nested spans inside which their thread released before they ended
    /// (the nested reserve in use).
    nested_across_release: usize,
    racy_spans: usize,
    /// Accesses of other threads whose verdict a span's end decided: made
    /// after a span's start happened before them, on a location the span
    /// conflicts with.
    decided_by_end: usize,
    raced_while_open: usize,
    rejected_over_limit: usize,
}

#[test]
fn engine_matches_reference_on_random_traces_with_spans() {
    // Soak: RACEDET_DIFF_SPAN_TRACES=2000000 cargo test --release ...
    let traces = env("RACEDET_DIFF_SPAN_TRACES", 50_000) as usize;
    let seed = env("RACEDET_DIFF_SEED", 0x5ba2_2026);
    let mut rng = Rng::new(seed);
    let mut stats = SpanStats::default();
    for n in 0..traces {
        let disciplined = n % 4 == 0;
        let events = generate_spans(&mut rng, disciplined);
        let (_, r) = agree(
            &events,
            disciplined,
            &format!("spans, seed {seed:#x}, trace {n}"),
        );
        stats.traces += 1;
        let mut end_of = vec![None; events.len()];
        let mut released_inside = vec![false; events.len()];
        let mut open: Vec<Vec<usize>> = vec![Vec::new(); events.len() + 1];
        for (i, e) in events.iter().enumerate() {
            let spans = &mut open[e.thread];
            if support::publishes(e.op) {
                for &start in spans.iter() {
                    released_inside[start] = true;
                }
            }
            match e.op {
                Op::With(_) | Op::WithMut(_) => {
                    stats.spans += 1;
                    stats.nested += !spans.is_empty() as usize;
                    stats.racy_spans += r.races(i) as usize;
                    spans.push(i);
                }
                Op::Done => {
                    let start = spans.pop().unwrap();
                    end_of[start] = Some(i);
                    stats.nested_across_release +=
                        (!spans.is_empty() && released_inside[start]) as usize;
                }
                _ => {}
            }
        }
        for (i, e) in events.iter().enumerate() {
            let Some(a) = support::access_of(e.op) else {
                continue;
            };
            for (j, s) in events.iter().enumerate().take(i) {
                let (Op::With(l) | Op::WithMut(l)) = s.op else {
                    continue;
                };
                let conflicts = l == a.location
                    && s.thread != e.thread
                    && (a.writes || matches!(s.op, Op::WithMut(_)));
                if !conflicts || r.hb[i] & (1u128 << j) == 0 {
                    continue;
                }
                // The span's start happens before this access: only its
                // end decides.
                if end_of[j].is_some_and(|end| r.hb[i] & (1u128 << end) != 0) {
                    stats.decided_by_end += 1;
                } else {
                    stats.raced_while_open += 1;
                }
            }
        }
    }
    // How often the limits turn a trace away (a fresh stream, so the
    // checked traces above stay those of the seed).
    let mut probe = Rng::new(seed ^ 1);
    for _ in 0..1_000 {
        let mut rng = Rng::new(probe.next_u64());
        let events = support::generate_spans_unchecked(&mut rng, false);
        stats.rejected_over_limit += !within_span_limits(&events) as usize;
    }
    println!("seed {seed:#x}: {stats:?}");
    // Both ways a span's end can decide must be common, and nesting too, or
    // agreement proves little.
    assert!(stats.spans > traces, "{stats:?}");
    assert!(stats.nested > traces / 10, "{stats:?}");
    assert!(stats.nested_across_release > traces / 50, "{stats:?}");
    assert!(stats.racy_spans > traces / 10, "{stats:?}");
    assert!(stats.decided_by_end > traces / 10, "{stats:?}");
    assert!(stats.raced_while_open > traces / 10, "{stats:?}");
    // The limits must turn few traces away, or what is checked drifts.
    assert!(stats.rejected_over_limit < 100, "{stats:?}");
}

#[test]
fn shrinker_reduces_a_racy_trace_to_fork_and_two_accesses() {
    // Any property works for the shrinker; "the engine reports a race"
    // has a known smallest witness: a fork and two conflicting accesses.
    let engine_races = |events: &[Event]| {
        engine(events, Detector::new()).is_ok_and(|(v, _)| v.iter().any(Option::is_some))
    };
    let mut rng = Rng::new(11);
    let mut shrunk = 0;
    while shrunk < 20 {
        let events = generate(&mut rng);
        if !engine_races(&events) {
            continue;
        }
        let small = support::shrink_by(events, &engine_races);
        assert_eq!(small.len(), 3, "{}", to_text(&small));
        assert!(matches!(small[0].op, Op::Fork(_)), "{}", to_text(&small));
        shrunk += 1;
    }
}
