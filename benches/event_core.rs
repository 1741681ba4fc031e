//! The event core (kubesim's `EventQueue`: time, FIFO tie-break sequence,
//! payload) against a bare `BinaryHeap<Reverse<(time, payload)>>` loop, in the
//! classic hold model: the queue holds N pending events; each step pops the
//! earliest and schedules one new event a pseudo-random delay later.
//!
//! Run: cargo bench --bench event_core -- --noplot

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use kubesim::sim::queue::EventQueue;
use kubesim::time::SimTime;

const STEPS: u64 = 10_000;

/// Delays from a fixed xorshift sequence, so both loops see the same work.
fn delays(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + x % 10_000_000 // up to 10 ms of virtual time
        })
        .collect()
}

/// A payload the size of a typical simulator event (component id, request id, pointer).
#[derive(Clone, Copy)]
struct Payload {
    comp: u32,
    id: u64,
    ptr: usize,
}

fn bench(c: &mut Criterion) {
    let d = delays(1 << 16);
    let mask = d.len() - 1;
    let mut group = c.benchmark_group("event_core");
    group.throughput(Throughput::Elements(STEPS));
    for pending in [1_000usize, 150_000] {
        group.bench_with_input(BenchmarkId::new("kubesim_queue", pending), &pending, |b, &pending| {
            let mut q: EventQueue<Payload> = EventQueue::with_capacity(pending + 1);
            for i in 0..pending {
                q.push(SimTime(d[i & mask]), Payload { comp: i as u32, id: i as u64, ptr: i });
            }
            let mut k = pending;
            b.iter(|| {
                for _ in 0..STEPS {
                    let (t, p) = q.pop().expect("non-empty");
                    k += 1;
                    q.push(SimTime(t.0 + d[k & mask]), Payload { comp: p.comp, id: p.id + 1, ptr: black_box(p.ptr) });
                }
            });
        });
        group.bench_with_input(BenchmarkId::new("bare_binary_heap", pending), &pending, |b, &pending| {
            let mut q: BinaryHeap<Reverse<(u64, u64, u32, usize)>> = BinaryHeap::with_capacity(pending + 1);
            for i in 0..pending {
                q.push(Reverse((d[i & mask], i as u64, i as u32, i)));
            }
            let mut k = pending;
            b.iter(|| {
                for _ in 0..STEPS {
                    let Reverse((t, id, comp, ptr)) = q.pop().expect("non-empty");
                    k += 1;
                    q.push(Reverse((t + d[k & mask], id + 1, comp, black_box(ptr))));
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
