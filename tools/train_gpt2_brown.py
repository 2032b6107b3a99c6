#!/usr/bin/python3
"""Seeded CPU training of a small GPT-2 on the Brown corpus (GPT-2 tokenizer), saved as a
Hugging Face GPT-2 checkpoint (config.json + F16 model.safetensors, HF GPT2Model key names).

Needs Debian's python3-torch (1.13) and python3-numpy: `apt-get install python3-torch`, then run
with the system interpreter:

    node tools/build-gpt2-tokenizer.mjs      # weights/gpt2-brown/tokenizer.json
    node tools/brown-corpus.mjs              # weights/gpt2-brown/brown-docs.jsonl
    node tools/tokenize-brown.mjs            # tmp/brown-tokens.{bin,json} (run automatically if missing)
    /usr/bin/python3 tools/train_gpt2_brown.py

The model follows HF GPT2LMHeadModel semantics: learned absolute positions, pre-LN blocks,
tanh-approximated GELU ("gelu_new"), LayerNorm eps 1e-5, Conv1D weights stored [in, out],
lm_head tied to wte. Training: documents joined with EOS (50256), rows of n_positions tokens,
5% of documents held out (seeded), AdamW + linear warmup + cosine decay, one CPU thread.
"""
import argparse
import csv
import json
import math
import os
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EOS_ID = 50256


# ----------------------------------------------------------------------------- model
class Conv1D(nn.Module):
    """HF GPT-2 Conv1D: y = x @ weight + bias, weight stored [in, out]."""

    def __init__(self, n_in, n_out, std):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, std = cfg["n_embd"], cfg["initializer_range"]
        self.n_head = cfg["n_head"]
        self.c_attn = Conv1D(d, 3 * d, std)
        self.c_proj = Conv1D(d, d, std / math.sqrt(2 * cfg["n_layer"]))
        n = cfg["n_positions"]
        self.register_buffer("mask", torch.tril(torch.ones(n, n, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        hd = C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~self.mask[:T, :T], torch.finfo(att.dtype).min)
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, std = cfg["n_embd"], cfg["initializer_range"]
        inner = cfg["n_inner"] or 4 * d
        self.c_fc = Conv1D(d, inner, std)
        self.c_proj = Conv1D(inner, d, std / math.sqrt(2 * cfg["n_layer"]))

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        eps = cfg["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(cfg["n_embd"], eps=eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg["n_embd"], eps=eps)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class LMHeadCrossEntropy(torch.autograd.Function):
    """mean cross-entropy of (h @ W^T) against targets, computed in row chunks.

    Same value and gradients as F.cross_entropy(h @ W.t(), targets), but never materialises the
    full [N, 50257] logits (nor their gradient): with the vocabulary this size, the unfused
    version spends most of a CPU step allocating, filling and re-reading those tensors.
    Gradients are computed during the forward pass when they are needed.
    """

    CHUNK = 256

    @staticmethod
    def forward(ctx, h, W, targets, need_grad):
        N = h.shape[0]
        total = torch.zeros((), dtype=torch.float64)
        gh = torch.empty_like(h) if need_grad else None
        gW = torch.zeros_like(W) if need_grad else None
        for s in range(0, N, LMHeadCrossEntropy.CHUNK):
            hc, tc = h[s: s + LMHeadCrossEntropy.CHUNK], targets[s: s + LMHeadCrossEntropy.CHUNK]
            z = hc @ W.t()
            m = z.max(dim=1, keepdim=True).values
            tgt = z.gather(1, tc[:, None])
            z.sub_(m).exp_()
            ssum = z.sum(dim=1, keepdim=True)
            total += (m + ssum.log() - tgt).sum().double()
            if need_grad:
                z.div_(ssum)  # softmax
                z.scatter_add_(1, tc[:, None], torch.full((len(tc), 1), -1.0, dtype=z.dtype))
                z.mul_(1.0 / N)
                gh[s: s + len(tc)] = z @ W
                gW.addmm_(z.t(), hc)
        if need_grad:
            ctx.save_for_backward(gh, gW)
        return (total / N).to(h.dtype)

    @staticmethod
    def backward(ctx, g):
        gh, gW = ctx.saved_tensors
        return gh * g, gW * g, None, None


class GPT2(nn.Module):
    """Parameter names == HF GPT2Model state_dict keys (wte.weight, h.0.attn.c_attn.weight, ...)."""

    def __init__(self, cfg):
        super().__init__()
        std = cfg["initializer_range"]
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        nn.init.normal_(self.wte.weight, std=std)
        nn.init.normal_(self.wpe.weight, std=std)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])

    def hidden(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))[None]
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x)

    def forward(self, idx):
        return self.hidden(idx) @ self.wte.weight.t()  # tied lm_head -> logits

    def loss(self, rows):
        """mean next-token cross-entropy of rows [B, T+1] (inputs rows[:, :-1], targets rows[:, 1:])."""
        h = self.hidden(rows[:, :-1])
        return LMHeadCrossEntropy.apply(h.reshape(-1, h.shape[-1]), self.wte.weight, rows[:, 1:].reshape(-1),
                                        torch.is_grad_enabled())


def make_config(args):
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": 50257,
        "n_positions": args.n_positions,
        "n_ctx": args.n_positions,
        "n_embd": args.n_embd,
        "n_layer": args.n_layer,
        "n_head": args.n_head,
        "n_inner": None,  # 4 * n_embd
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "use_cache": True,
        "bos_token_id": EOS_ID,
        "eos_token_id": EOS_ID,
        "torch_dtype": "float16",
    }


# ----------------------------------------------------------------------------- safetensors
def save_safetensors_f16(path, tensors):
    """Minimal safetensors writer: u64 LE header length, JSON header (space-padded to 8), data."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().to(torch.float16).numpy()).astype("<f2")
        b = a.tobytes()
        header[name] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F16"
        s, e = meta["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[s:e], dtype="<f2").astype(np.float32).reshape(meta["shape"]))
    return out


# ----------------------------------------------------------------------------- data
def load_tokens(prefix):
    if not os.path.exists(prefix + ".bin"):
        print(f"{prefix}.bin missing: running tools/tokenize-brown.mjs", flush=True)
        subprocess.run(["node", os.path.join(ROOT, "tools/tokenize-brown.mjs")], cwd=ROOT, check=True)
    with open(prefix + ".json") as f:
        meta = json.load(f)
    ids = np.fromfile(prefix + ".bin", dtype="<u2")
    assert len(ids) == meta["total_tokens"]
    return ids, meta["docs"]


def rows_from_docs(ids, docs, T):
    """Docs joined with EOS (EOS after every doc); windows of T+1 tokens with stride T."""
    parts = []
    for d in docs:
        parts.append(ids[d["start"]: d["start"] + d["length"]])
        parts.append(np.array([EOS_ID], dtype=np.uint16))
    stream = np.concatenate(parts).astype(np.int64)
    n = (len(stream) - 1) // T
    rows = np.stack([stream[i * T: i * T + T + 1] for i in range(n)])
    return torch.from_numpy(rows), len(stream)


@torch.no_grad()
def evaluate(model, rows, bs):
    model.eval()
    tot, cnt = 0.0, 0
    for i in range(0, len(rows), bs):
        r = rows[i: i + bs]
        tot += model.loss(r).item() * r[:, 1:].numel()
        cnt += r[:, 1:].numel()
    model.train()
    return tot / cnt


# ----------------------------------------------------------------------------- main
def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(ROOT, "weights/gpt2-brown"))
    p.add_argument("--tokens", default=os.path.join(ROOT, "tmp/brown-tokens"))
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--n_embd", type=int, default=128)
    p.add_argument("--n_layer", type=int, default=4)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--n_positions", type=int, default=256)
    p.add_argument("--batch", type=int, default=8, help="rows per step")
    p.add_argument("--steps", type=int, default=900)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min_lr_frac", type=float, default=0.1)
    p.add_argument("--weight_decay", type=float, default=0.1)
    p.add_argument("--val_frac", type=float, default=0.05)
    p.add_argument("--log_every", type=int, default=25)
    p.add_argument("--eval_every", type=int, default=150)
    p.add_argument("--eval_rows", type=int, default=64, help="val rows for periodic evals (final eval uses all)")
    p.add_argument("--max_minutes", type=float, default=37.0, help="wall-time cap for the training loop")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bench", type=int, default=0, help="only time this many steps, write nothing")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    T = args.n_positions

    ids, docs = load_tokens(args.tokens)
    perm = rng.permutation(len(docs))
    n_val = max(1, int(round(args.val_frac * len(docs))))
    val_idx = sorted(perm[:n_val].tolist())
    train_idx = sorted(perm[n_val:].tolist())
    train_rows, n_train_tok = rows_from_docs(ids, [docs[i] for i in train_idx], T)
    val_rows, n_val_tok = rows_from_docs(ids, [docs[i] for i in val_idx], T)
    print(f"docs: {len(train_idx)} train / {len(val_idx)} val; tokens {n_train_tok} / {n_val_tok}; "
          f"rows {len(train_rows)} / {len(val_rows)}", flush=True)
    eval_rows = val_rows[torch.from_numpy(np.sort(rng.permutation(len(val_rows))[: args.eval_rows]))]

    cfg = make_config(args)
    model = GPT2(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params: {n_params} ({n_params - model.wte.weight.numel()} excluding wte)", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))

    order, pos, epoch = torch.from_numpy(rng.permutation(len(train_rows))), 0, 0

    def next_batch():
        nonlocal order, pos, epoch
        if pos + args.batch > len(order):
            order, pos, epoch = torch.from_numpy(rng.permutation(len(train_rows))), 0, epoch + 1
        b = train_rows[order[pos: pos + args.batch]]
        pos += args.batch
        return b

    log_rows = []
    t0 = time.time()
    run_loss, run_n, tokens = 0.0, 0, 0
    steps = args.bench or args.steps
    stopped_early = False
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        b = next_batch()
        loss = model.loss(b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += b[:, 1:].numel()
        run_loss += loss.item()
        run_n += 1
        done = step + 1
        if args.bench:
            print(f"step {done} loss {loss.item():.3f} {(time.time() - t0) / done:.2f}s/step", flush=True)
            continue
        last = done == steps
        if done % args.log_every == 0 or last:
            val = ""
            if done % args.eval_every == 0 and not last:
                val = round(evaluate(model, eval_rows, args.batch), 4)
            el = time.time() - t0
            log_rows.append([done, tokens, round(run_loss / run_n, 4), val, round(el, 1)])
            print(f"step {done}/{steps} epoch {epoch} tokens {tokens} train {run_loss / run_n:.4f} val {val} "
                  f"lr {lr_at(step):.2e} {el:.0f}s", flush=True)
            run_loss, run_n = 0.0, 0
        if time.time() - t0 > args.max_minutes * 60 and not last:
            print(f"wall-time cap reached at step {done}", flush=True)
            stopped_early = True
            break
    if args.bench:
        return

    train_seconds = time.time() - t0
    final_val = evaluate(model, val_rows, args.batch)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    st_path = os.path.join(args.out, "model.safetensors")
    save_safetensors_f16(st_path, model.state_dict())

    # Final losses with the weights as stored (F16 -> f32).
    model16 = GPT2(cfg)
    model16.load_state_dict(load_safetensors(st_path), strict=True)
    val16 = evaluate(model16, val_rows, args.batch)
    gen = torch.Generator().manual_seed(args.seed + 1)
    sample = train_rows[torch.randperm(len(train_rows), generator=gen)[: len(val_rows)]]
    train16 = evaluate(model16, sample, args.batch)
    el = time.time() - t0
    log_rows.append([done, tokens, round(train16, 4), round(val16, 4), round(el, 1)])
    with open(os.path.join(args.out, "training-log.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "tokens", "train_loss", "val_loss", "seconds"])
        w.writerows(log_rows)
    summary = {
        "seed": args.seed, "steps": done, "stopped_early": stopped_early, "tokens_seen": tokens,
        "train_tokens": n_train_tok, "val_tokens": n_val_tok, "train_docs": len(train_idx), "val_docs": len(val_idx),
        "val_doc_ids": [docs[i]["id"] for i in val_idx], "params": n_params, "train_seconds": round(train_seconds, 1),
        "final_val_loss_f32": round(final_val, 4), "final_val_loss_f16": round(val16, 4),
        "final_train_loss_f16": round(train16, 4), "args": vars(args),
        "torch": torch.__version__, "python": sys.version.split()[0],
    }
    with open(os.path.join(ROOT, "tmp/train-summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
