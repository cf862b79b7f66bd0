import Foundation
import ForesightBag
import ForesightTestSupport
import ForesightWire
import Testing

@Suite(.serialized) struct RosImportTests {
    /// A rosbag2 written with rosbags' own writer converts into protocol messages the Swift
    /// decoders accept, with the header stamps kept, and the result is `bag info`- and `eval`-able.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestSupport.python), "needs .venv (Tools/setup.sh)"))
    func rosbag2ImportsAndEvaluates() throws {
        let dir = try TestSupport.temporaryDirectory("ros-import")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try TestSupport.runPython("make_ros_fixture.py", [dir.path, "--frames", "30"])
        #expect(made.status == 0, "\(made.stderr)")
        let bag = dir.appendingPathComponent("drive.mcap").path
        let site = TestSupport.path("Calibration/sim-site.yaml")
        let run = try TestSupport.runPython("import_ros.py", [dir.appendingPathComponent("bag").path, "-o", bag,
                                                              "--map", dir.appendingPathComponent("topics.yaml").path, "--site", site])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("skipped: nothing"))

        let messages = try decodedMessages(bag)
        for topic in ["sensor/camera", "sensor/lidar", "sensor/gnss", "sensor/beam_power", "sensor/radar", "truth/beam"] {
            #expect(messages[topic]?.count == 30, "\(topic)")
        }
        #expect(messages["truth/ue"]?.count == 29, "the fix without a position gives no truth")
        let start: Int64 = 1_767_225_600_000_000_000
        for (i, entry) in (messages["sensor/camera"] ?? []).enumerated() {
            #expect(entry.message.header.stamp == start + Int64(i) * 100_000_000, "header stamp kept")
            #expect(entry.logTime == UInt64(start + Int64(i) * 100_000_000 + 3_000_000), "receive time as log time")
            #expect(entry.message.header.seq == UInt32(i))
        }
        let cloud = try #require(messages["sensor/lidar"]?.first?.message as? PointCloud)
        #expect(cloud.fields == ["x", "y", "z", "intensity"] && cloud.count == 500)
        let cube = try #require(messages["sensor/radar"]?.first?.message as? RadarCube)
        #expect([cube.rx, cube.samples, cube.chirps] == [4, 256, 128] && cube.dtype == .cf32)
        let power = try #require(messages["sensor/beam_power"]?[7].message as? BeamPower)
        #expect(power.power[10].isNaN)
        let fix = try #require(messages["sensor/gnss"]?[5].message as? GnssFix)
        #expect(fix.fix == .none)

        let binary = TestSupport.foresightBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else { return }
        let info = try TestSupport.run(binary, ["bag", "info", bag])
        #expect(info.status == 0 && info.stdout.contains("foresight.RadarCube"), "\(info.stdout)")
        let eval = try TestSupport.run(binary, ["eval", bag, "--site", site, "--launch", TestSupport.path("launch/sim.yaml")])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stdout.contains("frames"))
    }

    /// The other containers rosbags reads — rosbag2 with MCAP storage and ROS 1 `.bag` — convert alike.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: TestSupport.python), "needs .venv (Tools/setup.sh)"),
          arguments: [["--storage", "mcap"], ["--ros1"], ["--raw-image"]])
    func otherBagContainersImport(_ variant: [String]) throws {
        let dir = try TestSupport.temporaryDirectory("ros-variant")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try TestSupport.runPython("make_ros_fixture.py", [dir.path, "--frames", "6"] + variant)
        #expect(made.status == 0, "\(made.stderr)")
        let input = dir.appendingPathComponent(variant == ["--ros1"] ? "bag.bag" : "bag").path
        let bag = dir.appendingPathComponent("drive.mcap").path
        let run = try TestSupport.runPython("import_ros.py", [input, "-o", bag, "--map", dir.appendingPathComponent("topics.yaml").path])
        #expect(run.status == 0, "\(run.stderr)")
        let messages = try decodedMessages(bag)
        for topic in ["sensor/camera", "sensor/lidar", "sensor/gnss", "sensor/beam_power", "sensor/radar", "truth/beam"] {
            #expect(messages[topic]?.count == 6, "\(variant) \(topic)")
        }
        let start: Int64 = 1_767_225_600_000_000_000
        #expect(messages["sensor/lidar"]?.last?.message.header.stamp == start + 5 * 100_000_000)
        if variant == ["--raw-image"] {
            let image = try #require(messages["sensor/camera"]?.first?.message as? Image)
            #expect(image.encoding == .bgr8 && image.width == 320 && image.height == 180 && image.data.count == 320 * 180 * 3)
        }
    }
}
