"""Digest matching at scale: 10,000 subscribers x 5 keywords x 1,000 new papers.

Keywords are drawn from a realistic vocabulary with a Zipf-like skew (a few topics are
very popular, so many subscribers share keywords). Two ways are timed in the same run, each
producing what a digest needs of matching: per subscriber, the matched papers in batch
order, and the reasons (keyword, where) of the first DIGEST_MAX of them (those a digest
shows); both must produce exactly the same:
  - memoised loop (baseline): the obvious program. Per distinct keyword, read it once and
    look for it in every paper once (papers are tokenised once); then per subscriber,
    combine the cached hits of its keywords,
  - Matcher: index the batch once, evaluate each distinct keyword once through the index,
    then combine the cached hits per subscriber (what a digest run does).
Figures are medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from bot.matching import Matcher, Where, learn, locate, parse_keyword, prepare, read_keyword
from bot.records import Paper
from bot.sources import parse_page

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

VOCABULARY = [
    *("transformer", "transformers", "attention", "GNN", "graph neural networks", "LLM"),
    *("diffusion models", "pruning", "quantization", "quantisation", "knowledge distillation"),
    *("MoE", "mixture of experts", "NAS", "neural architecture search", "CNN", "RNN"),
    *("reinforcement learning", "continual learning", "federated learning", "GAN"),
    *("contrastive learning", "self-supervised learning", "low-rank", "LoRA", "sparsity"),
    *("interpretability", "explainability", "robustness", "adversarial attacks", "-survey"),
    *("batch normalization", "normalisation", "dropout", "optimizer", "SGD", "Adam"),
    *("spiking neural networks", "SNN", "hypernetworks", "meta-learning", "few-shot"),
    *("lottery ticket", "overparameterization", "double descent", "scaling laws"),
    *("kolmogorov-arnold networks", "KAN", "PDE", "physics-informed", "neural ODE"),
    *("equivariance", "symmetry", "tabular data", "time series", "forecasting"),
    *("object detection", "segmentation", "ViT", "vision transformers", "CLIP"),
    *("tranformer", "prunning", "distilation", "convolutinal", "embeddings", "tokenizer"),
    *("recommender systems", "graph convolutional networks", "GCN", "message passing"),
    *("residual connections", "skip connections", "initialization", "training dynamics"),
    *("generalisation", "overfitting", "regularisation", "weight decay", "curriculum"),
    *("benchmark", "dataset", "hardware", "FPGA", "energy efficiency", "edge devices"),
]


def synthetic_batch(seeds: Path, size: int, rng: random.Random) -> list[Paper]:
    """`size` new papers: the seed papers, then recombinations of their titles and abstracts."""
    seed_papers = [
        p for f in sorted(seeds.glob("*.txt")) for p in parse_page(f.read_bytes()).papers
    ]
    batch = list({p.title: p for p in seed_papers}.values())[:size]
    while len(batch) < size:
        one, other = rng.sample(seed_papers, 2)
        half = len(one.abstract) // 2
        batch.append(
            Paper(f"{one.title} {len(batch)}", one.abstract[:half] + other.abstract[half:])
        )
    return batch


def subscribers(count: int, per: int, rng: random.Random) -> list[list[str]]:
    weights = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
    return [
        list(dict.fromkeys(rng.choices(VOCABULARY, weights=weights, k=per))) for _ in range(count)
    ]


# Papers a digest shows with their reasons (PAPERBOY_DIGEST_MAX's default).
DIGEST_MAX = 10

# Per subscriber: the matched papers (batch positions) in batch order, and the reasons
# (keyword, where) of the first DIGEST_MAX of them.
Result = list[tuple[list[int], list[list[tuple[str, Where]]]]]


def fast(papers: list[Paper], subs: list[list[str]]) -> tuple[float, Result]:
    start = time.perf_counter()
    matcher = Matcher(papers)
    result: Result = []
    for keywords in subs:
        matches = matcher.match(keywords)
        shown = [[(hit.keyword, hit.where) for hit in m.hits] for m in matches[:DIGEST_MAX]]
        result.append((matches.indices, shown))
    return time.perf_counter() - start, result


def memoised(papers: list[Paper], subs: list[list[str]]) -> tuple[float, Result]:
    start = time.perf_counter()
    vocabulary, acronyms = learn(papers)
    documents = [prepare(paper) for paper in papers]
    found: dict[str, dict[int, Where]] = {}  # keyword -> paper -> where (the title wins)
    result: Result = []
    for keywords in subs:
        included: list[str] = []
        excluded: list[str] = []
        for raw in keywords:
            keyword, exclude = parse_keyword(raw)
            if keyword not in found:
                patterns = read_keyword(keyword, vocabulary, acronyms).patterns
                hits: dict[int, Where] = {}
                for index, document in enumerate(documents):
                    places = {locate(document, pattern) for pattern in patterns}
                    if "title" in places or "abstract" in places:
                        hits[index] = "title" if "title" in places else "abstract"
                found[keyword] = hits
            (excluded if exclude else included).append(keyword)
        matched = set().union(*(found[k] for k in included))
        matched.difference_update(*(found[k] for k in excluded))
        indices = sorted(matched)
        shown = [
            [(k, found[k][index]) for k in included if index in found[k]]
            for index in indices[:DIGEST_MAX]
        ]
        result.append((indices, shown))
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--keywords", type=int, default=5)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    args = parser.parse_args()

    rng = random.Random(7)
    papers = synthetic_batch(args.seeds, args.papers, rng)
    subs = subscribers(args.subscribers, args.keywords, rng)
    fast_times: list[float] = []
    memoised_times: list[float] = []
    for _ in range(args.repeat):
        seconds, result = fast(papers, subs)
        fast_times.append(seconds)
        memoised_seconds, expected = memoised(papers, subs)
        memoised_times.append(memoised_seconds)
        assert result == expected, "the memoised loop must find exactly the same matches"

    distinct = len({k for keywords in subs for k in keywords})
    matched = sum(len(indices) for indices, _ in result)
    fast_median = statistics.median(fast_times)
    memoised_median = statistics.median(memoised_times)
    print(
        f"{len(subs):,} subscribers x {args.keywords} keywords ({distinct} distinct) "
        f"x {len(papers):,} papers; {matched:,} subscriber-paper matches"
    )
    print(f"medians over {args.repeat} runs (reasons built for the first {DIGEST_MAX} of each):")
    print(f"  memoised loop (baseline) {memoised_median:7.2f} s")
    print(
        f"  Matcher                  {fast_median:7.2f} s"
        f"  {memoised_median / fast_median:5.2f}x faster"
    )
    print(f"machine load (1-minute average) {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
