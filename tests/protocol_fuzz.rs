//! Random and mutated frames through the frame decoder and every message decoder: no panic,
//! and no allocation beyond what the input bytes justify.
//!
//! The allocation bound is measured, not assumed: this test binary installs a counting global
//! allocator (per thread, so parallel tests do not disturb it) and records, for every decode,
//! the peak heap growth and the largest single allocation, relative to the input size. A decoder
//! that trusted a length prefix (a claimed 2^31-element array over a 60-byte frame) would blow
//! through the bound at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use keel::protocol::messages::{ApiVersionsResponse, DescribeQuorumResponse, VoteResponse};
use keel::protocol::messages::{api_versions_response, describe_quorum_response, vote_response};
use keel::protocol::{
    ApiKey, FrameDecoder, Message, Reader, RequestBody, ResponseBody, decode_request,
};

struct CountingAllocator;

thread_local! {
    static LIVE_BYTES: Cell<usize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<usize> = const { Cell::new(0) };
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    let _ = LIVE_BYTES.try_with(|live| {
        live.set(live.get() + size);
        let _ = PEAK_BYTES.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
    let _ = LARGEST_ALLOCATION.try_with(|largest| largest.set(largest.get().max(size)));
}

fn note_free(size: usize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get().saturating_sub(size)));
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_allocation(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap growth and largest single allocation while running `f`.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let live_before = LIVE_BYTES.with(Cell::get);
    PEAK_BYTES.with(|p| p.set(live_before));
    LARGEST_ALLOCATION.with(|l| l.set(0));
    let result = f();
    let growth = PEAK_BYTES.with(Cell::get) - live_before;
    (result, growth, LARGEST_ALLOCATION.with(Cell::get))
}

/// splitmix64: a small deterministic generator, so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Frame bodies (without size prefix) of every checked-in vector: valid messages to mutate.
fn seed_frames() -> Vec<(bool, ApiKey, i16, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/vectors");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "hex") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
                .unwrap()
                .trim()
                .to_owned()
        };
        let api = field("api");
        let api = *ApiKey::ALL.iter().find(|k| k.name() == api).unwrap();
        let version: i16 = field("version").parse().unwrap();
        let mut bytes = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            for token in line.split_whitespace() {
                if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                    break;
                }
                for pair in token.as_bytes().chunks(2) {
                    bytes.push(u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap());
                }
            }
        }
        seeds.push((
            field("direction") == "request",
            api,
            version,
            bytes[4..].to_vec(),
        ));
    }
    assert!(seeds.len() >= 20);
    seeds.extend(large_seeds());
    seeds
}

/// Large valid bodies: thousands of array elements, including the worst case for memory per
/// input byte (VoteResponse topics of 3 wire bytes each, which decode into ~72-byte structs).
fn large_seeds() -> Vec<(bool, ApiKey, i16, Vec<u8>)> {
    let many_topics = VoteResponse {
        topics: vec![vote_response::TopicData::default(); 3000],
        ..VoteResponse::default()
    };
    let many_api_keys = ApiVersionsResponse {
        api_keys: (0..2000)
            .map(|k| api_versions_response::ApiVersion {
                api_key: k,
                ..Default::default()
            })
            .collect(),
        ..ApiVersionsResponse::default()
    };
    let replica = describe_quorum_response::ReplicaState {
        replica_id: 7,
        log_end_offset: 99,
        ..Default::default()
    };
    let many_observers = DescribeQuorumResponse {
        topics: vec![describe_quorum_response::TopicData {
            topic_name: "__cluster_metadata".into(),
            partitions: vec![describe_quorum_response::PartitionData {
                observers: vec![replica; 1500],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..DescribeQuorumResponse::default()
    };
    // The response header (a 4-byte correlation id, plus a tag byte when flexible) comes first,
    // as in the vectors, so the bodies are framed the same way.
    let framed = |flexible_header: bool, body: Vec<u8>| {
        let mut out = vec![0, 0, 0, 1];
        if flexible_header {
            out.push(0);
        }
        out.extend(body);
        out
    };
    vec![
        (
            false,
            ApiKey::Vote,
            2,
            framed(true, many_topics.to_bytes(2).unwrap()),
        ),
        (
            false,
            ApiKey::ApiVersions,
            3,
            framed(false, many_api_keys.to_bytes(3).unwrap()),
        ),
        (
            false,
            ApiKey::ApiVersions,
            0,
            framed(false, many_api_keys.to_bytes(0).unwrap()),
        ),
        (
            false,
            ApiKey::DescribeQuorum,
            1,
            framed(true, many_observers.to_bytes(1).unwrap()),
        ),
    ]
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(8) {
            0 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] = [0x00, 0xff, 0x7f, 0x80, 0x01][rng.below(5)];
            }
            2 if out.len() >= 4 => {
                // A length or count field set to something absurd.
                let at = rng.below(out.len() - 3);
                let value: [u8; 4] = [
                    [0x7f, 0xff, 0xff, 0xff],
                    [0xff, 0xff, 0xff, 0xff],
                    [0xff, 0xff, 0xff, 0xfe],
                    [0xff, 0xff, 0xff, 0x0f],
                ][rng.below(4)];
                out[at..at + 4].copy_from_slice(&value);
            }
            3 => {
                let at = rng.below(out.len() + 1);
                out.truncate(at);
            }
            4 => {
                let at = rng.below(out.len() + 1);
                let extra: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.byte()).collect();
                out.splice(at..at, extra);
            }
            5 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(8)).min(out.len());
                out.drain(start..end);
            }
            6 if !out.is_empty() => {
                // Unterminated varint: a run of continuation bytes.
                let at = rng.below(out.len());
                let run = 1 + rng.below(6);
                for i in at..(at + run).min(out.len()) {
                    out[i] = 0x80 | rng.byte();
                }
            }
            _ => {
                let at = rng.below(out.len() + 1);
                out.truncate(at);
                out.extend((0..rng.below(16)).map(|_| rng.byte()));
            }
        }
    }
    out
}

/// The worst ratios seen over inputs of at least 1 KiB (where fixed costs no longer dominate).
struct Worst {
    growth_per_input_byte: f64,
    largest_per_input_byte: f64,
    large_inputs: usize,
}

/// Heap growth allowed per input byte: the largest decoded struct (about 90 bytes in memory)
/// can come from as few as 3 input bytes, and vectors grow by doubling. Measured worst cases
/// are printed by the test; this bound leaves headroom over them.
const GROWTH_PER_INPUT_BYTE_MAX: f64 = 64.0;
/// Fixed overhead allowed per decode regardless of input size (error values, small strings).
const GROWTH_FIXED_BYTES_MAX: usize = 1024;

fn check_bound(worst: &mut Worst, input: &[u8], growth: usize, largest: usize, what: &str) {
    let input_bytes = input.len().max(1) as f64;
    assert!(
        growth <= (GROWTH_PER_INPUT_BYTE_MAX * input_bytes) as usize + GROWTH_FIXED_BYTES_MAX,
        "{what}: decoding {} bytes grew the heap by {growth} bytes: {input:02x?}",
        input.len()
    );
    if input.len() >= 1024 {
        worst.large_inputs += 1;
        worst.growth_per_input_byte = worst.growth_per_input_byte.max(growth as f64 / input_bytes);
        worst.largest_per_input_byte = worst
            .largest_per_input_byte
            .max(largest as f64 / input_bytes);
    }
}

#[test]
fn mutated_and_random_frames_never_panic_nor_allocate_beyond_their_size() {
    const FRAMES: usize = 120_000;
    let seeds = seed_frames();
    let mut rng = Rng(0x6b65_656c_f022);
    let mut worst = Worst {
        growth_per_input_byte: 0.0,
        largest_per_input_byte: 0.0,
        large_inputs: 0,
    };
    let mut decoded_ok = 0usize;
    let mut decodes = 0usize;
    for i in 0..FRAMES {
        let (_, api, version, seed) = &seeds[rng.below(seeds.len())];
        let frame = if i % 10 == 0 {
            (0..rng.below(256)).map(|_| rng.byte()).collect()
        } else {
            mutate(&mut rng, seed)
        };

        let (result, growth, largest) = measure(|| decode_request(&frame).is_ok());
        decoded_ok += usize::from(result);
        decodes += 1;
        check_bound(&mut worst, &frame, growth, largest, "decode_request");

        // The same bytes as every response and request body keel knows, at a random supported
        // version, and at the seed's own version: the body decoders face input meant for others.
        let body_start = frame.len().min(if rng.below(2) == 0 {
            0
        } else {
            4 + rng.below(12)
        });
        let body = &frame[body_start..];
        for &key in ApiKey::ALL {
            let versions = key.versions();
            let random_version = versions.start()
                + rng.below((versions.end() - versions.start() + 1) as usize) as i16;
            let version = if key == *api {
                *version
            } else {
                random_version
            };
            let (result, growth, largest) =
                measure(|| ResponseBody::decode(key, &mut Reader::new(body), version).is_ok());
            decoded_ok += usize::from(result);
            check_bound(&mut worst, body, growth, largest, key.name());
            let (result, growth, largest) =
                measure(|| RequestBody::decode(key, &mut Reader::new(body), version).is_ok());
            decoded_ok += usize::from(result);
            check_bound(&mut worst, body, growth, largest, key.name());
            decodes += 2;
        }
    }
    println!(
        "fuzz: {FRAMES} frames, {decodes} decodes ({decoded_ok} decoded without error); over {} decodes of inputs \
         >= 1 KiB: worst heap growth {:.1} bytes per input byte, worst single allocation {:.1} bytes per input byte",
        worst.large_inputs, worst.growth_per_input_byte, worst.largest_per_input_byte
    );
    assert!(
        worst.large_inputs > 1000,
        "the large seeds must be exercised"
    );
    assert!(
        decoded_ok > FRAMES / 20,
        "mutations should leave some frames decodable: {decoded_ok}"
    );
}

#[test]
fn a_stream_of_mutated_frames_in_random_pieces_never_panics_nor_buffers_beyond_its_input() {
    let seeds = seed_frames();
    let mut rng = Rng(0xf4a3_e0c1);
    let max_frame_bytes = 4096;
    let mut frames_out = 0usize;
    for _ in 0..2_000 {
        // A stream of size-prefixed frames whose prefixes and bodies are mutated.
        let mut stream = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let seed = &seeds[rng.below(seeds.len())].3;
            let body = mutate(&mut rng, seed);
            let mut size = (body.len() as i32).to_be_bytes();
            if rng.below(8) == 0 {
                size = [
                    [0x7f, 0xff, 0xff, 0xff],
                    [0xff, 0xff, 0xff, 0xff],
                    [0, 0, 0x10, 0x01],
                ][rng.below(3)];
            }
            stream.extend_from_slice(&size);
            stream.extend_from_slice(&body);
        }
        let mut decoder = FrameDecoder::new(max_frame_bytes);
        let mut fed = 0;
        let mut position = 0;
        'feed: while position < stream.len() {
            let piece = (1 + rng.below(64)).min(stream.len() - position);
            decoder.extend(&stream[position..position + piece]);
            position += piece;
            fed += piece;
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        assert!(frame.len() <= max_frame_bytes as usize);
                        let _ = decode_request(frame);
                        frames_out += 1;
                    }
                    Ok(None) => break,
                    Err(_) => break 'feed, // the connection would be closed here
                }
            }
            assert!(
                decoder.buffered_bytes() <= fed,
                "the decoder holds only bytes it was given"
            );
        }
    }
    assert!(
        frames_out > 1_000,
        "most streams should yield frames: {frames_out}"
    );
}
