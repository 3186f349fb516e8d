//! Hot paths of the log: encoding and decoding RecordBatch v2, appending a
//! batch to a partition, and reading batches back.
//!
//! Run: `cargo bench -p riffle-log --bench log_append`.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use riffle_log::{
    decode_batch, AppendOptions, BatchBuilder, Compression, Log, LogConfig, Record, TopicConfig,
};

fn records(n: usize, size: usize) -> Vec<Record> {
    let payload = Bytes::from(vec![b'x'; size]);
    (0..n).map(|i| Record { value: Some(payload.clone()), timestamp: Some(i as i64), ..Default::default() }).collect()
}

fn encode_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let recs = records(500, 100);
        g.throughput(Throughput::Elements(recs.len() as u64));
        g.bench_function(format!("encode_500x100B_{codec:?}"), |b| {
            b.iter(|| {
                let mut builder = BatchBuilder::new(codec);
                for r in &recs {
                    builder.push(r, 0);
                }
                black_box(builder.build(0).expect("encode"))
            })
        });
        let mut builder = BatchBuilder::new(codec);
        recs.iter().for_each(|r| builder.push(r, 0));
        let bytes = builder.build(0).expect("encode");
        g.bench_function(format!("decode_500x100B_{codec:?}"), |b| {
            b.iter(|| black_box(decode_batch(&bytes).expect("decode")))
        });
    }
    g.finish();
}

fn append_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), LogConfig { background_cleaner: false, ..Default::default() }).expect("open");
    log.create_topic("bench", TopicConfig::default()).expect("topic");
    let p = log.partition("bench", 0).expect("partition");
    let recs = records(640, 100);
    let mut g = c.benchmark_group("partition");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("append_640x100B", |b| {
        b.iter(|| black_box(p.append(&recs, &AppendOptions::default()).expect("append")))
    });
    let hw = p.high_watermark();
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("read_1MiB", |b| {
        b.iter_batched(
            || rand::random::<u64>() % (hw as u64 / 2),
            |off| black_box(p.read(off as i64, 1 << 20).expect("read")),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    log.close().expect("close");
}

criterion_group!(benches, encode_decode, append_read);
criterion_main!(benches);
