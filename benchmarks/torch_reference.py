"""The same 64-200-10 tanh network in PyTorch, trained the usual way, for side-by-side timing.

Imported only when PyTorch is installed (`pip install torch==2.13.0`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def network(n_hidden: int = 200, dropout: float = 0.2, n_inputs: int = 64, n_classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Linear(n_inputs, n_hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(n_hidden, n_classes))


def fit(
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    epochs: int,
    dropout: float = 0.2,
    lr: float = 1e-3,
    batch_size: int = 64,
    strong: bool = False,
    noise: float = 0.0,
) -> nn.Module:
    """Mini-batch training without a DataLoader (its per-batch overhead would flatter digitnet).

    strong=False: Adam at lr 1e-3 (the reference run). strong=True: AdamW with a one-cycle
    schedule and label smoothing 0.1; ``noise`` adds Gaussian input noise during training.
    """
    torch.manual_seed(seed)
    model = network(dropout=dropout, n_inputs=X.shape[1])
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), torch.from_numpy(y.astype(np.int64))
    n = len(Xt)
    steps = epochs * ((n + batch_size - 1) // batch_size)
    if strong:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        schedule = None
        loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            xb = Xt[rows]
            if noise:
                xb = xb + noise * torch.randn_like(xb)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yt[rows])
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
    model.eval()
    return model


def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Probabilities for a NumPy batch, conversions included, as a user would call it."""
    with torch.inference_mode():
        return torch.softmax(model(torch.from_numpy(np.asarray(X, dtype=np.float32))), dim=1).numpy()


def shifted(xb: torch.Tensor, side: int, k: int, fill: float) -> torch.Tensor:
    """Each row of xb (square images, side x side) moved by up to k pixels each way: digitnet's ``augment``."""
    n = len(xb)
    images = torch.nn.functional.pad(xb.view(n, side, side), (k, k, k, k), value=fill)
    dy, dx = torch.randint(-k, k + 1, (n, 1, 1)), torch.randint(-k, k + 1, (n, 1, 1))
    rows = torch.arange(side).view(1, side, 1) + k - dy
    cols = torch.arange(side).view(1, 1, side) + k - dx
    return images[torch.arange(n).view(n, 1, 1), rows, cols].reshape(n, -1)


def fit_like_digitnet(X: np.ndarray, y: np.ndarray, config) -> nn.Module:
    """digitnet's own recipe in PyTorch: Glorot-uniform weights and zero biases, Adam with L2 on the weights
    only (coupled, as digitnet's), a cosine rate per step from ``config.lr`` to 0, label smoothing,
    ``config.batch_size`` and ``config.epochs``, dropout, random shifts of square images (``config.augment``);
    no validation split (config.val_fraction must be 0)."""
    import math

    assert config.val_fraction == 0 and config.optimizer == "adam" and config.schedule == "cosine"
    torch.manual_seed(config.seed)
    model = network(config.n_hidden, config.dropout, X.shape[1], int(y.max()) + 1)
    for layer in (model[0], model[3]):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    weights = [model[0].weight, model[3].weight]
    biases = [model[0].bias, model[3].bias]
    optimizer = torch.optim.Adam([{"params": weights, "weight_decay": config.l2}, {"params": biases, "weight_decay": 0.0}],
                                 lr=config.lr)
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), torch.from_numpy(y.astype(np.int64))
    n, batch = len(Xt), config.batch_size
    side, fill = math.isqrt(X.shape[1]), float(Xt.min())  # the background of ink-high images, as digitnet
    steps_per_epoch = (n + batch - 1) // batch
    total = config.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            xb = shifted(Xt[rows], side, config.augment, fill) if config.augment else Xt[rows]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(xb), yt[rows]).backward()
            optimizer.step()
            schedule.step()
    model.eval()
    return model
