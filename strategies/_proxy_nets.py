"""Proxy networks ``(x (B, N), c (B, P)) -> y (B, N)``: conditional TCN and conditional GRU,
each taking its conditioning (how the parameters enter its layers: :mod:`strategies._conditioning`)
as an argument. The TCN with FiLM is the micro-TCN / steerable-NAFx proxy, the GRU with a
hypernetwork the HyperGRU.

Neither uses BatchNorm, so a frozen proxy has no running statistics that could drift (the
DeepAFx-ST bug). Both start near the identity (conditioning that starts as no change, shrunken
output layer) and add a learned correction, which keeps early training stable.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from strategies._conditioning.base import Modulation, attach, conditioning
from strategies._proxy_config import GruConfig, TcnConfig


def receptive_field(kernel: int, dilations: tuple[int, ...]) -> int:
    """Samples a stack of dilated convolutions sees: 1 + (kernel − 1)·Σ dilations."""
    return 1 + (kernel - 1) * sum(dilations)


def matched_dilations(kernel: int, blocks: int, growth: int, samples: int) -> tuple[int, ...]:
    """Dilations growth⁰ … growth^(blocks−2), then the last one sized so the receptive field
    covers ``samples`` (at least growth times the previous, so the schedule stays monotone)."""
    head = [growth**i for i in range(blocks - 1)]
    need = math.ceil((samples - 1) / (kernel - 1)) - sum(head)
    floor = head[-1] * growth if head else 1
    return (*head, max(need, floor))


def film(x: torch.Tensor, gamma_beta: torch.Tensor) -> torch.Tensor:
    """FiLM ``x·(1 + γ) + β`` with γ, β the two halves of ``gamma_beta`` along channels (one
    fused multiply-add pass over x)."""
    gamma, beta = gamma_beta.chunk(2, dim=1)
    return torch.addcmul(beta, x, 1 + gamma)


def _zero(layer: nn.Module) -> nn.Module:
    """Zero a layer's weights and bias so it starts as a no-op correction."""
    for p in layer.parameters():
        nn.init.zeros_(p)
    return layer


def _small(layer: nn.Module, scale: float = 0.1) -> nn.Module:
    """Shrink a layer's default initialisation: a near-identity start that still passes
    gradient to the layers before it (a zeroed output layer would block them at first)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(scale)
    return layer


def cond_mlp(n_cond: int, dim: int) -> nn.Module:
    """Two-layer PReLU MLP embedding the normalized parameters."""
    return nn.Sequential(nn.Linear(n_cond, dim), nn.PReLU(dim), nn.Linear(dim, dim),
                         nn.PReLU(dim))


class DilatedConv(torch.autograd.Function):
    """A dilated 1-D convolution (no padding) whose input gradient runs as a forward conv.

    torch's CPU backward of a dilated convolution takes a slow path, several times the cost of
    the forward. The input gradient of a correlation is the correlation of the zero-padded
    output gradient with the flipped, transposed kernel: the same fast forward kernel, the same
    numbers up to float rounding. The weight gradient (pre-training only) is torch's own, with
    the input gradient masked off.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                dilation: int) -> torch.Tensor:
        """``F.conv1d(x, weight, bias, dilation=dilation)``."""
        ctx.save_for_backward(x, weight)
        ctx.dilation, ctx.has_bias = dilation, bias is not None
        return F.conv1d(x, weight, bias, dilation=dilation)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """Gradients w.r.t. x (a forward conv), weight and bias, each only where needed."""
        x, weight = ctx.saved_tensors
        d, need = ctx.dilation, ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            pad = (weight.shape[-1] - 1) * d
            gx = F.conv1d(F.pad(grad, (pad, pad)), weight.transpose(0, 1).flip(-1), dilation=d)
        if need[1]:
            gw = torch.ops.aten.convolution_backward(
                grad, x, weight, None, (1,), (0,), (d,), False, (0,), 1, (False, True, False))[1]
        if need[2] and ctx.has_bias:
            gb = grad.sum((0, 2))
        return gx, gw, gb, None


class FilmPreluAdd(torch.autograd.Function):
    """``PReLU(FiLM(c)) + r`` as one fused Numba pass each way (:mod:`strategies._proxy_kernels`).

    The same numbers as :func:`film`, ``F.prelu`` and ``+`` up to float rounding (the order of
    the sums over time for the γ, β and PReLU-slope gradients).
    """

    @staticmethod
    def forward(ctx: Any, c: torch.Tensor, gamma_beta: torch.Tensor, slope: torch.Tensor,
                r: torch.Tensor) -> torch.Tensor:
        """c, r (B, C, T); gamma_beta (B, 2C); slope (C)."""
        from strategies._proxy_kernels import film_prelu_add

        c, r = c.detach().contiguous(), r.detach().contiguous()
        gamma, beta = (t.contiguous() for t in gamma_beta.detach().chunk(2, dim=1))
        slope = slope.detach().contiguous()
        out = torch.empty_like(c)
        film_prelu_add(c.numpy(), gamma.numpy(), beta.numpy(), slope.numpy(), r.numpy(),
                       out.numpy())
        ctx.save_for_backward(c, gamma, beta, slope)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """Gradients w.r.t. c, gamma_beta and the slope in one pass; r's is ``grad``."""
        from strategies._proxy_kernels import film_prelu_add_backward

        c, gamma, beta, slope = ctx.saved_tensors
        grad = grad.contiguous()
        grad_c, grad_gamma, grad_beta = (torch.empty_like(t) for t in (c, gamma, beta))
        grad_slope = torch.empty_like(slope)
        film_prelu_add_backward(grad.numpy(), c.numpy(), gamma.numpy(), beta.numpy(),
                                slope.numpy(), grad_c.numpy(), grad_gamma.numpy(),
                                grad_beta.numpy(), grad_slope.numpy())
        need = ctx.needs_input_grad
        return (grad_c if need[0] else None,
                torch.cat([grad_gamma, grad_beta], 1) if need[1] else None,
                grad_slope if need[2] else None, grad if need[3] else None)


def conv(layer: nn.Conv1d, x: torch.Tensor, fast: bool = True) -> torch.Tensor:
    """``layer(x)`` for an unpadded, unstrided Conv1d. ``fast`` takes :class:`DilatedConv`, or
    for a 1×1 convolution a matrix product (torch's CPU conv takes a slow path for those)."""
    if not fast:
        return layer(x)
    if layer.kernel_size[0] == 1:
        y = torch.matmul(layer.weight[:, :, 0], x)
        return y if layer.bias is None else y + layer.bias[:, None]
    return DilatedConv.apply(x, layer.weight, layer.bias, layer.dilation[0])


def _fusable(*tensors: torch.Tensor) -> bool:
    """Whether the Numba kernels can take these tensors (CPU, float32 or float64)."""
    return all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64)
               for t in tensors)


def use_fast_kernels(module: nn.Module, fast: bool = True) -> None:
    """Switch every convolution block in ``module`` (a module with a ``fast`` flag) between the
    fast kernels (:class:`DilatedConv`, 1×1 convolutions as matrix products,
    :class:`FilmPreluAdd`) and plain torch (the reference the equivalence tests and the
    pre-training benchmark compare against)."""
    for block in module.modules():
        if hasattr(block, "fast"):
            block.fast = fast


def init_bound(layer: nn.Conv1d | nn.Linear) -> float:
    """The scale of a layer's default initial weights, 1/√fan-in (what a hypernetwork's deltas
    are sized against)."""
    return 1 / math.sqrt(layer.weight[0].numel())


def conditioned_conv(layer: nn.Conv1d, x: torch.Tensor, mod: Modulation,
                     fast: bool = True) -> torch.Tensor:
    """``layer(x)`` (unpadded) with the weights of ``mod``: per-example weights and bias run as
    one grouped convolution (the batch as groups), shared ones through :func:`conv`."""
    if not mod.per_example:
        return conv(layer, x, fast)
    weight, bias = mod.weights
    b, cin, n = x.shape
    y = F.conv1d(x.reshape(1, b * cin, n), weight.reshape(-1, *weight.shape[2:]),
                 bias.reshape(-1), dilation=layer.dilation[0], groups=b)
    return y.view(b, weight.shape[1], -1)


class TcnBlock(nn.Module):
    """Dilated conv (no padding), conditioned on p → PReLU, plus a cropped 1×1 residual.

    With FiLM (the default) this is the micro-TCN block: conv → FiLM(p) → PReLU.
    """

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, cond_dim: int,
                 conditioning_name: str = "film") -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation)
        attach(self, conditioning_name, [self.conv.weight.shape, self.conv.bias.shape],
               cond_dim, init_bound(self.conv))
        self.act = nn.PReLU(cout)
        self.res = nn.Conv1d(cin, cout, 1, bias=False)
        self.fast = True

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Shortens the sequence by (kernel − 1)·dilation samples (causal crop of the residual)."""
        mod = conditioning(self).modulate([self.conv.weight, self.conv.bias], emb)
        c = conditioned_conv(self.conv, x, mod, self.fast)
        r = conv(self.res, x[..., x.shape[-1] - c.shape[-1]:], self.fast)
        gamma_beta = mod.gamma_beta(c.shape[1], emb)
        if self.fast and _fusable(c, r):
            return FilmPreluAdd.apply(c, gamma_beta, self.act.weight, r)
        return self.act(film(c, gamma_beta[..., None])) + r


class ConditionalTcn(nn.Module):
    """Causal cTCN proxy: as if the input were left-padded by RF − 1 zeros, so the output has
    the input's length.

    Each block is a causal, time-invariant window of (kernel − 1)·dilation samples, so on the
    zero padding every block's output is one constant per example and channel. The forward pass
    therefore pads each block's input with that constant by its own window only (plus one
    sample, whose output is the next block's constant) instead of carrying RF − 1 padded
    samples through every block: the same numbers, and each block computes the input's length.
    A 4.2-s reverb proxy on 0.5-s patches did 9.4× the convolution work the old way.

    ``block`` is the block class (:class:`TcnBlock`, or another with its signature: the gated
    block of :mod:`strategies._architectures.gcn`), ``conditioning_name`` how p enters each
    block's dilated convolution.
    """

    def __init__(self, n_cond: int, cfg: TcnConfig, dilations: tuple[int, ...],
                 conditioning_name: str = "film", block: type[nn.Module] = TcnBlock) -> None:
        super().__init__()
        self.receptive_field = receptive_field(cfg.kernel, dilations)
        self.cond = cond_mlp(n_cond, cfg.cond_dim)
        self.blocks = nn.ModuleList(
            block(1 if i == 0 else cfg.channels, cfg.channels, cfg.kernel, d, cfg.cond_dim,
                  conditioning_name)
            for i, d in enumerate(dilations))
        self.out = _small(nn.Conv1d(cfg.channels, 1, 1))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """y = x + TCN(x | c)."""
        h, emb = x[:, None], self.cond(c)
        pad = h.new_zeros(h.shape[:2])  # the padding's value at each block's input (B, C)
        for block in self.blocks:
            window = (block.conv.kernel_size[0] - 1) * block.conv.dilation[0] + 1
            out = block(torch.cat([pad[..., None].expand(-1, -1, window), h], dim=-1), emb)
            pad, h = out[..., 0], out[..., 1:]
        return x + conv(self.out, h, self.blocks[0].fast)[:, 0]

    def padded_forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The same output computed the plain way, every block over the RF − 1 zeros (the
        reference :meth:`forward` is checked against)."""
        h = F.pad(x[:, None], (self.receptive_field - 1, 0))
        emb = self.cond(c)
        for block in self.blocks:
            h = block(h, emb)
        return x + conv(self.out, h, self.blocks[0].fast)[:, 0]


class ConditionalGru(nn.Module):
    """Conditional GRU proxy: a GRU over short frames whose recurrent layer is conditioned on p.

    Frames (strided conv features + log energy) drive a GRU; the conditioning changes its layer
    [W_ih, W_hh, b] per example (a hypernetwork: W = W₀ + ΔW(p), the HyperGRU) or its input
    pre-activations (FiLM: a scale and shift; concatenation: p appended to every frame's input,
    a shift). Its state sets, linearly interpolated to the sample rate, a time-varying gain on
    the input and the FiLM of a causal sample-rate conv path (filtering):
    y = x·(1 + s(t)) + out(PReLU(FiLM_t(conv(x)))). Memory is unbounded (recurrent).
    """

    def __init__(self, n_cond: int, cfg: GruConfig, sample_rate: int,
                 conditioning_name: str = "hyper") -> None:
        super().__init__()
        self.hop = max(1, round(cfg.frame_seconds * sample_rate))
        self.hidden, self.channels = cfg.hidden, cfg.channels
        self.n_in = cfg.channels + 1
        h3 = 3 * cfg.hidden
        self.cond = cond_mlp(n_cond, cfg.cond_dim)
        self.frames = nn.Conv1d(1, cfg.channels, 2 * self.hop, stride=self.hop)
        bound = 1 / math.sqrt(cfg.hidden)
        self.w_ih = nn.Parameter(torch.empty(h3, self.n_in).uniform_(-bound, bound))
        self.w_hh = nn.Parameter(torch.empty(h3, cfg.hidden).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(h3))
        attach(self, conditioning_name, [self.w_ih.shape, self.w_hh.shape, self.bias.shape],
               cfg.cond_dim, bound)
        self.modulation = _zero(nn.Linear(cfg.hidden, 2 * cfg.channels + 1))
        self.sample_kernel = cfg.sample_kernel
        self.conv = nn.Conv1d(1, cfg.channels, cfg.sample_kernel)
        self.act = nn.PReLU(cfg.channels)
        self.out = _small(nn.Conv1d(cfg.channels, 1, 1))

    def recurrent_layer(self, c: torch.Tensor) -> Modulation:
        """The recurrent layer [W_ih (3H, in), W_hh (3H, H), b] as the batch with parameters c
        sees it (per-example weights under a hypernetwork)."""
        return conditioning(self).modulate([self.w_ih, self.w_hh, self.bias], self.cond(c))

    def _frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, channels + 1): strided conv over [previous, current] hop and log energy."""
        n_frames = -(-x.shape[-1] // self.hop)
        padded = F.pad(x, (0, n_frames * self.hop - x.shape[-1]))
        conv = self.frames(F.pad(padded[:, None], (self.hop, 0)))[..., :n_frames]
        energy = padded.view(len(x), n_frames, self.hop).square().mean(-1)
        return torch.cat([conv.transpose(1, 2), torch.log10(energy + 1e-8)[..., None] / 4], -1)

    def _recur(self, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """GRU states (B, H, T) for inputs u (B, T, in), the layer conditioned on c."""
        layer = self.recurrent_layer(c)
        w_ih, w_hh, b = layer.weights
        if layer.per_example:
            gates_in = torch.baddbmm(b[:, None], u, w_ih.transpose(1, 2))
        else:
            gates_in = layer.apply(torch.matmul(u, w_ih.t()) + b, dim=2)
        h = u.new_zeros(len(u), self.hidden)
        states = []
        for t in range(u.shape[1]):
            gh = (torch.bmm(w_hh, h[..., None])[..., 0] if layer.per_example
                  else torch.matmul(h, w_hh.t()))
            ir, iz, in_ = gates_in[:, t].chunk(3, -1)
            hr, hz, hn = gh.chunk(3, -1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            h = (1 - z) * torch.tanh(in_ + r * hn) + z * h
            states.append(h)
        return torch.stack(states, -1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """y = x·(1 + s(t)) + out(PReLU(FiLM_t(conv(x))))."""
        states = self._recur(self._frame_features(x), c)
        mod = F.interpolate(self.modulation(states.transpose(1, 2)).transpose(1, 2),
                            scale_factor=self.hop, mode="linear")[..., : x.shape[-1]]
        feats = self.conv(F.pad(x[:, None], (self.sample_kernel - 1, 0)))
        feats = self.act(film(feats, mod[:, : 2 * self.channels]))
        return x * (1 + mod[:, -1]) + self.out(feats)[:, 0]


class HyperGru(ConditionalGru):
    """HyperGRU proxy: the conditional GRU whose recurrent weights an MLP generates from p."""

    def __init__(self, n_cond: int, cfg: GruConfig, sample_rate: int) -> None:
        super().__init__(n_cond, cfg, sample_rate, "hyper")
