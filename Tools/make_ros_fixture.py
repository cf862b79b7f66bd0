#!/usr/bin/env python3
"""Writes a small ROS 2 bag (rosbag2, sqlite3) with the sensor types Tools/import_ros.py reads,
using rosbags' own writer and type store, plus the matching topic map.

    Tools/make_ros_fixture.py OUT_DIR [--frames 30] [--ros1 | --storage mcap] [--raw-image]
        →  OUT_DIR/bag/ (rosbag2; with --ros1 the ROS 1 file OUT_DIR/bag.bag) and OUT_DIR/topics.yaml

Per 100 ms frame (stamps in the headers; the bag's receive time 3 ms later):
/cam/compressed sensor_msgs/CompressedImage (JPEG 320×180), /points sensor_msgs/PointCloud2
(x, y, z, intensity float32 + a padding field), /ue/fix sensor_msgs/NavSatFix, /mmwave/power
std_msgs/Float32MultiArray (64 linear powers; one frame holds a NaN), /radar/cube
std_msgs/Float32MultiArray ([4, 256, 128] interleaved I/Q). One NavSatFix has status -1 (no fix).
"""
import argparse
import io
import math
import os

import numpy as np
from PIL import Image
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

LAT0, LON0 = 33.420887, -111.928835  # the simulator site's origin


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--ros1", action="store_true", help="write a ROS 1 bag instead of rosbag2")
    ap.add_argument("--storage", choices=["sqlite3", "mcap"], default="sqlite3", help="rosbag2 storage plugin")
    ap.add_argument("--raw-image", action="store_true", help="camera as sensor_msgs/Image bgr8 with a padded row step")
    args = ap.parse_args()
    ts = get_typestore(Stores.ROS1_NOETIC if args.ros1 else Stores.ROS2_HUMBLE)
    T = ts.types
    Time, Header0 = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]
    Header = (lambda stamp, frame_id: Header0(seq=0, stamp=stamp, frame_id=frame_id)) if args.ros1 else Header0
    serialize = ts.serialize_ros1 if args.ros1 else ts.serialize_cdr
    os.makedirs(args.out, exist_ok=True)
    bag = os.path.join(args.out, "bag.bag" if args.ros1 else "bag")
    rng = np.random.default_rng(3)
    start = 1_767_225_600_000_000_000
    with (Writer1(bag) if args.ros1 else Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP if args.storage == "mcap" else StoragePlugin.SQLITE3)) as w:
        conns = {
            "cam": (w.add_connection("/cam/raw", "sensor_msgs/msg/Image", typestore=ts) if args.raw_image
                    else w.add_connection("/cam/compressed", "sensor_msgs/msg/CompressedImage", typestore=ts)),
            "pts": w.add_connection("/points", "sensor_msgs/msg/PointCloud2", typestore=ts),
            "fix": w.add_connection("/ue/fix", "sensor_msgs/msg/NavSatFix", typestore=ts),
            "pwr": w.add_connection("/mmwave/power", "std_msgs/msg/Float32MultiArray", typestore=ts),
            "rad": w.add_connection("/radar/cube", "std_msgs/msg/Float32MultiArray", typestore=ts),
        }
        img = (rng.random((180, 320, 3)) * 255).astype(np.uint8)
        for k in range(args.frames):
            stamp = start + k * 100_000_000
            header = lambda frame: Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id=frame)
            recv = stamp + 3_000_000
            if args.raw_image:  # bgr8 rows padded to a 1024-byte step
                padded = np.zeros((180, 1024), np.uint8)
                padded[:, : 320 * 3] = img[:, :, ::-1].reshape(180, 320 * 3)
                msg = T["sensor_msgs/msg/Image"](header=header("camera"), height=180, width=320, encoding="bgr8", is_bigendian=0,
                                                step=1024, data=padded.ravel())
                w.write(conns["cam"], recv, serialize(msg, "sensor_msgs/msg/Image"))
            else:
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="JPEG", quality=80)
                msg = T["sensor_msgs/msg/CompressedImage"](header=header("camera"), format="jpeg", data=np.frombuffer(buf.getvalue(), np.uint8))
                w.write(conns["cam"], recv, serialize(msg, "sensor_msgs/msg/CompressedImage"))

            n = 500
            pts = np.zeros(n, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("pad", "<f4"), ("intensity", "<f4")])
            pts["x"], pts["y"], pts["z"] = rng.uniform(-20, 20, n), rng.uniform(0, 30, n), rng.uniform(-2, 2, n)
            pts["intensity"] = rng.uniform(0, 100, n)
            PF = T["sensor_msgs/msg/PointField"]
            fields = [PF(name=nm, offset=off, datatype=7, count=1) for nm, off in (("x", 0), ("y", 4), ("z", 8), ("intensity", 16))]
            msg = T["sensor_msgs/msg/PointCloud2"](header=header("lidar"), height=1, width=n, fields=fields, is_bigendian=False,
                                                  point_step=20, row_step=20 * n, data=np.frombuffer(pts.tobytes(), np.uint8), is_dense=True)
            w.write(conns["pts"], recv, serialize(msg, "sensor_msgs/msg/PointCloud2"))

            east, north = -20 + 1.0 * k, 10.0
            lat = LAT0 + math.degrees(north / 6371000.0)
            lon = LON0 + math.degrees(east / (6371000.0 * math.cos(math.radians(LAT0))))
            status = T["sensor_msgs/msg/NavSatStatus"](status=-1 if k == 5 else 0, service=1)
            msg = T["sensor_msgs/msg/NavSatFix"](header=header("ue_gnss"), status=status, latitude=lat, longitude=lon, altitude=1.5,
                                                position_covariance=np.array([1.0, 0, 0, 0, 1.0, 0, 0, 0, 4.0]), position_covariance_type=2)
            w.write(conns["fix"], recv, serialize(msg, "sensor_msgs/msg/NavSatFix"))

            Layout, Dim = T["std_msgs/msg/MultiArrayLayout"], T["std_msgs/msg/MultiArrayDimension"]
            power = (1e-6 + 1e-3 * np.exp(-((np.arange(64) - 20 - k) / 3.0) ** 2)).astype(np.float32)
            if k == 7:
                power[10] = np.nan
            msg = T["std_msgs/msg/Float32MultiArray"](layout=Layout(dim=[Dim(label="beam", size=64, stride=64)], data_offset=0), data=power)
            w.write(conns["pwr"], recv, serialize(msg, "std_msgs/msg/Float32MultiArray"))

            cube = rng.standard_normal(4 * 256 * 128 * 2).astype(np.float32)
            dims = [Dim(label="rx", size=4, stride=4 * 256 * 128 * 2), Dim(label="samples", size=256, stride=256 * 128 * 2),
                    Dim(label="chirps", size=128, stride=128 * 2), Dim(label="iq", size=2, stride=2)]
            msg = T["std_msgs/msg/Float32MultiArray"](layout=Layout(dim=dims, data_offset=0), data=cube)
            w.write(conns["rad"], recv, serialize(msg, "std_msgs/msg/Float32MultiArray"))
    with open(os.path.join(args.out, "topics.yaml"), "w") as f:
        f.write("""# Topic map of the synthetic ROS 2 bag (Tools/make_ros_fixture.py); see Tools/import_ros.py.
camera: {topic: %s}
lidar: {topic: /points}
gnss: {topic: /ue/fix}
beam_power: {topic: /mmwave/power, field: data, unit: mw}
radar: {topic: /radar/cube, field: data, iq: interleaved}
truth: {beam_from_power: true, ue_from_gnss: true}
""" % ("/cam/raw" if args.raw_image else "/cam/compressed"))
    print("wrote %d frames to %s" % (args.frames, bag))


if __name__ == "__main__":
    main()
