"""The same 64-200-10 tanh network in PyTorch, trained the usual way, for side-by-side timing.

Imported only when PyTorch is installed (`pip install torch==2.13.0`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def network(n_hidden: int = 200, dropout: float = 0.2) -> nn.Module:
    return nn.Sequential(nn.Linear(64, n_hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(n_hidden, 10))


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
    model = network(dropout=dropout)
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
