"""A UniLearn (S4D, vitmoe) style clip model at test size.

The structure follows MSA-LMC/S4D's `vitmoe`: a Conv3d tubelet embedding,
fixed sine-cosine position embeddings, no CLS token, transformer blocks
whose feed-forward runs in parallel with a mixture of adapter experts
(x = x + attn(norm1 x); x = x + ffn(norm2 x) + moe(norm2 x)), mean pooling
+ LayerNorm, and two heads chosen by input rank: a 5-D [B, T, 3, H, W]
tensor is a video (head `video_head`), a 4-D [B, 3, H, W] image is repeated
to one tubelet of frames and uses the first temporal slice of the position
embedding and head `image_head`.

The mixture holds static experts (applied to every token) and dynamic
experts chosen per token by a top-k router. The router adds Gaussian noise
to its logits only while training, so an exported model in eval mode is
deterministic.

Only torch is needed; the model is written to be scriptable with
torch.jit.script (LibTorch 1.13 and later).
"""

import math
from typing import Dict

import torch
from torch import nn


def sincos_position_embedding(t: int, h: int, w: int, dim: int) -> torch.Tensor:
    """[t*h*w, dim] fixed 3-D sine-cosine embedding (time, rows, columns)."""
    def axis(n: int, d: int) -> torch.Tensor:
        pos = torch.arange(n, dtype=torch.float64).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
        emb = torch.zeros(n, d, dtype=torch.float64)
        emb[:, 0::2] = torch.sin(pos * freq)
        emb[:, 1::2] = torch.cos(pos * freq)
        return emb

    dt = dim // 4
    dh = (dim - dt) // 2
    dw = dim - dt - dh
    et = axis(t, dt)[:, None, None, :].expand(t, h, w, dt)
    eh = axis(h, dh)[None, :, None, :].expand(t, h, w, dh)
    ew = axis(w, dw)[None, None, :, :].expand(t, h, w, dw)
    return torch.cat([et, eh, ew], dim=-1).reshape(t * h * w, dim).float()


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class AdapterExperts(nn.Module):
    """Mixture of adapter experts: static experts on every token, plus
    `top_k` of the dynamic experts per token by a (noisy while training)
    linear router."""

    def __init__(self, dim: int, hidden: int, num_static: int, num_dynamic: int, top_k: int,
                 noise_std: float = 1.0):
        super().__init__()
        self.static_experts = nn.ModuleList([Mlp(dim, hidden) for _ in range(num_static)])
        self.dynamic_experts = nn.ModuleList([Mlp(dim, hidden) for _ in range(num_dynamic)])
        self.router = nn.Linear(dim, num_dynamic)
        self.top_k = top_k
        self.num_static = num_static
        self.noise_std = noise_std
        self.noisy_gating = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.router(x)
        if self.training and self.noisy_gating:
            logits = logits + torch.randn_like(logits) * self.noise_std
        top, index = torch.topk(logits, self.top_k, dim=-1)
        gates = torch.zeros_like(logits).scatter(-1, index, top.softmax(dim=-1))
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.dynamic_experts):
            out = out + gates[..., e:e + 1] * expert(x)
        for expert in self.static_experts:
            out = out + expert(x) / self.num_static
        return out


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, moe: bool, adapter_hidden: int,
                 num_static: int, num_dynamic: int, top_k: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.has_moe = moe
        self.moe = AdapterExperts(dim, adapter_hidden, num_static, num_dynamic, top_k) if moe \
            else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        h = self.norm2(x)
        if self.has_moe:
            return x + self.mlp(h) + self.moe(h)
        return x + self.mlp(h)


class ViTMoE(nn.Module):
    def __init__(self, img_size: int = 32, patch: int = 8, frames: int = 4, tubelet: int = 2,
                 dim: int = 64, depth: int = 2, heads: int = 4, mlp_ratio: float = 2.0,
                 moe_blocks=(0, 1), adapter_hidden: int = 16, num_static: int = 1,
                 num_dynamic: int = 4, top_k: int = 2, num_classes: int = 5):
        super().__init__()
        self.frames = frames
        self.tubelet = tubelet
        self.grid = img_size // patch
        self.patch_embed = nn.Conv3d(3, dim, kernel_size=(tubelet, patch, patch),
                                     stride=(tubelet, patch, patch))
        self.register_buffer(
            "pos_embed", sincos_position_embedding(frames // tubelet, self.grid, self.grid, dim))
        self.blocks = nn.ModuleList([
            Block(dim, heads, mlp_ratio, i in moe_blocks, adapter_hidden, num_static, num_dynamic,
                  top_k) for i in range(depth)])
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.video_head = nn.Linear(dim, num_classes)
        self.image_head = nn.Linear(dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, 3, T, H, W] -> pooled features [B, dim]."""
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = x + self.pos_embed[:x.shape[1]].unsqueeze(0)
        for block in self.blocks:
            x = block(x)
        return self.fc_norm(x.mean(dim=1))

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if x.dim() == 4:  # an image: one tubelet of repeated frames, head `image`
            clip = x.unsqueeze(2).repeat(1, 1, self.tubelet, 1, 1)
            features = self.forward_features(clip)
            logits = self.image_head(features)
        else:  # [B, T, 3, H, W] video
            features = self.forward_features(x.permute(0, 2, 1, 3, 4))
            logits = self.video_head(features)
        return {"features": features, "logits": logits}


def build(**kwargs) -> ViTMoE:
    return ViTMoE(**kwargs)
