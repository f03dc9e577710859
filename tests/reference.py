"""A minimal literal transcription of the reference DLG code (mit-han-lab/dlg, main.py and
models/vision.py), kept apart from the package so the tests can compare against it."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super(LeNet, self).__init__()
        act = nn.Sigmoid
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, kernel_size=5, padding=5 // 2, stride=2),
            act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=2),
            act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=1),
            act(),
        )
        self.fc = nn.Sequential(nn.Linear(768, 100))

    def forward(self, x):
        out = self.body(x)
        out = out.view(out.size(0), -1)
        out = self.fc(out)
        return out


def weights_init(m):
    if hasattr(m, "weight"):
        m.weight.data.uniform_(-0.5, 0.5)
    if hasattr(m, "bias"):
        m.bias.data.uniform_(-0.5, 0.5)


def label_to_onehot(target, num_classes=100):
    target = torch.unsqueeze(target, 1)
    onehot_target = torch.zeros(target.size(0), num_classes, device=target.device)
    onehot_target.scatter_(1, target, 1)
    return onehot_target


def cross_entropy_for_onehot(pred, target):
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def reference_dlg(gt_data, label, seed, iterations):
    """main.py's loop, line for line (without the plotting); returns the weights, the dummy
    start, the loss printed after each step, and the final dummy."""
    gt_data = gt_data.view(1, *gt_data.size())
    gt_label = torch.Tensor([label]).long().view(1,)
    gt_onehot_label = label_to_onehot(gt_label)

    net = LeNet()
    torch.manual_seed(seed)
    net.apply(weights_init)
    criterion = cross_entropy_for_onehot

    pred = net(gt_data)
    y = criterion(pred, gt_onehot_label)
    dy_dx = torch.autograd.grad(y, net.parameters())
    original_dy_dx = list((_.detach().clone() for _ in dy_dx))

    dummy_data = torch.randn(gt_data.size()).requires_grad_(True)
    dummy_label = torch.randn(gt_onehot_label.size()).requires_grad_(True)
    start = (dummy_data.detach().clone(), dummy_label.detach().clone())
    optimizer = torch.optim.LBFGS([dummy_data, dummy_label])

    history = []
    for iters in range(iterations):
        def closure():
            optimizer.zero_grad()
            dummy_pred = net(dummy_data)
            dummy_onehot_label = F.softmax(dummy_label, dim=-1)
            dummy_loss = criterion(dummy_pred, dummy_onehot_label)
            dummy_dy_dx = torch.autograd.grad(dummy_loss, net.parameters(), create_graph=True)
            grad_diff = 0
            for gx, gy in zip(dummy_dy_dx, original_dy_dx):
                grad_diff += ((gx - gy) ** 2).sum()
            grad_diff.backward()
            return grad_diff

        optimizer.step(closure)
        history.append(closure().item())  # the reference prints this every 10th step
    weights = [p.detach().clone() for p in net.parameters()]
    return weights, start, history, dummy_data.detach().clone(), dummy_label.detach().clone()
