"""The book's own run (ch5/train_neuralnet.py with common/layers.py), in numpy, single-threaded
float32: the baseline `npm run bench:mnist` measures the service against, in the same run.

usage: python3 two_layer_net.py MNIST_DIR [weight_init_std]  -> one JSON line on stdout
"""
import json
import sys
import time

import numpy as np


def idx(path, offset):
    return np.fromfile(path, dtype=np.uint8, offset=offset)


def load(dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = idx(f"{dir}/{prefix}-images-idx3-ubyte", 16).reshape(-1, 784).astype(np.float32) / 255.0
    t = idx(f"{dir}/{prefix}-labels-idx1-ubyte", 8).astype(np.int64)
    return x, t


def softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


class TwoLayerNet:
    def __init__(self, std, rng):
        self.W1 = (std * rng.standard_normal((784, 50))).astype(np.float32)
        self.b1 = np.zeros(50, np.float32)
        self.W2 = (std * rng.standard_normal((50, 10))).astype(np.float32)
        self.b2 = np.zeros(10, np.float32)

    def predict(self, x):
        return np.maximum(x @ self.W1 + self.b1, 0) @ self.W2 + self.b2

    def accuracy(self, x, t):
        return float(np.mean(self.predict(x).argmax(axis=1) == t))

    def step(self, x, t, lr):
        n = x.shape[0]
        a1 = x @ self.W1 + self.b1
        mask = a1 <= 0
        z1 = np.where(mask, 0, a1)
        y = softmax(z1 @ self.W2 + self.b2)
        loss = -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n
        dy = y.copy()
        dy[np.arange(n), t] -= 1
        dy /= n
        dW2 = z1.T @ dy
        db2 = dy.sum(axis=0)
        dz1 = dy @ self.W2.T
        dz1[mask] = 0
        dW1 = x.T @ dz1
        db1 = dz1.sum(axis=0)
        self.W1 -= lr * dW1
        self.b1 -= lr * db1
        self.W2 -= lr * dW2
        self.b2 -= lr * db2
        return loss


def main():
    dir = sys.argv[1]
    std = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    x_train, t_train = load(dir, "train")
    x_test, t_test = load(dir, "test")
    rng = np.random.default_rng(1)
    net = TwoLayerNet(std, rng)
    iters, batch, lr, every = 10000, 100, 0.1, 600
    started = time.perf_counter()
    for i in range(iters):
        mask = rng.choice(x_train.shape[0], batch)
        net.step(x_train[mask], t_train[mask], lr)
        if (i + 1) % every == 0 or i + 1 == iters:
            train_acc = net.accuracy(x_train, t_train)
            test_acc = net.accuracy(x_test, t_test)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "trainAccuracy": train_acc, "testAccuracy": test_acc}))


if __name__ == "__main__":
    main()
