#!/usr/bin/env python3
"""Independent ray-traced check of the simulator's 60 GHz channel (docs/simulator.md).

Rebuilds a simulated drive in Sionna RT (Mitsuba 3 + Dr.Jit, CPU LLVM backend) — the ground,
the facades with their ITU-R P.2040 materials, and (when the bag has `truth/channel`) every
vehicle body as a metal box — traces the UE → array paths per frame with Sionna's own shooting
and bouncing plus image refinement (specular reflections up to --max-depth, no scattering,
refraction or diffraction), forms the per-element channel of the site's array (one receiver per
element, so the wavefront is spherical), applies the site's codebook, and compares the best beam
with the simulator's `truth/beam`:

    .venv/bin/python Tools/raytrace_check.py --scenario street --duration 60

runs `foresight sim --bag` itself (with `link.channel_truth: true`, which changes nothing else in
the output) and prints, over the frames whose line of sight is clear (`truth/blockage.blocked`
false): the share with the same best beam, within one beam, and the best-beam power difference.
`--bag FILE` checks an existing bag instead (without `truth/channel` the UE position comes from
`truth/ue` and no vehicles are placed: use a scenario without traffic then).

The code shared with the simulator is only what defines the comparison: the site file (array
pose, elements, spacing, codebook) and the scenario file (geometry, materials, powers). The
element pattern is the documented one (power gain 4·cos ψ in front, 0 behind, vertical
polarisation); the UE antenna is isotropic and vertically polarised.

Needs `sionna-rt` and LLVM ≥ 17 for Dr.Jit's CPU backend: `Tools/setup.sh sionna-rt==2.2.0` installs
both (Debian's libllvm19). About 1 s per frame on one core after a ~15 s warm-up.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import msgpack
import numpy as np
import yaml
from mcap.reader import make_reader

C = 299_792_458.0


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def resolve_scenario(name):
    if os.path.exists(name):
        return name
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "launch", "scenarios", name if name.endswith(".yaml") else name + ".yaml")
    if not os.path.exists(path):
        sys.exit(f"no scenario file or name '{name}'")
    return path


def read_bag(path):
    """Frames keyed by stamp: truth/beam, truth/blockage, truth/ue and truth/channel payloads."""
    frames = {}
    with open(path, "rb") as f:
        for _, channel, message in make_reader(f).iter_messages(topics=["truth/beam", "truth/blockage", "truth/ue", "truth/channel"]):
            m = msgpack.unpackb(message.data, raw=False)
            frames.setdefault(m["stamp"], {})[channel.topic] = m
    return [frames[k] for k in sorted(frames) if "truth/beam" in frames[k] and "truth/ue" in frames[k]]


def codebook(mm):
    n, beams, d = mm["elements"], mm["codebook"]["beams"], mm.get("spacing_wavelengths", 0.5)
    u = np.clip((-1 + (2 * np.arange(beams) + 1) / beams) / (2 * d), -1, 1)
    # conjugated weights, element index e (element 0 rightmost), as in the site calibration docs
    return np.exp(-2j * np.pi * d * np.outer(u, np.arange(n))) / math.sqrt(n)


def pose_axes(pose):
    yaw, pitch, roll = (math.radians(pose.get(k, 0.0)) for k in ("yaw_deg", "pitch_deg", "roll_deg"))
    def rz(a): return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    def ry(a): return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    def rx(a): return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    return rz(yaw) @ ry(-pitch) @ rx(roll)      # columns: body x (boresight), y (array axis), z


def facades(scn):
    out = []
    for f in scn["street"].get("facades", []):
        if isinstance(f["north_m"], list):
            a, b = (f["east_m"], f["north_m"][0]), (f["east_m"], f["north_m"][1])
        else:
            ea, eb = f.get("east_m", [-5000.0, 5000.0])
            a, b = (ea, f["north_m"]), (eb, f["north_m"])
        material = f.get("material", "concrete")
        out.append((a, b, f["height_m"], material))
    return out


def quad_mesh(mi, corners):
    """A two-triangle mesh from four corners (in order around the rectangle)."""
    mesh = mi.Mesh("quad", vertex_count=4, face_count=2, has_vertex_normals=False, has_vertex_texcoords=False)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(np.asarray(corners, dtype=np.float32).ravel())
    params["faces"] = mi.UInt32(np.array([0, 1, 2, 0, 2, 3], dtype=np.uint32))
    params.update()
    return mesh


def box_corners(east, north, heading, length, width, height, z0=0.0):
    c, s = math.cos(heading), math.sin(heading)
    corners = []
    for z in (z0, z0 + height):
        for lx, ly in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            x, y = lx * length / 2, ly * width / 2
            corners.append((east + c * x - s * y, north + s * x + c * y, z))
    return corners


def box_mesh(mi, east, north, heading, length, width, height, z0=0.0):
    corners = box_corners(east, north, heading, length, width, height, z0)
    faces = [0, 2, 1, 0, 3, 2, 4, 5, 6, 4, 6, 7, 0, 1, 5, 0, 5, 4, 1, 2, 6, 1, 6, 5, 2, 3, 7, 2, 7, 6, 3, 0, 4, 3, 4, 7]
    mesh = mi.Mesh("box", vertex_count=8, face_count=12, has_vertex_normals=False, has_vertex_texcoords=False)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(np.asarray(corners, dtype=np.float32).ravel())
    params["faces"] = mi.UInt32(np.array(faces, dtype=np.uint32))
    params.update()
    return mesh


class SionnaTracer:
    def __init__(self, site, scn, max_depth, samples):
        # Dr.Jit emits llvm.maximum, which LLVM < 17 cannot compile on x86: use Debian's LLVM 19
        for candidate in ("/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1", "/usr/lib/x86_64-linux-gnu/libLLVM-19.so"):
            if "DRJIT_LIBLLVM_PATH" not in os.environ and os.path.exists(candidate):
                os.environ["DRJIT_LIBLLVM_PATH"] = candidate
        import drjit as dr
        import mitsuba as mi
        mi.set_variant("llvm_ad_mono_polarized")
        import sionna.rt as rt
        self.dr, self.mi, self.rt = dr, mi, rt
        mm = site["mmwave"]
        self.frequency = float(mm["carrier_hz"])
        self.wavelength = C / self.frequency
        self.max_depth, self.samples = max_depth, samples

        def v_cos(theta, phi):
            # documented element: power gain 4·cos ψ in front (ψ from boresight = local x), nothing behind
            cpsi = dr.sin(theta) * dr.cos(phi)
            front = dr.select(cpsi > 0, cpsi, 0.0)    # (no dr.maximum: LLVM < 17 cannot select llvm.maximum on x86)
            return mi.Complex2f(dr.sqrt(4 * front), 0)

        def factory(*, polarization, polarization_model="tr38901_2"):
            return rt.PolarizedAntennaPattern(v_pattern=v_cos, polarization=polarization, polarization_model=polarization_model)
        rt.register_antenna_pattern("foresight_cos", factory)

        self.pose = mm["pose"]
        self.axes = pose_axes(self.pose)
        n, d = mm["elements"], mm.get("spacing_wavelengths", 0.5) * self.wavelength
        origin = np.array(self.pose["position"], dtype=float)
        self.elements = [origin + self.axes[:, 1] * ((e - (n - 1) / 2) * d) for e in range(n)]
        self.weights = codebook(mm)

        street = scn["street"]
        ground = street.get("ground_material", "concrete")
        self.materials = {}
        self.static = []
        ext = street["east_m"]
        ys = [0.0] + [f[0][1] for f in facades(scn)] + [f[1][1] for f in facades(scn)]
        ys = [y for y in ys if abs(y) < 1000]
        x0, x1 = ext[0] - 400, ext[1] + 400
        y0, y1 = min(ys) - 400, max(ys) + 400
        self.static.append(("ground", quad_mesh(mi, [(x0, y0, 0), (x1, y0, 0), (x1, y1, 0), (x0, y1, 0)]), ground))
        for i, (a, b, h, material) in enumerate(facades(scn)):
            self.static.append((f"facade{i}", quad_mesh(mi, [(a[0], a[1], 0), (b[0], b[1], 0), (b[0], b[1], h), (a[0], a[1], h)]), material))
        self.solver = rt.PathSolver()

    def material(self, name):
        key = str(name)
        if key not in self.materials:
            if isinstance(name, dict):
                self.materials[key] = self.rt.RadioMaterial(f"custom{len(self.materials)}", relative_permittivity=name["permittivity"],
                                                            conductivity=name["conductivity_s_per_m"])
            else:
                self.materials[key] = self.rt.ITURadioMaterial(f"itu_{name}", name, thickness=0.1)
        return self.materials[key]

    def build(self, pool):
        """The scene, once: static surfaces, `pool` metal boxes parked underground, the UE and one
        receiver per array element. Frames then only move vertices (Dr.Jit reuses its kernels)."""
        rt, mi = self.rt, self.mi
        scene = rt.load_scene()
        scene.frequency = self.frequency
        objects = [rt.SceneObject(mi_mesh=mesh, name=name, radio_material=self.material(mat)) for name, mesh, mat in self.static]
        self.boxes = [rt.SceneObject(mi_mesh=box_mesh(mi, 0, 0, 0, 1, 1, 1, z0=-1000 - 10 * k), name=f"vehicle{k}",
                                     radio_material=self.material("metal")) for k in range(pool)]
        scene.edit(add=objects + self.boxes)
        scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="foresight_cos", polarization="V")
        scene.add(rt.Transmitter("ue", position=mi.Point3f(0, 10, 1.5)))
        yaw = math.radians(self.pose.get("yaw_deg", 0.0))
        pitch = math.radians(self.pose.get("pitch_deg", 0.0))
        roll = math.radians(self.pose.get("roll_deg", 0.0))
        for e, p in enumerate(self.elements):
            scene.add(rt.Receiver(f"e{e}", position=mi.Point3f(*map(float, p)), orientation=mi.Point3f(yaw, -pitch, roll)))
        self.scene = scene

    def channel(self, ue, vehicles):
        """Per-element complex channel h[e] = Σ_paths a·exp(−j·2π·f·τ) (narrowband at the carrier)."""
        mi, dr = self.mi, self.dr
        if len(vehicles) > len(self.boxes):
            raise SystemExit(f"{len(vehicles)} vehicles exceed the pool of {len(self.boxes)} boxes")
        for k, box in enumerate(self.boxes):
            corners = box_corners(*vehicles[k]) if k < len(vehicles) else box_corners(0, 0, 0, 1, 1, 1, z0=-1000 - 10 * k)
            target = mi.Point3f(*(mi.Float(np.asarray(corners, dtype=np.float32)[:, i].copy()) for i in range(3)))
            box._transform_vertices(lambda _v, t=target: t)
        self.scene.get("ue").position = mi.Point3f(*map(float, ue))
        paths = self.solver(self.scene, max_depth=self.max_depth, los=True, specular_reflection=True, diffuse_reflection=False,
                            refraction=False, synthetic_array=False, samples_per_src=self.samples, seed=1)
        a_re, a_im = paths.a
        a = np.array(a_re) + 1j * np.array(a_im)          # [rx, rx_ant, tx, tx_ant, paths]
        tau = np.array(paths.tau, dtype=np.float64)
        valid = np.array(paths.valid).astype(bool)
        a = np.where(valid & (tau >= 0), a * np.exp(-2j * np.pi * self.frequency * tau), 0)
        return a.reshape(a.shape[0], -1).sum(axis=1)


def run_sim(foresight, scenario, site, duration, seed, bag):
    scn = load_yaml(scenario)
    scn.setdefault("link", {})["channel_truth"] = True
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(scn, f)
        tmp = f.name
    cmd = [foresight, "sim", "--scenario", tmp, "--site", site, "--duration", str(duration), "--bag", bag, "--quiet"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    subprocess.run(cmd, check=True)
    os.unlink(tmp)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="street", help="scenario name or file (geometry and materials; also simulated unless --bag)")
    ap.add_argument("--site", default=os.path.join(root, "Calibration", "sim-site.yaml"))
    ap.add_argument("--bag", help="an existing simulator bag to check (default: simulate one)")
    ap.add_argument("--duration", type=float, default=60.0, help="simulated seconds when simulating (60)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--foresight", default=os.path.join(root, ".build", "release", "foresight"))
    ap.add_argument("--every", type=int, default=1, help="check every N-th frame (1)")
    ap.add_argument("--max-depth", type=int, default=2, help="reflection order traced (2)")
    ap.add_argument("--samples", type=int, default=200_000, help="rays shot from the UE per frame")
    ap.add_argument("--no-vehicles", action="store_true", help="leave the vehicle bodies out of the traced scene")
    ap.add_argument("--ue-body", action="store_true",
                    help="also trace the UE's own body (its metal roof 0.15 m under the antenna then reflects, i.e. the installed "
                         "antenna pattern; the simulator's UE antenna is an isotropic radiator whose roof only shadows)")
    ap.add_argument("--json", help="write the per-frame results here")
    args = ap.parse_args()

    scenario = resolve_scenario(args.scenario)
    site, scn = load_yaml(args.site), load_yaml(scenario)
    bag = args.bag
    if bag is None:
        bag = tempfile.mktemp(suffix=".mcap")
        run_sim(args.foresight, scenario, args.site, args.duration, args.seed, bag)
    frames = read_bag(bag)[:: args.every]
    tracer = SionnaTracer(site, scn, args.max_depth, args.samples)
    pool = max([len(f["truth/channel"]["vehicle_ids"]) for f in frames if "truth/channel" in f] + [0])
    tracer.build(0 if args.no_vehicles else pool)
    tx_mw = 10 ** ((scn["link"].get("tx_power_dbm", 27) + scn["link"].get("ue_gain_dbi", 0)) / 10)
    antenna = scn["ue"].get("antenna_height_m", 1.6)
    results = []
    start = time.time()
    for i, f in enumerate(frames):
        blocked = f.get("truth/blockage", {}).get("blocked", False)
        if blocked:
            continue
        if "truth/channel" in f:
            ch = f["truth/channel"]
            ue = ch["ue_antenna"]
            boxes = np.array(ch["vehicle_boxes"], dtype=float).reshape(-1, 6)
            own = np.array(ch["vehicle_is_ue"], dtype=bool)
            vehicles = [] if args.no_vehicles else [tuple(b) for b, is_ue in zip(boxes, own) if args.ue_body or not is_ue]
        else:
            ue = [f["truth/ue"]["east"], f["truth/ue"]["north"], antenna]
            vehicles = []
        h = tracer.channel(ue, vehicles)
        powers = tx_mw * np.abs(tracer.weights @ h) ** 2
        sim_power = np.frombuffer(f["truth/beam"]["power"], dtype="<f4").astype(float)
        best_rt, best_sim = int(np.argmax(powers)), int(f["truth/beam"]["best"])
        results.append({"stamp": f["truth/beam"]["stamp"], "ue": list(map(float, ue)), "best_sim": best_sim, "best_rt": best_rt,
                        "p_sim_dbm": 10 * math.log10(max(sim_power[best_sim], 1e-30)),
                        "p_rt_dbm": 10 * math.log10(max(powers[best_rt], 1e-30)), "vehicles": len(vehicles)})
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(frames)} frames, {time.time() - start:.0f} s", file=sys.stderr)
    if not results:
        sys.exit("no line-of-sight-clear frames in the bag")
    exact = np.mean([r["best_sim"] == r["best_rt"] for r in results])
    within = np.mean([abs(r["best_sim"] - r["best_rt"]) <= 1 for r in results])
    # the oversampled DFT codebook is circular in spatial frequency: beams 0 and B−1 are neighbours at endfire
    beams = len(tracer.weights)
    circular = np.mean([min(abs(r["best_sim"] - r["best_rt"]), beams - abs(r["best_sim"] - r["best_rt"])) <= 1 for r in results])
    dp = np.array([r["p_sim_dbm"] - r["p_rt_dbm"] for r in results])
    summary = {"scenario": scn.get("scenario"), "frames_clear": len(results), "exact": float(exact), "within_one_beam": float(within),
               "within_one_beam_circular": float(circular),
               "best_power_diff_db_median": float(np.median(dp)), "best_power_diff_db_p90_abs": float(np.percentile(np.abs(dp), 90)),
               "max_depth": args.max_depth, "vehicles_traced": not args.no_vehicles and any("truth/channel" in f for f in frames), "ue_body_traced": args.ue_body,
               "engine": "sionna-rt"}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as fp:
            json.dump({"summary": summary, "frames": results}, fp, indent=1)


if __name__ == "__main__":
    main()
