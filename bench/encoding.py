"""Encoding at scale: mentor's cached sentence encoder against a bare sentence-transformers ``encode``, and the
embedding cache at a million rows.

1. **Encoder speed.** The same ``--texts`` node texts of a generated graph (12 words each, as ``bench/scale.py``
   uses) encoded by ``SentenceTransformer.encode`` alone and by mentor's ``SentenceEncoder`` (hashing every text,
   looking it up, encoding the missing ones in batches, committing each batch to a new, empty cache), arms
   alternating over ``--rounds``; the ratio is mentor's seconds over the bare ones. Then mentor again on the filled
   cache: every text a lookup.
2. **Memory.** ``--memory-texts`` texts whose vectors are all in the cache, read into features in a fresh process:
   the growth of its peak RSS (sampled every 10 ms) over the features' own size.
3. **The cache at 10⁶ rows.** ``--rows`` random 384-dimensional vectors inserted into an empty cache in batches of
   256 (as a finished encoding batch is committed); inserts per second per tenth, and lookups per second of 10,000
   random keys at 10⁴, 10⁵ and 10⁶ rows.

Writes ``bench/results/encoding.json`` and a section of ``docs/benchmarks.md``.

    python bench/encoding.py --texts 10000 --rounds 2 --rows 1000000 --memory-texts 300000
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, record_invocation, rss_bytes, write_json, write_section  # noqa: E402

from mentor.graph import make_synthetic  # noqa: E402
from mentor.graph.features.cache import EmbeddingCache, text_key  # noqa: E402
from mentor.graph.features.encoder import SentenceEncoder, packaged_encoder_path  # noqa: E402

RESULTS_NAME = "encoding"
BATCH = 64


def encoder_speed(texts_count: int, rounds: int, tmp: Path) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    bare = SentenceTransformer(str(packaged_encoder_path("minilm")), device="cpu")
    seconds: dict[str, list[float]] = {"bare": [], "mentor": []}
    cached = 0.0
    for round_ in range(rounds):
        texts = make_synthetic(num_nodes=texts_count, num_classes=8, words=12, seed=100 + round_).texts
        assert texts is not None
        for arm in ("bare", "mentor") if round_ % 2 == 0 else ("mentor", "bare"):
            started = time.perf_counter()
            if arm == "bare":
                bare.encode(texts, batch_size=BATCH, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)  # fmt: skip
            else:
                encoder = SentenceEncoder("minilm", cache_path=tmp / f"speed{round_}.sqlite", batch_size=BATCH)
                encoder._model = bare  # the same loaded model: what is compared is mentor's work around it
                encoder.encode(texts, progress=False)
                assert encoder.encoded_last == len(set(texts))
            seconds[arm].append(time.perf_counter() - started)
            print(f"round {round_} {arm}: {texts_count / seconds[arm][-1]:.0f} texts/s", flush=True)
        started = time.perf_counter()
        again = SentenceEncoder("minilm", cache_path=tmp / f"speed{round_}.sqlite")
        again.encode(texts, progress=False)
        assert again.encoded_last == 0
        cached = time.perf_counter() - started
    bare_s, mentor_s = sum(seconds["bare"]), sum(seconds["mentor"])
    return {"texts": texts_count, "rounds": rounds, "batch_size": BATCH, "seconds": seconds,
            "bare_texts_per_s": round(texts_count * rounds / bare_s, 1),
            "mentor_texts_per_s": round(texts_count * rounds / mentor_s, 1),
            "ratio_mentor_over_bare_seconds": round(mentor_s / bare_s, 3),
            "from_cache_texts_per_s": round(texts_count / cached, 0)}  # fmt: skip


def features_memory(count: int, tmp: Path) -> dict[str, Any]:
    """In a fresh process: ``count`` cached vectors read into features; peak RSS growth against their size."""
    child = subprocess.run([sys.executable, __file__, "--memory-child", str(count), str(tmp / "memory.sqlite")],
                           capture_output=True, text=True, check=True)  # fmt: skip
    features, peak = map(int, child.stdout.split()[-2:])
    return {"texts": count, "features_mb": round(features / 1e6), "peak_growth_mb": round(peak / 1e6),
            "peak_over_features": round(peak / features, 2)}  # fmt: skip


def _memory_child(count: int, path: Path) -> None:
    encoder = SentenceEncoder("minilm", cache_path=path)
    texts = [f"node text number {i}" for i in range(count)]
    rng = np.random.default_rng(0)
    for start in range(0, count, 5000):
        chunk = texts[start : start + 5000]
        vectors = rng.standard_normal((len(chunk), 384), dtype=np.float32)
        encoder.cache.put(encoder.identity, zip(map(text_key, chunk), vectors, strict=True))
    del chunk, vectors
    gc.collect()
    base = rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    x = encoder.encode(texts, progress=False)
    stop.set()
    sampler.join()
    assert encoder.encoded_last == 0
    print(x.numel() * 4, max(peak[0], rss_bytes()) - base)


def cache_at_scale(rows: int, tmp: Path) -> dict[str, Any]:
    cache = EmbeddingCache(tmp / "rows.sqlite")
    rng = np.random.default_rng(0)
    keys: list[str] = []
    inserts: list[dict[str, float]] = []
    lookups: list[dict[str, float]] = []
    checkpoints = sorted({c for c in (10_000, 100_000, 1_000_000, rows) if c <= rows})
    step = max(rows // 10, 256)
    started, done, last = time.perf_counter(), 0, 0
    while done < rows:
        count = min(256, rows - done)
        batch = [text_key(f"text {done + i}") for i in range(count)]
        cache.put("bench", zip(batch, rng.standard_normal((count, 384), dtype=np.float32), strict=True))
        keys += batch
        done += count
        if done % step < 256 or done == rows:
            elapsed = time.perf_counter() - started
            inserts.append({"rows": done, "inserts_per_s": round((done - last) / elapsed, 0)})
            started, last = time.perf_counter(), done
        if checkpoints and done >= checkpoints[0]:
            sample = random.Random(done).sample(keys, min(10_000, len(keys)))
            t = time.perf_counter()
            found = cache.get("bench", sample)
            looked = time.perf_counter() - t
            lookups.append({"rows": done, "lookups_per_s": round(len(sample) / looked, 0)})
            assert len(found) == len(sample)
            checkpoints.pop(0)
            started += time.perf_counter() - t  # the lookups' time is not the inserts'

    cache.close()
    size = (tmp / "rows.sqlite").stat().st_size
    return {"rows": rows, "dim": 384, "file_gb": round(size / 1e9, 2), "inserts": inserts, "lookups": lookups}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-texts", type=int, default=300_000)
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)  # texts, cache path
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(int(args.memory_child[0]), Path(args.memory_child[1]))
        return
    results: dict[str, Any] = {"benchmark": RESULTS_NAME}
    record_invocation(results, "encoding.py")
    with tempfile.TemporaryDirectory() as tmp:
        results["encoder"] = encoder_speed(args.texts, args.rounds, Path(tmp))
        results["memory"] = features_memory(args.memory_texts, Path(tmp))
        results["cache"] = cache_at_scale(args.rows, Path(tmp))
    results["machine"] = machine()
    write_json(RESULTS_NAME, results)
    speed, cache = results["encoder"], results["cache"]
    write_section(RESULTS_NAME, "\n".join([
        "## Encoding at scale (`bench/encoding.py`)",
        "",
        f"`{results['invocations'][-1]}` — {results['machine']['date']}, commit {results['machine']['commit']}, "
        f"{results['machine']['cpus']} CPUs. MiniLM (`minilm`) on {speed['texts']:,} generated 12-word node texts "
        f"per round, batches of {speed['batch_size']}, arms alternated over {speed['rounds']} rounds; mentor with the "
        "same loaded model and a new, empty cache each round.",
        "",
        "| arm | texts/s | seconds ratio |",
        "|---|---:|---:|",
        f"| bare `SentenceTransformer.encode` | {speed['bare_texts_per_s']:.0f} | 1.00 |",
        f"| mentor `SentenceEncoder` (hash, look up, encode, commit each batch) | {speed['mentor_texts_per_s']:.0f} | "
        f"{speed['ratio_mentor_over_bare_seconds']:.2f} |",
        f"| mentor again, every text in the cache | {speed['from_cache_texts_per_s']:.0f} | – |",
        "",
        f"Reading {results['memory']['texts']:,} cached vectors into features ({results['memory']['features_mb']} MB) "
        f"raised the peak RSS of a fresh process by {results['memory']['peak_growth_mb']} MB, "
        f"{results['memory']['peak_over_features']}× the features: each vector goes straight into the one array "
        "returned, the cache read 50,000 texts at a time.",
        "",
        f"The cache with {cache['rows']:,} vectors of {cache['dim']} floats ({cache['file_gb']} GB): inserts in "
        "batches of 256, lookups of 10,000 random keys.",
        "",
        "| rows in the cache | inserts/s (the last tenth) |",
        "|---:|---:|",
        *(f"| {row['rows']:,} | {row['inserts_per_s']:.0f} |" for row in cache["inserts"]),
        "",
        "| rows in the cache | lookups/s |",
        "|---:|---:|",
        *(f"| {row['rows']:,} | {row['lookups_per_s']:.0f} |" for row in cache["lookups"]),
    ]))  # fmt: skip
    print(f"mentor / bare seconds = {speed['ratio_mentor_over_bare_seconds']:.3f}")


if __name__ == "__main__":
    main()
