#!/usr/bin/env python3
"""PyTorch reference for `gantry bench`: the same networks and training steps
in eager PyTorch (fp32; on CUDA cuDNN autotuning on, TF32 off; --device cpu on
the CPU), timed the same way.

Networks are built exactly as nets/nets.cpp builds them and stepped as
train/trainer.cpp steps them, with `gantry bench`'s data (random images in
[-1, 1], one channel, max(5·batch, 256) rows resident on the device, labels
i % 10):
  dcgan28   the edge-sized DCGAN of nets.cpp (7→14→28), BN in G and D; as dcgan64 otherwise
  dcgan64   DCGAN G (Radford et al. 2016; ConvT 100→16ngf k4, then k4 s2 p1 halving, BN+ReLU, Tanh)
            and D (Conv 2ndf→…→16ndf k4 s2 p1, BN+LeakyReLU(0.2), Conv→1 k4, logits);
            BCE-with-logits, Adam(2e-4, β=(0.5, 0.999)); one D step, then one G
            step through the updated D.
  cgan32    conditional DCGAN G/D (Mirza & Osindero 2014 conditioning, ngf = ndf = 128:
            G 256+256→512→256→128→1), one-hot labels; same loss.
  wgangp64  the dcgan64 G and the 64×64 WGAN-GP critic (ndf 64, InstanceNorm2d(affine),
            LeakyReLU(0.2), no sigmoid); 5 critic steps with λ·(‖∇x̂ D(x̂)‖₂ − 1)²,
            λ = 10, via autograd.grad(create_graph=True), then 1 G step;
            Adam(1e-4, β=(0.5, 0.999)).
  wgangp28  the dcgan28 G and the 28×28 critic (wgan28.critic: dcgan28's D with
            InstanceNorm2d(affine) for BN, LeakyReLU not in place); as wgangp64 otherwise.
  wgan-clip28  the wgangp28 nets, WGAN with weight clipping: 5 critic steps, each
            followed by clamping D's parameters to [−0.01, 0.01], then 1 G step;
            RMSprop(5e-5, α 0.99, ε 1e-8) for both nets.
As in gantry's step graph, gradients are taken only for the network being
updated (D's weights are frozen during the G step, G runs without grad in D
steps), every metric is read back to the host each step, and batch-norm
running statistics are updated on every training-mode application.

Prints one JSON line per model with gantry bench's keys: model, backend
("pytorch"), device, batch, steps, median_ms_per_step (host wall time per step,
the step synchronized as gantry's is), median_gpu_ms_per_step (CUDA events),
images_per_s, max_memory_allocated_bytes, sample_ms_batch1, sample_ms_batch64
(generator in eval mode, no grad); on the CPU the two GPU figures are null.

  python3 bench/pytorch_bench.py --models dcgan64,cgan32,wgangp64 --batch 64 --steps 20 --warmup 3

CPU (--device cpu, --threads N: default 2; interop threads 1). Beside
`gantry bench --backend cpu --threads N` on the same machine:

  build/ci/gantry bench --model dcgan28,wgangp28 --backend cpu --threads 2 --batch 64 --steps 20 --warmup 3
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/pytorch_bench.py \
      --device cpu --threads 2 --models dcgan28,wgangp28 --batch 64 --steps 20 --warmup 3

"device" names the threads, the torch version and the BLAS this process
loaded. Debian's python3-torch (1.13, BLAS_INFO=generic) calls whatever
libblas.so.3 the alternatives system points at: it must be OpenBLAS
(libopenblas0-pthread; `update-alternatives --display
libblas.so.3-x86_64-linux-gnu`), not the reference BLAS (~50× slower in a
1024² SGEMM). Its transposed convolutions are im2col + BLAS SGEMM, the others
oneDNN. OpenBLAS reads OPENBLAS_CORETYPE at load (a wrong core, e.g. Prescott,
runs ~4× slower: "device" names the core), hence the env -u;
torch.set_num_threads does not reach it, so --threads sets its threads too.
"""
import argparse
import json
import statistics
import sys
import time

MODELS = ("dcgan28", "dcgan64", "cgan32", "wgangp28", "wgan-clip28", "wgangp64")
NZ = 100
CLASSES = 10
LEAKY = 0.2


def build(torch, model):
    """Returns (G, D, kind) for a model name, with gantry's default widths and nc = 1."""
    nn = torch.nn

    def weights_init(m):
        # nets::Init: conv weights N(0, 0.02), conv biases 0, BN γ N(1, 0.02), β 0,
        # instance-norm γ 1, β 0 (PyTorch's defaults for InstanceNorm2d(affine)).
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def dcgan64_generator(ngf=64, nc=1):
        c = 16 * ngf  # 16·ngf first, as nets.cpp (pytorch/examples uses 8·ngf): → 4, 8, 16, 32, 64
        return nn.Sequential(
            nn.ConvTranspose2d(NZ, c, 4, 1, 0, bias=True), nn.BatchNorm2d(c), nn.ReLU(True),
            nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=True), nn.BatchNorm2d(c // 2), nn.ReLU(True),
            nn.ConvTranspose2d(c // 2, c // 4, 4, 2, 1, bias=True), nn.BatchNorm2d(c // 4), nn.ReLU(True),
            nn.ConvTranspose2d(c // 4, c // 8, 4, 2, 1, bias=True), nn.BatchNorm2d(c // 8), nn.ReLU(True),
            nn.ConvTranspose2d(c // 8, nc, 4, 2, 1, bias=True), nn.Tanh())

    def critic64(ndf=64, nc=1, instance_norm=False):
        # DCGAN D: 2ndf → 16ndf, no norm on the first conv; WGAN-GP critic:
        # ndf → 8ndf, instance norm after every conv but the last. The critic's
        # activations are not in place: the gradient penalty differentiates it twice.
        first = ndf if instance_norm else 2 * ndf
        inplace = not instance_norm
        layers = [nn.Conv2d(nc, first, 4, 2, 1, bias=True)]
        if instance_norm:
            layers.append(nn.InstanceNorm2d(first, affine=True))
        layers.append(nn.LeakyReLU(LEAKY, inplace))
        c = first
        for _ in range(3):
            layers.append(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=True))
            layers.append(nn.InstanceNorm2d(2 * c, affine=True) if instance_norm else nn.BatchNorm2d(2 * c))
            layers.append(nn.LeakyReLU(LEAKY, inplace))
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 0, bias=True))
        return nn.Sequential(*layers)

    def dcgan28_generator(ngf=64, nc=1):
        # nets.cpp dcgan28: ConvT nz→2ngf k7 (→7×7), 2ngf→ngf k4 s2 p1 (→14), ngf→nc (→28).
        return nn.Sequential(
            nn.ConvTranspose2d(NZ, 2 * ngf, 7, 1, 0, bias=True), nn.BatchNorm2d(2 * ngf), nn.ReLU(True),
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=True), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=True), nn.Tanh())

    def critic28(ndf=64, nc=1, instance_norm=False):
        # nets.cpp critic28: conv k4 s2 p1 → LReLU → conv k4 s2 p1 → BN (dcgan28.D) or
        # InstanceNorm2d(affine) (wgan28.critic, activations not in place) → LReLU → conv k7 → logits.
        inplace = not instance_norm
        return nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=True), nn.LeakyReLU(LEAKY, inplace),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=True),
            nn.InstanceNorm2d(2 * ndf, affine=True) if instance_norm else nn.BatchNorm2d(2 * ndf),
            nn.LeakyReLU(LEAKY, inplace), nn.Conv2d(2 * ndf, 1, 7, 1, 0, bias=True))

    class Flatten1(nn.Module):
        """[B, 1, 1, 1] logits → [B, 1], as set_critic_forward reshapes."""

        def __init__(self, body):
            super().__init__()
            self.main = body

        def forward(self, x, labels=None):
            return self.main(x).reshape(x.shape[0], 1)

    class Uncond(nn.Module):
        def __init__(self, body):
            super().__init__()
            self.main = body

        def forward(self, z, labels=None):
            return self.main(z)

    class CganGenerator(nn.Module):
        """Conditional DCGAN G, ngf = 128: z and one-hot label branches, concatenated (z first)."""

        def __init__(self, ngf=128, nc=1):
            super().__init__()
            self.deconv1_1 = nn.ConvTranspose2d(NZ, 2 * ngf, 4, 1, 0)
            self.deconv1_1_bn = nn.BatchNorm2d(2 * ngf)
            self.deconv1_2 = nn.ConvTranspose2d(CLASSES, 2 * ngf, 4, 1, 0)
            self.deconv1_2_bn = nn.BatchNorm2d(2 * ngf)
            self.deconv2 = nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1)
            self.deconv2_bn = nn.BatchNorm2d(2 * ngf)
            self.deconv3 = nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1)
            self.deconv3_bn = nn.BatchNorm2d(ngf)
            self.deconv4 = nn.ConvTranspose2d(ngf, nc, 4, 2, 1)

        def forward(self, z, labels):
            relu = torch.nn.functional.relu
            c = torch.nn.functional.one_hot(labels, CLASSES).to(z.dtype).view(-1, CLASSES, 1, 1)
            x = relu(self.deconv1_1_bn(self.deconv1_1(z)))
            y = relu(self.deconv1_2_bn(self.deconv1_2(c)))
            x = torch.cat([x, y], 1)
            x = relu(self.deconv2_bn(self.deconv2(x)))
            x = relu(self.deconv3_bn(self.deconv3(x)))
            return torch.tanh(self.deconv4(x))

    class CganDiscriminator(nn.Module):
        """Conditional DCGAN D, ndf = 128: image and 10×32×32 label-map branches (image first)."""

        def __init__(self, ndf=128, nc=1):
            super().__init__()
            self.conv1_1 = nn.Conv2d(nc, ndf // 2, 4, 2, 1)
            self.conv1_2 = nn.Conv2d(CLASSES, ndf // 2, 4, 2, 1)
            self.conv2 = nn.Conv2d(ndf, 2 * ndf, 4, 2, 1)
            self.conv2_bn = nn.BatchNorm2d(2 * ndf)
            self.conv3 = nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1)
            self.conv3_bn = nn.BatchNorm2d(4 * ndf)
            self.conv4 = nn.Conv2d(4 * ndf, 1, 4, 1, 0)

        def forward(self, x, labels):
            lrelu = torch.nn.functional.leaky_relu
            b = x.shape[0]
            c = torch.nn.functional.one_hot(labels, CLASSES).to(x.dtype).view(b, CLASSES, 1, 1)
            c = c.expand(b, CLASSES, x.shape[2], x.shape[3]).contiguous()  # gantry materializes broadcast_to
            h = torch.cat([lrelu(self.conv1_1(x), LEAKY), lrelu(self.conv1_2(c), LEAKY)], 1)
            h = lrelu(self.conv2_bn(self.conv2(h)), LEAKY)
            h = lrelu(self.conv3_bn(self.conv3(h)), LEAKY)
            return self.conv4(h).reshape(b, 1)

    g28, g64 = (lambda: Uncond(dcgan28_generator())), (lambda: Uncond(dcgan64_generator()))
    wgan28 = lambda: Flatten1(critic28(instance_norm=True))
    models = {  # name: (G, D, objective, image size), as nets.cpp's model table
        "dcgan28": (g28, lambda: Flatten1(critic28()), "gan", 28),
        "dcgan64": (g64, lambda: Flatten1(critic64()), "gan", 64),
        "cgan32": (CganGenerator, CganDiscriminator, "cgan", 32),
        "wgangp28": (g28, wgan28, "wgangp", 28),
        "wgan-clip28": (g28, wgan28, "wgan-clip", 28),
        "wgangp64": (g64, lambda: Flatten1(critic64(instance_norm=True)), "wgangp", 64),
    }
    if model not in models:
        raise ValueError(f"unknown model '{model}' (known: {', '.join(models)})")
    make_g, make_d, kind, size = models[model]
    G, D = make_g(), make_d()
    G.apply(weights_init)
    D.apply(weights_init)
    return G, D, kind, size


def set_grad(net, on):
    for p in net.parameters():
        p.requires_grad_(on)


def make_step(torch, G, D, kind, batch, images, labels, n_critic=5, lam=10.0, clip=0.01):
    """Returns step(): one generator iteration, metrics read back to the host."""
    F = torch.nn.functional
    dev = images.device
    rows = images.shape[0]
    gan = kind in ("gan", "cgan")
    gp = kind == "wgangp"
    if kind == "wgan-clip":  # RMSprop 5e-5 for both nets (gantry's RmspropOptions: α 0.99, ε 1e-8)
        opt_d = torch.optim.RMSprop(D.parameters(), lr=5e-5, alpha=0.99, eps=1e-8)
        opt_g = torch.optim.RMSprop(G.parameters(), lr=5e-5, alpha=0.99, eps=1e-8)
    else:
        lr = 2e-4 if gan else 1e-4
        opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-8)
        opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-8)
    ones = torch.ones(batch, 1, device=dev)
    zeros = torch.zeros(batch, 1, device=dev)
    batches = 1 if gan else n_critic
    order = {"perm": None, "epoch": -1, "pos": 0}

    def minibatch_rows():
        # A fresh permutation per epoch, like train/dataset.cpp's EpochOrder
        # (host-side indices written each step, as gantry does).
        idx = []
        while len(idx) < batch:
            if order["perm"] is None or order["pos"] >= rows:
                order["perm"] = torch.randperm(rows)
                order["pos"] = 0
            take = min(batch - len(idx), rows - order["pos"])
            idx.extend(order["perm"][order["pos"]:order["pos"] + take].tolist())
            order["pos"] += take
        return torch.tensor(idx, dtype=torch.long).to(dev, non_blocking=True)

    def step():
        if gan:
            r = minibatch_rows()
            x = images.index_select(0, r)
            y = labels.index_select(0, r) if kind == "cgan" else None
            z = torch.randn(batch, NZ, 1, 1, device=dev)
            fake = G(z, y)
            # D step: gradients for D only (fake is a constant here).
            opt_d.zero_grad(set_to_none=True)
            d_real = D(x, y)
            d_fake = D(fake.detach(), y)
            loss_d = (F.binary_cross_entropy_with_logits(d_real, ones) +
                      F.binary_cross_entropy_with_logits(d_fake, zeros))
            loss_d.backward()
            opt_d.step()
            # G step through the updated D; D's weights get no gradients.
            opt_g.zero_grad(set_to_none=True)
            set_grad(D, False)
            loss_g = F.binary_cross_entropy_with_logits(D(fake, y), ones)
            loss_g.backward()
            set_grad(D, True)
            opt_g.step()
            m = torch.stack([loss_d.detach(), loss_g.detach(), torch.sigmoid(d_real).mean().detach(),
                             torch.sigmoid(d_fake).mean().detach()])
            return m.tolist()  # one device→host copy, like gantry's metric reads
        for _ in range(batches):
            x = images.index_select(0, minibatch_rows())
            with torch.no_grad():
                fake = G(torch.randn(batch, NZ, 1, 1, device=dev))
            opt_d.zero_grad(set_to_none=True)
            d_real = D(x).mean()
            d_fake = D(fake).mean()
            wdist = d_real - d_fake
            loss_d = -wdist
            if gp:
                # x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1) per sample; the penalty differentiates D twice.
                eps = torch.rand(batch, 1, 1, 1, device=dev)
                xhat = (eps * x + (1 - eps) * fake).requires_grad_(True)
                dx, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
                norm = torch.sqrt(dx.reshape(batch, -1).square().sum(1) + 1e-12)
                penalty = (norm - 1).square().mean()
                loss_d = loss_d + lam * penalty
            loss_d.backward()
            opt_d.step()
            if not gp:  # weight clipping: every critic parameter into [−c, c] after each update
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-clip, clip)
        opt_g.zero_grad(set_to_none=True)
        set_grad(D, False)
        loss_g = -D(G(torch.randn(batch, NZ, 1, 1, device=dev))).mean()
        loss_g.backward()
        set_grad(D, True)
        opt_g.step()
        m = [loss_d.detach(), loss_g.detach(), wdist.detach()]
        if gp:
            m += [penalty.detach(), norm.mean().detach()]
        return torch.stack(m).tolist()

    return step


def sync(torch, dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def sampling_ms(torch, G, kind, n, reps, dev):
    """Median ms of one eval-mode generator pass at batch n (2 untimed passes first)."""
    G.eval()
    z = torch.randn(n, NZ, 1, 1, device=dev)
    y = torch.arange(n, device=dev) % CLASSES if kind == "cgan" else None
    times = []
    with torch.no_grad():
        for i in range(reps + 2):
            sync(torch, dev)
            t0 = time.perf_counter()
            G(z, y)
            sync(torch, dev)
            if i >= 2:
                times.append(1000.0 * (time.perf_counter() - t0))
    G.train()
    return statistics.median(times)


def openblas():
    """The OpenBLAS this process loaded (ctypes handle), or None: Debian's torch is built
    with BLAS_INFO=generic and calls whatever libblas.so.3 the alternatives system picked."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "/libopenblas" in line}
    except OSError:
        return None
    return ctypes.CDLL(sorted(libs)[0]) if libs else None


def cpu_description(torch, threads):
    """ "cpu (2 threads, torch V, BLAS: ...; oneDNN V; parallel: OpenMP)", from what this process loaded."""
    import ctypes
    import re
    plural = lambda n: f"{n} thread" + "s" * (n != 1)
    cfg, par = torch.__config__.show(), torch.__config__.parallel_info()
    lib = openblas()
    if lib is not None:
        lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
        kind = {0: "sequential", 1: "pthread", 2: "OpenMP"}.get(lib.openblas_get_parallel(), "?")
        blas = (f"{lib.openblas_get_config().decode().split(' NO_')[0]} {kind}, "
                f"core {lib.openblas_get_corename().decode()}, {plural(lib.openblas_get_num_threads())}")
    else:
        maps = open("/proc/self/maps").read() if sys.platform.startswith("linux") else ""
        m = re.search(r"BLAS_INFO=(\w+)", cfg)
        blas = ("reference BLAS (netlib; slow: point libblas.so.3 at OpenBLAS)" if "/blas/libblas.so" in maps
                else "MKL" if "MKL" in cfg and "MKL not found" not in par else m.group(1) if m else "unknown")
    dnn = re.search(r"MKL-DNN (v[\d.]+)", cfg)
    backend = re.search(r"ATen parallel backend: (\w+)", par)
    return (f"cpu ({plural(threads)}, torch {torch.__version__}, BLAS: {blas}"
            + (f"; oneDNN {dnn.group(1)}" if dnn and torch.backends.mkldnn.enabled else "")
            + (f"; parallel: {backend.group(1)}" if backend else "") + ")")


def bench_one(torch, dev, model, batch, steps, warmup, seed):
    cuda = dev.type == "cuda"
    torch.manual_seed(seed)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    G, D, kind, size = build(torch, model)
    G.to(dev).train()
    D.to(dev).train()
    # gantry bench's data: max(5·batch, 256) rows of [1, S, S] in [-1, 1), labels i % 10.
    rows = max(batch * 5, 256)
    images = torch.rand(rows, 1, size, size, device=dev) * 2 - 1
    labels = torch.arange(rows, device=dev) % CLASSES
    step = make_step(torch, G, D, kind, batch, images, labels)
    host_ms, gpu_ms = [], []
    if cuda:
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for i in range(warmup + steps):
        sync(torch, dev)
        t0 = time.perf_counter()
        if cuda:
            start.record()
        metrics = step()
        if cuda:
            stop.record()
        sync(torch, dev)
        if i >= warmup:
            host_ms.append(1000.0 * (time.perf_counter() - t0))
            if cuda:
                gpu_ms.append(start.elapsed_time(stop))
        if not all(v == v and abs(v) != float("inf") for v in metrics):
            raise RuntimeError(f"{model}: step {i + 1}: a metric is NaN or Inf: {metrics}")
    peak = int(torch.cuda.max_memory_allocated()) if cuda else None
    s1 = sampling_ms(torch, G, kind, 1, steps, dev)
    s64 = sampling_ms(torch, G, kind, 64, max(3, steps // 4), dev)
    med = statistics.median(host_ms)
    return {
        "model": model, "backend": "pytorch",
        "device": torch.cuda.get_device_name(dev) if cuda else cpu_description(torch, torch.get_num_threads()),
        "batch": batch, "steps": steps, "median_ms_per_step": round(med, 3),
        "median_gpu_ms_per_step": round(statistics.median(gpu_ms), 3) if cuda else None,
        "images_per_s": round(1000.0 * batch / med, 1), "max_memory_allocated_bytes": peak,
        "sample_ms_batch1": round(s1, 3), "sample_ms_batch64": round(s64, 3), "torch": torch.__version__,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="dcgan64,cgan32,wgangp64", help="comma-separated: " + ", ".join(MODELS))
    ap.add_argument("--batch", default="64", help="batch size(s), comma-separated")
    ap.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (cuDNN autotuning happens here)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--threads", type=int,
                    help="intra-op threads, OpenBLAS's too (default: 2 on cpu, PyTorch's own on cuda)")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be ≥ 1 and --warmup ≥ 0")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be ≥ 1")
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(MODELS)})")

    import torch  # imported late so --help works without PyTorch

    dev = torch.device(args.device)
    threads = args.threads if args.threads is not None else 2 if args.device == "cpu" else None
    if threads is not None:
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        lib = openblas()  # torch.set_num_threads does not reach a BLAS_INFO=generic build's OpenBLAS
        if lib is not None:
            lib.openblas_set_num_threads(threads)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            print(json.dumps({"backend": "pytorch",
                              "error": "no CUDA device visible to PyTorch (--device cpu runs on the CPU)"}))
            return 1
        # fp32 everywhere, as gantry: no TF32 in matmuls or convolutions; cuDNN picks its fastest algorithms.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True

    failures = 0
    for model in models:
        for b in [int(v) for v in args.batch.split(",") if v]:
            try:
                print(json.dumps(bench_one(torch, dev, model, b, args.steps, args.warmup, args.seed)), flush=True)
            except Exception as e:  # one failing model does not stop the others
                failures += 1
                print(json.dumps({"model": model, "backend": "pytorch", "batch": b, "error": str(e)}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
