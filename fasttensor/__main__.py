"""``python -m fasttensor``: a walkthrough of the tensor examples of the
article fasttensor grew from, each result printed beside NumPy's, then a
short side-by-side timing.

Options: ``--no-timing`` skips the timing; ``--quick`` keeps it short.
"""

import argparse
import math
import sys

import numpy as np

import fasttensor as ft
import fasttensor.nn as nn


def _show(title, ours, theirs, rtol=1e-5, atol=1e-6):
    """Print one step: fasttensor's result, NumPy's, and whether they agree."""
    ours_np = np.asarray(ours)
    theirs_np = np.asarray(theirs)
    same_shape = ours_np.shape == theirs_np.shape
    ok = same_shape and np.allclose(ours_np, theirs_np, rtol=rtol, atol=atol,
                                    equal_nan=True)
    mark = "agrees with NumPy" if ok else "DIFFERS FROM NUMPY"
    print(f"\n-- {title}  [{mark}]")
    print(f"fasttensor: {_brief(ours)}")
    print(f"numpy     : {_brief(theirs_np)}")
    return ok


def _brief(x):
    arr = np.asarray(x)
    if arr.size > 12:
        return f"shape={arr.shape} dtype={arr.dtype} first={arr.ravel()[:4]}"
    text = np.array2string(arr, separator=", ", precision=4)
    return text.replace("\n", "\n" + " " * 12) + f"  ({arr.dtype})"


def walkthrough():
    results = []
    rng = np.random.default_rng(0)

    print("fasttensor walkthrough: the article's examples, beside NumPy")

    # Tensors of rank 0, 1 and 2.
    results.append(_show("0-d tensor (scalar)", ft.tensor(5), np.array(5)))
    results.append(_show("1-d tensor (vector)", ft.tensor([1, 2, 3]),
                         np.array([1, 2, 3])))
    results.append(_show("2-d tensor (matrix)", ft.tensor([[1, 2], [3, 4]]),
                         np.array([[1, 2], [3, 4]])))

    # Addition and subtraction: the loss gradient of a linear model.
    y_pred = ft.tensor([2.0, 3.0, 4.0])
    y_true = ft.tensor([1.0, 2.0, 3.0])
    results.append(_show("y_pred - y_true", y_pred - y_true,
                         np.float32([2, 3, 4]) - np.float32([1, 2, 3])))

    # Dot product: similarity of two word vectors.
    t1, t2 = ft.tensor([1, 2, 3]), ft.tensor([4, 5, 6])
    results.append(_show("dot(text1_vec, text2_vec)", ft.dot(t1, t2),
                         np.dot([1, 2, 3], [4, 5, 6])))

    # Matrix product: a fully connected layer.
    inp = ft.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = ft.tensor([[0.5, 0.6], [0.7, 0.8]])
    results.append(_show("matmul(input_layer, weight_matrix)", ft.matmul(inp, w),
                         np.float32([[1, 2], [3, 4]]) @ np.float32([[0.5, 0.6], [0.7, 0.8]])))

    # Flatten a convolution output before a dense layer.
    conv = rng.standard_normal((10, 5, 5, 3)).astype(np.float32)
    flat = ft.flatten(ft.asarray(conv), start_dim=1)
    results.append(_show("flatten(conv_output, start_dim=1)", flat,
                         conv.reshape(10, -1)))

    # LSTM: concatenate input and hidden state, then one cell step.
    x_t = ft.tensor([0.1, 0.2, 0.3])
    h_prev = ft.tensor([0.4, 0.5, 0.6])
    combined = ft.cat((x_t, h_prev), dim=0)
    results.append(_show("cat((x_t, h_tminus1), dim=0)", combined,
                         np.float32([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])))
    hidden = 3
    w_ih = rng.standard_normal((4 * hidden, 3)).astype(np.float32) * 0.3
    w_hh = rng.standard_normal((4 * hidden, hidden)).astype(np.float32) * 0.3
    c_prev = np.float32([0.0, 0.1, -0.1])
    h_new, c_new = nn.lstm_cell(x_t[None], h_prev[None], ft.asarray(c_prev[None]),
                                ft.asarray(w_ih), ft.asarray(w_hh))
    ref_h, ref_c = _lstm_reference(np.float32([[0.1, 0.2, 0.3]]),
                                   np.float32([[0.4, 0.5, 0.6]]), c_prev[None],
                                   w_ih, w_hh)
    results.append(_show("lstm_cell step: h", h_new, ref_h))
    results.append(_show("lstm_cell step: c", c_new, ref_c))

    # Attention: scores, softmax, weighted values.
    q, k, v = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(3))
    Q, K, V = ft.asarray(q), ft.asarray(k), ft.asarray(v)
    scores = ft.matmul(Q, K.transpose(-1, -2)) / math.sqrt(3)
    probs = ft.softmax(scores, dim=-1)
    out = ft.matmul(probs, V)
    s = q @ k.T / np.sqrt(3)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    results.append(_show("attention (matmul, softmax, matmul)", out, p @ v))
    fused = nn.scaled_dot_product_attention(Q, K, V)
    results.append(_show("fused scaled_dot_product_attention", fused, p @ v))

    # Memory management: the pool and empty_cache.
    before = ft.memory_reserved()
    big = ft.zeros((1024, 1024))
    held = ft.memory_reserved()
    del big
    ft.empty_cache()
    print("\n-- memory: a 4 MiB tensor, then empty_cache()")
    print(f"reserved before {before} B, with the tensor {held} B, after "
          f"empty_cache {ft.memory_reserved()} B")

    return builtin_all(results)


def _lstm_reference(x, h, c, w_ih, w_hh):
    x, h, c = (a.astype(np.float64) for a in (x, h, c))
    gates = x @ w_ih.T.astype(np.float64) + h @ w_hh.T.astype(np.float64)
    i, f, g, o = np.split(gates, 4, axis=1)
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    c_new = sig(f) * c + sig(i) * np.tanh(g)
    h_new = sig(o) * np.tanh(c_new)
    return h_new, c_new


builtin_all = all


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fasttensor",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-timing", action="store_true",
                        help="skip the side-by-side timing")
    parser.add_argument("--quick", action="store_true",
                        help="a shorter timing run")
    args = parser.parse_args(argv)
    ok = walkthrough()
    print()
    ft.show_config()
    if not args.no_timing:
        from fasttensor.bench import quick_compare
        print("\nSide-by-side timing (median of interleaved rounds):")
        quick_compare(quick=args.quick)
    if not ok:
        print("\nSome results differ from NumPy's.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
