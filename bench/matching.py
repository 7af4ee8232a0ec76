"""Digest matching at scale: 10,000 subscribers x 5 keywords x 1,000 new papers.

Keywords are drawn from a realistic vocabulary with a Zipf-like skew (a few topics are
very popular, so many subscribers share keywords). Two ways are timed in the same run:
  - Matcher: index the batch once, evaluate each distinct keyword once, then combine the
    cached hits per subscriber (what a digest run does),
  - naive loop (baseline): per subscriber, per keyword, per paper, compile the keyword and
    look for it in the paper (papers are tokenised once, which favours the baseline).
The naive loop over all subscribers would take many minutes, so it runs on a sample of
subscribers and is scaled up linearly (each subscriber costs the same in that loop).
Figures are medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from bot.matching import Matcher, learn, locate, parse_keyword, prepare, read_keyword
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


def fast(papers: list[Paper], subs: list[list[str]]) -> tuple[float, int]:
    start = time.perf_counter()
    matcher = Matcher(papers)
    matched = sum(len(matcher.match(keywords)) for keywords in subs)
    return time.perf_counter() - start, matched


def naive(papers: list[Paper], subs: list[list[str]]) -> tuple[float, int]:
    vocabulary, acronyms = learn(papers)
    documents = [prepare(paper) for paper in papers]
    start = time.perf_counter()
    matched = 0
    for keywords in subs:
        included: set[int] = set()
        excluded: set[int] = set()
        for raw in keywords:
            keyword, exclude = parse_keyword(raw)
            patterns = read_keyword(keyword, vocabulary, acronyms).patterns
            for index, document in enumerate(documents):
                if any(locate(document, pattern) for pattern in patterns):
                    (excluded if exclude else included).add(index)
        matched += len(included - excluded)
    return time.perf_counter() - start, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--keywords", type=int, default=5)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    args = parser.parse_args()

    rng = random.Random(7)
    papers = synthetic_batch(args.seeds, args.papers, rng)
    subs = subscribers(args.subscribers, args.keywords, rng)
    sample = subs[: args.naive_sample]
    scale = len(subs) / len(sample)
    fast_times: list[float] = []
    naive_times: list[float] = []
    for _ in range(args.repeat):
        seconds, matched = fast(papers, subs)
        fast_times.append(seconds)
        naive_seconds, naive_matched = naive(papers, sample)
        naive_times.append(naive_seconds * scale)
    sample_matched = fast(papers, sample)[1]
    assert naive_matched == sample_matched, "the naive loop must find exactly the same matches"

    distinct = len({k for keywords in subs for k in keywords})
    fast_median = statistics.median(fast_times)
    naive_median = statistics.median(naive_times)
    print(
        f"{len(subs):,} subscribers x {args.keywords} keywords ({distinct} distinct) "
        f"x {len(papers):,} papers; {matched:,} subscriber-paper matches"
    )
    print(f"medians over {args.repeat} runs:")
    print(
        f"  naive loop (baseline)  {naive_median:9.2f} s"
        f"  (measured on {len(sample)} subscribers, x{scale:g})"
    )
    print(
        f"  Matcher                {fast_median:9.2f} s  {naive_median / fast_median:8.0f}x faster"
    )


if __name__ == "__main__":
    main()
