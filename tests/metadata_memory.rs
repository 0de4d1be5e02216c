//! Memory of the metadata image per partition, measured at 1,000,000 partitions (issue 6:
//! "Memory per partition is a figure you measure and report"; Kafka's snapshots cost about 100
//! bytes per partition on disk).
//!
//! This test binary installs a counting global allocator (as `protocol_fuzz.rs` does) and
//! builds images by applying records, as a replica does. It reports, per partition:
//! - `heap`: bytes the image asked the allocator for (live after the build);
//! - `malloc`: the same allocations rounded up as glibc's malloc rounds them (16-byte
//!   granules, 8 bytes of header, 32 bytes minimum), an estimate of the resident cost;
//! - `snapshot`: bytes of the image's snapshot as batches (records, length prefixes, batch
//!   headers), to compare with Kafka's ~100 bytes per partition on disk.
//!
//! Run `cargo test --release --test metadata_memory -- --nocapture` to see the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use keel::batch_size::batch_bytes;
use keel::metadata::image::Image;
use keel::metadata::record::MetadataRecord;
use keel::metadata::snapshot;
use keel::protocol::Uuid;
use keel::protocol::messages::{PartitionChangeRecord, PartitionRecord, TopicRecord};

struct CountingAllocator;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_MALLOC_BYTES: AtomicI64 = AtomicI64::new(0);

/// glibc's chunk size for a request (64-bit): header of 8 bytes, 16-byte granules, 32 minimum.
fn malloc_chunk(size: usize) -> i64 {
    ((size + 8 + 15) & !15).max(32) as i64
}

fn note(size: usize, sign: i64) {
    LIVE_BYTES.fetch_add(sign * size as i64, Ordering::Relaxed);
    LIVE_MALLOC_BYTES.fetch_add(sign * malloc_chunk(size), Ordering::Relaxed);
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(layout.size(), -1);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), -1);
        note(new_size, 1);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn live() -> (i64, i64) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_MALLOC_BYTES.load(Ordering::Relaxed),
    )
}

fn topic_id(t: u32) -> Uuid {
    let mut bytes = [0x5a; 16];
    bytes[..4].copy_from_slice(&t.to_be_bytes());
    Uuid::from_bytes(bytes)
}

/// Builds `topics` x `partitions` partitions (replication factor 3 over 30 brokers, full
/// ISR), the way a replica does: one record at a time.
fn build(topics: u32, partitions: u32) -> Image {
    let mut image = Image::new();
    let mut offset = 0u64;
    let mut apply = |image: &mut Image, record: MetadataRecord| {
        image.apply(offset, &record).unwrap();
        offset += 1;
    };
    for t in 0..topics {
        apply(
            &mut image,
            MetadataRecord::Topic(TopicRecord {
                name: format!("topic-{t:06}"),
                topic_id: topic_id(t),
                ..Default::default()
            }),
        );
        for p in 0..partitions {
            let first = ((t + p) % 30) as i32;
            let replicas = vec![first, (first + 1) % 30, (first + 2) % 30];
            apply(
                &mut image,
                MetadataRecord::Partition(PartitionRecord {
                    partition_id: p as i32,
                    topic_id: topic_id(t),
                    isr: replicas.clone(),
                    leader: first,
                    replicas,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    ..Default::default()
                }),
            );
        }
    }
    image
}

struct Figures {
    heap: f64,
    malloc: f64,
    snapshot: f64,
}

fn measure(topics: u32, partitions: u32) -> Figures {
    let total = f64::from(topics) * f64::from(partitions);
    let (heap_before, malloc_before) = live();
    let start = Instant::now();
    let image = build(topics, partitions);
    let built = start.elapsed();
    let (heap_after, malloc_after) = live();
    assert_eq!(
        image.partition_count(),
        u64::from(topics) * u64::from(partitions)
    );

    let start = Instant::now();
    let mut snapshot_bytes = 0u64;
    for batch in snapshot::snapshot_batches(&image) {
        snapshot_bytes += batch_bytes(batch.iter().map(Vec::len));
    }
    let snapshotted = start.elapsed();

    // A clone (the controller's latest view) shares partitions: it costs per topic, not per
    // partition; one change copies one chunk of at most 1024 partitions.
    let (clone_before, _) = live();
    let start = Instant::now();
    let mut copy = image.clone();
    let cloned = start.elapsed();
    copy.apply(
        u64::MAX - 1,
        &MetadataRecord::PartitionChange(PartitionChangeRecord {
            topic_id: topic_id(0),
            partition_id: 0,
            leader: 1,
            ..Default::default()
        }),
    )
    .unwrap();
    let (clone_after, _) = live();
    let clone_bytes = clone_after - clone_before;
    drop(copy);

    let figures = Figures {
        heap: (heap_after - heap_before) as f64 / total,
        malloc: (malloc_after - malloc_before) as f64 / total,
        snapshot: snapshot_bytes as f64 / total,
    };
    println!(
        "image at {total:.0} partitions ({topics} topics x {partitions}, rf 3): \
         heap {:.1} B/partition, malloc estimate {:.1} B/partition, snapshot {:.1} B/partition; \
         built in {:.2} s, snapshot encoded in {:.2} s, clone {:.1} ms and {:.1} MiB after one change",
        figures.heap,
        figures.malloc,
        figures.snapshot,
        built.as_secs_f64(),
        snapshotted.as_secs_f64(),
        cloned.as_secs_f64() * 1e3,
        clone_bytes as f64 / (1024.0 * 1024.0),
    );
    drop(image);
    figures
}

#[test]
fn a_million_partitions_cost_under_a_hundred_bytes_each() {
    // One test, so that no other test allocates while this one counts.
    let wide = measure(1_000, 1_000);
    let many_topics = measure(100_000, 10);
    println!(
        "keel_image_bytes_per_partition_1m: {:.1} (1000 topics x 1000; {:.1} with 100000 topics x 10)",
        wide.heap, many_topics.heap
    );
    assert!(wide.heap < 60.0, "{:.1} B/partition", wide.heap);
    assert!(wide.malloc < 70.0, "{:.1} B/partition", wide.malloc);
    assert!(
        many_topics.heap < 100.0,
        "{:.1} B/partition",
        many_topics.heap
    );
    assert!(wide.snapshot < 100.0, "{:.1} B/partition", wide.snapshot);
}
